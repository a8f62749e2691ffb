import {
  ConsensusError,
  type Cut,
  DagConsensus,
  type Decision,
  type Parameters,
  parametersForValidatorCount,
  RestoreError,
  type SettledView,
  type TxInput,
  VERTEX_PARENTS_MAX,
  VERTEX_TXS_MAX,
  VOTE_FRONTIER_MAX,
} from "../consensus/mod.ts";
import { CoverageIndex, type CutPosition } from "../dag/coverage.ts";
import type {
  Clock,
  DecisionStore,
  Rng,
  Sender,
  SignedVertex,
  Signer,
  Verifier,
  VertexBody,
  VertexCodec,
  Vote,
} from "./types.ts";

export interface EngineConfig {
  /** Scaled down with {@linkcode parametersForValidatorCount} if needed. */
  readonly params: Parameters;
  /** Genesis validator ids, this node's included. */
  readonly validators: readonly string[];
  /** Polls in flight at once. */
  readonly pollsOutstandingMax?: number;
  /** Parents named by a vertex this node issues. */
  readonly issueParentsMax?: number;
  /** Vertices held while their parents are fetched; beyond, new ones wait for a refetch. */
  readonly pendingVerticesMax?: number;
  /** A missing vertex is requested again from another peer after this long. */
  readonly fetchRetryMs?: number;
  /**
   * A transaction none of whose carriers is alive (all its vertices were
   * rejected) is re-issued on clean parents: at once by the author of one of
   * its vertices, by anyone after three times this long.
   */
  readonly reissueGraceMs?: number;
  /**
   * Request id of this engine's first poll (default 1); ids then count up and
   * wrap within [1, 2^32). A restarted node should start well past the ids of
   * its previous run (a random u32 will do), so that votes still in flight for
   * the old run's queries cannot count in the new run's.
   */
  readonly firstRequestId?: number;
  /** Closing cuts (wasm/LEDGER.md, "Settlement"); without it nothing is settled. */
  readonly settlement?: SettlementConfig;
}

/** When cuts close. The first two are chain parameters (every node must use the same); the others local policy. */
export interface SettlementConfig {
  /** Cut boundaries are multiples of this (ms of vertex time). */
  readonly intervalMs: number;
  /** Most vertices one cut settles; a larger interval is split where that keeps cuts an interval apart. */
  readonly verticesMax: number;
  /**
   * A boundary closes only once this node's clock is this far past it (late
   * vertices, clock skew). At most half the interval: the rest is the slack
   * an author has to learn a cut before its vertices must cover it (cut.ts).
   */
  readonly lagMs: number;
  /** The last closed cut and its sequence number (after a restart or a state sync). */
  readonly position?: CutPosition;
  readonly seq?: number;
  /** The cut before it: new vertices must descend from its whole frontier (src/dag/coverage.ts). */
  readonly previous?: CutPosition;
}

/** Request ids travel as u32. */
const REQUEST_ID_MAX = 0xffff_ffff;

export interface EngineDeps {
  readonly sender: Sender;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly store: DecisionStore;
  /** This node's validator id (votes carry no signature: see {@linkcode Vote}). */
  readonly signer: Pick<Signer, "validatorId">;
  /** The genesis validator set. */
  readonly verifier: Pick<Verifier, "isValidator">;
  /** Builds this node's vertices and checks received vertices' ids and signatures. */
  readonly codec: VertexCodec;
  /** Called with decisions only after the store recorded them. */
  readonly onDecisions?: (decisions: readonly Decision[]) => void;
  /** What settled cuts dropped from memory; needed with `settlement`. */
  readonly settled?: SettledView;
  /** Called with each closed cut, after the store recorded it and after every decision before it was reported. */
  readonly onCut?: (cut: Cut) => void;
  /**
   * Where settled vertices go when they leave memory, so that lagging peers
   * can still fetch them (the node serves fetches from its database instead).
   */
  readonly archive?: { put(vertex: SignedVertex): void; get(id: string): SignedVertex | undefined };
  /**
   * Issues orphaned transactions again (DagConsensus.orphanedTxs) when the
   * host must choose their parents itself (the node: an account's previous
   * nonce must be in the new vertex's causal past). Without it the engine
   * issues each with `issue`.
   */
  readonly reissue?: (txs: readonly TxInput[]) => void;
}

