/**
 * One seeded run: N engines (some replaced by Byzantine nodes) over the
 * simulated network. Chaos (delays, drops, partitions, Byzantine behaviour)
 * until `healAtMs`; then partitions end and drops stop (delays and
 * reordering remain) and the run continues until every honest node has
 * decided everything it knows and all accepted the same transactions.
 *
 * Checked on every decision: no two honest nodes accept conflicting
 * transactions, and each decision was in the node's store before it was
 * reported. Checked at the end: liveness after heal.
 */
import { type Cut, DEFAULT_PARAMETERS, type Parameters, type TxInput } from "../../src/consensus/mod.ts";
import {
  createReferenceCodec,
  Engine,
  type EngineStats,
  type Hasher,
  MemoryDecisionStore,
  type SignedVertex,
  type Signer,
  type Verifier,
} from "../../src/engine/mod.ts";
import { ALL_VOTE_ATTACKS, ByzantineNode, type VoteAttack } from "./byzantine.ts";
import { fakeHasher, FakeKeyring } from "./fake_crypto.ts";
import { Scheduler, SimNetwork } from "./network.ts";
import { SimRng } from "./rng.ts";
import { verticesOnWaitCycles } from "./wait_cycle.ts";

/** The signature scheme a run uses: the fake one by default, ML-DSA-87 in one test. */
export interface SimCrypto {
  signerFor(validatorId: string): Signer;
  /** A key outside the genesis set. */
  outsider(): Signer;
  readonly verifier: Verifier;
  /** Vertex ids of the reference codec, and transaction ids. */
  readonly hasher: Hasher;
}

export interface ScenarioOptions {
  seed: number;
  validators: number;
  byzantine: number;
  params?: Parameters;
  /** Client transactions spread over honest nodes (nonce chains of 2). */
  honestTxs?: number;
  /** Honest double spends: one account, one nonce, two honest nodes. */
  doubleSpends?: number;
  /** Byzantine validators that equivocate (each one conflict pair). */
  equivocators?: number;
  attacks?: readonly VoteAttack[];
  healAtMs?: number;
  /** Give up (liveness failure) at this virtual time. */
  deadlineMs?: number;
  gossipEveryMs?: number;
  queryTimeoutMs?: number;
  /** Chaos knobs; by default drawn from the seed. */
  dropRate?: number;
  /** Message delay bounds; by default 2 ms to a maximum drawn from the seed. */
  delayMinMs?: number;
  delayMaxMs?: number;
  partition?: boolean;
  crypto?: SimCrypto;
  eventsMax?: number;
  pollsOutstandingMax?: number;
  /**
   * Settlement and checkpoints: engines close cuts (src/consensus/cut.ts) and
   * sign a statement of each; Byzantine validators sign every statement they
   * see. The run then also waits until every honest node closed the same cuts.
   */
  settlement?: { intervalMs: number; verticesMax: number; lagMs: number };
  /** Steady client load: one virtuous transaction every `everyMs` until `untilMs`, on random honest nodes. */
  load?: { everyMs: number; untilMs: number };
  /** Diagnosis hook: sees the honest engines when the run ends. */
  inspect?: (engines: ReadonlyMap<string, Engine>) => void;
  /**
   * Crashes one honest validator (drawn from the seed) and, after `downMs`,
   * replaces it with a new engine restored from what it had stored: its
   * vertices and its recorded decisions. By default both times are drawn from
   * the seed, the crash at most at `healAtMs` (later ones may never come: a
   * run ends once everything is decided); the run goes on until it is back.
   */
  crash?: { atMs?: number; downMs?: number };
}

