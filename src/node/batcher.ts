/**
 * Gathers the transactions submitted to this node into the vertices it
 * issues. A batch waits `batchDelayMs` to fill while fewer than `batchWindow`
 * of this node's vertices are undecided, else up to `batchDelayMaxMs` (or
 * until one of them is decided): under load a vertex issued sooner is decided
 * no sooner, and fewer, fuller vertices cost every node less (signatures,
 * relays, stores, polls). Each vertex descends from the carriers of its
 * transactions' previous nonces, so that every node's DAG admission finds
 * them in its causal past; what cannot be placed yet waits for a later vertex.
 */
import { ML_DSA_87_SIGNATURE_BYTES } from "../core/mod.ts";
import { type Decision, type TxInput, VERTEX_PARENTS_MAX, VERTEX_TXS_MAX } from "../consensus/mod.ts";
import { requiredNonce } from "../dag/carried.ts";
import { conflictKeyOf, splitConflictKey } from "../dag/conflict_key.ts";
import type { Engine } from "../engine/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import { VERTEX_RELAY_BYTES_MAX } from "../net/protocol.ts";
import type { DagService } from "./dag_service.ts";
import type { Mempool } from "./mempool.ts";

/** While issuing is held, how often the batch looks again. */
const HOLD_RETRY_MS = 250;

export interface BatcherOptions {
  engine: Engine;
  dag: DagService;
  mempool: Mempool;
  logger: Logger;
  nowMs: () => number;
  /** Nonces form a chain (the exchange ledger runs: src/dag/carried.ts). */
  sequential: boolean;
  /** qudag_transactions_submitted_total: this counts the "dropped" transactions. */
  submitted: Counter;
  /** See ConsensusOptions. */
  batchDelayMs?: number;
  batchWindow?: number;
  batchDelayMaxMs?: number;
  batchTxsMax?: number;
  /**
   * While true, nothing is issued: the batch waits (this node is behind the
   * certified checkpoints, so its tips are stale and the others would refuse
   * its vertices as stale_parents, carried transactions and all).
   */
  holdIssuing?: () => boolean;
}

/**
 * A vertex's bytes besides its transactions, at most: version and type, chain
 * id, author, round, timestamp, the parent count and VERTEX_PARENTS_MAX
 * parents, the transaction count, the ML-DSA-87 signature (wasm/src/vertex.rs).
 */
const VERTEX_ENVELOPE_BYTES_MAX = 2 + 32 + 32 + 8 + 8 + 4 + VERTEX_PARENTS_MAX * 32 + 4 + ML_DSA_87_SIGNATURE_BYTES;
/**
 * Bytes of transactions in one vertex, each with its 4-byte length: a vertex
 * this node builds never exceeds what peers relay (VERTEX_RELAY_BYTES_MAX).
 */
const VERTEX_TX_BYTES_MAX = VERTEX_RELAY_BYTES_MAX - VERTEX_ENVELOPE_BYTES_MAX;
/** Most extra parents a vertex takes to have its transactions' predecessors in its causal past. */
const PREDECESSOR_PARENTS_MAX = 4;
/** Flushes a transaction may wait for its previous nonce to become reachable before it is dropped. */
const DEFERRALS_MAX = 500;
/**
 * Defaults of batchDelayMs, batchWindow and batchDelayMaxMs (see ConsensusOptions; the node's configuration
 * passes its own: consensus.batch_delay_ms, consensus.batch_window, consensus.batch_delay_max_ms). A window of 2
 * rather than 4: at saturation each vertex carries about twice the transactions, and every node's work per vertex
 * (its signature, relays, commits, polls) is shared by twice as many (bench/PROFILE.md, change 49).
 */
const BATCH_DELAY_MS = 20;
const BATCH_WINDOW = 2;
const BATCH_DELAY_MAX_MS = 250;

export class Batcher {
  readonly #o: BatcherOptions;
  #batch: TxInput[] = [];
  /** Bytes of #batch's transactions, each with its 4-byte length (at most VERTEX_TX_BYTES_MAX). */
  #batchBytes = 0;
  #batchTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the pending flush is due (ms, this service's clock). */
  #batchDueMs = 0;
  /** This node's own vertices not decided yet (see batchWindow). */
  readonly #inFlight = new Set<string>();
  /** Flushes each waiting transaction was put back for (see #defer). */
  readonly #deferrals = new Map<string, number>();
  #stopped = false;

  constructor(o: BatcherOptions) {
    this.#o = o;
  }

