import {
  ConsensusError,
  DagConsensus,
  type Decision,
  type Parameters,
  parametersForValidatorCount,
  type PreferenceRecord,
  RestoreError,
  type TxInput,
  VERTEX_PARENTS_MAX,
  VERTEX_TXS_MAX,
  VOTE_FRONTIER_MAX,
} from "../consensus/mod.ts";
import { CoverageIndex, type CutPosition } from "../dag/coverage.ts";
import { type EngineConfig, type EngineDeps, FETCH_GRACE_MS_DEFAULT } from "./config.ts";
import { vertexRefusal } from "./admission.ts";
import { ancestorsOf, CutSchedule } from "./cuts.ts";
import { IDS_PER_REQUEST_MAX } from "./fetch_pacer.ts";
import { VertexIntake } from "./intake.ts";
import { planParents } from "./parents.ts";
import { PollBook, sampleValidators } from "./polls.ts";
import { heldPollVerdict, type HoldView, waitsForVertices } from "./held_polls.ts";
import { type EngineStats, newEngineStats } from "./stats.ts";
import { StuckTxs } from "./stuck_txs.ts";
import { missingDeps } from "./missing_deps.ts";
import { restoreScope } from "./restore_scope.ts";
import type { EngineConsensusView, SignedVertex, VertexBody, Vote } from "./types.ts";

export type { EngineConfig, EngineDeps, SettlementConfig } from "./config.ts";
export type { EngineStats } from "./stats.ts";

