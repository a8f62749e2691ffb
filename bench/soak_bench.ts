/**
 * `deno task bench:soak [-- --json] [--vertices N] [--window-s S] [--rate R] [--max-minutes M] [--senders S] [--quick]`
 * `[--cpu-prof DIR] [--keep DIR]`:
 * the settlement issue's acceptance benchmark. A real 4-node local testnet
 * (scripts/testnet.ts, every node on 127.0.0.1) with settlement on and
 * `QUDAG_BATCH_TXS_MAX=1`, so every transaction is its own vertex, runs under
 * sustained exchange transfers until at least N state-changing vertices are
 * applied on every node (default 70,000), or M minutes have passed.
 *
 * Load: open loop at R transfers/s offered (default 100: what this 2-core
 * machine sustains with one transaction per vertex; at 200 the event loops
 * lag by seconds, which is bench:ledger's subject, not this one's), from S senders
 * (default 400); transfer k is due k / R s after the start, sent by sender
 * k mod S to its node (sender mod 4), each sender's next nonce only after its
 * node answered the previous one (bench/_soak.ts). Transfers are signed in the
 * background ahead of the schedule, so signing is not the bottleneck (the
 * window lines say how often a sender had to wait for it).
 *
 * Every S seconds a window line: transfers submitted and applied (the
 * nodes' `qudag_ledger_transactions_total{result="ok"}` delta, the minimum
 * over nodes), applied/s, submit -> applied-on-every-node latency of a few
 * sampled transfers, each node's RSS and `GET /api/v1/status` latency (the
 * medians of looks every 5 s through the window and at its end, with the
 * largest look: one look is a point on a heap that swings between
 * collections), ledger journal, vertices in memory, database size (qudag.db +
 * WAL), accepted vertices and the last certified checkpoint.
 *
 * At the end: stop submitting, wait until every node applied everything,
 * check that all hold the same ledger state hash and certify the same
 * checkpoint digest, restart one node and time it (spawn -> ready, spawn ->
 * same state hash as the others), then the summary with the goals.
 * `--quick` is a short run for smoke-testing this script (3,000 vertices,
 * 10 s windows, 1 s settlement interval). Bounded: the traffic phase by M
 * minutes and its windows by count, every wait by time; every node is
 * stopped in a finally.
 */
import process from "node:process";
import { startTestnet } from "../scripts/testnet.ts";
import { BENCH_NODE_ENV } from "./_node_path.ts";
import { Exchange, NODE_SENDERS_MAX, percentile, sleep } from "./_exchange.ts";
import {
  checkpointDigest,
  dueBy,
  getJson,
  LatencySampler,
  latestCheckpoint,
  type NodeProbe,
  probeNode,
  readProc,
  SAMPLE_EVERY_MS,
  sampleNode,
  type Schedule,
  sendOpenLoop,
  setUpSenders,
  SignedFeed,
  STATUS_CALLS,
  type StatusView,
  type Stop,
  waitFor,
  WindowSamples,
} from "./_soak.ts";
import { intFlag, stringFlag } from "./_flags.ts";

const JSON_OUTPUT = Deno.args.includes("--json");
const QUICK = Deno.args.includes("--quick");

/** State-changing vertices to reach (applied transactions, each its own vertex, setup included). */
const VERTICES = intFlag("--vertices", QUICK ? 3_000 : 70_000, 1, 10_000_000);
const WINDOW_S = intFlag("--window-s", QUICK ? 10 : 30, 1, 3_600);
/** Transfers offered per second. */
const RATE = intFlag("--rate", 100, 1, 10_000);
const MAX_MINUTES = intFlag("--max-minutes", QUICK ? 5 : 40, 1, 24 * 60);
const SENDERS = intFlag("--senders", 400, 1, NODE_SENDERS_MAX);
const NODES = 4;
/** `--cpu-prof DIR`: each node writes its V8 CPU profile there (read them with bench/long_tasks.ts). */
const CPU_PROF_DIR = stringFlag("--cpu-prof");
const SETTLEMENT_INTERVAL_MS = QUICK ? 1_000 : 5_000;
const NODE_ENV = { ...BENCH_NODE_ENV, QUDAG_BATCH_TXS_MAX: "1", QUDAG_SNAPSHOT_EVERY: "6" };
/** `--keep DIR`: each node's log is written there at the end, and the data directories are kept there. */
const KEEP_DIR = stringFlag("--keep");
/**
 * Windows in a row in which some node applied nothing while transfers were
 * waiting: the network has stalled, and the run stops with the nodes' warnings
 * rather than waiting out M minutes.
 */
