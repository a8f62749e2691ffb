/**
 * The encrypted channel after the handshake: one AES-256-GCM key per direction,
 * 96-bit nonces built from a strict per-direction frame counter.
 *
 * The counter also travels in the clear in the frame header (and is
 * authenticated as associated data), so the receiver can tell a replayed,
 * reordered or missing frame (`counter`) from a modified one (`tampered`).
 * Either one ends the connection: WebSocket runs over TCP, so an honest peer's
 * frames arrive exactly once and in order.
 *
 * Invariant: a key never encrypts two frames with the same counter. `seal()`
 * takes the next counter synchronously, before its first await, so calls made in
 * order get counters in order even when their encryptions overlap.
 *
 * AES-GCM runs in the native library when the node has it (`CryptoBackend.aes256Gcm`: a few
 * microseconds per frame, on the calling thread), else in WebCrypto (about 50 us per call
 * whatever the size). Both produce ciphertext ‖ tag, so the two ends of a channel need not agree.
 */

import type { SyncAes256Gcm } from "../crypto/backend.ts";
import {
  checkDataFrame,
  DATA_HEADER_BYTES,
  FRAME_DATA,
  type FrameKind,
  GCM_TAG_BYTES,
  KIND_APP,
  KIND_CONFIRM,
  KIND_PING,
  writeCounter,
} from "./frame.ts";

/**
 * Frames one key may protect before the connection must be re-established (and so
 * re-keyed). Far inside AES-GCM's limits for 1 MiB frames, and below 2^53.
 */
export const FRAMES_PER_KEY_MAX = 2 ** 40;
const NONCE_BYTES = 12;
const AES_KEY_BYTES = 32;

export type ChannelErrorReason = "tampered" | "counter" | "malformed" | "oversized" | "exhausted";

export class ChannelError extends Error {
  readonly reason: ChannelErrorReason;
  constructor(reason: ChannelErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChannelError";
    this.reason = reason;
  }
}

export interface Opened {
  readonly counter: number;
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

function nonceOf(counter: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(NONCE_BYTES);
  writeCounter(nonce, 4, counter);
  return nonce;
}

function checkKeyLength(key: Uint8Array): void {
  if (key.length !== AES_KEY_BYTES) throw new RangeError(`AES-256-GCM key is ${key.length} bytes, expected 32`);
}

/**
 * This direction's AES-256-GCM encryption of `body`, which holds the plaintext and 16 spare bytes
 * for the tag: ciphertext ‖ tag, in `body` itself (native) or in a new buffer (WebCrypto).
 */
type Seal = (
  nonce: Uint8Array<ArrayBuffer>,
  aad: Uint8Array,
  body: Uint8Array,
) => Uint8Array | Promise<Uint8Array>;

/**
 * The peer's direction: the plaintext, or a throw when the tag does not match. The native
 * library opens `sealed` in place (the plaintext is a view of its start); WebCrypto copies.
 */
type Open = (
  nonce: Uint8Array<ArrayBuffer>,
  aad: Uint8Array,
  sealed: Uint8Array,
) => Uint8Array | Promise<Uint8Array>;

async function sealWith(key: Uint8Array, aes: SyncAes256Gcm | undefined): Promise<Seal> {
  checkKeyLength(key);
  if (aes !== undefined) {
    const own = key.slice();
    return (nonce, aad, body) => {
      aes.sealInPlace(own, nonce, aad, body);
      return body;
    };
  }
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, ["encrypt"]);
  // WebCrypto wants buffers of its own: the frame's views are copied out.
  return async (iv, aad, body) =>
    new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad.slice() },
        cryptoKey,
        body.slice(0, body.length - GCM_TAG_BYTES),
      ),
    );
}

async function openWith(key: Uint8Array, aes: SyncAes256Gcm | undefined): Promise<Open> {
  checkKeyLength(key);
  if (aes !== undefined) {
    const own = key.slice();
    return (nonce, aad, sealed) => {
      const plain = aes.openInPlace(own, nonce, aad, sealed);
      if (plain === null) throw new Error("AES-GCM tag does not match");
      return plain;
    };
  }
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, ["decrypt"]);
  // WebCrypto wants buffers of its own: the frame's views are copied out.
  return async (iv, aad, sealed) =>
    new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad.slice() }, cryptoKey, sealed.slice()),
    );
}

