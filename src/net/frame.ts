/**
 * Wire format of the peer-to-peer protocol "qudag/p2p/v1".
 *
 * Each WebSocket binary message carries exactly one frame, so the WebSocket
 * layer supplies the length; every frame starts with a one-byte type. The three
 * handshake frames have a fixed size each, so a frame of any other size is
 * refused before a field is read. After the handshake only `data` frames are
 * allowed:
 *
 * ```
 * hello  (initiator -> responder, 1,315 B)
 *   type 0x01 | version u16 | chainId 32 | initiatorId 32 | x25519 32 | mlKemEk 1184 | nonce 32
 * reply  (responder -> initiator, 5,812 B)
 *   type 0x02 | responderId 32 | x25519 32 | mlKemCt 1088 | nonce 32 | signature 4627
 * finish (initiator -> responder, 4,660 B)
 *   type 0x03 | signature 4627 | tokenMac 32
 * data   (both ways, after the handshake)
 *   type 0x10 | counter u64 | AES-256-GCM(kind u8 | payload) with the 9-byte header as associated data
 * ```
 * Validator ids travel as the raw 32-byte BLAKE3-256 digest of the ML-DSA-87
 * public key (their hex form is the id used everywhere else).
 */

export const PROTOCOL_VERSION = 1;
/** WebSocket subprotocol both sides must agree on. */
export const WS_SUBPROTOCOL = "qudag-p2p-v1";
/** HTTP path of the upgrade request on the peer port. */
export const WS_PATH = "/qudag/p2p/v1";

export const FRAME_HELLO = 0x01;
export const FRAME_REPLY = 0x02;
export const FRAME_FINISH = 0x03;
export const FRAME_DATA = 0x10;

/** Kinds of the plaintext inside a data frame. */
export const KIND_APP = 0x01;
export const KIND_PING = 0x02;
/** First frame from the responder: its token MAC, which also confirms the session keys. */
export const KIND_CONFIRM = 0x03;
export type FrameKind = typeof KIND_APP | typeof KIND_PING | typeof KIND_CONFIRM;

export const ID_BYTES = 32;
export const CHAIN_ID_BYTES = 32;
export const X25519_PUBLIC_KEY_BYTES = 32;
export const NONCE_BYTES = 32;
export const ML_KEM_768_EK_BYTES = 1184;
export const ML_KEM_768_CT_BYTES = 1088;
export const ML_DSA_87_SIGNATURE_BYTES = 4627;
export const TOKEN_MAC_BYTES = 32;
export const GCM_TAG_BYTES = 16;
/** type + counter: the associated data of a data frame. */
export const DATA_HEADER_BYTES = 9;

export const HELLO_BYTES = 1 + 2 + CHAIN_ID_BYTES + ID_BYTES + X25519_PUBLIC_KEY_BYTES + ML_KEM_768_EK_BYTES +
  NONCE_BYTES;
export const REPLY_CORE_BYTES = 1 + ID_BYTES + X25519_PUBLIC_KEY_BYTES + ML_KEM_768_CT_BYTES + NONCE_BYTES;
export const REPLY_BYTES = REPLY_CORE_BYTES + ML_DSA_87_SIGNATURE_BYTES;
export const FINISH_BYTES = 1 + ML_DSA_87_SIGNATURE_BYTES + TOKEN_MAC_BYTES;
/** No handshake frame is larger; anything larger before the peer is authenticated is refused as oversized. */
export const HANDSHAKE_FRAME_BYTES_MAX = Math.max(HELLO_BYTES, REPLY_BYTES, FINISH_BYTES);
/** Smallest data frame: header, kind byte and GCM tag. */
export const DATA_FRAME_BYTES_MIN = DATA_HEADER_BYTES + 1 + GCM_TAG_BYTES;

/** Largest data frame that carries an application message of `messageBytesMax` bytes. */
export function dataFrameBytesMax(messageBytesMax: number): number {
  return DATA_FRAME_BYTES_MIN + messageBytesMax;
}

export type FrameErrorReason = "malformed" | "oversized";

