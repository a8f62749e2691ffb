/**
 * The rounds and timestamps of recent vertices, for the DAG service's
 * admission checks (a new vertex names recent parents): kept as vertices are
 * stored, read back from storage on a miss, capped, and dropped below a cut
 * so they hold about a cut's worth however long the chain runs.
 */
import { validateVertex } from "../core/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Storage } from "../storage/mod.ts";

/** Entries kept per map; the cut keeps them far below it, this is the fallback. */
const CACHE_MAX = 65_536;
/** Vertices given a timestamp per transaction by the backfill. */
const BACKFILL_BATCH = 4_096;

export class VertexTimes {
  readonly #storage: Storage;
  readonly #rounds = new Map<string, bigint>();
  readonly #timestamps = new Map<string, bigint>();

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** A stored vertex's round, or null when it is not stored. */
  roundOf = (idHex: string): bigint | null => {
    const cached = this.#rounds.get(idHex);
    if (cached !== undefined) return cached;
    const v = this.#storage.getVertex(idHex);
    if (!v) return null;
    remember(this.#rounds, idHex, v.round);
    return v.round;
  };

  /** A stored vertex's timestamp; throws for one that is not stored. */
  timestampOf = (idHex: string): bigint => {
    const cached = this.#timestamps.get(idHex);
    if (cached !== undefined) return cached;
    const stored = this.#storage.getVertex(idHex);
    if (!stored) throw new Error(`Cannot read the timestamp of vertex ${idHex}: it is not stored`);
    const ts = BigInt(stored.timestampMs);
    remember(this.#timestamps, idHex, ts);
    return ts;
  };

  /** A vertex was stored now. */
  remember(id: string, round: bigint, timestampMs: bigint): void {
    remember(this.#rounds, id, round);
    remember(this.#timestamps, id, timestampMs);
  }

  /** Drops the vertices stamped before `boundaryMs` (a read from storage answers for them). */
  forgetBelow(boundaryMs: number): void {
    for (const [id, ts] of this.#timestamps) {
      if (ts < BigInt(boundaryMs)) {
        this.#timestamps.delete(id);
        this.#rounds.delete(id);
      }
    }
    for (const id of this.#rounds.keys()) if (!this.#timestamps.has(id)) this.#rounds.delete(id);
  }

  get sizes(): { timestamps: number; rounds: number } {
    return { timestamps: this.#timestamps.size, rounds: this.#rounds.size };
  }
}

function remember(map: Map<string, bigint>, id: string, value: bigint): void {
  if (map.size >= CACHE_MAX) map.delete(map.keys().next().value!);
  map.set(id, value);
}

/**
 * Rows written by a version that did not store timestamps get theirs from
 * their bytes, once (settlement and restarts read them by timestamp).
 */
export function backfillTimestamps(storage: Storage, logger: Logger): void {
  let done = 0;
  for (;;) {
    const ids = storage.vertexIdsWithoutTimestamp(BACKFILL_BATCH);
    if (ids.length === 0) break;
    storage.transaction(() => {
      for (const id of ids) {
        storage.setVertexTimestamp(id, Number(validateVertex(storage.getVertex(id)!.bytes).vertex.timestampMs));
      }
    });
    done += ids.length;
  }
  if (done > 0) logger.info("vertex timestamps backfilled from their bytes", { vertices: done });
}
