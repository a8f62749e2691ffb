/**
 * `deno task bench:ledger [-- --json] [--quick] [--node-transfers N] [--node-senders N] [--core-only]`
 * `deno task bench:ledger -- --rate R --seconds S` / `-- --sweep [R1,R2,…] [--seconds S] [--cpu-prof DIR]`
 * `[--batch-ms M]` (open loop: each node's submissions gathered for M ms into one `POST /transactions/batch`):
 * how fast the WASM core's ledger transition runs on this machine, and how
 * fast transfers get through the whole node path: closed loop
 * (bench/_node_path.ts: N transfers, as fast as they go), or open loop
 * (bench/_open_loop.ts: a fixed offered rate for a fixed time, each rate of a
 * sweep in turn, with accepted transfers/s and p50/p99 per rate, the table
 * printed and drawn as bench/out/ledger_sweep.svg).
 *
 * Core only (`Ledger` in this process):
 * - transfers/s: `Ledger.apply()` of pre-signed transfers (decode + BLAKE3 id
 *   of the 4.8 KB signed bytes + causal view + fee math + commit), signature
 *   verdict given as true: ML-DSA-87 verification is the crypto backends' cost,
 *   measured by bench/crypto_bench.ts, and dominates a real node.
 * - the same with 16 concurrent vertices named per apply (a wide DAG frontier);
 * - stateHash() and export() at ACCOUNTS accounts.
 *
 * Each figure is the median of ROUNDS rounds. Transfers are pre-encoded, so
 * only the ledger is timed.
 *
 * Whole node path (after the core figures, so the two never share the CPU):
 * a 4-node local testnet, NODE_TRANSFERS pre-signed transfers from
 * NODE_SENDERS accounts submitted to the exchange API, timed from the first
 * submit until every node's ledger applied all of them; ratio to the core.
 * Needs the task's permissions (run, net, read, write, env); under a bare
 * `deno run` without them it is skipped and says so.
 */
import { blake3, defaultFeeParams, encodeTransaction, Ledger, type LedgerGenesis } from "../src/core/mod.ts";
import { NODE_SENDERS_MAX } from "./_exchange.ts";
import { measureNodePath, NODE_TRANSFERS_MAX, type NodePathResult } from "./_node_path.ts";
import { runSweep, type SweepResult, sweepSvg, sweepTable } from "./_open_loop.ts";
import { intFlag, stringFlag } from "./_flags.ts";

const args = new Set(Deno.args);
const JSON_OUTPUT = args.has("--json");
const QUICK = args.has("--quick");
const CORE_ONLY = args.has("--core-only");

/** Timed rounds per figure; the median is reported. */
const ROUNDS = QUICK ? 1 : 5;
/** Accounts in the ledger (senders and recipients of the transfers). */
const ACCOUNTS = QUICK ? 200 : 2_000;
/** Transfers applied per round (64 per vertex). */
const TRANSFERS_PER_ROUND = QUICK ? 2_000 : 10_000;
/** Concurrent vertices named per apply in the wide-frontier figure. */
const CONCURRENT_VERTICES = 16;
/** Node path: transfers submitted and waited for. */
const NODE_TRANSFERS = intFlag("--node-transfers", QUICK ? 400 : 2_000, 1, NODE_TRANSFERS_MAX);
/** Node path: sender accounts (consecutive nonces each); >= NODE_TRANSFERS gives one transfer per sender. */
const NODE_SENDERS = intFlag("--node-senders", 50, 1, NODE_SENDERS_MAX);
/** Node path: validators of the local testnet. */
const NODE_COUNT = 4;
/** Node path: submits in flight at once. */
const NODE_SUBMIT_CONCURRENCY = 16;
/** Node path: transfers whose submit-to-applied time is looked up. */
const NODE_LATENCY_SAMPLES = 64;
/** Node path: from the first submit until every node applied everything. */
const NODE_TIME_MAX_MS = 120_000;