/** Counters for metrics and for the simulation's assertions. */
export interface EngineStats {
  pollsStarted: number;
  pollsFinished: number;
  queriesFailed: number;
  votesAccepted: number;
  /** Votes or vertices whose signer is not in the genesis set. */
  unknownValidator: number;
  /** Vertices whose signature does not verify. */
  badSignature: number;
  /** Votes for no open query of ours, from a responder not asked, or oversized. */
  unexpectedVotes: number;
  /** Votes naming a responder other than the peer that sent them (an impersonation attempt). */
  wrongSenderVotes: number;
  /** Votes for a query of ours that had already ended early. */
  lateVotes: number;
  /** Vertices with a wrong id or breaking a structural rule. */
  invalidVertices: number;
  /** Vertices not held because the pending buffer was full. */
  pendingOverflow: number;
  /** Vertices below the settled cut, or not descending from its whole frontier. */
  staleVertices: number;
  cutsClosed: number;
  /** Undecided vertices rejected because a certified cut past them does not hold them. */
  verticesAbandoned: number;
  verticesIssued: number;
  txsReissued: number;
}

interface Poll {
  readonly pending: Set<string>;
  readonly votes: (readonly string[])[];
}

const VERTICES_PER_MESSAGE_MAX = 256;
const IDS_PER_REQUEST_MAX = 64;
/** Outstanding fetches remembered for retry pacing. */
const REQUESTED_IDS_MAX = 8192;
/** Cuts one gossip tick may close (an interval over verticesMax splits into several). */
const CUTS_PER_TICK_MAX = 64;

/**
 * Drives one node's {@linkcode DagConsensus} from messages. Every handler is
 * named after the message that triggers it and runs to completion
 * synchronously; the engine owns no timers (a query's timeout arrives as
 * `onQueryFailed`, periodic gossip as `onGossipTick`).
 *
 * Every vertex and vote from outside is checked before it reaches consensus:
 * its author/responder must be a genesis validator; a vertex's id and
 * signature must pass the {@linkcode VertexCodec}. A vote carries no
 * signature (see {@linkcode Vote}): it must come from its responder itself
 * (`from` is the peer the authenticated channel names, so no one else can
 * speak for a validator), answer an open query of ours to that responder,
 * and counts once (the query's pending entry is taken), so it cannot be
 * forged, replayed into another query or attributed to another validator. Decisions are recorded in the store before
 * anyone else hears of them. After a restart, {@linkcode Engine.restore}
 * rebuilds the state from what the node stored.
 */
export class Engine {
  readonly id: string;
  readonly params: Parameters;
  readonly stats: EngineStats = {
    pollsStarted: 0,
    pollsFinished: 0,
    queriesFailed: 0,
    votesAccepted: 0,
    unknownValidator: 0,
    badSignature: 0,
    unexpectedVotes: 0,
    wrongSenderVotes: 0,
    lateVotes: 0,
    invalidVertices: 0,
    pendingOverflow: 0,
    staleVertices: 0,
    cutsClosed: 0,
    verticesAbandoned: 0,
    verticesIssued: 0,
    txsReissued: 0,
  };
  readonly #consensus: DagConsensus;
  readonly #deps: EngineDeps;
  readonly #validators: readonly string[];
  readonly #pollsOutstandingMax: number;
  readonly #issueParentsMax: number;
  readonly #pendingVerticesMax: number;
  readonly #fetchRetryMs: number;
  readonly #reissueGraceMs: number;
  readonly #settlement: SettlementConfig | null;
  /** Signed copies of every vertex in consensus, to serve fetches. */
  readonly #vertices = new Map<string, SignedVertex>();
  /** Verified vertices waiting for parents; bounded by pendingVerticesMax. */
  readonly #pending = new Map<string, SignedVertex>();
  /** Vertex id -> when it was last requested. */
  readonly #requestedAt = new Map<string, number>();
  readonly #polls = new Map<number, Poll>();
  /** Stuck tx id -> when this node first saw it stuck. */
  readonly #stuckSince = new Map<string, number>();
  #nextRequestId: number;
  /** True until the first message or restore(); restore() needs a fresh engine. */
  #fresh = true;
  /** While restore() runs: collects decisions instead of reporting them. */
  #restoring: Decision[] | null = null;
  /** While restore() runs: the transactions and conflict keys it restores. */
  #restoreMask: { txs: Set<string>; keys: Set<string> } | null = null;
  /** What the unsettled vertices in consensus descend from, for the settled-frontier rule. */
  readonly #coverage: CoverageIndex;
  /** The newest cut the validators certified (onCertifiedCut), if newer than this node's. */
  #certified: CutPosition | null = null;
  /** Why the next cut cannot close yet (null when nothing waits). */
  #cutBlocked: { readonly boundaryMs: number; readonly blockers: number; readonly sinceMs: number } | null = null;

