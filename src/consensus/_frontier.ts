/**
 * Preference: which carriers and vertices this node prefers, and the two
 * frontiers built from them: the preferred one (its vote) and the virtuous
 * one (where new vertices go).
 */
import type { Graph, TxState, VertexState } from "./_graph.ts";
import { verticesWaitingFor } from "./_waits.ts";
import type { TxInput } from "./types.ts";

/** Vertices one vote may name; longer frontiers are cut (see voteRoom). */
export const VOTE_FRONTIER_MAX = 64;

/** Dependency chains deeper than this count as not preferred (not clean) until their roots are accepted. */
const DEPENDENCY_DEPTH_MAX = 64;

/** See {@linkcode DagConsensus.preferredFrontier}. */
export function preferredFrontier(g: Graph): string[] {
  if (g.frontierCache !== null) return [...g.frontierCache];
  const memo = new Map<string, boolean>();
  const strong = new Set<string>();
  for (const id of g.processingVertices) {
    const v = g.vertices.get(id)!;
    const ok = v.parents.every((p) => g.statusOf(p) === "accepted" || strong.has(p)) &&
      (allSolo(g, v) || v.carriers.every((c) => carrierPreferred(g, c, memo, 0)));
    if (ok) strong.add(id);
  }
  g.frontierCache = voteRoom(g, tipsOf(g, strong));
  return [...g.frontierCache];
}

/**
 * At most VOTE_FRONTIER_MAX of `tips`, sorted. A vote supports what its tips
 * descend from, and only processing vertices carry support (an accepted tip
 * decides nothing), so the room goes first to tips carrying processing
 * transactions, then to other processing tips (empty vertices), then to
 * accepted tips; within each class it is shared round-robin between authors.
 * So no author, however many low-sorting or empty vertices it makes, takes
 * more than its share while others have tips that decide open conflicts.
 */
function voteRoom(g: Graph, tips: readonly string[]): string[] {
  if (tips.length <= VOTE_FRONTIER_MAX) return [...tips];
  const classes: Map<string, string[]>[] = [new Map(), new Map(), new Map()];
  for (const id of tips) {
    const v = g.vertices.get(id);
    const c = v === undefined || v.status === "accepted"
      ? 2
      : v.carriers.some((c) => g.carriers.get(c)?.status === "processing")
      ? 0
      : 1;
    const author = v?.author ?? "";
    const byAuthor = classes[c];
    let list = byAuthor.get(author);
    if (list === undefined) byAuthor.set(author, list = []);
    list.push(id); // tips are sorted, so each list is too
  }
  const chosen: string[] = [];
  for (const byAuthor of classes) {
    const lists = [...byAuthor.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
    for (let i = 0; chosen.length < VOTE_FRONTIER_MAX; i++) {
      let took = false;
      for (const list of lists) {
        if (i < list.length && chosen.length < VOTE_FRONTIER_MAX) {
          chosen.push(list[i]);
          took = true;
        }
      }
      if (!took) break;
    }
  }
  return chosen.sort();
}

/** See {@linkcode DagConsensus.virtuousFrontier}. */
export function virtuousFrontier(g: Graph, forTxs: readonly TxInput[]): string[] {
  const memo = new Map<string, boolean>();
  const clean = new Set<string>();
  // A vertex carrying forTxs must not descend from a rival carrier (see selfDefeating in _add.ts), nor from a vertex
  // that waits for one of them through a dependency (_waits.ts).
  const taken = verticesWaitingFor(g, forTxs);
  for (const id of g.processingVertices) {
    const v = g.vertices.get(id)!;
    if (
      !taken.has(id) &&
      v.parents.every((p) => g.statusOf(p) === "accepted" || clean.has(p)) &&
      (allSolo(g, v) || v.txIds.every((t) => txClean(g, t, memo, 0)))
    ) clean.add(id);
  }
  return tipsOf(g, clean);
}

/**
 * True when every carrier of `v` follows its vertex's tally (_solo.ts) and no
 * transaction of them has a dependency: each is then its set's one member,
 * alive, without dependencies, so preferred and clean.
 */
function allSolo(g: Graph, v: VertexState): boolean {
  const group = g.groups.get(v.id);
  return group !== undefined && group.depsFree && group.carriers.size === v.carriers.length;
}

/** Tips of the accepted vertices and of `chosen` (processing vertices closed under parents), sorted. */
function tipsOf(g: Graph, chosen: ReadonlySet<string>): string[] {
  const tips = new Set<string>([...g.acceptedTips, ...chosen]);
  for (const id of chosen) for (const p of g.vertices.get(id)!.parents) tips.delete(p);
  return [...tips].sort();
}

/** Alone in its conflict set, with clean dependencies. */
function txClean(g: Graph, txId: string, memo: Map<string, boolean>, depth: number): boolean {
  return decidedOr(g, txId, memo, depth, (tx) =>
    g.sets.get(tx.conflictKey)!.size() === 1 &&
    tx.deps.every((d) => txClean(g, d, memo, depth + 1)));
}

function carrierPreferred(g: Graph, carrierId: string, memo: Map<string, boolean>, depth: number): boolean {
  const carrier = g.carriers.get(carrierId)!;
  if (carrier.status !== "processing") return carrier.status === "accepted";
  const tx = g.txs.get(carrier.txId)!;
  return g.sets.get(tx.conflictKey)!.preference() === carrierId &&
    tx.deps.every((d) => txPreferred(g, d, memo, depth + 1));
}

/** Accepted, or a carrier of it preferred (dependency chains this deep wait for acceptance). */
function txPreferred(g: Graph, txId: string, memo: Map<string, boolean>, depth: number): boolean {
  return decidedOr(g, txId, memo, depth, (tx) => tx.carriers.some((c) => carrierPreferred(g, c, memo, depth)));
}

/**
 * True for an accepted transaction (held, or settled and dropped), false for
 * a rejected or unknown one or past the depth limit; for a processing one,
 * what `processing` says. Memoized in `memo`.
 */
function decidedOr(
  g: Graph,
  txId: string,
  memo: Map<string, boolean>,
  depth: number,
  processing: (tx: TxState) => boolean,
): boolean {
  const cached = memo.get(txId);
  if (cached !== undefined) return cached;
  const tx = g.txs.get(txId);
  let ok: boolean;
  if (tx === undefined) ok = g.settled.txStatus(txId) === "accepted";
  else if (tx.status === "rejected") ok = false;
  else if (tx.status === "accepted") ok = true;
  else if (depth > DEPENDENCY_DEPTH_MAX) ok = false;
  else {
    memo.set(txId, false); // a dependency cycle is never preferred (nor clean)
    ok = processing(tx);
  }
  memo.set(txId, ok);
  return ok;
}