const STALLED_WINDOWS_MAX = 3;
/** Transfers per window whose latency is sampled (about). */
const SAMPLES_PER_WINDOW = 20;
/** Windows at most (the traffic phase ends after MAX_MINUTES anyway). */
const WINDOWS_MAX = Math.ceil((MAX_MINUTES * 60) / WINDOW_S);
/** Transfers in the schedule at most: MAX_MINUTES at RATE. */
const TRANSFERS_MAX = RATE * MAX_MINUTES * 60;
/** Signed transfers held at most. */
const SIGNED_BUFFER_MAX = Math.max(1_000, RATE * 20);
/** After the traffic: until every node applied everything; until all hold one state hash. */
const DRAIN_TIME_MAX_MS = 600_000;
const SAME_STATE_TIME_MAX_MS = 60_000;
/** From the restarted node's spawn until it holds the others' state hash. */
const RESTART_TIME_MAX_MS = 120_000;
const POLL_MS = 100;
/** Between two looks at every node while draining (each look is a full probe). */
const DRAIN_POLL_MS = 500;

const GOAL_RATE_KEPT = 0.8;
const GOAL_RSS_GROWTH = 0.2;
const GOAL_STATUS_MS = 20;
const GOAL_RESTART_S = 10;

interface WindowRow {
  index: number;
  elapsed_s: number;
  /** Transfers due in the window (rate x window). */
  offered: number;
  /** Transfers their node answered in the window. */
  submitted: number;
  /** Due so far but not yet answered by their node (senders waiting on it), at the probe. */
  behind: number;
  /** Transfers a sender had to wait for the signer for (should stay 0). */
  signer_late: number;
  applied: number;
  applied_per_s: number;
  latency_s: { p50: number | null; p99: number | null; samples: number; lookups: number; timed_out: number };
  /** Median of the window's looks at each node's RSS (every SAMPLE_EVERY_MS and at its end). */
  rss_mib: number[];
  /** The largest of those looks. */
  rss_max_mib: number[];
  /** V8 heap used, per node. */
  heap_mib: number[];
  /** Memory outside the V8 heap that JavaScript objects hold, per node (ArrayBuffer contents, the WASM core). */
  external_mib: number[];
  /** The WASM core's linear memory, per node. */
  core_mib: number[];
  journal_vertices: number[];
  in_memory_status: number[];
  in_memory_metric: number[];
  /** Median of the window's timed status calls per node (one every SAMPLE_EVERY_MS, STATUS_CALLS at its end). */
  status_ms: number[];
  /** The slowest of those calls. */
  status_max_ms: number[];
  status_calls: number[];
  /** Each node's largest event-loop lag over its last 60 s, at the probe (what a status call may queue behind). */
  lag_max_ms: number[];
  db_mib: number[];
  /** `qudag_consensus_vertices{state="accepted"}`, minimum over nodes. */
  accepted_vertices: number;
  /** Applied transactions (ledger ok) since genesis, minimum over nodes: state-changing vertices. */
  state_vertices: number;
  checkpoint_seq: (number | null)[];
  /** Times each node stopped itself to sync again so far (sync_resync in its log; its counters start over). */
  resyncs: number[];
}

const progress = (line: string) => console.error(line);
const say = (line: string) => JSON_OUTPUT || console.log(line);
const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const loadavg = async () => (await readProc("/proc/loadavg")).split(" ").slice(0, 3).map(Number);
const ok = (p: NodeProbe) => p.ledger.ok ?? 0;
/** Times node i stopped itself to sync again (src/node/resync_watch.ts): its counters started over each time. */
const resyncsOf = (net: Awaited<ReturnType<typeof startTestnet>>, i: number) =>
  net.log(i).match(/"code":"sync_resync"/g)?.length ?? 0;
/** How long a probe asks again a node that does not answer (one starting again to sync). */
const PROBE_RETRY_MAX_MS = 60_000;
const allResults = (p: NodeProbe) => Object.values(p.ledger).reduce((a, b) => a + b, 0);

