/**
 * What a submission costs in ML-DSA-87 verifications, on a real node (in this
 * process, so its crypto backend can count): a transaction whose nonce is
 * ahead waits up to a second for its predecessor and is verified once however
 * often the ledger looks at it; a duplicate, sent again after it was taken or
 * several times at once, costs none beyond the first; a forged transaction
 * sent again costs none beyond the first either.
 */
import assert from "node:assert/strict";
import type { CryptoBackend, MlDsaVerifier } from "../src/crypto/backend.ts";
import { selectCryptoBackend, type SelectedBackend } from "../src/crypto/select.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { validateTransaction } from "../src/core/mod.ts";
import { toHex } from "../src/keys/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { startNode } from "../src/node/mod.ts";
import { keyFromSeed, signTransaction } from "./_tx.ts";

const API_KEY = "submission-cost-test-key-0123456789";
const DECIDE_MS = 20_000;

/** The selected backend, with every ML-DSA verification counted by the hex of its message. */
function counting(selected: SelectedBackend): { selected: SelectedBackend; count: (message: Uint8Array) => number } {
  const seen = new Map<string, number>();
  const note = (m: Uint8Array) => seen.set(toHex(m), (seen.get(toHex(m)) ?? 0) + 1);
  const inner = selected.backend;
  const backend: CryptoBackend = {
    name: inner.name,
    capabilities: inner.capabilities,
    mlDsaSigner: (seed) => inner.mlDsaSigner(seed),
    ...(inner.mlDsaSyncSigner ? { mlDsaSyncSigner: (seed: Uint8Array) => inner.mlDsaSyncSigner!(seed) } : {}),
    mlDsaVerifier: async (publicKey): Promise<MlDsaVerifier> => {
      const v = await inner.mlDsaVerifier(publicKey);
      return {
        publicKey: v.publicKey,
        verify: (message, signature, context) => {
          note(message);
          return v.verify(message, signature, context);
        },
      };
    },
    mlDsaVerifyBatch: (items, threads) => {
      for (const i of items) note(i.message);
      return inner.mlDsaVerifyBatch(items, threads);
    },
    mlKemKeygen: (level, d, z) => inner.mlKemKeygen(level, d, z),
    mlKemEncaps: (level, ek, m) => inner.mlKemEncaps(level, ek, m),
    mlKemDecaps: (level, dk, ct) => inner.mlKemDecaps(level, dk, ct),
    ...(inner.blake3 ? { blake3: (data: Uint8Array, out?: number) => inner.blake3!(data, out) } : {}),
  };
  return { selected: { ...selected, backend }, count: (m) => seen.get(toHex(m)) ?? 0 };
}

const signingMessage = (tx: Uint8Array) => validateTransaction(tx).signingMessage;

Deno.test({
  name: "a nonce-ahead submission costs one verification, a duplicate (sequential or concurrent) none",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-submission-cost-" });
    const { selected, count } = counting(await selectCryptoBackend());
    const config = resolveConfig({
      env: {
        QUDAG_DATA_DIR: dir,
        NODE_PRIVATE_KEY: "11".repeat(32),
        QUDAG_API_KEY: API_KEY,
        QUDAG_EXCHANGE_ENABLED: "true",
        QUDAG_HTTP_PORT: "0",
        QUDAG_EXCHANGE_PORT: "0",
        QUDAG_METRICS_PORT: "0",
        QUDAG_P2P_PORT: "0",
      },
    });
    const node = await startNode({ config, logger: silentLogger, crypto: selected });
    try {
      const app = node.apps.exchange!;
      const chainId = node.genesis.chainId;
      const post = async (tx: Uint8Array) => {
        const res = await app.request("/api/v1/exchange/transactions", {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": API_KEY },
          body: tx.slice(),
        });
        return { status: res.status, body: await res.json() };
      };
      const accepted = async (tx: Uint8Array) => {
        const id = toHex(validateTransaction(tx).id);
        const deadline = Date.now() + DECIDE_MS;
        for (;;) {
          // With the key: a test polling fast is the operator, not a client on an address's budget.
          const v =
            await (await app.request(`/api/v1/exchange/transactions/${id}`, { headers: { "x-api-key": API_KEY } }))
              .json();
          if (v.state === "accepted" && v.receipt) return v;
          if (Date.now() > deadline) throw new Error(`${id} not applied within ${DECIDE_MS} ms: ${JSON.stringify(v)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const alice = keyFromSeed(new Uint8Array(32).fill(71));
      const mallory = keyFromSeed(new Uint8Array(32).fill(72));
      const data = (nonce: bigint, text: string, key = alice) =>
        signTransaction(chainId, { ...key, id: alice.id }, nonce, {
          kind: "data",
          data: new TextEncoder().encode(text),
        });

      const create = signTransaction(chainId, alice, 0n, {
        kind: "create_account",
        name: "alice",
        publicKey: alice.publicKey,
      });
      assert.equal((await post(create)).status, 202);
      assert.equal((await accepted(create)).receipt.code, "ok");
      const createCost = count(signingMessage(create));

      // Nonce 2 while nonce 1 exists nowhere: the ledger looks at it for a second, verifying once.
      const ahead = data(2n, "ahead");
      const refused = await post(ahead);
      assert.equal(refused.status, 422, JSON.stringify(refused));
      assert.equal(refused.body.error.code, "nonce_too_high");
      assert.equal(count(signingMessage(ahead)), 1, "a nonce-ahead submission is verified once");

      // A forged nonce-ahead transaction (Mallory's signature on Alice's account): one verification, and
      // none when the same bytes come again.
      const forged = data(5n, "forged", mallory);
      for (let i = 0; i < 3; i++) {
        const r = await post(forged);
        assert.equal(r.body.error?.code, "bad_signature", JSON.stringify(r));
      }
      assert.equal(count(signingMessage(forged)), 1, "a forged transaction sent three times is verified once");

      // An accepted transaction sent again: no verification.
      assert.equal((await post(create)).status, 200);
      assert.equal(count(signingMessage(create)), createCost, "a decided duplicate costs no verification");

      // The same new transaction five times at once: verified once.
      const first = data(1n, "first");
      const answers = await Promise.all(Array.from({ length: 5 }, () => post(first)));
      for (const a of answers) assert.ok(a.status === 202 || a.status === 200, JSON.stringify(a));
      assert.equal(count(signingMessage(first)), 1, "five concurrent copies of one transaction are verified once");
      // And once more after it was taken.
      assert.ok([200, 202].includes((await post(first)).status));
      assert.equal(count(signingMessage(first)), 1, "a pending duplicate costs no verification");
      assert.equal((await accepted(first)).receipt.code, "ok");
      // Consensus and the ledger applied it without verifying it again.
      assert.equal(count(signingMessage(first)), 1, "admission and the ledger reuse the submission's verdict");
    } finally {
      await node.stop("test over");
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
