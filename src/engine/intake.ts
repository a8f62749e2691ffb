/**
 * The one owner of vertices that are not in consensus yet: checked vertices
 * waiting for their parents (bounded), the parents they miss, and every
 * request for a vertex this node does not hold (paced by {@linkcode FetchPacer}).
 * The engine decides what goes in and what a released vertex becomes; this
 * keeps the buffer and says whom to ask for what.
 */
import { VOTE_FRONTIER_MAX } from "../consensus/mod.ts";
import { missingParents } from "./admission.ts";
import { FetchPacer, IDS_PER_REQUEST_MAX } from "./fetch_pacer.ts";
import type { SignedVertex } from "./types.ts";

export interface IntakeDeps {
  /** This validator: it never asks itself. */
  readonly selfId: string;
  /** Whether consensus holds the vertex. */
  readonly known: (id: string) => boolean;
  /** Asks peer `to` for vertices by id. */
  readonly sendGetVertices: (to: string, ids: readonly string[]) => void;
  readonly nowMs: () => number;
}

export interface IntakeConfig {
  /** Vertices held waiting for parents at most; more are refused (the peer sends them again). */
  readonly pendingMax: number;
  /** An id is asked for again only this long after it was last asked for. */
  readonly fetchRetryMs: number;
  /** An id only named by a peer is first asked for this long after it was named (fetch_pacer.ts). */
  readonly fetchGraceMs: number;
}

export class VertexIntake {
  readonly #deps: IntakeDeps;
  readonly #pendingMax: number;
  /** Checked vertices waiting for parents, in arrival order. */
  readonly #pending = new Map<string, SignedVertex>();
  readonly #fetches: FetchPacer;

  constructor(deps: IntakeDeps, config: IntakeConfig) {
    this.#deps = deps;
    this.#pendingMax = config.pendingMax;
    this.#fetches = new FetchPacer(config.fetchRetryMs, config.fetchGraceMs);
  }

  /** Vertices held now. */
  get size(): number {
    return this.#pending.size;
  }

  has(id: string): boolean {
    return this.#pending.has(id);
  }

  get(id: string): SignedVertex | undefined {
    return this.#pending.get(id);
  }

  /** Neither in consensus nor held here. */
  unknown(id: string): boolean {
    return !this.#deps.known(id) && !this.#pending.has(id);
  }

  /** Holds a checked vertex until its parents are known; false (nothing held) when the buffer is full. */
  hold(v: SignedVertex): boolean {
    if (this.#pending.size >= this.#pendingMax) return false;
    this.#pending.set(v.id, v);
    return true;
  }

  /**
   * Hands every held vertex whose parents are all known to `admit`, until no
   * more can go (a vertex admitted may be the last parent another waited for),
   * then asks `from` for the parents still missing.
   */
  release(from: string, admit: (v: SignedVertex) => void): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const [id, v] of this.#pending) {
        if (v.parents.every((p) => this.#deps.known(p))) {
          this.#pending.delete(id);
          progress = true;
          admit(v);
        }
      }
    }
    this.request(from, this.missingParents());
  }

  /** Parents of held vertices that are neither known nor held, sorted. */
  missingParents(): string[] {
    return missingParents(this.#pending, this.#deps.known);
  }

  /** A vertex reached consensus: no request for it is due any more. */
  arrived(id: string): void {
    this.#fetches.arrived(id);
  }

  /** Drops the held vertices below a closed cut's boundary: they can never be admitted. */
  dropBelow(boundaryMs: number): void {
    for (const [id, v] of this.#pending) if (v.timestampMs < boundaryMs) this.#pending.delete(id);
  }

  /**
   * Peer `from` named `ids` (in a vote, query or frontier). The unknown ones
   * are asked of it once their grace ran out (they are likely on their way
   * from their authors); if it names a vertex held here, it likely has the
   * missing parents too, which are asked of it at once. One request.
   */
  named(from: string, ids: readonly string[]): void {
    if (from === this.#deps.selfId) return;
    const unknown = ids.slice(0, VOTE_FRONTIER_MAX).filter((id) => this.unknown(id));
    const waiting = ids.some((id) => this.#pending.has(id)) ? this.missingParents() : [];
    const now = this.#deps.nowMs();
    const named = this.#fetches.takeNamed(unknown, from, now);
    // Only what the request names is marked as asked for.
    const due = [...named, ...this.#fetches.take(waiting, now, IDS_PER_REQUEST_MAX - named.length)];
    if (due.length > 0) this.#deps.sendGetVertices(from, due);
  }

  /** Asks `from` for those of `ids` whose retry time ran out. */
  request(from: string, ids: readonly string[]): void {
    if (from === this.#deps.selfId) return;
    const due = this.#fetches.take(ids, this.#deps.nowMs());
    if (due.length > 0) this.#deps.sendGetVertices(from, due);
  }

  /** Asks for the named ids whose grace ran out and that are still unknown, each of the peer that named it first. */
  requestNamedDue(): void {
    for (const [by, ids] of this.#fetches.namedDue(this.#deps.nowMs(), (id) => this.unknown(id))) {
      this.#deps.sendGetVertices(by, ids);
    }
  }
}