/** A frame that cannot be parsed. `reason` is a stable code used in logs and metrics. */
export class FrameError extends Error {
  readonly reason: FrameErrorReason;
  constructor(reason: FrameErrorReason, message: string) {
    super(message);
    this.name = "FrameError";
    this.reason = reason;
  }
}

export interface Hello {
  readonly version: number;
  readonly chainId: Uint8Array;
  readonly initiatorId: Uint8Array;
  readonly x25519PublicKey: Uint8Array;
  readonly mlKemEncapsulationKey: Uint8Array;
  readonly nonce: Uint8Array;
}

export interface Reply {
  readonly responderId: Uint8Array;
  readonly x25519PublicKey: Uint8Array;
  readonly mlKemCiphertext: Uint8Array;
  readonly nonce: Uint8Array;
  readonly signature: Uint8Array;
}

export interface Finish {
  readonly signature: Uint8Array;
  readonly tokenMac: Uint8Array;
}

const FRAME_NAMES: Record<number, string> = {
  [FRAME_HELLO]: "hello",
  [FRAME_REPLY]: "reply",
  [FRAME_FINISH]: "finish",
  [FRAME_DATA]: "data",
};

/** Checks type and exact size of a handshake frame; oversized wins over malformed. */
function expectFrame(bytes: Uint8Array, type: number, size: number): void {
  const name = FRAME_NAMES[type];
  if (bytes.length > HANDSHAKE_FRAME_BYTES_MAX) {
    throw new FrameError(
      "oversized",
      `${name} frame is ${bytes.length} bytes, handshake frames are at most ${HANDSHAKE_FRAME_BYTES_MAX}`,
    );
  }
  if (bytes.length === 0) throw new FrameError("malformed", `empty frame, expected ${name}`);
  if (bytes[0] !== type) {
    const got = FRAME_NAMES[bytes[0]] ?? `type 0x${bytes[0].toString(16).padStart(2, "0")}`;
    throw new FrameError("malformed", `expected ${name} frame, got ${got}`);
  }
  if (bytes.length !== size) {
    throw new FrameError("malformed", `${name} frame is ${bytes.length} bytes, expected ${size}`);
  }
}

