import type { DagConsensus, Status } from "../consensus/mod.ts";

/**
 * Dependencies of this node's undecided transactions of which it knows no
 * carrier, at most `max`, sorted. A transaction waits for its dependencies,
 * but only a vertex's parents are fetched by id: a dependency carried outside
 * the dependent's ancestry, on a side no peer prefers (so in no frontier it
 * gossips), would never reach this node, and the dependent, and whatever
 * waits for it, could never be accepted here. The engine asks peers for these
 * ids, and answers such a request with the transaction's carriers. The node
 * declares no dependencies (an account's previous nonce must be in the
 * carrier's causal past instead, src/dag/carried.ts), so only hosts that do,
 * such as the simulation, ever ask.
 */
export function missingDeps(
  consensus: Pick<DagConsensus, "undecidedTxs" | "txInfo">,
  settledStatus: ((txId: string) => Status | undefined) | undefined,
  max: number,
): string[] {
  const missing = new Set<string>();
  // In arrival order: the same calls give the same answer, without a sort of every undecided id each time.
  for (const tx of consensus.undecidedTxs()) {
    for (const dep of consensus.txInfo(tx)?.deps ?? []) {
      if (consensus.txInfo(dep) === undefined && settledStatus?.(dep) === undefined) missing.add(dep);
    }
    if (missing.size >= max) break;
  }
  return [...missing].sort().slice(0, max);
}
