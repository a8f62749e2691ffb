/**
 * How fast an edge replica catches up and serves reads, beside a node's own
 * read path. A 4-node testnet (cuts every second) takes `--transfers`
 * transfers between `--senders` accounts; once a certified checkpoint covers
 * them all, a replica starts from the genesis with an empty KV (its entry
 * point, as `deno task edge` runs it) and catch-up is timed from its "ready"
 * log line to the moment it serves the nodes' newest certified checkpoint:
 * vertices verified per second (id, structure, ML-DSA-87 signature, replay
 * with the WASM core, certificates; the status is polled every 100 ms). Then the same read (an account's
 * balance) is sent for `--seconds` by `--concurrency` clients to the replica
 * and to a node's public port: requests per second and p50/p99 latency.
 *
 *   deno task bench:edge [-- --transfers 400 --senders 20 --seconds 5 --concurrency 16 --json]
 */
import { parseArgs } from "node:util";
import { fromHex } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { keyFromSeed, signTransaction } from "../tests/_tx.ts";
import { startEdge } from "../tests/_edge.ts";
import { BENCH_NODE_ENV } from "./_node_path.ts";
import { percentile, pool, sleep } from "./_exchange.ts";

const { values: args } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: {
    transfers: { type: "string", default: "400" },
    senders: { type: "string", default: "20" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    json: { type: "boolean", default: false },
  },
});
const TRANSFERS = Math.min(Number(args.transfers), 20_000);
const SENDERS = Math.min(Number(args.senders), 200);
const SECONDS = Math.min(Number(args.seconds), 60);
const CONCURRENCY = Math.min(Number(args.concurrency), 64);
const WAIT_MS = 300_000;
const log = (text: string) => !args.json && console.error(text);

async function json(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: await res.json() };
}

