import { ConflictSet } from "./conflicts.ts";
import { type Parameters, verifyParameters } from "./parameters.ts";
import { ConsensusError, type Decision, RestoreError, type Status, type TxInput, type VertexInput } from "./types.ts";

/** Vertices one vote may name; longer frontiers are cut (sorted, first N). */
export const VOTE_FRONTIER_MAX = 64;
/** Transactions one vertex may carry. */
export const VERTEX_TXS_MAX = 256;
/** Parents one vertex may name. */
export const VERTEX_PARENTS_MAX = 16;

interface VertexState {
  readonly id: string;
  readonly parents: readonly string[];
  readonly txIds: readonly string[];
  readonly children: string[];
  readonly addedAtPoll: number;
  status: Status;
}

interface TxState {
  readonly id: string;
  readonly conflictKey: string;
  readonly deps: readonly string[];
  readonly vertexIds: string[];
  readonly addedAtPoll: number;
  status: Status;
}

/** Distinct frontiers whose support is remembered between changes. */
const SUPPORT_CACHE_MAX = 256;

/** Marks a responder that supported two members of one conflict set. */
const EQUIVOCATED = "";

/**
 * Avalanche over a DAG of vertices, as a pure state machine.
 *
 * - Conflicts: every transaction belongs to the conflict set of its
 *   conflictKey; each set runs one Snowball ({@linkcode ConflictSet}).
 * - Preference: a transaction is preferred when it is its set's preference
 *   and each dependency is accepted or itself preferred. A vertex is strongly
 *   preferred when its transactions are preferred and its parents are
 *   accepted or strongly preferred. The preferred frontier is the set of tips
 *   of (accepted vertices + strongly preferred vertices); it is what this node
 *   answers when queried.
 * - Chits: a responder's vote is its preferred frontier. A vote for a vertex
 *   is a vote for every ancestor, so each responder supports, in each
 *   conflict set, the member found in the ancestry of its frontier. A
 *   responder whose ancestry holds two members of one set is equivocating;
 *   its vote in that set is void.
 * - Confidence: every recorded poll feeds every processing conflict set; a
 *   member with at least alphaPreference supporters is a successful poll for
 *   it, anything else is an unsuccessful poll, which resets confidence.
 * - Acceptance: a transaction is accepted once its set's Snowball finalized on
 *   it (beta consecutive confident polls) and all its dependencies are
 *   accepted. Accepting it rejects the other members of its set. A vertex is
 *   accepted once its parents and transactions are.
 * - Rejection: a transaction is rejected when a conflicting one is accepted
 *   or a dependency is rejected; a vertex is rejected when one of its
 *   transactions or parents is rejected; both cascade to all dependents.
 *   A processing transaction whose every vertex was rejected is an orphan,
 *   to be re-issued in a new vertex by the engine ({@linkcode orphanedTxs}).
 *
 * Deterministic: given the same calls in the same order, the same decisions
 * in the same order; every iteration whose order can leak out is sorted.
 */
export class DagConsensus {
  readonly params: Parameters;
  readonly #vertices = new Map<string, VertexState>();
  readonly #txs = new Map<string, TxState>();
  readonly #sets = new Map<string, ConflictSet>();
  /** Dependents by dependency id; the dependency may not be known yet. */
  readonly #dependents = new Map<string, string[]>();
  /** In insertion order, which is topological (parents are added first). */
  readonly #processingVertices = new Set<string>();
  readonly #processingTxs = new Set<string>();
  readonly #processingSets = new Set<string>();
  /** Accepted vertices without an accepted child. */
  readonly #acceptedTips = new Set<string>();
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

  constructor(params: Parameters) {
    this.params = verifyParameters(params);
  }

