/**
 * The consensus protocol carried inside PeerTransport sessions: one message
 * per transport message, a type byte then fixed-layout fields. Ids are 32-byte
 * hashes on the wire and lower-case hex in memory. Every count and size is
 * bounded and checked while decoding; a message that breaks a bound or has
 * trailing bytes is refused as malformed. Signatures must be ML-DSA-87's exact
 * size, so a wrong one is refused here, before anyone spends a verification
 * on it. `messageCost()` says what a message will make this node do, from its
 * first bytes, for the per-peer budgets (peer_budget.ts).
 */

import { ownedOrCopied } from "../bytes.ts";
import { DATA_FRAME_BYTES_MIN, ML_DSA_87_SIGNATURE_BYTES } from "./frame.ts";
import type { WorkCost } from "./peer_budget.ts";

export const PROTOCOL_MESSAGE = Object.freeze({
  vertices: 1,
  getVertices: 2,
  query: 3,
  votes: 4,
  frontier: 5,
  checkpointSignature: 6,
  getCheckpoint: 7,
  checkpoint: 8,
  getSnapshot: 9,
  snapshotChunk: 10,
  getAcceptedSince: 11,
  acceptedSince: 12,
});

/** Vertices in one message (each is a canonical signed vertex, up to the core's limit). */
export const VERTICES_PER_MESSAGE_MAX = 64;
/** Ids in a get-vertices request or a frontier. */
export const IDS_PER_MESSAGE_MAX = 256;
/** Bytes of one transport message between authenticated peers (the transport's messageBytesMax). */
export const PEER_MESSAGE_BYTES_MAX = 1 << 20;
/** A `vertices` message's bytes around one vertex: type, count, length. */
const VERTICES_MESSAGE_OVERHEAD_BYTES = 1 + 4 + 4;
/**
 * The largest vertex one `vertices` message can carry to a peer, inside one
 * sealed data frame of at most PEER_MESSAGE_BYTES_MAX: the size limit at every
 * admission (API, peers, this node's own), so that no node ever stores a
 * vertex it cannot relay and builds on it.
 */
export const VERTEX_RELAY_BYTES_MAX = PEER_MESSAGE_BYTES_MAX - DATA_FRAME_BYTES_MIN - VERTICES_MESSAGE_OVERHEAD_BYTES;
/** Bytes of one vertex on the wire: what one message can carry (admission refuses more, see above). */
export const VERTEX_WIRE_BYTES_MAX = VERTEX_RELAY_BYTES_MAX;
/** Every signature on the wire is ML-DSA-87's (checkpoint signatures, certificates; votes carry none). */
export const SIGNATURE_BYTES = ML_DSA_87_SIGNATURE_BYTES;
/** Bytes of an encoded checkpoint statement (src/checkpoint bounds it well below). */
export const STATEMENT_WIRE_BYTES_MAX = 16 * 1024;
/** Signatures in one certificate (one per genesis validator at most). */
export const CERTIFICATE_SIGNATURES_WIRE_MAX = 1024;
/** Bytes of one snapshot chunk: a message must stay well under the transport's 1 MiB. */
export const SNAPSHOT_CHUNK_BYTES_MAX = 512 * 1024;
/** Bytes of the vertices in one `acceptedSince` page: well under the transport's 1 MiB. */
export const CATCH_UP_PAGE_BYTES_MAX = 768 * 1024;