/** Encrypts this side's frames in order. */
export class SendCipher {
  readonly #encrypt: Seal;
  #next = 0;

  private constructor(encrypt: Seal) {
    this.#encrypt = encrypt;
  }

  /** `aes`: the native AES-256-GCM when the node has it; WebCrypto otherwise. */
  static async create(key: Uint8Array, aes?: SyncAes256Gcm): Promise<SendCipher> {
    return new SendCipher(await sealWith(key, aes));
  }

  /** Frames sealed so far (the next counter). */
  get counter(): number {
    return this.#next;
  }

  seal(kind: FrameKind, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#next >= FRAMES_PER_KEY_MAX) {
      return Promise.reject(new ChannelError("exhausted", `send key used for ${FRAMES_PER_KEY_MAX} frames`));
    }
    const counter = this.#next++;
    return this.#seal(counter, kind, payload);
  }

  /** One buffer: header, then kind and payload sealed where they are (a vertex's frame is hundreds of KB). */
  async #seal(counter: number, kind: FrameKind, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const frame = new Uint8Array(DATA_HEADER_BYTES + 1 + payload.length + GCM_TAG_BYTES);
    frame[0] = FRAME_DATA;
    writeCounter(frame, 1, counter);
    frame[DATA_HEADER_BYTES] = kind;
    frame.set(payload, DATA_HEADER_BYTES + 1);
    const body = frame.subarray(DATA_HEADER_BYTES);
    const sealed = await this.#encrypt(nonceOf(counter), frame.subarray(0, DATA_HEADER_BYTES), body);
    if (sealed !== body) frame.set(sealed, DATA_HEADER_BYTES);
    return frame;
  }
}

/** Decrypts the peer's frames and insists on counters 0, 1, 2, ... with no gap. */
export class ReceiveCipher {
  readonly #decrypt: Open;
  readonly #frameBytesMax: number;
  #expected = 0;

  private constructor(decrypt: Open, frameBytesMax: number) {
    this.#decrypt = decrypt;
    this.#frameBytesMax = frameBytesMax;
  }

  /** `aes`: the native AES-256-GCM when the node has it; WebCrypto otherwise. */
  static async create(key: Uint8Array, frameBytesMax: number, aes?: SyncAes256Gcm): Promise<ReceiveCipher> {
    return new ReceiveCipher(await openWith(key, aes), frameBytesMax);
  }

  get counter(): number {
    return this.#expected;
  }

  /**
   * Rejects with a ChannelError; after any rejection the channel must be dropped. The frame's
   * bytes are the channel's from now on: it may decrypt them in place (the payload is then a view
   * of `frame`).
   */
  open(frame: Uint8Array): Promise<Opened> {
    let counter: number;
    try {
      counter = checkDataFrame(frame, this.#frameBytesMax);
    } catch (error) {
      const reason = (error as { reason?: string }).reason === "oversized" ? "oversized" : "malformed";
      return Promise.reject(new ChannelError(reason, (error as Error).message));
    }
    if (counter !== this.#expected) {
      const what = counter < this.#expected ? "replayed or reordered" : "skipped ahead";
      return Promise.reject(
        new ChannelError("counter", `frame counter ${counter} ${what}, expected ${this.#expected}`),
      );
    }
    if (this.#expected >= FRAMES_PER_KEY_MAX) {
      return Promise.reject(new ChannelError("exhausted", `receive key used for ${FRAMES_PER_KEY_MAX} frames`));
    }
    this.#expected++;
    return this.#open(counter, frame);
  }

  async #open(counter: number, frame: Uint8Array): Promise<Opened> {
    let plain: Uint8Array;
    try {
      plain = await this.#decrypt(
        nonceOf(counter),
        frame.subarray(0, DATA_HEADER_BYTES),
        frame.subarray(DATA_HEADER_BYTES),
      );
    } catch (cause) {
      throw new ChannelError("tampered", `frame ${counter} failed authentication`, { cause });
    }
    const kind = plain[0];
    if (kind !== KIND_APP && kind !== KIND_PING && kind !== KIND_CONFIRM) {
      throw new ChannelError("malformed", `frame ${counter} has unknown kind 0x${kind.toString(16)}`);
    }
    return { counter, kind, payload: plain.subarray(1) };
  }
}