function windowLine(w: WindowRow): string {
  const lat = w.latency_s.p50 === null
    ? "   -  /   -  "
    : `${w.latency_s.p50.toFixed(2)}/${w.latency_s.p99!.toFixed(2)}`;
  return [
    `w${String(w.index).padStart(3)}`,
    `${String(Math.round(w.elapsed_s)).padStart(5)} s`,
    `sub ${String(w.submitted).padStart(5)}${w.behind ? ` (behind ${w.behind})` : ""}`,
    `app ${String(w.applied).padStart(5)} ${w.applied_per_s.toFixed(1).padStart(6)}/s`,
    `lat ${lat} s (${w.latency_s.samples})`,
    `rss ${w.rss_mib.map((v) => Math.round(v)).join("/")} MiB`,
    `heap ${w.heap_mib.map((v) => Math.round(v)).join("/")}`,
    `ext ${w.external_mib.map((v) => Math.round(v)).join("/")}`,
    `core ${Math.max(...w.core_mib).toFixed(0)}`,
    `journal ${Math.max(...w.journal_vertices)}`,
    `in-mem ${Math.max(...w.in_memory_status)}/${Math.max(...w.in_memory_metric)}`,
    `status ${Math.max(...w.status_ms).toFixed(1)} ms (max ${Math.round(Math.max(...w.status_max_ms))})`,
    `lag ${Math.round(Math.max(...w.lag_max_ms))} ms`,
    `db ${Math.max(...w.db_mib).toFixed(1)} MiB`,
    `accepted ${w.accepted_vertices}`,
    `state ${w.state_vertices}`,
    `ckpt ${w.checkpoint_seq.map((s) => s ?? "-").join("/")}`,
    ...(w.resyncs.some((n) => n > 0) ? [`resyncs ${w.resyncs.join("/")}`] : []),
  ].join("  ");
}

/** Filled as the windows end, so a run that fails late still reports them. */
const windows: WindowRow[] = [];

