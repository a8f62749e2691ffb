/**
 * Real nodes, real sockets: a 4-validator testnet on loopback agrees. Virtuous
 * transactions are accepted everywhere; two transactions of one account and
 * nonce sent at the same moment to different nodes end with at most one
 * accepted and the same accepted set on every node; a node killed with
 * SIGKILL under load comes back, keeps what it had accepted and catches up.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { encodeTransaction, transactionSigningMessage } from "../src/core/mod.ts";
import { fromHex, keyIdOf } from "../src/keys/mod.ts";
import { type RunningTestnet, startTestnet } from "../scripts/testnet.ts";
import { runCliOnce } from "./_node.ts";

const account = ml_dsa87.keygen(new Uint8Array(32).fill(42));
const ACCOUNT_ID = fromHex(keyIdOf(account.publicKey));

function dataTx(chainId: Uint8Array, nonce: bigint, payload: string): Uint8Array {
  const u = {
    kind: "data" as const,
    chainId,
    account: ACCOUNT_ID,
    nonce,
    timestampMs: 0n,
    maxFee: 0n,
    data: new TextEncoder().encode(payload),
  };
  return encodeTransaction({ ...u, signature: ml_dsa87.sign(transactionSigningMessage(u), account.secretKey) });
}

/** The account's create_account (nonce 0): without the exchange too, its key must be on the chain first. */
function createTx(chainId: Uint8Array): Uint8Array {
  const u = {
    kind: "create_account" as const,
    chainId,
    account: ACCOUNT_ID,
    nonce: 0n,
    timestampMs: 0n,
    maxFee: 0n,
    name: "tester",
    publicKey: account.publicKey,
  };
  return encodeTransaction({ ...u, signature: ml_dsa87.sign(transactionSigningMessage(u), account.secretKey) });
}

/** Submits the account's creation to node 0 and waits until every node accepted it. */
async function createAccount(nodes: readonly { http: string }[], chainId: Uint8Array): Promise<void> {
  const id = await submit(nodes[0].http, createTx(chainId));
  const ok = await until(
    async () => (await Promise.all(nodes.map((n) => state(n.http, id)))).every((s) => s === "accepted"),
    60_000,
  );
  assert.ok(ok, "the account's create_account was not accepted everywhere");
}

/** The testnet's x-api-key (its nodes require it for writes). */
let apiKey = "";

async function submit(http: string, tx: Uint8Array): Promise<string> {
  const res = await fetch(`${http}/api/v1/transactions`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
    body: tx.slice().buffer,
  });
  const body = await res.json();
  assert.ok(res.status === 202 || res.status === 200, JSON.stringify(body));
  return body.id;
}

async function state(http: string, id: string): Promise<string> {
  const res = await fetch(`${http}/api/v1/transactions/${id}`);
  const body = await res.json();
  return res.status === 404 ? "unknown" : body.state;
}

async function status(http: string) {
  return await (await fetch(`${http}/api/v1/status`)).json();
}

/** Polls until `done` holds or the time runs out; returns whether it held. */
async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return await done();
}

