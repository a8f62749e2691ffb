/**
 * Keeps the exchange ledger (the WASM core's `Ledger`, wasm/LEDGER.md) in
 * step with consensus: every accepted vertex, in the order its acceptance was
 * recorded, applies its transactions in vertex order; every closed cut
 * (src/consensus/cut.ts) is folded in.
 *
 * Settlement (wasm/LEDGER.md, "Settlement"): when cut c closes, the journal
 * and concurrency records of cut c-1 are dropped (every vertex applied from
 * then on descends from its whole frontier), and the state at cut c (the
 * state without the vertices applied above its boundary) is hashed for the
 * checkpoint statement. So the core's journal, its receipts and this
 * service's records hold about two cuts of vertices, whatever the chain's age.
 *
 * Persistence: receipts are written as vertices are applied; every
 * `snapshotEvery` cuts a snapshot of the state at the cut is stored (only at
 * cuts whose later vertices all descend from the previous frontier, see
 * `snapshotSafe`). A restart imports the newest snapshot and replays only the
 * vertices accepted above it, in timestamp order, folding the cuts recorded
 * since; it never replays history, and never re-verifies a settled signature.
 *
 * Failure: if the core throws while applying (a broken calling contract, e.g.
 * two accepted transactions with one conflict key, or a full journal), or
 * storage breaks an ordering promise (a missing vertex, a parent never
 * applied, a transaction not accepted), the service halts: it applies nothing
 * more and `halted` says why, with a stable code. `restore()` never throws: a
 * node whose ledger halted still starts and reports it (serving a state that
 * silently diverged from the other nodes would be worse).
 */
import {
  coreMemoryBytes,
  formatAmount,
  Ledger,
  type LedgerAccount,
  type LedgerContext,
  type LedgerFeeQuote,
  type LedgerOutcome,
  type LedgerReceipt,
  type LedgerStatus,
  validateVertex,
  type VertexInfo,
} from "../core/mod.ts";
import type { StoredCut, StoredReceipt } from "../storage/mod.ts";
import { ConcurrencyIndex, MissingParentError } from "./concurrency.ts";
import { haltOf, type LedgerHalt, LedgerServiceError } from "./halt.ts";
import { countOutcome, type LedgerMetrics, ledgerMetrics } from "./metrics.ts";
import { checkReplayedCut } from "./replay.ts";
import { accountsPage, findAccount, findReceipt } from "./queries.ts";
import { verifyAll, verifySignature } from "./signatures.ts";
import {
  type CutFold,
  type LedgerCut,
  type LedgerDecisionInput,
  type LedgerServiceOptions,
  type RestoreSummary,
  subjectOf,
} from "./types.ts";

/** Snapshots kept by default (the newest ones). */
export const SNAPSHOTS_KEPT = 2;

const bytesOf = (ids: readonly string[]) => ids.map((h) => Uint8Array.fromHex(h));

export class LedgerService {
  readonly #o: LedgerServiceOptions;
  #ledger: Ledger;
  readonly #index = new ConcurrencyIndex();
  /** Vertices with a timestamp below this were dropped: a parent without a record is one of them. */
  #droppedBelowMs = 0;
  /** The last cut folded in. */
  #cut: LedgerCut | null = null;
  #appliedTotal = 0;
  /** status() until the ledger changes. */
  #status: LedgerStatus | null = null;
  /** Sequential processing: signature checks are async, applying must not interleave. */
  #queue: Promise<void> = Promise.resolve();
  #halted: LedgerHalt | null = null;
  readonly #m: LedgerMetrics;

  constructor(o: LedgerServiceOptions) {
    this.#o = o;
    this.#ledger = Ledger.genesis(o.genesis);
    this.#m = ledgerMetrics(o.registry);
    this.#m.halted.set({}, 0);
    this.#refreshGauges();
  }

  // ------------------------------------------------------------ driving

