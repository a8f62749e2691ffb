import { ConflictSet, SETTLED_WINNER } from "./conflicts.ts";
import { type Cut, type CutPlan, type CutVertexView, planCut } from "./cut.ts";
import { type Parameters, verifyParameters } from "./parameters.ts";
import { ConsensusError, type Decision, RestoreError, type Status, type TxInput, type VertexInput } from "./types.ts";
import { type CutPosition, GENESIS_POSITION } from "../dag/coverage.ts";

/** Vertices one vote may name; longer frontiers are cut (sorted, first N). */
export const VOTE_FRONTIER_MAX = 64;
/** Transactions one vertex may carry. */
export const VERTEX_TXS_MAX = 256;
/** Parents one vertex may name. */
export const VERTEX_PARENTS_MAX = 16;

interface VertexState {
  readonly id: string;
  readonly parents: readonly string[];
  /** Emptied when it becomes a settled stub (see applyCut). */
  txIds: readonly string[];
  /** Its carriers, in txIds order. */
  carriers: readonly string[];
  readonly children: string[];
  readonly addedAtPoll: number;
  readonly timestampMs: number;
  status: Status;
}

/**
 * What consensus no longer holds in memory once a cut settled it (the node
 * reads it from storage). Without one, nothing is ever settled.
 */
export interface SettledView {
  /** True for an accepted vertex of a closed cut (consensus may have dropped it). */
  isSettled(vertexId: string): boolean;
  /** "accepted" for a transaction a closed cut holds, "rejected" for any rejected one; else undefined. */
  txStatus(txId: string): "accepted" | "rejected" | undefined;
  /** The accepted transaction of `conflictKey`, if a closed cut holds it. */
  winner(conflictKey: string): string | null;
}

const NOTHING_SETTLED: SettledView = { isSettled: () => false, txStatus: () => undefined, winner: () => null };

export interface DagConsensusOptions {
  readonly settled?: SettledView;
  /** The last closed cut (after a restart); its frontier vertices must be added first. */
  readonly position?: CutPosition;
  /** Sequence number of that cut (0: none yet). */
  readonly seq?: number;
}

/**
 * One transaction in one vertex. Conflict sets choose among carriers, so of
 * all the vertices carrying a transaction at most one is ever accepted.
 */
interface CarrierState {
  readonly id: string;
  readonly txId: string;
  readonly vertexId: string;
  status: Status;
}

interface TxState {
  readonly id: string;
  readonly conflictKey: string;
  readonly deps: readonly string[];
  readonly carriers: string[];
  readonly addedAtPoll: number;
  status: Status;
}

/** Distinct frontiers whose support is remembered between changes. */
const SUPPORT_CACHE_MAX = 256;

/** Marks a responder that supported two members of one conflict set. */
const EQUIVOCATED = "";

/** The tally key of an empty vertex's own one-member choice (no conflict key or carrier id looks like it). */
function emptyKey(vertexId: string): string {
  return `@${vertexId}`;
}

