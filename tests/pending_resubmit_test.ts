/**
 * What `202 pending` promises, on a real node: the node holds the transaction
 * in memory only (its mempool) until it issues it in a vertex, so a node that
 * dies before then forgets it; the client keeps the bytes and resubmits them
 * until it sees a decision. Resubmitting the same bytes is idempotent: the
 * same id, never a second effect, whether the node still holds the transaction,
 * has decided it, or lost it in a crash.
 */
import assert from "node:assert/strict";
import { transactionId } from "../src/core/mod.ts";
import { fromHex, toHex } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { keyFromSeed, signTransaction } from "./_tx.ts";

const RUV = 1_000_000n;
const DECIDE_MS = 20_000;

interface TxView {
  id?: string;
  state?: string;
  receipt?: { code: string; feeUnits: string } | null;
  error?: { code: string };
}

Deno.test({
  name: "202 pending: resubmitting the same bytes is idempotent, before and after a crash and after acceptance",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-pending-" });
    const net = await startTestnet({ nodes: 1, dir, basePort: 0, quiet: true });
    try {
      const d = net.description;
      const chainId = fromHex(d.chainId);
      const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
      const master = keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
      const [alice, bob] = [51, 52].map((n) => keyFromSeed(new Uint8Array(32).fill(n)));
      const api = () => `${d.nodes[0].exchange}/api/v1/exchange`;
      const post = async (tx: Uint8Array) => {
        const res = await fetch(`${api()}/transactions`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
          body: tx.slice().buffer,
        });
        return { status: res.status, body: await res.json() as TxView };
      };
      const view = async (id: string) => await (await fetch(`${api()}/transactions/${id}`)).json() as TxView;
      const balance = async (name: string) =>
        BigInt((await (await fetch(`${api()}/accounts/${name}/balance`)).json()).balanceUnits);
      const decided = async (id: string): Promise<TxView> => {
        const deadline = Date.now() + DECIDE_MS;
        for (;;) {
          const v = await view(id);
          if (v.state === "accepted" && v.receipt) return v;
          assert.notEqual(v.state, "rejected", `${id} rejected`);
          if (Date.now() > deadline) throw new Error(`${id} not applied within ${DECIDE_MS} ms: ${JSON.stringify(v)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const idOf = (tx: Uint8Array) => toHex(transactionId(tx));

      for (
        const tx of [
          signTransaction(chainId, alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
          signTransaction(chainId, bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
          signTransaction(chainId, master, 0n, { kind: "mint", to: alice.id, amount: 1_000n * RUV }),
        ]
      ) {
        const r = await post(tx);
        assert.ok(r.status === 202 || r.status === 200, JSON.stringify(r));
        assert.equal((await decided(idOf(tx))).receipt?.code, "ok");
      }
      const aliceBefore = await balance("alice");
      const bobBefore = await balance("bob");

      const transfer = signTransaction(chainId, alice, 1n, {
        kind: "transfer",
        to: bob.id,
        amount: 7n * RUV,
        memo: new Uint8Array(),
      });
      const id = idOf(transfer);
      // Taken, then the same bytes again at once: the same id, no second copy.
      const first = await post(transfer);
      const again = await post(transfer);
      for (const r of [first, again]) {
        assert.ok(r.status === 202 || r.status === 200, JSON.stringify(r));
        assert.equal(r.body.id, id);
      }
      // The node dies right after the answers: whether the transaction was still only in its mempool or already in
      // a vertex, resubmitting after the restart ends in exactly one application.
      await net.stopNode(0, "SIGKILL");
      await net.restartNode(0);
      const afterCrash = await view(id);
      assert.ok(afterCrash.error?.code === "not_found" || afterCrash.id === id, JSON.stringify(afterCrash));
      for (let i = 0; i < 3; i++) {
        const r = await post(transfer);
        assert.ok(r.status === 202 || r.status === 200, JSON.stringify(r));
        assert.equal(r.body.id, id);
      }
      const applied = await decided(id);
      const fee = BigInt(applied.receipt!.feeUnits);
      // Decided: the same bytes answer 200 accepted and change nothing.
      const late = await post(transfer);
      assert.deepEqual([late.status, late.body], [200, { id, state: "accepted" }]);
      assert.equal(await balance("alice"), aliceBefore - 7n * RUV - fee);
      assert.equal(await balance("bob"), bobBefore + 7n * RUV);
    } finally {
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
