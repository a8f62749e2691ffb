import type { Cut, CutPlan, DagConsensus } from "../consensus/mod.ts";
import type { SettlementConfig } from "./config.ts";

/** Cuts one gossip tick may close (an interval over verticesMax splits into several). */
const CUTS_PER_TICK_MAX = 64;

/** Why the next cut cannot close yet. */
export interface CutBlock {
  readonly boundaryMs: number;
  readonly blockers: number;
  readonly sinceMs: number;
}

/**
 * When this node's cuts close (wasm/LEDGER.md, "Settlement"): a boundary
 * closes once the clock is settlement.lagMs past it, in order, while nothing
 * below it (or missing part of the current frontier above it) is undecided.
 */
export class CutSchedule {
  readonly config: SettlementConfig;
  /** Why the next cut cannot close yet (null when nothing waits). */
  blocked: CutBlock | null = null;

  constructor(config: SettlementConfig) {
    if (2 * config.lagMs > config.intervalMs) {
      throw new RangeError(
        `Cannot settle with a lag of ${config.lagMs} ms: at most half the interval (${config.intervalMs} ms)`,
      );
    }
    this.config = config;
  }

  /**
   * Closes the cuts `nowMs` allows with `close` (which persists the planned
   * cut, applies it and returns it), at most CUTS_PER_TICK_MAX; stops at the
   * first blocked one and records why in `blocked`.
   */
  closeDue(
    consensus: Pick<DagConsensus, "position" | "planCut">,
    nowMs: number,
    close: (plan: Extract<CutPlan, { kind: "cut" }>) => Cut,
  ): void {
    const s = this.config;
    const closable = Math.floor((nowMs - s.lagMs) / s.intervalMs) * s.intervalMs;
    // The next multiple of the interval above `ms`.
    const after = (ms: number) => (Math.floor(ms / s.intervalMs) + 1) * s.intervalMs;
    let boundary = after(consensus.position.boundaryMs);
    for (let i = 0; i < CUTS_PER_TICK_MAX && boundary <= closable; i++) {
      const plan = consensus.planCut(boundary, s.verticesMax, s.intervalMs);
      if (plan.kind === "none") {
        // An empty interval: go on with the one holding the next vertex.
        this.blocked = null;
        if (plan.nextMs === null) return;
        boundary = Math.max(boundary + s.intervalMs, after(plan.nextMs));
        continue;
      }
      if (plan.kind === "blocked") {
        this.blocked = {
          boundaryMs: plan.boundaryMs,
          blockers: plan.blockers.length,
          sinceMs: this.blocked?.sinceMs ?? nowMs,
        };
        return;
      }
      const cut = close(plan);
      boundary = after(cut.boundaryMs);
    }
  }
}

/** `frontier` and every ancestor of it that `parentsOf` knows. */
export function ancestorsOf(
  frontier: readonly string[],
  parentsOf: (id: string) => readonly string[] | undefined,
): Set<string> {
  const held = new Set<string>();
  const stack = [...frontier];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (held.has(id)) continue;
    held.add(id);
    stack.push(...(parentsOf(id) ?? []));
  }
  return held;
}