/** The id of `txId` carried by `vertexId`, as conflict sets know it. */
export function carrierId(txId: string, vertexId: string): string {
  return `${txId}@${vertexId}`;
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
 *
 * Deterministic: given the same calls in the same order, the same decisions
 * in the same order; every iteration whose order can leak out is sorted.
 */
export class DagConsensus {
  readonly params: Parameters;
  readonly #vertices = new Map<string, VertexState>();
  readonly #txs = new Map<string, TxState>();
  readonly #carriers = new Map<string, CarrierState>();
  readonly #sets = new Map<string, ConflictSet>();
  /** Dependents by dependency id; the dependency may not be known yet. */
  readonly #dependents = new Map<string, string[]>();
  /** In insertion order, which is topological (parents are added first). */
  readonly #processingVertices = new Set<string>();
  readonly #processingTxs = new Set<string>();
  readonly #processingSets = new Set<string>();
  /** Accepted vertices without an accepted child. */
  readonly #acceptedTips = new Set<string>();
  /**
   * Processing vertices without transactions -> consecutive polls in which at
   * least alphaConfidence responders had them in their frontier's ancestry.
   * Such a vertex decides no conflict set, yet it must win polls like any
   * other: a vertex only some nodes ever see must not be accepted by them.
   */
  readonly #emptyConfidence = new Map<string, number>();
  #polls = 0;
  #lastPollSuccesses = 0;
  #equivocatingVotes = 0;
  /**
   * Derived views of the current state; both are dropped on every change
   * (see #changed), so they never outlive the state they were computed from.
   */
  #frontierCache: string[] | null = null;
  readonly #supportCache = new Map<string, Map<string, string>>();
  #decisions: Decision[] = [];
  readonly #settled: SettledView;
  #position: CutPosition;
  #seq: number;

  constructor(params: Parameters, options: DagConsensusOptions = {}) {
    this.params = verifyParameters(params);
    this.#settled = options.settled ?? NOTHING_SETTLED;
    this.#position = options.position ?? GENESIS_POSITION;
    this.#seq = options.seq ?? 0;
  }

  /** Known here, or settled (possibly dropped from memory). */
  hasVertex(id: string): boolean {
    return this.#vertices.has(id) || this.#settled.isSettled(id);
  }

  /** The last closed cut. */
  get position(): CutPosition {
    return this.#position;
  }

  /** Sequence number of the last closed cut (0 before the first). */
  get cutSeq(): number {
    return this.#seq;
  }

  /** Vertices held in memory (unsettled ones and the settled frontier). */
  get size(): { vertices: number; txs: number; carriers: number; sets: number } {
    return { vertices: this.#vertices.size, txs: this.#txs.size, carriers: this.#carriers.size, sets: this.#sets.size };
  }

  /** A parent's status: settled vertices dropped from memory were accepted. */
  #statusOf(id: string): Status {
    return this.#vertices.get(id)?.status ?? "accepted";
  }

  vertexStatus(id: string): Status | undefined {
    return this.#vertices.get(id)?.status;
  }

  txStatus(id: string): Status | undefined {
    return this.#txs.get(id)?.status;
  }

  /** Parents of a known vertex. */
  parentsOf(id: string): readonly string[] | undefined {
    return this.#vertices.get(id)?.parents;
  }

  /** True while some vertex or transaction is undecided. */
  processing(): boolean {
    return this.#processingVertices.size > 0 || this.#processingTxs.size > 0;
  }

  /** Undecided vertex and transaction ids, sorted (for metrics and diagnosis). */
  undecided(): { vertices: string[]; txs: string[] } {
    return { vertices: [...this.#processingVertices].sort(), txs: [...this.#processingTxs].sort() };
  }

  /** Parents and transaction ids of a known vertex. */
  vertexInfo(id: string): { parents: readonly string[]; txIds: readonly string[]; status: Status } | undefined {
    const v = this.#vertices.get(id);
    return v === undefined ? undefined : { parents: v.parents, txIds: v.txIds, status: v.status };
  }

  /** Conflict key and dependencies of a known transaction. */
  txInfo(id: string): { conflictKey: string; deps: readonly string[]; status: Status } | undefined {
    const t = this.#txs.get(id);
    return t === undefined ? undefined : { conflictKey: t.conflictKey, deps: t.deps, status: t.status };
  }

  /** Polls recorded so far. */
  polls(): number {
    return this.#polls;
  }

  /**
   * Conflict sets in which the last recorded poll was successful (some
   * member had alphaPreference supporters). Zero means the poll changed
   * nothing but resetting confidence.
   */
  lastPollSuccesses(): number {
    return this.#lastPollSuccesses;
  }

  /** Votes voided because the responder supported two members of a set. */
  equivocatingVotes(): number {
    return this.#equivocatingVotes;
  }

  /** True when `txId` is known and its conflict set never held another carrier. */
  isVirtuous(txId: string): boolean {
    const tx = this.#txs.get(txId);
    return tx !== undefined && this.#sets.get(tx.conflictKey)!.size() === 1;
  }

  /** Consecutive confident polls of the set `txId` belongs to, if a carrier of it is preferred. */
  confidence(txId: string): number {
    const tx = this.#txs.get(txId);
    if (tx === undefined) return 0;
    const set = this.#sets.get(tx.conflictKey)!;
    const preferred = set.preference();
    return preferred !== null && this.#carriers.get(preferred)!.txId === txId ? set.confidence() : 0;
  }

  /** The transaction this node votes for in the conflict set of `conflictKey`. */
  preferenceOf(conflictKey: string): string | null {
    const preferred = this.#sets.get(conflictKey)?.preference();
    return preferred == null ? null : this.#carriers.get(preferred)!.txId;
  }

  /** The vertex of the carrier this node votes for in the set of `conflictKey`. */
  preferredVertexOf(conflictKey: string): string | null {
    const preferred = this.#sets.get(conflictKey)?.preference();
    return preferred == null ? null : this.#carriers.get(preferred)!.vertexId;
  }

  /** Transactions carried in the conflict set of `conflictKey`, sorted. */
  conflictSet(conflictKey: string): string[] {
    return this.#sets.get(conflictKey)?.txIds() ?? [];
  }

  // ------------------------------------------------------------ settlement (cut.ts)

  /**
   * The next cut at `boundaryMs` (the highest boundary the caller's clock
   * lets it close), from the unsettled vertices held here. Changes nothing.
   */
  planCut(boundaryMs: number, verticesMax: number): CutPlan {
    const unsettled: CutVertexView[] = [];
    for (const v of this.#vertices.values()) {
      if (!this.#isStub(v)) unsettled.push(v);
    }
    return planCut(this.#position, unsettled, boundaryMs, verticesMax);
  }

  /** The cut a plan closes, numbered after the last one. */
  cutOf(plan: Extract<CutPlan, { kind: "cut" }>): Cut {
    return {
      seq: this.#seq + 1,
      boundaryMs: plan.boundaryMs,
      prevBoundaryMs: this.#position.boundaryMs,
      vertices: plan.vertices,
      txIds: plan.vertices.flatMap((v) => this.#vertices.get(v)?.txIds ?? []).sort(),
      frontier: plan.frontier,
      snapshotSafe: plan.snapshotSafe,
    };
  }

  /**
   * Closes a planned cut: its vertices are settled. Drops from memory every
   * vertex below the boundary (all decided) except the new frontier, which
   * stays as accepted stubs new vertices may name; drops their carriers, the
   * decided transactions and conflict sets nothing held refers to any more.
   * Later carriers of a dropped set are judged by the {@linkcode SettledView}.
   */
  applyCut(plan: Extract<CutPlan, { kind: "cut" }>): Cut {
    const cut = this.cutOf(plan);
    const keep = new Set(plan.frontier);
    const dropped: VertexState[] = [];
    for (const v of this.#vertices.values()) {
      if (v.timestampMs < plan.boundaryMs && !keep.has(v.id)) {
        if (v.status === "processing") throw new Error(`Cannot settle: vertex ${v.id} below the cut is undecided`);
        dropped.push(v);
      }
    }
    for (const v of dropped) {
      this.#vertices.delete(v.id);
      this.#acceptedTips.delete(v.id);
    }
    for (const id of keep) this.#toStub(this.#vertices.get(id)!);
    for (const v of dropped) for (const c of v.carriers) this.#dropCarrier(c);
    this.#position = { boundaryMs: plan.boundaryMs, frontier: plan.frontier };
    this.#seq = cut.seq;
    this.#changed();
    return cut;
  }

  /**
   * Rejects undecided vertices that keep a cut from closing for too long
   * (their descendants with them); their transactions become orphans and are
   * issued again. Returns the decisions.
   */
  abandon(vertexIds: readonly string[]): Decision[] {
    this.#reject([], [], vertexIds.filter((id) => this.#vertices.get(id)?.status === "processing"));
    this.#acceptReady();
    return this.#takeDecisions();
  }

  /**
   * Holds a vertex of the last cut's frontier (after a restart, or after a
   * state sync) as an accepted stub: new vertices may name it; its carriers
   * are settled and not held. Call before adding the vertices above the cut.
   */
  addSettled(
    vertex: { readonly id: string; readonly parents: readonly string[]; readonly timestampMs?: number },
  ): void {
    if (this.#vertices.has(vertex.id)) return;
    if (!this.#position.frontier.includes(vertex.id)) {
      throw new ConsensusError(`Cannot hold vertex ${vertex.id} as settled: it is not on the settled frontier`);
    }
    this.#vertices.set(vertex.id, {
      id: vertex.id,
      parents: [...vertex.parents],
      txIds: [],
      carriers: [],
      children: [],
      addedAtPoll: this.#polls,
      timestampMs: vertex.timestampMs ?? 0,
      status: "accepted",
    });
    this.#acceptedTips.add(vertex.id);
    this.#changed();
  }

  /**
   * Which of `targets` none of `parents` descends from (sorted). Walks the
   * vertices held in memory; a target that is dropped from memory counts as
   * reached only when named directly.
   */
  notReachedFrom(parents: readonly string[], targets: readonly string[]): string[] {
    const left = new Set(targets);
    const seen = new Set<string>();
    const stack = [...parents];
    while (stack.length > 0 && left.size > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      left.delete(id);
      const v = this.#vertices.get(id);
      if (v !== undefined && !this.#isStub(v)) stack.push(...v.parents);
    }
    return [...left].sort();
  }

  /** Accepted here, or accepted and dropped from memory. */
  #txAccepted(txId: string): boolean {
    const tx = this.#txs.get(txId);
    return tx === undefined ? this.#settled.txStatus(txId) === "accepted" : tx.status === "accepted";
  }

  /** A settled frontier vertex, held only so that new vertices may name it. */
  #isStub(v: VertexState): boolean {
    return v.status === "accepted" && v.timestampMs < this.#position.boundaryMs;
  }

  #toStub(v: VertexState): void {
    if (v.carriers.length === 0) return;
    const carriers = [...v.carriers];
    v.carriers = [];
    v.txIds = [];
    for (const c of carriers) this.#dropCarrier(c);
  }

  /** Forgets a settled carrier, and its set once its winner is settled (later members are judged by the SettledView). */
  #dropCarrier(carrierId: string): void {
    const carrier = this.#carriers.get(carrierId);
    if (carrier === undefined) return;
    const key = this.#txs.get(carrier.txId)?.conflictKey;
    const set = key === undefined ? undefined : this.#sets.get(key);
    if (set !== undefined && set.accepted() === carrierId) {
      for (const m of set.members()) this.#forgetCarrier(m);
      // Its other transactions lost when it was accepted; those left without carriers go too.
      for (const t of set.txIds()) {
        const other = this.#txs.get(t);
        if (other !== undefined && other.status !== "processing" && other.carriers.length === 0) this.#dropTx(other);
      }
      this.#sets.delete(key!);
      this.#processingSets.delete(key!);
    } else {
      set?.forget(carrierId);
      this.#forgetCarrier(carrierId);
      // A set late carriers of a settled winner brought back goes with its last member.
      if (set !== undefined && set.accepted() === SETTLED_WINNER && set.size() === 0) {
        for (const t of set.txIds()) {
          const other = this.#txs.get(t);
          if (other !== undefined && other.status !== "processing" && other.carriers.length === 0) this.#dropTx(other);
        }
        this.#sets.delete(key!);
        this.#processingSets.delete(key!);
      }
    }
  }

  /** Removes a carrier, and its transaction once decided and carried by nothing held. */
  #forgetCarrier(carrierId: string): void {
    const carrier = this.#carriers.get(carrierId);
    if (carrier === undefined) return;
    this.#carriers.delete(carrierId);
    const tx = this.#txs.get(carrier.txId);
    if (tx === undefined) return;
    const i = tx.carriers.indexOf(carrierId);
    if (i >= 0) tx.carriers.splice(i, 1);
    if (tx.status === "processing" || tx.carriers.length > 0) return;
    this.#dropTx(tx);
  }

  #dropTx(tx: TxState): void {
    this.#txs.delete(tx.id);
    this.#sets.get(tx.conflictKey)?.forgetTx(tx.id);
    for (const d of tx.deps) {
      const list = this.#dependents.get(d)?.filter((t) => t !== tx.id);
      if (list === undefined || list.length === 0) this.#dependents.delete(d);
      else this.#dependents.set(d, list);
    }
  }

  /**
   * Adds a vertex whose parents are all known. Idempotent for known ids.
   * Throws {@linkcode ConsensusError} for a vertex breaking a structural rule
   * (then nothing was changed). Returns the decisions it caused.
   */
  add(vertex: VertexInput): Decision[] {
    if (this.#vertices.has(vertex.id)) return [];
    this.#checkVertex(vertex);
    const carriers = vertex.txs.map((t) => carrierId(t.id, vertex.id));
    const state: VertexState = {
      id: vertex.id,
      parents: [...vertex.parents],
      txIds: vertex.txs.map((t) => t.id),
      carriers,
      children: [],
      addedAtPoll: this.#polls,
      timestampMs: vertex.timestampMs ?? 0,
      status: "processing",
    };
    this.#vertices.set(vertex.id, state);
    for (const p of state.parents) this.#vertices.get(p)?.children.push(vertex.id);
    this.#changed();

    let doomed = state.parents.some((p) => this.#statusOf(p) === "rejected") ||
      this.#selfDefeating(state, vertex.txs);
    vertex.txs.forEach((input, i) => {
      const tx = this.#txs.get(input.id) ?? this.#addTx(input);
      const carrier: CarrierState = { id: carriers[i], txId: tx.id, vertexId: vertex.id, status: "processing" };
      this.#carriers.set(carrier.id, carrier);
      tx.carriers.push(carrier.id);
      const set = this.#sets.get(tx.conflictKey)!;
      set.add(carrier.id);
      // Late: its set decided already (on another transaction, or on another carrier of this one).
      if (set.accepted() !== null || tx.status === "rejected") doomed = true;
    });

    if (doomed) {
      this.#reject([], [], [vertex.id]);
    } else {
      this.#processingVertices.add(vertex.id);
      if (vertex.txs.length === 0) this.#emptyConfidence.set(vertex.id, 0);
      for (const input of vertex.txs) {
        const key = this.#txs.get(input.id)!.conflictKey;
        if (this.#sets.get(key)!.processing()) this.#processingSets.add(key);
      }
    }
    this.#acceptReady();
    return this.#takeDecisions();
  }

  /**
   * True when an undecided ancestor of `v` carries a member of the conflict
   * set of one of `v`'s transactions (a rival, or the same transaction), or a
   * transaction depending on one of them. Such a vertex could never be
   * accepted: it cannot be strongly preferred while its ancestor is (two
   * members of one set), and a dependent would wait for its dependency,
   * carried by its own descendant. So it is rejected on arrival. Every node
   * agrees: an accepted ancestor carrier decided the set (or the dependency
   * was accepted elsewhere first), a rejected ancestor rejects `v` anyway,
   * and the undecided ones are found here.
   */
  #selfDefeating(v: VertexState, txs: readonly TxInput[]): boolean {
    const taken = this.#rivalVertices(txs);
    if (taken.size === 0) return false;
    const seen = new Set<string>();
    const stack = [...v.parents];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const ancestor = this.#vertices.get(id);
      if (ancestor === undefined || ancestor.status !== "processing") continue;
      if (taken.has(id)) return true;
      stack.push(...ancestor.parents);
    }
    return false;
  }

  /**
   * Vertices of the live carriers in the conflict sets of `txs`, and of the
   * live carriers of transactions depending on them.
   */
  #rivalVertices(txs: readonly { readonly id: string; readonly conflictKey: string }[]): Set<string> {
    const out = new Set<string>();
    const live = (c: string) => {
      const carrier = this.#carriers.get(c)!;
      if (carrier.status === "processing") out.add(carrier.vertexId);
    };
    for (const tx of txs) {
      for (const c of this.#sets.get(tx.conflictKey)?.members() ?? []) live(c);
      for (const d of this.#dependents.get(tx.id) ?? []) for (const c of this.#txs.get(d)?.carriers ?? []) live(c);
    }
    return out;
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
    if (this.#polls > 0) {
      throw new RestoreError(`Cannot restore decisions: ${this.#polls} polls were recorded already`);
    }
    const given = new Map<string, Decision["status"]>();
    for (const d of decided) {
      const known = d.kind === "tx" ? this.#txs.has(d.id) : this.#vertices.has(d.id);
      if (!known) {
        throw new RestoreError(
          `Cannot restore: ${d.kind} ${d.id} was decided ${d.status} but is in no restored vertex`,
        );
      }
      const key = `${d.kind}:${d.id}`;
      if ((given.get(key) ?? d.status) !== d.status) {
        throw new RestoreError(`Cannot restore: ${d.kind} ${d.id} was decided both accepted and rejected`);
      }
      given.set(key, d.status);
    }
    const pick = (kind: Decision["kind"], status: Decision["status"]) =>
      [...new Set(decided.filter((d) => d.kind === kind && d.status === status).map((d) => d.id))].sort();

    const winners = new Map<string, string>();
    for (const id of pick("tx", "accepted")) {
      const key = this.#txs.get(id)!.conflictKey;
      const prior = winners.get(key);
      if (prior !== undefined) {
        throw new RestoreError(
          `Cannot restore: ${prior} and ${id} were both accepted, and both have conflict key ${key}`,
        );
      }
      winners.set(key, id);
    }
    // In insertion order (parents first); dependencies may come later, so pass until no progress.
    const acceptedVertices = new Set(pick("vertex", "accepted"));
    let waiting = [...this.#vertices.keys()].filter((id) => acceptedVertices.has(id));
    while (waiting.length > 0) {
      const blocked: string[] = [];
      for (const id of waiting) {
        const v = this.#vertices.get(id)!;
        if (v.status === "accepted") continue;
        const problem = this.#restoreProblem(v);
        if (problem !== null) {
          throw new RestoreError(`Cannot restore: vertex ${id} was decided accepted, but ${problem}`);
        }
        if (this.#acceptable(v, false)) this.#acceptVertex(v);
        else blocked.push(id);
      }
      if (blocked.length === waiting.length) {
        const v = this.#vertices.get(blocked[0])!;
        const parent = v.parents.find((p) => this.#statusOf(p) !== "accepted");
        const dep = v.carriers.flatMap((c) => this.#txs.get(this.#carriers.get(c)!.txId)!.deps)
          .find((d) => this.#txs.get(d)?.status !== "accepted");
        throw new RestoreError(
          `Cannot restore: vertex ${v.id} was decided accepted, but ${
            parent !== undefined ? `its parent ${parent} is not` : `its dependency ${dep} is not`
          }`,
        );
      }
      waiting = blocked;
    }
    for (const id of pick("tx", "accepted")) {
      if (this.#txs.get(id)!.status !== "accepted") {
        throw new RestoreError(`Cannot restore: tx ${id} was decided accepted, but no vertex carrying it was`);
      }
    }
    this.#reject(pick("tx", "rejected"), [], pick("vertex", "rejected"));
    this.#acceptReady();

    for (const [key, status] of given) {
      const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      const now = kind === "tx" ? this.#txs.get(id)!.status : this.#vertices.get(id)!.status;
      if (now !== status) {
        throw new RestoreError(
          `Cannot restore: ${kind} ${id} was decided ${status}, but the other decisions leave it ${now}`,
        );
      }
    }
    return this.#takeDecisions().filter((d) => given.get(`${d.kind}:${d.id}`) !== d.status);
  }

  /** Why `v`, decided accepted, cannot be: null if nothing rules it out. */
  #restoreProblem(v: VertexState): string | null {
    if (v.status === "rejected") return "the other decisions reject it";
    for (const c of v.carriers) {
      const carrier = this.#carriers.get(c)!;
      const tx = this.#txs.get(carrier.txId)!;
      if (tx.status === "rejected") return `its transaction ${tx.id} lost its conflict set or a dependency`;
      const winner = this.#sets.get(tx.conflictKey)!.accepted();
      if (winner !== null && winner !== c) {
        const other = this.#carriers.get(winner);
        if (other === undefined) return `conflict set ${tx.conflictKey} was decided by a settled transaction`;
        return `${other.txId} in vertex ${other.vertexId} was accepted too, in conflict set ${tx.conflictKey}`;
      }
    }
    return null;
  }

  /**
   * Records one poll. Each element of `votes` is one responder's preferred
   * frontier; responders that did not answer are simply absent. Unknown
   * vertex ids are ignored (the engine fetches them). Returns the decisions.
   */
  recordPoll(votes: readonly (readonly string[])[]): Decision[] {
    this.#polls++;
    const tallies = this.#tally(votes, true);
    this.#lastPollSuccesses = 0;
    for (const key of [...this.#processingSets].sort()) {
      const tally = tallies.get(key);
      let best = 0;
      for (const count of tally?.values() ?? []) best = Math.max(best, count);
      const set = this.#sets.get(key)!;
      // A set that finalized and waits for its vertex makes no progress.
      if (best >= this.params.alphaPreference && set.finalized() === null) this.#lastPollSuccesses++;
      set.recordPoll(tally);
    }
    // An empty vertex is its own one-member choice: beta consecutive polls with alphaConfidence supporters.
    for (const [id, confidence] of this.#emptyConfidence) {
      const key = emptyKey(id);
      const count = tallies.get(key)?.get(key) ?? 0;
      if (count >= this.params.alphaConfidence && confidence < this.params.beta) this.#lastPollSuccesses++;
      this.#emptyConfidence.set(id, count >= this.params.alphaConfidence ? confidence + 1 : 0);
    }
    this.#changed();
    this.#acceptReady();
    return this.#takeDecisions();
  }

  /**
   * True when `pending` more votes could not change what recording `votes`
   * would do, so a poll may end early: in every processing conflict set,
   * either a member already has alphaConfidence supporters (no other member
   * can reach alphaPreference, as each responder supports at most one and
   * alphaPreference > k/2), or no member can reach alphaPreference.
   */
  pollSettled(votes: readonly (readonly string[])[], pending: number): boolean {
    if (pending === 0) return true;
    const { alphaPreference, alphaConfidence } = this.params;
    if (votes.length < alphaConfidence && pending >= alphaPreference) return false;
    const tallies = this.#tally(votes, false);
    for (const key of [...this.#processingSets, ...[...this.#emptyConfidence.keys()].map(emptyKey)]) {
      let best = 0;
      for (const count of tallies.get(key)?.values() ?? []) best = Math.max(best, count);
      if (best >= alphaConfidence) continue;
      // Unknown members may gain votes too; they start from zero.
      if (best + pending >= alphaPreference || pending >= alphaPreference) return false;
    }
    return true;
  }

  /** Conflict key -> carrier -> supporting responders. */
  #tally(votes: readonly (readonly string[])[], countEquivocation: boolean): Map<string, Map<string, number>> {
    const tallies = new Map<string, Map<string, number>>();
    for (const frontier of votes) {
      const cacheKey = frontier.join(",");
      let support = this.#supportCache.get(cacheKey);
      if (support === undefined) {
        support = this.#support([...new Set(frontier)].sort().slice(0, VOTE_FRONTIER_MAX));
        if (this.#supportCache.size >= SUPPORT_CACHE_MAX) this.#supportCache.clear();
        this.#supportCache.set(cacheKey, support);
      }
      for (const [key, carrier] of support) {
        if (carrier === EQUIVOCATED) {
          if (countEquivocation) this.#equivocatingVotes++;
          continue;
        }
        let tally = tallies.get(key);
        if (tally === undefined) tallies.set(key, tally = new Map());
        tally.set(carrier, (tally.get(carrier) ?? 0) + 1);
      }
    }
    return tallies;
  }

  /**
   * The ids this node votes for: tips of the accepted and strongly preferred
   * vertices, sorted, at most {@linkcode VOTE_FRONTIER_MAX}.
   */
  preferredFrontier(): string[] {
    if (this.#frontierCache !== null) return [...this.#frontierCache];
    const memo = new Map<string, boolean>();
    const strong = new Set<string>();
    for (const id of this.#processingVertices) {
      const v = this.#vertices.get(id)!;
      const ok = v.parents.every((p) => this.#statusOf(p) === "accepted" || strong.has(p)) &&
        v.carriers.every((c) => this.#carrierPreferred(c, memo, 0));
      if (ok) strong.add(id);
    }
    const tips = new Set<string>([...this.#acceptedTips, ...strong]);
    for (const id of strong) for (const p of this.#vertices.get(id)!.parents) tips.delete(p);
    this.#frontierCache = [...tips].sort().slice(0, VOTE_FRONTIER_MAX);
    return [...this.#frontierCache];
  }

  /**
   * Tips of the clean part of the DAG: accepted vertices, and processing
   * vertices whose carriers are all alone in their conflict set (with clean
   * dependencies) and whose parents are clean. New vertices go on top of
   * these, so an honest transaction is not tied to the fate of a contested
   * one. With `forTxs`, leaves out the live carriers in their conflict sets
   * and of their dependents, and their descendants: the tips a vertex
   * carrying `forTxs` may name without being rejected on arrival. Sorted.
   */
  virtuousFrontier(forTxs: readonly TxInput[] = []): string[] {
    const memo = new Map<string, boolean>();
    const clean = new Set<string>();
    // A vertex carrying forTxs must not descend from a rival carrier (see #selfDefeating).
    const taken = this.#rivalVertices(forTxs);
    for (const id of this.#processingVertices) {
      const v = this.#vertices.get(id)!;
      if (
        !taken.has(id) &&
        v.parents.every((p) => this.#statusOf(p) === "accepted" || clean.has(p)) &&
        v.txIds.every((t) => this.#txClean(t, memo, 0))
      ) clean.add(id);
    }
    const tips = new Set<string>([...this.#acceptedTips, ...clean]);
    for (const id of clean) for (const p of this.#vertices.get(id)!.parents) tips.delete(p);
    return [...tips].sort();
  }

  #txClean(txId: string, memo: Map<string, boolean>, depth: number): boolean {
    const cached = memo.get(txId);
    if (cached !== undefined) return cached;
    const tx = this.#txs.get(txId);
    let ok: boolean;
    if (tx === undefined) ok = this.#settled.txStatus(txId) === "accepted";
    else if (tx.status === "rejected") ok = false;
    else if (tx.status === "accepted") ok = true;
    else if (depth > 64) ok = false;
    else {
      memo.set(txId, false);
      ok = this.#sets.get(tx.conflictKey)!.size() === 1 &&
        tx.deps.every((d) => this.#txClean(d, memo, depth + 1));
    }
    memo.set(txId, ok);
    return ok;
  }

  /**
   * Processing transactions none of whose carriers is still alive: nobody
   * can vote for them until they are issued again in a new vertex. Sorted.
   */
  orphanedTxs(): TxInput[] {
    const out: TxInput[] = [];
    for (const id of [...this.#processingTxs].sort()) {
      const tx = this.#txs.get(id)!;
      if (tx.carriers.every((c) => this.#carriers.get(c)!.status === "rejected")) {
        out.push({ id, conflictKey: tx.conflictKey, deps: [...tx.deps] });
      }
    }
    return out;
  }

  /** Vertices carrying `txId`, sorted. */
  verticesOf(txId: string): string[] {
    return (this.#txs.get(txId)?.carriers ?? []).flatMap((c) => this.#carriers.get(c)?.vertexId ?? []).sort();
  }

  #checkVertex(vertex: VertexInput): void {
    if (vertex.parents.length > VERTEX_PARENTS_MAX) {
      throw new ConsensusError(
        `Cannot add vertex ${vertex.id}: ${vertex.parents.length} parents, at most ${VERTEX_PARENTS_MAX} allowed`,
      );
    }
    if (vertex.txs.length > VERTEX_TXS_MAX) {
      throw new ConsensusError(
        `Cannot add vertex ${vertex.id}: ${vertex.txs.length} transactions, at most ${VERTEX_TXS_MAX} allowed`,
      );
    }
    if (new Set(vertex.parents).size !== vertex.parents.length) {
      throw new ConsensusError(`Cannot add vertex ${vertex.id}: a parent is named twice`);
    }
    for (const p of vertex.parents) {
      if (!this.hasVertex(p)) {
        throw new ConsensusError(`Cannot add vertex ${vertex.id}: parent ${p} is unknown`);
      }
    }
    const ids = new Set<string>();
    const keys = new Set<string>();
    for (const tx of vertex.txs) {
      if (ids.has(tx.id)) {
        throw new ConsensusError(`Cannot add vertex ${vertex.id}: transaction ${tx.id} appears twice`);
      }
      if (keys.has(tx.conflictKey)) {
        throw new ConsensusError(
          `Cannot add vertex ${vertex.id}: two transactions share conflict key ${tx.conflictKey}`,
        );
      }
      if (tx.deps.includes(tx.id)) {
        throw new ConsensusError(`Cannot add vertex ${vertex.id}: transaction ${tx.id} depends on itself`);
      }
      ids.add(tx.id);
      keys.add(tx.conflictKey);
      const known = this.#txs.get(tx.id);
      if (
        known !== undefined &&
        (known.conflictKey !== tx.conflictKey || known.deps.join(",") !== tx.deps.join(","))
      ) {
        throw new ConsensusError(
          `Cannot add vertex ${vertex.id}: transaction ${tx.id} differs from the copy already known`,
        );
      }
    }
  }

  /** A transaction seen for the first time (its first carrier is added by the caller). */
  #addTx(input: TxInput): TxState {
    const tx: TxState = {
      id: input.id,
      conflictKey: input.conflictKey,
      deps: [...input.deps],
      carriers: [],
      addedAtPoll: this.#polls,
      status: "processing",
    };
    this.#txs.set(tx.id, tx);
    for (const d of tx.deps) {
      const list = this.#dependents.get(d);
      if (list === undefined) this.#dependents.set(d, [tx.id]);
      else list.push(tx.id);
    }
    let set = this.#sets.get(tx.conflictKey);
    if (set === undefined) {
      set = new ConflictSet(this.params, tx.conflictKey);
      this.#sets.set(tx.conflictKey, set);
      // Decided and settled long ago: this carrier is late (a replay, or a rival of a settled transaction).
      const winner = this.#settled.winner(tx.conflictKey);
      if (winner !== null) set.settle();
    }
    set.addTx(tx.id);
    // Decided before and dropped from memory: decided again without a second report.
    const decided = this.#settled.txStatus(tx.id);
    if (decided !== undefined) {
      tx.status = decided;
      return tx;
    }
    this.#processingTxs.add(tx.id);
    // Another transaction won its set already, or a dependency is rejected.
    if (set.accepted() !== null || tx.deps.some((d) => this.#txs.get(d)?.status === "rejected")) {
      this.#reject([tx.id], [], []);
    }
    return tx;
  }

  #carrierPreferred(carrierId: string, memo: Map<string, boolean>, depth: number): boolean {
    const carrier = this.#carriers.get(carrierId)!;
    if (carrier.status !== "processing") return carrier.status === "accepted";
    const tx = this.#txs.get(carrier.txId)!;
    return this.#sets.get(tx.conflictKey)!.preference() === carrierId &&
      tx.deps.every((d) => this.#txPreferred(d, memo, depth + 1));
  }

  /** Accepted, or a carrier of it preferred (dependency chains this deep wait for acceptance). */
  #txPreferred(txId: string, memo: Map<string, boolean>, depth: number): boolean {
    const cached = memo.get(txId);
    if (cached !== undefined) return cached;
    const tx = this.#txs.get(txId);
    let ok: boolean;
    if (tx === undefined) ok = this.#settled.txStatus(txId) === "accepted";
    else if (tx.status === "rejected") ok = false;
    else if (tx.status === "accepted") ok = true;
    else if (depth > 64) ok = false;
    else {
      memo.set(txId, false); // a dependency cycle is never preferred
      ok = tx.carriers.some((c) => this.#carrierPreferred(c, memo, depth));
    }
    memo.set(txId, ok);
    return ok;
  }

  /** Conflict key -> supported carrier (or EQUIVOCATED) for one frontier. */
  #support(frontier: readonly string[]): Map<string, string> {
    const support = new Map<string, string>();
    const seen = new Set<string>();
    const stack = frontier.filter((id) => this.#vertices.has(id));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const v = this.#vertices.get(id);
      // Accepted (or settled and dropped): its whole ancestry is decided.
      if (v === undefined || v.status === "accepted") continue;
      if (this.#emptyConfidence.has(id)) support.set(emptyKey(id), emptyKey(id));
      for (const c of v.carriers) {
        const carrier = this.#carriers.get(c);
        if (carrier === undefined || carrier.status !== "processing") continue;
        const key = this.#txs.get(carrier.txId)!.conflictKey;
        const prior = support.get(key);
        if (prior === undefined) support.set(key, c);
        else if (prior !== c) support.set(key, EQUIVOCATED);
      }
      for (const p of v.parents) if (!seen.has(p)) stack.push(p);
    }
    return support;
  }

  /**
   * True when `v` can be accepted now: parents accepted, every carrier its
   * set's choice (finalized by polls, unless `polled` is false: restoring)
   * and every dependency of its transactions accepted or carried by `v` too.
   */
  #acceptable(v: VertexState, polled: boolean): boolean {
    if (v.status !== "processing") return false;
    if (!v.parents.every((p) => this.#statusOf(p) === "accepted")) return false;
    if (polled && v.carriers.length === 0) return (this.#emptyConfidence.get(v.id) ?? 0) >= this.params.beta;
    return v.carriers.every((c) => {
      const carrier = this.#carriers.get(c)!;
      const tx = this.#txs.get(carrier.txId)!;
      return carrier.status === "processing" &&
        (!polled || this.#sets.get(tx.conflictKey)!.finalized() === c) &&
        tx.deps.every((d) => this.#txAccepted(d) || v.txIds.includes(d));
    });
  }

  /** Accepts until nothing more follows. */
  #acceptReady(): void {
    this.#changed();
    let changed = true;
    while (changed) {
      changed = false;
      for (const key of [...this.#processingSets]) {
        if (!this.#sets.get(key)!.processing()) this.#processingSets.delete(key);
      }
      for (const id of [...this.#processingVertices]) {
        const v = this.#vertices.get(id)!;
        if (this.#acceptable(v, true)) {
          this.#acceptVertex(v);
          changed = true;
        }
      }
    }
  }

  /**
   * Accepts `v`, its carriers and their transactions; rejects the other
   * carriers of their sets, and the transactions among them that are not
   * the accepted one.
   */
  #acceptVertex(v: VertexState): void {
    const loserTxs: string[] = [];
    const loserCarriers: string[] = [];
    for (const c of v.carriers) {
      const carrier = this.#carriers.get(c)!;
      carrier.status = "accepted";
      const tx = this.#txs.get(carrier.txId)!;
      if (tx.status === "processing") {
        tx.status = "accepted";
        this.#processingTxs.delete(tx.id);
        this.#decide("tx", tx.id, "accepted", tx.addedAtPoll);
      }
      this.#processingSets.delete(tx.conflictKey);
      loserCarriers.push(...this.#sets.get(tx.conflictKey)!.accept(c));
      // Every other transaction of the set loses, orphans (no live carrier) included.
      for (const t of this.conflictSet(tx.conflictKey)) if (t !== tx.id) loserTxs.push(t);
    }
    v.status = "accepted";
    this.#processingVertices.delete(v.id);
    this.#emptyConfidence.delete(v.id);
    for (const p of v.parents) this.#acceptedTips.delete(p);
    this.#acceptedTips.add(v.id);
    this.#decide("vertex", v.id, "accepted", v.addedAtPoll);
    this.#reject(loserTxs, loserCarriers, []);
  }

  /**
   * Rejects the transactions, carriers and vertices and, transitively,
   * everything depending on them: a transaction's dependents and carriers, a
   * carrier's vertex, a vertex's carriers and children. A carrier's
   * transaction lives on (it may be carried again).
   */
  #reject(txIds: readonly string[], carrierIds: readonly string[], vertexIds: readonly string[]): void {
    // Iterative: cascades may be long chains of dependents and descendants.
    const txQueue = [...txIds];
    const carrierQueue = [...carrierIds];
    const vertexQueue = [...vertexIds];
    while (txQueue.length > 0 || carrierQueue.length > 0 || vertexQueue.length > 0) {
      const nextTx = txQueue.pop();
      if (nextTx !== undefined) {
        const tx = this.#txs.get(nextTx);
        if (tx === undefined || tx.status === "rejected") continue;
        if (tx.status === "accepted") {
          throw new Error(`Consensus invariant broken: rejecting accepted transaction ${nextTx}`);
        }
        tx.status = "rejected";
        this.#processingTxs.delete(nextTx);
        this.#decide("tx", nextTx, "rejected", tx.addedAtPoll);
        carrierQueue.push(...tx.carriers);
        txQueue.push(...(this.#dependents.get(nextTx) ?? []));
        continue;
      }
      const nextCarrier = carrierQueue.pop();
      if (nextCarrier !== undefined) {
        const carrier = this.#carriers.get(nextCarrier)!;
        if (carrier.status === "rejected") continue;
        if (carrier.status === "accepted") {
          throw new Error(`Consensus invariant broken: rejecting accepted carrier ${nextCarrier}`);
        }
        carrier.status = "rejected";
        const key = this.#txs.get(carrier.txId)!.conflictKey;
        const set = this.#sets.get(key)!;
        set.kill(nextCarrier);
        if (!set.processing()) this.#processingSets.delete(key);
        vertexQueue.push(carrier.vertexId);
        continue;
      }
      const vid = vertexQueue.pop()!;
      const v = this.#vertices.get(vid)!;
      if (v.status !== "processing") continue;
      v.status = "rejected";
      this.#processingVertices.delete(vid);
      this.#emptyConfidence.delete(vid);
      this.#decide("vertex", vid, "rejected", v.addedAtPoll);
      carrierQueue.push(...v.carriers);
      vertexQueue.push(...v.children);
    }
    this.#changed();
  }

  #changed(): void {
    this.#frontierCache = null;
    this.#supportCache.clear();
  }

  #decide(kind: "tx" | "vertex", id: string, status: "accepted" | "rejected", since: number): void {
    this.#decisions.push({ kind, id, status, rounds: this.#polls - since });
  }

  #takeDecisions(): Decision[] {
    const out = this.#decisions;
    this.#decisions = [];
    return out;
  }
}