  /** Takes a transaction (of `byteLength` bytes, in the mempool) into the next vertex. */
  add(tx: TxInput, byteLength: number): void {
    if (this.#batchBytes + 4 + byteLength > VERTEX_TX_BYTES_MAX) this.#flush();
    this.#batch.push(tx);
    this.#batchBytes += 4 + byteLength;
    if (this.#batch.length >= (this.#o.batchTxsMax ?? VERTEX_TXS_MAX)) this.#flush();
    else this.#scheduleFlush();
  }

  /** Issues transactions the engine re-issues (their vertex was rejected); what must wait joins the batch. */
  reissue(txs: readonly TxInput[]): void {
    if (!this.#stopped) this.#issueAll(txs);
  }

  /** Decided vertices leave the window; decided transactions stop waiting. */
  onDecided(decisions: readonly Decision[]): void {
    const windowWasFull = this.#inFlight.size >= (this.#o.batchWindow ?? BATCH_WINDOW);
    for (const d of decisions) {
      if (d.kind === "vertex") this.#inFlight.delete(d.id);
      if (d.kind === "tx") this.#deferrals.delete(d.id);
    }
    // The window opened: what waits for the long delay goes out after the short one.
    if (windowWasFull && this.#batch.length > 0) this.#scheduleFlush();
  }

  /** A vertex settled or restored away without a decision here must not hold the window. */
  pruneWindow(): void {
    for (const id of this.#inFlight) {
      if (this.#o.engine.consensus.vertexStatus(id) !== "processing") this.#inFlight.delete(id);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
  }

  /**
   * Arms the batch timer: `batchDelayMs` while fewer than `batchWindow` own
   * vertices are undecided, else `batchDelayMaxMs`; an armed timer is only
   * ever brought forward.
   */
  #scheduleFlush(): void {
    const full = this.#inFlight.size >= (this.#o.batchWindow ?? BATCH_WINDOW);
    const delay = full ? this.#o.batchDelayMaxMs ?? BATCH_DELAY_MAX_MS : this.#o.batchDelayMs ?? BATCH_DELAY_MS;
    const due = this.#o.nowMs() + delay;
    if (this.#batchTimer !== null) {
      if (this.#batchDueMs <= due) return;
      clearTimeout(this.#batchTimer);
    }
    this.#batchDueMs = due;
    this.#batchTimer = setTimeout(() => this.#flush(), delay);
  }

  #flush(): void {
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    if (!this.#stopped && this.#o.holdIssuing?.()) {
      this.#batchDueMs = this.#o.nowMs() + HOLD_RETRY_MS;
      this.#batchTimer = setTimeout(() => this.#flush(), HOLD_RETRY_MS);
      return;
    }
    // A transaction a peer's vertex brought meanwhile is carried already: a second carrier would only compete.
    const batch = this.#batch.filter((t) => this.#o.engine.consensus.txStatus(t.id) === undefined);
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.#stopped) return;
    // A batch that grew while issuing was held goes out in vertices of the usual size, in order.
    const countMax = this.#o.batchTxsMax ?? VERTEX_TXS_MAX;
    for (let at = 0; at < batch.length;) {
      let bytes = 0;
      let end = at;
      while (end < batch.length && end - at < countMax) {
        const size = 4 + (this.#o.mempool.bytesOf(batch[end].id)?.length ?? 0);
        if (end > at && bytes + size > VERTEX_TX_BYTES_MAX) break;
        bytes += size;
        end++;
      }
      this.#defer(this.#issueAll(batch.slice(at, end)));
      at = end;
    }
  }

  /**
   * Issues `batch` in as few vertices as the rules allow; returns what must
   * wait for a later vertex (its predecessor not reachable yet).
   */
  #issueAll(batch: readonly TxInput[]): TxInput[] {
    // Two transactions of one conflict set cannot share a vertex: issue them apart. An account's
    // nonce n goes in the group of its n − 1 or a later one (groups are issued in order), and its
    // vertex descends from n − 1's carrier.
    const groups: TxInput[][] = [];
    const groupOfKey = new Map<string, number>();
    for (const tx of batch) {
      const { account, nonce } = splitConflictKey(tx.conflictKey);
      const after = nonce === 0n
        ? 0
        : groupOfKey.get(conflictKeyOf(account, requiredNonce(nonce, this.#o.sequential))) ?? 0;
      let g = groups.findIndex((g, i) => i >= after && !g.some((t) => t.conflictKey === tx.conflictKey));
      if (g < 0) g = groups.push([]) - 1;
      groups[g].push(tx);
      groupOfKey.set(tx.conflictKey, g);
    }
    const carrierOfKey = new Map<string, string>();
    const deferred: TxInput[] = [];
    for (const g of groups) {
      const placed = this.#placeGroup(g.filter((t) => !deferred.some((d) => sameAccount(d, t))), carrierOfKey);
      deferred.push(...placed.deferred);
      if (placed.txs.length === 0) continue;
      try {
        const v = this.#o.engine.issue(placed.txs, placed.required);
        this.#inFlight.add(v.id);
        for (const t of placed.txs) carrierOfKey.set(t.conflictKey, v.id);
      } catch (e) {
        // Retry one by one so only the transaction at fault is dropped.
        this.#o.logger.warn("could not issue a vertex; retrying its transactions one by one", {
          err: e,
          txs: placed.txs.length,
        });
        for (const t of placed.txs) {
          try {
            const one = this.#placeGroup([t], carrierOfKey);
            if (one.txs.length === 0) {
              deferred.push(t);
              continue;
            }
            const v = this.#o.engine.issue(one.txs, one.required);
            this.#inFlight.add(v.id);
            carrierOfKey.set(t.conflictKey, v.id);
          } catch (err) {
            this.#o.logger.warn("transaction dropped: it cannot be issued", { id: t.id, err });
            this.#o.submitted.inc({ result: "dropped" });
            this.#drop(t.id);
          }
        }
      }
    }
    return deferred;
  }

  /**
   * The parents a vertex carrying `g` needs so that each transaction's
   * previous nonce is in its causal past, judged as every node will judge it
   * (src/node/causal_past.ts): the carriers issued in this flush or still
   * processing are required first; a predecessor the planned parents still
   * do not reach gets one of its carriers required too. What cannot be
   * placed (no room for one more parent, or no live carrier yet) waits for
   * the next vertex, with the account's later nonces.
   */
  #placeGroup(
    g: readonly TxInput[],
    carrierOfKey: ReadonlyMap<string, string>,
  ): { txs: TxInput[]; required: string[]; deferred: TxInput[] } {
    const c = this.#o.engine.consensus;
    const required = new Set<string>();
    for (const t of g) {
      const pred = this.#predecessorKey(t);
      if (pred === null || g.some((o) => o.conflictKey === pred)) continue;
      const issued = carrierOfKey.get(pred);
      if (issued !== undefined) required.add(issued);
      else for (const v of this.#predecessorCarriers(t)) required.add(v);
    }
    let requiredList = [...required].slice(0, PREDECESSOR_PARENTS_MAX);
    for (let attempt = 0;; attempt++) {
      const parents = this.#o.engine.planParents(g, requiredList);
      const past = this.#o.dag.causalPast.of(parents);
      const earlier = new Set<string>();
      const unreached: TxInput[] = [];
      for (const t of g) {
        const pred = this.#predecessorKey(t);
        if (pred !== null && !earlier.has(pred) && !past.carriedInPast(pred)) unreached.push(t);
        earlier.add(t.conflictKey);
      }
      if (unreached.length === 0) return { txs: [...g], required: requiredList, deferred: [] };
      if (attempt === 0) {
        // A live carrier of each predecessor the plan misses (accepted ones too: 16 parents may not reach them all).
        const more = unreached.flatMap((t) =>
          this.#o.dag.causalPast.carriers(this.#predecessorKey(t)!).map((x) => x.vertex)
            .filter((v) => c.hasVertex(v) && c.vertexStatus(v) !== "rejected").slice(0, 1)
        );
        if (more.length > 0) {
          requiredList = [...new Set([...requiredList, ...more])];
          continue;
        }
      }
      const waiting = g.filter((t) => unreached.some((u) => sameAccount(u, t) && nonceOf(t) >= nonceOf(u)));
      return {
        txs: g.filter((t) => !waiting.includes(t)),
        required: requiredList,
        deferred: waiting,
      };
    }
  }

  /** The conflict key of the transaction `t` needs before it, or null for nonce 0. */
  #predecessorKey(t: TxInput): string | null {
    const { account, nonce } = splitConflictKey(t.conflictKey);
    return nonce === 0n ? null : conflictKeyOf(account, requiredNonce(nonce, this.#o.sequential));
  }

  /**
   * Vertices a new vertex must descend from so that `tx` has the transaction
   * it needs before it in its causal past (judged at DAG admission): the
   * undecided carrier of that transaction's preferred one. An accepted
   * carrier is usually reached through the virtuous frontier; #placeGroup
   * makes sure.
   */
  #predecessorCarriers(tx: TxInput): string[] {
    const key = this.#predecessorKey(tx);
    if (key === null) return [];
    const c = this.#o.engine.consensus;
    const carrier = c.preferredVertexOf(key);
    return carrier !== null && c.vertexStatus(carrier) === "processing" ? [carrier] : [];
  }

  /** Transactions whose predecessors cannot be reached yet go back to the batch, for the next vertex. */
  #defer(txs: readonly TxInput[]): void {
    for (const t of txs) {
      const tries = (this.#deferrals.get(t.id) ?? 0) + 1;
      if (tries > DEFERRALS_MAX) {
        this.#o.logger.warn("transaction dropped: its previous nonce never reached a vertex it could follow", {
          id: t.id,
        });
        this.#o.submitted.inc({ result: "dropped" });
        this.#drop(t.id);
        continue;
      }
      this.#deferrals.set(t.id, tries);
      const bytes = this.#o.mempool.bytesOf(t.id);
      if (bytes === undefined) continue;
      this.#batch.push(t);
      this.#batchBytes += 4 + bytes.length;
    }
    if (this.#batch.length > 0) this.#scheduleFlush();
  }

  /** A transaction that will not be issued: out of the mempool and of the deferrals. */
  #drop(txId: string): void {
    this.#deferrals.delete(txId);
    this.#o.mempool.forget(txId);
  }
}

function nonceOf(t: TxInput): bigint {
  return splitConflictKey(t.conflictKey).nonce;
}

/** Conflict keys are the account's 64 hex digits, then the nonce's. */
function sameAccount(a: TxInput, b: TxInput): boolean {
  return a.conflictKey.slice(0, 64) === b.conflictKey.slice(0, 64);
}
