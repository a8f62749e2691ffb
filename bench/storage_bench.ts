/**
 * What durable commits cost: the node's write pattern on SqliteStorage in its
 * three modes, in runs on the same disk: "durable" (what a node runs: only the
 * decisions' commit syncs the WAL, which carries the vertex written before it
 * to disk too), FULL (every commit syncs) and NORMAL (syncs only at
 * checkpoints).
 *
 * One "vertex" is two commits, as the node makes them: the vertex with its
 * transactions (dag_service.ts), then the decisions on it and them with the
 * accepted-transaction accumulator (node/consensus.ts), then the ledger's
 * receipts (ledger/service.ts). Each round runs both settings on fresh
 * databases, in alternating order, so drift of the machine hits both alike.
 *
 *   deno task bench:storage                 a table
 *   deno task bench:storage -- --json       one JSON document
 *   deno task bench:storage -- --vertices 500 --txs 10 --rounds 5
 *
 * The database lives in a temporary directory under ./data (the disk a node
 * uses, not a tmpfs where a sync is free).
 */
import { SqliteStorage } from "../src/storage/sqlite.ts";
import { intFlag } from "./_flags.ts";

interface Run {
  synchronous: "durable" | "full" | "normal";
  commits: number;
  seconds: number;
  commitsPerSecond: number;
  verticesPerSecond: number;
  commitMsP50: number;
  commitMsP99: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const hex = (n: number, salt: number) => (salt.toString(16).padStart(8, "0") + n.toString(16).padStart(56, "0"));

function run(synchronous: Run["synchronous"], vertices: number, txsPerVertex: number, round: number): Run {
  Deno.mkdirSync("./data", { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: "./data", prefix: "bench-storage-" });
  const s = SqliteStorage.open({ dataDir: dir, synchronous });
  const latencies: number[] = [];
  const txBytes = new Uint8Array(5_000).fill(round); // about an ML-DSA-87 transfer
  const vertexBytes = new Uint8Array(5_000 + 64 * 4).fill(round);
  const timed = (fn: () => void, durable = false) => {
    const t = performance.now();
    s.transaction(fn, { durable });
    latencies.push(performance.now() - t);
  };
  const started = performance.now();
  try {
    for (let v = 0; v < vertices; v++) {
      const vid = hex(v, 0xa0000000 + round);
      const txIds = Array.from({ length: txsPerVertex }, (_, k) => hex(v * txsPerVertex + k, 0xb0000000 + round));
      timed(() => {
        s.putVertex({
          id: vid,
          bytes: vertexBytes,
          author: hex(v % 4, 1),
          round: BigInt(v),
          parents: v === 0 ? [] : [hex(v - 1, 0xa0000000 + round)],
          receivedAtMs: v,
          timestampMs: v,
        });
        for (const id of txIds) {
          s.putTransaction({ id, bytes: txBytes, conflictKey: id + "0".repeat(16), vertex: vid, receivedAtMs: v });
        }
      });
      timed(() => {
        s.putDecision({ id: vid, subject: "vertex", status: "accepted", decidedAtMs: v });
        for (const id of txIds) s.putDecision({ id, subject: "tx", status: "accepted", decidedAtMs: v });
        s.setMeta("accepted_tx_sum", hex(v, 2));
      }, true);
      timed(() =>
        s.putReceipts(
          txIds.map((txId) => ({ txId, code: "ok", fee: 1n, ratePpb: 1_000_000, vertex: vid, timeMs: v })),
        )
      );
    }
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    synchronous,
    commits: latencies.length,
    seconds,
    commitsPerSecond: latencies.length / seconds,
    verticesPerSecond: vertices / seconds,
    commitMsP50: percentile(latencies, 50),
    commitMsP99: percentile(latencies, 99),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const vertices = intFlag("--vertices", 500, 1, 10_000_000);
const txs = intFlag("--txs", 10, 1, 1_024);
const rounds = intFlag("--rounds", 5, 1, 1_000);
const MODES = ["normal", "durable", "full"] as const;
const pairs: { durable: Run; full: Run; normal: Run }[] = [];
for (let r = 0; r < rounds; r++) {
  // The order rotates each round, so drift of the machine hits every mode alike.
  const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
  const got = Object.fromEntries(order.map((mode) => [mode, run(mode, vertices, txs, r)])) as {
    durable: Run;
    full: Run;
    normal: Run;
  };
  pairs.push(got);
}
const summary = (mode: Run["synchronous"]) => ({
  commitsPerSecond: median(pairs.map((p) => p[mode].commitsPerSecond)),
  verticesPerSecond: median(pairs.map((p) => p[mode].verticesPerSecond)),
  commitMsP50: median(pairs.map((p) => p[mode].commitMsP50)),
  commitMsP99: median(pairs.map((p) => p[mode].commitMsP99)),
});
const result = {
  conditions: { vertices, txsPerVertex: txs, rounds, commitsPerVertex: 3, disk: "./data" },
  durable: summary("durable"),
  full: summary("full"),
  normal: summary("normal"),
  /** Median over rounds of (FULL time / NORMAL time) for the same work. */
  slowdown: median(pairs.map((p) => p.full.seconds / p.normal.seconds)),
  /** Median over rounds of (durable time / NORMAL time): what the node's durability costs. */
  durable_slowdown: median(pairs.map((p) => p.durable.seconds / p.normal.seconds)),
  rounds: pairs,
};
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(
    `SQLite commits, ${vertices} vertices x (${txs} txs), 3 commits per vertex, ${rounds} paired rounds (medians)`,
  );
  console.log("synchronous  commits/s  vertices/s  commit p50 ms  commit p99 ms");
  for (const mode of MODES) {
    const s = result[mode];
    console.log(
      `${mode.padEnd(11)}  ${s.commitsPerSecond.toFixed(0).padStart(9)}  ${
        s.verticesPerSecond.toFixed(0).padStart(10)
      }` +
        `  ${s.commitMsP50.toFixed(3).padStart(13)}  ${s.commitMsP99.toFixed(3).padStart(13)}`,
    );
  }
  console.log(`FULL takes ${result.slowdown.toFixed(2)}x the time of NORMAL for the same commits (median of rounds)`);
  console.log(
    `durable (the node: decisions synced) takes ${result.durable_slowdown.toFixed(2)}x the time of NORMAL`,
  );
}
