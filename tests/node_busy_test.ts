/**
 * Back-pressure: a node with `pending_txs_max` of its submissions undecided
 * refuses more with 503 node_busy and a Retry-After, loses none of them (the
 * same bytes are taken once there is room), and counts the refusals.
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../src/config/mod.ts";
import { validateTransaction } from "../src/core/mod.ts";
import { toHex } from "../src/keys/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { startNode } from "../src/node/mod.ts";
import type { HttpApp } from "../src/node/servers.ts";
import { keyFromSeed, signTransaction } from "./_tx.ts";

const API_KEY = "node-busy-test-key-0123456789abcdef";
const DECIDE_MS = 20_000;

/** A one-validator node with the exchange, at most `pendingTxsMax` submissions undecided. */
function busyConfig(dir: string, pendingTxsMax: number) {
  return resolveConfig({
    env: {
      QUDAG_DATA_DIR: dir,
      NODE_PRIVATE_KEY: "12".repeat(32),
      QUDAG_API_KEY: API_KEY,
      QUDAG_EXCHANGE_ENABLED: "true",
      QUDAG_PENDING_TXS_MAX: String(pendingTxsMax),
      QUDAG_HTTP_PORT: "0",
      QUDAG_EXCHANGE_PORT: "0",
      QUDAG_METRICS_PORT: "0",
      QUDAG_P2P_PORT: "0",
    },
  });
}

/** The exchange API's view of transaction `id` once the node accepted and applied it (fails after DECIDE_MS). */
async function applied(app: HttpApp, id: string): Promise<{ state: string; receipt: { code: string } }> {
  const deadline = Date.now() + DECIDE_MS;
  for (;;) {
    const res = await app.request(`/api/v1/exchange/transactions/${id}`, { headers: { "x-api-key": API_KEY } });
    const v = await res.json();
    if (v.state === "accepted" && v.receipt) return v;
    if (Date.now() > deadline) throw new Error(`${id} not applied within ${DECIDE_MS} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "a node past pending_txs_max refuses with 503 node_busy and Retry-After, and takes the same bytes later",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-node-busy-" });
    const node = await startNode({ config: busyConfig(dir, 1), logger: silentLogger });
    try {
      const app = node.apps.exchange!;
      const post = async (tx: Uint8Array) => {
        const res = await app.request("/api/v1/exchange/transactions", {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": API_KEY },
          body: tx.slice(),
        });
        return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
      };
      const accepted = (tx: Uint8Array) => applied(app, toHex(validateTransaction(tx).id));
      // Five new accounts at once, one slot: one is taken, the others are told to come back.
      const creates = Array.from({ length: 5 }, (_, i) => {
        const key = keyFromSeed(new Uint8Array(32).fill(90 + i));
        return signTransaction(node.genesis.chainId, key, 0n, {
          kind: "create_account",
          name: `busy${i}`,
          publicKey: key.publicKey,
        });
      });
      const first = await Promise.all(creates.map(post));
      const taken = first.filter((a) => a.status === 202);
      const busy = first.filter((a) => a.status === 503);
      assert.equal(taken.length + busy.length, 5, JSON.stringify(first));
      assert.ok(taken.length >= 1 && busy.length >= 1, JSON.stringify(first.map((a) => a.status)));
      for (const b of busy) {
        assert.equal(b.body.error.code, "node_busy");
        assert.ok(Number(b.retryAfter) >= 1, `Retry-After: ${b.retryAfter}`);
      }
      // Each refused one, sent again (after its predecessor in the slot is decided), is taken: nothing is lost.
      for (const [i, tx] of creates.entries()) {
        for (let a = first[i]; a.status === 503;) {
          await new Promise((r) => setTimeout(r, 50));
          a = await post(tx);
          assert.ok(a.status === 202 || a.status === 503 || a.status === 200, JSON.stringify(a));
        }
        assert.equal((await accepted(tx)).receipt.code, "ok");
      }
      const metrics = node.registry.render();
      const refusals = metrics.match(/^qudag_transactions_submitted_total\{result="busy"\} (\d+)/m);
      assert.ok(refusals && Number(refusals[1]) >= busy.length, "busy refusals are counted");
    } finally {
      await node.stop("test over");
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a batch on a real node: each item as its own submission (taken, refused, or busy and sent again), in order",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-node-batch-" });
    const node = await startNode({ config: busyConfig(dir, 2), logger: silentLogger });
    try {
      const app = node.apps.exchange!;
      const batch = async (txs: Uint8Array[]) => {
        const res = await app.request("/api/v1/exchange/transactions/batch", {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": API_KEY },
          body: JSON.stringify({ transactions: txs.map((t) => t.toBase64()) }),
        });
        assert.equal(res.status, 200);
        return (await res.json()) as {
          results: { id?: string; state?: string; error?: { status: number; code: string } }[];
        };
      };
      const keys = [0, 1, 2].map((i) => keyFromSeed(new Uint8Array(32).fill(70 + i)));
      const creates = keys.map((key, i) =>
        signTransaction(node.genesis.chainId, key, 0n, {
          kind: "create_account",
          name: `batch${i}`,
          publicKey: key.publicKey,
        })
      );
      // A transfer from an account that does not exist yet: the ledger's dry run refuses it before consensus.
      const early = signTransaction(node.genesis.chainId, keys[2], 1n, {
        kind: "transfer",
        to: validateTransaction(creates[0]).tx.account,
        amount: 1n,
        memo: new Uint8Array(),
      });
      const first = await batch([creates[0], early, creates[1], creates[2]]);
      const ids = creates.map((t) => toHex(validateTransaction(t).id));
      assert.deepEqual(first.results[0], { id: ids[0], state: "pending" });
      assert.equal(first.results[1].error?.status, 422, JSON.stringify(first.results[1]));
      assert.deepEqual(first.results[2], { id: ids[1], state: "pending" });
      // Two slots, both taken by the items before it unless one was decided meanwhile: taken or told to come back.
      assert.ok(
        first.results[3].state === "pending" || first.results[3].error?.code === "node_busy",
        JSON.stringify(first.results[3]),
      );
      // The busy one, sent again once there is room, is taken and applied: nothing is lost.
      const deadline = Date.now() + DECIDE_MS;
      for (let again = first; again.results.at(-1)?.error?.code === "node_busy";) {
        if (Date.now() > deadline) throw new Error("no room within the deadline");
        await new Promise((r) => setTimeout(r, 50));
        again = await batch([creates[2]]);
      }
      for (const id of ids) assert.equal((await applied(app, id)).receipt.code, "ok");
    } finally {
      await node.stop("test over");
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