async function waitFor(what: string, done: () => Promise<boolean>) {
  const deadline = Date.now() + WAIT_MS;
  while (!await done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s`);
    await sleep(100);
  }
}

/** Closed loop: `CONCURRENCY` clients GET `url` for `SECONDS`; rate of 200s and latency. */
async function reads(url: string) {
  const latencies: number[] = [];
  let failures = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (res.status === 200) latencies.push(performance.now() - t0);
      else failures++;
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    requests_per_s: Math.round(latencies.length / SECONDS),
    p50_ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    p99_ms: Math.round(percentile(latencies, 0.99) * 100) / 100,
    failures,
  };
}

const dir = Deno.makeTempDirSync({ prefix: "qudag-bench-edge-" });
log("starting 4 nodes…");
const net = await startTestnet({
  nodes: 4,
  dir,
  basePort: 0,
  quiet: true,
  settlement: { intervalMs: 1_000 },
  env: { ...BENCH_NODE_ENV, QUDAG_SETTLEMENT_LAG_MS: "500" },
});
let edge: Awaited<ReturnType<typeof startEdge>> | null = null;
try {
  const d = net.description;
  const chainId = fromHex(d.chainId);
  const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
  const master = keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
  const users = Array.from({ length: SENDERS }, (_, i) => keyFromSeed(new Uint8Array(32).fill(i + 1)));
  const submit = async (node: number, tx: Uint8Array) => {
    const res = await fetch(`${d.nodes[node].exchange}/api/v1/exchange/transactions`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
      body: tx.slice().buffer,
      signal: AbortSignal.timeout(30_000),
    });
    const body = await res.json();
    if (res.status !== 202 && res.status !== 200) throw new Error(`submit: ${res.status} ${JSON.stringify(body)}`);
    return body.id as string;
  };
  const appliedEverywhere = (ids: string[]) =>
    waitFor("every node applied every transaction", async () => {
      for (let i = 0; i < 4; i++) {
        const last = await json(`${d.nodes[i].exchange}/api/v1/exchange/transactions/${ids.at(-1)}`);
        if (last.body.receipt == null) return false;
      }
      for (const id of ids) {
        if ((await json(`${d.nodes[0].exchange}/api/v1/exchange/transactions/${id}`)).body.receipt == null) {
          return false;
        }
      }
      return true;
    });

  log(`creating and funding ${SENDERS} accounts…`);
  const setup: string[] = [];
  for (const [k, u] of users.entries()) {
    setup.push(
      await submit(
        k % 4,
        signTransaction(chainId, u, 0n, { kind: "create_account", name: `b${k}`, publicKey: u.publicKey }),
      ),
    );
  }
  await appliedEverywhere(setup);
  const mints: string[] = [];
  for (const [k, u] of users.entries()) {
    mints.push(
      await submit(0, signTransaction(chainId, master, BigInt(k), { kind: "mint", to: u.id, amount: 10n ** 12n })),
    );
  }
  await appliedEverywhere(mints);

  log(`sending ${TRANSFERS} transfers…`);
  const perSender = Math.ceil(TRANSFERS / SENDERS);
  const ids: string[] = [];
  await pool(users.map((u, k) => ({ u, k })), SENDERS, async ({ u, k }) => {
    for (let n = 1; n <= perSender && ids.length < TRANSFERS; n++) {
      const to = users[(k + 1) % SENDERS].id;
      ids.push(
        await submit(
          k % 4,
          signTransaction(chainId, u, BigInt(n), { kind: "transfer", to, amount: 1_000n, memo: new Uint8Array() }),
        ),
      );
    }
  });
  await appliedEverywhere(ids);
  const nodeHash = (await json(`${d.nodes[0].http}/api/v1/status`)).body.exchange.ledger.stateHash;
  await waitFor(
    "a certified checkpoint covers every transfer",
    async () => (await json(`${d.nodes[0].http}/api/v1/checkpoints/latest`)).body.statement?.stateHash === nodeHash,
  );
  const head = Number((await json(`${d.nodes[0].http}/api/v1/checkpoints/latest`)).body.statement.seq);
  let vertices = 0;
  for (let after = "0.0", done = false; !done;) {
    const page = (await json(`${d.nodes[0].http}/api/v1/feed?after=${after}&limit=500`)).body;
    vertices += page.events.filter((e: { type: string }) => e.type === "vertex").length;
    after = page.nextCursor;
    done = page.caughtUp || Number(after.split(".")[0]) > head;
  }

  log(`replica catching up on ${vertices} vertices, ${head} checkpoints…`);
  edge = await startEdge({
    QUDAG_EDGE_UPSTREAMS: d.nodes.map((n) => n.http).join(","),
    QUDAG_EDGE_GENESIS_FILE: d.genesis,
    QUDAG_EDGE_KV: `${dir}/edge.kv`,
    QUDAG_EDGE_POLL_MS: "50",
    QUDAG_EDGE_STEP_EVENTS: "5000",
  });
  const e = edge;
  await waitFor(
    "the replica serves the nodes' newest checkpoint",
    async () => ((await json(`${e.url}/api/v1/status`)).body.checkpoint?.seq ?? 0) >= head,
  );
  const caughtUpAt = Date.now();
  const ready = JSON.parse(e.log().split("\n").find((l) => l.includes("edge replica ready"))!);
  const status = (await json(`${e.url}/api/v1/status`)).body;
  const catchUpS = (caughtUpAt - Date.parse(ready.time)) / 1000;
  if (status.checkpoint.stateHash !== nodeHash) throw new Error("the replica's state hash is not the nodes'");

  const account = users[0].id.toHex();
  log(`reads for ${SECONDS} s at concurrency ${CONCURRENCY}…`);
  const edgeReads = await reads(`${e.url}/api/v1/exchange/accounts/${account}/balance`);
  const nodeReads = await reads(`${d.nodes[0].http}/exchange/accounts/${account}/balance`);
  const result = {
    conditions: {
      nodes: 4,
      transfers: ids.length,
      senders: SENDERS,
      crypto: ready.crypto,
      machine: `${navigator.hardwareConcurrency} cores, shared with the 4 nodes`,
    },
    catch_up: {
      vertices,
      checkpoints: head,
      transactions: setup.length + mints.length + ids.length,
      seconds: Math.round(catchUpS * 100) / 100,
      vertices_per_s: Math.round(vertices / catchUpS),
      transactions_per_s: Math.round((setup.length + mints.length + ids.length) / catchUpS),
      same_state_hash: true,
    },
    reads: { edge: edgeReads, node: nodeReads, concurrency: CONCURRENCY, seconds: SECONDS },
  };
  if (args.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `catch-up: ${vertices} vertices, ${head} checkpoints, ${result.catch_up.transactions} transactions in ${result.catch_up.seconds} s = ${result.catch_up.vertices_per_s} vertices/s, ${result.catch_up.transactions_per_s} transactions/s (${ready.crypto})`,
    );
    console.log(`reads (balance, ${CONCURRENCY} clients, ${SECONDS} s):`);
    console.log(`  edge: ${edgeReads.requests_per_s} req/s, p50 ${edgeReads.p50_ms} ms, p99 ${edgeReads.p99_ms} ms`);
    console.log(`  node: ${nodeReads.requests_per_s} req/s, p50 ${nodeReads.p50_ms} ms, p99 ${nodeReads.p99_ms} ms`);
  }
} finally {
  await edge?.stop();
  await net.stop();
  Deno.removeSync(dir, { recursive: true });
}
