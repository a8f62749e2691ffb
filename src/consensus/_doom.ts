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
import type { CarrierState, Graph } from "./_graph.ts";

/** Processing carriers in or below a vertex carrying a losing member of a finalized, unaccepted set. */
export function doomedCarriers(g: Graph): Set<string> {
  const stack: string[] = [];
  for (const key of g.processingSets) {
    const set = g.sets.get(key)!;
    const winner = set.finalized();
    if (winner === null) continue;
    for (const m of set.unorderedMembers()) {
      const carrier = g.carriers.get(m);
      if (m !== winner && carrier !== undefined && carrier.status === "processing") stack.push(carrier.vertexId);
    }
  }
  return carriersInOrBelow(g, stack, () => true);
}

/** The processing carriers of the processing vertices in `starts` and below them that `take` keeps. */
function carriersInOrBelow(g: Graph, starts: string[], take: (carrier: CarrierState) => boolean): Set<string> {
  const out = new Set<string>();
  const stack = [...starts];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const v = g.vertices.get(id);
    if (v === undefined || v.status !== "processing") continue;
    for (const c of v.carriers) {
      const carrier = g.carriers.get(c);
      if (carrier?.status === "processing" && take(carrier)) out.add(c);
    }
    for (const child of v.children) if (!seen.has(child)) stack.push(child);
  }
  return out;
}

/**
 * Processing carriers in or below a vertex carrying a member of a stalled
 * contest: a set of two or more live transactions whose polls have not
 * given any member alphaPreference supporters for 3 × beta polls in a row
 * (ConflictSet.stalled), the members of such contests excepted.
 *
 * Honest issuers do not build on a contest, but a node that accepted one
 * side does, and a validator that accepted it votes for it for good. If the
 * others prefer the other side (which they can after a poll that missed the
 * accepting validator's vote, under chaos), the contest may never resolve:
 * Avalanche promises nothing to contested transactions. The virtuous
 * transactions carried above it would wait with it. Marked here, they are
 * carried again on clean parents (orphanedTxs) and their sets adopt that
 * new carrier of the same transaction (ConflictSet.shun); the
 * validator that accepted the contest then adopts it too, by plurality.
 */
export function stuckCarriers(g: Graph): Set<string> {
  const contests = new Set<string>();
  const stack: string[] = [];
  for (const key of g.processingSets) {
    const set = g.sets.get(key)!;
    if (!set.stalled()) continue;
    const live = set.members().flatMap((m) => {
      const c = g.carriers.get(m);
      return c !== undefined && c.status === "processing" ? [c] : [];
    });
    if (new Set(live.map((c) => c.txId)).size < 2) continue;
    contests.add(key);
    for (const c of live) stack.push(c.vertexId);
  }
  if (contests.size === 0) return new Set();
  return carriersInOrBelow(g, stack, (c) => !contests.has(g.txs.get(c.txId)!.conflictKey));
}

/** Tells every processing set which of its members are doomed, and which are stuck below a stalled contest, now. */
export function shunDoomed(g: Graph): void {
  const doomed = doomedCarriers(g);
  const stuck = stuckCarriers(g);
  const txOf = (member: string) => g.carriers.get(member)?.txId ?? member;
  for (const key of g.processingSets) g.sets.get(key)!.shun(doomed, stuck, txOf);
}
