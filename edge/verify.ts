/**
 * What the replica checks before it believes an upstream: each vertex of the
 * feed (its id recomputed by the WASM core from its bytes, its structure, the
 * chain, the ML-DSA-87 signature of a genesis validator, its parents already
 * verified) and each checkpoint certificate (more than two thirds of the
 * genesis validators, src/checkpoint). Pure: the signature check is passed in.
 * Every refusal is an {@linkcode EdgeError} with a stable code.
 */
import { CoreError } from "../src/core/_error.ts";
import { validateVertex, type VertexInfo } from "../src/core/vertex.ts";
import {
  certificateFromJson,
  type CheckpointCertificate,
  CheckpointError,
  type SignatureCheck,
  verifyCertificate,
} from "../src/checkpoint/mod.ts";
import type { Genesis } from "../src/checkpoint/genesis.ts";

/** Stable codes of what the replica refuses (checkpoint_* codes come from src/checkpoint). */
export const EDGE_ERROR_CODES = [
  "edge_upstream_unreachable",
  "edge_upstream_rate_limited",
  "edge_upstream_unavailable",
  "edge_upstream_bad_response",
  "edge_genesis_mismatch",
  "edge_vertex_malformed",
  "edge_vertex_id_mismatch",
  "edge_vertex_wrong_chain",
  "edge_vertex_unknown_author",
  "edge_vertex_bad_signature",
  "edge_vertex_missing_parent",
  "edge_feed_out_of_order",
  "edge_cut_mismatch",
  "edge_state_mismatch",
] as const;
export type EdgeErrorCode = typeof EDGE_ERROR_CODES[number] | CheckpointError["code"];

export class EdgeError extends Error {
  readonly code: EdgeErrorCode;
  /** An upstream's own time to retry (its Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined;
  /**
   * A failure to get an answer (unreachable, rate limited, a 5xx status), not a refusal of what an upstream said:
   * the upstream is asked again after a short backoff, not set aside as a liar.
   */
  readonly transient: boolean;
  constructor(
    code: EdgeErrorCode,
    message: string,
    options?: ErrorOptions & { retryAfterMs?: number; transient?: boolean },
  ) {
    super(message, options);
    this.name = "EdgeError";
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
    this.transient = options?.transient ?? false;
  }
}

/** A vertex event of GET /api/v1/feed, as the upstream sent it (JSON). */
export interface FeedVertexJson {
  type: "vertex";
  cursor: string;
  cut: number;
  id: string;
  timestampMs: number;
  vertex: string;
  decisions: { id: string; subject: string; status: string }[];
}

export interface FeedCheckpointJson {
  type: "checkpoint";
  cursor: string;
  cut: number;
  certificate: unknown;
}

export type FeedEventJson = FeedVertexJson | FeedCheckpointJson;

export interface VerifiedVertex {
  readonly id: string;
  readonly cut: number;
  readonly cursor: string;
  readonly bytes: Uint8Array;
  readonly info: VertexInfo;
  readonly timestampMs: number;
  /** Hex, sorted. */
  readonly parents: readonly string[];
  readonly txIds: readonly string[];
  readonly author: string;
}

const short = (hex: string) => `${hex.slice(0, 16)}…`;

/**
 * Checks one vertex event. `known(parent)` says whether a parent was verified
 * before (this cut or an earlier one). Throws EdgeError.
 */
export async function verifyVertexEvent(
  e: FeedVertexJson,
  genesis: Pick<Genesis, "chainId" | "validators">,
  verify: SignatureCheck,
  known: (parent: string) => boolean | Promise<boolean>,
): Promise<VerifiedVertex> {
  if (typeof e.vertex !== "string" || typeof e.id !== "string" || !Number.isSafeInteger(e.cut)) {
    throw new EdgeError("edge_vertex_malformed", "a vertex event lacks its id, cut or bytes");
  }
  let bytes: Uint8Array;
  let info: VertexInfo;
  try {
    bytes = Uint8Array.fromBase64(e.vertex);
    info = validateVertex(bytes);
  } catch (error) {
    const why = error instanceof CoreError ? `${error.message} [${error.code}]` : "its bytes are not base64";
    throw new EdgeError("edge_vertex_malformed", `vertex ${short(String(e.id))} is invalid: ${why}`, { cause: error });
  }
  const id = info.id.toHex();
  if (id !== e.id) {
    throw new EdgeError("edge_vertex_id_mismatch", `the feed says ${short(e.id)} but the bytes hash to ${short(id)}`);
  }
  const v = info.vertex;
  if (v.chainId.toHex() !== genesis.chainId.toHex()) {
    throw new EdgeError("edge_vertex_wrong_chain", `vertex ${short(id)} is of chain ${short(v.chainId.toHex())}`);
  }
  const author = v.author.toHex();
  const validator = genesis.validators.find((x) => x.id === author);
  if (validator === undefined) {
    throw new EdgeError("edge_vertex_unknown_author", `vertex ${short(id)}'s author ${short(author)} is no validator`);
  }
  if (!await verify(validator.publicKey, info.signingMessage, v.signature)) {
    throw new EdgeError(
      "edge_vertex_bad_signature",
      `vertex ${short(id)}: the ML-DSA-87 signature of ${validator.name} does not verify`,
    );
  }
  const parents = v.parents.map((p) => p.toHex()).sort();
  for (const p of parents) {
    if (!await known(p)) {
      throw new EdgeError("edge_vertex_missing_parent", `vertex ${short(id)} names parent ${short(p)}, not verified`);
    }
  }
  const txIds = info.transactionIds.map((t) => t.toHex());
  const claimed = (e.decisions ?? []).map((d) => d.id);
  if (claimed.length !== txIds.length + 1 || claimed[0] !== id || txIds.some((t, i) => claimed[i + 1] !== t)) {
    throw new EdgeError("edge_feed_out_of_order", `vertex ${short(id)}: its decisions do not list it and its txs`);
  }
  if (Number(v.timestampMs) !== e.timestampMs) {
    throw new EdgeError("edge_feed_out_of_order", `vertex ${short(id)}: the feed misstates its timestamp`);
  }
  return {
    id,
    cut: e.cut,
    cursor: e.cursor,
    bytes,
    info,
    timestampMs: Number(v.timestampMs),
    parents,
    txIds,
    author,
  };
}

/** Parses and verifies a certificate against the genesis; throws EdgeError with the checkpoint_* code. */
export async function verifyCheckpointEvent(
  e: FeedCheckpointJson,
  genesis: Pick<Genesis, "chainId" | "validators">,
  verify: SignatureCheck,
): Promise<CheckpointCertificate> {
  let cert: CheckpointCertificate;
  try {
    cert = certificateFromJson(e.certificate);
  } catch (error) {
    if (error instanceof CheckpointError) throw new EdgeError(error.code, error.message, { cause: error });
    throw error;
  }
  const verdict = await verifyCertificate(cert, genesis, verify);
  if (!verdict.ok) throw new EdgeError(verdict.code, verdict.message);
  if (cert.statement.seq !== e.cut) {
    throw new EdgeError(
      "edge_feed_out_of_order",
      `a checkpoint event of cut ${e.cut} holds checkpoint ${cert.statement.seq}`,
    );
  }
  return cert;
}