/** Sequential writer into a buffer of known size; throws if the layout and the size disagree. */
class Writer {
  readonly bytes: Uint8Array<ArrayBuffer>;
  #at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  u8(v: number): this {
    this.bytes[this.#at++] = v;
    return this;
  }
  u16(v: number): this {
    new DataView(this.bytes.buffer).setUint16(this.#at, v);
    this.#at += 2;
    return this;
  }
  put(what: string, b: Uint8Array, size: number): this {
    if (b.length !== size) throw new RangeError(`${what} is ${b.length} bytes, expected ${size}`);
    this.bytes.set(b, this.#at);
    this.#at += size;
    return this;
  }
  done(): Uint8Array<ArrayBuffer> {
    if (this.#at !== this.bytes.length) throw new RangeError(`frame layout wrote ${this.#at} of ${this.bytes.length}`);
    return this.bytes;
  }
}

/** Sequential reader over a frame whose size was already checked. Fields are copies. */
class Reader {
  #at = 1;
  constructor(readonly bytes: Uint8Array) {}
  u16(): number {
    const v = (this.bytes[this.#at] << 8) | this.bytes[this.#at + 1];
    this.#at += 2;
    return v;
  }
  take(size: number): Uint8Array {
    const v = this.bytes.slice(this.#at, this.#at + size);
    this.#at += size;
    return v;
  }
}

export function encodeHello(h: Hello): Uint8Array<ArrayBuffer> {
  return new Writer(HELLO_BYTES).u8(FRAME_HELLO).u16(h.version)
    .put("chainId", h.chainId, CHAIN_ID_BYTES)
    .put("initiatorId", h.initiatorId, ID_BYTES)
    .put("x25519PublicKey", h.x25519PublicKey, X25519_PUBLIC_KEY_BYTES)
    .put("mlKemEncapsulationKey", h.mlKemEncapsulationKey, ML_KEM_768_EK_BYTES)
    .put("nonce", h.nonce, NONCE_BYTES)
    .done();
}

export function decodeHello(bytes: Uint8Array): Hello {
  expectFrame(bytes, FRAME_HELLO, HELLO_BYTES);
  const r = new Reader(bytes);
  return {
    version: r.u16(),
    chainId: r.take(CHAIN_ID_BYTES),
    initiatorId: r.take(ID_BYTES),
    x25519PublicKey: r.take(X25519_PUBLIC_KEY_BYTES),
    mlKemEncapsulationKey: r.take(ML_KEM_768_EK_BYTES),
    nonce: r.take(NONCE_BYTES),
  };
}

/** The reply without its signature: what the responder signs (after the hello) and what the transcript hashes. */
export function encodeReplyCore(r: Omit<Reply, "signature">): Uint8Array<ArrayBuffer> {
  return new Writer(REPLY_CORE_BYTES).u8(FRAME_REPLY)
    .put("responderId", r.responderId, ID_BYTES)
    .put("x25519PublicKey", r.x25519PublicKey, X25519_PUBLIC_KEY_BYTES)
    .put("mlKemCiphertext", r.mlKemCiphertext, ML_KEM_768_CT_BYTES)
    .put("nonce", r.nonce, NONCE_BYTES)
    .done();
}

export function encodeReply(core: Uint8Array, signature: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Writer(REPLY_BYTES).put("reply core", core, REPLY_CORE_BYTES)
    .put("signature", signature, ML_DSA_87_SIGNATURE_BYTES)
    .done();
}

export function decodeReply(bytes: Uint8Array): Reply {
  expectFrame(bytes, FRAME_REPLY, REPLY_BYTES);
  const r = new Reader(bytes);
  return {
    responderId: r.take(ID_BYTES),
    x25519PublicKey: r.take(X25519_PUBLIC_KEY_BYTES),
    mlKemCiphertext: r.take(ML_KEM_768_CT_BYTES),
    nonce: r.take(NONCE_BYTES),
    signature: r.take(ML_DSA_87_SIGNATURE_BYTES),
  };
}

export function encodeFinish(f: Finish): Uint8Array<ArrayBuffer> {
  return new Writer(FINISH_BYTES).u8(FRAME_FINISH)
    .put("signature", f.signature, ML_DSA_87_SIGNATURE_BYTES)
    .put("tokenMac", f.tokenMac, TOKEN_MAC_BYTES)
    .done();
}

export function decodeFinish(bytes: Uint8Array): Finish {
  expectFrame(bytes, FRAME_FINISH, FINISH_BYTES);
  const r = new Reader(bytes);
  return { signature: r.take(ML_DSA_87_SIGNATURE_BYTES), tokenMac: r.take(TOKEN_MAC_BYTES) };
}

/** Checks the outer shape of a data frame and returns its counter; the channel does the rest. */
export function checkDataFrame(bytes: Uint8Array, frameBytesMax: number): number {
  if (bytes.length > frameBytesMax) {
    throw new FrameError("oversized", `data frame is ${bytes.length} bytes, at most ${frameBytesMax} allowed`);
  }
  if (bytes.length === 0 || bytes[0] !== FRAME_DATA) {
    const got = bytes.length === 0 ? "an empty frame" : (FRAME_NAMES[bytes[0]] ?? `type 0x${bytes[0].toString(16)}`);
    throw new FrameError("malformed", `expected a data frame, got ${got}`);
  }
  if (bytes.length < DATA_FRAME_BYTES_MIN) {
    throw new FrameError("malformed", `data frame is ${bytes.length} bytes, at least ${DATA_FRAME_BYTES_MIN} needed`);
  }
  return readCounter(bytes);
}

/** The frame counter at bytes 1..8 (u64 big-endian), as a number: counters stop far below 2^53. */
export function readCounter(frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset + 1, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

export function writeCounter(target: Uint8Array, offset: number, counter: number): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, 8);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter >>> 0);
}
