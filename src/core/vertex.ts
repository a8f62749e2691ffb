/**
 * Vertices (wasm/src/vertex.rs): canonical encoding, structural validation
 * (their transactions included), ids and signing messages, by the WASM core.
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError } from "./_error.ts";

export interface UnsignedVertex {
  chainId: Uint8Array;
  /** BLAKE3-256 of the validator's ML-DSA-87 public key. */
  author: Uint8Array;
  /** 0 for genesis (no parents); otherwise at least one parent. */
  round: bigint;
  /** Informational only: no rule reads it. */
  timestampMs: bigint;
  /** Vertex ids in strictly ascending byte order. */
  parents: Uint8Array[];
  /** Full signed transaction bytes. */
  transactions: Uint8Array[];
}

export interface Vertex extends UnsignedVertex {
  signature: Uint8Array;
}

export interface VertexInfo {
  vertex: Vertex;
  id: Uint8Array;
  /** "qudag/vertex/v1" || unsigned body: verify `vertex.signature` over this. */
  signingMessage: Uint8Array;
  /** Ids of `vertex.transactions`, in order. */
  transactionIds: Uint8Array[];
}

function vertexFrame(v: UnsignedVertex, signature?: Uint8Array): Uint8Array {
  if (v === null || typeof v !== "object") {
    throw new CoreError("invalid_input", "A vertex must be an object");
  }
  if (!Array.isArray(v.parents) || !Array.isArray(v.transactions)) {
    throw new CoreError(
      "invalid_input",
      "A vertex needs arrays `parents` and `transactions`",
    );
  }
  const w = new FrameWriter()
    .bytes(Tag.chainId, v.chainId, "chainId")
    .bytes(Tag.author, v.author, "author")
    .u64(Tag.round, v.round, "round")
    .u64(Tag.timestampMs, v.timestampMs, "timestampMs");
  if (signature !== undefined) w.bytes(Tag.signature, signature, "signature");
  v.parents.forEach((p, i) => w.bytes(Tag.parent, p, `parents[${i}]`));
  v.transactions.forEach((t, i) => w.bytes(Tag.tx, t, `transactions[${i}]`));
  return w.finish();
}

/** Canonical signed bytes of `v`, after structural validation (its transactions included). */
export function encodeVertex(v: Vertex): Uint8Array {
  if (v?.signature === undefined) {
    throw new CoreError(
      "invalid_input",
      "Cannot encode vertex: it has no signature (use vertexSigningMessage to sign it first)",
    );
  }
  return core.vertexEncode(vertexFrame(v, v.signature));
}

/** Decodes and validates signed bytes; also returns id, signing message and transaction ids. */
export function validateVertex(bytes: Uint8Array): VertexInfo {
  const r = new FrameReader(core.vertexDecode(bytes));
  return {
    vertex: {
      chainId: r.bytes(Tag.chainId),
      author: r.bytes(Tag.author),
      round: r.u64(Tag.round),
      timestampMs: r.u64(Tag.timestampMs),
      parents: r.all(Tag.parent),
      transactions: r.all(Tag.tx),
      signature: r.bytes(Tag.signature),
    },
    id: r.bytes(Tag.id),
    signingMessage: r.bytes(Tag.signingMessage),
    transactionIds: r.all(Tag.txId),
  };
}

/** Decodes and validates signed bytes. decode(encode(v)) equals v. */
export function decodeVertex(bytes: Uint8Array): Vertex {
  return validateVertex(bytes).vertex;
}

/** BLAKE3-256 of the signed bytes (validated first). */
export function vertexId(v: Uint8Array | Vertex): Uint8Array {
  const bytes = v instanceof Uint8Array ? v : encodeVertex(v);
  return validateVertex(bytes).id;
}

/** The exact bytes the author signs: "qudag/vertex/v1" || unsigned body. */
export function vertexSigningMessage(
  v: Uint8Array | UnsignedVertex,
): Uint8Array {
  if (v instanceof Uint8Array) return validateVertex(v).signingMessage;
  return core.vertexSigningMessage(vertexFrame(v));
}
