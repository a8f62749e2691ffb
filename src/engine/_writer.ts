/**
 * Byte strings that get hashed or signed. Every field is length-prefixed and
 * every message starts with a domain tag (written by the caller), so no two
 * different messages share bytes.
 */
export class Writer {
  static readonly #text = new TextEncoder();
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  u32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
      throw new RangeError(`Cannot encode ${n}: expected an integer in [0, 2^32)`);
    }
    this.#reserve(4);
    this.#view.setUint32(this.#at, n);
    this.#at += 4;
    return this;
  }

  u53(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Cannot encode ${n}: expected a non-negative safe integer`);
    }
    return this.u32(Math.floor(n / 0x1_0000_0000)).u32(n % 0x1_0000_0000);
  }

  str(s: string): this {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.#reserve(4 + 3 * s.length);
    const { written } = Writer.#text.encodeInto(s, this.#buf.subarray(this.#at + 4));
    this.#view.setUint32(this.#at, written);
    this.#at += 4 + written;
    return this;
  }

  list(items: readonly string[]): this {
    this.u32(items.length);
    for (const s of items) this.str(s);
    return this;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }
}
