/**
 * Held polls. A poll settles once no pending answer could change its result
 * ({@linkcode DagConsensus.pollSettled}); it is then counted with
 * {@linkcode DagConsensus.recordPoll}, where an id the node does not hold
 * supports nothing. A vote naming a vertex that is on its way (the engine asks
 * the voter for every unknown id its vote names) would then fail a poll for
 * want of that vertex, and a failed poll resets confidence. So a settled poll
 * some of whose votes name unknown vertices, and could still change its result
 * once those are known, is held instead (as avalanchego holds a chit for a
 * block it has not issued yet) and counted once they are known.
 *
 * The wait is bounded twice, because a voter may name ids nobody can serve
 * (those then support nothing, as they would have without the wait, and the
 * poll is counted as the votes stand):
 * - A voter holds what it names, and was asked for it when its vote came, so a
 *   real vertex begins to arrive (it is received and checked, if not yet
 *   added: its own parents may be missing) within about the time the poll took
 *   to settle. A vote of which some named vertex has not begun to arrive after
 *   twice that time no longer holds the poll.
 * - No poll is held longer than `holdMs` (the engine: 2 × fetchRetryMs, the
 *   first request and one retry from another peer).
 *
 * A held poll takes no more votes and has no query out, so it does not count
 * against pollsOutstandingMax (holding must not slow polling down: a voter
 * naming ids nobody serves would otherwise take a slot for the whole wait); at
 * most pollsOutstandingMax are held at once (a poll settling beyond is counted
 * at once), so holds cost at most that many more polls of k frontiers each.
 *
 * Holding changes when a poll's votes are counted, never how: the same
 * frontiers, tallied by the same rules, as if the votes had come in later
 * than they did.
 */
import type { DagConsensus } from "../consensus/mod.ts";
import type { Poll } from "./polls.ts";

/** What holding needs from the engine. */
export interface HoldView extends Pick<DagConsensus, "hasVertex" | "pollSettled"> {
  /** The vertex was received and checked and waits for its parents. */
  arriving(id: string): boolean;
}

/**
 * True if some votes of `poll` name vertices not in consensus and those votes
 * could still change its result: with them treated as answers yet to come,
 * the others do not settle it. With `arrivingOnly`, a vote some of whose named
 * vertices have not begun to arrive counts as it stands.
 */
export function waitsForVertices(poll: Poll, view: HoldView, arrivingOnly: boolean): boolean {
  const complete: (readonly string[])[] = [];
  let incomplete = 0;
  for (const frontier of poll.votes) {
    const unknown = frontier.filter((id) => !view.hasVertex(id));
    if (unknown.length === 0 || (arrivingOnly && !unknown.every((id) => view.arriving(id)))) complete.push(frontier);
    else incomplete++;
  }
  return incomplete > 0 && !view.pollSettled(complete, incomplete);
}

/**
 * What to do with a held poll at `nowMs`: count it (it no longer waits for
 * vertices), count it as its votes stand because a bound passed (expired), or
 * keep waiting.
 */
export function heldPollVerdict(
  poll: Poll,
  nowMs: number,
  holdMs: number,
  view: HoldView,
): "count" | "expired" | "wait" {
  if (!waitsForVertices(poll, view, false)) return "count";
  const heldSinceMs = poll.heldSinceMs ?? nowMs;
  const waitedMs = nowMs - heldSinceMs;
  if (waitedMs >= holdMs) return "expired";
  const firstSignMs = 2 * (heldSinceMs - poll.startedMs);
  if (waitedMs >= firstSignMs && !waitsForVertices(poll, view, true)) return "expired";
  return "wait";
}
