/**
 * The field frame that carries structured values across the wasm boundary
 * (wasm/src/frame.rs): a flat list of (u8 tag, u32 LE length, bytes). This
 * is packing only; the canonical format and all rules live in the core.
 */
import { CoreError } from "./_error.ts";

/** Tags; must match wasm/src/frame.rs `tag`. */
export const Tag = {
  kind: 1,
  chainId: 2,
  account: 3,
  nonce: 4,
  timestampMs: 5,
  maxFee: 6,
  signature: 7,
  name: 8,
  publicKey: 9,
  to: 10,
  amount: 11,
  memo: 12,
  fMinPpb: 13,
  fMaxPpb: 14,
  fMinVerifiedPpb: 15,
  fMaxVerifiedPpb: 16,
  timeConstantMs: 17,
  usageThreshold: 18,
  agent: 19,
  proofDigest: 20,
  expiryMs: 21,
  configHash: 22,
  gracePeriodMs: 23,
  reason: 24,
  data: 25,
  author: 40,
  round: 41,
  parent: 42,
  tx: 43,
  verified: 50,
  ageMs: 51,
  usage: 52,
  ratePpb: 53,
  fee: 54,
  id: 60,
  signingMessage: 61,
  conflictKey: 62,
  txId: 63,
  txAt: 64,
  unsignedLen: 65,
  signingDomain: 66,
  txSigningDomain: 67,
  version: 68,
  bodyDigest: 69,
  resultCode: 70,
  duplicate: 71,
  message: 72,
  vertex: 73,
  concurrent: 74,
  signatureOk: 75,
  ledgerTimeMs: 76,
  balance: 77,
  nextNonce: 78,
  createdMs: 79,
  lastMs: 80,
  minted: 81,
  burned: 82,
  supplyCap: 83,
  feeAccount: 84,
  exchangeMaster: 85,
  feeAdmin: 86,
  agentVerifier: 87,
  governance: 88,
  genesisTimeMs: 89,
  lockedMs: 90,
  graceEndMs: 91,
  audit: 92,
  accountCount: 93,
  stateHash: 94,
  concurrentDuplicate: 95,
  attestedMs: 96,
  lockTx: 97,
  nameOwner: 98,
  action: 99,
  journalVertices: 100,
  resultCount: 101,
  currentConfigHash: 102,
  touched: 103,
  journalHash: 104,
  appliedVertices: 105,
} as const;

const U64_MAX = (1n << 64n) - 1n;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function invalid(message: string): CoreError {
  return new CoreError("invalid_input", message);
}

/** One field's value as given; encoded only in finish(). */
type FieldValue = Uint8Array | bigint | number | boolean;

/**
 * Builds a frame. Fields are checked as they are added and written in
 * finish(), into one buffer: no allocation per field (a ledger call frames
 * every transaction it applies). The core's calls take the writer itself and
 * write it straight into the core's memory (writeTo), without that buffer.
 */
export class FrameWriter {
  readonly #tags: number[] = [];
  readonly #values: FieldValue[] = [];
  #length = 0;

  #push(tag: number, value: FieldValue, length: number): this {
    this.#tags.push(tag);
    this.#values.push(value);
    this.#length += 5 + length;
    return this;
  }

  bytes(tag: number, value: Uint8Array, field: string): this {
    if (!(value instanceof Uint8Array)) {
      throw invalid(`${field} must be a Uint8Array`);
    }
    return this.#push(tag, value, value.length);
  }

  text(tag: number, value: string, field: string): this {
    if (typeof value !== "string") throw invalid(`${field} must be a string`);
    return this.bytes(tag, encoder.encode(value), field);
  }

  u64(tag: number, value: bigint, field: string): this {
    if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
      throw invalid(`${field} must be a bigint in 0..2^64-1, got ${value}`);
    }
    return this.#push(tag, value, 8);
  }

  u32(tag: number, value: number, field: string): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw invalid(`${field} must be an integer in 0..2^32-1, got ${value}`);
    }
    return this.#push(tag, value, 4);
  }

  bool(tag: number, value: boolean, field: string): this {
    if (typeof value !== "boolean") throw invalid(`${field} must be a boolean`);
    return this.#push(tag, value, 1);
  }

  /** The frame's size in bytes. */
  get length(): number {
    return this.#length;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    this.writeTo(out);
    return out;
  }

  /** Writes the frame at the start of `out`, which has room for {@linkcode length} bytes. */
  writeTo(out: Uint8Array): void {
    if (out.length < this.#length) throw new RangeError(`a ${this.#length}-byte frame in ${out.length} bytes`);
    const view = new DataView(out.buffer, out.byteOffset, this.#length);
    let at = 0;
    for (let i = 0; i < this.#tags.length; i++) {
      const value = this.#values[i];
      out[at] = this.#tags[i];
      if (value instanceof Uint8Array) {
        view.setUint32(at + 1, value.length, true);
        out.set(value, at + 5);
        at += 5 + value.length;
      } else if (typeof value === "bigint") {
        view.setUint32(at + 1, 8, true);
        view.setBigUint64(at + 5, value, true);
        at += 13;
      } else if (typeof value === "number") {
        view.setUint32(at + 1, 4, true);
        view.setUint32(at + 5, value, true);
        at += 9;
      } else {
        view.setUint32(at + 1, 1, true);
        out[at + 5] = value ? 1 : 0;
        at += 6;
      }
    }
  }
}

/** A parsed frame from the core; the core never sends a malformed one. */
export class FrameReader {
  #fields = new Map<number, Uint8Array[]>();

  constructor(frame: Uint8Array) {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    let at = 0;
    while (at < frame.length) {
      const tag = frame[at];
      const len = view.getUint32(at + 1, true);
      const value = frame.subarray(at + 5, at + 5 + len);
      at += 5 + len;
      const list = this.#fields.get(tag);
      if (list) list.push(value);
      else this.#fields.set(tag, [value]);
    }
  }

  all(tag: number): Uint8Array[] {
    return this.#fields.get(tag) ?? [];
  }

  has(tag: number): boolean {
    return this.#fields.has(tag);
  }

  bytes(tag: number): Uint8Array {
    const list = this.#fields.get(tag);
    if (!list || list.length !== 1) {
      throw new CoreError(
        "internal",
        `The core's frame lacks field tag ${tag}`,
      );
    }
    return list[0];
  }

  text(tag: number): string {
    return decoder.decode(this.bytes(tag));
  }

  u64(tag: number): bigint {
    const b = this.bytes(tag);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  u32(tag: number): number {
    const b = this.bytes(tag);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  bool(tag: number): boolean {
    return this.bytes(tag)[0] === 1;
  }
}