export type ProtocolMessage =
  | { type: "vertices"; vertices: Uint8Array[] }
  | { type: "getVertices"; ids: string[] }
  | { type: "query"; requestId: number; frontier: string[] }
  | {
    type: "votes";
    querier: string;
    requestId: number;
    responder: string;
    frontier: string[];
  }
  | { type: "frontier"; frontier: string[]; replyWanted: boolean }
  /** A validator's signature of its statement of cut `seq` (digest = BLAKE3 of the statement). */
  | { type: "checkpointSignature"; seq: number; digest: string; signature: Uint8Array }
  /** Asks for the certificate of `seq` (0: the newest; with `withSnapshot`, the newest whose snapshot the peer holds). */
  | { type: "getCheckpoint"; seq: number; withSnapshot: boolean }
  /** A certificate: the statement and more than two thirds of the validators' signatures. */
  | { type: "checkpoint"; statement: Uint8Array; signatures: { validator: string; signature: Uint8Array }[] }
  /** Asks for the ledger snapshot at cut `seq`, from byte `offset`. */
  | { type: "getSnapshot"; seq: number; offset: number }
  /** Part of a snapshot; `total` is its whole length (0 with no bytes: the peer does not hold it). */
  | { type: "snapshotChunk"; seq: number; offset: number; total: number; bytes: Uint8Array }
  /**
   * Asks for the vertices the peer accepted with a timestamp at or after
   * `sinceMs`, in causal order, from the `skip`-th on (a node far behind
   * catches up forward: src/node/catch_up.ts).
   */
  | { type: "getAcceptedSince"; sinceMs: number; skip: number }
  /** One page of them; `next` is where the following page starts, null when the peer has no more. */
  | { type: "acceptedSince"; vertices: Uint8Array[]; next: { sinceMs: number; skip: number } | null };

export class ProtocolError extends Error {
  readonly code = "malformed";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const HEX_RE = /^[0-9a-f]{64}$/;

/** The largest buffer kept between two messages (a larger one serves its message only). */
const SCRATCH_BYTES_MAX = 64 * 1024;
/**
 * Where messages are written, reused from one to the next: encoding is
 * synchronous and never nested, and finish() copies the message out. A new
 * buffer per message cost a soak node about 0.7 % of its busy time.
 */
const scratchOf = (buf: Uint8Array<ArrayBuffer>) => ({ buf, view: new DataView(buf.buffer) });
let scratch = scratchOf(new Uint8Array(4096));

/** Writes a message into the scratch buffer, which grows by doubling. */
class Out {
  #buf = scratch.buf;
  #view = scratch.view;
  #n = 0;
  /** Room for `k` more bytes. */
  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#n + k) size *= 2;
    const grown = scratchOf(new Uint8Array(size));
    grown.buf.set(this.#buf.subarray(0, this.#n));
    this.#buf = grown.buf;
    this.#view = grown.view;
    if (size <= SCRATCH_BYTES_MAX) scratch = grown;
  }
  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#n++] = v;
    return this;
  }
  u32(v: number): this {
    this.#room(4);
    this.#view.setUint32(this.#n, v, true);
    this.#n += 4;
    return this;
  }
  /** A non-negative safe integer as u64. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError(`${v} is not a u64 this node can hold`);
    this.#room(8);
    this.#view.setBigUint64(this.#n, BigInt(v), true);
    this.#n += 8;
    return this;
  }
  id(hex: string): this {
    if (!HEX_RE.test(hex)) {
      throw new ProtocolError(`id ${JSON.stringify(hex.slice(0, 70))} is not 64 lower-case hex digits`);
    }
    this.#room(32);
    this.#buf.subarray(this.#n, this.#n + 32).setFromHex(hex);
    this.#n += 32;
    return this;
  }
  ids(list: readonly string[]): this {
    if (list.length > IDS_PER_MESSAGE_MAX) {
      throw new ProtocolError(`${list.length} ids, more than ${IDS_PER_MESSAGE_MAX}`);
    }
    this.u32(list.length);
    for (const id of list) this.id(id);
    return this;
  }
  bytes(b: Uint8Array, max: number): this {
    if (b.length > max) throw new ProtocolError(`${b.length} bytes, more than ${max}`);
    return this.u32(b.length).raw(b);
  }
  signature(b: Uint8Array): this {
    if (b.length !== SIGNATURE_BYTES) {
      throw new ProtocolError(`signature is ${b.length} bytes, expected ${SIGNATURE_BYTES} (ML-DSA-87)`);
    }
    return this.u32(b.length).raw(b);
  }
  raw(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
    return this;
  }
  /**
   * The message, exactly its bytes, in memory of its own: copied out of the
   * scratch buffer, which the next message reuses; a larger buffer (grown
   * past SCRATCH_BYTES_MAX, never kept) serves this message only and is handed
   * over as it is (a vertex is hundreds of KB).
   */
  finish(): Uint8Array {
    return this.#buf === scratch.buf ? this.#buf.slice(0, this.#n) : this.#buf.subarray(0, this.#n);
  }
}

