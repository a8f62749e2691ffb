/**
 * The open-loop mode of bench/ledger_bench.ts: a fixed offered rate of
 * exchange transfers for a fixed time against a running local testnet (the
 * senders set up once by bench/_soak.ts's setUpSenders), then the figures of
 * that rate: transfers applied per second on every node while offered, the
 * submit-to-applied-everywhere latency of sampled transfers (p50/p99), and
 * how long the backlog took to drain afterwards. A sweep runs several rates
 * one after the other on the same testnet and draws the latency against the
 * throughput as an SVG chart.
 *
 * Transfers are signed before the clock starts (the client's signing must not
 * share the cores with the nodes while they are measured). Every wait is
 * bounded; every request goes to a node of the local testnet.
 */
import process from "node:process";
import { type Account, type Exchange, percentile, sleep, SubmitBatcher } from "./_exchange.ts";
import { LatencySampler, type Schedule, sendOpenLoop, type Sign, SignedFeed, type Stop } from "./_soak.ts";

/** After the offered window, how long the backlog may take to drain before the run gives up on it. */
const DRAIN_TIME_MAX_MS = 120_000;
/** Between two looks at the nodes' applied counts. */
const PROBE_MS = 250;
/** Where in the offered window the steady rate starts to count (applied_steady_per_s). */
const STEADY_FROM = 0.25;
/**
 * One in this many transfers is sampled for latency: 625 samples in 20 s at 1,000/s. The lookups a sample costs
 * the nodes grow with the rounds it waits (LOOKUP_ROUND_MS in _soak.ts): fewer samples, looked at more often.
 */
const SAMPLE_EVERY = 32;

export interface RatePoint {
  offered_per_s: number;
  /** Submissions gathered per node for this long into one batch request; 0: one request per transfer. */
  batch_ms: number;
  /** Batch requests sent (0 without batching). */
  batches: number;
  seconds: number;
  submitted: number;
  /** Transfers applied on every node during the offered window, per second (the minimum over nodes). */
  applied_per_s: number;
  /**
   * The same over the window's last three quarters (from STEADY_FROM of it to its end): the rate once the pipeline
   * is full. `applied_per_s` also counts its first second or so, before the first transfers are through, so it
   * stays below the offered rate by about latency / window even where every node keeps up.
   */
  applied_steady_per_s: number;
  /** Submit until applied on every node, of the sampled transfers. */
  latency_s: { p50: number | null; p99: number | null; samples: number; timed_out: number };
  /** After the window: until every node applied every transfer submitted (null: not within the bound). */
  drain_s: number | null;
  /** Transfers the nodes answered within the offered window, per second (the client keeps up when it is the offered rate). */
  submitted_per_s: number;
  /** Submits the nodes answered late: senders behind the schedule at the end of the window. */
  behind: number;
  refused: Record<string, number>;
  /** Submissions a node refused as busy (503 node_busy) and the sender made again after Retry-After. */
  busy_refusals: number;
  /** Node 0's counters over the offered window, per second (polls, peer frames, protocol messages, …). */
  node0_counters_per_s: Record<string, number>;
  /**
   * CPU time the nodes spent per submitted transfer, from the window's start to the end of the drain, averaged over
   * the nodes (`process_cpu_seconds_total`): what a transfer costs a node, steadier than latency on a shared machine.
   */
  node_cpu_ms_per_transfer: number | null;
  /**
   * CPU time this load generator spent per submitted transfer over the same span (its requests, the latency
   * samples): what it takes from the machine the nodes share. Signing happens before the window, outside it.
   */
  client_cpu_ms_per_transfer: number | null;
}

/** Each node's `process_cpu_seconds_total`. */
async function cpuSeconds(x: Exchange): Promise<number[]> {
  return await Promise.all(x.nodes.map(async (n) => {
    const res = await fetch(n.metrics, { signal: AbortSignal.timeout(30_000) });
    const m = (await res.text()).match(/^process_cpu_seconds_total ([0-9.e+]+)$/m);
    return m === null ? NaN : Number(m[1]);
  }));
}

