/**
 * Acceptance and rejection, and what each sets off: accepting a vertex
 * accepts its carriers and transactions and rejects their rivals; a
 * rejection cascades to dependents and descendants. Decisions go to the
 * graph's list, in the order they are made.
 */
import type { Graph, VertexState } from "./_graph.ts";

/**
 * True when `v` can be accepted now: parents accepted, every carrier its
 * set's choice (finalized by polls, unless `polled` is false: restoring)
 * and every dependency of its transactions accepted or carried by `v` too.
 */
export function acceptable(g: Graph, v: VertexState, polled: boolean): boolean {
  if (v.status !== "processing") return false;
  if (!v.parents.every((p) => g.statusOf(p) === "accepted")) return false;
  if (polled && v.carriers.length === 0) return (g.emptyConfidence.get(v.id) ?? 0) >= g.params.beta;
  return v.carriers.every((c) => {
    const carrier = g.carriers.get(c)!;
    const tx = g.txs.get(carrier.txId)!;
    return carrier.status === "processing" &&
      (!polled || g.sets.get(tx.conflictKey)!.finalized() === c) &&
      tx.deps.every((d) => g.txAccepted(d) || v.txIds.includes(d));
  });
}

/** Accepts until nothing more follows. */
export function acceptReady(g: Graph): void {
  g.changed();
  let changed = true;
  while (changed) {
    changed = false;
    for (const key of [...g.processingSets]) {
      if (!g.sets.get(key)!.processing()) g.processingSets.delete(key);
    }
    for (const id of [...g.processingVertices]) {
      const v = g.vertices.get(id)!;
      if (acceptable(g, v, true)) {
        acceptVertex(g, v);
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
export function acceptVertex(g: Graph, v: VertexState): void {
  const loserTxs: string[] = [];
  const loserCarriers: string[] = [];
  for (const c of v.carriers) {
    const carrier = g.carriers.get(c)!;
    carrier.status = "accepted";
    const tx = g.txs.get(carrier.txId)!;
    if (tx.status === "processing") {
      tx.status = "accepted";
      g.processingTxs.delete(tx.id);
      g.decide("tx", tx.id, "accepted", tx.addedAtPoll);
    }
    g.processingSets.delete(tx.conflictKey);
    const set = g.sets.get(tx.conflictKey)!;
    loserCarriers.push(...set.accept(c));
    // Every other transaction of the set loses, orphans (no live carrier) included.
    for (const t of set.txIds()) if (t !== tx.id) loserTxs.push(t);
  }
  v.status = "accepted";
  g.processingVertices.delete(v.id);
  g.emptyConfidence.delete(v.id);
  g.groups.delete(v.id);
  for (const p of v.parents) g.acceptedTips.delete(p);
  g.acceptedTips.add(v.id);
  g.decide("vertex", v.id, "accepted", v.addedAtPoll);
  reject(g, loserTxs, loserCarriers, []);
}

/**
 * Rejects the transactions, carriers and vertices and, transitively,
 * everything depending on them: a transaction's dependents and carriers, a
 * carrier's vertex, a vertex's carriers and children. A carrier's
 * transaction lives on (it may be carried again).
 */
export function reject(
  g: Graph,
  txIds: readonly string[],
  carrierIds: readonly string[],
  vertexIds: readonly string[],
): void {
  // Iterative: cascades may be long chains of dependents and descendants.
  const txQueue = [...txIds];
  const carrierQueue = [...carrierIds];
  const vertexQueue = [...vertexIds];
  while (txQueue.length > 0 || carrierQueue.length > 0 || vertexQueue.length > 0) {
    const nextTx = txQueue.pop();
    if (nextTx !== undefined) {
      const tx = g.txs.get(nextTx);
      if (tx === undefined || tx.status === "rejected") continue;
      if (tx.status === "accepted") {
        throw new Error(`Consensus invariant broken: rejecting accepted transaction ${nextTx}`);
      }
      tx.status = "rejected";
      g.processingTxs.delete(nextTx);
      g.decide("tx", nextTx, "rejected", tx.addedAtPoll);
      carrierQueue.push(...tx.carriers);
      txQueue.push(...(g.dependents.get(nextTx) ?? []));
      continue;
    }
    const nextCarrier = carrierQueue.pop();
    if (nextCarrier !== undefined) {
      const carrier = g.carriers.get(nextCarrier)!;
      if (carrier.status === "rejected") continue;
      if (carrier.status === "accepted") {
        throw new Error(`Consensus invariant broken: rejecting accepted carrier ${nextCarrier}`);
      }
      carrier.status = "rejected";
      const key = g.txs.get(carrier.txId)!.conflictKey;
      const set = g.sets.get(key)!;
      set.kill(nextCarrier);
      if (!set.processing()) g.processingSets.delete(key);
      vertexQueue.push(carrier.vertexId);
      continue;
    }
    const vid = vertexQueue.pop()!;
    const v = g.vertices.get(vid)!;
    if (v.status !== "processing") continue;
    v.status = "rejected";
    g.processingVertices.delete(vid);
    g.emptyConfidence.delete(vid);
    g.groups.delete(vid);
    g.decide("vertex", vid, "rejected", v.addedAtPoll);
    carrierQueue.push(...v.carriers);
    vertexQueue.push(...v.children);
  }
  g.changed();
}
