/**
 * Runs the QR-Avalanche engine inside the node: vertices reach it only after
 * the DAG service has checked and stored them; decisions are stored in
 * SQLite (with the accepted-transaction accumulator), one durable commit for
 * those of a turn of the event loop (at most one every 20 ms), before they
 * are reported (decision_log.ts). The engine owns no timers: this service turns time into messages
 * (gossip ticks; query timeouts in the wire adapter). It composes the
 * mempool (submission intake and its limits, mempool.ts), the batching of
 * this node's own vertices (batcher.ts), their codec (vertex_codec.ts) and
 * the wire adapter to the peer transport (consensus_wire.ts).
 */
import { type TransactionInfo, validateVertex } from "../core/mod.ts";
import { type Cut, type Decision, DEFAULT_PARAMETERS, type Parameters, type SettledView } from "../consensus/mod.ts";
import { requiredNonce } from "../dag/carried.ts";
import { conflictKeyOf } from "../dag/conflict_key.ts";
import { type CutPosition, GENESIS_POSITION } from "../dag/coverage.ts";
import { Engine } from "../engine/mod.ts";
import { toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { ProtocolMessage } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { Batcher } from "./batcher.ts";
import { DecisionLog } from "./decision_log.ts";
import { ConsensusWire } from "./consensus_wire.ts";
import type { DagService } from "./dag_service.ts";
import type { Genesis } from "./genesis.ts";
import { Mempool, type TxState } from "./mempool.ts";
import type { SyncSigner } from "./sync_signer.ts";
import type { Admit } from "./submission.ts";
import { ownVertexCodec, toSignedVertex } from "./vertex_codec.ts";

export { SubmitError, type TxState } from "./mempool.ts";
export { toSignedVertex } from "./vertex_codec.ts";
export { acceptedTxSum } from "./decision_log.ts";

export interface ConsensusOptions {
  genesis: Genesis;
  validatorId: string;
  syncSigner: SyncSigner;
  storage: Storage;
  dag: DagService;
  transport: PeerTransport | null;
  registry: Registry;
  logger: Logger;
  nowMs: () => number;
  params?: Parameters;
  /** How often the engine gets a gossip tick (polls, fetch retries, re-issues). */
  gossipIntervalMs?: number;
  /** A query without votes by then counts as failed. */
  queryTimeoutMs?: number;
  /** Transactions wait this long to share a vertex while few of this node's vertices are undecided. */
  batchDelayMs?: number;
  /**
   * This node's own undecided vertices above which a batch waits longer
   * (up to `batchDelayMaxMs`, or until one of them is decided): under load a
   * vertex issued sooner is decided no sooner, and fewer, fuller vertices
   * cost every node less (signatures, relays, stores, polls).
   */
  batchWindow?: number;
  /** The longest a transaction waits for a vertex while the window is full. */
  batchDelayMaxMs?: number;
  /**
   * Transactions submitted here and not decided yet above which new ones
   * are refused (node_busy, with a time to retry): past what the validators
   * can decide, more work in flight only slows every poll, until queries
   * time out and nothing is decided at all.
   */
  pendingTxsMax?: number;
  /** How long a vertex named by another validator is waited for before it is asked for (EngineConfig.fetchGraceMs). */
  fetchGraceMs?: number;
  /** Why this node cannot take submissions now, or null (Mempool's `overloaded`). */
  overloaded?: () => string | null;
  /** While true this node issues no vertex (Batcher's `holdIssuing`). */
  holdIssuing?: () => boolean;
  /** Most transactions in one vertex this node issues. */
  batchTxsMax?: number;
  /** Called with every batch of decisions once they are stored (the exchange ledger follows them). */
  onStored?: (decisions: readonly Decision[]) => void;
  /**
   * Decides whether a new submission may enter consensus (the exchange
   * ledger's dry run); throws a {@linkcode SubmitError} to refuse it.
   * `predecessorPending()` says whether the account's previous nonce is on
   * its way (in this node's mempool, undecided or accepted in consensus), so a
   * chain of transactions can be submitted before the first is applied.
   */
  admit?: Admit;
  /** When cuts close (chain parameters from the genesis, the lag from the node's configuration). */
  settlement?: { intervalMs: number; verticesMax: number; lagMs: number };
  /** Called with each cut consensus closed, once it is stored. */
  onCut?: (cut: Cut) => void;
  /** Protocol messages consensus does not handle itself (checkpoints, snapshots). */
  onOtherMessage?: (from: string, m: ProtocolMessage) => Promise<void>;
}

/** The last closed cut and the one before it, as storage holds them. */
export function storedCutPositions(storage: Storage): { current: CutPosition; previous: CutPosition; seq: number } {
  const latest = storage.latestCut();
  if (latest === null) return { current: GENESIS_POSITION, previous: GENESIS_POSITION, seq: 0 };
  const prev = storage.getCut(latest.seq - 1);
  const current = { boundaryMs: latest.boundaryMs, frontier: latest.frontier };
  // After a state sync the cut before may be unknown: then new vertices must cover the last one (stricter).
  const previous = prev !== null ? { boundaryMs: prev.boundaryMs, frontier: prev.frontier } : current;
  return { current, previous, seq: latest.seq };
}

/** What consensus reads from storage about vertices and transactions it dropped from memory. */
function storageSettledView(storage: Storage, boundaryMs: () => number): SettledView {
  return {
    isSettled: (id) => {
      const ts = storage.vertexTimestamp(id);
      return ts !== null && ts < boundaryMs() && storage.getDecision(id)?.status === "accepted";
    },
    txStatus: (id) => storage.getDecision(id)?.status,
    winner: (key) => storage.acceptedOfConflict(key),
  };
}
/** Gossip ticks between re-requests of parents that waiting vertices need. */
const WANTED_EVERY_TICKS = 10;

export class ConsensusService {
  readonly engine: Engine;
  readonly #o: ConsensusOptions;
  readonly #mempool: Mempool;
  readonly #batcher: Batcher;
  readonly #wire: ConsensusWire;
  readonly #decisions: DecisionLog;
  #ticks = 0;
  #tick: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  readonly #m;

  constructor(o: ConsensusOptions) {
    this.#o = o;
    const r = o.registry;
    this.#m = {
      decisions: r.counter("qudag_consensus_decisions_total", "Final decisions, by kind and status.", [
        "kind",
        "status",
      ]),
      acceptance: r.histogram(
        "qudag_consensus_time_to_acceptance_seconds",
        "From a transaction's arrival here to its acceptance.",
        [],
        [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      ),
      vertices: r.gauge("qudag_consensus_vertices", "Vertices in consensus by state.", ["state"]),
      polls: r.counter(
        "qudag_consensus_polls_total",
        "Polls of this node by phase: started, finished, held (settled, waiting for vertices its votes name), " +
          "held_expired (counted without them after the wait).",
        ["phase"],
      ),
      votes: r.counter("qudag_consensus_votes_total", "Votes received, by outcome.", ["result"]),
      messages: r.counter("qudag_consensus_messages_total", "Protocol messages received, by type.", ["type"]),
      submitted: r.counter("qudag_transactions_submitted_total", "Transactions submitted to this node, by result.", [
        "result",
      ]),
    };
    const inMemory = r.gauge(
      "qudag_engine_vertices_in_memory",
      "Vertices the consensus engine holds in memory (unsettled ones and the settled frontier).",
    );
    const cutSeq = r.gauge("qudag_consensus_cut_sequence", "The last cut consensus closed (settled).");
    const decisionCommits = r.counter(
      "qudag_consensus_decision_commits_total",
      "Durable commits of decisions (those of one event-loop turn, or of up to 20 ms under load; failed: retried).",
      ["result"],
    );
    r.onCollect(() => {
      const s = this.engine.stats;
      this.#m.polls.set({ phase: "started" }, s.pollsStarted);
      this.#m.polls.set({ phase: "finished" }, s.pollsFinished);
      this.#m.polls.set({ phase: "held" }, s.pollsHeld);
      this.#m.polls.set({ phase: "held_expired" }, s.heldPollsExpired);
      // Counters kept by storage and consensus: no scan of the vertex table.
      const decided = this.#o.storage.decisionCountsBySubject().vertex;
      this.#m.vertices.set({ state: "processing" }, this.engine.consensus.undecidedCounts().vertices);
      this.#m.vertices.set({ state: "accepted" }, decided.accepted);
      this.#m.vertices.set({ state: "rejected" }, decided.rejected);
      inMemory.set({}, this.engine.consensus.size.vertices);
      cutSeq.set({}, this.engine.settlement().seq);
      decisionCommits.set({ result: "ok" }, this.#decisions.stats.commits);
      decisionCommits.set({ result: "failed" }, this.#decisions.stats.failures);
    });

    this.#mempool = new Mempool({
      genesis: o.genesis,
      pendingTxsMax: o.pendingTxsMax,
      submitted: this.#m.submitted,
      overloaded: o.overloaded,
    });
    this.#wire = new ConsensusWire({
      engine: () => this.engine,
      transport: o.transport,
      storage: o.storage,
      dag: o.dag,
      logger: o.logger,
      queryTimeoutMs: o.queryTimeoutMs,
      randomInt,
      messages: this.#m.messages,
      votes: this.#m.votes,
      onOtherMessage: o.onOtherMessage,
      nowMs: o.nowMs,
    });
    this.#decisions = new DecisionLog({
      storage: o.storage,
      logger: o.logger,
      nowMs: o.nowMs,
      onDurable: (ds) => this.#reported(ds),
    });
    this.engine = this.#createEngine();
    this.#batcher = new Batcher({
      engine: this.engine,
      dag: o.dag,
      mempool: this.#mempool,
      logger: o.logger,
      nowMs: o.nowMs,
      sequential: this.#sequential,
      submitted: this.#m.submitted,
      batchDelayMs: o.batchDelayMs,
      batchWindow: o.batchWindow,
      batchDelayMaxMs: o.batchDelayMaxMs,
      batchTxsMax: o.batchTxsMax,
      holdIssuing: o.holdIssuing,
    });
    o.dag.hideDecisionsWhile((id) => this.#decisions.has(id));
    o.dag.onAdmitted((info, bytes, origin, from) => {
      if (origin !== "local" && !this.#stopped) {
        this.engine.onVertices(from ?? toHex(info.vertex.author), [
          toSignedVertex(info, bytes, o.dag.conflictKeysOf(info)),
        ]);
      }
    });
  }

  #createEngine(): Engine {
    const o = this.#o;
    const validatorIds = o.genesis.validators.map((v) => v.id);
    const cuts = storedCutPositions(o.storage);
    return new Engine(
      {
        params: o.params ?? DEFAULT_PARAMETERS,
        validators: validatorIds,
        // Fresh ids after every start, so a vote still in flight for the last run's query cannot count now.
        firstRequestId: 1 + randomInt(0xffff_fffe),
        fetchGraceMs: o.fetchGraceMs,
        settlement: o.settlement === undefined
          ? undefined
          : { ...o.settlement, position: cuts.current, previous: cuts.previous, seq: cuts.seq },
      },
      {
        sender: this.#wire.sender(),
        clock: { nowMs: o.nowMs },
        rng: { nextInt: (max) => randomInt(max) },
        settled: storageSettledView(o.storage, () => this.engine.consensus.position.boundaryMs),
        onCut: (cut) => {
          o.dag.advanceCut({ boundaryMs: cut.boundaryMs, frontier: cut.frontier });
          o.onCut?.(cut);
        },
        store: {
          // Durable with the other decisions of this turn (or of the next 20 ms); reported only then (decision_log.ts).
          record: (decisions) => this.#decisions.add(decisions),
          recordPreferences: (records) => this.#decisions.addPreferences(records),
          recordCut: (cut) => {
            // The decisions below a cut are durable, and reported, before the cut.
            this.#decisions.flush();
            o.storage.putCut({
              seq: cut.seq,
              boundaryMs: cut.boundaryMs,
              prevBoundaryMs: cut.prevBoundaryMs,
              frontier: cut.frontier,
              vertexCount: cut.vertices.length,
              snapshotSafe: cut.snapshotSafe,
              statement: null,
              digest: null,
              signature: null,
            });
          },
        },
        signer: { validatorId: o.validatorId },
        verifier: { isValidator: (id) => validatorIds.includes(id) },
        // Re-issued transactions get their parents here: an account's previous nonce in the causal past.
        reissue: (txs) => {
          if (!this.#stopped) this.#batcher.reissue(txs);
        },
        codec: ownVertexCodec({
          genesis: o.genesis,
          validatorId: o.validatorId,
          syncSigner: o.syncSigner,
          storage: o.storage,
          dag: o.dag,
          mempool: this.#mempool,
        }),
      },
    );
  }

  /**
   * Loads what storage holds above the last closed cut (and the cut's
   * frontier) into the engine, then starts the clock-driven messages: the
   * work does not grow with the chain's age.
   */
  start(): void {
    const storage = this.#o.storage;
    const position = this.engine.consensus.position;
    const ids = [...position.frontier, ...storage.verticesFrom(position.boundaryMs)];
    const vertices = ids.map((id) => {
      const bytes = storage.getVertex(id)!.bytes;
      return toSignedVertex(validateVertex(bytes), bytes);
    });
    const decisions: Decision[] = [];
    const frontier = new Set(position.frontier);
    for (const v of vertices) {
      if (frontier.has(v.id)) continue;
      for (const id of [v.id, ...v.txs.map((t) => t.id)]) {
        const d = storage.getDecision(id);
        if (d !== null) decisions.push({ kind: d.subject, id: d.id, status: d.status, rounds: 0 });
      }
    }
    const cuts = storedCutPositions(storage);
    const lastCut = storage.acceptedVerticesBetween(cuts.previous.boundaryMs, cuts.current.boundaryMs).map((id) => {
      const v = storage.getVertex(id)!;
      return { id, parents: v.parents, timestampMs: v.timestampMs };
    });
    const preferences = storage.preferences();
    this.engine.restore(vertices, decisions, lastCut, preferences);
    this.#decisions.flush();
    this.#wire.listen();
    this.#tick = setInterval(() => this.#onTick(), this.#o.gossipIntervalMs ?? 100);
    this.#o.logger.info("consensus started", {
      vertices: vertices.length,
      decisions: decisions.length,
      preferences: preferences.length,
      params: this.engine.params,
    });
  }

  #onTick(): void {
    if (this.#stopped) return;
    this.engine.onGossipTick();
    if (++this.#ticks % WANTED_EVERY_TICKS === 0) {
      this.#wire.askForWanted();
      this.#batcher.pruneWindow();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#mempool.close();
    if (this.#tick !== null) clearInterval(this.#tick);
    this.#decisions.stop();
    this.#batcher.stop();
    this.#wire.stop();
  }

  /** The submissions no vertex of this node carries yet, in the order they came (kept over a resync). */
  waitingTransactions(): Uint8Array[] {
    return this.#mempool.waiting();
  }

  /**
   * Takes a signed transaction into the next vertex this node issues, after
   * the `admit` check (the exchange ledger's dry run). Idempotent by
   * transaction id. Throws {@linkcode SubmitError} for a refusal.
   */
  async submit(bytes: Uint8Array): Promise<{ id: string; state: TxState }> {
    const info = this.#mempool.precheck(bytes);
    const id = toHex(info.id);
    // What memory knows first. Storage is asked once, after the admission check: a transaction decided long ago
    // is told by its state, not by the check's refusal (its nonce is taken by then).
    const held = this.#heldState(id);
    if (held !== "unknown") return this.#duplicate(id, held);
    if (this.#o.admit) {
      try {
        await this.#o.admit(bytes, info, {
          predecessorPending: () => this.#predecessorPending(info),
          pendingKey: (account) => this.#mempool.pendingKey(account),
        });
      } catch (error) {
        const state = this.txState(id);
        if (state !== "unknown") return this.#duplicate(id, state);
        this.#m.submitted.inc({ result: "refused" });
        throw error;
      }
      // The node may be stopping, the mempool full.
      this.#mempool.checkRoom();
    }
    // Decided and stored, or in by now (the check awaited).
    const state = this.txState(id);
    if (state !== "unknown") return this.#duplicate(id, state);
    this.#mempool.add(id, info.conflictKey, bytes, this.#o.nowMs());
    this.#m.submitted.inc({ result: "queued" });
    this.#batcher.add({ id, conflictKey: info.conflictKey, deps: [] }, bytes.length);
    return { id, state: "pending" };
  }

  /**
   * Whether the transaction an account's nonce needs before it (n − 1 with the
   * exchange, else nonce 0: src/dag/carried.ts) is in this node's mempool or
   * undecided/accepted in consensus.
   */
  #predecessorPending(info: TransactionInfo): boolean {
    if (info.tx.nonce === 0n) return false;
    const key = conflictKeyOf(info.tx.account, requiredNonce(info.tx.nonce, this.#sequential));
    if (this.#mempool.holdsKey(key)) return true;
    return this.engine.consensus.conflictSet(key).some((t) => this.engine.consensus.txStatus(t) !== "rejected");
  }

  /** Nonces form a chain where the exchange ledger runs (src/dag/carried.ts). */
  get #sequential(): boolean {
    return this.#o.genesis.exchange !== null;
  }

  txState(id: string): TxState {
    // Decided, not durable yet (its commit, or that commit's sync, under way): told to no one until then.
    if (this.#decisions.has(id)) return "pending";
    const d = this.#o.storage.getDecision(id);
    if (d) return d.status;
    return this.#heldState(id);
  }

  /**
   * The state of `id` as memory holds it: the engine's, or pending in the
   * mempool (or decided, not durable yet); "unknown" when neither holds it,
   * though storage may. A decided transaction the engine still holds is durable
   * with the same decision, or in `#decisions` until it is.
   */
  #heldState(id: string): TxState {
    if (this.#decisions.has(id)) return "pending";
    const s = this.engine.consensus.txStatus(id);
    if (s) return s;
    return this.#mempool.has(id) ? "pending" : "unknown";
  }

  #duplicate(id: string, state: TxState): { id: string; state: TxState } {
    this.#m.submitted.inc({ result: "duplicate" });
    return { id, state };
  }

  #reported(decisions: readonly Decision[]): void {
    this.#o.onStored?.(decisions);
    const now = this.#o.nowMs();
    for (const d of decisions) {
      this.#m.decisions.inc({ kind: d.kind, status: d.status });
      if (d.kind === "tx") {
        const seen = this.#mempool.firstSeenMs(d.id);
        if (seen !== undefined && d.status === "accepted") this.#m.acceptance.observe({}, (now - seen) / 1000);
        this.#mempool.forget(d.id);
      }
    }
    this.#batcher.onDecided(decisions);
  }

  /** Sends a protocol message to one peer; false when it could not be queued. */
  send(to: string, m: ProtocolMessage): boolean {
    return this.#wire.send(to, m);
  }
}

/** Uniform in [0, max) from the OS's randomness, without modulo bias. */
function randomInt(max: number): number {
  if (max <= 1) return 0;
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf); while (buf[0] >= limit);
  return buf[0] % max;
}
