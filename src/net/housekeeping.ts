/**
 * The transport's clock work: one interval that pings sessions this node has
 * not sent anything on for a while and drops sessions that went idle.
 */

import { CLOSE_GOING_AWAY } from "./connection.ts";
import { KIND_PING } from "./frame.ts";
import { enqueue } from "./pump.ts";
import type { SessionTable } from "./sessions.ts";

/** Upper bound on the housekeeping tick (pings, idle and stall checks). */
const TICK_MS_MAX = 1_000;

export class Housekeeping {
  readonly #t: SessionTable;
  #tick: ReturnType<typeof setInterval> | undefined;

  constructor(table: SessionTable) {
    this.#t = table;
  }

  /** Starts the tick once (idempotent); never after the transport began closing. */
  start(): void {
    if (this.#tick !== undefined || this.#t.closing) return;
    const tickMs = Math.min(TICK_MS_MAX, Math.floor(this.#t.limits.pingIntervalMs / 2));
    this.#tick = setInterval(() => this.#run(), Math.max(1, tickMs));
  }

  stop(): void {
    clearInterval(this.#tick);
  }

  #run(): void {
    const t = this.#t;
    const nowMs = t.now();
    for (const conn of t.peers.values()) {
      if (nowMs - conn.lastReceiveMs > t.limits.idleTimeoutMs) {
        t.end(
          conn,
          {
            kind: "disconnect",
            reason: "idle_timeout",
            detail: `nothing received for ${Math.round(nowMs - conn.lastReceiveMs)} ms`,
          },
          CLOSE_GOING_AWAY,
          "idle_timeout",
        );
      } else if (nowMs - conn.lastSendMs >= t.limits.pingIntervalMs && conn.outbox.length === 0) {
        conn.lastSendMs = nowMs;
        enqueue(t, conn, KIND_PING, new Uint8Array(0));
      }
    }
  }
}
