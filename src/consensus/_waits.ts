/**
 * What waits for a transaction: the vertices that cannot be accepted before
 * some member of a conflict set is. A vertex carrying that member must not
 * name one of them as an ancestor, or it waits for itself: a deadlock no
 * poll ends, on every node alike.
 *
 * The ancestry half is a structural rule (selfDefeating in _add.ts rejects
 * such a vertex on arrival); the dependency half is not, since a vertex
 * waits on a dependency carried outside its ancestry, and which carrier of
 * it wins is decided later. So the issuer keeps off it
 * ({@linkcode virtuousFrontier} with `forTxs`). The pattern it prevents: an
 * orphaned t0 is carried again on a vertex whose parent carries t2, which
 * depends on t1, whose only carrier sits above the carrier of t0's
 * dependent; every one of them finalizes, and none is ever accepted.
 */
import type { Graph } from "./_graph.ts";

/**
 * Processing vertices whose acceptance may wait for a transaction of the
 * conflict sets of `txs` (those transactions, their rivals, their carriers'
 * vertices): the vertices carrying a live member of those sets, the
 * vertices carrying a transaction that depends on a waiting transaction,
 * and the descendants of a waiting vertex. A transaction waits when it is
 * in those sets, depends on a waiting transaction, or has a live carrier in
 * a waiting vertex (that carrier may be the one its set chooses, so it
 * counts even when the transaction has others).
 */
export function verticesWaitingFor(
  g: Graph,
  txs: readonly { readonly id: string; readonly conflictKey: string }[],
): Set<string> {
  const waitingTxs = new Set<string>();
  const waiting = new Set<string>();
  const txQueue: string[] = [];
  const vertexQueue: string[] = [];
  for (const tx of txs) txQueue.push(tx.id, ...(g.sets.get(tx.conflictKey)?.txIds() ?? []));
  // Each transaction and vertex is expanded once: bounded by what the graph holds.
  while (txQueue.length > 0 || vertexQueue.length > 0) {
    const txId = txQueue.pop();
    if (txId !== undefined) {
      if (waitingTxs.has(txId)) continue;
      waitingTxs.add(txId);
      const tx = g.txs.get(txId);
      // A decided transaction keeps nothing waiting (a rejected one took its dependents with it).
      if (tx !== undefined && tx.status !== "processing") continue;
      for (const c of tx?.carriers ?? []) {
        const carrier = g.carriers.get(c);
        if (carrier?.status === "processing") vertexQueue.push(carrier.vertexId);
      }
      txQueue.push(...(g.dependents.get(txId) ?? []));
      continue;
    }
    const id = vertexQueue.pop()!;
    if (waiting.has(id)) continue;
    const v = g.vertices.get(id);
    if (v === undefined || v.status !== "processing") continue;
    waiting.add(id);
    vertexQueue.push(...v.children);
    for (const c of v.carriers) {
      const carrier = g.carriers.get(c);
      if (carrier?.status === "processing") txQueue.push(carrier.txId);
    }
  }
  return waiting;
}
