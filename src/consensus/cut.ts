/**
 * Settlement: when the accepted vertices below a timestamp boundary become a
 * closed cut (wasm/LEDGER.md, "Settlement"). Pure: the caller passes the
 * boundary it may close (its clock minus a lag) and the DAG it holds.
 *
 * A cut K_s is {accepted V : timestamp(V) < b_s}. Timestamps never decrease
 * along edges, so K_s is downward closed, and the same boundary gives the
 * same K_s on every node that accepted the same vertices. Boundaries are the
 * multiples of the chain's interval, closed in order (an interval with nothing
 * accepted in it is skipped), so every node numbers the same cuts the same
 * way. A node closes b only when
 * - nothing below b is undecided (what is accepted below b is final), and
 * - every undecided vertex at or above b descends from the whole frontier of
 *   the current cut: when the ledger folds the new cut it drops the current
 *   cut's journal, so every vertex applied after that must cover it (accepted
 *   vertices are applied before the fold). New vertices are held to the cut
 *   before the last at admission (src/dag/coverage.ts): one cut of slack.
 * Both only make a node wait; the boundaries do not depend on them. An
 * accepted vertex at or above b that does not cover the current frontier is
 * harmless live, but a ledger restarted from a snapshot at b could not replay
 * it: such a cut is marked `snapshotSafe: false`.
 *
 * One cut of slack is enough only if consecutive boundaries are at least an
 * interval apart and nodes close a cut well within an interval of its
 * boundary (the closing lag is at most half the interval: src/engine): then
 * a vertex with a timestamp at or above b_s was made after its author closed
 * cut s - 1, so an honest author covers F_{s-1}. A vertex made earlier
 * would be refused by the nodes that closed s while others hold it, and the
 * two could never agree on it.
 * Cuts hold at most `verticesMax` new vertices where that keeps the spacing:
 * an interval after a skipped one may be split at the timestamp of the first
 * vertex that does not fit if that is at least `spacingMs` past the current
 * boundary, so splits are as deterministic as the boundaries.
 */
import { CoverageIndex, type CutPosition } from "../dag/coverage.ts";
import type { Status } from "./types.ts";

/**
 * Most vertices a cut's frontier may hold (a checkpoint statement lists them).
 * A cut whose frontier is wider is skipped, the same way on every node: the
 * next interval's cut takes its vertices in, usually merged by then.
 */
export const FRONTIER_MAX = 64;

/** What the planner reads of an unsettled vertex. */
export interface CutVertexView {
  readonly id: string;
  readonly parents: readonly string[];
  readonly timestampMs: number;
  readonly status: Status;
}

/** A closed cut: what it adds to the previous one. */
export interface Cut {
  /** 1 for the first cut, then +1 per cut. */
  readonly seq: number;
  readonly boundaryMs: number;
  readonly prevBoundaryMs: number;
  /** The vertices it settles, in (timestamp, id) order. */
  readonly vertices: readonly string[];
  /** The transactions those vertices carry (all accepted with them), sorted. */
  readonly txIds: readonly string[];
  /** Maximal vertices of the whole settled part (sorted). */
  readonly frontier: readonly string[];
  /** A ledger snapshot at this cut can be replayed from (see the module comment). */
  readonly snapshotSafe: boolean;
}

export interface CutBlocker {
  readonly id: string;
  readonly timestampMs: number;
  readonly status: Status;
  readonly why: "undecided_below" | "not_covering";
}

export type CutPlan =
  /** Nothing to settle below the boundary; `nextMs` is the lowest timestamp of an unsettled vertex still alive (null: none). */
  | { readonly kind: "none"; readonly nextMs: number | null }
  | { readonly kind: "blocked"; readonly boundaryMs: number; readonly blockers: readonly CutBlocker[] }
  | {
    readonly kind: "cut";
    readonly boundaryMs: number;
    readonly vertices: readonly string[];
    readonly frontier: readonly string[];
    readonly snapshotSafe: boolean;
  };

/**
 * The cut at `boundaryMs` (or an earlier split of it), given the current
 * position and the unsettled vertices in insertion order (parents first).
 */
export function planCut(
  position: CutPosition,
  unsettled: readonly CutVertexView[],
  boundaryMs: number,
  verticesMax: number,
  spacingMs = 0,
): CutPlan {
  if (boundaryMs <= position.boundaryMs) return { kind: "none", nextMs: null };
  const below = unsettled.filter((v) => v.timestampMs < boundaryMs);
  const undecided = below.filter((v) => v.status === "processing");
  if (undecided.length > 0) {
    return { kind: "blocked", boundaryMs, blockers: undecided.map((v) => blocker(v, "undecided_below")) };
  }
  const accepted = below.filter((v) => v.status === "accepted")
    .sort((a, b) => a.timestampMs - b.timestampMs || (a.id < b.id ? -1 : 1));
  if (accepted.length === 0) {
    const live = unsettled.filter((v) => v.status !== "rejected").map((v) => v.timestampMs);
    return { kind: "none", nextMs: live.length === 0 ? null : Math.min(...live) };
  }
  // Split: the first vertex that does not fit starts the next cut (all vertices sharing its timestamp go with it).
  let boundary = boundaryMs;
  if (accepted.length > verticesMax) {
    const at = accepted[verticesMax].timestampMs;
    const split = at > accepted[0].timestampMs ? at : at + 1;
    // Never closer than one interval to the current boundary (see the module comment).
    if (split >= position.boundaryMs + spacingMs) boundary = Math.min(boundary, split);
  }
  const coverage = new CoverageIndex(position, position);
  for (const v of unsettled) coverage.add(v.id, v.parents, v.timestampMs);
  const above = unsettled.filter((v) => v.timestampMs >= boundary && v.status !== "rejected");
  const notCovering = above.filter((v) => !coverage.covers(v.id));
  const undecidedNotCovering = notCovering.filter((v) => v.status === "processing");
  if (undecidedNotCovering.length > 0) {
    return { kind: "blocked", boundaryMs, blockers: undecidedNotCovering.map((v) => blocker(v, "not_covering")) };
  }
  const settled = accepted.filter((v) => v.timestampMs < boundary);
  const named = new Set(settled.flatMap((v) => v.parents));
  const frontier = [...position.frontier, ...settled.map((v) => v.id)].filter((id) => !named.has(id)).sort();
  if (frontier.length > FRONTIER_MAX) return { kind: "none", nextMs: boundaryMs };
  return {
    kind: "cut",
    boundaryMs: boundary,
    vertices: settled.map((v) => v.id),
    frontier,
    snapshotSafe: notCovering.length === 0,
  };
}

function blocker(v: CutVertexView, why: CutBlocker["why"]): CutBlocker {
  return { id: v.id, timestampMs: v.timestampMs, status: v.status, why };
}