/** Open loop: the rates (`--rate R`, or `--sweep` with an optional comma list) and seconds per rate. */
const SWEEP_DEFAULT = [250, 500, 1_000, 2_000];
const OPEN_RATES: number[] | null = (() => {
  const rate = Deno.args.indexOf("--rate");
  if (rate >= 0) return [intFlag("--rate", 0, 1, 100_000)];
  const sweep = Deno.args.indexOf("--sweep");
  if (sweep < 0) return null;
  const list = Deno.args[sweep + 1];
  if (list === undefined || list.startsWith("--")) return SWEEP_DEFAULT;
  const rates = list.split(",").map(Number);
  if (!rates.every((r) => Number.isInteger(r) && r >= 1 && r <= 100_000)) {
    console.error(`--sweep takes rates like 250,500,1000; got ${JSON.stringify(list)}`);
    Deno.exit(2);
  }
  return rates;
})();
const OPEN_SECONDS = intFlag("--seconds", QUICK ? 5 : 15, 1, 3_600);
/** Open loop: sender accounts (each sends its transfers in nonce order to its node). */
const OPEN_SENDERS = intFlag("--senders", 400, 1, NODE_SENDERS_MAX);
/** Open loop: gather each node's submissions for this many ms into one batch request (absent: one request each). */
const BATCH_MS = Deno.args.includes("--batch-ms") ? intFlag("--batch-ms", 0, 1, 1_000) : 0;
const CPU_PROF_DIR = stringFlag("--cpu-prof");

const CHAIN = new Uint8Array(32).fill(7);
const T0 = 1_750_000_000_000n;
const RUV = 1_000_000n;

function key(n: number): { publicKey: Uint8Array; id: Uint8Array } {
  const publicKey = new Uint8Array(2592);
  new DataView(publicKey.buffer).setUint32(0, n + 1, true);
  return { publicKey, id: blake3(publicKey) };
}

function tx(account: Uint8Array, nonce: bigint, payload: Record<string, unknown>): Uint8Array {
  return encodeTransaction(
    {
      chainId: CHAIN,
      account,
      nonce,
      timestampMs: 0n,
      maxFee: 1n << 40n,
      signature: new Uint8Array(4627),
      ...payload,
    } as Parameters<typeof encodeTransaction>[0],
  );
}

const roles = Array.from({ length: 5 }, (_, i) => key(1_000_000 + i));
const genesis: LedgerGenesis = {
  chainId: CHAIN,
  timeMs: T0,
  fees: defaultFeeParams(),
  supplyCap: 0n,
  accounts: roles.map((k, i) => ({ name: `role${i}`, publicKey: k.publicKey })),
  roles: {
    feeAccount: roles[0].id,
    exchangeMaster: roles[1].id,
    feeAdmin: roles[2].id,
    agentVerifier: roles[3].id,
    governance: roles[4].id,
  },
};