export interface ScenarioResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: string | null;
  /**
   * Set when every virtuous transaction was accepted everywhere but some
   * contested one was still undecided somewhere at the deadline (Avalanche
   * promises liveness to virtuous transactions only).
   */
  readonly contestedUndecided: string | null;
  /**
   * Set when the virtuous transactions left undecided at the deadline all wait on a cycle of waits closed by
   * concurrent issuers through a dependency carried outside its dependent's ancestry (tests/_sim/wait_cycle.ts): a
   * stall the bare engine can meet and the node cannot build.
   */
  readonly waitCycle: string | null;
  /** Accepted transactions per honest node (all equal when ok). */
  readonly acceptedTxs: number;
  /** Tx decisions (accept or reject) reported by honest nodes. */
  readonly txDecisions: number;
  /** Polls between learning and accepting a transaction, per honest acceptance. */
  readonly rounds: number[];
  /** Virtual ms from submission to acceptance, per honest acceptance of an honest tx. */
  readonly latenciesMs: number[];
  readonly endMs: number;
  readonly messages: number;
  readonly stats: EngineStats;
  readonly equivocatingVotes: number;
  /** Honest validators restarted from their stores (see `crash`). */
  readonly restarts: number;
  /** Decisions those restarts read back from their stores. */
  readonly restoredDecisions: number;
  /** With `settlement`: cuts closed by the first honest node, and certificates formed (distinct sequences). */
  readonly cuts: number;
  readonly certified: number;
  /** Honest closes whose statement differs from another honest node's for the same sequence. */
  readonly statementMismatches: number;
  /** Largest number of vertices / transactions any honest engine held in memory at a gossip tick. */
  readonly inMemoryMax: { vertices: number; txs: number; sets: number };
  /** Vertices the first honest node added over the run (settled ones included). */
  readonly verticesTotal: number;
}

function fakeCrypto(seed: number, ids: readonly string[]): SimCrypto {
  const keyring = new FakeKeyring(seed, ids);
  return {
    signerFor: (id) => keyring.signerFor(id),
    outsider: () => keyring.signerFor("outsider", seed),
    verifier: keyring,
    hasher: fakeHasher,
  };
}

/** A client whose validator is down submits again after this long. */
const CLIENT_RETRY_MS = 100;

function sumStats(all: readonly EngineStats[]): EngineStats {
  const out = { ...all[0] };
  for (const s of all.slice(1)) {
    for (const k of Object.keys(out) as (keyof EngineStats)[]) out[k] += s[k];
  }
  return out;
}

