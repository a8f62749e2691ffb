/**
 * The consensus protocol carried inside PeerTransport sessions: one message
 * per transport message, a type byte then fixed-layout fields. Ids are 32-byte
 * hashes on the wire and lower-case hex in memory. Every count and size is
 * bounded and checked while decoding; a message that breaks a bound or has
 * trailing bytes is refused as malformed.
 */

export const PROTOCOL_MESSAGE = Object.freeze({
  vertices: 1,
  getVertices: 2,
  query: 3,
  votes: 4,
  frontier: 5,
});

/** Vertices in one message (each is a canonical signed vertex, up to the core's limit). */
export const VERTICES_PER_MESSAGE_MAX = 64;
/** Ids in a get-vertices request or a frontier. */
export const IDS_PER_MESSAGE_MAX = 256;
/** Bytes of one vertex on the wire (the core's own limit is checked again when it is decoded). */
export const VERTEX_WIRE_BYTES_MAX = 4 * 1024 * 1024;
export const SIGNATURE_BYTES_MAX = 8192;

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
    signature: Uint8Array;
  }
  | { type: "frontier"; frontier: string[]; replyWanted: boolean };

export class ProtocolError extends Error {
  readonly code = "malformed";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const HEX_RE = /^[0-9a-f]{64}$/;

class Out {
  #parts: Uint8Array[] = [];
  #n = 0;
  u8(v: number): this {
    return this.raw(Uint8Array.of(v));
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    return this.raw(b);
  }
  id(hex: string): this {
    if (!HEX_RE.test(hex)) {
      throw new ProtocolError(`id ${JSON.stringify(hex.slice(0, 70))} is not 64 lower-case hex digits`);
    }
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return this.raw(b);
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
  raw(b: Uint8Array): this {
    this.#parts.push(b);
    this.#n += b.length;
    return this;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#n);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
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
  id(what: string): string {
    this.#need(32, what);
    let s = "";
    for (let i = 0; i < 32; i++) s += this.b[this.#at + i].toString(16).padStart(2, "0");
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
    this.#need(n, what);
    const out = this.b.slice(this.#at, this.#at + n);
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
      o.u8(PROTOCOL_MESSAGE.votes).id(m.querier).u32(m.requestId).id(m.responder).ids(m.frontier)
        .bytes(m.signature, SIGNATURE_BYTES_MAX);
      break;
    case "frontier":
      o.u8(PROTOCOL_MESSAGE.frontier).u8(m.replyWanted ? 1 : 0).ids(m.frontier);
      break;
  }
  return o.finish();
}

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
        signature: r.bytes("signature", SIGNATURE_BYTES_MAX),
      };
      break;
    case PROTOCOL_MESSAGE.frontier: {
      const flag = r.u8("reply flag");
      if (flag > 1) throw new ProtocolError(`reply flag ${flag} is not 0 or 1`);
      m = { type: "frontier", replyWanted: flag === 1, frontier: r.ids("frontier") };
      break;
    }
    default:
      throw new ProtocolError(`unknown message type ${type}`);
  }
  r.end();
  return m;
}
