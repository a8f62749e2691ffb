/**
 * Vertices (wasm/src/vertex.rs): canonical encoding, structural validation
 * (their transactions included), ids and signing messages, by the WASM core.
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError } from "./_error.ts";
import { concatBytes } from "../bytes.ts";
import { ML_DSA_87_SIGNATURE_BYTES } from "./constants.ts";
import type { TransactionKind } from "./tx.ts";

export interface UnsignedVertex {
  /**
   * 1 for a vertex of the first version, signed over its whole body (those stored before version 2 stay valid);
   * absent for the current version 2, signed over the BLAKE3-256 digest of its body (wasm/FORMAT.md).
   */
  version?: 1;
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

/**
 * A decoded vertex. Its transactions and signature are views of the signed
 * bytes it was decoded from (`validateVertex`), not copies: those bytes must
 * not change afterwards.
 */
export interface VertexInfo {
  vertex: Vertex;
  id: Uint8Array;
  /**
   * What the author signed, to verify `vertex.signature` over: "qudag/vertex/v2" || BLAKE3-256 of the bytes
   * before the signature (47 bytes); for a version 1 vertex "qudag/vertex/v1" || those bytes (a copy, built when
   * first read).
   */
  readonly signingMessage: Uint8Array;
  /** Ids of `vertex.transactions`, in order. */
  transactionIds: Uint8Array[];
  /** `vertex.transactions` as the core decoded and checked them, in order. */
  txs: readonly VertexTx[];
}

/** What the DAG's rules read of one carried transaction, decoded with its vertex. */
export interface VertexTx {
  readonly kind: TransactionKind;
  readonly account: Uint8Array;
  readonly nonce: bigint;
  /** The account's key when this is its `create_account` (the core checked the account is its hash); else null. */
  readonly createsKey: Uint8Array | null;
  readonly signature: Uint8Array;
  /** "qudag/tx/v1" || unsigned body: verify `signature` over this (built when first read). */
  readonly signingMessage: Uint8Array;
}

const decoder = new TextDecoder();

class CarriedView implements VertexTx {
  readonly kind: TransactionKind;
  readonly account: Uint8Array;
  readonly nonce: bigint;
  readonly createsKey: Uint8Array | null;
  readonly signature: Uint8Array;
  readonly #domain: Uint8Array;
  readonly #unsigned: Uint8Array;
  #message: Uint8Array | null = null;

  constructor(
    fields: Omit<VertexTx, "signature" | "signingMessage">,
    bytes: Uint8Array,
    unsignedLen: number,
    domain: Uint8Array,
  ) {
    this.kind = fields.kind;
    this.account = fields.account;
    this.nonce = fields.nonce;
    this.createsKey = fields.createsKey;
    this.signature = bytes.subarray(unsignedLen);
    this.#unsigned = bytes.subarray(0, unsignedLen);
    this.#domain = domain;
  }

  get signingMessage(): Uint8Array {
    return this.#message ??= concatBytes(this.#domain, this.#unsigned);
  }
}

