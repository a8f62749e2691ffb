/**
 * Runs the QR-Avalanche engine inside the node: vertices reach it only after
 * the DAG service has checked and stored them; its messages travel over the
 * peer transport in the wire protocol of src/net/protocol.ts; a vote counts
 * as the authenticated peer's that sent it (votes carry no signature: see
 * Vote in src/engine/types.ts); decisions are stored in SQLite before they
 * are reported. The
 * engine owns no timers: this service turns time into messages (gossip ticks,
 * query timeouts).
 */
import {
  blake3,
  encodeVertex,
  ML_DSA_87_SIGNATURE_BYTES,
  type TransactionInfo,
  validateTransaction,
  validateVertex,
  type VertexInfo,
  vertexSigningMessage,
} from "../core/mod.ts";
import {
  type Cut,
  type Decision,
  DEFAULT_PARAMETERS,
  type Parameters,
  type SettledView,
  type TxInput,
  VERTEX_PARENTS_MAX,
  VERTEX_TXS_MAX,
} from "../consensus/mod.ts";
import { requiredNonce } from "../dag/carried.ts";
import { conflictKeyOf, splitConflictKey } from "../dag/conflict_key.ts";
import { type CutPosition, GENESIS_POSITION } from "../dag/coverage.ts";
import { Engine, type Sender, type SignedVertex, type VertexBody, type VertexCodec, type Vote } from "../engine/mod.ts";
import { fromHex, toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import {
  decodeMessage,
  encodeMessage,
  type ProtocolMessage,
  VERTEX_RELAY_BYTES_MAX,
  VERTICES_PER_MESSAGE_MAX,
} from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import type { DagService } from "./dag_service.ts";
import type { Genesis } from "./genesis.ts";
import type { SyncSigner } from "./sync_signer.ts";
import type { Admit } from "./submission.ts";

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

export type TxState = "processing" | "accepted" | "rejected" | "pending" | "unknown";

/**
 * A submission this node refuses: stable code (wrong_chain, mempool_full,
 * shutting_down, ledger_halted, or an exchange ledger refusal code such as
 * insufficient_funds), message for the client.
 */
export class SubmitError extends Error {
  readonly code: string;
  /** When the client may try again (node_busy), in seconds. */
  readonly retryAfterS: number | undefined;
  constructor(code: string, message: string, retryAfterS?: number) {
    super(message);
    this.name = "SubmitError";
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Bound on transactions waiting to be issued. */
const MEMPOOL_MAX = 100_000;
/** Default of pendingTxsMax (see ConsensusOptions). */
const PENDING_TXS_MAX = 512;
/**
 * A vertex's bytes besides its transactions, at most: version and type, chain
 * id, author, round, timestamp, the parent count and VERTEX_PARENTS_MAX
 * parents, the transaction count, the ML-DSA-87 signature (wasm/src/vertex.rs).
 */
const VERTEX_ENVELOPE_BYTES_MAX = 2 + 32 + 32 + 8 + 8 + 4 + VERTEX_PARENTS_MAX * 32 + 4 + ML_DSA_87_SIGNATURE_BYTES;
/**
 * Bytes of transactions in one vertex, each with its 4-byte length: a vertex
 * this node builds never exceeds what peers relay (VERTEX_RELAY_BYTES_MAX).
 */
const VERTEX_TX_BYTES_MAX = VERTEX_RELAY_BYTES_MAX - VERTEX_ENVELOPE_BYTES_MAX;
/** Bytes of vertices packed into one protocol message. */
const MESSAGE_VERTEX_BYTES_MAX = 1000 * 1024;
/** Most extra parents a vertex takes to have its transactions' predecessors in its causal past. */
const PREDECESSOR_PARENTS_MAX = 4;
/** Flushes a transaction may wait for its previous nonce to become reachable before it is dropped. */
const DEFERRALS_MAX = 500;
/** Defaults of batchDelayMs, batchWindow and batchDelayMaxMs (see ConsensusOptions). */
const BATCH_DELAY_MS = 20;
const BATCH_WINDOW = 4;
const BATCH_DELAY_MAX_MS = 250;
/** Gossip ticks between re-requests of parents that waiting vertices need. */
const WANTED_EVERY_TICKS = 10;

export class ConsensusService {
  readonly engine: Engine;
  readonly #o: ConsensusOptions;
  readonly #queryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #mempool = new Map<string, Uint8Array>();
  /** Conflict key → id of the mempool transaction holding it, and back. */
  readonly #mempoolKeys = new Map<string, string>();
  readonly #mempoolKeyOf = new Map<string, string>();
  #batch: TxInput[] = [];
  #batchBytes = 0;
  #ticks = 0;
  #batchTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the pending flush is due (ms, this service's clock). */
  #batchDueMs = 0;
  /** This node's own vertices not decided yet (see batchWindow). */
  readonly #inFlight = new Set<string>();
  #tick: ReturnType<typeof setInterval> | null = null;
  readonly #firstSeenMs = new Map<string, number>();
  /** Flushes each waiting transaction was put back for (see #defer). */
  readonly #deferrals = new Map<string, number>();
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
      polls: r.counter("qudag_consensus_polls_total", "Polls started and finished by this node.", ["phase"]),
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
    r.onCollect(() => {
      const s = this.engine.stats;
      this.#m.polls.set({ phase: "started" }, s.pollsStarted);
      this.#m.polls.set({ phase: "finished" }, s.pollsFinished);
      // Counters kept by storage and consensus: no scan of the vertex table.
      const decided = this.#o.storage.decisionCountsBySubject().vertex;
      this.#m.vertices.set({ state: "processing" }, this.engine.consensus.undecided().vertices.length);
      this.#m.vertices.set({ state: "accepted" }, decided.accepted);
      this.#m.vertices.set({ state: "rejected" }, decided.rejected);
      inMemory.set({}, this.engine.consensus.size.vertices);
      cutSeq.set({}, this.engine.settlement().seq);
    });

    const validatorIds = o.genesis.validators.map((v) => v.id);
    const cuts = storedCutPositions(o.storage);
    this.engine = new Engine(
      {
        params: o.params ?? DEFAULT_PARAMETERS,
        validators: validatorIds,
        // Fresh ids after every start, so a vote still in flight for the last run's query cannot count now.
        firstRequestId: 1 + randomInt(0xffff_fffe),
        settlement: o.settlement === undefined
          ? undefined
          : { ...o.settlement, position: cuts.current, previous: cuts.previous, seq: cuts.seq },
      },
      {
        sender: this.#sender(),
        clock: { nowMs: o.nowMs },
        rng: { nextInt: (max) => randomInt(max) },
        settled: storageSettledView(o.storage, () => this.engine.consensus.position.boundaryMs),
        onCut: (cut) => {
          o.dag.advanceCut({ boundaryMs: cut.boundaryMs, frontier: cut.frontier });
          o.onCut?.(cut);
        },
        store: {
          record: (decisions) => {
            const at = o.nowMs();
            // Durable: decisions are reported (clients, the ledger, peers' votes) only after this commit.
            o.storage.transaction(() => {
              const fresh = decisions.filter((d) => o.storage.getDecision(d.id) === null);
              for (const d of decisions) {
                o.storage.putDecision({ id: d.id, subject: d.kind, status: d.status, decidedAtMs: at });
              }
              recordAcceptedTxs(o.storage, fresh);
            }, { durable: true });
          },
          recordCut: (cut) =>
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
            }),
        },
        signer: { validatorId: o.validatorId },
        verifier: { isValidator: (id) => validatorIds.includes(id) },
        // Re-issued transactions get their parents here: an account's previous nonce in the causal past.
        reissue: (txs) => {
          if (!this.#stopped) this.#issueAll(txs);
        },
        codec: this.#codec(),
        onDecisions: (ds) => this.#reported(ds),
      },
    );
    o.dag.onAdmitted((info, bytes, origin, from) => {
      if (origin !== "local" && !this.#stopped) {
        this.engine.onVertices(from ?? toHex(info.vertex.author), [
          toSignedVertex(info, bytes, o.dag.conflictKeysOf(info)),
        ]);
      }
    });
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
    this.engine.restore(vertices, decisions, lastCut);
    // The one boundary for peer input: nothing a peer sends may reject unhandled and end the process.
    this.#o.transport?.onMessage((from, bytes) => {
      this.#onMessage(from, bytes).catch((err) => {
        if (!this.#stopped) this.#o.logger.error("protocol message failed", { peer: from, err });
      });
    });
    this.#tick = setInterval(() => this.#onTick(), this.#o.gossipIntervalMs ?? 100);
    this.#o.logger.info("consensus started", {
      vertices: vertices.length,
      decisions: decisions.length,
      params: this.engine.params,
    });
  }

  #onTick(): void {
    if (this.#stopped) return;
    this.engine.onGossipTick();
    // Parents that waiting vertices need are asked for again, from a random connected peer.
    if (++this.#ticks % WANTED_EVERY_TICKS === 0) {
      const wanted = this.#o.dag.wanted().slice(0, 256);
      const peers = this.#o.transport?.peers() ?? [];
      if (wanted.length && peers.length) {
        this.#send(peers[randomInt(peers.length)].peerId, { type: "getVertices", ids: wanted });
      }
      // A vertex settled or restored away without a decision here must not hold the window.
      for (const id of this.#inFlight) {
        if (this.engine.consensus.vertexStatus(id) !== "processing") this.#inFlight.delete(id);
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick !== null) clearInterval(this.#tick);
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    for (const t of this.#queryTimers.values()) clearTimeout(t);
    this.#queryTimers.clear();
  }

  /**
   * Takes a signed transaction into the next vertex this node issues, after
   * the `admit` check (the exchange ledger's dry run). Idempotent by
   * transaction id. Throws {@linkcode SubmitError} for a refusal.
   */
  async submit(bytes: Uint8Array): Promise<{ id: string; state: TxState }> {
    const info = this.#precheck(bytes);
    const id = toHex(info.id);
    const state = this.txState(id);
    if (state !== "unknown") {
      this.#m.submitted.inc({ result: "duplicate" });
      return { id, state };
    }
    if (this.#o.admit) {
      try {
        await this.#o.admit(bytes, info, {
          predecessorPending: () => this.#predecessorPending(info),
          pendingKey: (account) => this.#pendingKey(account),
        });
      } catch (error) {
        this.#m.submitted.inc({ result: "refused" });
        throw error;
      }
      // The node may be stopping, the mempool full, or the same transaction in by now.
      this.#checkRoom();
      const now = this.txState(id);
      if (now !== "unknown") return { id, state: now };
    }
    this.#mempool.set(id, bytes);
    this.#mempoolKeys.set(info.conflictKey, id);
    this.#mempoolKeyOf.set(id, info.conflictKey);
    this.#firstSeenMs.set(id, this.#o.nowMs());
    if (this.#batchBytes + 4 + bytes.length > VERTEX_TX_BYTES_MAX) this.#flush();
    this.#batch.push({ id, conflictKey: info.conflictKey, deps: [] });
    this.#batchBytes += 4 + bytes.length;
    this.#m.submitted.inc({ result: "queued" });
    if (this.#batch.length >= (this.#o.batchTxsMax ?? VERTEX_TXS_MAX)) this.#flush();
    else this.#scheduleFlush();
    return { id, state: "pending" };
  }

  /** The checks that need no ledger: decoding, chain, shutdown, mempool room. */
  #precheck(bytes: Uint8Array): TransactionInfo {
    if (this.#stopped) throw new SubmitError("shutting_down", "this node is shutting down; submit elsewhere or retry");
    const info = validateTransaction(bytes);
    if (toHex(info.tx.chainId) !== this.#o.genesis.chainIdHex) {
      throw new SubmitError(
        "wrong_chain",
        `the transaction is for chain ${toHex(info.tx.chainId).slice(0, 16)}…, this node runs ${
          this.#o.genesis.chainIdHex.slice(0, 16)
        }…`,
      );
    }
    this.#checkRoom();
    return info;
  }

  #checkRoom(): void {
    if (this.#stopped) throw new SubmitError("shutting_down", "this node is shutting down; submit elsewhere or retry");
    const pendingMax = this.#o.pendingTxsMax ?? PENDING_TXS_MAX;
    if (this.#firstSeenMs.size >= pendingMax) {
      this.#m.submitted.inc({ result: "busy" });
      throw new SubmitError(
        "node_busy",
        `this node has ${this.#firstSeenMs.size} submitted transactions undecided (at most ${pendingMax}); retry in a second or submit elsewhere`,
        1,
      );
    }
    if (this.#mempool.size >= MEMPOOL_MAX) {
      throw new SubmitError("mempool_full", `the mempool is full (${MEMPOOL_MAX} transactions); retry later`);
    }
  }

  /** The key of the account's create_account if it waits in this node's mempool. */
  #pendingKey(accountHex: string): Uint8Array | null {
    const id = this.#mempoolKeys.get(conflictKeyOf(accountHex, 0n));
    const bytes = id === undefined ? undefined : this.#mempool.get(id);
    if (bytes === undefined) return null;
    const { tx } = validateTransaction(bytes);
    return tx.kind === "create_account" ? tx.publicKey : null;
  }

  /**
   * Whether the transaction an account's nonce needs before it (n − 1 with the
   * exchange, else nonce 0: src/dag/carried.ts) is in this node's mempool or
   * undecided/accepted in consensus.
   */
  #predecessorPending(info: TransactionInfo): boolean {
    if (info.tx.nonce === 0n) return false;
    const key = conflictKeyOf(info.tx.account, requiredNonce(info.tx.nonce, this.#sequential));
    if (this.#mempoolKeys.has(key)) return true;
    return this.engine.consensus.conflictSet(key).some((t) => this.engine.consensus.txStatus(t) !== "rejected");
  }

  /** Nonces form a chain where the exchange ledger runs (src/dag/carried.ts). */
  get #sequential(): boolean {
    return this.#o.genesis.exchange !== null;
  }

  /** The conflict key of the transaction `t` needs before it, or null for nonce 0. */
  #predecessorKey(t: TxInput): string | null {
    const { account, nonce } = splitConflictKey(t.conflictKey);
    return nonce === 0n ? null : conflictKeyOf(account, requiredNonce(nonce, this.#sequential));
  }

  /**
   * Vertices a new vertex must descend from so that `tx` has the transaction
   * it needs before it in its causal past (judged at DAG admission): the
   * undecided carrier of that transaction's preferred one. An accepted
   * carrier is usually reached through the virtuous frontier; #placeGroup
   * makes sure.
   */
  #predecessorCarriers(tx: TxInput): string[] {
    const key = this.#predecessorKey(tx);
    if (key === null) return [];
    const c = this.engine.consensus;
    const carrier = c.preferredVertexOf(key);
    return carrier !== null && c.vertexStatus(carrier) === "processing" ? [carrier] : [];
  }

  txState(id: string): TxState {
    const d = this.#o.storage.getDecision(id);
    if (d) return d.status;
    const s = this.engine.consensus.txStatus(id);
    if (s) return s;
    return this.#mempool.has(id) ? "pending" : "unknown";
  }

  /**
   * Arms the batch timer: `batchDelayMs` while fewer than `batchWindow` own
   * vertices are undecided, else `batchDelayMaxMs`; an armed timer is only
   * ever brought forward.
   */
  #scheduleFlush(): void {
    const full = this.#inFlight.size >= (this.#o.batchWindow ?? BATCH_WINDOW);
    const delay = full ? this.#o.batchDelayMaxMs ?? BATCH_DELAY_MAX_MS : this.#o.batchDelayMs ?? BATCH_DELAY_MS;
    const due = this.#o.nowMs() + delay;
    if (this.#batchTimer !== null) {
      if (this.#batchDueMs <= due) return;
      clearTimeout(this.#batchTimer);
    }
    this.#batchDueMs = due;
    this.#batchTimer = setTimeout(() => this.#flush(), delay);
  }

  #flush(): void {
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    // A transaction a peer's vertex brought meanwhile is carried already: a second carrier would only compete.
    const batch = this.#batch.filter((t) => this.engine.consensus.txStatus(t.id) === undefined);
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.#stopped) return;
    this.#defer(this.#issueAll(batch));
  }

  /**
   * Issues `batch` in as few vertices as the rules allow; returns what must
   * wait for a later vertex (its predecessor not reachable yet).
   */
  #issueAll(batch: readonly TxInput[]): TxInput[] {
    // Two transactions of one conflict set cannot share a vertex: issue them apart. An account's
    // nonce n goes in the group of its n − 1 or a later one (groups are issued in order), and its
    // vertex descends from n − 1's carrier.
    const groups: TxInput[][] = [];
    const groupOfKey = new Map<string, number>();
    for (const tx of batch) {
      const { account, nonce } = splitConflictKey(tx.conflictKey);
      const after = nonce === 0n
        ? 0
        : groupOfKey.get(conflictKeyOf(account, requiredNonce(nonce, this.#sequential))) ?? 0;
      let g = groups.findIndex((g, i) => i >= after && !g.some((t) => t.conflictKey === tx.conflictKey));
      if (g < 0) g = groups.push([]) - 1;
      groups[g].push(tx);
      groupOfKey.set(tx.conflictKey, g);
    }
    const carrierOfKey = new Map<string, string>();
    const deferred: TxInput[] = [];
    for (const g of groups) {
      const placed = this.#placeGroup(g.filter((t) => !deferred.some((d) => sameAccount(d, t))), carrierOfKey);
      deferred.push(...placed.deferred);
      if (placed.txs.length === 0) continue;
      try {
        const v = this.engine.issue(placed.txs, placed.required);
        this.#inFlight.add(v.id);
        for (const t of placed.txs) carrierOfKey.set(t.conflictKey, v.id);
      } catch (e) {
        // Retry one by one so only the transaction at fault is dropped.
        this.#o.logger.warn("could not issue a vertex; retrying its transactions one by one", {
          err: e,
          txs: placed.txs.length,
        });
        for (const t of placed.txs) {
          try {
            const one = this.#placeGroup([t], carrierOfKey);
            if (one.txs.length === 0) {
              deferred.push(t);
              continue;
            }
            const v = this.engine.issue(one.txs, one.required);
            this.#inFlight.add(v.id);
            carrierOfKey.set(t.conflictKey, v.id);
          } catch (err) {
            this.#o.logger.warn("transaction dropped: it cannot be issued", { id: t.id, err });
            this.#m.submitted.inc({ result: "dropped" });
            this.#forget(t.id);
          }
        }
      }
    }
    return deferred;
  }

  /**
   * The parents a vertex carrying `g` needs so that each transaction's
   * previous nonce is in its causal past, judged as every node will judge it
   * (src/node/causal_past.ts): the carriers issued in this flush or still
   * processing are required first; a predecessor the planned parents still
   * do not reach gets one of its carriers required too. What cannot be
   * placed (no room for one more parent, or no live carrier yet) waits for
   * the next vertex, with the account's later nonces.
   */
  #placeGroup(
    g: readonly TxInput[],
    carrierOfKey: ReadonlyMap<string, string>,
  ): { txs: TxInput[]; required: string[]; deferred: TxInput[] } {
    const c = this.engine.consensus;
    const required = new Set<string>();
    for (const t of g) {
      const pred = this.#predecessorKey(t);
      if (pred === null || g.some((o) => o.conflictKey === pred)) continue;
      const issued = carrierOfKey.get(pred);
      if (issued !== undefined) required.add(issued);
      else for (const v of this.#predecessorCarriers(t)) required.add(v);
    }
    let requiredList = [...required].slice(0, PREDECESSOR_PARENTS_MAX);
    for (let attempt = 0;; attempt++) {
      const parents = this.engine.planParents(g, requiredList);
      const past = this.#o.dag.causalPast.of(parents);
      const earlier = new Set<string>();
      const unreached: TxInput[] = [];
      for (const t of g) {
        const pred = this.#predecessorKey(t);
        if (pred !== null && !earlier.has(pred) && !past.carriedInPast(pred)) unreached.push(t);
        earlier.add(t.conflictKey);
      }
      if (unreached.length === 0) return { txs: [...g], required: requiredList, deferred: [] };
      if (attempt === 0) {
        // A live carrier of each predecessor the plan misses (accepted ones too: 16 parents may not reach them all).
        const more = unreached.flatMap((t) =>
          this.#o.dag.causalPast.carriers(this.#predecessorKey(t)!).map((x) => x.vertex)
            .filter((v) => c.hasVertex(v) && c.vertexStatus(v) !== "rejected").slice(0, 1)
        );
        if (more.length > 0) {
          requiredList = [...new Set([...requiredList, ...more])];
          continue;
        }
      }
      const waiting = g.filter((t) => unreached.some((u) => sameAccount(u, t) && nonceOf(t) >= nonceOf(u)));
      return {
        txs: g.filter((t) => !waiting.includes(t)),
        required: requiredList,
        deferred: waiting,
      };
    }
  }

  /** Transactions whose predecessors cannot be reached yet go back to the batch, for the next vertex. */
  #defer(txs: readonly TxInput[]): void {
    for (const t of txs) {
      const tries = (this.#deferrals.get(t.id) ?? 0) + 1;
      if (tries > DEFERRALS_MAX) {
        this.#o.logger.warn("transaction dropped: its previous nonce never reached a vertex it could follow", {
          id: t.id,
        });
        this.#m.submitted.inc({ result: "dropped" });
        this.#deferrals.delete(t.id);
        this.#forget(t.id);
        continue;
      }
      this.#deferrals.set(t.id, tries);
      const bytes = this.#mempool.get(t.id);
      if (bytes === undefined) continue;
      this.#batch.push(t);
      this.#batchBytes += 4 + bytes.length;
    }
    if (this.#batch.length > 0) this.#scheduleFlush();
  }

  #reported(decisions: readonly Decision[]): void {
    this.#o.onStored?.(decisions);
    const now = this.#o.nowMs();
    const windowWasFull = this.#inFlight.size >= (this.#o.batchWindow ?? BATCH_WINDOW);
    for (const d of decisions) {
      this.#m.decisions.inc({ kind: d.kind, status: d.status });
      if (d.kind === "vertex") this.#inFlight.delete(d.id);
      if (d.kind === "tx") {
        const seen = this.#firstSeenMs.get(d.id);
        if (seen !== undefined && d.status === "accepted") this.#m.acceptance.observe({}, (now - seen) / 1000);
        this.#forget(d.id);
      }
    }
    // The window opened: what waits for the long delay goes out after the short one.
    if (windowWasFull && this.#batch.length > 0) this.#scheduleFlush();
  }

  #forget(txId: string): void {
    this.#dropFromMempool(txId);
    this.#firstSeenMs.delete(txId);
    this.#deferrals.delete(txId);
  }

  #dropFromMempool(txId: string): void {
    this.#mempool.delete(txId);
    const key = this.#mempoolKeyOf.get(txId);
    if (key === undefined) return;
    this.#mempoolKeyOf.delete(txId);
    if (this.#mempoolKeys.get(key) === txId) this.#mempoolKeys.delete(key);
  }

  #codec(): VertexCodec {
    const o = this.#o;
    return {
      build: (body: VertexBody): SignedVertex => {
        const parents = [...body.parents].sort();
        let round = 0n;
        for (const p of parents) {
          const r = o.dag.roundOf(p);
          if (r === null) throw new Error(`cannot build on unknown parent ${p}`);
          if (r + 1n > round) round = r + 1n;
        }
        const transactions = body.txs.map((t) => {
          const b = this.#mempool.get(t.id) ?? o.storage.getTransaction(t.id)?.bytes;
          if (!b) throw new Error(`no bytes for transaction ${t.id}`);
          return b;
        });
        const unsigned = {
          chainId: o.genesis.chainId,
          author: fromHex(o.validatorId),
          round,
          timestampMs: BigInt(body.timestampMs),
          parents: parents.map(fromHex),
          transactions,
        };
        const signature = o.syncSigner.sign(vertexSigningMessage(unsigned));
        const bytes = encodeVertex({ ...unsigned, signature });
        const stored = o.dag.admitOwn(bytes);
        if (stored.status === "rejected") throw new Error(`own vertex refused: ${stored.message} [${stored.code}]`);
        // Stored with the vertex now: the mempool no longer needs the bytes.
        for (const t of body.txs) this.#dropFromMempool(t.id);
        const info = (stored.id === undefined ? undefined : o.dag.decoded(stored.id)) ?? validateVertex(bytes);
        return toSignedVertex(info, bytes, o.dag.conflictKeysOf(info));
      },
      // Every vertex the engine gets came through the DAG service, which checked its id and signature.
      check: (v) => (o.dag.roundOf(v.id) !== null ? "ok" : "bad_signature"),
    };
  }

  #send(to: string, m: ProtocolMessage): boolean {
    const t = this.#o.transport;
    if (!t || this.#stopped) return false;
    const r = t.send(to, encodeMessage(m));
    if (r !== "queued") this.#m.messages.inc({ type: `send_${r}` });
    return r === "queued";
  }

  /** Sends vertex bytes to a peer, as many per message as fit. */
  #sendVertexBytes(to: string, all: readonly Uint8Array[]): void {
    let chunk: Uint8Array[] = [];
    let bytes = 0;
    for (const v of all) {
      if (chunk.length && (chunk.length >= VERTICES_PER_MESSAGE_MAX || bytes + v.length > MESSAGE_VERTEX_BYTES_MAX)) {
        this.#send(to, { type: "vertices", vertices: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(v);
      bytes += v.length;
    }
    if (chunk.length) this.#send(to, { type: "vertices", vertices: chunk });
  }

  #sender(): Sender {
    return {
      sendVertices: (to, vertices) =>
        this.#sendVertexBytes(
          to,
          vertices.map((v) => v.payload ?? this.#o.storage.getVertex(v.id)?.bytes).filter((b) => b !== undefined),
        ),
      sendGetVertices: (to, ids) => void this.#send(to, { type: "getVertices", ids: [...ids].slice(0, 256) }),
      sendQuery: (to, requestId, frontier) => {
        const key = `${to}:${requestId}`;
        const sent = this.#send(to, { type: "query", requestId, frontier: [...frontier] });
        // Exactly one of onVotes / onQueryFailed follows every query.
        const t = setTimeout(() => {
          this.#queryTimers.delete(key);
          if (!this.#stopped) this.engine.onQueryFailed(to, requestId);
        }, sent ? (this.#o.queryTimeoutMs ?? 2_000) : 0);
        this.#queryTimers.set(key, t);
      },
      sendVotes: (to, vote) =>
        void this.#send(to, {
          type: "votes",
          querier: vote.querier,
          requestId: vote.requestId,
          responder: vote.responder,
          frontier: [...vote.frontier],
        }),
      sendFrontier: (to, frontier, replyWanted) =>
        void this.#send(to, { type: "frontier", frontier: [...frontier], replyWanted }),
    };
  }

  async #onMessage(from: string, bytes: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    let m: ProtocolMessage;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      this.#m.messages.inc({ type: "malformed" });
      this.#o.logger.warn("malformed protocol message", { peer: from, err: e });
      return;
    }
    this.#m.messages.inc({ type: m.type });
    switch (m.type) {
      case "vertices":
        for (const v of m.vertices) {
          const r = await this.#o.dag.submit(v, "peer", from);
          if (this.#stopped) return;
          if (r.status === "waiting" && r.missing?.length) {
            this.#send(from, { type: "getVertices", ids: [...r.missing] });
          }
          // Stored earlier but not in the engine (it dropped it: full pending buffer): hand it on.
          if (r.status === "duplicate" && r.id && !this.engine.consensus.hasVertex(r.id)) {
            const stored = this.#o.storage.getVertex(r.id)!.bytes;
            this.engine.onVertices(from, [toSignedVertex(validateVertex(stored), stored)]);
          }
        }
        break;
      case "getVertices":
        this.#sendVertexBytes(
          from,
          m.ids.map((id) => this.#o.storage.getVertex(id)?.bytes).filter((b) => b !== undefined),
        );
        break;
      case "query":
        this.engine.onQuery(from, m.requestId, m.frontier);
        break;
      case "frontier":
        this.engine.onFrontier(from, m.frontier, m.replyWanted);
        break;
      case "votes":
        this.#onVotes(from, m);
        break;
      default:
        await this.#o.onOtherMessage?.(from, m);
    }
  }

  /** Sends a protocol message to one peer; false when it could not be queued. */
  send(to: string, m: ProtocolMessage): boolean {
    return this.#send(to, m);
  }

  /**
   * A vote counts as the sending peer's only (the authenticated channel names
   * it; the engine refuses one naming another responder), for an open query
   * of ours to that peer, once: votes carry no signature of their own.
   */
  #onVotes(from: string, m: Extract<ProtocolMessage, { type: "votes" }>): void {
    const vote: Vote = { querier: m.querier, requestId: m.requestId, responder: m.responder, frontier: m.frontier };
    if (this.#stopped) return;
    const accepted = this.engine.stats.votesAccepted;
    this.engine.onVotes(from, vote);
    // Only a vote the engine took answers the query; after a refused one its timeout must still fire.
    this.#m.votes.inc({ result: this.engine.stats.votesAccepted > accepted ? "accepted" : "refused" });
    if (this.engine.stats.votesAccepted > accepted) {
      const key = `${from}:${vote.requestId}`;
      const t = this.#queryTimers.get(key);
      if (t !== undefined) {
        clearTimeout(t);
        this.#queryTimers.delete(key);
      }
    }
  }
}

