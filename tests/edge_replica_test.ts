// deno-lint-ignore-file no-explicit-any -- the tampering upstreams edit nodes' JSON answers of many shapes
/**
 * The edge replica against a local 4-node testnet (multi-process): its entry
 * point runs as Deno Deploy runs it (`deno serve --allow-all edge/main.ts`:
 * WebCrypto and the WASM core, no FFI), follows the nodes' feeds and serves
 * the same balances and state hash as the nodes, from certified checkpoints
 * only. Each kind of lie from an upstream is refused with its code and the
 * liar is named in the log, while the replica keeps serving its last verified
 * state; a cold start resumes from Deno KV; the stream resumes after
 * Last-Event-ID on another node without a gap or a duplicate.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { blake3, decodeVertex, encodeVertex, Ledger, type TransactionPayload, vertexId } from "../src/core/mod.ts";
import { certificateFromJson, certificateToJson, encodeStatement, verifyCertificate } from "../src/checkpoint/mod.ts";
import { fromHex } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { type Key, keyFromSeed, signTransaction } from "./_tx.ts";
import { type EdgeProcess, startEdge, tamperingUpstream, type Upstream } from "./_edge.ts";

const RUV = 1_000_000n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIT_MS = 90_000;

/** Polls `done` until it is true; it may answer why not yet (a string), which a timeout then reports. */
async function waitFor(what: string, done: () => Promise<boolean | string>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const verdict = await done();
    if (verdict === true) return;
    const why = typeof verdict === "string" ? ` (last seen: ${verdict})` : "";
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s${why}`);
    if (Deno.env.get("QUDAG_TEST_DEBUG")) console.error(`waiting: ${what}${why}`);
    await sleep(250);
  }
}

Deno.test({
  name:
    "edge replica: verifies the nodes' feed from the genesis, serves their state, refuses every lie, resumes from KV",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-edge-" });
    const net = await startTestnet({
      nodes: 4,
      dir,
      basePort: 0,
      quiet: true,
      settlement: { intervalMs: 1_000 },
      env: { QUDAG_SETTLEMENT_LAG_MS: "500" },
    });
    const d = net.description;
    const chainId = fromHex(d.chainId);
    const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
    const master = keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
    const users = [61, 62, 63].map((n) => keyFromSeed(new Uint8Array(32).fill(n)));
    const nonces = new Map<Key, bigint>();
    const ids: string[] = [];
    const edges: EdgeProcess[] = [];
    const upstreams: Upstream[] = [];
    const kv = `${dir}/edge.kv`;
    let servedSeq = 0;
    const edgeEnv = (urls: string[]) => ({
      QUDAG_EDGE_UPSTREAMS: urls.join(","),
      QUDAG_EDGE_GENESIS_FILE: d.genesis,
      QUDAG_EDGE_CHAIN_ID: d.chainId,
      QUDAG_EDGE_KV: kv,
      QUDAG_EDGE_POLL_MS: "200",
      QUDAG_EDGE_RETRY_MS: "600000",
    });
    const submit = async (i: number, key: Key, payload: TransactionPayload) => {
      const nonce = nonces.get(key) ?? 0n;
      nonces.set(key, nonce + 1n);
      const signed = signTransaction(chainId, key, nonce, payload);
      // A refusal that says "later" (429, 503 with Retry-After) is asked again, as a client would, within WAIT_MS.
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const res = await fetch(`${d.nodes[i].exchange}/api/v1/exchange/transactions`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
          body: signed.slice().buffer,
          signal: AbortSignal.timeout(30_000),
        });
        const body = await res.json();
        const later = (res.status === 429 || res.status === 503) && res.headers.has("retry-after");
        if (later && Date.now() < deadline) {
          await sleep(Math.max(250, Number(res.headers.get("retry-after")) * 1000));
          continue;
        }
        assert.ok(res.status === 202 || res.status === 200, `node ${i}: ${res.status} ${JSON.stringify(body)}`);
        ids.push(body.id);
        return;
      }
    };
    // The harness reads with the API key, so its polling never shares a per-client budget with the replicas'.
    const nodeRead = (i: number, path: string) =>
      fetch(`${d.nodes[i].exchange}${path}`, { headers: { "x-api-key": apiKey }, signal: AbortSignal.timeout(15_000) });
    const nodeJson = async (i: number, path: string) => (await nodeRead(i, path)).json();
    /** Waits until every node applied every submitted transaction. */
    const applied = () =>
      waitFor("every node applied every transaction", async () => {
        for (let i = 0; i < 4; i++) {
          for (const id of ids) {
            const res = await nodeRead(i, `/api/v1/exchange/transactions/${id}`);
            const body = await res.json();
            if (body.receipt == null) return `node ${i}, transaction ${id}: ${res.status} ${JSON.stringify(body)}`;
          }
        }
        return true;
      });
    const traffic = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        for (const [k, u] of users.entries()) {
          await submit((r + k) % 4, u, {
            kind: "transfer",
            to: users[(k + 1) % 3].id,
            amount: BigInt(k + 1) * RUV,
            memo: new Uint8Array(),
          });
        }
        await sleep(200);
      }
    };
    /** The replica answers every transaction from a verified checkpoint, with the nodes' state hash and balances. */
    const sameAsNodes = async (edge: EdgeProcess) => {
      /** What the replica says of itself, for a timeout's message. */
      const edgeState = async () => {
        const st = (await edge.json("/api/v1/status")).body;
        return `replica checkpoint ${JSON.stringify(st.checkpoint)}, upstreams ${JSON.stringify(st.upstreams)}`;
      };
      await waitFor("the replica verified a checkpoint covering every transaction", async () => {
        for (const id of ids) {
          const read = await edge.json(`/api/v1/exchange/transactions/${id}`);
          if (read.status !== 200) return `transaction ${id}: ${read.status}; ${await edgeState()}`;
        }
        return true;
      });
      const nodeHash = (await (await fetch(`${d.nodes[0].http}/api/v1/status`, {
        headers: { "x-api-key": apiKey },
      })).json()).exchange.ledger.stateHash;
      await waitFor(
        "the replica's checkpoint state is the nodes' current state",
        async () =>
          (await edge.json("/api/v1/status")).body.checkpoint?.stateHash === nodeHash ||
          `node state hash ${nodeHash}; ${await edgeState()}`,
      );
      for (const u of users) {
        const id = u.id.toHex();
        const e = await edge.json(`/api/v1/exchange/accounts/${id}/balance`);
        assert.equal(e.status, 200);
        for (let i = 0; i < 4; i++) {
          assert.equal(
            e.body.balanceUnits,
            (await nodeJson(i, `/api/v1/exchange/accounts/${id}/balance`)).balanceUnits,
          );
        }
        assert.equal(e.body.checkpoint.stateHash, nodeHash);
      }
    };

    try {
      await t.step("traffic on the testnet: accounts, mints, transfers; checkpoints certified", async () => {
        for (const [k, u] of users.entries()) {
          await submit(k % 4, u, { kind: "create_account", name: `edge-user${k}`, publicKey: u.publicKey });
        }
        await applied();
        for (const u of users) await submit(0, master, { kind: "mint", to: u.id, amount: 100n * RUV });
        await applied();
        await traffic(3);
        await applied();
      });

      await t.step(
        "a late replica catches up from the genesis, serves the nodes' balances and proves them",
        async () => {
          const edge = await startEdge(edgeEnv([d.nodes[0].http, d.nodes[1].http]));
          edges.push(edge);
          await sameAsNodes(edge);
          await traffic(2);
          await applied();
          await sameAsNodes(edge);
          servedSeq = (await edge.json("/api/v1/status")).body.checkpoint.seq;
          // Reads name their checkpoint, carry an ETag keyed on it, and are open to browsers.
          const path = `/api/v1/exchange/accounts/${users[0].id.toHex()}`;
          const read = await edge.json(path, { origin: "https://app.example" });
          assert.equal(read.headers.get("access-control-allow-origin"), "*");
          assert.equal(read.headers.get("etag"), `W/"${read.body.checkpoint.digest}"`);
          assert.equal(
            read.headers.get("x-qudag-checkpoint"),
            `${read.body.checkpoint.seq} ${read.body.checkpoint.digest}`,
          );
          const again = await edge.json(path, { "if-none-match": read.headers.get("etag")! });
          assert.equal(again.status, 304);
          // The proof: a certificate that checks against the genesis, and the state whose hash it certifies.
          const proof = (await edge.json("/api/v1/proof")).body;
          assert.equal(proof.genesis.chainId, d.chainId);
          const cert = certificateFromJson(proof.certificate);
          const validators = proof.genesis.validators.map((v: { id: string; publicKey: string }) => ({
            id: v.id,
            publicKey: Uint8Array.fromBase64(v.publicKey),
          }));
          const verdict = await verifyCertificate(
            cert,
            { chainId, validators },
            (pk, m, sig) => ml_dsa87.verify(sig, m, pk),
          );
          assert.ok(verdict.ok, JSON.stringify(verdict));
          const state = new Uint8Array(await (await fetch(`${edge.url}/api/v1/proof/state`)).arrayBuffer());
          const ledger = Ledger.import(state);
          assert.equal(ledger.stateHash().toHex(), cert.statement.stateHash.toHex());
          assert.equal(ledger.balance(users[0].id).toString(), read.body.balanceUnits);
          ledger.free();
          await edge.stop();
          edges.pop();
        },
      );

      await t.step("every kind of lie is refused with its code, and the log names the upstream that lied", async () => {
        const honest = d.nodes[2].http;
        const signers = [1, 2, 3].map((n) =>
          ml_dsa87.keygen(fromHex(Deno.readTextFileSync(`${d.keysDir}/node${n}.seed`).trim()))
        );
        let forged = false;
        const liars: Record<string, (path: string, body: any) => any> = {
          edge_genesis_mismatch: (path, body) =>
            path === "/api/v1/status" ? { ...body, chain: { ...body.chain, id: "ab".repeat(32) } } : body,
          edge_vertex_bad_signature: (path, body) => {
            if (path !== "/api/v1/feed") return body;
            const e = body.events.find((x: any) => x.type === "vertex");
            if (e === undefined) return body;
            const v = decodeVertex(Uint8Array.fromBase64(e.vertex));
            v.signature[100] ^= 1;
            const bytes = encodeVertex(v);
            e.vertex = bytes.toBase64();
            e.id = vertexId(bytes).toHex();
            e.decisions[0].id = e.id;
            return body;
          },
          checkpoint_under_signed: (_path, body) => {
            for (const e of body.events ?? []) {
              if (e.type === "checkpoint") e.certificate.signatures = e.certificate.signatures.slice(0, 2);
            }
            return body;
          },
          checkpoint_bad_signature: (_path, body) => {
            for (const e of body.events ?? []) {
              if (e.type !== "checkpoint") continue;
              const sig = Uint8Array.fromBase64(e.certificate.signatures[0].signature);
              sig[7] ^= 1;
              e.certificate.signatures[0].signature = sig.toBase64();
            }
            return body;
          },
          // A wrong balance: a checkpoint three validators signed, stating a state the feed does not give. Only a
          // page's first checkpoint is forged (the replica stops there): signing is slow in JavaScript and would hold
          // this process's event loop, which serves the other upstreams too.
          edge_state_mismatch: (_path, body) => {
            for (const e of body.events ?? []) {
              if (e.type !== "checkpoint") continue;
              const c = certificateFromJson(e.certificate);
              const statement = { ...c.statement, stateHash: new Uint8Array(32).fill(0x5a) };
              const message = encodeStatement(statement);
              const signatures = signers.map((k) => ({
                validator: blake3(k.publicKey).toHex(),
                signature: ml_dsa87.sign(message, k.secretKey),
              })).sort((a, b) => a.validator < b.validator ? -1 : 1);
              e.certificate = certificateToJson({ statement, signatures });
              forged = true;
              break;
            }
            return body;
          },
        };
        // An upstream that cannot be reached: a port held for the whole test (a closed one could be taken by
        // another test running in parallel) whose every connection is closed before a byte is read.
        const down = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        (async () => {
          for await (const conn of down) conn.close();
        })().catch(() => {});
        const downUrl = `http://127.0.0.1:${down.addr.port}`;
        upstreams.push({ url: downUrl, stop: () => Promise.resolve(down.close()) });
        const cases: [string, string][] = [["edge_upstream_unreachable", downUrl]];
        for (const [code, tamper] of Object.entries(liars)) {
          const u = tamperingUpstream(honest, tamper);
          upstreams.push(u);
          cases.push([code, u.url]);
        }
        const started = await Promise.all(
          cases.map(([code, url]) => startEdge({ ...edgeEnv([url]), QUDAG_EDGE_KV: `${dir}/edge-${code}.kv` })),
        );
        edges.push(...started);
        for (const [k, [code, url]] of cases.entries()) {
          const edge = started[k];
          await waitFor(`the replica refuses ${url} with ${code}`, async () => {
            const st = (await edge.json("/api/v1/status")).body;
            return st.upstreams[0].lastError?.code === code ||
              `upstream ${JSON.stringify(st.upstreams[0])}, last step ${JSON.stringify(st.lastSync ?? null)}`;
          });
          // The log line is written as the refusal is recorded; this process reads the pipe a moment later.
          await waitFor(`the log names ${url} for ${code}`, () =>
            Promise.resolve(
              edge.log().split("\n").some((l) => l.includes(`"code":"${code}"`) && l.includes(url)),
            ));
          // Nothing it sent is served: before a verified checkpoint there is nothing to read.
          const st = (await edge.json("/api/v1/status")).body;
          assert.equal(st.checkpoint, null, code);
          const read = await edge.json(`/api/v1/exchange/accounts/${users[0].id.toHex()}/balance`);
          assert.equal(read.status, 503);
          assert.equal(read.body.error.code, "edge_not_ready");
        }
        assert.ok(forged);
        for (const e of started) await e.stop();
        edges.length = 0;
      });

      await t.step(
        "a cold start resumes from KV and serves its last verified state, with its age, while an upstream lies",
        async () => {
          const liar = tamperingUpstream(d.nodes[3].http, (_path, body) => {
            for (const e of body.events ?? []) {
              if (e.type === "checkpoint") e.certificate.signatures = e.certificate.signatures.slice(0, 1);
            }
            return body;
          });
          upstreams.push(liar);
          const edge = await startEdge(edgeEnv([liar.url]));
          edges.push(edge);
          await waitFor(
            "the log says it resumed from KV",
            () => Promise.resolve(edge.log().includes("resumed from KV")),
          );
          assert.equal((await edge.json("/api/v1/status")).body.checkpoint.seq, servedSeq);
          await traffic(1);
          await applied();
          await waitFor(
            "the liar is refused",
            async () =>
              (await edge.json("/api/v1/status")).body.upstreams[0].lastError?.code === "checkpoint_under_signed",
          );
          await sleep(1_100);
          const balance = await edge.json(`/api/v1/exchange/accounts/${users[0].id.toHex()}/balance`);
          assert.equal(balance.status, 200);
          assert.equal(balance.body.checkpoint.seq, servedSeq);
          assert.ok(balance.body.checkpoint.ageS >= 1);
          assert.ok(Number(balance.headers.get("x-qudag-checkpoint-age-s")) >= 1);
          await edge.stop();
          edges.pop();

          // Started again (after a kill -9) with honest nodes, it continues from its KV cursor and catches up.
          const resumed = await startEdge(edgeEnv([d.nodes[0].http, d.nodes[3].http]));
          edges.push(resumed);
          await waitFor(
            "the log says it resumed from KV",
            () => Promise.resolve(resumed.log().includes("resumed from KV")),
          );
          const line = resumed.log().split("\n").find((l) => l.includes("resumed from KV"));
          assert.ok(line !== undefined && JSON.parse(line).seq === servedSeq, String(line));
          await sameAsNodes(resumed);
        },
      );

      await t.step("the stream resumes after Last-Event-ID on another node without a gap or a duplicate", async () => {
        const read = async (url: string, headers: Record<string, string>, count: number) => {
          const res = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
          assert.equal(res.status, 200);
          const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
          const events: { id: string; data: string }[] = [];
          let buf = "";
          while (events.length < count) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += value;
            let end;
            while ((end = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, end).split("\n");
              buf = buf.slice(end + 2);
              const id = block.find((l) => l.startsWith("id: "))?.slice(4);
              const data = block.find((l) => l.startsWith("data: "))?.slice(6);
              if (id !== undefined && data !== undefined) events.push({ id, data });
            }
          }
          await reader.cancel();
          return events;
        };
        const all = await read(`${d.nodes[0].http}/api/v1/stream?after=0.0`, {}, 8);
        assert.equal(all.length, 8);
        const resumed = await read(`${d.nodes[1].http}/api/v1/stream`, { "last-event-id": all[3].id }, 4);
        assert.deepEqual(resumed.map((e) => e.id), all.slice(4).map((e) => e.id));
        // The same events: vertices byte for byte; a checkpoint's statement (its digest), while the signatures are
        // whichever quorum each node collected.
        const same = (data: string) => {
          const e = JSON.parse(data);
          return e.type === "checkpoint" ? { ...e, certificate: e.certificate.digest } : e;
        };
        assert.deepEqual(resumed.map((e) => same(e.data)), all.slice(4).map((e) => same(e.data)));
      });
    } catch (error) {
      for (const e of edges) console.error(e.log().slice(-6000));
      for (let i = 0; i < 4; i++) console.error(`node ${i}:`, net.log(i).slice(-3000));
      throw error;
    } finally {
      for (const e of edges) await e.stop();
      for (const u of upstreams) await u.stop();
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
