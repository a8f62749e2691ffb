import assert from "node:assert/strict";
import type { CryptoBackend } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import { VerifiedTxs } from "./verified_txs.ts";

const noble = createNobleBackend();
const signer = noble.mlDsaSyncSigner!(new Uint8Array(32).fill(5));
const message = new TextEncoder().encode("a transaction's signing message");
const signature = signer.sign(message);
const forged = signature.slice();
forged[0] ^= 1;

/** noble, counting verifications; `fail` makes the verifier throw (a backend fault). */
function counting(o: { fail?: boolean } = {}): { backend: CryptoBackend; calls: () => number } {
  let calls = 0;
  const backend: CryptoBackend = {
    ...noble,
    mlDsaVerifier: async (key) => {
      const v = await noble.mlDsaVerifier(key);
      return {
        publicKey: v.publicKey,
        verify: (m, s) => {
          calls++;
          if (o.fail) return Promise.reject(new Error("backend fault"));
          return v.verify(m, s);
        },
      };
    },
  };
  return { backend, calls: () => calls };
}

Deno.test("VerifiedTxs.verify() verifies a valid transaction once, however often it is asked", async () => {
  const { backend, calls } = counting();
  const txs = new VerifiedTxs(backend);
  for (let i = 0; i < 3; i++) assert.equal(await txs.verify("a", signer.publicKey, message, signature), true);
  assert.equal(calls(), 1);
  assert.ok(txs.has("a"));
});

Deno.test("VerifiedTxs.verify() verifies a forged transaction once and keeps refusing it", async () => {
  const { backend, calls } = counting();
  const txs = new VerifiedTxs(backend);
  for (let i = 0; i < 3; i++) assert.equal(await txs.verify("f", signer.publicKey, message, forged), false);
  assert.equal(calls(), 1);
  assert.ok(!txs.has("f"));
});

Deno.test("VerifiedTxs.verify() asked many times at once runs one verification", async () => {
  const { backend, calls } = counting();
  const txs = new VerifiedTxs(backend);
  const verdicts = await Promise.all([
    ...Array.from({ length: 8 }, () => txs.verify("a", signer.publicKey, message, signature)),
    ...Array.from({ length: 8 }, () => txs.verify("f", signer.publicKey, message, forged)),
  ]);
  assert.deepEqual(verdicts, [...Array(8).fill(true), ...Array(8).fill(false)]);
  assert.equal(calls(), 2);
});

Deno.test("VerifiedTxs.verify() remembers no verdict when the verifier fails to run", async () => {
  const { backend, calls } = counting({ fail: true });
  const txs = new VerifiedTxs(backend);
  await assert.rejects(txs.verify("a", signer.publicKey, message, signature), /backend fault/);
  await assert.rejects(txs.verify("a", signer.publicKey, message, signature), /backend fault/);
  assert.equal(calls(), 2);
});