/** A ledger with ACCOUNTS funded accounts, and the next nonce of each. */
function setUp(): { ledger: Ledger; users: { id: Uint8Array }[]; nonces: bigint[] } {
  const ledger = Ledger.genesis(genesis);
  const users = Array.from({ length: ACCOUNTS }, (_, i) => key(i));
  const ctx = { vertex: new Uint8Array(32), timeMs: T0 + 1n };
  users.forEach((u, i) => {
    ledger.apply(tx(u.id, 0n, { kind: "create_account", name: `u${i}`, publicKey: u.publicKey }), ctx, true);
    ledger.apply(tx(roles[1].id, BigInt(i), { kind: "mint", to: u.id, amount: 1_000_000n * RUV }), ctx, true);
  });
  return { ledger, users, nonces: users.map(() => 1n) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function transfersPerSecond(concurrent: number): number {
  const { ledger, users, nonces } = setUp();
  const rates: number[] = [];
  let vertexNo = 0;
  const vertexId = (n: number) => blake3(new TextEncoder().encode(`v${n}`));
  for (let round = 0; round < ROUNDS; round++) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < TRANSFERS_PER_ROUND; i++) {
      const from = (round * 7919 + i) % ACCOUNTS;
      const to = (from + 1 + (i % 97)) % ACCOUNTS;
      batch.push(
        tx(users[from].id, nonces[from]++, { kind: "transfer", to: users[to].id, amount: RUV, memo: new Uint8Array() }),
      );
    }
    // One vertex per 64 transfers; the previous `concurrent` vertices stay unsettled.
    const contexts = [];
    for (let v = 0; v < Math.ceil(batch.length / 64); v++) {
      const n = vertexNo + 1 + v;
      const others = Array.from({ length: concurrent }, (_, c) => vertexId(n - 1 - c));
      contexts.push({ vertex: vertexId(n), timeMs: T0 + 2n + BigInt(n), concurrent: others });
    }
    vertexNo += contexts.length;
    const start = performance.now();
    for (let i = 0; i < batch.length; i++) ledger.apply(batch[i], contexts[i >> 6], true);
    rates.push(batch.length / ((performance.now() - start) / 1000));
    ledger.settle(Array.from({ length: Math.max(0, vertexNo - concurrent) }, (_, i) => vertexId(i)));
  }
  ledger.free();
  return median(rates);
}

