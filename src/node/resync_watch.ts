/**
 * A running node that falls behind the certified checkpoints and stays
 * behind syncs again, without an operator. A node can fall behind for good
 * while it runs: overloaded for longer than the settlement lag, it may close
 * a cut before a vertex the others accepted reached it, and then refuses that
 * vertex and everything built on it (wasm/LEDGER.md, "Settlement"). Fetching
 * cannot repair that, nor a ledger that halted; a state sync from the newest
 * certified checkpoint can, and at start the node already does one when it is
 * `sync.behind_min` checkpoints behind. So while the node runs, this watch
 * compares the last checkpoint it stated with the newest certificate it holds
 * (the validators gossip their signatures, so a lagging node learns of newer
 * certificates), and when it has been at least `behindMin` behind for
 * `afterMs` without stating a new one, asks for a restart of the node's
 * services with a state sync (src/cli/start.ts). A node that is behind but
 * states checkpoints again (it catches up by fetching) is left alone.
 *
 * What the node's mempool held when it stopped is submitted again by the
 * next start (`resubmitWaiting`): a planned restart need not drop it.
 *
 * The decision is pure (`BehindTracker`: times are passed in); a timer looks.
 */
import type { Logger } from "../log/mod.ts";
import { type ConsensusService, SubmitError } from "./consensus.ts";

/** What the watch saw when it asked for a sync. */
export interface Behind {
  /** The last checkpoint this node stated. */
  readonly ownSeq: number;
  /** The newest certified checkpoint it holds. */
  readonly certifiedSeq: number;
  /** How long it has been at least `behindMin` behind without stating one. */
  readonly behindForMs: number;
}

/** Counts how long a node has been far behind without stating a new checkpoint; pure: times are passed in. */
export class BehindTracker {
  readonly #behindMin: number;
  readonly #afterMs: number;
  #since: number | null = null;
  #lastOwn = -1;

  constructor(behindMin: number, afterMs: number) {
    if (!Number.isSafeInteger(behindMin) || behindMin < 1) throw new RangeError(`behindMin = ${behindMin}`);
    if (!Number.isSafeInteger(afterMs) || afterMs < 1) throw new RangeError(`afterMs = ${afterMs}`);
    this.#behindMin = behindMin;
    this.#afterMs = afterMs;
  }

  /**
   * One look: returns what it saw when the node has been at least `behindMin`
   * behind for `afterMs` or more without stating a checkpoint; else null. A
   * node that states one, or is less behind, starts the count again: one
   * that catches up by fetching is left to it.
   */
  observe(nowMs: number, ownSeq: number, certifiedSeq: number): Behind | null {
    const advanced = ownSeq !== this.#lastOwn;
    this.#lastOwn = ownSeq;
    if (certifiedSeq < ownSeq + this.#behindMin) {
      this.#since = null;
      return null;
    }
    if (advanced || this.#since === null) this.#since = nowMs;
    const behindForMs = nowMs - this.#since;
    return behindForMs >= this.#afterMs ? { ownSeq, certifiedSeq, behindForMs } : null;
  }
}

export interface ResyncWatchOptions {
  readonly behindMin: number;
  readonly afterMs: number;
  readonly ownSeq: () => number;
  readonly certifiedSeq: () => number;
  readonly nowMs: () => number;
  /** Called once, when the node should sync again; the watch has stopped by then. */
  readonly onBehind: (behind: Behind) => void;
  /** Called at every look, first (the node asks a peer for its newest certificate). */
  readonly beforeLook?: () => void;
}

/** The longest wait a run of resyncs backs off to, as a multiple of `sync.resync_after_ms`. */
export const RESYNC_BACKOFF_MAX = 8;

/**
 * The wait before a resync, after `resyncs` resyncs in a row in this process:
 * doubled each time, up to RESYNC_BACKOFF_MAX times `afterMs`. A node that
 * just synced lands a few cuts back (at the newest checkpoint with a
 * snapshot) and needs time to catch up before it is judged again.
 */
export function resyncWaitMs(afterMs: number, resyncs: number): number {
  return afterMs * Math.min(RESYNC_BACKOFF_MAX, 2 ** Math.max(0, resyncs));
}

/** Between two looks: a quarter of the wait, between 100 ms and 5 s. */
export function lookEveryMs(afterMs: number): number {
  return Math.min(5_000, Math.max(100, Math.floor(afterMs / 4)));
}

/** Starts the watch; returns the function that stops it. */
export function startResyncWatch(o: ResyncWatchOptions): () => void {
  const tracker = new BehindTracker(o.behindMin, o.afterMs);
  const timer = setInterval(() => {
    o.beforeLook?.();
    const behind = tracker.observe(o.nowMs(), o.ownSeq(), o.certifiedSeq());
    if (behind === null) return;
    clearInterval(timer);
    o.onBehind(behind);
  }, lookEveryMs(o.afterMs));
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** Submits again, in order, what the last run's mempool held; logs what became of them. */
export async function resubmitWaiting(
  consensus: Pick<ConsensusService, "submit">,
  all: readonly Uint8Array[],
  log: Logger,
): Promise<void> {
  const outcomes: Record<string, number> = {};
  for (const bytes of all) {
    let outcome: string;
    try {
      outcome = (await consensus.submit(bytes)).state;
    } catch (e) {
      outcome = e instanceof SubmitError ? e.code : "error";
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  log.info("submitted again what the mempool held before the sync", { transactions: all.length, outcomes });
}