async function soak(net: Awaited<ReturnType<typeof startTestnet>>) {
  const d = net.description;
  const x = new Exchange(net, Deno.readTextFileSync(d.apiKeyFile).trim());
  // A node that stopped itself to sync again answers nothing for a few seconds: ask it again, bounded.
  const probeOne = async (i: number): Promise<NodeProbe> => {
    for (const until = performance.now() + PROBE_RETRY_MAX_MS;;) {
      try {
        return await probeNode(net, i);
      } catch (e) {
        if (!(e instanceof TypeError) || performance.now() > until || resyncsOf(net, i) === 0) throw e;
        await sleep(500);
      }
    }
  };
  const probeAll = () => Promise.all(d.nodes.map((_, i) => probeOne(i)));
  const samples = new WindowSamples(d.nodes.length);
  /** Every node's RSS and one status call; a node starting again to sync is left out of this look. */
  const sampleAll = () =>
    Promise.all(d.nodes.map(async (_, i) => {
      try {
        const s = await sampleNode(net, i);
        samples.add(i, s.rssMiB, [s.statusMs]);
      } catch (e) {
        if (!(e instanceof TypeError) || resyncsOf(net, i) === 0) throw e;
      }
    }));
  /** The nodes whose counters ran the whole time (none resynced); all of them if every node did. */
  const counting = () => {
    const steady = d.nodes.map((_, i) => i).filter((i) => resyncsOf(net, i) === 0);
    return steady.length > 0 ? steady : d.nodes.map((_, i) => i);
  };
  const setupStart = performance.now();
  const setup = await setUpSenders(net, x, SENDERS, progress);
  const setupS = (performance.now() - setupStart) / 1000;

  const ctl: Stop = { stop: false };
  const schedule: Schedule = { t0Ms: 0, ratePerS: RATE, senders: SENDERS, count: TRANSFERS_MAX };
  let cpu0 = process.cpuUsage();
  const memo = new Uint8Array();
  const feed = new SignedFeed(
    schedule,
    (k) => {
      const s = k % SENDERS;
      const to = setup.senders[(s + 1) % SENDERS].id;
      return setup.sign(setup.senders[s], 1n + BigInt(Math.floor(k / SENDERS)), {
        kind: "transfer",
        to,
        amount: 1n,
        memo,
      });
    },
    SIGNED_BUFFER_MAX,
    ctl,
  );
  progress(`signing the first ${Math.min(TRANSFERS_MAX, RATE * 10)} transfers (${setup.backendSigning})…`);
  await feed.prefill(RATE * 10);

  const sampler = new LatencySampler(x, ctl);
  const sampleEvery = Math.max(1, Math.round((RATE * WINDOW_S) / SAMPLES_PER_WINDOW));
  let submitted = 0;
  let failure: unknown = null;
  const background = (p: Promise<void>) =>
    p.catch((e) => {
      failure ??= e;
      ctl.stop = true;
    });

  let previous = await probeAll();
  let previousAt = performance.now();
  schedule.t0Ms = previousAt;
  cpu0 = process.cpuUsage();
  progress(`soak: ${RATE} transfers/s offered by ${SENDERS} senders, until ${VERTICES} state-changing vertices…`);
  say(
    `windows of ${WINDOW_S} s (lat: submit -> applied on every node, p50/p99 of the sampled transfers; ` +
      `in-mem: status/metric, max over nodes; lag: largest event-loop lag of the last 60 s, max over nodes; ` +
      `ckpt: last certified checkpoint per node)`,
  );
  const tasks = [
    background(feed.run()),
    // Every sampleEvery-th answer, not every sampleEvery-th transfer: that would pick the senders of one node.
    background(sendOpenLoop(x, feed, schedule, ctl, (_k, id, at) => {
      if (submitted++ % sampleEvery === 0) sampler.offer(id, at);
    })),
    background(sampler.run()),
  ];

  let submittedBefore = 0;
  let lateBefore = 0;
  let reached = false;
  let stalled = 0;
  try {
    for (let w = 0; w < WINDOWS_MAX && !reached; w++) {
      const end = schedule.t0Ms + (w + 1) * WINDOW_S * 1000;
      let nextSample = end - WINDOW_S * 1000 + SAMPLE_EVERY_MS;
      while (performance.now() < end && failure === null) {
        if (performance.now() >= nextSample && end - performance.now() > SAMPLE_EVERY_MS / 2) {
          await sampleAll();
          nextSample += SAMPLE_EVERY_MS;
        }
        await sleep(Math.max(0, Math.min(POLL_MS, end - performance.now())));
      }
      if (failure !== null) throw failure;
      const probes = await probeAll();
      probes.forEach((p, i) => samples.add(i, p.rssMiB, p.statusTimesMs));
      const looks = samples.take();
      const at = performance.now();
      const halted = probes.flatMap((p, i) => (p.halted === null ? [] : [`${d.nodes[i].name}: ${p.halted}`]));
      if (halted.length) throw new Error(`ledger halted: ${halted.join("; ")}\n${x.logTail()}`);
      const applied = Math.min(...counting().map((i) => ok(probes[i]) - ok(previous[i])));
      const lat = sampler.take();
      const row: WindowRow = {
        index: w,
        elapsed_s: r3((at - schedule.t0Ms) / 1000),
        offered: dueBy(schedule, end) - dueBy(schedule, end - WINDOW_S * 1000),
        submitted: submitted - submittedBefore,
        behind: dueBy(schedule, at) - submitted,
        signer_late: feed.late - lateBefore,
        applied,
        applied_per_s: r1(applied / ((at - previousAt) / 1000)),
        latency_s: {
          p50: lat.latenciesS.length ? r3(percentile(lat.latenciesS, 0.5)) : null,
          p99: lat.latenciesS.length ? r3(percentile(lat.latenciesS, 0.99)) : null,
          samples: lat.latenciesS.length,
          lookups: lat.lookups,
          timed_out: lat.timedOut,
        },
        rss_mib: looks.rssMiB.map(r1),
        rss_max_mib: looks.rssMaxMiB.map(r1),
        heap_mib: probes.map((p) => r1(p.heapMiB)),
        external_mib: probes.map((p) => r1(p.externalMiB)),
        core_mib: probes.map((p) => r1(p.coreMiB)),
        journal_vertices: probes.map((p) => p.journalVertices),
        in_memory_status: probes.map((p) => p.inMemoryStatus),
        in_memory_metric: probes.map((p) => p.inMemoryMetric),
        status_ms: looks.statusMs.map(r1),
        status_max_ms: looks.statusMaxMs.map(r1),
        status_calls: looks.statusCalls,
        lag_max_ms: probes.map((p) => r1(p.lagMaxMs)),
        db_mib: probes.map((p) => r1(p.dbMiB)),
        accepted_vertices: Math.min(...probes.map((p) => p.acceptedVertices)),
        state_vertices: Math.min(...counting().map((i) => ok(probes[i]))),
        checkpoint_seq: probes.map((p) => p.checkpointSeq),
        resyncs: d.nodes.map((_, i) => resyncsOf(net, i)),
      };
      windows.push(row);
      say(windowLine(row));
      submittedBefore = submitted;
      lateBefore = feed.late;
      previous = probes;
      previousAt = at;
      reached = row.state_vertices >= VERTICES;
      stalled = row.applied === 0 && submitted > 0 ? stalled + 1 : 0;
      if (stalled >= STALLED_WINDOWS_MAX) {
        throw new Error(
          `a node applied no transfer in ${stalled} windows in a row: the network stalled\n${x.logTail()}`,
        );
      }
    }
  } finally {
    ctl.stop = true;
    await Promise.allSettled(tasks);
  }
  if (failure !== null) throw failure;
  const trafficS = (performance.now() - schedule.t0Ms) / 1000;
  const cpu = process.cpuUsage(cpu0);

  // Drain: every node applied (or refused) every setup transaction and every submitted transfer.
  progress(`traffic stopped after ${r1(trafficS)} s; waiting until every node applied all ${submitted} transfers…`);
  const expected = 2 * SENDERS + submitted;
  const drainStart = performance.now();
  let last = await probeAll();
  const drained = await waitFor(DRAIN_TIME_MAX_MS, DRAIN_POLL_MS, async () => {
    last = await probeAll();
    // A node that synced again skipped what its checkpoint held: the same state hash (below) checks it.
    return counting().every((i) => allResults(last[i]) >= expected) ? true : null;
  }) ?? false;
  const drainS = (performance.now() - drainStart) / 1000;
  const results = last.map((p) => p.ledger);

  // Same state everywhere at a quiet moment, and the same certified checkpoint at the highest seq all have.
  const status = (i: number) => getJson<StatusView>(`${d.nodes[i].http}/api/v1/status`);
  const hashes = async () =>
    (await Promise.all(d.nodes.map((_, i) => status(i)))).map((s) => s.exchange.ledger!.stateHash);
  let finalHashes = await hashes();
  const sameHash = await waitFor(SAME_STATE_TIME_MAX_MS, POLL_MS, async () => {
    finalHashes = await hashes();
    return new Set(finalHashes).size === 1 ? true : null;
  }) ?? false;
  const latest = await Promise.all(d.nodes.map((n) => latestCheckpoint(n.http)));
  const commonSeq = latest.every((c) => c !== null) ? Math.min(...latest.map((c) => c!.seq)) : null;
  const digests = commonSeq === null ? [] : await Promise.all(d.nodes.map((n) => checkpointDigest(n.http, commonSeq)));
  const sameCheckpoint = commonSeq !== null && digests[0] !== null && digests.every((g) => g === digests[0]);

  // Restart one node on its data directory; time it until it holds the others' state hash again.
  const R = NODES - 1;
  progress(`restarting ${d.nodes[R].name}…`);
  await net.stopNode(R);
  const spawnWallMs = Date.now();
  const spawnAt = performance.now();
  await net.restartNode(R);
  const restartedS = (performance.now() - spawnAt) / 1000;
  const logLine = (msg: string) =>
    net.log(R).split("\n").filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l)).at(-1);
  const ready = logLine("node ready");
  const readyS = ready ? (Date.parse(ready.time) - spawnWallMs) / 1000 : restartedS;
  const reference = finalHashes[0];
  const caughtUpS = await waitFor(
    RESTART_TIME_MAX_MS,
    POLL_MS,
    async () =>
      (await status(R)).exchange.ledger!.stateHash === reference ? (performance.now() - spawnAt) / 1000 : null,
  );
  const restored = logLine("exchange ledger restored from storage") ?? null;
  x.close();

  return {
    backends: { node: setup.backendNode, signing: setup.backendSigning },
    setupS,
    trafficS,
    submitted,
    signerLate: feed.late,
    clientCpuS: (cpu.user + cpu.system) / 1e6,
    reached,
    expected,
    drained,
    drainS,
    results,
    finalHashes,
    sameHash,
    checkpoint: { seq: commonSeq, digests, same: sameCheckpoint },
    restart: {
      node: d.nodes[R].name,
      readyS,
      caughtUpS,
      restored: restored === null
        ? null
        : { fromSeq: restored.fromSeq, vertices: restored.vertices, durationMs: restored.durationMs },
    },
  };
}