const VERTICES_PER_MESSAGE_MAX = 256;

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
  readonly stats: EngineStats = newEngineStats();
  readonly #consensus: DagConsensus;
  readonly #deps: EngineDeps;
  readonly #validators: readonly string[];
  readonly #pollsOutstandingMax: number;
  readonly #issueParentsMax: number;
  /** How long a settled poll waits for vertices its votes name (held_polls.ts). */
  readonly #pollHoldMs: number;
  readonly #holdView: HoldView = {
    hasVertex: (id) => this.#consensus.hasVertex(id),
    pollSettled: (votes, pending) => this.#consensus.pollSettled(votes, pending),
    arriving: (id) => this.#intake.has(id),
  };
  /** When cuts close; null without settlement. */
  readonly #cuts: CutSchedule | null;
  /** Signed copies of every vertex in consensus, to serve fetches. */
  readonly #vertices = new Map<string, SignedVertex>();
  /** Checked vertices waiting for parents, and every request for a vertex not held (intake.ts). */
  readonly #intake: VertexIntake;
  readonly #polls: PollBook;
  readonly #stuck: StuckTxs;
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

  constructor(config: EngineConfig, deps: EngineDeps) {
    this.id = deps.signer.validatorId;
    this.#validators = [...new Set(config.validators)].sort();
    if (!this.#validators.includes(this.id)) {
      throw new Error(`Cannot start engine: validator ${this.id} is not in the genesis set`);
    }
    this.params = parametersForValidatorCount(config.params, this.#validators.length);
    this.#cuts = config.settlement === undefined ? null : new CutSchedule(config.settlement);
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
    const fetchRetryMs = config.fetchRetryMs ?? 500;
    const fetchGraceMs = config.fetchGraceMs ?? FETCH_GRACE_MS_DEFAULT;
    this.#intake = new VertexIntake({
      selfId: this.id,
      known: (id) => this.#consensus.hasVertex(id),
      sendGetVertices: (to, ids) => deps.sender.sendGetVertices(to, ids),
      nowMs: () => deps.clock.nowMs(),
    }, { pendingMax: config.pendingVerticesMax ?? 4096, fetchRetryMs, fetchGraceMs });
    // The grace, the first request and one retry from another peer.
    this.#pollHoldMs = fetchGraceMs + 2 * fetchRetryMs;
    this.#stuck = new StuckTxs(config.reissueGraceMs ?? 1_000);
    this.#polls = new PollBook(config.firstRequestId);
  }

  /** Read-only view for metrics, tests and the HTTP layer. */
  get consensus(): EngineConsensusView {
    return this.#consensus;
  }

  vertex(id: string): SignedVertex | undefined {
    return this.#vertices.get(id);
  }

  /** Every vertex in consensus, parents before children (the order they were added). */
  vertices(): SignedVertex[] {
    return [...this.#vertices.values()];
  }

  /** Polls in flight: still taking votes (held ones are not; see held_polls.ts). */
  pollsOutstanding(): number {
    return this.#polls.inFlight;
  }

  /** Settled polls held until vertices their votes name arrive (see held_polls.ts); at most pollsOutstandingMax. */
  pollsHeld(): number {
    return this.#polls.size - this.#polls.inFlight;
  }

  /**
   * Rebuilds this node's state after a restart, before any message: the DAG
   * from `vertices` (every vertex the node stored, parents before children)
   * and the outcomes from `decisions` (every decision its store holds), with
   * {@linkcode DagConsensus.restoreDecisions}: each decision holds again (an
   * accepted transaction's conflicting ones are rejected and stay so, whatever
   * later polls say), none of them is recorded or reported again, and what is
   * undecided is polled as usual from the next message or gossip tick on
   * (restore sends nothing). `preferences` (what the store's
   * recordPreferences kept) puts each contested set back on the member it
   * preferred, so this node votes as it did before the restart.
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
    preferences: readonly PreferenceRecord[] = [],
  ): void {
    if (!this.#fresh) {
      throw new RestoreError("Cannot restore: this engine has handled messages or was restored already; use a new one");
    }
    this.#fresh = false;
    const derived: Decision[] = [];
    this.#restoring = derived;
    const frontier = new Set(this.#consensus.position.frontier);
    const scope = restoreScope(vertices, decisions, frontier, this.#deps.settled);
    this.#restoreMask = scope.mask;
    decisions = scope.decisions;
    // The last cut's vertices (settled, not held by consensus) may still be named as parents: new vertices must
    // descend from the frontier of the cut before it, and reach it through them.
    for (const v of lastCut) this.#coverage.add(v.id, v.parents, v.timestampMs);
    try {
      for (const v of vertices) {
        if (this.#vertices.has(v.id) || this.#intake.has(v.id)) continue;
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
        } else if (!this.#intake.hold(v)) {
          this.stats.pendingOverflow++;
        }
      }
      this.#drainPending(this.id);
      derived.push(...this.#consensus.restoreDecisions(decisions));
      this.#consensus.restorePreferences(preferences);
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
    return planParents(
      {
        consensus: this.#consensus,
        timestampOf: (id) => this.#vertices.get(id)?.timestampMs,
        settled: this.#coverage.position,
        certified: this.#certified,
        parentsMax: this.#issueParentsMax,
      },
      txs,
      requiredParents,
    );
  }

  /** Vertices arrived (gossip or an answer to a fetch). */
  onVertices(from: string, vertices: readonly SignedVertex[]): void {
    this.#fresh = false;
    for (const v of vertices.slice(0, VERTICES_PER_MESSAGE_MAX)) {
      if (this.#vertices.has(v.id) || this.#intake.has(v.id)) continue;
      if (!this.#checkVertex(v, true)) continue;
      if (!this.#intake.hold(v)) this.stats.pendingOverflow++;
    }
    this.#drainPending(from);
    this.#releaseHeld();
    this.#maybePoll();
  }

  /** A peer asks for vertices by id. */
  onGetVertices(from: string, ids: readonly string[]): void {
    this.#fresh = false;
    const found: SignedVertex[] = [];
    for (const id of ids.slice(0, IDS_PER_REQUEST_MAX)) {
      const v = this.#vertices.get(id) ?? this.#intake.get(id) ?? this.#deps.archive?.get(id);
      // Else maybe a transaction id (a dependency the peer lacks, see missing_deps.ts): its carriers.
      const carriers = v !== undefined ? [v] : this.#consensus.verticesOf(id).map((c) => this.#vertices.get(c));
      for (const c of carriers) if (c !== undefined && !found.includes(c)) found.push(c);
    }
    if (found.length > 0) this.#deps.sender.sendVertices(from, found.slice(0, VERTICES_PER_MESSAGE_MAX));
  }

  /** A peer polls us: answer with our preferred frontier (the transport bounds how often: src/net/peer_budget.ts). */
  onQuery(from: string, requestId: number, frontier: readonly string[]): void {
    this.#fresh = false;
    if (!this.#deps.verifier.isValidator(from)) {
      this.stats.unknownValidator++;
      return;
    }
    this.#intake.named(from, frontier);
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
    if (
      vote.querier !== this.id || poll === undefined || poll.heldSinceMs !== null || !poll.pending.has(vote.responder)
    ) {
      // A held poll settled already: it takes no more votes.
      const late = vote.querier === this.id &&
        (poll === undefined ? this.#polls.isPast(vote.requestId) : poll.pending.has(vote.responder));
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
    poll.voters.push(vote.responder);
    this.#intake.named(from, vote.frontier);
    if (this.#consensus.pollSettled(poll.votes, poll.pending.size)) this.#holdOrFinish(vote.requestId);
    this.#releaseHeld();
  }

  /** The transport gave up on our query to `from` (timeout or unreachable). */
  onQueryFailed(from: string, requestId: number): void {
    this.#fresh = false;
    const poll = this.#polls.get(requestId);
    if (poll === undefined || poll.heldSinceMs !== null || !poll.pending.delete(from)) return;
    this.stats.queriesFailed++;
    if (this.#consensus.pollSettled(poll.votes, poll.pending.size)) this.#holdOrFinish(requestId);
    this.#releaseHeld();
  }

  /** A peer advertises its frontier (anti-entropy gossip). */
  onFrontier(from: string, frontier: readonly string[], replyWanted: boolean): void {
    this.#fresh = false;
    if (!this.#deps.verifier.isValidator(from)) {
      this.stats.unknownValidator++;
      return;
    }
    this.#intake.named(from, frontier);
    if (replyWanted) this.#deps.sender.sendFrontier(from, this.#consensus.preferredFrontier(), false);
  }

  /**
   * Periodic housekeeping, delivered by the host: swaps frontiers with one
   * random validator, counts held polls whose wait ran out, re-issues orphans
   * whose grace ran out, and restarts polling if anything is undecided.
   */
  onGossipTick(): void {
    this.#fresh = false;
    const peers = this.#validators.filter((v) => v !== this.id);
    if (peers.length > 0) {
      const peer = peers[this.#deps.rng.nextInt(peers.length)];
      this.#deps.sender.sendFrontier(peer, this.#consensus.preferredFrontier(), true);
      const settled = this.#deps.settled;
      const deps = missingDeps(this.#consensus, settled && ((id) => settled.txStatus(id)), IDS_PER_REQUEST_MAX);
      this.#intake.request(peer, [...this.#intake.missingParents(), ...deps]);
    }
    this.#intake.requestNamedDue();
    this.#releaseHeld();
    this.#reissueStuck();
    this.#maybeCut();
    this.#maybePoll();
  }

  /** Genesis author, structural limits and, with `checkCodec`, id and signature; counts refusals. */
  #checkVertex(v: SignedVertex, checkCodec: boolean): boolean {
    const refusal = vertexRefusal(
      v,
      this.#deps.verifier,
      this.#coverage.position.boundaryMs,
      checkCodec ? this.#deps.codec : null,
    );
    if (refusal !== null) this.stats[refusal]++;
    return refusal === null;
  }

  /** Adds every held vertex whose parents are known; asks `from` for the missing parents of the rest. */
  #drainPending(from: string): void {
    this.#intake.release(from, (v) => {
      if (this.#restoring === null && !this.#coverage.check(v.parents, v.timestampMs).ok) {
        this.stats.staleVertices++;
        return;
      }
      this.#addToConsensus(v);
    });
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
    this.#intake.arrived(v.id);
    this.#report(decisions);
    return null;
  }

  #maybePoll(): void {
    while (this.#polls.inFlight < this.#pollsOutstandingMax && this.#consensus.processing()) {
      this.#startPoll();
    }
  }

  #startPoll(): void {
    const { requestId, poll } = this.#polls.open(this.#deps.clock.nowMs());
    const sample = sampleValidators(this.#validators, this.params.k, this.#deps.rng);
    const frontier = this.#consensus.preferredFrontier();
    this.stats.pollsStarted++;
    for (const v of sample) {
      if (v === this.id) {
        poll.votes.push(frontier);
        poll.voters.push(v);
      } else poll.pending.add(v);
    }
    for (const v of [...poll.pending].sort()) this.#deps.sender.sendQuery(v, requestId, frontier);
    if (poll.pending.size === 0) this.#finishPoll(requestId);
  }

  /** A poll settled: counted at once, or held while it waits for vertices its votes name (held_polls.ts). */
  #holdOrFinish(requestId: number): void {
    const poll = this.#polls.get(requestId)!;
    if (this.pollsHeld() >= this.#pollsOutstandingMax || !waitsForVertices(poll, this.#holdView, false)) {
      this.#finishPoll(requestId);
      return;
    }
    poll.heldSinceMs = this.#deps.clock.nowMs();
    this.stats.pollsHeld++;
  }

  /**
   * Counts the held polls that no longer wait for vertices, or whose wait ran
   * out by the injected clock (heldPollVerdict), oldest first; asks the voters
   * of the others again for what is still missing (paced like every fetch).
   * Runs when vertices or answers arrive and on every gossip tick.
   */
  #releaseHeld(): void {
    const now = this.#deps.clock.nowMs();
    for (const requestId of this.#polls.held()) {
      const poll = this.#polls.get(requestId)!;
      const verdict = heldPollVerdict(poll, now, this.#pollHoldMs, this.#holdView);
      if (verdict === "wait") {
        poll.votes.forEach((frontier, i) => this.#intake.named(poll.voters[i], frontier));
        continue;
      }
      if (verdict === "expired") this.stats.heldPollsExpired++;
      this.#finishPoll(requestId);
    }
  }

  #finishPoll(requestId: number): void {
    const poll = this.#polls.close(requestId);
    this.stats.pollsFinished++;
    this.#report(this.#consensus.recordPoll(poll.votes));
    const preferences = this.#consensus.takePreferenceChanges();
    if (preferences.length > 0) this.#deps.store.recordPreferences?.(preferences);
    // Repoll at once only after progress; a fruitless poll (a partition, a
    // stalled contest) waits for new vertices or the next gossip tick, so a
    // stall costs a few polls per tick instead of a busy loop.
    if (this.#consensus.lastPollSuccesses() > 0) this.#maybePoll();
  }

  /** Issues orphaned transactions again once their wait is over (see {@linkcode StuckTxs}). */
  #reissueStuck(): void {
    const now = this.#deps.clock.nowMs();
    const due = this.#stuck.due(
      this.#consensus.orphanedTxs(),
      now,
      (id) => this.#consensus.verticesOf(id).some((v) => this.#vertices.get(v)?.author === this.id),
    );
    this.stats.txsReissued += due.length;
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
    const cuts = this.#cuts;
    if (cuts === null) return;
    cuts.closeDue(this.#consensus, this.#deps.clock.nowMs(), (plan) => {
      const cut = this.#consensus.cutOf(plan);
      this.#deps.store.recordCut?.(cut);
      this.#consensus.applyCut(plan);
      for (const [id, v] of this.#vertices) {
        if (v.timestampMs < cut.boundaryMs && !cut.frontier.includes(id)) {
          this.#deps.archive?.put(v);
          this.#vertices.delete(id);
        }
      }
      this.#intake.dropBelow(cut.boundaryMs);
      this.#coverage.advance(this.#consensus.position);
      cuts.blocked = null;
      this.stats.cutsClosed++;
      this.#deps.onCut?.(cut);
      return cut;
    });
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
      if (from !== undefined) this.#intake.request(from, unknown);
      return 0;
    }
    const held = ancestorsOf(position.frontier, (id) => this.#consensus.parentsOf(id));
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
    return { seq: this.#consensus.cutSeq, position: this.#consensus.position, blocked: this.#cuts?.blocked ?? null };
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