/** Every counter sample (`*_total`) of a node's metrics, by name and labels. */
async function counters(x: Exchange, node: number): Promise<Map<string, number>> {
  const res = await fetch(x.nodes[node].metrics, { signal: AbortSignal.timeout(30_000) });
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^(qudag_[a-z0-9_]+_total(?:\{[^}]*\})?) ([0-9.e+]+)$/gm)) {
    out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Applied ("ok") transactions per node, from its ledger metric. */
async function appliedCounts(x: Exchange): Promise<number[]> {
  return await Promise.all(x.nodes.map(async (_, i) => (await x.ledgerResults(i)).ok ?? 0));
}

/**
 * Offers `ratePerS` transfers a second for `seconds` s from `senders`
 * (nonces from `firstNonce(s)` on), each sender to its node in nonce order.
 */
export async function measureRate(
  x: Exchange,
  senders: readonly Account[],
  sign: Sign,
  nextNonce: bigint[],
  ratePerS: number,
  seconds: number,
  log: (line: string) => void,
  batchMs = 0,
): Promise<RatePoint> {
  const count = Math.round(ratePerS * seconds);
  const S = senders.length;
  const nonceOf = (k: number) => nextNonce[k % S] + BigInt(Math.floor(k / S));
  const ctl: Stop = { stop: false };
  const schedule: Schedule = { t0Ms: 0, ratePerS, senders: S, count };
  const feed = new SignedFeed(
    schedule,
    (k) =>
      sign(senders[k % S], nonceOf(k), {
        kind: "transfer",
        to: senders[(k + 1) % S].id,
        amount: 1n,
        memo: new Uint8Array(),
      }),
    count,
    ctl,
  );
  log(`  ${ratePerS}/s: signing ${count} transfers…`);
  await feed.prefill(count);
  const sampler = new LatencySampler(x, ctl);
  const before = await appliedCounts(x);
  const countersBefore = await counters(x, 0);
  const cpuBefore = await cpuSeconds(x);
  const clientBefore = process.cpuUsage();
  let submitted = 0;
  schedule.t0Ms = performance.now();
  const sampling = sampler.run();
  let busy = 0;
  // The latency of a batched transfer counts from when its sender submitted it, its wait for the batch included.
  const batcher = batchMs > 0 ? new SubmitBatcher(x, batchMs) : null;
  const sending = sendOpenLoop(
    x,
    feed,
    schedule,
    ctl,
    (k, id, at) => {
      submitted++;
      if (k % SAMPLE_EVERY === 0) sampler.offer(id, at);
    },
    () => busy++,
    batcher === null ? undefined : (node, tx) => batcher.submit(node, tx),
  );
  const windowEnd = schedule.t0Ms + seconds * 1000;
  const steadyAt = schedule.t0Ms + seconds * 1000 * STEADY_FROM;
  while (performance.now() < steadyAt) await sleep(Math.min(PROBE_MS, steadyAt - performance.now()));
  const atSteady = await appliedCounts(x);
  const steadyStart = performance.now();
  while (performance.now() < windowEnd) await sleep(Math.min(PROBE_MS, windowEnd - performance.now()));
  const atWindowEnd = await appliedCounts(x);
  const steadyS = (performance.now() - steadyStart) / 1000;
  const countersAfter = await counters(x, 0);
  const behind = count - submitted;
  const windowS = (performance.now() - schedule.t0Ms) / 1000;
  // Let the senders finish the schedule (they are at most a little behind), then wait for the drain.
  await sending;
  const target = before.map((b) => b + submitted);
  const drainStart = performance.now();
  let drain_s: number | null = null;
  while (performance.now() - drainStart < DRAIN_TIME_MAX_MS) {
    const now = await appliedCounts(x);
    if (now.every((n, i) => n >= target[i])) {
      drain_s = (performance.now() - windowEnd) / 1000;
      break;
    }
    await sleep(PROBE_MS);
  }
  const cpuAfter = await cpuSeconds(x);
  const client = process.cpuUsage(clientBefore);
  const clientCpuMs = (client.user + client.system) / 1000 / Math.max(1, submitted);
  const cpuPerNode = cpuAfter.map((c, i) => c - cpuBefore[i]);
  const nodeCpuMs = cpuPerNode.reduce((a, b) => a + b, 0) / cpuPerNode.length / Math.max(1, submitted) * 1000;
  // The sampler gets a moment for the last lookups, then stops.
  await sleep(1_000);
  ctl.stop = true;
  await sampling;
  const lat = sampler.take();
  for (let s = 0; s < S; s++) nextNonce[s] += BigInt(Math.ceil((count - s) / S));
  return {
    offered_per_s: ratePerS,
    batch_ms: batchMs,
    batches: batcher?.batches ?? 0,
    seconds,
    submitted,
    applied_per_s: Math.round(Math.min(...atWindowEnd.map((n, i) => n - before[i])) / windowS),
    applied_steady_per_s: Math.round(Math.min(...atWindowEnd.map((n, i) => n - atSteady[i])) / steadyS),
    latency_s: {
      p50: lat.latenciesS.length ? round3(percentile(lat.latenciesS, 0.5)) : null,
      p99: lat.latenciesS.length ? round3(percentile(lat.latenciesS, 0.99)) : null,
      samples: lat.latenciesS.length,
      timed_out: lat.timedOut,
    },
    drain_s: drain_s === null ? null : round3(drain_s),
    submitted_per_s: Math.round((count - behind) / windowS),
    behind,
    refused: Object.fromEntries(sampler.refused),
    busy_refusals: busy,
    node0_counters_per_s: Object.fromEntries(
      [...countersAfter].map(([k, v]) => [k, Math.round((v - (countersBefore.get(k) ?? 0)) / windowS)] as const)
        .filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]),
    ),
    node_cpu_ms_per_transfer: Number.isFinite(nodeCpuMs) && drain_s !== null ? round3(nodeCpuMs) : null,
    client_cpu_ms_per_transfer: drain_s !== null ? round3(clientCpuMs) : null,
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** One table row per rate. */
export function sweepTable(points: readonly RatePoint[]): string[] {
  const pad = (s: string, n: number) => s.padStart(n);
  const rows = [
    `${pad("offered/s", 10)} ${pad("submitted/s", 12)} ${pad("applied/s", 10)} ${pad("steady/s", 9)} ${
      pad("p50 s", 8)
    } ${pad("p99 s", 8)} ${pad("drain s", 8)} ${pad("busy/s", 7)} ${pad("node CPU ms/transfer", 21)} ${
      pad("client CPU ms/transfer", 23)
    }`,
  ];
  for (const p of points) {
    rows.push(
      `${pad(String(p.offered_per_s), 10)} ${pad(String(p.submitted_per_s), 12)} ${pad(String(p.applied_per_s), 10)} ${
        pad(String(p.applied_steady_per_s), 9)
      } ${pad(fmt(p.latency_s.p50), 8)} ${pad(fmt(p.latency_s.p99), 8)} ${pad(fmt(p.drain_s), 8)} ${
        pad(String(Math.round(p.busy_refusals / p.seconds)), 7)
      } ${pad(fmt(p.node_cpu_ms_per_transfer), 21)} ${pad(fmt(p.client_cpu_ms_per_transfer), 23)}`,
    );
  }
  return rows;
}

const fmt = (v: number | null) => (v === null ? "-" : v.toFixed(2));

/**
 * An SVG chart: applied transfers/s (x) against submit-to-applied latency
 * (y, p50 and p99), one point per offered rate, with the goal marked.
 */
export function sweepSvg(points: readonly RatePoint[], title: string): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const xs = points.map((p) => p.applied_per_s);
  const ys = points.flatMap((p) => [p.latency_s.p50, p.latency_s.p99]).filter((v): v is number => v !== null);
  const xMax = Math.max(1_000, ...xs) * 1.1;
  const yMax = Math.max(1, ...ys) * 1.1;
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => H - B - (v / yMax) * (H - T - B);
  const line = (pick: (p: RatePoint) => number | null, color: string, label: string) => {
    const pts = points.filter((p) => pick(p) !== null).map((p) => `${x(p.applied_per_s)},${y(pick(p)!)}`);
    return [
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
      ...points.filter((p) => pick(p) !== null).map((p) =>
        `<circle cx="${x(p.applied_per_s)}" cy="${
          y(pick(p)!)
        }" r="4" fill="${color}"><title>${label} at ${p.offered_per_s}/s offered: ${pick(p)} s</title></circle>`
      ),
    ].join("\n");
  };
  const ticks = (max: number, n: number) => Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>
${
    ticks(xMax, 5).map((v) => `<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${Math.round(v)}</text>`).join(
      "\n",
    )
  }
${ticks(yMax, 5).map((v) => `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`).join("\n")}
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">transfers applied on every node per second</text>
<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${
    H / 2
  })">submit to applied everywhere (s)</text>