  hasVertex(id: string): boolean {
    return this.#vertices.has(id);
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

  /** True when no conflicting transaction has been seen for `txId`. */
  isVirtuous(txId: string): boolean {
    const tx = this.#txs.get(txId);
    return tx !== undefined && this.#sets.get(tx.conflictKey)!.size() === 1;
  }

  /** Consecutive confident polls of the set `txId` belongs to, if preferred. */
  confidence(txId: string): number {
    const tx = this.#txs.get(txId);
    if (tx === undefined) return 0;
    const set = this.#sets.get(tx.conflictKey)!;
    return set.preference() === txId ? set.confidence() : 0;
  }

  /** The member of the conflict set of `conflictKey` this node votes for. */
  preferenceOf(conflictKey: string): string | null {
    return this.#sets.get(conflictKey)?.preference() ?? null;
  }

  /** Members of the conflict set of `conflictKey`, sorted. */
  conflictSet(conflictKey: string): string[] {
    return this.#sets.get(conflictKey)?.members() ?? [];
  }

  /**
   * Adds a vertex whose parents are all known. Idempotent for known ids.
   * Throws {@linkcode ConsensusError} for a vertex breaking a structural rule
   * (then nothing was changed). Returns the decisions it caused.
   */
  add(vertex: VertexInput): Decision[] {
    if (this.#vertices.has(vertex.id)) return [];
    this.#checkVertex(vertex);
    const state: VertexState = {
      id: vertex.id,
      parents: [...vertex.parents],
      txIds: vertex.txs.map((t) => t.id),
      children: [],
      addedAtPoll: this.#polls,
      status: "processing",
    };
    this.#vertices.set(vertex.id, state);
    for (const p of state.parents) this.#vertices.get(p)!.children.push(vertex.id);
    this.#changed();

    for (const input of vertex.txs) {
      const known = this.#txs.get(input.id);
      if (known !== undefined) {
        known.vertexIds.push(vertex.id);
        continue;
      }
      this.#addTx(input, vertex.id);
    }

    const doomed = state.status === "rejected" ||
      state.parents.some((p) => this.#vertices.get(p)!.status === "rejected") ||
      state.txIds.some((t) => this.#txs.get(t)!.status === "rejected");
    if (doomed) {
      if (state.status !== "rejected") {
        state.status = "rejected";
        this.#decide("vertex", state.id, "rejected", state.addedAtPoll);
      }
    } else {
      this.#processingVertices.add(vertex.id);
    }
    this.#settle();
    return this.#takeDecisions();
  }

  /**
   * Reinstates outcomes this node decided before a restart (read back from its
   * decision store) on a DAG rebuilt with {@linkcode add}, before any poll.
   * Afterwards each of them holds: an accepted transaction is accepted, so the
   * other members of its conflict set are rejected and no later poll can
   * revive them; a rejected transaction or vertex is rejected together with
   * everything depending on it; an accepted vertex is accepted. What is left
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
   * of one conflict set, an accepted transaction whose dependency is not
   * accepted, an accepted vertex with an undecided parent...). The instance
   * is then in an unspecified state and must be discarded.
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

    const accepted = pick("tx", "accepted");
    const winners = new Map<string, string>();
    for (const id of accepted) {
      const key = this.#txs.get(id)!.conflictKey;
      const prior = winners.get(key);
      if (prior !== undefined) {
        throw new RestoreError(
          `Cannot restore: ${prior} and ${id} were both accepted, and both have conflict key ${key}`,
        );
      }
      winners.set(key, id);
    }
    // Dependencies first; every pass accepts at least one, so at most accepted.length passes.
    let waiting = accepted;
    while (waiting.length > 0) {
      const blocked: string[] = [];
      for (const id of waiting) {
        const tx = this.#txs.get(id)!;
        if (tx.status === "rejected") {
          throw new RestoreError(
            `Cannot restore: tx ${id} was decided accepted, but a dependency of it lost its conflict set`,
          );
        }
        if (tx.deps.every((d) => this.#txs.get(d)?.status === "accepted")) this.#acceptTx(id);
        else blocked.push(id);
      }
      if (blocked.length === waiting.length) {
        const tx = this.#txs.get(blocked[0])!;
        const dep = tx.deps.find((d) => this.#txs.get(d)?.status !== "accepted");
        throw new RestoreError(`Cannot restore: tx ${tx.id} was decided accepted, but its dependency ${dep} is not`);
      }
      waiting = blocked;
    }
    this.#reject(pick("tx", "rejected"), pick("vertex", "rejected"));
    this.#settle();

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
      // A set that finalized and waits for dependencies makes no progress.
      if (best >= this.params.alphaPreference && set.finalized() === null) this.#lastPollSuccesses++;
      set.recordPoll(tally);
    }
    this.#changed();
    this.#settle();
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
    for (const key of this.#processingSets) {
      let best = 0;
      for (const count of tallies.get(key)?.values() ?? []) best = Math.max(best, count);
      if (best >= alphaConfidence) continue;
      // Unknown members may gain votes too; they start from zero.
      if (best + pending >= alphaPreference || pending >= alphaPreference) return false;
    }
    return true;
  }

  /** Conflict key -> member -> supporting responders. */
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
      for (const [key, txId] of support) {
        if (txId === EQUIVOCATED) {
          if (countEquivocation) this.#equivocatingVotes++;
          continue;
        }
        let tally = tallies.get(key);
        if (tally === undefined) tallies.set(key, tally = new Map());
        tally.set(txId, (tally.get(txId) ?? 0) + 1);
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
    const preferredTx = new Map<string, boolean>();
    const strong = new Set<string>();
    for (const id of this.#processingVertices) {
      const v = this.#vertices.get(id)!;
      const ok = v.parents.every((p) => this.#vertices.get(p)!.status === "accepted" || strong.has(p)) &&
        v.txIds.every((t) => this.#txPreferred(t, preferredTx, 0));
      if (ok) strong.add(id);
    }
    const tips = new Set<string>([...this.#acceptedTips, ...strong]);
    for (const id of strong) for (const p of this.#vertices.get(id)!.parents) tips.delete(p);
    this.#frontierCache = [...tips].sort().slice(0, VOTE_FRONTIER_MAX);
    return [...this.#frontierCache];
  }

  /**
   * Tips of the clean part of the DAG: accepted vertices, and processing
   * vertices whose transactions are all virtuous (alone in their conflict set,
   * with clean dependencies) and whose parents are clean. New vertices go on
   * top of these, so an honest transaction is never tied to the fate of a
   * contested one (a contested conflict may never be decided). Sorted.
   */
  virtuousFrontier(): string[] {
    const cleanTx = new Map<string, boolean>();
    const clean = this.#cleanVertices(cleanTx);
    const tips = new Set<string>([...this.#acceptedTips, ...clean]);
    for (const id of clean) for (const p of this.#vertices.get(id)!.parents) tips.delete(p);
    return [...tips].sort();
  }

  /**
   * Virtuous processing transactions with accepted dependencies that sit
   * only in vertices descending from a contested transaction (or rejected):
   * validators on the other side of that contest do not vote for them, so
   * they need re-issuing on clean parents. Includes {@linkcode orphanedTxs}'s
   * virtuous members. Sorted.
   */
  entangledTxs(): TxInput[] {
    const cleanTx = new Map<string, boolean>();
    const clean = this.#cleanVertices(cleanTx);
    const out: TxInput[] = [];
    for (const id of [...this.#processingTxs].sort()) {
      const tx = this.#txs.get(id)!;
      if (this.#sets.get(tx.conflictKey)!.size() !== 1) continue;
      if (!tx.deps.every((d) => this.#txs.get(d)?.status === "accepted")) continue;
      if (tx.vertexIds.some((v) => clean.has(v))) continue;
      out.push({ id, conflictKey: tx.conflictKey, deps: [...tx.deps] });
    }
    return out;
  }

  #cleanVertices(cleanTx: Map<string, boolean>): Set<string> {
    const clean = new Set<string>();
    for (const id of this.#processingVertices) {
      const v = this.#vertices.get(id)!;
      if (
        v.parents.every((p) => this.#vertices.get(p)!.status === "accepted" || clean.has(p)) &&
        v.txIds.every((t) => this.#txClean(t, cleanTx, 0))
      ) clean.add(id);
    }
    return clean;
  }

  #txClean(txId: string, memo: Map<string, boolean>, depth: number): boolean {
    const cached = memo.get(txId);
    if (cached !== undefined) return cached;
    const tx = this.#txs.get(txId);
    let ok: boolean;
    if (tx === undefined || tx.status === "rejected") ok = false;
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
   * Processing transactions none of whose vertices is still alive: nobody
   * can vote for them until they are issued again in a new vertex. Sorted.
   */
  orphanedTxs(): TxInput[] {
    const out: TxInput[] = [];
    for (const id of [...this.#processingTxs].sort()) {
      const tx = this.#txs.get(id)!;
      if (tx.vertexIds.every((v) => this.#vertices.get(v)!.status === "rejected")) {
        out.push({ id, conflictKey: tx.conflictKey, deps: [...tx.deps] });
      }
    }
    return out;
  }

  /** Vertices containing `txId`, sorted. */
  verticesOf(txId: string): string[] {
    return [...(this.#txs.get(txId)?.vertexIds ?? [])].sort();
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
      if (!this.#vertices.has(p)) {
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

  #addTx(input: TxInput, vertexId: string): void {
    const tx: TxState = {
      id: input.id,
      conflictKey: input.conflictKey,
      deps: [...input.deps],
      vertexIds: [vertexId],
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
    }
    set.add(tx.id);
    const lost = set.accepted() !== null;
    const depRejected = tx.deps.some((d) => this.#txs.get(d)?.status === "rejected");
    if (lost || depRejected) {
      this.#rejectTx(tx.id);
      return;
    }
    this.#processingTxs.add(tx.id);
    if (set.processing()) this.#processingSets.add(tx.conflictKey);
  }

  #txPreferred(txId: string, memo: Map<string, boolean>, depth: number): boolean {
    const cached = memo.get(txId);
    if (cached !== undefined) return cached;
    const tx = this.#txs.get(txId);
    let ok: boolean;
    if (tx === undefined || tx.status === "rejected") ok = false;
    else if (tx.status === "accepted") ok = true;
    else if (depth > 64) ok = false; // a dependency chain this deep waits for acceptance
    else {
      memo.set(txId, false); // a dependency cycle is never preferred
      ok = this.#sets.get(tx.conflictKey)!.preference() === txId &&
        tx.deps.every((d) => this.#txPreferred(d, memo, depth + 1));
    }
    memo.set(txId, ok);
    return ok;
  }

  /** Conflict key -> supported member (or EQUIVOCATED) for one frontier. */
  #support(frontier: readonly string[]): Map<string, string> {
    const support = new Map<string, string>();
    const seen = new Set<string>();
    const stack = frontier.filter((id) => this.#vertices.has(id));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const v = this.#vertices.get(id)!;
      if (v.status === "accepted") continue; // its whole ancestry is decided
      for (const txId of v.txIds) {
        const tx = this.#txs.get(txId)!;
        if (tx.status !== "processing") continue;
        const prior = support.get(tx.conflictKey);
        if (prior === undefined) support.set(tx.conflictKey, txId);
        else if (prior !== txId) support.set(tx.conflictKey, EQUIVOCATED);
      }
      for (const p of v.parents) if (!seen.has(p)) stack.push(p);
    }
    return support;
  }

  /** Accepts and rejects until nothing more follows. */
  #settle(): void {
    this.#changed();
    let changed = true;
    while (changed) {
      changed = false;
      for (const key of [...this.#processingSets].sort()) {
        const set = this.#sets.get(key)!;
        const choice = set.finalized();
        if (choice === null) {
          if (!set.processing()) this.#processingSets.delete(key);
          continue;
        }
        const tx = this.#txs.get(choice)!;
        if (tx.deps.every((d) => this.#txs.get(d)?.status === "accepted")) {
          this.#acceptTx(choice);
          changed = true;
        }
      }
      for (const id of [...this.#processingVertices]) {
        const v = this.#vertices.get(id)!;
        if (v.status !== "processing") continue;
        if (
          v.parents.every((p) => this.#vertices.get(p)!.status === "accepted") &&
          v.txIds.every((t) => this.#txs.get(t)!.status === "accepted")
        ) {
          v.status = "accepted";
          this.#processingVertices.delete(id);
          for (const p of v.parents) this.#acceptedTips.delete(p);
          this.#acceptedTips.add(id);
          this.#decide("vertex", id, "accepted", v.addedAtPoll);
          changed = true;
        }
      }
    }
  }

  #acceptTx(txId: string): void {
    const tx = this.#txs.get(txId)!;
    tx.status = "accepted";
    this.#processingTxs.delete(txId);
    this.#decide("tx", txId, "accepted", tx.addedAtPoll);
    const set = this.#sets.get(tx.conflictKey)!;
    this.#processingSets.delete(tx.conflictKey);
    for (const loser of set.accept(txId)) this.#rejectTx(loser);
  }

  #rejectTx(txId: string): void {
    this.#reject([txId], []);
  }

  /** Rejects the transactions and vertices and, transitively, all their dependents and descendants. */
  #reject(txIds: readonly string[], vertexIds: readonly string[]): void {
    // Iterative: cascades may be long chains of dependents and descendants.
    const txQueue = [...txIds];
    const vertexQueue = [...vertexIds];
    while (txQueue.length > 0 || vertexQueue.length > 0) {
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
        const set = this.#sets.get(tx.conflictKey)!;
        set.kill(nextTx);
        if (!set.processing()) this.#processingSets.delete(tx.conflictKey);
        vertexQueue.push(...tx.vertexIds);
        txQueue.push(...(this.#dependents.get(nextTx) ?? []));
        continue;
      }
      const vid = vertexQueue.pop()!;
      const v = this.#vertices.get(vid)!;
      if (v.status !== "processing") continue;
      v.status = "rejected";
      this.#processingVertices.delete(vid);
      this.#decide("vertex", vid, "rejected", v.addedAtPoll);
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
