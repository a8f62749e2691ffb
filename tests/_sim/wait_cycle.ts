/**
 * The one stall the simulation may meet that no node can (wasm/LEDGER.md,
 * "What it leaves"): a cycle of waits closed by vertices issued concurrently,
 * through a dependency carried outside its dependent's ancestry. The node
 * never builds one: an account's previous nonce must be in the carrier's
 * causal past (src/dag/carried.ts); the bare engine of the simulation has no
 * such rule.
 *
 * A processing vertex waits for its processing parents, and for the one live
 * carrier of each processing dependency of its transactions (a dependency
 * with two live carriers may be accepted through either: no wait counted).
 * A cycle of such waits is a deadlock no poll ends.
 */

/** What the check reads of one node's consensus. */
export interface WaitView {
  vertexStatus(id: string): string | undefined;
  vertexInfo(id: string): { parents: readonly string[]; txIds: readonly string[] } | undefined;
  txInfo(id: string): { deps: readonly string[]; status: string } | undefined;
  verticesOf(txId: string): string[];
}

/** The processing vertices that wait on a cycle of waits, the cycle's own included. */
export function verticesOnWaitCycles(c: WaitView, processing: readonly string[]): Set<string> {
  const waitsFor = new Map<string, string[]>();
  for (const v of processing) {
    const info = c.vertexInfo(v);
    if (info === undefined) continue;
    const out = info.parents.filter((p) => c.vertexStatus(p) === "processing");
    for (const t of info.txIds) {
      for (const d of c.txInfo(t)?.deps ?? []) {
        if (c.txInfo(d)?.status !== "processing") continue;
        const carriers = c.verticesOf(d);
        if (carriers.some((w) => c.vertexStatus(w) === "accepted")) continue;
        const live = carriers.filter((w) => c.vertexStatus(w) === "processing");
        if (live.length === 1) out.push(live[0]);
      }
    }
    waitsFor.set(v, out);
  }
  // A vertex is on or above a cycle when a walk of waits from it comes back to a vertex of the walk.
  const done = new Map<string, boolean>();
  const onPath = new Set<string>();
  const visit = (v: string): boolean => {
    const known = done.get(v);
    if (known !== undefined) return known;
    if (onPath.has(v)) return true;
    onPath.add(v);
    let stuck = false;
    for (const w of waitsFor.get(v) ?? []) if (visit(w)) stuck = true;
    onPath.delete(v);
    done.set(v, stuck);
    return stuck;
  };
  return new Set(processing.filter(visit));
}