<line x1="${x(1_000)}" y1="${T}" x2="${x(1_000)}" y2="${H - B}" stroke="#999" stroke-dasharray="4 4"/>
<line x1="${L}" y1="${y(1)}" x2="${W - R}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 4"/>
<text x="${x(1_000) + 4}" y="${T + 12}" fill="#666">goal: 1,000/s, p50 1 s</text>
${line((p) => p.latency_s.p50, "#1f77b4", "p50")}
${line((p) => p.latency_s.p99, "#d62728", "p99")}
<text x="${W - R - 80}" y="${T + 12}" fill="#1f77b4">p50</text>
<text x="${W - R - 40}" y="${T + 12}" fill="#d62728">p99</text>
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

export interface SweepOptions {
  rates: readonly number[];
  seconds: number;
  senders: number;
  nodes: number;
  /** Write each node's V8 CPU profile (--cpu-prof) into this directory. */
  cpuProfDir?: string;
  /** Gather each node's submissions for this long into one batch request (0 or absent: one request each). */
  batchMs?: number;
  log: (line: string) => void;
}

export interface SweepResult {
  points: RatePoint[];
  senders: number;
  nodes: number;
  crypto_backend_node: string;
  same_state_hash: boolean;
  state_hash: string;
}

/** Starts a local testnet, sets up the senders once, offers each rate in turn, stops everything. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const { startTestnet } = await import("../scripts/testnet.ts");
  const { BENCH_NODE_ENV } = await import("./_node_path.ts");
  const { Exchange } = await import("./_exchange.ts");
  const { setUpSenders } = await import("./_soak.ts");
  const dir = Deno.makeTempDirSync({ prefix: "qudag-bench-sweep-" });
  o.log(`starting ${o.nodes} nodes…`);
  const net = await startTestnet({
    nodes: o.nodes,
    dir,
    basePort: 0,
    quiet: true,
    env: { ...BENCH_NODE_ENV },
    denoFlags: o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : [],
  });
  /** Closed with the testnet, however the run ends. */
  const exchanges: Exchange[] = [];
  try {
    const x = new Exchange(net, Deno.readTextFileSync(net.description.apiKeyFile).trim());
    exchanges.push(x);
    const { senders, sign, backendNode } = await setUpSenders(net, x, o.senders, o.log);
    const nextNonce = senders.map(() => 1n);
    const points: RatePoint[] = [];
    for (const rate of o.rates) {
      const p = await measureRate(x, senders, sign, nextNonce, rate, o.seconds, o.log, o.batchMs ?? 0);
      o.log(
        `  ${rate}/s offered: ${p.applied_per_s}/s applied everywhere (${p.applied_steady_per_s}/s steady), p50 ${
          fmt(p.latency_s.p50)
        } s, p99 ${fmt(p.latency_s.p99)} s, drained ${fmt(p.drain_s)} s after`,
      );
      points.push(p);
    }
    const hashes = await Promise.all(
      net.description.nodes.map(async (_, i) => (await x.get(i, "/status")).stateHash as string),
    );
    return {
      points,
      senders: o.senders,
      nodes: o.nodes,
      crypto_backend_node: backendNode,
      same_state_hash: hashes.every((h) => h === hashes[0]),
      state_hash: hashes[0],
    };
  } finally {
    for (const x of exchanges) x.close();
    await net.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}
