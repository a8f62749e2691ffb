/**
 * A seeded fuzzer for decoders of bytes that come from the network. Inputs are
 * valid encodings (a corpus) mutated by a PRNG, plus plain random bytes; a
 * decoder may refuse an input only with its own error type. Anything else
 * thrown (a TypeError, a RangeError from a huge allocation, a wasm trap), or a
 * result much larger than its input, fails the test with the seed, the
 * iteration and the input in hex.
 *
 * Budget: each target runs at most `iterations` inputs and at most `timeMs`
 * of wall time, whichever ends first (the number run is printed).
 * The seed is fresh on every run and printed; QUDAG_FUZZ_SEED=<seed> replays a
 * run input for input (up to where its time budget ended).
 */

/** The run's seed: QUDAG_FUZZ_SEED, else fresh. */
export const FUZZ_SEED: number = (() => {
  const fixed = Deno.env.get("QUDAG_FUZZ_SEED");
  if (fixed !== undefined && fixed !== "") {
    const n = Number(fixed);
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
      throw new Error(`QUDAG_FUZZ_SEED=${fixed} is not an integer in 0..2^32-1`);
    }
    return n;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
})();

/** sfc32: small, fast, and good enough to drive mutations. */
export class FuzzRng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** Length and count values decoders must survive: zero, one, edges, and the largest ones. */
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One mutation of `input` (a copy), or of a splice of it with `other`. */
export function mutate(rng: FuzzRng, input: Uint8Array, other: Uint8Array): Uint8Array {
  let b: Uint8Array = input.slice();
  const ops = 1 + rng.int(4);
  for (let k = 0; k < ops; k++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(9)) {
      case 0: // flip a bit
        if (b.length) b[rng.int(b.length)] ^= 1 << rng.int(8);
        break;
      case 1: // set a byte
        if (b.length) b[rng.int(b.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: // append random bytes
        b = concat(b, rng.bytes(1 + rng.int(64)));
        break;
      case 4: // delete a range
        b = concat(b.slice(0, at), b.slice(Math.min(b.length, at + 1 + rng.int(32))));
        break;
      case 5: // insert random bytes
        b = concat(concat(b.slice(0, at), rng.bytes(1 + rng.int(16))), b.slice(at));
        break;
      case 6: // overwrite a length or count with an interesting value, either byte order
        if (b.length >= 4) {
          const i = rng.int(b.length - 3);
          new DataView(b.buffer, b.byteOffset).setUint32(i, rng.pick(INTERESTING_U32), rng.int(2) === 0);
        }
        break;
      case 7: // splice with another corpus entry
        b = concat(b.slice(0, at), other.slice(rng.int(other.length + 1)));
        break;
      case 8: // duplicate a range
        if (b.length) {
          const from = rng.int(b.length);
          b = concat(concat(b.slice(0, at), b.slice(from, from + 1 + rng.int(64))), b.slice(at));
        }
        break;
    }
  }
  return b;
}

/** Bytes a decoded value holds (typed arrays, strings, bigints), to catch results out of proportion to the input. */
export function sizeOf(value: unknown, depth = 0): number {
  if (depth > 32) return 0;
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === "string") return value.length;
  if (typeof value === "bigint") return 8;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + sizeOf(v, depth + 1) + 1, 0);
  if (value !== null && typeof value === "object") {
    return Object.values(value).reduce((n: number, v) => n + sizeOf(v, depth + 1) + 1, 0);
  }
  return 1;
}

export interface FuzzTarget<T> {
  readonly name: string;
  /** Valid encodings to mutate (at least one). */
  readonly corpus: readonly Uint8Array[];
  /** The decoder; may be async (handshake steps). */
  readonly decode: (input: Uint8Array) => T | Promise<T>;
  /** The refusals the decoder documents; anything else thrown is a failure. */
  readonly refusal: (error: unknown) => boolean;
  /** Largest result for an input of `n` bytes (default 4n + 1,024, counted by sizeOf). */
  readonly resultBytesMax?: (n: number) => number;
  readonly iterations?: number;
  readonly timeMs?: number;
  /** Largest plain random input. */
  readonly randomBytesMax?: number;
}

export interface FuzzReport {
  readonly name: string;
  readonly seed: number;
  readonly inputs: number;
  readonly refused: number;
  readonly ms: number;
}

function hexOf(b: Uint8Array): string {
  const shown = b.length > 512 ? b.subarray(0, 512) : b;
  return Array.from(shown, (x) => x.toString(16).padStart(2, "0")).join("") + (b.length > 512 ? "…" : "");
}

/** Runs one target; throws on the first failure, naming the seed, iteration and input. */
export async function fuzz<T>(t: FuzzTarget<T>, seed = FUZZ_SEED): Promise<FuzzReport> {
  // Each target its own stream, so adding a target does not change another's inputs.
  let h = seed;
  for (const c of t.name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const rng = new FuzzRng(h);
  const iterations = t.iterations ?? 20_000;
  const timeMs = t.timeMs ?? 3_000;
  const bound = t.resultBytesMax ?? ((n: number) => 4 * n + 1024);
  const started = performance.now();
  let refused = 0;
  let i = 0;
  for (; i < iterations && performance.now() - started < timeMs; i++) {
    const input = rng.int(8) === 0
      ? rng.bytes(rng.int((t.randomBytesMax ?? 256) + 1))
      : mutate(rng, rng.pick(t.corpus), rng.pick(t.corpus));
    const where = () =>
      `fuzz ${t.name}: seed ${seed} (QUDAG_FUZZ_SEED=${seed}), input #${i} (${input.length} bytes): ${hexOf(input)}`;
    let result: T;
    try {
      result = await t.decode(input);
    } catch (error) {
      if (t.refusal(error)) {
        refused++;
        continue;
      }
      throw new Error(`${where()}\nthrew ${error instanceof Error ? `${error.name}: ${error.message}` : error}`, {
        cause: error,
      });
    }
    const size = sizeOf(result);
    if (size > bound(input.length)) {
      throw new Error(`${where()}\ndecoded to ${size} bytes, more than ${bound(input.length)} for its size`);
    }
  }
  const report = { name: t.name, seed, inputs: i, refused, ms: Math.round(performance.now() - started) };
  console.log(`fuzz ${t.name}: ${report.inputs} inputs (${refused} refused) in ${report.ms} ms, seed ${seed}`);
  return report;
}
