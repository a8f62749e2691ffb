import { addVertex, VERTEX_PARENTS_MAX, VERTEX_TXS_MAX } from "./_add.ts";
import { preferredFrontier, virtuousFrontier, VOTE_FRONTIER_MAX } from "./_frontier.ts";
import { carrierId, Graph, NOTHING_SETTLED, type SettledView } from "./_graph.ts";
import { doomedCarriers, stuckCarriers } from "./_doom.ts";
import { pollSettled, recordPoll } from "./_poll.ts";
import { restoreDecisions } from "./_restore.ts";
import { restorePreferences } from "./_preferences.ts";
import { abandon, addSettled, applyCut, cutOf, notReachedFrom, planNextCut } from "./_settle.ts";
import type { Cut, CutPlan } from "./cut.ts";
import { type Parameters, verifyParameters } from "./parameters.ts";
import type { Decision, PreferenceRecord, Status, TxInput, VertexInput } from "./types.ts";
import { type CutPosition, GENESIS_POSITION } from "../dag/coverage.ts";

// Each concept lives in its own file and works on one Graph (_graph.ts); this class is their face.
export { carrierId, type SettledView, VERTEX_PARENTS_MAX, VERTEX_TXS_MAX, VOTE_FRONTIER_MAX };

export interface DagConsensusOptions {
  readonly settled?: SettledView;
  /** The last closed cut (after a restart); its frontier vertices must be added first. */
  readonly position?: CutPosition;
  /** Sequence number of that cut (0: none yet). */
  readonly seq?: number;
  /**
   * Poll the sets a vertex brought in alone through one shared tally per
   * vertex (src/consensus/_solo.ts; default true). False polls every set on
   * its own: the same decisions at a cost per set, kept as the reference.
   */
  readonly soloGroups?: boolean;
}

/**
 * Avalanche over a DAG of vertices, as a pure state machine.
 *
 * - Carriers: a transaction carried by a vertex is a carrier (transaction,
 *   vertex). Every carrier belongs to the conflict set of its transaction's
 *   conflictKey, and each set runs one Snowball ({@linkcode ConflictSet}):
 *   the same transaction carried by two vertices competes with itself like a
 *   double spend, so at most one vertex carrying it is ever accepted, and a
 *   ledger evaluating transactions in their carrier's causal past sees one
 *   carrier on every node.
 * - Preference: a carrier is preferred when it is its set's preference and
 *   each dependency of its transaction is accepted or has a preferred
 *   carrier. A vertex is strongly preferred when its carriers are preferred
 *   and its parents are accepted or strongly preferred. The preferred
 *   frontier is the set of tips of (accepted vertices + strongly preferred
 *   vertices); it is what this node answers when queried.
 * - Chits: a responder's vote is its preferred frontier. A vote for a vertex
 *   is a vote for every ancestor, so each responder supports, in each
 *   conflict set, the carrier found in the ancestry of its frontier. A
 *   responder whose ancestry holds two carriers of one set is equivocating;
 *   its vote in that set is void.
 * - Confidence: every recorded poll feeds every processing conflict set; a
 *   carrier with at least alphaPreference supporters is a successful poll for
 *   it, anything else is an unsuccessful poll, which resets confidence.
 * - Acceptance is by vertex: a vertex is accepted once its parents are, each
 *   of its carriers is its set's finalized choice (beta consecutive confident
 *   polls) and each dependency of its transactions is accepted. Its carriers
 *   and their transactions are accepted with it; that rejects every other
 *   carrier of their sets, and the transactions of those that carry another
 *   transaction.
 * - Rejection: a transaction is rejected when a conflicting one is accepted
 *   or a dependency is rejected; a carrier when its vertex or its transaction
 *   is rejected or another carrier of its set is accepted; a vertex when a
 *   parent or one of its carriers is rejected; all cascade to dependents and
 *   descendants. A processing transaction whose every carrier was rejected
 *   is an orphan, to be issued again in a new vertex by the engine
 *   ({@linkcode orphanedTxs}).
 * - Ties: a set's Snowball starts on its lowest carrier id and moves only to
 *   a strictly stronger one, so nodes that saw the members in different
 *   orders still start from the same preference, and a contest between two
 *   equally new sides (a healed partition) does not stall.
 * - Stalls: a set whose polls keep favouring another member than its
 *   preference adopts it (ConflictSet.recordPoll), and carriers that can
 *   never be accepted here because a rival set finalized (doomed, _doom.ts)
 *   are passed over and their transactions carried again; so are carriers
 *   of virtuous transactions in or below a contest that stalled (stuck,
 *   _doom.ts), for a new carrier of the same transaction only; see
 *   wasm/LEDGER.md, "Breaking a stalled split".
 *
 * Deterministic: given the same calls in the same order, the same decisions
 * in the same order; every iteration whose order can leak out is sorted.
 */
