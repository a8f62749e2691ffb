/**
 * How late the event loop runs what is due: a timer asks to fire every
 * INTERVAL_MS and notes by how much it was late. Everything the node does
 * shares this one thread, so the lag is what any request waits before its
 * handler starts (a status call that answers from counters in microseconds
 * takes as long as the longest task it queues behind).
 *
 * - `qudag_event_loop_lag_seconds`: histogram of every sample.
 * - `qudag_event_loop_lag_max_seconds`: the largest lag of the last
 *   WINDOW_S seconds (a ring of per-second maxima), for alerts and for the
 *   soak benchmark, which prints it per window.
 */
import type { Registry } from "../metrics/mod.ts";

export const INTERVAL_MS = 20;
export const WINDOW_S = 60;
const BUCKETS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/** Largest value per second over the last `seconds` seconds; pure (the caller gives the time). */
export class RollingMax {
  readonly #maxima: number[];
  readonly #seconds: number[];

  constructor(readonly seconds: number) {
    this.#maxima = new Array(seconds).fill(0);
    this.#seconds = new Array(seconds).fill(-1);
  }

  add(value: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.seconds;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#maxima[slot] = value;
    } else if (value > this.#maxima[slot]) this.#maxima[slot] = value;
  }

  /** The largest value added within the last `seconds` (default: all it keeps) seconds before `nowMs` (0: none). */
  max(nowMs: number, seconds = this.seconds): number {
    const second = Math.floor(nowMs / 1000);
    const span = Math.min(seconds, this.seconds);
    let max = 0;
    for (let i = 0; i < this.seconds; i++) {
      if (this.#seconds[i] > second - span && this.#maxima[i] > max) max = this.#maxima[i];
    }
    return max;
  }
}

/** A running lag monitor. */
export interface LagMonitor {
  /** The largest lag of the last `seconds` seconds, in ms (what the node's admission looks at). */
  recentMaxMs(seconds: number): number;
  stop(): void;
}

/** Starts sampling; `stop` ends it. `nowMs` is a monotonic clock. */
export function monitorEventLoopLag(registry: Registry, nowMs: () => number = () => performance.now()): LagMonitor {
  const lag = registry.histogram(
    "qudag_event_loop_lag_seconds",
    `How late a timer due every ${INTERVAL_MS} ms fired: what a request waits before its handler starts.`,
    [],
    BUCKETS_S,
  );
  const maxGauge = registry.gauge(
    "qudag_event_loop_lag_max_seconds",
    `The largest event-loop lag of the last ${WINDOW_S} s.`,
  );
  const recent = new RollingMax(WINDOW_S);
  let due = nowMs() + INTERVAL_MS;
  const timer = setInterval(() => {
    const now = nowMs();
    const lateS = Math.max(0, now - due) / 1000;
    due = now + INTERVAL_MS;
    lag.observe({}, lateS);
    recent.add(lateS, now);
  }, INTERVAL_MS);
  // Timers must not keep a stopping process alive.
  Deno.unrefTimer(timer);
  registry.onCollect(() => maxGauge.set({}, recent.max(nowMs())));
  return {
    recentMaxMs: (seconds) => recent.max(nowMs(), seconds) * 1000,
    stop: () => clearInterval(timer),
  };
}
