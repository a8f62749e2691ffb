/**
 * A simulated clock and network: one event queue ordered by (time, sequence),
 * so equal-time events run in the order they were scheduled and a run is a
 * pure function of its seed. The network delays, drops, reorders (random
 * delays) and partitions messages; query timeouts are local events, never lost.
 */
import type { Clock, Sender, SignedVertex, Vote } from "../../src/engine/mod.ts";
import type { SimRng } from "./rng.ts";

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class Scheduler implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Event[] = [];
  /** Events run so far; a bound against runaway simulations. */
  eventsRun = 0;

  nowMs(): number {
    return this.#now;
  }

  schedule(delayMs: number, run: () => void): void {
    const e = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, run };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  /** Runs events up to and including time `untilMs`; false if the budget ran out. */
  runUntil(untilMs: number, eventsMax: number): boolean {
    while (this.#heap.length > 0 && this.#heap[0].at <= untilMs) {
      if (this.eventsRun >= eventsMax) return false;
      const e = this.#pop();
      this.#now = e.at;
      this.eventsRun++;
      e.run();
    }
    this.#now = Math.max(this.#now, untilMs);
    return true;
  }

  #pop(): Event {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** What a simulated node handles; the Engine satisfies it. */
export interface SimEndpoint {
  onVertices(from: string, vertices: readonly SignedVertex[]): void;
  onGetVertices(from: string, ids: readonly string[]): void;
  onQuery(from: string, requestId: number, frontier: readonly string[]): void;
  onVotes(from: string, vote: Vote): void;
  onQueryFailed(from: string, requestId: number): void;
  onFrontier(from: string, frontier: readonly string[], replyWanted: boolean): void;
}

export interface NetworkConditions {
  delayMinMs: number;
  delayMaxMs: number;
  dropRate: number;
  /** Validator id -> partition group; messages between groups are lost. */
  partition: Map<string, number> | null;
}

export class SimNetwork {
  readonly endpoints = new Map<string, SimEndpoint>();
  messagesSent = 0;
  messagesDropped = 0;

  constructor(
    readonly scheduler: Scheduler,
    readonly rng: SimRng,
    public conditions: NetworkConditions,
    readonly queryTimeoutMs: number,
  ) {}

  deliver(from: string, to: string, handle: (endpoint: SimEndpoint) => void): void {
    this.messagesSent++;
    const c = this.conditions;
    const cut = c.partition !== null && from !== to &&
      c.partition.get(from) !== undefined && c.partition.get(to) !== undefined &&
      c.partition.get(from) !== c.partition.get(to);
    if (cut || (c.dropRate > 0 && this.rng.chance(c.dropRate))) {
      this.messagesDropped++;
      return;
    }
    const delay = c.delayMinMs + this.rng.nextFloat() * (c.delayMaxMs - c.delayMinMs);
    this.scheduler.schedule(delay, () => {
      const endpoint = this.endpoints.get(to);
      if (endpoint !== undefined) handle(endpoint);
    });
  }

  senderFor(from: string): Sender {
    return {
      sendVertices: (to, vertices) => this.deliver(from, to, (e) => e.onVertices(from, vertices)),
      sendGetVertices: (to, ids) => this.deliver(from, to, (e) => e.onGetVertices(from, ids)),
      sendQuery: (to, requestId, frontier) => {
        this.deliver(from, to, (e) => e.onQuery(from, requestId, frontier));
        // The transport's request timer: fires even if the answer came (the engine ignores it then).
        this.scheduler.schedule(this.queryTimeoutMs, () => this.endpoints.get(from)?.onQueryFailed(to, requestId));
      },
      sendVotes: (to, vote) => this.deliver(from, to, (e) => e.onVotes(from, vote)),
      sendFrontier: (to, frontier, replyWanted) =>
        this.deliver(from, to, (e) => e.onFrontier(from, frontier, replyWanted)),
    };
  }
}