  constructor(config: EngineConfig, deps: EngineDeps) {
    this.id = deps.signer.validatorId;
    this.#validators = [...new Set(config.validators)].sort();
    if (!this.#validators.includes(this.id)) {
      throw new Error(`Cannot start engine: validator ${this.id} is not in the genesis set`);
    }
    this.params = parametersForValidatorCount(config.params, this.#validators.length);
    this.#settlement = config.settlement ?? null;
    if (this.#settlement !== null && 2 * this.#settlement.lagMs > this.#settlement.intervalMs) {
      throw new RangeError(
        `Cannot settle with a lag of ${this.#settlement.lagMs} ms: at most half the interval (${this.#settlement.intervalMs} ms)`,
      );
    }
    const settled = deps.settled;
    this.#consensus = new DagConsensus(this.params, {
      // While restore() runs, what it restores is judged by the decisions it is given, not as settled.
      settled: settled === undefined ? undefined : {
        isSettled: (id) => settled.isSettled(id),
        txStatus: (id) => this.#restoreMask?.txs.has(id) ? undefined : settled.txStatus(id),
        winner: (key) => this.#restoreMask?.keys.has(key) ? null : settled.winner(key),
      },
      position: config.settlement?.position,
      seq: config.settlement?.seq,
    });
    this.#coverage = new CoverageIndex(this.#consensus.position, config.settlement?.previous);
    this.#deps = deps;
    this.#pollsOutstandingMax = config.pollsOutstandingMax ?? 4;
    this.#issueParentsMax = Math.min(config.issueParentsMax ?? VERTEX_PARENTS_MAX, VERTEX_PARENTS_MAX);
    this.#pendingVerticesMax = config.pendingVerticesMax ?? 4096;
    this.#fetchRetryMs = config.fetchRetryMs ?? 500;
    this.#reissueGraceMs = config.reissueGraceMs ?? 1_000;
    this.#nextRequestId = config.firstRequestId ?? 1;
    if (!Number.isInteger(this.#nextRequestId) || this.#nextRequestId < 1 || this.#nextRequestId > REQUEST_ID_MAX) {
      throw new RangeError(
        `Cannot start engine: firstRequestId is ${config.firstRequestId}, expected 1..${REQUEST_ID_MAX}`,
      );
    }
  }

  /** Read-only view for metrics, tests and the HTTP layer. */
  get consensus(): Pick<
    DagConsensus,
    | "preferredFrontier"
    | "txStatus"
    | "vertexStatus"
    | "hasVertex"
    | "processing"
    | "polls"
    | "lastPollSuccesses"
    | "size"
    | "position"
    | "equivocatingVotes"
    | "conflictSet"
    | "preferenceOf"
    | "undecided"
    | "vertexInfo"
    | "txInfo"
    | "virtuousFrontier"
    | "preferredVertexOf"
    | "orphanedTxs"
    | "verticesOf"
  > {
    return this.#consensus;
  }

  vertex(id: string): SignedVertex | undefined {
    return this.#vertices.get(id);
  }

