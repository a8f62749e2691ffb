import { type DagConsensus, type TxInput, VERTEX_PARENTS_MAX } from "../consensus/mod.ts";
import type { CutPosition } from "../dag/coverage.ts";

/** What choosing a new vertex's parents reads; nothing is changed. */
export interface ParentsView {
  readonly consensus: Pick<DagConsensus, "virtuousFrontier" | "hasVertex" | "vertexStatus" | "notReachedFrom">;
  /** A vertex in memory's timestamp (undefined: not held). */
  timestampOf(id: string): number | undefined;
  /** This node's last closed cut: covering its frontier covers every cut before. */
  readonly settled: CutPosition;
  /** The newest cut the validators certified, if any. */
  readonly certified: CutPosition | null;
  /** Parents named by a vertex this node issues (at most VERTEX_PARENTS_MAX). */
  readonly parentsMax: number;
}

/**
 * The parents a vertex carrying `txs` gets now: the required ones that are
 * known (at most parentsMax − 1), the oldest tips of the virtuous frontier,
 * and the settled frontier vertices none of them descends from.
 */
export function planParents(
  view: ParentsView,
  txs: readonly TxInput[],
  requiredParents: readonly string[] = [],
): string[] {
  // Clean parents only (an honest transaction must not wait on a contest), except the
  // ones the caller requires (e.g. the carrier of the same account's previous nonce).
  const frontier = view.consensus.virtuousFrontier(txs);
  const required = [...new Set(requiredParents)]
    .filter((p) => view.consensus.hasVertex(p))
    .slice(0, view.parentsMax - 1);
  const room = view.parentsMax - required.length;
  // Oldest tips first: a tip nobody builds on would in time fall below the settled cut.
  const age = (id: string) => view.timestampOf(id) ?? 0;
  const oldest = frontier.filter((p) => !required.includes(p))
    .sort((a, b) => age(a) - age(b) || (a < b ? -1 : 1)).slice(0, room);
  return covering(view, [...required, ...oldest]);
}

/**
 * `parents`, plus the settled frontier vertices none of them descends from
 * (every new vertex must descend from the whole frontier), in place of the
 * last ordinary ones when there is no room.
 */
function covering(view: ParentsView, parents: readonly string[]): string[] {
  // The frontier of this node's last cut (covering it covers every cut before), and that of the newest certified
  // one (peers ahead of this node require it): a vertex that misses one would be refused by whoever closed it.
  const targets = new Set(view.settled.frontier);
  const certified = view.certified !== null && view.certified.boundaryMs > view.settled.boundaryMs
    ? view.certified.frontier
    : [];
  for (const f of certified) {
    if (view.consensus.hasVertex(f) && view.consensus.vertexStatus(f) !== "rejected") targets.add(f);
  }
  const missing = view.consensus.notReachedFrom(parents, [...targets]);
  if (missing.length === 0) return [...parents];
  const out = [...parents];
  for (const f of missing) {
    if (view.consensus.notReachedFrom(out, [f]).length === 0) continue; // reached through one added before
    if (out.length >= VERTEX_PARENTS_MAX) {
      // Drop the last ordinary parent (required ones come first) whose ancestry adds none of the targets.
      const spare = out.findLastIndex((p) => !targets.has(p));
      if (spare < 0) break;
      out.splice(spare, 1);
    }
    out.push(f);
  }
  return out;
}