export function runScenario(opts: ScenarioOptions): ScenarioResult {
  const rng = new SimRng(opts.seed);
  const n = opts.validators;
  const ids = Array.from({ length: n }, (_, i) => `v${String(i).padStart(3, "0")}`);
  // Byzantine validators are spread over the sorted id space.
  const byzIds = new Set<string>();
  while (byzIds.size < opts.byzantine) byzIds.add(rng.pick(ids));
  const honestIds = ids.filter((id) => !byzIds.has(id));
  const crypto = opts.crypto ?? fakeCrypto(opts.seed, ids);
  const healAtMs = opts.healAtMs ?? 4_000;
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const gossipEveryMs = opts.gossipEveryMs ?? 200;
  const eventsMax = opts.eventsMax ?? 20_000_000;

  const scheduler = new Scheduler();
  const dropRate = opts.dropRate ?? rng.pick([0, 0.01, 0.05, 0.1]);
  const network = new SimNetwork(
    scheduler,
    rng.fork(1),
    {
      delayMinMs: opts.delayMinMs ?? 2,
      delayMaxMs: opts.delayMaxMs ?? rng.pick([20, 60, 150]),
      dropRate,
      partition: null,
    },
    opts.queryTimeoutMs ?? 400,
  );

  const txKey = new Map<string, string>();
  const submittedAt = new Map<string, number>();
  /** Honest clients' transactions that conflict with nothing: these must be accepted everywhere. */
  const honestVirtuousTxIds: string[] = [];
  const acceptedByKey = new Map<string, { tx: string; node: string }>();
  const rounds: number[] = [];
  const latencies: number[] = [];
  let txDecisions = 0;
  let restarts = 0;
  let restoredDecisions = 0;
  let failure: string | null = null;
  const registerTx = (tx: TxInput) => txKey.set(tx.id, tx.conflictKey);

  const engines = new Map<string, Engine>();
  const stores = new Map<string, MemoryDecisionStore>();
  // Checkpoints: sequence -> statement digest -> signers.
  const quorum = Math.floor((2 * n) / 3) + 1;
  const signatures = new Map<number, Map<string, Set<string>>>();
  /** seq -> node -> its statement. */
  const statements = new Map<number, Map<string, string>>();
  const sign = (seq: number, digest: string, signer: string, cut: Cut) => {
    let bySeq = signatures.get(seq);
    if (bySeq === undefined) signatures.set(seq, bySeq = new Map());
    let signers = bySeq.get(digest);
    if (signers === undefined) bySeq.set(digest, signers = new Set());
    const before = signers.size;
    signers.add(signer);
    // Byzantine validators sign whatever they see: equivocation cannot certify two statements.
    for (const b of byzIds) signers.add(b);
    if (before < quorum && signers.size >= quorum) {
      // Certified: nodes behind it learn it (as a gossiped certificate would tell them), after a network delay.
      const position = { boundaryMs: cut.boundaryMs, frontier: cut.frontier };
      for (const id of honestIds) {
        scheduler.schedule(network.conditions.delayMaxMs, () => {
          if (!down.has(id)) engines.get(id)!.onCertifiedCut(position, signer);
        });
      }
    }
  };
  const inMemoryMax = { vertices: 0, txs: 0, sets: 0 };
  /** Each node's settled vertices, as its database would keep them (they survive a crash). */
  const archives = new Map<string, Map<string, SignedVertex>>();
  let verticesTotal = 0;
  /** `${node}:${kind}:${id}`: a node reports each outcome once, across restarts too. */
  const reported = new Set<string>();
  const startEngine = (id: string, engineRng: SimRng, store: MemoryDecisionStore, firstRequestId = 1): Engine => {
    const signer = crypto.signerFor(id);
    const lastCut = store.cuts().at(-1);
    const prevCut = store.cuts().at(-2);
    const engine = new Engine(
      {
        params: opts.params ?? DEFAULT_PARAMETERS,
        validators: ids,
        pollsOutstandingMax: opts.pollsOutstandingMax,
        firstRequestId,
        settlement: opts.settlement === undefined ? undefined : {
          ...opts.settlement,
          position: lastCut === undefined ? undefined : { boundaryMs: lastCut.boundaryMs, frontier: lastCut.frontier },
          seq: lastCut?.seq,
          previous: prevCut === undefined ? undefined : { boundaryMs: prevCut.boundaryMs, frontier: prevCut.frontier },
        },
      },
      {
        settled: store.settledView((tx) => txKey.get(tx)),
        archive: (() => {
          let archive = archives.get(id);
          if (archive === undefined) archives.set(id, archive = new Map());
          const a = archive;
          return { put: (v: SignedVertex) => void a.set(v.id, v), get: (vid: string) => a.get(vid) };
        })(),
        onCut: (cut) => {
          const digest = `${cut.seq}|${cut.boundaryMs}|${cut.prevBoundaryMs}|${
            [...cut.vertices].sort()
          }|${cut.frontier}`;
          let bySeq = statements.get(cut.seq);
          if (bySeq === undefined) statements.set(cut.seq, bySeq = new Map());
          bySeq.set(id, digest);
          if (Deno.env.get("SIMDBG")) console.log("CUT", id, digest.slice(0, 400));
          sign(cut.seq, digest, id, cut);
        },
        sender: network.senderFor(id),
        clock: scheduler,
        rng: engineRng,
        store,
        signer,
        verifier: crypto.verifier,
        codec: createReferenceCodec(signer, crypto.verifier, crypto.hasher),
        onDecisions: (decisions) => {
          for (const d of decisions) {
            if (store.status(d.kind, d.id) !== d.status) {
              failure ??= `seed ${opts.seed}: ${id} reported ${d.kind} ${d.id} ${d.status} before storing it`;
            }
            const once = `${id}:${d.kind}:${d.id}`;
            if (reported.has(once)) failure ??= `seed ${opts.seed}: ${id} reported ${d.kind} ${d.id} twice`;
            reported.add(once);
            if (d.kind !== "tx") continue;
            txDecisions++;
            if (d.status !== "accepted") continue;
            rounds.push(d.rounds);
            const at = submittedAt.get(d.id);
            if (at !== undefined) latencies.push(scheduler.nowMs() - at);
            const key = txKey.get(d.id);
            if (key === undefined) {
              failure ??= `seed ${opts.seed}: ${id} accepted ${d.id}, a transaction nobody issued`;
              continue;
            }
            const prior = acceptedByKey.get(key);
            if (prior === undefined) acceptedByKey.set(key, { tx: d.id, node: id });
            else if (prior.tx !== d.id) {
              failure ??=
                `seed ${opts.seed}: SAFETY: ${prior.node} accepted ${prior.tx} but ${id} accepted ${d.id}, both ${key}`;
            }
          }
        },
      },
    );
    engines.set(id, engine);
    stores.set(id, store);
    network.endpoints.set(id, engine);
    return engine;
  };
  for (const [index, id] of honestIds.entries()) startEngine(id, rng.fork(100 + index), new MemoryDecisionStore());
  /** Honest validators that crashed and have not restarted yet: they hear and do nothing. */
  const down = new Set<string>();
  /** Counters of engines that crashed, so the totals include their work. */
  const retired: EngineStats[] = [];

  const attacks = opts.attacks ?? ALL_VOTE_ATTACKS;
  const byzNodes: ByzantineNode[] = [];
  for (const [index, id] of [...byzIds].sort().entries()) {
    const node = new ByzantineNode(
      id,
      network,
      crypto.signerFor(id),
      crypto.outsider(),
      crypto.verifier,
      crypto.hasher,
      rng.fork(500 + index),
      honestIds,
      (validator, key) => engines.get(validator)?.consensus.preferenceOf(key) ?? null,
      attacks,
      registerTx,
    );
    byzNodes.push(node);
    network.endpoints.set(id, node);
  }

  // Client workload: nonce chains of two per account, on random honest nodes.
  const makeTx = (label: string, conflictKey: string, deps: string[]): TxInput => {
    const tx = { id: crypto.hasher.idOf(new TextEncoder().encode(`tx/${opts.seed}/${label}`)), conflictKey, deps };
    registerTx(tx);
    return tx;
  };
  const submit = (node: string, tx: TxInput, atMs: number, virtuous: boolean) => {
    if (virtuous) honestVirtuousTxIds.push(tx.id);
    const attempt = () => {
      if (!submittedAt.has(tx.id)) submittedAt.set(tx.id, scheduler.nowMs());
      // A client of a crashed node tries again later.
      if (down.has(node)) scheduler.schedule(CLIENT_RETRY_MS, attempt);
      else engines.get(node)!.issue([tx]);
    };
    scheduler.schedule(atMs, attempt);
  };
  const chaosEndMs = Math.max(1, healAtMs - 1_500);
  const honestTxs = opts.honestTxs ?? 6;
  for (let i = 0; i < honestTxs; i += 2) {
    const node = rng.pick(honestIds);
    const t0 = rng.between(0, chaosEndMs);
    const first = makeTx(`acct${i}/0`, `acct${i}:0`, []);
    submit(node, first, t0, true);
    if (i + 1 < honestTxs) {
      submit(node, makeTx(`acct${i}/1`, `acct${i}:1`, [first.id]), t0 + rng.between(0, 300), true);
    }
  }
  for (let i = 0; i < (opts.doubleSpends ?? 1) && honestIds.length >= 2; i++) {
    const a = rng.pick(honestIds);
    let b = rng.pick(honestIds);
    while (b === a) b = rng.pick(honestIds);
    const t0 = rng.between(0, chaosEndMs);
    submit(a, makeTx(`dbl${i}/a`, `dbl${i}:0`, []), t0, false);
    submit(b, makeTx(`dbl${i}/b`, `dbl${i}:0`, []), t0 + rng.between(0, 50), false);
  }

  if (opts.load !== undefined) {
    let i = 0;
    for (let t = 0; t < opts.load.untilMs; t += opts.load.everyMs) {
      submit(rng.pick(honestIds), makeTx(`load${i}`, `load${i}:0`, []), t, true);
      i++;
    }
  }

  // Byzantine activity during the chaos phase.
  const equivocators = Math.min(opts.equivocators ?? byzNodes.length, byzNodes.length);
  byzNodes.forEach((node, i) => {
    if (i < equivocators) scheduler.schedule(rng.between(0, chaosEndMs), () => node.equivocate(`e${i}`));
    scheduler.schedule(rng.between(0, chaosEndMs), () => node.sendMalformed());
    for (let t = rng.between(0, 300); t < healAtMs; t += 300) scheduler.schedule(t, () => node.probe());
  });

  // A partition of the honest validators (Byzantine ones reach both sides).
  if (opts.partition ?? rng.chance(0.5)) {
    const start = rng.between(0, chaosEndMs);
    const end = Math.min(healAtMs, start + rng.between(500, 2_500));
    const groups = new Map<string, number>();
    const cut = 1 + rng.nextInt(Math.max(1, honestIds.length - 1));
    honestIds.forEach((id, i) => groups.set(id, i < cut ? 0 : 1));
    scheduler.schedule(start, () => network.conditions.partition = groups);
    scheduler.schedule(end, () => network.conditions.partition = null);
  }
  scheduler.schedule(healAtMs, () => {
    network.conditions.partition = null;
    network.conditions.dropRate = 0;
  });

  // Periodic gossip ticks, as a host would deliver them.
  for (const id of honestIds) {
    const tick = () => {
      if (!down.has(id)) {
        const engine = engines.get(id)!;
        engine.onGossipTick();
        const size = engine.consensus.size;
        inMemoryMax.vertices = Math.max(inMemoryMax.vertices, size.vertices);
        inMemoryMax.txs = Math.max(inMemoryMax.txs, size.txs);
        inMemoryMax.sets = Math.max(inMemoryMax.sets, size.sets);
      }
      scheduler.schedule(gossipEveryMs, tick);
    };
    scheduler.schedule(rng.between(0, gossipEveryMs), tick);
  }

  if (opts.crash !== undefined) {
    const victim = rng.pick(honestIds);
    const crashAtMs = opts.crash.atMs ?? rng.between(0, healAtMs);
    const downMs = opts.crash.downMs ?? rng.between(0, 1_000);
    const engineRng = rng.fork(900);
    scheduler.schedule(crashAtMs, () => {
      // What the node's database holds: the vertices it added and the decisions it recorded.
      const crashed = engines.get(victim)!;
      retired.push(crashed.stats);
      const vertices = crashed.vertices();
      const oldStore = stores.get(victim)!;
      // What a restart reads back: the vertices above the last cut (and its frontier), and their decisions.
      const held = new Set(vertices.flatMap((v) => [v.id, ...v.txs.map((t) => t.id)]));
      const decisions = oldStore.log().filter((d) => held.has(d.id));
      down.add(victim);
      network.endpoints.delete(victim); // messages to it are lost while it is down
      scheduler.schedule(downMs, () => {
        const store = new MemoryDecisionStore();
        for (const cut of oldStore.cuts()) store.recordCut(cut);
        store.record(oldStore.log());
        store.recordPreferences(oldStore.preferences());
        // A new run starts its request ids far from the old run's, so stale votes match no poll.
        const engine = startEngine(victim, engineRng, store, 1 + engineRng.nextInt(0x7fff_ffff));
        // The last cut's vertices, from the node's archive (its database): new vertices may name them.
        const [prev, last] = [oldStore.cuts().at(-2), oldStore.cuts().at(-1)];
        const lastCut = last === undefined
          ? []
          : [...(archives.get(victim)?.values() ?? [])].filter((v) =>
            v.timestampMs >= (prev?.boundaryMs ?? 0) && v.timestampMs < last.boundaryMs &&
            oldStore.status("vertex", v.id) === "accepted"
          );
        try {
          engine.restore(vertices, decisions, lastCut, oldStore.preferences());
        } catch (e) {
          failure ??= `seed ${opts.seed}: RESTORE: ${victim} could not restore: ${e}`;
        }
        down.delete(victim);
        for (const d of decisions) {
          const now = d.kind === "tx" ? engine.consensus.txStatus(d.id) : engine.consensus.vertexStatus(d.id);
          if (now !== d.status) {
            failure ??= `seed ${opts.seed}: RESTORE: ${victim} has ${d.kind} ${d.id} ${now}, not ${d.status}`;
          }
        }
        if (store.log().length !== oldStore.log().length) {
          failure ??= `seed ${opts.seed}: RESTORE: ${victim} stored ${
            store.log().length - oldStore.log().length
          } decisions again`;
        }
        restarts++;
        restoredDecisions += decisions.length;
      });
    });
  }

  /**
   * "virtuous": every honest virtuous transaction is accepted by every honest
   * node. "all": besides, every honest node has decided everything it knows
   * and all accepted the same set.
   */
  const live = (mode: "all" | "virtuous"): string | null => {
    let reference: string | null = null;
    for (const id of honestIds) {
      if (down.has(id)) return `${id} is down`;
      const engine = engines.get(id)!;
      const store = stores.get(id)!;
      if (mode === "all" && engine.consensus.processing()) {
        const u = engine.consensus.undecided();
        const txs = u.txs.map((t) => {
          const info = engine.consensus.txInfo(t)!;
          return `${t.slice(0, 8)}(${info.conflictKey} deps ${info.deps.map((d) => d.slice(0, 8))} in ${
            engine.consensus.verticesOf(t).map((v) => `${v.slice(0, 8)}:${engine.consensus.vertexStatus(v)}`)
          } pref ${engine.consensus.preferenceOf(info.conflictKey)?.slice(0, 8)})`;
        });
        return `${id} has undecided vertices [${u.vertices.map((v) => v.slice(0, 8))}] and transactions [${txs}]`;
      }
      for (const tx of honestVirtuousTxIds) {
        if (store.status("tx", tx) !== "accepted") {
          return `${id} has not accepted virtuous transaction ${tx} (${txKey.get(tx)})`;
        }
      }
      if (mode === "virtuous") continue;
      const accepted = store.accepted("tx").join(",");
      if (reference === null) reference = accepted;
      else if (accepted !== reference) return `${id} accepted a different set of transactions`;
    }
    return mode === "all" ? settledEverywhere() : null;
  };

  /** With settlement: every honest node closed the same cuts, up to past the last vertex. */
  const settledEverywhere = (): string | null => {
    if (opts.settlement === undefined) return null;
    let seq: number | null = null;
    for (const id of honestIds) {
      const s = engines.get(id)!.settlement();
      const lastTs = Math.max(0, ...engines.get(id)!.vertices().map((v) => v.timestampMs));
      if (s.position.boundaryMs <= lastTs) return `${id} has not settled its last vertex (cut ${s.seq})`;
      if (seq === null) seq = s.seq;
      else if (s.seq !== seq) return `${id} is at cut ${s.seq}, another honest node at ${seq}`;
    }
    return null;
  };

  let endMs = healAtMs;
  let notLive: string | null;
  if (!scheduler.runUntil(healAtMs, eventsMax)) failure ??= `seed ${opts.seed}: event budget ran out`;
  let contestedUndecided: string | null = null;
  let waitCycle: string | null = null;
  /**
   * Whether every virtuous transaction an honest node has not accepted is carried only by vertices that wait on a
   * cycle of waits (tests/_sim/wait_cycle.ts): the cycle's vertices, or null when some such transaction is not.
   */
  const onWaitCycle = (): string | null => {
    const cycles = new Set<string>();
    for (const id of honestIds) {
      const engine = engines.get(id)!;
      const stuck = verticesOnWaitCycles(engine.consensus, engine.consensus.undecided().vertices);
      for (const tx of honestVirtuousTxIds) {
        if (stores.get(id)!.status("tx", tx) === "accepted") continue;
        const carriers = engine.consensus.verticesOf(tx).filter((v) => engine.consensus.vertexStatus(v) !== "rejected");
        if (carriers.length === 0 || !carriers.every((v) => stuck.has(v))) return null;
      }
      for (const v of stuck) cycles.add(v.slice(0, 8));
    }
    return `a cycle of waits through a dependency: the vertices on or above it [${[...cycles].sort()}]`;
  };
  while (failure === null) {
    notLive = live("all");
    if (notLive === null) break;
    if (scheduler.nowMs() >= deadlineMs) {
      const virtuous = live("virtuous");
      if (virtuous !== null) {
        waitCycle = onWaitCycle();
        if (waitCycle === null) {
          failure = `seed ${opts.seed}: LIVENESS: by ${deadlineMs} ms (healed at ${healAtMs} ms): ${virtuous}`;
        } else waitCycle = `seed ${opts.seed}: by ${deadlineMs} ms: ${virtuous}; ${waitCycle}`;
      } else {
        contestedUndecided = `seed ${opts.seed}: by ${deadlineMs} ms: ${notLive}`;
      }
      break;
    }
    if (!scheduler.runUntil(scheduler.nowMs() + 250, eventsMax)) {
      failure = `seed ${opts.seed}: event budget of ${eventsMax} ran out`;
    }
  }
  endMs = scheduler.nowMs();

  opts.inspect?.(engines);
  const stats = sumStats([...retired, ...[...engines.values()].map((e) => e.stats)]);
  let certified = 0;
  let statementMismatches = 0;
  for (const [seq, bySeq] of signatures) {
    const certifiedDigests = [...bySeq].filter(([, signers]) => signers.size >= quorum).map(([d]) => d);
    if (certifiedDigests.length > 1) {
      failure ??= `seed ${opts.seed}: CHECKPOINT: two statements certified for sequence ${seq}`;
    }
    if (certifiedDigests.length === 1) certified++;
    const honest = new Set(statements.get(seq)?.values() ?? []);
    if (honest.size > 1) statementMismatches++;
  }
  verticesTotal = stats.verticesIssued;
  return {
    seed: opts.seed,
    ok: failure === null,
    failure,
    contestedUndecided,
    waitCycle,
    acceptedTxs: stores.get(honestIds[0])!.accepted("tx").length,
    txDecisions,
    rounds,
    latenciesMs: latencies,
    endMs,
    messages: network.messagesSent,
    stats,
    equivocatingVotes: [...engines.values()].reduce((s, e) => s + e.consensus.equivocatingVotes(), 0),
    restarts,
    restoredDecisions,
    cuts: engines.get(honestIds[0])!.settlement().seq,
    certified,
    statementMismatches,
    inMemoryMax,
    verticesTotal,
  };
}