Deno.test({
  name: "testnet: 4 real nodes accept the same transactions, resolve a double spend the same way and survive kill -9",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-testnet-" });
    const net: RunningTestnet = await startTestnet({ nodes: 4, dir, basePort: 0, exchange: false });
    apiKey = Deno.readTextFileSync(net.description.apiKeyFile).trim();
    const nodes = net.description.nodes;
    const chainId = fromHex(net.description.chainId);
    try {
      await t.step("every node sees the other three", async () => {
        assert.ok(
          await until(
            async () => (await Promise.all(nodes.map((n) => status(n.http)))).every((s) => s.peers.length === 3),
            15_000,
          ),
          "peers did not connect",
        );
      });

      await t.step("the account is created (its key on the chain)", async () => await createAccount(nodes, chainId));

      await t.step("a transaction forged for the account is refused: bad_signature", async () => {
        const forger = ml_dsa87.keygen(new Uint8Array(32).fill(43));
        const u = {
          kind: "data" as const,
          chainId,
          account: ACCOUNT_ID,
          nonce: 1n,
          timestampMs: 0n,
          maxFee: 0n,
          data: new TextEncoder().encode("forged"),
        };
        const forged = encodeTransaction({
          ...u,
          signature: ml_dsa87.sign(transactionSigningMessage(u), forger.secretKey),
        });
        const res = await fetch(`${nodes[1].http}/api/v1/transactions`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
          body: forged.slice().buffer,
        });
        const body = await res.json();
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.equal(body.error.code, "bad_signature");
      });

      const virtuous: string[] = [];
      await t.step("virtuous transactions sent to different nodes are accepted by all", async () => {
        for (let i = 0; i < 8; i++) {
          virtuous.push(await submit(nodes[i % 4].http, dataTx(chainId, BigInt(i + 1), `v${i}`)));
        }
        const ok = await until(
          async () =>
            (await Promise.all(nodes.flatMap((n) => virtuous.map((id) => state(n.http, id))))).every((s) =>
              s === "accepted"
            ),
          60_000,
        );
        assert.ok(ok, "not every node accepted every virtuous transaction");
      });

      await t.step("a double spend sent at once to two nodes: at most one accepted, the same everywhere", async () => {
        const a = dataTx(chainId, 100n, "spend to A");
        const b = dataTx(chainId, 100n, "spend to B");
        const [idA, idB] = await Promise.all([submit(nodes[0].http, a), submit(nodes[2].http, b)]);
        // Decided, or (a contest Avalanche need not finish) still undecided, but never split.
        await until(async () => {
          const s = await Promise.all(nodes.flatMap((n) => [state(n.http, idA), state(n.http, idB)]));
          return s.every((x) => x === "accepted" || x === "rejected");
        }, 30_000);
        const views = await Promise.all(nodes.map(async (n) => [await state(n.http, idA), await state(n.http, idB)]));
        for (const [sa, sb] of views) assert.ok(!(sa === "accepted" && sb === "accepted"), `both accepted: ${views}`);
        const accepted = views.map(([sa, sb]) => (sa === "accepted" ? "A" : sb === "accepted" ? "B" : "-"));
        const decided = accepted.filter((x) => x !== "-");
        assert.ok(decided.every((x) => x === decided[0]), `nodes disagree: ${accepted}`);
      });

      await t.step("every node reports the same accepted set", async () => {
        const ok = await until(async () => {
          const hashes = (await Promise.all(nodes.map((n) => status(n.http)))).map((s) => s.consensus.acceptedTxHash);
          return hashes.every((h) => h === hashes[0]);
        }, 30_000);
        assert.ok(ok, "accepted-set hashes differ between nodes");
      });

      await t.step(
        "kill -9 of a node under load, then a restart: it keeps what it accepted and catches up",
        async () => {
          const before = await status(nodes[3].http);
          const load = (async () => {
            const ids: string[] = [];
            for (let i = 0; i < 6; i++) {
              ids.push(await submit(nodes[i % 3].http, dataTx(chainId, BigInt(200 + i), `load${i}`)));
              await new Promise((r) => setTimeout(r, 50));
            }
            return ids;
          })();
          await new Promise((r) => setTimeout(r, 100));
          const killed = await net.stopNode(3, "SIGKILL");
          assert.equal(killed.signal, "SIGKILL");
          const loadIds = await load;
          await net.restartNode(3);
          const after = await status(nodes[3].http);
          assert.ok(
            after.consensus.decisions.accepted >= before.consensus.decisions.accepted,
            "lost accepted decisions",
          );
          for (const id of virtuous) assert.equal(await state(nodes[3].http, id), "accepted");
          const caught = await until(
            async () =>
              (await Promise.all(loadIds.map((id) => state(nodes[3].http, id)))).every((s) => s === "accepted"),
            60_000,
          );
          assert.ok(caught, `the restarted node did not catch up:\n${net.log(3).slice(-3000)}`);
        },
      );

      await t.step("qudag peer list / ban / unban / add / remove against a running node", async () => {
        const cli = (a: string[], key = apiKey) =>
          runCliOnce(dir, [...a, "--node", nodes[0].http], { QUDAG_API_KEY: key });
        const refused = await cli(["peer", "ban", nodes[3].id], "wrong-key");
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /\[unauthorized\]/);
        const listed = await cli(["peer", "list", "--json"]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(JSON.parse(listed.stdout).peers.length, 3);
        const ban = await cli(["peer", "ban", nodes[3].id]);
        assert.equal(ban.code, 0, ban.stderr);
        const after = JSON.parse((await cli(["peer", "list", "--json"])).stdout);
        assert.deepEqual(after.banned, [nodes[3].id]);
        assert.ok(!after.peers.some((p: { id: string }) => p.id === nodes[3].id), "a banned peer is still connected");
        assert.equal((await cli(["peer", "ban", nodes[3].id, "--unban"])).code, 0);
        assert.equal((await cli(["peer", "ban", "ab".repeat(32)])).code, 1);
        assert.equal((await cli(["peer", "add", "127.0.0.1:9"])).code, 0);
        assert.equal((await cli(["peer", "remove", "127.0.0.1:9"])).code, 0);
        const missing = await cli(["peer", "remove", "127.0.0.1:9"]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /\[not_found\]/);
      });
    } finally {
      await net.stop();
    }
  },
});