  /** Every vertex in consensus, parents before children (the order they were added). */
  vertices(): SignedVertex[] {
    return [...this.#vertices.values()];
  }

  pollsOutstanding(): number {
    return this.#polls.size;
  }

  /**
   * Rebuilds this node's state after a restart, before any message: the DAG
   * from `vertices` (every vertex the node stored, parents before children)
   * and the outcomes from `decisions` (every decision its store holds), with
   * {@linkcode DagConsensus.restoreDecisions}: each decision holds again (an
   * accepted transaction's conflicting ones are rejected and stay so, whatever
   * later polls say), none of them is recorded or reported again, and what is
   * undecided is polled as usual from the next message or gossip tick on
   * (restore sends nothing).
   *
   * The vertices are trusted to be ones this node checked before storing:
   * their ids and signatures are not checked again (the codec is not called).
   * Vertices from outside the genesis set or breaking a structural rule are
   * dropped and counted as onVertices() would; one whose parents are missing
   * waits in the pending buffer and is fetched like any other.
   *
   * Decisions that follow from the restored ones but were not stored (a crash
   * between a decision and its consequences) are recorded and reported now,
   * before restore returns. Throws {@linkcode RestoreError} if this engine is
   * not fresh, or if a decision names an id that no restored vertex carries
   * or contradicts the others; the engine must then be discarded.
   */
  restore(
    vertices: readonly SignedVertex[],
    decisions: readonly Decision[],
    lastCut: readonly { readonly id: string; readonly parents: readonly string[]; readonly timestampMs: number }[] = [],
  ): void {
    if (!this.#fresh) {
      throw new RestoreError("Cannot restore: this engine has handled messages or was restored already; use a new one");
    }
    this.#fresh = false;
    const derived: Decision[] = [];
    this.#restoring = derived;
    const frontier = new Set(this.#consensus.position.frontier);
    const held = vertices.filter((v) => !frontier.has(v.id));
    this.#restoreMask = {
      txs: new Set(held.flatMap((v) => v.txs.map((t) => t.id))),
      keys: new Set(held.flatMap((v) => v.txs.map((t) => t.conflictKey))),
    };
    // Decisions on what a cut settled (the frontier, and transactions carried by nothing restored) stay settled;
    // a decision on anything else unknown is a broken store, refused below.
    const restorable = new Set([...held.map((v) => v.id), ...this.#restoreMask.txs]);
    const settled = this.#deps.settled;
    const settledAway = (d: Decision) =>
      d.kind === "vertex"
        ? frontier.has(d.id) || settled?.isSettled(d.id) === true
        : settled?.txStatus(d.id) !== undefined;
    decisions = decisions.filter((d) => restorable.has(d.id) || !settledAway(d));
    // The last cut's vertices (settled, not held by consensus) may still be named as parents: new vertices must
    // descend from the frontier of the cut before it, and reach it through them.
    for (const v of lastCut) this.#coverage.add(v.id, v.parents, v.timestampMs);
    try {
      for (const v of vertices) {
        if (this.#vertices.has(v.id) || this.#pending.has(v.id)) continue;
        if (frontier.has(v.id)) {
          this.#consensus.addSettled(v);
          this.#vertices.set(v.id, v);
          this.#coverage.add(v.id, v.parents, v.timestampMs);
          continue;
        }
        if (!this.#checkVertex(v, false)) continue;
        // Straight in when the parents are known: the pending buffer is too small for a whole DAG.
        if (v.parents.every((p) => this.#consensus.hasVertex(p))) {
          this.#addToConsensus(v);
        } else if (this.#pending.size < this.#pendingVerticesMax) {
          this.#pending.set(v.id, v);
        } else {
          this.stats.pendingOverflow++;
        }
      }
      this.#drainPending(this.id);
      derived.push(...this.#consensus.restoreDecisions(decisions));
    } finally {
      this.#restoring = null;
      this.#restoreMask = null;
    }
    const given = new Set(decisions.map((d) => `${d.kind}:${d.id}:${d.status}`));
    this.#report(derived.filter((d) => !given.has(`${d.kind}:${d.id}:${d.status}`)));
  }

  /**
   * Issues a vertex carrying `txs` on top of the virtuous frontier (and of
   * `requiredParents`, at most issueParentsMax − 1 of them), gossips
   * it to every validator and starts polling. Returns the signed vertex.
   * Throws a ConsensusError for transactions that cannot share a vertex.
   */
  issue(txs: readonly TxInput[], requiredParents: readonly string[] = []): SignedVertex {
    this.#fresh = false;
    if (txs.length === 0 || txs.length > VERTEX_TXS_MAX) {
      throw new RangeError(`Cannot issue a vertex of ${txs.length} transactions: expected 1..${VERTEX_TXS_MAX}`);
    }
    const parents = this.planParents(txs, requiredParents);
    // Never before a parent: ledger time (a vertex's timestamp) then only grows along causal chains.
    // Never below the settled cut either.
    let timestampMs = Math.max(this.#coverage.position.boundaryMs, Math.floor(this.#deps.clock.nowMs()));
    for (const p of parents) timestampMs = Math.max(timestampMs, this.#vertices.get(p)?.timestampMs ?? 0);
    const body: VertexBody = {
      author: this.id,
      parents,
      txs: txs.map((t) => ({ id: t.id, conflictKey: t.conflictKey, deps: [...t.deps] })),
      timestampMs,
    };
    const vertex = this.#deps.codec.build(body);
    if (vertex.author !== this.id) {
      throw new Error(`Cannot issue a vertex: the codec built one authored by ${vertex.author}, not ${this.id}`);
    }
    const error = this.#addToConsensus(vertex);
    if (error !== null) throw error;
    this.stats.verticesIssued++;
    for (const v of this.#validators) {
      if (v !== this.id) this.#deps.sender.sendVertices(v, [vertex]);
    }
    this.#maybePoll();
    return vertex;
  }

  /**
   * The parents `issue(txs, requiredParents)` would give its vertex now: the
   * required ones that are known (at most issueParentsMax − 1), the oldest
   * tips of the virtuous frontier, and the settled frontier vertices none of
   * them descends from. Pure over the current state.
   */
  planParents(txs: readonly TxInput[], requiredParents: readonly string[] = []): string[] {
    // Clean parents only (an honest transaction must not wait on a contest), except the
    // ones the caller requires (e.g. the carrier of the same account's previous nonce).
    const frontier = this.#consensus.virtuousFrontier(txs);
    const required = [...new Set(requiredParents)]
      .filter((p) => this.#consensus.hasVertex(p))
      .slice(0, this.#issueParentsMax - 1);
    const room = this.#issueParentsMax - required.length;
    // Oldest tips first: a tip nobody builds on would in time fall below the settled cut.
    const age = (id: string) => this.#vertices.get(id)?.timestampMs ?? 0;
    const oldest = frontier.filter((p) => !required.includes(p))
      .sort((a, b) => age(a) - age(b) || (a < b ? -1 : 1)).slice(0, room);
    return this.#covering([...required, ...oldest]);
  }

  /**
   * `parents`, plus the settled frontier vertices none of them descends from
   * (every new vertex must descend from the whole frontier), in place of the
   * last ordinary ones when there is no room.
   */
  #covering(parents: readonly string[]): string[] {
    // The frontier of this node's last cut (covering it covers every cut before), and that of the newest certified
    // one (peers ahead of this node require it): a vertex that misses one would be refused by whoever closed it.
    const targets = new Set(this.#coverage.position.frontier);
    const certified = this.#certified !== null && this.#certified.boundaryMs > this.#coverage.position.boundaryMs
      ? this.#certified.frontier
      : [];
    for (const f of certified) {
      if (this.#consensus.hasVertex(f) && this.#consensus.vertexStatus(f) !== "rejected") targets.add(f);
    }
    const missing = this.#consensus.notReachedFrom(parents, [...targets]);
    if (missing.length === 0) return [...parents];
    const out = [...parents];
    for (const f of missing) {
      if (this.#consensus.notReachedFrom(out, [f]).length === 0) continue; // reached through one added before
      if (out.length >= VERTEX_PARENTS_MAX) {
        // Drop the last ordinary parent (required ones come first) whose ancestry adds none of the targets.
        const spare = out.findLastIndex((p) => !targets.has(p));
        if (spare < 0) break;
        out.splice(spare, 1);
      }
      out.push(f);
    }
    return out;
  }

  /** Vertices arrived (gossip or an answer to a fetch). */
  onVertices(from: string, vertices: readonly SignedVertex[]): void {
    this.#fresh = false;
    for (const v of vertices.slice(0, VERTICES_PER_MESSAGE_MAX)) {
      if (this.#vertices.has(v.id) || this.#pending.has(v.id)) continue;
      if (!this.#checkVertex(v, true)) continue;
      if (this.#pending.size >= this.#pendingVerticesMax) {
        this.stats.pendingOverflow++;
        continue;
      }
      this.#pending.set(v.id, v);
    }
    this.#drainPending(from);
    this.#maybePoll();
  }

  /** A peer asks for vertices by id. */
  onGetVertices(from: string, ids: readonly string[]): void {
    this.#fresh = false;
    const found: SignedVertex[] = [];
    for (const id of ids.slice(0, IDS_PER_REQUEST_MAX)) {
      const v = this.#vertices.get(id) ?? this.#pending.get(id) ?? this.#deps.archive?.get(id);
      if (v !== undefined) found.push(v);
    }
    if (found.length > 0) this.#deps.sender.sendVertices(from, found);
  }

  /** A peer polls us: answer with our preferred frontier (the transport bounds how often: src/net/peer_budget.ts). */
  onQuery(from: string, requestId: number, frontier: readonly string[]): void {
    this.#fresh = false;
    if (!this.#deps.verifier.isValidator(from)) {
      this.stats.unknownValidator++;
      return;
    }
    this.#fetchUnknown(from, frontier);
    const vote: Vote = { querier: from, requestId, responder: this.id, frontier: this.#consensus.preferredFrontier() };
    this.#deps.sender.sendVotes(from, vote);
  }

  /** A vote arrived from peer `from` (named by the authenticated channel): it counts only as `from`'s. */
  onVotes(from: string, vote: Vote): void {
    this.#fresh = false;
    if (vote.responder !== from) {
      this.stats.wrongSenderVotes++;
      return;
    }
    const poll = this.#polls.get(vote.requestId);
    if (vote.querier !== this.id || poll === undefined || !poll.pending.has(vote.responder)) {
      const late = vote.querier === this.id && poll === undefined && vote.requestId < this.#nextRequestId;
      if (late) this.stats.lateVotes++;
      else this.stats.unexpectedVotes++;
      return;
    }
    if (!this.#deps.verifier.isValidator(vote.responder)) {
      this.stats.unknownValidator++;
      return;
    }
    if (vote.frontier.length > VOTE_FRONTIER_MAX) {
      this.stats.unexpectedVotes++; // no honest engine sends more
      return;
    }
    this.stats.votesAccepted++;
    poll.pending.delete(vote.responder);
    poll.votes.push([...vote.frontier]);
    this.#fetchUnknown(from, vote.frontier);
    if (this.#consensus.pollSettled(poll.votes, poll.pending.size)) this.#finishPoll(vote.requestId);
  }

  /** The transport gave up on our query to `from` (timeout or unreachable). */
  onQueryFailed(from: string, requestId: number): void {
    this.#fresh = false;
    const poll = this.#polls.get(requestId);
    if (poll === undefined || !poll.pending.delete(from)) return;
    this.stats.queriesFailed++;
    if (this.#consensus.pollSettled(poll.votes, poll.pending.size)) this.#finishPoll(requestId);
  }

  /** A peer advertises its frontier (anti-entropy gossip). */
  onFrontier(from: string, frontier: readonly string[], replyWanted: boolean): void {
    this.#fresh = false;
    if (!this.#deps.verifier.isValidator(from)) {
      this.stats.unknownValidator++;
      return;
    }
    this.#fetchUnknown(from, frontier);
    if (replyWanted) this.#deps.sender.sendFrontier(from, this.#consensus.preferredFrontier(), false);
  }

  /**
   * Periodic housekeeping, delivered by the host: swaps frontiers with one
   * random validator, re-issues orphans whose grace ran out, and restarts
   * polling if anything is undecided.
   */
  onGossipTick(): void {
    this.#fresh = false;
    const peers = this.#validators.filter((v) => v !== this.id);
    if (peers.length > 0) {
      const peer = peers[this.#deps.rng.nextInt(peers.length)];
      this.#deps.sender.sendFrontier(peer, this.#consensus.preferredFrontier(), true);
      this.#request(peer, this.#missingParents());
    }
    this.#reissueStuck();
    this.#maybeCut();
    this.#maybePoll();
  }

  /** Genesis author, structural limits and, with `checkCodec`, id and signature; counts refusals. */
  #checkVertex(v: SignedVertex, checkCodec: boolean): boolean {
    if (!this.#deps.verifier.isValidator(v.author)) {
      this.stats.unknownValidator++;
      return false;
    }
    if (v.parents.length > VERTEX_PARENTS_MAX || v.txs.length > VERTEX_TXS_MAX) {
      this.stats.invalidVertices++;
      return false;
    }
    if (v.timestampMs < this.#coverage.position.boundaryMs) {
      this.stats.staleVertices++;
      return false;
    }
    if (!checkCodec) return true;
    const verdict = this.#deps.codec.check(v);
    if (verdict === "bad_id") this.stats.invalidVertices++;
    else if (verdict === "bad_signature") this.stats.badSignature++;
    return verdict === "ok";
  }

  /** Adds every pending vertex whose parents are known; fetches the rest. */
  #drainPending(from: string): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const [id, v] of this.#pending) {
        if (v.parents.every((p) => this.#consensus.hasVertex(p))) {
          this.#pending.delete(id);
          progress = true;
          if (this.#restoring === null && !this.#coverage.check(v.parents, v.timestampMs).ok) {
            this.stats.staleVertices++;
            continue;
          }
          this.#addToConsensus(v);
        }
      }
    }
    this.#request(from, this.#missingParents());
  }

  /** Parents of pending vertices that are neither known nor pending, sorted. */
  #missingParents(): string[] {
    const missing = new Set<string>();
    for (const v of this.#pending.values()) {
      for (const p of v.parents) if (!this.#consensus.hasVertex(p) && !this.#pending.has(p)) missing.add(p);
    }
    return [...missing].sort();
  }

  /** Adds a checked vertex; returns the structural error if consensus refused it. */
  #addToConsensus(v: SignedVertex): ConsensusError | null {
    let decisions: Decision[];
    try {
      decisions = this.#consensus.add(v);
    } catch (e) {
      if (!(e instanceof ConsensusError)) throw e;
      this.stats.invalidVertices++;
      return e;
    }
    this.#vertices.set(v.id, v);
    this.#coverage.add(v.id, v.parents, v.timestampMs);
    this.#requestedAt.delete(v.id);
    this.#report(decisions);
    return null;
  }

  #fetchUnknown(from: string, ids: readonly string[]): void {
    const unknown = ids.slice(0, VOTE_FRONTIER_MAX).filter((id) =>
      !this.#consensus.hasVertex(id) && !this.#pending.has(id)
    );
    // A peer naming vertices we hold pending likely has their missing ancestors too.
    const waiting = ids.some((id) => this.#pending.has(id)) ? this.#missingParents() : [];
    this.#request(from, [...unknown, ...waiting]);
  }

  #request(from: string, ids: readonly string[]): void {
    if (from === this.id) return;
    const now = this.#deps.clock.nowMs();
    const due = ids.filter((id) => {
      const at = this.#requestedAt.get(id);
      return at === undefined || now - at >= this.#fetchRetryMs;
    }).slice(0, IDS_PER_REQUEST_MAX);
    if (due.length === 0) return;
    // Ids nobody ever serves (a Byzantine peer can name any) must not pile up.
    if (this.#requestedAt.size + due.length > REQUESTED_IDS_MAX) this.#requestedAt.clear();
    for (const id of due) this.#requestedAt.set(id, now);
    this.#deps.sender.sendGetVertices(from, due);
  }

  #maybePoll(): void {
    while (this.#polls.size < this.#pollsOutstandingMax && this.#consensus.processing()) {
      this.#startPoll();
    }
  }

  #startPoll(): void {
    const requestId = this.#nextRequestId;
    this.#nextRequestId = requestId >= REQUEST_ID_MAX ? 1 : requestId + 1;
    const sample = this.#sample(this.params.k);
    const frontier = this.#consensus.preferredFrontier();
    const poll: Poll = { pending: new Set(), votes: [] };
    this.#polls.set(requestId, poll);
    this.stats.pollsStarted++;
    for (const v of sample) {
      if (v === this.id) poll.votes.push(frontier);
      else poll.pending.add(v);
    }
    for (const v of [...poll.pending].sort()) this.#deps.sender.sendQuery(v, requestId, frontier);
    if (poll.pending.size === 0) this.#finishPoll(requestId);
  }

  /** k distinct validators, uniformly (partial Fisher-Yates over the sorted set). */
  #sample(k: number): string[] {
    const pool = [...this.#validators];
    const n = Math.min(k, pool.length);
    for (let i = 0; i < n; i++) {
      const j = i + this.#deps.rng.nextInt(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, n);
  }

  #finishPoll(requestId: number): void {
    const poll = this.#polls.get(requestId)!;
    this.#polls.delete(requestId);
    this.stats.pollsFinished++;
    this.#report(this.#consensus.recordPoll(poll.votes));
    // Repoll at once only after progress; a fruitless poll (a partition, a
    // stalled contest) waits for new vertices or the next gossip tick, so a
    // stall costs a few polls per tick instead of a busy loop.
    if (this.#consensus.lastPollSuccesses() > 0) this.#maybePoll();
  }

  /**
   * Issues orphans again: at once if this node authored one of their
   * rejected carriers, after three grace periods otherwise (its author may
   * be gone). Only orphans: a transaction whose carrier is undecided waits
   * for it, since a second live carrier would compete with the first.
   */
  /**
   * Issues again, on clean parents, an orphaned transaction (every carrier
   * rejected): at once by the node that carried it, by others after
   * 3 × reissueGraceMs.
   */
  #reissueStuck(): void {
    const now = this.#deps.clock.nowMs();
    const stuck = new Map<string, TxInput>(this.#consensus.orphanedTxs().map((t) => [t.id, t]));
    for (const id of [...this.#stuckSince.keys()]) if (!stuck.has(id)) this.#stuckSince.delete(id);
    const due: TxInput[] = [];
    for (const [id, tx] of stuck) {
      const since = this.#stuckSince.get(id) ?? now;
      this.#stuckSince.set(id, since);
      const mine = this.#consensus.verticesOf(id).some((v) => this.#vertices.get(v)?.author === this.id);
      if (now - since < (mine ? 0 : 3 * this.#reissueGraceMs)) continue;
      this.#stuckSince.delete(id);
      this.stats.txsReissued++;
      due.push(tx);
    }
    if (due.length === 0) return;
    if (this.#deps.reissue !== undefined) this.#deps.reissue(due);
    else for (const tx of due) this.issue([tx]);
  }

  /**
   * Closes the cuts this node's clock allows (settlement.lagMs past each
   * boundary), in order: persist, drop what they settle from memory, tell.
   * A cut waits while a vertex below its boundary, or an undecided one above
   * it that misses part of the current frontier, is undecided; only a
   * certified cut from the other validators ends such a wait for good
   * ({@linkcode Engine.onCertifiedCut}).
   */
  #maybeCut(): void {
    const s = this.#settlement;
    if (s === null) return;
    const now = this.#deps.clock.nowMs();
    const closable = Math.floor((now - s.lagMs) / s.intervalMs) * s.intervalMs;
    // The next multiple of the interval above `ms`.
    const after = (ms: number) => (Math.floor(ms / s.intervalMs) + 1) * s.intervalMs;
    let boundary = after(this.#consensus.position.boundaryMs);
    for (let i = 0; i < CUTS_PER_TICK_MAX && boundary <= closable; i++) {
      const plan = this.#consensus.planCut(boundary, s.verticesMax, s.intervalMs);
      if (plan.kind === "none") {
        // An empty interval: go on with the one holding the next vertex.
        this.#cutBlocked = null;
        if (plan.nextMs === null) return;
        boundary = Math.max(boundary + s.intervalMs, after(plan.nextMs));
        continue;
      }
      if (plan.kind === "blocked") {
        this.#cutBlocked = {
          boundaryMs: plan.boundaryMs,
          blockers: plan.blockers.length,
          sinceMs: this.#cutBlocked?.sinceMs ?? now,
        };
        return;
      }
      const cut = this.#consensus.cutOf(plan);
      this.#deps.store.recordCut?.(cut);
      this.#consensus.applyCut(plan);
      for (const [id, v] of this.#vertices) {
        if (v.timestampMs < cut.boundaryMs && !cut.frontier.includes(id)) {
          this.#deps.archive?.put(v);
          this.#vertices.delete(id);
        }
      }
      for (const [id, v] of this.#pending) if (v.timestampMs < cut.boundaryMs) this.#pending.delete(id);
      this.#coverage.advance(this.#consensus.position);
      this.#cutBlocked = null;
      this.stats.cutsClosed++;
      this.#deps.onCut?.(cut);
      boundary = after(cut.boundaryMs);
    }
  }

  /**
   * More than two thirds of the validators certified a cut at `position`
   * (src/checkpoint): what it holds was accepted, and nothing else below its
   * boundary ever will be. Undecided vertices below the boundary that are not
   * ancestors of its frontier are rejected here (their transactions become
   * orphans and are issued again), so this node's own cut can close. Done only
   * when every frontier vertex is known, so that ancestry can be decided; the
   * missing ones are fetched. Returns how many vertices were abandoned.
   */
  onCertifiedCut(position: CutPosition, from?: string): number {
    if (position.boundaryMs <= this.#consensus.position.boundaryMs) return 0;
    if (position.boundaryMs > (this.#certified?.boundaryMs ?? 0)) this.#certified = position;
    const unknown = position.frontier.filter((f) => !this.#consensus.hasVertex(f));
    if (unknown.length > 0) {
      if (from !== undefined) this.#request(from, unknown);
      return 0;
    }
    const held = new Set<string>();
    const stack = [...position.frontier];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (held.has(id)) continue;
      held.add(id);
      stack.push(...(this.#consensus.parentsOf(id) ?? []));
    }
    const doomed = this.#consensus.undecided().vertices.filter((id) =>
      !held.has(id) && (this.#vertices.get(id)?.timestampMs ?? Infinity) < position.boundaryMs
    );
    if (doomed.length === 0) return 0;
    this.stats.verticesAbandoned += doomed.length;
    this.#report(this.#consensus.abandon(doomed));
    this.#maybeCut();
    return doomed.length;
  }

  /** The last closed cut, and why the next one waits (null: nothing waits). */
  settlement(): {
    seq: number;
    position: CutPosition;
    blocked: { boundaryMs: number; blockers: number; sinceMs: number } | null;
  } {
    return { seq: this.#consensus.cutSeq, position: this.#consensus.position, blocked: this.#cutBlocked };
  }

  /** Persist, then tell. */
  #report(decisions: readonly Decision[]): void {
    if (decisions.length === 0) return;
    if (this.#restoring !== null) {
      this.#restoring.push(...decisions); // restore() reports them once it knows which are new
      return;
    }
    this.#deps.store.record(decisions);
    this.#deps.onDecisions?.(decisions);
  }
}
