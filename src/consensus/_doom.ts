/**
 * Doomed carriers: a set finalized on one member while it waits for its
 * vertex can never accept another member here, so no vertex carrying a
 * losing member, and no descendant of one, can be accepted here. Their
 * carriers are doomed. Without this, a winner whose vertex descends from a
 * transaction carried only below a loser (the winner's parent carries a
 * transaction whose dependency sits below the losing side) waits for the
 * loser, which waits for the winner to be accepted: a deadlock.
 *
 * Doom is recomputed on every poll and changes nothing that is decided: a
 * doomed member is passed over by its set's preference while a live member
 * that is not doomed exists ({@linkcode ConflictSet.shun}), and a
 * transaction whose every carrier is rejected or doomed is carried again
 * (orphanedTxs). Why this keeps safety: wasm/LEDGER.md, "Breaking a stalled split".
 */
import type { Graph } from "./_graph.ts";

/** Processing carriers in or below a vertex carrying a losing member of a finalized, unaccepted set. */
export function doomedCarriers(g: Graph): Set<string> {
  const doomed = new Set<string>();
  const stack: string[] = [];
  for (const key of g.processingSets) {
    const set = g.sets.get(key)!;
    const winner = set.finalized();
    if (winner === null) continue;
    for (const m of set.members()) {
      const carrier = g.carriers.get(m);
      if (m !== winner && carrier !== undefined && carrier.status === "processing") stack.push(carrier.vertexId);
    }
  }
  const seen = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const v = g.vertices.get(id);
    if (v === undefined || v.status !== "processing") continue;
    for (const c of v.carriers) if (g.carriers.get(c)?.status === "processing") doomed.add(c);
    for (const child of v.children) if (!seen.has(child)) stack.push(child);
  }
  return doomed;
}

/** Tells every processing set which of its members are doomed now. */
export function shunDoomed(g: Graph): Set<string> {
  const doomed = doomedCarriers(g);
  for (const key of g.processingSets) g.sets.get(key)!.shun(doomed);
  return doomed;
}
