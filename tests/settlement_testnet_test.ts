/**
 * Settlement on real nodes (wasm/LEDGER.md, "Settlement"): a chain of five
 * validators, four of them running, with cuts every second. Under exchange
 * traffic every node closes the same cuts and the validators certify each
 * checkpoint (same digest everywhere, checkable offline against the genesis);
 * the ledger's journal stays small. The fifth validator, started late with an
 * empty data directory, and then a validator whose data directory is wiped,
 * rejoin by state sync from a certified checkpoint (the log says so) and reach
 * the same ledger state hash as the others. A restart without a wipe loads
 * the newest snapshot and replays only what came after it. A running
 * validator whose ledger halted (its store damaged) states no more
 * checkpoints, stays behind the certified ones, and syncs again by itself.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import type { TransactionPayload } from "../src/core/mod.ts";
import { certificateFromJson, verifyCertificate } from "../src/checkpoint/mod.ts";
import { fromHex } from "../src/keys/mod.ts";
import { readGenesis } from "../src/node/genesis.ts";
import { DatabaseSync } from "node:sqlite";
import { startTestnet } from "../scripts/testnet.ts";
import { type Key, keyFromSeed, signTransaction } from "./_tx.ts";

const RUV = 1_000_000n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;

Deno.test({
  name:
    "settlement on real nodes: the same certified checkpoints everywhere, a small journal; a late and a wiped validator rejoin by state sync",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-settlement-" });
    const net = await startTestnet({
      nodes: 5,
      startNodes: 4,
      dir,
      basePort: 0,
      quiet: true,
      settlement: { intervalMs: 1_000 },
      env: {
        QUDAG_SETTLEMENT_LAG_MS: "500",
        QUDAG_SNAPSHOT_EVERY: "1",
        QUDAG_SYNC_BEHIND_MIN: "2",
        QUDAG_SYNC_WAIT_MS: "5000",
        QUDAG_SYNC_RESYNC_AFTER_MS: "8000",
      },
    });
    const d = net.description;
    const chainId = fromHex(d.chainId);
    const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
    const master = keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
    const users = [51, 52, 53].map((n) => keyFromSeed(new Uint8Array(32).fill(n)));
    const nonces = new Map<Key, bigint>();
    const running = new Set([0, 1, 2, 3]);

    const sign = (key: Key, payload: TransactionPayload) => {
      const nonce = nonces.get(key) ?? 0n;
      nonces.set(key, nonce + 1n);
      return signTransaction(chainId, key, nonce, payload);
    };
    const submit = async (i: number, tx: Uint8Array) => {
      const res = await fetch(`${d.nodes[i].exchange}/api/v1/exchange/transactions`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
        body: tx.slice().buffer,
      });
      const body = await res.json();
      assert.ok(res.status === 202 || res.status === 200, `node ${i}: ${res.status} ${JSON.stringify(body)}`);
      return body.id as string;
    };
    const json = async (url: string) => {
      const res = await fetch(url);
      return { status: res.status, body: await res.json() };
    };
    const status = (i: number) => json(`${d.nodes[i].http}/api/v1/status`).then((r) => r.body);
    const waitFor = async (what: string, done: () => Promise<boolean>) => {
      const deadline = Date.now() + WAIT_MS;
      while (!await done()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s`);
        await sleep(200);
      }
    };
    /** Every running node (and `also`) applied every transaction submitted so far, and all hold one state hash. */
    const sameState = async (what: string, ids: string[], also: number[] = []) => {
      await waitFor(what, async () => {
        const views = await Promise.all([...running, ...also].map(async (i) => {
          const states = await Promise.all(
            ids.map((id) =>
              json(`${d.nodes[i].exchange}/api/v1/exchange/transactions/${id}`).then((r) => r.body.receipt != null)
            ),
          );
          return { applied: states.every(Boolean), hash: (await status(i)).exchange.ledger.stateHash as string };
        }));
        return views.every((v) => v.applied) && new Set(views.map((v) => v.hash)).size === 1;
      });
      return (await status([...running][0])).exchange.ledger.stateHash as string;
    };
    const ids: string[] = [];
    /** Transfers between the users, spread over the running nodes. */
    const traffic = async (rounds: number) => {
      const at = [...running];
      for (let r = 0; r < rounds; r++) {
        for (const [k, u] of users.entries()) {
          const to = users[(k + 1) % users.length].id;
          const tx = sign(u, { kind: "transfer", to, amount: RUV, memo: new Uint8Array() });
          ids.push(await submit(at[(r + k) % at.length], tx));
        }
        await sleep(300);
      }
    };

    try {
      await t.step("under traffic, every node certifies the same checkpoints and keeps a small journal", async () => {
        for (const [k, u] of users.entries()) {
          ids.push(await submit(k % 4, sign(u, { kind: "create_account", name: `user${k}`, publicKey: u.publicKey })));
        }
        await sameState("accounts created", ids);
        for (const [k, u] of users.entries()) {
          ids.push(await submit(k % 4, sign(master, { kind: "mint", to: u.id, amount: 100n * RUV })));
        }
        await sameState("accounts funded", ids);
        await traffic(8);
        const hash = await sameState("four nodes apply the traffic", ids);
        assert.match(hash, /^[0-9a-f]{64}$/);
        await waitFor("a certified checkpoint at or past 3 on every node", async () => {
          const latest = await Promise.all(
            [...running].map((i) => json(`${d.nodes[i].http}/api/v1/checkpoints/latest`)),
          );
          return latest.every((r) => r.status === 200 && Number(r.body.statement.seq) >= 3);
        });
        const third = await Promise.all([...running].map((i) => json(`${d.nodes[i].http}/api/v1/checkpoints/3`)));
        assert.ok(third.every((r) => r.status === 200), JSON.stringify(third.map((r) => r.status)));
        assert.equal(new Set(third.map((r) => r.body.digest)).size, 1, "one statement of checkpoint 3");
        // Anyone holding the genesis can check it offline.
        const genesis = readGenesis(d.genesis);
        const verdict = await verifyCertificate(
          certificateFromJson(third[0].body),
          { chainId: genesis.chainId, validators: genesis.validators },
          (pk, m, s) => ml_dsa87.verify(s, m, pk),
        );
        assert.ok(verdict.ok, JSON.stringify(verdict));
        for (const i of running) {
          const s = await status(i);
          assert.ok(s.settlement.cut >= 3, `node ${i} closed cuts: ${JSON.stringify(s.settlement)}`);
          assert.ok(s.exchange.ledger.journalVertices < 200, `node ${i} journal: ${s.exchange.ledger.journalVertices}`);
          assert.equal(s.exchange.ledger.halted, null);
        }
      });

      await t.step("a fifth validator started late with no data syncs from a certified checkpoint", async () => {
        await net.startNode(4, { dialPeers: true });
        assert.match(net.log(4), /synced from a certified checkpoint/, net.log(4));
        // It follows the DAG from the checkpoint's frontier up to what the others accepted since; it knows
        // no receipt of what was settled before its checkpoint, so only the state hash is compared.
        await sameState("the late node catches up", [], [4]);
        running.add(4);
        const from = ids.length;
        await traffic(3);
        await sameState("five nodes, the late one included", ids.slice(from));
      });

      await t.step("a validator whose data directory is wiped rejoins by state sync", async () => {
        await net.stopNode(3);
        running.delete(3);
        await traffic(3);
        await net.restartNode(3, { wipe: true, dialPeers: true });
        assert.match(net.log(3), /synced from a certified checkpoint/, net.log(3));
        await sameState("the wiped node reaches the others' state", [], [3]);
        running.add(3);
        const from = ids.length;
        await traffic(2);
        await sameState("and follows them", ids.slice(from));
      });

      await t.step("a restart without a wipe replays only what came after its newest snapshot", async () => {
        await net.stopNode(1);
        running.delete(1);
        await net.restartNode(1);
        await sameState("the restarted node", [], [1]);
        running.add(1);
        const restored = net.log(1).split("\n").filter((l) => l.includes('"exchange ledger restored from storage"'))
          .map((l) => JSON.parse(l)).at(-1);
        assert.ok(restored.fromSeq >= 3, JSON.stringify(restored));
        assert.ok(restored.vertices < ids.length, `replayed ${restored.vertices} of ${ids.length}`);
        const from = ids.length;
        await traffic(2);
        await sameState("after the restart", ids.slice(from));
      });

      await t.step("a running validator whose ledger halted syncs again by itself and follows the others", async () => {
        await net.stopNode(2);
        running.delete(2);
        // Damage its store as a broken disk might: no snapshot (a restart replays everything) and an accepted
        // transaction's decision gone, so its ledger halts on the way and states no more checkpoints.
        const db = new DatabaseSync(`${d.nodes[2].dataDir}/qudag.db`);
        db.prepare("DELETE FROM snapshots").run();
        db.prepare("DELETE FROM decisions WHERE id = ?").run(ids[0]);
        db.close();
        await net.restartNode(2);
        await waitFor("the damaged node halts", () => Promise.resolve(/exchange ledger halted/.test(net.log(2))));
        // The others go on certifying checkpoints; it stays behind them, stating none, and syncs again.
        await waitFor("the halted node syncs again", async () => {
          await traffic(1);
          return /"code":"sync_resync"/.test(net.log(2)) && /synced from a certified checkpoint/.test(net.log(2));
        });
        await waitFor("it is ready again", async () => {
          try {
            const res = await fetch(`${d.nodes[2].http}/ready`);
            await res.body?.cancel();
            return res.ok;
          } catch {
            return false; // between its stop and its start again
          }
        });
        assert.equal((await status(2)).exchange.ledger.halted, null);
        await sameState("the resynced node reaches the others' state", [], [2]);
        running.add(2);
        const from = ids.length;
        await traffic(2);
        await sameState("and follows them", ids.slice(from));
      });
    } finally {
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a node whose ledger cannot follow consensus still starts, serves /health and says why; /ready fails",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-halted-" });
    // No snapshots: a restart replays every accepted vertex, the damaged one included.
    const net = await startTestnet({
      nodes: 1,
      dir,
      basePort: 0,
      quiet: true,
      settlement: { intervalMs: 1_000 },
      env: { QUDAG_SETTLEMENT_LAG_MS: "500", QUDAG_SNAPSHOT_EVERY: "0" },
    });
    const d = net.description;
    try {
      const chainId = fromHex(d.chainId);
      const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
      const carol = keyFromSeed(new Uint8Array(32).fill(61));
      const tx = signTransaction(chainId, carol, 0n, {
        kind: "create_account",
        name: "carol",
        publicKey: carol.publicKey,
      });
      const res = await fetch(`${d.nodes[0].exchange}/api/v1/exchange/transactions`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
        body: tx.slice().buffer,
      });
      const { id } = await res.json();
      const deadline = Date.now() + WAIT_MS;
      while (
        (await (await fetch(`${d.nodes[0].exchange}/api/v1/exchange/transactions/${id}`)).json()).receipt == null
      ) {
        if (Date.now() > deadline) throw new Error("carol's account was not created");
        await sleep(100);
      }
      await net.stopNode(0);
      // Damage the store as a broken disk or a bug might: the vertex stays accepted, its transaction's decision goes.
      const db = new DatabaseSync(`${d.nodes[0].dataDir}/qudag.db`);
      db.prepare("DELETE FROM decisions WHERE id = ?").run(id);
      db.close();
      await net.restartNode(0);
      const health = await fetch(`${d.nodes[0].http}/health`);
      await health.body?.cancel();
      assert.equal(health.status, 200);
      const ready = await fetch(`${d.nodes[0].http}/ready`);
      const body = await ready.json();
      assert.equal(ready.status, 503);
      assert.match(body.error.message, /ledger_out_of_step/);
      const status = await (await fetch(`${d.nodes[0].http}/api/v1/status`)).json();
      assert.equal(status.exchange.ledger.halted.code, "ledger_out_of_step");
      assert.match(status.exchange.ledger.halted.message, new RegExp(`transaction ${id}, which is not accepted`));
      assert.match(net.log(0), /exchange ledger halted: it applies nothing more/);
    } finally {
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
