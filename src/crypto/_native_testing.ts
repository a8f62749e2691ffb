/** Shared by the native backend's tests. */
import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import type { CryptoBackend } from "./backend.ts";

/** The digest the ML-DSA-87 accumulated test publishes for N = 100 (deterministic signing, empty messages). */
export const ML_DSA_87_ACCUMULATED_100 = "8c3ad714777622b8f21ce31bb35f71394f23bc0fcf3c78ace5d608990f3b061b";

/**
 * The ML-DSA-87 accumulated test through `backend`: `n` keys from SHAKE128's stream, each public key and its
 * signature of the empty message (rnd zero) absorbed, each signature verified; the hex of 32 bytes squeezed.
 */
export async function mlDsaAccumulatedDigest(backend: CryptoBackend, n: number): Promise<string> {
  const src = shake128.create({});
  const acc = shake128.create({});
  const empty = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    const signer = await backend.mlDsaSigner(src.xof(32));
    acc.update(signer.publicKey);
    const signature = await signer.sign(empty, { rnd: new Uint8Array(32) });
    acc.update(signature);
    assert.equal(await (await backend.mlDsaVerifier(signer.publicKey)).verify(empty, signature), true);
  }
  return acc.xof(32).toHex();
}
