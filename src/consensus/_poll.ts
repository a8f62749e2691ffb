/**
 * Polls: each responder's preferred frontier is a vote for the carriers in
 * its ancestry, tallied per conflict set (an empty vertex is a one-member
 * set of its own) and fed to every processing set. The sets a vertex brought
 * in alone are tallied once, as that vertex (_solo.ts).
 */
import { acceptReady } from "./_cascade.ts";
import { shunDoomed } from "./_doom.ts";
import { VOTE_FRONTIER_MAX } from "./_frontier.ts";
import { emptyKey, type Graph } from "./_graph.ts";
import { notePreferences } from "./_preferences.ts";
import type { ConflictSet } from "./conflicts.ts";
import type { Decision } from "./types.ts";

/** Distinct frontiers whose support is remembered between changes. */
const SUPPORT_CACHE_MAX = 256;

/** Marks a responder that supported two members of one conflict set. */
const EQUIVOCATED = "";

/**
 * See {@linkcode DagConsensus.recordPoll}. Each set's tally is counted from
 * the votes' supports as the set is polled, into one reused map: no map per
 * set per poll (thousands of sets are processing at saturation).
 */
export function recordPoll(g: Graph, votes: readonly (readonly string[])[]): Decision[] {
  g.polls++;
  const supports = votes.map((frontier) => supportFor(g, frontier));
  for (const support of supports) g.equivocatingVotes += equivocationsIn(support);
  g.lastPollSuccesses = 0;
  const setTally = new Map<string, number>();
  const contested: ConflictSet[] = [];
  // Each set's poll changes only that set, so the order is free (no sort of thousands of keys per poll).
  for (const key of g.processingSets) {
    const set = g.sets.get(key)!;
    if (set.grouped()) continue;
    const most = tallyInto(setTally, supports, key);
    // A set that finalized and waits for its vertex makes no progress.
    if (most >= g.params.alphaPreference && set.finalized() === null) g.lastPollSuccesses++;
    set.recordPoll(setTally.size === 0 ? undefined : setTally);
    if (set.size() > 1) contested.push(set);
  }
  // Every set of a group had the vertex's count (its one member is supported wherever the vertex is).
  for (const [id, group] of g.groups) {
    const count = tallyInto(setTally, supports, emptyKey(id));
    if (count >= g.params.alphaPreference && !group.finalized) g.lastPollSuccesses += group.carriers.size;
    group.recordPoll(count);
  }
  // An empty vertex is its own one-member choice: beta consecutive polls with alphaConfidence supporters.
  for (const [id, confidence] of g.emptyConfidence) {
    const count = tallyInto(setTally, supports, emptyKey(id));
    if (count >= g.params.alphaConfidence && confidence < g.params.beta) g.lastPollSuccesses++;
    g.emptyConfidence.set(id, count >= g.params.alphaConfidence ? confidence + 1 : 0);
  }
  g.changed();
  acceptReady(g);
  shunDoomed(g);
  g.changed();
  notePreferences(g, contested);
  return g.takeDecisions();
}

/**
 * See {@linkcode DagConsensus.pollSettled}. Asked at every vote, so it builds
 * no tally of every set: each set's best count is read from the votes'
 * supports as it is looked at, and the first set that could still change ends
 * the check.
 */
export function pollSettled(g: Graph, votes: readonly (readonly string[])[], pending: number): boolean {
  if (pending === 0) return true;
  const { alphaPreference, alphaConfidence } = g.params;
  if (votes.length < alphaConfidence && pending >= alphaPreference) return false;
  const supports = votes.map((frontier) => supportFor(g, frontier));
  // Unknown members may gain votes too; they start from zero.
  const tally = new Map<string, number>();
  const open = (key: string) => {
    const most = tallyInto(tally, supports, key);
    return most < alphaConfidence && (most + pending >= alphaPreference || pending >= alphaPreference);
  };
  for (const key of g.processingSets) if (!g.sets.get(key)!.grouped() && open(key)) return false;
  for (const id of g.emptyConfidence.keys()) if (open(emptyKey(id))) return false;
  for (const [id, group] of g.groups) if (group.carriers.size > 0 && open(emptyKey(id))) return false;
  return true;
}

/**
 * Counts into `tally` (cleared first) how many of `supports` name each member
 * of the set `key` (equivocations count for none); returns the most.
 */
function tallyInto(tally: Map<string, number>, supports: readonly ReadonlyMap<string, string>[], key: string): number {
  tally.clear();
  let most = 0;
  for (let i = 0; i < supports.length; i++) {
    const carrier = supports[i].get(key);
    if (carrier === undefined || carrier === EQUIVOCATED) continue;
    const n = (tally.get(carrier) ?? 0) + 1;
    tally.set(carrier, n);
    if (n > most) most = n;
  }
  return most;
}

/** Conflict sets one support names a responder as supporting two members of. */
function equivocationsIn(support: ReadonlyMap<string, string>): number {
  let n = 0;
  for (const carrier of support.values()) if (carrier === EQUIVOCATED) n++;
  return n;
}

/** supportOf one vote's frontier, remembered until the state changes. */
function supportFor(g: Graph, frontier: readonly string[]): Map<string, string> {
  const cacheKey = frontier.join(",");
  let support = g.supportCache.get(cacheKey);
  if (support === undefined) {
    // The voter chose its room (see voteRoom); a longer vote is cut, never re-sorted.
    support = supportOf(g, [...new Set(frontier)].slice(0, VOTE_FRONTIER_MAX));
    if (g.supportCache.size >= SUPPORT_CACHE_MAX) g.supportCache.clear();
    g.supportCache.set(cacheKey, support);
  }
  return support;
}

/** Conflict key -> supported carrier (or EQUIVOCATED) for one frontier. */
function supportOf(g: Graph, frontier: readonly string[]): Map<string, string> {
  const support = new Map<string, string>();
  const seen = new Set<string>();
  const stack = frontier.filter((id) => g.vertices.has(id));
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const v = g.vertices.get(id);
    // Accepted (or settled and dropped): its whole ancestry is decided.
    if (v === undefined || v.status === "accepted") continue;
    if (g.emptyConfidence.has(id)) support.set(emptyKey(id), emptyKey(id));
    // A group's sets are tallied as the vertex: their keys are left out.
    const group = g.groups.get(id);
    if (group !== undefined) support.set(emptyKey(id), emptyKey(id));
    for (const c of group !== undefined && group.carriers.size === v.carriers.length ? [] : v.carriers) {
      if (group?.carriers.has(c)) continue;
      const carrier = g.carriers.get(c);
      if (carrier === undefined || carrier.status !== "processing") continue;
      const key = g.txs.get(carrier.txId)!.conflictKey;
      const prior = support.get(key);
      if (prior === undefined) support.set(key, c);
      else if (prior !== c) support.set(key, EQUIVOCATED);
    }
    for (const p of v.parents) if (!seen.has(p)) stack.push(p);
  }
  return support;
}