function goals(s: Awaited<ReturnType<typeof soak>>) {
  const w = windows;
  const first = w[0];
  const last = w.at(-1);
  const later = w.length >= 2;
  const rateRatio = later && first.applied_per_s > 0 ? last!.applied_per_s / first.applied_per_s : null;
  const rssGrowth = later
    ? first.rss_mib.map((base, i) => Math.max(...w.slice(1).map((r) => r.rss_mib[i])) / base - 1)
    : null;
  // Beside the goal: the largest single look of a later window against the first window's median.
  const rssGrowthLargestLook = later
    ? first.rss_mib.map((base, i) => Math.max(...w.slice(1).map((r) => r.rss_max_mib[i])) / base - 1)
    : null;
  const statusMax = w.length ? Math.max(...w.flatMap((r) => r.status_ms)) : null;
  return {
    applied_rate_kept: {
      goal: `last window's applied/s >= ${GOAL_RATE_KEPT} x the first window's`,
      value: rateRatio === null ? null : r3(rateRatio),
      met: rateRatio !== null && rateRatio >= GOAL_RATE_KEPT,
    },
    rss_stable: {
      goal: `each node's RSS in later windows within ${GOAL_RSS_GROWTH * 100} % of its first window's ` +
        `(max growth of the window medians of looks every ${SAMPLE_EVERY_MS / 1000} s)`,
      value: rssGrowth?.map(r3) ?? null,
      largest_look: rssGrowthLargestLook?.map(r3) ?? null,
      met: rssGrowth !== null && rssGrowth.every((g) => g <= GOAL_RSS_GROWTH),
    },
    status_latency: {
      goal: `GET /api/v1/status < ${GOAL_STATUS_MS} ms (each window's median of its calls: one every ${
        SAMPLE_EVERY_MS / 1000
      } s and ${STATUS_CALLS} at its end; max over windows and nodes)`,
      value_ms: statusMax,
      met: statusMax !== null && statusMax < GOAL_STATUS_MS,
    },
    restart: {
      goal: `restarted node: spawn -> the others' state hash < ${GOAL_RESTART_S} s`,
      value_s: s.restart.caughtUpS === null ? null : r3(s.restart.caughtUpS),
      met: s.restart.caughtUpS !== null && s.restart.caughtUpS < GOAL_RESTART_S,
    },
    same_state: {
      goal: "every node applied every transfer, then one ledger state hash and one certified checkpoint digest " +
        "everywhere, the restarted node's hash too",
      met: s.drained && s.sameHash && s.checkpoint.same && s.restart.caughtUpS !== null,
    },
  };
}