function msPerCall(fn: () => unknown): number {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

const results = {
  accounts: ACCOUNTS,
  transfers_per_s: Math.round(transfersPerSecond(0)),
  transfers_per_s_16_concurrent: Math.round(transfersPerSecond(CONCURRENT_VERTICES)),
  ...(() => {
    const { ledger } = setUp();
    const out = {
      state_hash_ms: Number(msPerCall(() => ledger.stateHash()).toFixed(2)),
      export_ms: Number(msPerCall(() => ledger.export()).toFixed(2)),
      export_bytes: ledger.export().length,
    };
    ledger.free();
    return out;
  })(),
};

/** Why the node path cannot run here, or null: it needs the task's permissions. */
function nodePathUnavailable(): string | null {
  if (CORE_ONLY) return "--core-only";
  const needed: Deno.PermissionDescriptor[] = [
    { name: "run" },
    { name: "read" },
    { name: "write" },
    { name: "env" },
    { name: "net", host: "127.0.0.1" },
  ];
  const missing = needed.filter((p) => Deno.permissions.querySync(p).state !== "granted").map((p) => p.name);
  return missing.length ? `no ${missing.join(", ")} permission: run \`deno task bench:ledger\`` : null;
}

if (!JSON_OUTPUT) {
  console.log(`ledger (WASM core), ${ACCOUNTS} accounts, median of ${ROUNDS} rounds`);
  console.log(`  transfers applied/s:                    ${results.transfers_per_s}`);
  console.log(`  transfers applied/s, 16 concurrent:     ${results.transfers_per_s_16_concurrent}`);
  console.log(`  stateHash():                            ${results.state_hash_ms} ms`);
  console.log(`  export():                               ${results.export_ms} ms (${results.export_bytes} bytes)`);
}

const skipped = nodePathUnavailable();
let node: NodePathResult | null = null;
let sweep: SweepResult | null = null;
if (skipped === null && OPEN_RATES !== null) {
  sweep = await runSweep({
    rates: OPEN_RATES,
    seconds: OPEN_SECONDS,
    senders: OPEN_SENDERS,
    nodes: NODE_COUNT,
    cpuProfDir: CPU_PROF_DIR,
    batchMs: BATCH_MS,
    log: (line) => console.error(line),
  });
  Deno.mkdirSync(new URL("./out/", import.meta.url), { recursive: true });
  const svg = new URL("./out/ledger_sweep.svg", import.meta.url);
  Deno.writeTextFileSync(
    svg,
    sweepSvg(
      sweep.points,
      `bench:ledger open loop: ${NODE_COUNT} nodes, ${OPEN_SENDERS} senders, ${OPEN_SECONDS} s per rate` +
        (BATCH_MS > 0 ? `, batches of ${BATCH_MS} ms` : ""),
    ),
  );
  if (JSON_OUTPUT) console.log(JSON.stringify({ ...results, open_loop: sweep }));
  else {
    console.log(`open loop (${NODE_COUNT} nodes on 127.0.0.1, ${OPEN_SENDERS} senders, ${OPEN_SECONDS} s per rate):`);
    for (const row of sweepTable(sweep.points)) console.log(`  ${row}`);
    console.log(`  chart: ${svg.pathname}`);
    console.log(`  same ledger state hash on every node: ${sweep.same_state_hash ? "yes" : "NO"}`);
  }
  if (!sweep.same_state_hash) Deno.exit(1);
  Deno.exit(0);
}
if (skipped === null) {
  node = await measureNodePath({
    transfers: NODE_TRANSFERS,
    senders: NODE_SENDERS,
    nodes: NODE_COUNT,
    concurrency: NODE_SUBMIT_CONCURRENCY,
    samples: NODE_LATENCY_SAMPLES,
    timeMaxMs: NODE_TIME_MAX_MS,
    log: (line) => console.error(line),
  });
}
/** Node path over core, both in transfers applied per second. */
const ratio = (core: number) => node === null ? null : Number((node.transfers_per_s / core).toFixed(4));

if (JSON_OUTPUT) {
  console.log(JSON.stringify({
    ...results,
    node_path: node ?? { skipped },
    node_path_over_core: ratio(results.transfers_per_s),
    node_path_over_core_16_concurrent: ratio(results.transfers_per_s_16_concurrent),
  }));
} else if (node === null) {
  console.log(`node path: skipped (${skipped})`);
} else {
  const n = node;
  console.log(
    `node path (${n.nodes} nodes on 127.0.0.1, exchange API), ${n.transfers} transfers, ${n.senders} senders:`,
  );
  console.log(`  senders:                                ${n.mode}`);
  console.log(`  crypto backend (nodes / signing):       ${n.crypto_backend_node} / ${n.crypto_backend_signing}`);
  console.log(`  setup (start, create, mint):            ${n.setup_s} s (not timed)`);
  console.log(`  signing (pre-signed, not timed):        ${n.signing_s} s (${n.signing_per_s} signatures/s)`);
  console.log(
    `  submit:                                 ${n.submit_s} s (${n.submit_per_s} transfers/s, ${n.submit_concurrency} in flight)`,
  );
  console.log(
    `  applied on every node:                  ${n.applied_all_s} s after the first submit (by node: ${
      n.applied_by_node_s.join(", ")
    } s)`,
  );
  console.log(`  transfers applied/s, end to end:        ${n.transfers_per_s}`);
  console.log(`  this process's CPU meanwhile:           ${n.client_cpu_s} s (submits, polls, lookups)`);
  console.log(
    `  submit -> applied, every node:          p50 ${n.latency_all_nodes_s.p50} s, p99 ${n.latency_all_nodes_s.p99} s ` +
      `(${n.latency_samples} sampled by lookups, rounds of ${n.lookup_round_ms} ms)`,
  );
  console.log(
    `  submit -> applied, the node sent to:    p50 ${n.latency_submit_node_s.p50} s, p99 ${n.latency_submit_node_s.p99} s`,
  );
  console.log(
    `  submit -> applied, every node, all:     p50 ${n.latency_all_transfers_s.p50} s, p99 ${n.latency_all_transfers_s.p99} s ` +
      `(every transfer, from the nonce polls every ${n.completion_poll_ms} ms)`,
  );
  console.log(
    `  same ledger state hash on every node:   ${n.same_state_hash ? "yes" : "NO"} (${n.state_hash.slice(0, 16)}…)`,
  );
  console.log(
    `  node path / core:                       ${ratio(results.transfers_per_s)} (16 concurrent: ${
      ratio(results.transfers_per_s_16_concurrent)
    })`,
  );
}
if (node !== null && !node.same_state_hash) Deno.exit(1);