export class DagConsensus {
  readonly params: Parameters;
  readonly #g: Graph;

  constructor(params: Parameters, options: DagConsensusOptions = {}) {
    this.params = verifyParameters(params);
    this.#g = new Graph(
      this.params,
      options.settled ?? NOTHING_SETTLED,
      options.position ?? GENESIS_POSITION,
      options.seq ?? 0,
      options.soloGroups ?? true,
    );
  }

  /** Known here, or settled (possibly dropped from memory). */
  hasVertex(id: string): boolean {
    return this.#g.hasVertex(id);
  }

  /** The last closed cut. */
  get position(): CutPosition {
    return this.#g.position;
  }

  /** Sequence number of the last closed cut (0 before the first). */
  get cutSeq(): number {
    return this.#g.seq;
  }

  /** Vertices held in memory (unsettled ones and the settled frontier). */
  get size(): { vertices: number; txs: number; carriers: number; sets: number } {
    const g = this.#g;
    return { vertices: g.vertices.size, txs: g.txs.size, carriers: g.carriers.size, sets: g.sets.size };
  }

  vertexStatus(id: string): Status | undefined {
    return this.#g.vertices.get(id)?.status;
  }

  txStatus(id: string): Status | undefined {
    return this.#g.txs.get(id)?.status;
  }

  /** Parents of a known vertex. */
  parentsOf(id: string): readonly string[] | undefined {
    return this.#g.vertices.get(id)?.parents;
  }

  /** True while some vertex or transaction is undecided. */
  processing(): boolean {
    return this.#g.processingVertices.size > 0 || this.#g.processingTxs.size > 0;
  }

  /** How many vertices and transactions are undecided. */
  undecidedCounts(): { vertices: number; txs: number } {
    return { vertices: this.#g.processingVertices.size, txs: this.#g.processingTxs.size };
  }

  /** Undecided transaction ids in the order they arrived (no copy, no sort: thousands under load). */
  undecidedTxs(): IterableIterator<string> {
    return this.#g.processingTxs.values();
  }

  /** Undecided vertex and transaction ids, sorted (for metrics and diagnosis). */
  undecided(): { vertices: string[]; txs: string[] } {
    return { vertices: [...this.#g.processingVertices].sort(), txs: [...this.#g.processingTxs].sort() };
  }

  /** Parents and transaction ids of a known vertex. */
  vertexInfo(id: string): { parents: readonly string[]; txIds: readonly string[]; status: Status } | undefined {
    const v = this.#g.vertices.get(id);
    return v === undefined ? undefined : { parents: v.parents, txIds: v.txIds, status: v.status };
  }

  /** Conflict key and dependencies of a known transaction. */
  txInfo(id: string): { conflictKey: string; deps: readonly string[]; status: Status } | undefined {
    const t = this.#g.txs.get(id);
    return t === undefined ? undefined : { conflictKey: t.conflictKey, deps: t.deps, status: t.status };
  }

  /** Polls recorded so far. */
  polls(): number {
    return this.#g.polls;
  }

  /**
   * Conflict sets in which the last recorded poll was successful (some
   * member had alphaPreference supporters). Zero means the poll changed
   * nothing but resetting confidence.
   */
  lastPollSuccesses(): number {
    return this.#g.lastPollSuccesses;
  }

  /** Votes voided because the responder supported two members of a set. */
  equivocatingVotes(): number {
    return this.#g.equivocatingVotes;
  }

  /** True when `txId` is known and its conflict set never held another carrier. */
  isVirtuous(txId: string): boolean {
    const tx = this.#g.txs.get(txId);
    return tx !== undefined && this.#g.sets.get(tx.conflictKey)!.size() === 1;
  }

  /** Consecutive confident polls of the set `txId` belongs to, if a carrier of it is preferred. */
  confidence(txId: string): number {
    const tx = this.#g.txs.get(txId);
    if (tx === undefined) return 0;
    const set = this.#g.sets.get(tx.conflictKey)!;
    const preferred = set.preference();
    return preferred !== null && this.#g.carriers.get(preferred)!.txId === txId ? set.confidence() : 0;
  }

  /** The transaction this node votes for in the conflict set of `conflictKey`. */
  preferenceOf(conflictKey: string): string | null {
    const preferred = this.#g.sets.get(conflictKey)?.preference();
    return preferred == null ? null : this.#g.carriers.get(preferred)!.txId;
  }

  /** The vertex of the carrier this node votes for in the set of `conflictKey`. */
  preferredVertexOf(conflictKey: string): string | null {
    const preferred = this.#g.sets.get(conflictKey)?.preference();
    return preferred == null ? null : this.#g.carriers.get(preferred)!.vertexId;
  }

  /** Transactions carried in the conflict set of `conflictKey`, sorted. */
  conflictSet(conflictKey: string): string[] {
    return this.#g.sets.get(conflictKey)?.txIds() ?? [];
  }

  // ------------------------------------------------------------ settlement (cut.ts, _settle.ts)

  /**
   * The next cut at `boundaryMs` (the highest boundary the caller's clock
   * lets it close), from the unsettled vertices held here; a split keeps at
   * least `spacingMs` from the current boundary (cut.ts). Changes nothing.
   */
  planCut(boundaryMs: number, verticesMax: number, spacingMs = 0): CutPlan {
    return planNextCut(this.#g, boundaryMs, verticesMax, spacingMs);
  }

  /** The cut a plan closes, numbered after the last one. */
  cutOf(plan: Extract<CutPlan, { kind: "cut" }>): Cut {
    return cutOf(this.#g, plan);
  }

  /**
   * Closes a planned cut: its vertices are settled. Drops from memory every
   * vertex below the boundary (all decided) except the new frontier, which
   * stays as accepted stubs new vertices may name; drops their carriers, the
   * decided transactions and conflict sets nothing held refers to any more.
   * Later carriers of a dropped set are judged by the {@linkcode SettledView}.
   */
  applyCut(plan: Extract<CutPlan, { kind: "cut" }>): Cut {
    return applyCut(this.#g, plan);
  }

  /**
   * Rejects undecided vertices that keep a cut from closing for too long
   * (their descendants with them); their transactions become orphans and are
   * issued again. Returns the decisions.
   */
  abandon(vertexIds: readonly string[]): Decision[] {
    return abandon(this.#g, vertexIds);
  }

  /**
   * Holds a vertex of the last cut's frontier (after a restart, or after a
   * state sync) as an accepted stub: new vertices may name it; its carriers
   * are settled and not held. Call before adding the vertices above the cut.
   */
  addSettled(
    vertex: { readonly id: string; readonly parents: readonly string[]; readonly timestampMs?: number },
  ): void {
    addSettled(this.#g, vertex);
  }

  /**
   * Which of `targets` none of `parents` descends from (sorted). Walks the
   * vertices held in memory; a target that is dropped from memory counts as
   * reached only when named directly.
   */
  notReachedFrom(parents: readonly string[], targets: readonly string[]): string[] {
    return notReachedFrom(this.#g, parents, targets);
  }

  // ------------------------------------------------------------ adding (_add.ts), restoring (_restore.ts)

  /**
   * Adds a vertex whose parents are all known. Idempotent for known ids.
   * Throws {@linkcode ConsensusError} for a vertex breaking a structural rule
   * (then nothing was changed). Returns the decisions it caused.
   */
  add(vertex: VertexInput): Decision[] {
    return addVertex(this.#g, vertex);
  }

  /**
   * Reinstates outcomes this node decided before a restart (read back from its
   * decision store) on a DAG rebuilt with {@linkcode add}, before any poll.
   * Afterwards each of them holds: an accepted vertex is accepted with its
   * carriers and transactions, so the other carriers of their conflict sets
   * are rejected and no later poll can revive them; a rejected transaction or
   * vertex is rejected together with everything depending on it. What is left
   * undecided starts over with fresh Snowball state and is polled as usual:
   * lost confidence costs polls, never safety, as nothing undecided was ever
   * reported.
   *
   * Returns the decisions that follow from `decided` but are not among it (a
   * crash may fall between a decision and its consequences being stored):
   * they are new, to be recorded and reported. Decisions in `decided` are
   * never returned; their `rounds` are ignored.
   *
   * Throws {@linkcode RestoreError} after a poll, for an id in no known
   * vertex, and for outcomes that contradict each other (two accepted members
   * of one conflict set, an accepted vertex with an undecided parent, an
   * accepted transaction no accepted vertex carries...). The instance is then
   * in an unspecified state and must be discarded.
   */
  restoreDecisions(decided: readonly Decision[]): Decision[] {
    return restoreDecisions(this.#g, decided);
  }

  /**
   * Adopts the contested sets' preferences recorded before a restart
   * (src/consensus/_preferences.ts), after the vertices and decisions are
   * restored. Returns how many were adopted.
   */
  restorePreferences(records: readonly PreferenceRecord[]): number {
    return restorePreferences(this.#g, records);
  }

  /**
   * Contested sets' preferences that polls changed since the last call, to
   * be stored for a restart, and sets decided since (member null), in order.
   */
  takePreferenceChanges(): PreferenceRecord[] {
    const out = this.#g.preferenceChanges;
    if (out.length > 0) this.#g.preferenceChanges = [];
    return out;
  }

  // ------------------------------------------------------------ polls (_poll.ts), preference (_frontier.ts)

  /**
   * Records one poll. Each element of `votes` is one responder's preferred
   * frontier; responders that did not answer are simply absent. Unknown
   * vertex ids are ignored (the engine fetches them). Returns the decisions.
   */
  recordPoll(votes: readonly (readonly string[])[]): Decision[] {
    return recordPoll(this.#g, votes);
  }

  /**
   * True when `pending` more votes could not change what recording `votes`
   * would do, so a poll may end early: in every processing conflict set,
   * either a member already has alphaConfidence supporters (no other member
   * can reach alphaPreference, as each responder supports at most one and
   * alphaPreference > k/2), or no member can reach alphaPreference.
   */
  pollSettled(votes: readonly (readonly string[])[], pending: number): boolean {
    return pollSettled(this.#g, votes, pending);
  }

  /**
   * The ids this node votes for: tips of the accepted and strongly preferred
   * vertices, sorted, at most {@linkcode VOTE_FRONTIER_MAX}; when there are
   * more, tips carrying processing transactions come first, then other
   * processing tips, then accepted ones, shared fairly between authors.
   */
  preferredFrontier(): string[] {
    return preferredFrontier(this.#g);
  }

  /**
   * Tips of the clean part of the DAG: accepted vertices, and processing
   * vertices whose carriers are all alone in their conflict set (with clean
   * dependencies) and whose parents are clean. New vertices go on top of
   * these, so an honest transaction is not tied to the fate of a contested
   * one. With `forTxs`, leaves out every vertex whose acceptance may wait
   * for a member of their conflict sets (_waits.ts): the live carriers in
   * those sets, the carriers of transactions depending on a waiting one, and
   * their descendants: the tips a vertex carrying `forTxs` may name without
   * being rejected on arrival or waiting for itself. Sorted.
   */
  virtuousFrontier(forTxs: readonly TxInput[] = []): string[] {
    return virtuousFrontier(this.#g, forTxs);
  }

  /**
   * Processing transactions none of whose carriers is still alive: nobody
   * can vote for them until they are issued again in a new vertex. Sorted.
   */
  orphanedTxs(): TxInput[] {
    const out: TxInput[] = [];
    const doomed = doomedCarriers(this.#g);
    const stuck = stuckCarriers(this.#g);
    for (const id of this.#g.processingTxs) {
      const tx = this.#g.txs.get(id)!;
      // A member of a set finalized on another transaction loses: it is not carried again.
      const winner = this.#g.sets.get(tx.conflictKey)?.finalized();
      if (winner != null && this.#g.carriers.get(winner)?.txId !== id) continue;
      if (
        tx.carriers.every((c) => this.#g.carriers.get(c)!.status === "rejected" || doomed.has(c) || stuck.has(c))
      ) {
        out.push({ id, conflictKey: tx.conflictKey, deps: [...tx.deps] });
      }
    }
    // Usually none: sorted after the filter, not the thousands of processing ids before it.
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Vertices carrying `txId`, sorted. */
  verticesOf(txId: string): string[] {
    return (this.#g.txs.get(txId)?.carriers ?? []).flatMap((c) => this.#g.carriers.get(c)?.vertexId ?? []).sort();
  }
}