Deno.test({
  name: "testnet: a 2|2 split accepts nothing conflicting and converges after healing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-split-" });
    const net = await startTestnet({ nodes: 4, dir, basePort: 0, relayed: true, exchange: false });
    apiKey = Deno.readTextFileSync(net.description.apiKeyFile).trim();
    const nodes = net.description.nodes;
    const chainId = fromHex(net.description.chainId);
    const peersOf = async () => (await Promise.all(nodes.map((n) => status(n.http)))).map((s) => s.peers.length);
    try {
      assert.ok(await until(async () => (await peersOf()).every((p) => p === 3), 15_000), "no full mesh");
      await createAccount(nodes, chainId);
      net.partition([[0, 1], [2, 3]]);
      assert.ok(
        await until(async () => (await peersOf()).every((p) => p === 1), 15_000),
        `split not seen: ${await peersOf()}`,
      );

      const left = await submit(nodes[0].http, dataTx(chainId, 500n, "left side spends"));
      const right = await submit(nodes[2].http, dataTx(chainId, 500n, "right side spends"));
      const virtuous = [
        await submit(nodes[1].http, dataTx(chainId, 501n, "left virtuous")),
        await submit(nodes[3].http, dataTx(chainId, 502n, "right virtuous")),
      ];
      // Two of four validators can never reach alpha = 3: nothing may be accepted while split.
      await new Promise((r) => setTimeout(r, 3_000));
      for (const n of nodes) {
        for (const id of [left, right, ...virtuous]) {
          assert.notEqual(await state(n.http, id), "accepted", `${n.name} accepted during the split`);
        }
      }

      net.heal();
      assert.ok(
        await until(async () => (await peersOf()).every((p) => p === 3), 60_000),
        `no mesh after healing: ${await peersOf()}`,
      );
      const converged = await until(async () => {
        const s = await Promise.all(nodes.flatMap((n) => virtuous.map((id) => state(n.http, id))));
        return s.every((x) => x === "accepted");
      }, 60_000);
      assert.ok(converged, "virtuous transactions not accepted everywhere after healing");
      await until(async () => {
        const s = await Promise.all(nodes.flatMap((n) => [state(n.http, left), state(n.http, right)]));
        return s.every((x) => x === "accepted" || x === "rejected");
      }, 20_000);
      const views = await Promise.all(nodes.map(async (n) => [await state(n.http, left), await state(n.http, right)]));
      for (const [a, b] of views) assert.ok(!(a === "accepted" && b === "accepted"), `both sides accepted: ${views}`);
      const winners = views.map(([a, b]) => (a === "accepted" ? "L" : b === "accepted" ? "R" : "-")).filter((x) =>
        x !== "-"
      );
      assert.ok(winners.every((w) => w === winners[0]), `nodes disagree after healing: ${views}`);
      const ok = await until(async () => {
        const hashes = (await Promise.all(nodes.map((n) => status(n.http)))).map((s) => s.consensus.acceptedTxHash);
        return hashes.every((h) => h === hashes[0]);
      }, 20_000);
      assert.ok(ok, "accepted sets differ after healing");
    } finally {
      await net.stop();
    }
  },
});