class In {
  #at = 0;
  readonly #view: DataView;
  constructor(readonly b: Uint8Array) {
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  #need(n: number, what: string): void {
    if (this.#at + n > this.b.length) throw new ProtocolError(`truncated ${what}`);
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.b[this.#at++];
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }
  u64(what: string): number {
    this.#need(8, what);
    const v = this.#view.getBigUint64(this.#at, true);
    this.#at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${what} ${v} is too large`);
    return Number(v);
  }
  id(what: string): string {
    this.#need(32, what);
    const s = this.b.subarray(this.#at, this.#at + 32).toHex();
    this.#at += 32;
    return s;
  }
  ids(what: string): string[] {
    const n = this.u32(`${what} count`);
    if (n > IDS_PER_MESSAGE_MAX) throw new ProtocolError(`${what}: ${n} ids, more than ${IDS_PER_MESSAGE_MAX}`);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.id(what));
    return out;
  }
  bytes(what: string, max: number): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > max) throw new ProtocolError(`${what}: ${n} bytes, more than ${max}`);
    return this.#take(n, what);
  }
  signature(what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n !== SIGNATURE_BYTES) {
      throw new ProtocolError(`${what} is ${n} bytes, expected ${SIGNATURE_BYTES} (ML-DSA-87)`);
    }
    return this.#take(n, what);
  }
  #take(n: number, what: string): Uint8Array {
    this.#need(n, what);
    // A vertex fills most of its message: it stays a view of it, not a copy of hundreds of KB (ownedOrCopied).
    const out = ownedOrCopied(this.b.subarray(this.#at, this.#at + n));
    this.#at += n;
    return out;
  }
  end(): void {
    if (this.#at !== this.b.length) throw new ProtocolError(`${this.b.length - this.#at} trailing bytes`);
  }
}

export function encodeMessage(m: ProtocolMessage): Uint8Array {
  const o = new Out();
  switch (m.type) {
    case "vertices":
      if (m.vertices.length > VERTICES_PER_MESSAGE_MAX) {
        throw new ProtocolError(`${m.vertices.length} vertices, more than ${VERTICES_PER_MESSAGE_MAX}`);
      }
      o.u8(PROTOCOL_MESSAGE.vertices).u32(m.vertices.length);
      for (const v of m.vertices) o.bytes(v, VERTEX_WIRE_BYTES_MAX);
      break;
    case "getVertices":
      o.u8(PROTOCOL_MESSAGE.getVertices).ids(m.ids);
      break;
    case "query":
      o.u8(PROTOCOL_MESSAGE.query).u32(m.requestId).ids(m.frontier);
      break;
    case "votes":
      // No signature: the authenticated, encrypted channel names the responder (see Vote in src/engine/types.ts).
      o.u8(PROTOCOL_MESSAGE.votes).id(m.querier).u32(m.requestId).id(m.responder).ids(m.frontier);
      break;
    case "frontier":
      o.u8(PROTOCOL_MESSAGE.frontier).u8(m.replyWanted ? 1 : 0).ids(m.frontier);
      break;
    case "checkpointSignature":
      o.u8(PROTOCOL_MESSAGE.checkpointSignature).u64(m.seq).id(m.digest).signature(m.signature);
      break;
    case "getCheckpoint":
      o.u8(PROTOCOL_MESSAGE.getCheckpoint).u64(m.seq).u8(m.withSnapshot ? 1 : 0);
      break;
    case "checkpoint":
      if (m.signatures.length > CERTIFICATE_SIGNATURES_WIRE_MAX) {
        throw new ProtocolError(`${m.signatures.length} signatures, more than ${CERTIFICATE_SIGNATURES_WIRE_MAX}`);
      }
      o.u8(PROTOCOL_MESSAGE.checkpoint).bytes(m.statement, STATEMENT_WIRE_BYTES_MAX).u32(m.signatures.length);
      for (const s of m.signatures) o.id(s.validator).signature(s.signature);
      break;
    case "getSnapshot":
      o.u8(PROTOCOL_MESSAGE.getSnapshot).u64(m.seq).u32(m.offset);
      break;
    case "snapshotChunk":
      o.u8(PROTOCOL_MESSAGE.snapshotChunk).u64(m.seq).u32(m.offset).u32(m.total).bytes(
        m.bytes,
        SNAPSHOT_CHUNK_BYTES_MAX,
      );
      break;
    case "getAcceptedSince":
      o.u8(PROTOCOL_MESSAGE.getAcceptedSince).u64(m.sinceMs).u32(m.skip);
      break;
    case "acceptedSince": {
      if (m.vertices.length > VERTICES_PER_MESSAGE_MAX) {
        throw new ProtocolError(`${m.vertices.length} vertices, more than ${VERTICES_PER_MESSAGE_MAX}`);
      }
      o.u8(PROTOCOL_MESSAGE.acceptedSince).u8(m.next === null ? 0 : 1).u64(m.next?.sinceMs ?? 0).u32(m.next?.skip ?? 0);
      o.u32(m.vertices.length);
      for (const v of m.vertices) o.bytes(v, CATCH_UP_PAGE_BYTES_MAX);
      break;
    }
  }
  return o.finish();
}

/**
 * The message in `bytes`. A byte field (a vertex, a signature) that fills at
 * least half of `bytes`' memory is a view of it, not a copy: the caller gives
 * `bytes` away and must not change them afterwards.
 */
export function decodeMessage(bytes: Uint8Array): ProtocolMessage {
  const r = new In(bytes);
  const type = r.u8("message type");
  let m: ProtocolMessage;
  switch (type) {
    case PROTOCOL_MESSAGE.vertices: {
      const n = r.u32("vertex count");
      if (n > VERTICES_PER_MESSAGE_MAX) throw new ProtocolError(`${n} vertices, more than ${VERTICES_PER_MESSAGE_MAX}`);
      const vertices: Uint8Array[] = [];
      for (let i = 0; i < n; i++) vertices.push(r.bytes("vertex", VERTEX_WIRE_BYTES_MAX));
      m = { type: "vertices", vertices };
      break;
    }
    case PROTOCOL_MESSAGE.getVertices:
      m = { type: "getVertices", ids: r.ids("ids") };
      break;
    case PROTOCOL_MESSAGE.query:
      m = { type: "query", requestId: r.u32("request id"), frontier: r.ids("frontier") };
      break;
    case PROTOCOL_MESSAGE.votes:
      m = {
        type: "votes",
        querier: r.id("querier"),
        requestId: r.u32("request id"),
        responder: r.id("responder"),
        frontier: r.ids("frontier"),
      };
      break;
    case PROTOCOL_MESSAGE.frontier: {
      const flag = r.u8("reply flag");
      if (flag > 1) throw new ProtocolError(`reply flag ${flag} is not 0 or 1`);
      m = { type: "frontier", replyWanted: flag === 1, frontier: r.ids("frontier") };
      break;
    }
    case PROTOCOL_MESSAGE.checkpointSignature:
      m = {
        type: "checkpointSignature",
        seq: r.u64("sequence"),
        digest: r.id("digest"),
        signature: r.signature("signature"),
      };
      break;
    case PROTOCOL_MESSAGE.getCheckpoint: {
      const seq = r.u64("sequence");
      const flag = r.u8("snapshot flag");
      if (flag > 1) throw new ProtocolError(`snapshot flag ${flag} is not 0 or 1`);
      m = { type: "getCheckpoint", seq, withSnapshot: flag === 1 };
      break;
    }
    case PROTOCOL_MESSAGE.checkpoint: {
      const statement = r.bytes("statement", STATEMENT_WIRE_BYTES_MAX);
      const n = r.u32("signature count");
      if (n > CERTIFICATE_SIGNATURES_WIRE_MAX) {
        throw new ProtocolError(`${n} signatures, more than ${CERTIFICATE_SIGNATURES_WIRE_MAX}`);
      }
      const signatures: { validator: string; signature: Uint8Array }[] = [];
      for (let i = 0; i < n; i++) {
        signatures.push({ validator: r.id("signer"), signature: r.signature("signature") });
      }
      m = { type: "checkpoint", statement, signatures };
      break;
    }
    case PROTOCOL_MESSAGE.getSnapshot:
      m = { type: "getSnapshot", seq: r.u64("sequence"), offset: r.u32("offset") };
      break;
    case PROTOCOL_MESSAGE.snapshotChunk:
      m = {
        type: "snapshotChunk",
        seq: r.u64("sequence"),
        offset: r.u32("offset"),
        total: r.u32("total"),
        bytes: r.bytes("chunk", SNAPSHOT_CHUNK_BYTES_MAX),
      };
      break;
    case PROTOCOL_MESSAGE.getAcceptedSince:
      m = { type: "getAcceptedSince", sinceMs: r.u64("since"), skip: r.u32("skip") };
      break;
    case PROTOCOL_MESSAGE.acceptedSince: {
      const more = r.u8("more flag");
      if (more > 1) throw new ProtocolError(`more flag ${more} is not 0 or 1`);
      const next = { sinceMs: r.u64("next since"), skip: r.u32("next skip") };
      const n = r.u32("vertex count");
      if (n > VERTICES_PER_MESSAGE_MAX) throw new ProtocolError(`${n} vertices, more than ${VERTICES_PER_MESSAGE_MAX}`);
      const vertices: Uint8Array[] = [];
      for (let i = 0; i < n; i++) vertices.push(r.bytes("vertex", CATCH_UP_PAGE_BYTES_MAX));
      m = { type: "acceptedSince", vertices, next: more === 1 ? next : null };
      break;
    }
    default:
      throw new ProtocolError(`unknown message type ${type}`);
  }
  r.end();
  return m;
}

/** Units of work a message costs per its first bytes (decoding, if it fails, refuses it anyway); null: cheap. */
export function messageCost(bytes: Uint8Array): WorkCost | null {
  const signatures = Math.max(1, Math.ceil(bytes.length / SIGNATURE_BYTES));
  switch (bytes[0]) {
    case PROTOCOL_MESSAGE.query:
      return { work: "answer", units: 1 };
    case PROTOCOL_MESSAGE.checkpointSignature:
      return { work: "verify", units: 1 };
    // At most one signature to check per ML-DSA-87 signature's worth of bytes (vertices and their transactions).
    case PROTOCOL_MESSAGE.vertices:
    case PROTOCOL_MESSAGE.acceptedSince:
    case PROTOCOL_MESSAGE.checkpoint:
      return { work: "verify", units: signatures };
    case PROTOCOL_MESSAGE.getAcceptedSince:
      return { work: "serve", units: VERTICES_PER_MESSAGE_MAX };
    case PROTOCOL_MESSAGE.getVertices: {
      const ids = bytes.length >= 5 ? new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0, true) : 0;
      return { work: "serve", units: Math.max(1, Math.min(ids, IDS_PER_MESSAGE_MAX)) };
    }
    case PROTOCOL_MESSAGE.getCheckpoint:
      return { work: "serve", units: 16 };
    case PROTOCOL_MESSAGE.getSnapshot:
      return { work: "serve", units: SNAPSHOT_CHUNK_BYTES_MAX / 8_192 };
    default:
      return null;
  }
}