function printText(summary: ReturnType<typeof summarize>, g: ReturnType<typeof goals>, load: number[]): void {
  const s = summary;
  console.log(`\nsummary (${s.run_s} s in all; ${navigator.hardwareConcurrency} cores, load ${load.join(" ")})`);
  console.log(`  setup (start excluded):  ${s.setup_s} s`);
  console.log(
    `  traffic:                 ${s.traffic_s} s, ${s.transfers_submitted} submitted; this process's CPU ${s.client_cpu_s} s`,
  );
  console.log(
    `  state-changing vertices: ${s.state_vertices}${s.vertices_reached ? "" : ` (target ${VERTICES} NOT reached)`}`,
  );
  console.log(`  signer late:             ${s.signer_late} transfers waited for their signature`);
  console.log(
    `  drain after the traffic: ${s.drained ? "" : "NOT COMPLETE, "}${s.drain_s} s; ledger results by node ` +
      `(expected ${s.expected_results} each): ${JSON.stringify(s.ledger_results_by_node)}`,
  );
  console.log(`  same state hash:         ${s.same_state_hash ? "yes" : "NO"} (${s.state_hash.slice(0, 16)}…)`);
  const c = s.checkpoint;
  console.log(`  certified checkpoint:    ${c.seq ?? "none"}, ${c.same ? "same digest" : "DIFFERENT digests"}`);
  console.log(
    `  restart of ${s.restart.node}:        ready ${s.restart.readyS} s, same state hash ${
      s.restart.caughtUpS ?? "NEVER"
    } s after spawn; restored ${JSON.stringify(s.restart.restored)}`,
  );
  console.log("goals");
  for (const [name, goal] of Object.entries(g)) {
    const { goal: text, met, ...value } = goal;
    console.log(`  ${met ? "met    " : "NOT met"}  ${name}: ${text}; ${JSON.stringify(value)}`);
  }
}

