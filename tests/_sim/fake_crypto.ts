/**
 * FAKE SIGNATURES FOR THE SIMULATION ONLY. NOT CRYPTOGRAPHY.
 *
 * A keyed 128-bit non-cryptographic hash stands in for ML-DSA-87 so that a
 * thousand seeded runs finish in seconds. It models what the engine relies
 * on: a vote or vertex verifies only if made with the named validator's key,
 * and each simulated node (Byzantine ones included) is only ever handed its
 * own key. It is symmetric (the verifier holds every key), which would be
 * worthless outside a simulation. The real ML-DSA-87 path is exercised by
 * the `real ML-DSA-87` test in tests/consensus_sim_test.ts.
 */
import type { Hasher, Signer, Verifier } from "../../src/engine/mod.ts";

/** 128-bit FNV-1a-style hash in four 32-bit lanes, hex. Not collision resistant against adversaries. */
export function fakeHash128(bytes: Uint8Array, key = 0): Uint8Array {
  let h0 = 0x811c9dc5 ^ key, h1 = 0x01000193 ^ key, h2 = 0xdeadbeef ^ key, h3 = 0x9e3779b9 ^ key;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    h0 = Math.imul(h0 ^ b, 0x01000193);
    h1 = Math.imul(h1 ^ b, 0x85ebca6b) ^ (h0 >>> 15);
    h2 = Math.imul(h2 ^ b, 0xc2b2ae35) ^ (h1 >>> 13);
    h3 = Math.imul(h3 ^ b, 0x27d4eb2d) ^ (h2 >>> 16);
  }
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.imul(h0 ^ (h3 >>> 7), 0x9e3779b1) >>> 0);
  view.setUint32(4, Math.imul(h1 ^ (h0 >>> 11), 0x85ebca77) >>> 0);
  view.setUint32(8, Math.imul(h2 ^ (h1 >>> 5), 0xc2b2ae3d) >>> 0);
  view.setUint32(12, Math.imul(h3 ^ (h2 >>> 9), 0x27d4eb2f) >>> 0);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** SIM ONLY: vertex ids from the fake hash. */
export const fakeHasher: Hasher = { idOf: (bytes) => toHex(fakeHash128(bytes)) };

/** SIM ONLY: the key table of the fake scheme, one secret per validator. */
export class FakeKeyring implements Verifier {
  readonly #secrets = new Map<string, number>();

  /** `validators` are the genesis set; others may get keys but never verify. */
  constructor(seed: number, readonly validators: readonly string[]) {
    for (const v of validators) this.#secrets.set(v, this.#derive(seed, v));
  }

  #derive(seed: number, id: string): number {
    const view = new DataView(fakeHash128(new TextEncoder().encode(`${seed}/${id}`)).buffer);
    return view.getUint32(0) | 1;
  }

  /** A signer for `id`. For an id outside the genesis set: a key nobody accepts. */
  signerFor(id: string, seed = 0): Signer {
    const secret = this.#secrets.get(id) ?? this.#derive(seed ^ 0x5bd1e995, `outsider/${id}`);
    return { validatorId: id, sign: (message) => fakeHash128(message, secret) };
  }

  isValidator(id: string): boolean {
    return this.#secrets.has(id);
  }

  verify(id: string, message: Uint8Array, signature: Uint8Array): boolean {
    const secret = this.#secrets.get(id);
    if (secret === undefined || signature.length !== 16) return false;
    const expected = fakeHash128(message, secret);
    for (let i = 0; i < 16; i++) if (expected[i] !== signature[i]) return false;
    return true;
  }
}