function vertexFrame(v: UnsignedVertex, signature?: Uint8Array): FrameWriter {
  if (v === null || typeof v !== "object") {
    throw new CoreError("invalid_input", "A vertex must be an object");
  }
  if (!Array.isArray(v.parents) || !Array.isArray(v.transactions)) {
    throw new CoreError(
      "invalid_input",
      "A vertex needs arrays `parents` and `transactions`",
    );
  }
  const w = new FrameWriter();
  if (v.version !== undefined) {
    if (!Number.isSafeInteger(v.version) || v.version < 0) {
      throw new CoreError("invalid_input", `A vertex's version must be an integer, got ${String(v.version)}`);
    }
    w.u64(Tag.version, BigInt(v.version), "version");
  }
  w.bytes(Tag.chainId, v.chainId, "chainId")
    .bytes(Tag.author, v.author, "author")
    .u64(Tag.round, v.round, "round")
    .u64(Tag.timestampMs, v.timestampMs, "timestampMs");
  if (signature !== undefined) w.bytes(Tag.signature, signature, "signature");
  v.parents.forEach((p, i) => w.bytes(Tag.parent, p, `parents[${i}]`));
  v.transactions.forEach((t, i) => w.bytes(Tag.tx, t, `transactions[${i}]`));
  return w;
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

/**
 * Decodes and validates signed bytes; also returns id, signing message,
 * transaction ids and each transaction decoded. The core answers with places
 * in `bytes` (wasm/src/frame.rs `write_vertex_info`), so the transactions and
 * signature are views of `bytes`: each is copied out of the core once, not
 * twice.
 */
export function validateVertex(bytes: Uint8Array): VertexInfo {
  const r = new FrameReader(core.vertexDecode(bytes));
  const unsignedLen = r.u32(Tag.unsignedLen);
  const txDomain = r.bytes(Tag.txSigningDomain);
  const ids = r.all(Tag.txId);
  const kinds = r.all(Tag.kind);
  const accounts = r.all(Tag.account);
  const nonces = r.all(Tag.nonce);
  const keys = r.all(Tag.publicKey);
  const transactions: Uint8Array[] = [];
  const txs = r.all(Tag.txAt).map((span, i) => {
    const at = new DataView(span.buffer, span.byteOffset, 12);
    const start = at.getUint32(0, true);
    const tx = bytes.subarray(start, start + at.getUint32(4, true));
    transactions.push(tx);
    const kind = decoder.decode(kinds[i]) as TransactionKind;
    return new CarriedView(
      {
        kind,
        account: accounts[i],
        nonce: new DataView(nonces[i].buffer, nonces[i].byteOffset, 8).getBigUint64(0, true),
        createsKey: kind === "create_account" ? keys[i] : null,
      },
      tx,
      at.getUint32(8, true),
      txDomain,
    );
  });
  const domain = r.bytes(Tag.signingDomain);
  // Version 2: the digest the core hashed along with the id. Version 1: the whole body, copied only when read.
  let signingMessage = r.has(Tag.bodyDigest) ? concatBytes(domain, r.bytes(Tag.bodyDigest)) : undefined;
  const version = r.u64(Tag.version);
  return {
    vertex: {
      ...(version === 1n ? { version: 1 as const } : {}),
      chainId: r.bytes(Tag.chainId),
      author: r.bytes(Tag.author),
      round: r.u64(Tag.round),
      timestampMs: r.u64(Tag.timestampMs),
      parents: r.all(Tag.parent),
      transactions,
      signature: bytes.subarray(unsignedLen),
    },
    id: r.bytes(Tag.id),
    get signingMessage() {
      return signingMessage ??= concatBytes(domain, bytes.subarray(0, unsignedLen));
    },
    transactionIds: ids,
    txs,
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

/**
 * The signed bytes of a vertex from the bytes before its signature (what
 * {@linkcode unsignedVertexBytes} gave) and the author's signature: the bytes
 * {@linkcode encodeVertex} gives, without a second pass of the core over
 * every transaction. Whoever takes the bytes decodes them, which checks them
 * whole.
 */
export function signedVertexBytes(body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (body.length < 2 || body[1] !== VERTEX_OBJECT_TYPE) {
    throw new CoreError("invalid_input", "Cannot build signed vertex bytes: the body is not a vertex's");
  }
  if (signature.length !== ML_DSA_87_SIGNATURE_BYTES) {
    throw new CoreError(
      "invalid_input",
      `Cannot build signed vertex bytes: signature is ${signature.length} bytes, expected ${ML_DSA_87_SIGNATURE_BYTES}`,
    );
  }
  return concatBytes(body, signature);
}

/** The object type byte of a vertex (wasm/src/vertex.rs OBJECT_VERTEX). */
const VERTEX_OBJECT_TYPE = 2;

/**
 * The bytes of `v` before its signature (structure and transactions checked)
 * and the message its author signs ({@linkcode vertexSigningMessage}).
 */
export function unsignedVertexBytes(v: UnsignedVertex): { body: Uint8Array; signingMessage: Uint8Array } {
  const r = new FrameReader(core.vertexSigningMessage(vertexFrame(v)));
  return { body: r.bytes(Tag.tx), signingMessage: r.bytes(Tag.signingMessage) };
}

/**
 * The exact bytes the author signs: "qudag/vertex/v2" || BLAKE3-256 of the
 * bytes before the signature; for a version 1 vertex, "qudag/vertex/v1" ||
 * those bytes.
 */
export function vertexSigningMessage(
  v: Uint8Array | UnsignedVertex,
): Uint8Array {
  if (v instanceof Uint8Array) return validateVertex(v).signingMessage;
  return unsignedVertexBytes(v).signingMessage;
}