function summarize(r: Awaited<ReturnType<typeof soak>>, runS: number) {
  return {
    run_s: r3(runS),
    setup_s: r3(r.setupS),
    traffic_s: r3(r.trafficS),
    client_cpu_s: r3(r.clientCpuS),
    vertices_reached: r.reached,
    state_vertices: windows.at(-1)?.state_vertices ?? 0,
    transfers_submitted: r.submitted,
    signer_late: r.signerLate,
    drained: r.drained,
    drain_s: r3(r.drainS),
    expected_results: r.expected,
    ledger_results_by_node: r.results,
    same_state_hash: r.sameHash,
    state_hash: r.finalHashes[0],
    checkpoint: r.checkpoint,
    restart: {
      ...r.restart,
      readyS: r3(r.restart.readyS),
      caughtUpS: r.restart.caughtUpS === null ? null : r3(r.restart.caughtUpS),
    },
  };
}

const params = {
  nodes: NODES,
  vertices: VERTICES,
  window_s: WINDOW_S,
  rate_per_s: RATE,
  senders: SENDERS,
  max_minutes: MAX_MINUTES,
  quick: QUICK,
  settlement_interval_ms: SETTLEMENT_INTERVAL_MS,
  env: NODE_ENV,
};
const conditions: Record<string, unknown> = {
  cores: navigator.hardwareConcurrency,
  loadavg_start: await loadavg(),
  deno: Deno.version.deno,
};
const dir = KEEP_DIR === undefined ? Deno.makeTempDirSync({ prefix: "qudag-bench-soak-" }) : KEEP_DIR;
if (KEEP_DIR !== undefined) Deno.mkdirSync(KEEP_DIR, { recursive: true });
progress(`starting ${NODES} nodes (settlement every ${SETTLEMENT_INTERVAL_MS} ms, one transaction per vertex)…`);
const runStart = performance.now();
const net = await startTestnet({
  nodes: NODES,
  dir,
  basePort: 0,
  quiet: true,
  settlement: { intervalMs: SETTLEMENT_INTERVAL_MS },
  env: NODE_ENV,
  denoFlags: CPU_PROF_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`],
});
let result: Awaited<ReturnType<typeof soak>> | null = null;
let error: unknown = null;
try {
  result = await soak(net);
} catch (e) {
  error = e;
} finally {
  await net.stop();
  if (KEEP_DIR === undefined) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* left behind: a temporary directory */ }
  } else {
    net.description.nodes.forEach((n, i) => Deno.writeTextFileSync(`${KEEP_DIR}/${n.name}.log`, net.log(i)));
    progress(`kept: the data directories and each node's log in ${KEEP_DIR}`);
  }
}
conditions.loadavg_end = await loadavg();
if (result === null) {
  // The windows so far still say something about a run that failed late.
  if (JSON_OUTPUT) console.log(JSON.stringify({ params, conditions, windows, error: String(error) }));
  console.error(error);
  Deno.exit(1);
}
Object.assign(conditions, {
  crypto_backend_node: result.backends.node,
  crypto_backend_signing: result.backends.signing,
});
const summary = summarize(result, (performance.now() - runStart) / 1000);
const g = goals(result);
if (JSON_OUTPUT) console.log(JSON.stringify({ params, conditions, windows, summary, goals: g }));
else printText(summary, g, conditions.loadavg_end as number[]);
if (!g.same_state.met) Deno.exit(1);
