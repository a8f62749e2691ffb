/**
 * Work that arrives in bursts (a message of peers' vertices, a catch-up
 * page) runs as one chain of promise continuations: each vertex's admission
 * awaits only settled promises, so nothing else runs until the whole burst is
 * done, and an HTTP request that came meanwhile (a status call, a
 * submission) waits behind it. `bench:soak` saw the event loop lag by 100 to
 * 350 ms per 30 s window at 100 transfers/s, with vertex admission the
 * longest runs in its profiles (bench/PROFILE.md).
 *
 * A TurnBudget is shared by such loops: each runs between `begin()` and
 * `end()`, and once `sliceMs` of wall time has passed since the event loop
 * last had a turn for I/O, the next `spend()` waits for one, then the loop
 * goes on where it was. The order of the work does not change; other work can
 * only come in between, as it could at any await before.
 *
 * A slice starts when a loop begins while no other runs (the event loop had
 * its turns before it), and again after each wait. Without `begin()` the
 * slice would run from the last wait, and the first vertex of nearly every
 * message after a quiet moment would wait for a turn it already had: in a
 * `bench:soak` profile those waits took 2.7 % of a node's busy time (about 430
 * a second where one in 10 ms of a burst was meant).
 *
 * The wait is one small asynchronous WebCrypto call: the runtime completes it
 * on its queue of finished operations, which the event loop polls together
 * with the sockets, so the HTTP requests ready by then run first; it costs
 * about 45 us. Measured on this runtime (turn_budget_test.ts checks it):
 * `setImmediate` and a MessageChannel message run before the sockets are
 * polled, so a burst that waits on them still holds every request back; a
 * zero-delay timer lets them in but costs 1-4 ms per wait (timers nested
 * more than 5 deep are clamped to 4 ms).
 */

/** Wall time a burst may hold the event loop before it lets I/O in. */
export const TURN_SLICE_MS = 10;

const NOTHING = new Uint8Array(0);

export class TurnBudget {
  readonly #sliceMs: number;
  readonly #nowMs: () => number;
  #since: number;
  /** Loops between begin() and end(). */
  #running = 0;
  /** Turns given to I/O (for tests and diagnostics). */
  yields = 0;

  constructor(o: { sliceMs?: number; nowMs?: () => number } = {}) {
    this.#sliceMs = o.sliceMs ?? TURN_SLICE_MS;
    this.#nowMs = o.nowMs ?? (() => performance.now());
    this.#since = this.#nowMs();
  }

  /** A loop starts: the first one of a burst starts a slice. */
  begin(): void {
    if (this.#running++ === 0) this.#since = this.#nowMs();
  }

  /** A loop ended (also when it threw). */
  end(): void {
    this.#running = Math.max(0, this.#running - 1);
  }

  /** Resolves at once within the slice; after it, once the event loop has had a turn for I/O. */
  spend(): Promise<void> | undefined {
    if (this.#nowMs() - this.#since < this.#sliceMs) return undefined;
    this.yields++;
    return crypto.subtle.digest("SHA-256", NOTHING).then(() => {
      this.#since = this.#nowMs();
    });
  }
}