const TWO_256 = 1n << 256n;

/**
 * Keeps an order-independent accumulator of the accepted transactions (the
 * sum of their BLAKE3 ids mod 2^256) in the meta table, in the transaction
 * that records the decisions: equal on nodes that accepted the same set, and
 * read in constant time (the status endpoint shows it).
 */
function recordAcceptedTxs(storage: Storage, decisions: readonly Decision[]): void {
  let sum = 0n;
  for (const d of decisions) {
    if (d.kind === "tx" && d.status === "accepted") sum += BigInt(`0x${toHex(blake3(fromHex(d.id)))}`);
  }
  if (sum === 0n) return;
  const prior = BigInt(`0x${storage.getMeta("accepted_tx_sum") ?? "0"}`);
  storage.setMeta("accepted_tx_sum", ((prior + sum) % TWO_256).toString(16).padStart(64, "0"));
}

/** The accumulator of accepted transactions (see recordAcceptedTxs): 64 hex digits. */
export function acceptedTxSum(storage: Storage): string {
  return storage.getMeta("accepted_tx_sum") ?? "0".repeat(64);
}

function nonceOf(t: TxInput): bigint {
  return splitConflictKey(t.conflictKey).nonce;
}

/** Conflict keys are the account's 64 hex digits, then the nonce's. */
function sameAccount(a: TxInput, b: TxInput): boolean {
  return a.conflictKey.slice(0, 64) === b.conflictKey.slice(0, 64);
}

/** Uniform in [0, max) from the OS's randomness, without modulo bias. */
function randomInt(max: number): number {
  if (max <= 1) return 0;
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf); while (buf[0] >= limit);
  return buf[0] % max;
}

/**
 * The engine's view of a core vertex; `payload` is the canonical signed
 * bytes. `conflictKeys` (one per carried transaction, when the caller has
 * them) saves decoding each transaction again.
 */
export function toSignedVertex(
  info: VertexInfo,
  bytes: Uint8Array,
  conflictKeys?: readonly string[],
): SignedVertex {
  return {
    id: toHex(info.id),
    author: toHex(info.vertex.author),
    parents: info.vertex.parents.map(toHex),
    txs: info.vertex.transactions.map((t, i) => ({
      id: toHex(info.transactionIds[i]),
      conflictKey: conflictKeys?.[i] ?? validateTransaction(t).conflictKey,
      deps: [],
    })),
    timestampMs: Number(info.vertex.timestampMs),
    signature: info.vertex.signature,
    payload: bytes,
  };
}