  /**
   * Starts over from the newest stored snapshot (or the genesis) and replays
   * the accepted vertices above it, folding the cuts recorded since. Call
   * once at start, before `onDecisions`. Never rejects: a fault halts the
   * ledger (see `halted`) and the summary says how far it got.
   */
  restore(): Promise<RestoreSummary> {
    return this.#enqueue(async () => {
      const started = performance.now();
      this.#reset();
      const summary: RestoreSummary = { fromSeq: 0, vertices: 0, transactions: 0, cuts: 0, durationMs: 0 };
      try {
        const from = this.#loadSnapshot();
        summary.fromSeq = from?.seq ?? 0;
        const fromMs = from?.boundaryMs ?? 0;
        const ids = this.#o.storage.acceptedVerticesFrom(fromMs);
        const cuts = this.#o.storage.cutsFrom(summary.fromSeq + 1, Number.MAX_SAFE_INTEGER);
        let next = 0;
        for (const cut of cuts) {
          // Everything below the cut's boundary, then the cut (timestamp order is a causal order).
          for (; next < ids.length && this.#timestampOf(ids[next]) < cut.boundaryMs; next++) {
            summary.transactions += await this.#applyVertex(ids[next]);
            summary.vertices++;
          }
          checkReplayedCut(cut, this.#fold(cut, cut.snapshotSafe, false));
          summary.cuts++;
        }
        for (; next < ids.length; next++) {
          summary.transactions += await this.#applyVertex(ids[next]);
          summary.vertices++;
        }
      } catch (error) {
        this.#halt(error, null);
      }
      summary.durationMs = Math.round(performance.now() - started);
      this.#refreshGauges();
      const log = this.#halted === null ? this.#o.logger.info : this.#o.logger.error;
      log.call(this.#o.logger, "exchange ledger restored from storage", {
        ...summary,
        stateHash: this.#ledger.stateHash().toHex(),
        halted: this.#halted,
      });
      return summary;
    });
  }

  /**
   * Applies the accepted vertices among `decisions` (after consensus stored
   * them), in the given order. Already applied vertices are skipped, so the
   * decisions a restore saw may be reported again.
   */
  onDecisions(decisions: readonly LedgerDecisionInput[]): Promise<void> {
    const vertices = decisions.filter((d) => subjectOf(d) === "vertex" && d.status === "accepted").map((d) => d.id);
    if (vertices.length === 0) return this.#queue;
    // Never rejects (the caller is consensus' synchronous report): failures are logged and halt the ledger.
    return this.#enqueue(async () => {
      for (const id of vertices) await this.#applyVertexOrHalt(id);
      this.#refreshGauges();
    }).catch(() => {});
  }

  /**
   * Folds a closed cut in, once every decision reported before it is
   * applied: drops the previous cut's journal and records, hashes the state
   * at the cut, stores a snapshot when one is due. Resolves to the ledger's
   * part of the checkpoint statement, or null while halted.
   */
  onCut(cut: LedgerCut): Promise<CutFold | null> {
    return this.#enqueue(() => {
      if (this.#halted !== null) return Promise.resolve(null);
      try {
        const fold = this.#fold(cut, true, true);
        this.#refreshGauges();
        return Promise.resolve(fold);
      } catch (error) {
        this.#halt(error, null);
        return Promise.resolve(null);
      }
    });
  }

  /** Why the ledger stopped applying vertices, or null while it is in step with consensus. */
  get halted(): LedgerHalt | null {
    return this.#halted;
  }

  /** Resolves once everything queued so far is applied. */
  idle(): Promise<void> {
    return this.#queue;
  }

  /** Releases the core's memory. */
  close(): void {
    this.#ledger.free();
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job);
    // A failed job is logged and does not stop later ones.
    this.#queue = run.then(
      () => {},
      (err) => this.#o.logger.error("exchange ledger job failed", { err }),
    );
    return run;
  }

  #reset(): void {
    this.#status = null;
    this.#halted = null;
    this.#m.halted.set({}, 0);
    this.#ledger.free();
    this.#ledger = Ledger.genesis(this.#o.genesis);
    this.#index.clear();
    this.#droppedBelowMs = 0;
    this.#cut = null;
    this.#appliedTotal = 0;
  }

  #halt(error: unknown, vertex: string | null): void {
    this.#halted = haltOf(error, vertex);
    this.#m.halted.set({}, 1);
    const { code } = this.#halted;
    this.#o.logger.error(
      "exchange ledger halted: it applies nothing more; this node keeps running and reports the halt in /api/v1/status. " +
        "Move its data directory aside and restart it to sync from a certified checkpoint of the other validators.",
      { code, vertex, err: error },
    );
  }

  /**
   * The newest usable snapshot: imported, its journal's vertices recorded.
   * Null when there is none (the restore starts from the genesis).
   */
  #loadSnapshot(): StoredCut | null {
    const storage = this.#o.storage;
    for (const seq of storage.snapshotSeqs()) {
      const cut = storage.getCut(seq);
      const bytes = storage.getSnapshot(seq);
      if (cut === null || bytes === null) continue;
      let imported: Ledger;
      try {
        imported = Ledger.import(bytes);
      } catch (err) {
        this.#o.logger.warn("ledger snapshot unreadable; trying an older one", { seq, err });
        continue;
      }
      this.#ledger.free();
      this.#ledger = imported;
      // The journal holds the cut's own vertices: record them (as fact vertices; naming one that applied
      // nothing is a no-op) so that the vertices above the cut get exact concurrent sets.
      this.#droppedBelowMs = cut.prevBoundaryMs;
      for (const id of storage.acceptedVerticesBetween(cut.prevBoundaryMs, cut.boundaryMs)) {
        const links = storage.vertexLinks(id);
        if (links === null) throw new LedgerServiceError(`vertex ${id} of cut ${seq} is not in storage`);
        const concurrent = this.#index.concurrentTo(links.parents, (p) => this.#isDropped(p));
        this.#index.add(id, concurrent, true, links.timestampMs);
      }
      this.#cut = cut;
      this.#droppedBelowMs = cut.prevBoundaryMs;
      return cut;
    }
    return null;
  }

  /**
   * Folds `cut` in. With `drop`, the records and journal below the previous
   * cut's boundary go (live: always safe; replay: only at snapshot-safe cuts,
   * see the module comment). Returns the ledger's statement part, or null
   * when the journal is not exactly the cut's own (a replay that could not
   * drop): then this node cannot state that cut.
   */
  #fold(cut: LedgerCut, drop: boolean, live: boolean): CutFold | null {
    this.#status = null;
    if (drop && cut.prevBoundaryMs > this.#droppedBelowMs) {
      const dropped = this.#index.dropBelow(cut.prevBoundaryMs);
      if (dropped.length > 0) this.#ledger.settle(bytesOf(dropped));
      this.#droppedBelowMs = cut.prevBoundaryMs;
    }
    this.#cut = cut;
    if (!drop && cut.prevBoundaryMs > this.#droppedBelowMs) return null;
    const excluded = bytesOf(this.#index.idsFrom(cut.boundaryMs));
    const hashes = this.#ledger.cutHashes(excluded);
    const every = this.#o.snapshotEvery ?? 6;
    let snapshot = false;
    if (live && every > 0 && cut.seq % every === 0 && cut.snapshotSafe) {
      this.#o.storage.putSnapshot(
        cut.seq,
        this.#ledger.cutSnapshot(excluded),
        this.#o.snapshotsKept ?? SNAPSHOTS_KEPT,
      );
      snapshot = true;
    }
    return { seq: cut.seq, ...hashes, snapshot };
  }

  #isDropped(vertex: string): boolean {
    const ts = this.#o.storage.vertexTimestamp(vertex);
    return ts !== null && ts < this.#droppedBelowMs;
  }

  #timestampOf(vertex: string): number {
    const ts = this.#o.storage.vertexTimestamp(vertex);
    if (ts === null) throw new LedgerServiceError(`accepted vertex ${vertex} is not in storage`);
    return ts;
  }

  async #applyVertexOrHalt(id: string): Promise<number> {
    if (this.#index.has(id) || this.#isDropped(id)) return 0;
    if (this.#halted !== null) {
      this.#o.logger.warn("exchange ledger halted; accepted vertex not applied", { vertex: id });
      return 0;
    }
    try {
      return await this.#applyVertex(id);
    } catch (error) {
      this.#halt(error, id);
      return 0;
    }
  }

  /**
   * Accepted vertex `id`, decoded, with its parents (sorted) and timestamp. The DAG service's decoded copy spares
   * reading its bytes (up to a few hundred KB) back from storage. Throws when it is not in storage: skipping it would
   * leave this node's ledger without its effects for good.
   */
  #acceptedVertex(id: string): { info: VertexInfo; parents: readonly string[]; timestampMs: number } {
    const decoded = this.#o.decoded?.(id);
    if (decoded !== undefined) {
      const links = this.#o.storage.vertexLinks(id);
      if (links !== null) return { info: decoded, ...links };
    } else {
      const stored = this.#o.storage.getVertex(id);
      if (stored !== null) {
        return { info: validateVertex(stored.bytes), parents: stored.parents, timestampMs: stored.timestampMs };
      }
    }
    throw new LedgerServiceError(`accepted vertex ${id} is not in storage`);
  }

  /** Applies one accepted vertex; returns how many transactions it applied or refused for the first time. */
  async #applyVertex(id: string): Promise<number> {
    if (this.#index.has(id)) return 0;
    const { info, parents, timestampMs } = this.#acceptedVertex(id);
    let concurrent: string[];
    try {
      concurrent = this.#index.concurrentTo(parents, (p) => this.#isDropped(p));
    } catch (error) {
      if (!(error instanceof MissingParentError)) throw error;
      throw new LedgerServiceError(`accepted vertex ${id} has parent ${error.parent}, never applied`);
    }
    const context: LedgerContext = {
      vertex: info.id,
      timeMs: info.vertex.timestampMs,
      concurrent: bytesOf(concurrent),
    };

    // Prefetch: decide which transactions to apply and verify their signatures
    // (in parallel), then apply them synchronously in vertex order, then persist.
    const txs = info.vertex.transactions;
    const txIds = info.transactionIds.map((t) => t.toHex());
    const known = this.#o.storage.txDecisionsAndReceipts(txIds);
    known.forEach((k, i) => {
      // Consensus accepts a vertex only after its transactions; skipping one would diverge for good.
      if (k.status !== "accepted") {
        throw new LedgerServiceError(`accepted vertex ${id} carries transaction ${txIds[i]}, which is not accepted`);
      }
    });
    // Applied in another vertex whose receipt the core no longer holds (settled, or before a restart from a
    // snapshot, which carries no receipts): a replay of it, never applied twice.
    const settled = known.map((k) => k.receiptVertex !== null && k.receiptVertex !== id);
    const verdicts = await verifyAll(this.#ledger, this.#o.verify, info, txIds, settled, this.#o.verifiedBefore);

    let first = 0;
    let facts = false;
    const receipts: StoredReceipt[] = [];
    for (let i = 0; i < txs.length; i++) {
      if (settled[i]) {
        this.#m.duplicates.inc({ kind: "duplicate" });
        continue;
      }
      // The ids are the core's own, from decoding the vertex: not hashed again.
      const out = this.#ledger.apply(txs[i], context, verdicts[i], info.transactionIds[i]);
      countOutcome(this.#m, this.#o.logger, out, id);
      if (out.duplicate) continue;
      first++;
      receipts.push({
        txId: txIds[i],
        code: out.code,
        fee: out.fee,
        ratePpb: out.ratePpb,
        vertex: id,
        timeMs: Number(out.timeMs),
        // The account history index (storage accountHistory): every account this transaction changed.
        accounts: out.touched.map((a) => a.toHex()),
      });
      // Applied, or refused after its nonce check (the nonce is consumed): either leaves journal facts.
      if (out.code === "ok" || out.touched.length > 0) facts = true;
    }
    this.#status = null;
    // Receipts share the burst's group commit: a crash loses at most those written after the last snapshot (any
    // other write, the snapshot's included, commits the group first), and the replay from it writes them again.
    if (receipts.length > 0) this.#o.storage.putReceipts(receipts, { grouped: true });
    this.#index.add(id, concurrent, facts, timestampMs);
    this.#appliedTotal++;
    return first;
  }

  #refreshGauges(): void {
    this.#status = null;
    const s = this.status();
    this.#m.supply.set({}, Number(s.supply));
    this.#m.accounts.set({}, s.accountCount);
    this.#m.vertices.set({}, this.#appliedTotal);
    this.#m.journal.set({}, s.journalVertices);
    this.#m.held.set({}, this.#index.size);
    this.#m.cutSeq.set({}, this.#cut?.seq ?? 0);
    this.#m.coreMemory.set({}, coreMemoryBytes());
  }

  // ------------------------------------------------------------ submissions

  /**
   * The dry run of a submission (not consensus): verifies its signature with
   * the signer's registered key (or a create_account's own key), then asks the
   * core what applying it at ledger time `timeMs` against the current state
   * would give. Nothing changes. Throws `ledger_halted` while halted: this
   * node's state is not one to judge by. `id`, when given, is the id the
   * core gave for `tx` (`validateTransaction`): the core does not hash it
   * again. `signer`, given with `id`, is the key the signature must verify
   * with and the signing message, as the caller has them: a create_account's
   * own key, or the key this node knows for the account (an account's id is
   * its key's hash, so it is the key the ledger registered). Then the core is
   * not asked for them (`prepare`); where the account is unknown to the
   * ledger, the core refuses it as unknown before it looks at the verdict.
   */
  async check(
    tx: Uint8Array,
    timeMs: number,
    id?: Uint8Array,
    signer?: { publicKey: Uint8Array; signingMessage: Uint8Array },
  ): Promise<LedgerOutcome> {
    if (this.#halted !== null) {
      throw Object.assign(new LedgerServiceError(`halted: ${this.#halted.message}`), {
        code: "ledger_halted" as const,
      });
    }
    const time = BigInt(Math.max(0, Math.floor(timeMs)));
    if (signer !== undefined && id !== undefined) {
      const signatureOk = await verifySignature(
        this.#o.verify,
        tx,
        signer.publicKey,
        signer.signingMessage,
        id.toHex(),
      );
      return this.#ledger.check(tx, time, signatureOk, id);
    }
    const p = this.#ledger.prepare(tx, id);
    const signatureOk = p.receipt === undefined && p.publicKey !== undefined &&
      await verifySignature(this.#o.verify, tx, p.publicKey, p.signingMessage, p.id.toHex());
    return this.#ledger.check(tx, time, signatureOk, p.id);
  }

  // ------------------------------------------------------------ queries

  /** The core's status (its state hash is over every account): computed once per change, not per request. */
  status(): LedgerStatus {
    this.#status ??= this.#ledger.status();
    return this.#status;
  }

  stateHash(): Uint8Array {
    return this.status().stateHash;
  }

  /** The fact vertices named as concurrent when `vertex` (hex) was applied, while held; diagnostics. */
  concurrentOf(vertex: string): readonly string[] | undefined {
    return this.#index.concurrentOf(vertex);
  }

  /** Accepted vertices applied since the last restore (replayed ones included). */
  get appliedVertices(): number {
    return this.#appliedTotal;
  }

  /** Applied vertices whose concurrency records are held (bounded by settlement). */
  get verticesHeld(): number {
    return this.#index.size;
  }

  /** The last cut folded in, if any. */
  get cut(): LedgerCut | null {
    return this.#cut;
  }

  /**
   * An account by hex id (64 hex digits) or by name. An id is tried first: a
   * name may also be 64 hex digits, and then the id wins.
   */
  account(idOrName: string): LedgerAccount | undefined {
    return findAccount(this.#ledger, idOrName);
  }

  /** Accounts in ascending id order: at most `limit` (≤ ACCOUNTS_PAGE_MAX) after the hex id `after`. */
  accounts(o: { after?: string; limit?: number } = {}): LedgerAccount[] {
    return accountsPage(this.#ledger, o);
  }

  /** Balance in smallest units; 0n for an unknown account. */
  balance(id: Uint8Array | string): bigint {
    return this.#ledger.balance(typeof id === "string" ? Uint8Array.fromHex(id) : id);
  }

  /** The ledger's receipt for a transaction (hex id), if it was applied or refused (see findReceipt). */
  receipt(txId: string): LedgerReceipt | undefined {
    return findReceipt(this.#o.storage, txId);
  }

  /** Rate and fee for a transfer of `amount` units by `account` at ledger time `timeMs` (CoreError unknown_account). */
  feeQuote(account: Uint8Array, amount: bigint, timeMs: bigint): LedgerFeeQuote {
    return this.#ledger.feeQuote(account, amount, timeMs);
  }

  /** A one-line summary for logs and the node status. */
  summary(): {
    accounts: number;
    supply: string;
    stateHash: string;
    appliedVertices: number;
    journalVertices: number;
    cut: number;
  } {
    const s = this.status();
    return {
      accounts: s.accountCount,
      supply: formatAmount(s.supply),
      stateHash: s.stateHash.toHex(),
      appliedVertices: this.#appliedTotal,
      journalVertices: s.journalVertices,
      cut: this.#cut?.seq ?? 0,
    };
  }
}
