/**
 * Adding vertices: the structural rules a vertex must keep, its carriers
 * joining their conflict sets, and the vertices that are doomed on arrival
 * (a rejected parent, a decided set, a rival carrier among their ancestors).
 */
import { acceptReady, reject } from "./_cascade.ts";
import { carrierId, type CarrierState, type Graph, type TxState, type VertexState } from "./_graph.ts";
import { ConflictSet } from "./conflicts.ts";
import { SoloGroup } from "./_solo.ts";
import { ConsensusError, type Decision, type TxInput, type VertexInput } from "./types.ts";

/** Transactions one vertex may carry. */
export const VERTEX_TXS_MAX = 256;
/** Parents one vertex may name. */
export const VERTEX_PARENTS_MAX = 16;

/** See {@linkcode DagConsensus.add}. */
export function addVertex(g: Graph, vertex: VertexInput): Decision[] {
  if (g.vertices.has(vertex.id)) return [];
  checkVertex(g, vertex);
  const carriers = vertex.txs.map((t) => carrierId(t.id, vertex.id));
  const state: VertexState = {
    id: vertex.id,
    parents: [...vertex.parents],
    txIds: vertex.txs.map((t) => t.id),
    carriers,
    children: [],
    addedAtPoll: g.polls,
    timestampMs: vertex.timestampMs ?? 0,
    author: vertex.author ?? "",
    status: "processing",
  };
  g.vertices.set(vertex.id, state);
  for (const p of state.parents) g.vertices.get(p)?.children.push(vertex.id);
  g.changed();

  let doomed = state.parents.some((p) => g.statusOf(p) === "rejected") ||
    selfDefeating(g, state, vertex.txs);
  // The sets this vertex brings in alone share one tally (_solo.ts).
  let group: SoloGroup | null = null;
  vertex.txs.forEach((input, i) => {
    const newSet = g.soloGroups && !g.sets.has(input.conflictKey) && !g.txs.has(input.id);
    const tx = g.txs.get(input.id) ?? addTx(g, input);
    const carrier: CarrierState = { id: carriers[i], txId: tx.id, vertexId: vertex.id, status: "processing" };
    g.carriers.set(carrier.id, carrier);
    tx.carriers.push(carrier.id);
    const set = g.sets.get(tx.conflictKey)!;
    // Not a set settled on arrival (a late rival of a settled winner), nor a transaction decided before.
    if (newSet && tx.status === "processing" && set.accepted() === null) {
      set.addSolo(carrier.id, group ??= new SoloGroup(g.params));
      if (tx.deps.length > 0) group.depsFree = false;
    } else {
      set.add(carrier.id);
    }
    // Late: its set decided already (on another transaction, or on another carrier of this one).
    if (set.accepted() !== null || tx.status === "rejected") doomed = true;
  });

  if (doomed) {
    reject(g, [], [], [vertex.id]);
  } else {
    g.processingVertices.add(vertex.id);
    if (vertex.txs.length === 0) g.emptyConfidence.set(vertex.id, 0);
    if (group !== null) g.groups.set(vertex.id, group);
    for (const input of vertex.txs) {
      const key = g.txs.get(input.id)!.conflictKey;
      if (g.sets.get(key)!.processing()) g.processingSets.add(key);
    }
  }
  acceptReady(g);
  return g.takeDecisions();
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
function selfDefeating(g: Graph, v: VertexState, txs: readonly TxInput[]): boolean {
  const taken = rivalVertices(g, txs);
  if (taken.size === 0) return false;
  const seen = new Set<string>();
  const stack = [...v.parents];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const ancestor = g.vertices.get(id);
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
function rivalVertices(
  g: Graph,
  txs: readonly { readonly id: string; readonly conflictKey: string }[],
): Set<string> {
  const out = new Set<string>();
  const live = (c: string) => {
    const carrier = g.carriers.get(c)!;
    if (carrier.status === "processing") out.add(carrier.vertexId);
  };
  for (const tx of txs) {
    for (const c of g.sets.get(tx.conflictKey)?.members() ?? []) live(c);
    for (const d of g.dependents.get(tx.id) ?? []) for (const c of g.txs.get(d)?.carriers ?? []) live(c);
  }
  return out;
}

function checkVertex(g: Graph, vertex: VertexInput): void {
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
    if (!g.hasVertex(p)) {
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
    const known = g.txs.get(tx.id);
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
function addTx(g: Graph, input: TxInput): TxState {
  const tx: TxState = {
    id: input.id,
    conflictKey: input.conflictKey,
    deps: [...input.deps],
    carriers: [],
    addedAtPoll: g.polls,
    status: "processing",
  };
  g.txs.set(tx.id, tx);
  for (const d of tx.deps) {
    const list = g.dependents.get(d);
    if (list === undefined) g.dependents.set(d, [tx.id]);
    else list.push(tx.id);
  }
  let set = g.sets.get(tx.conflictKey);
  if (set === undefined) {
    set = new ConflictSet(g.params, tx.conflictKey);
    g.sets.set(tx.conflictKey, set);
    // Decided and settled long ago: this carrier is late (a replay, or a rival of a settled transaction).
    const winner = g.settled.winner(tx.conflictKey);
    if (winner !== null) set.settle();
  }
  set.addTx(tx.id);
  // Decided before and dropped from memory: decided again without a second report.
  const decided = g.settled.txStatus(tx.id);
  if (decided !== undefined) {
    tx.status = decided;
    return tx;
  }
  g.processingTxs.add(tx.id);
  // Another transaction won its set already, or a dependency is rejected.
  if (set.accepted() !== null || tx.deps.some((d) => g.txs.get(d)?.status === "rejected")) {
    reject(g, [tx.id], [], []);
  }
  return tx;
}
