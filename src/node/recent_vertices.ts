/**
 * The decoded form of the vertices admitted most recently, by id, within a
 * byte budget (oldest first out). The core's decode hashes every carried
 * transaction again (~17 µs per 4.8 KB transfer), and a vertex admitted now
 * is wanted again soon: by the consensus engine at once and by the exchange
 * ledger when it is accepted. A miss only costs the decode it saves.
 */
import type { VertexInfo } from "../core/mod.ts";

/** Default byte budget: a few seconds of vertices at thousands of transfers a second. */
export const RECENT_VERTEX_BYTES_MAX = 64 * 1024 * 1024;

export class RecentVertices {
  readonly #bytesMax: number;
  // Insertion order is age order.
  readonly #byId = new Map<string, { info: VertexInfo; bytes: number }>();
  #bytes = 0;

  constructor(bytesMax: number = RECENT_VERTEX_BYTES_MAX) {
    this.#bytesMax = bytesMax;
  }

  get size(): number {
    return this.#byId.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps `info` (decoded from `bytes` bytes), dropping the oldest beyond the budget. */
  put(id: string, info: VertexInfo, bytes: number): void {
    if (bytes > this.#bytesMax || this.#byId.has(id)) return;
    this.#byId.set(id, { info, bytes });
    this.#bytes += bytes;
    for (const [old, entry] of this.#byId) {
      if (this.#bytes <= this.#bytesMax) break;
      this.#byId.delete(old);
      this.#bytes -= entry.bytes;
    }
  }

  get(id: string): VertexInfo | undefined {
    return this.#byId.get(id)?.info;
  }

  /** Forgets the vertices stamped before `boundaryMs` (a cut settled them; nobody decodes them again soon). */
  forgetBelow(boundaryMs: number): void {
    for (const [id, entry] of this.#byId) {
      if (Number(entry.info.vertex.timestampMs) < boundaryMs) {
        this.#byId.delete(id);
        this.#bytes -= entry.bytes;
      }
    }
  }

  /** Gets and forgets `id`'s decoded form: for its last reader, so applied vertices do not sit in memory. */
  take(id: string): VertexInfo | undefined {
    const entry = this.#byId.get(id);
    if (entry === undefined) return undefined;
    this.#byId.delete(id);
    this.#bytes -= entry.bytes;
    return entry.info;
  }
}
