/**
 * Keeps the exchange ledger (the WASM core's `Ledger`, wasm/LEDGER.md) in
 * step with consensus: every accepted vertex, in the order its acceptance was
 * recorded, applies its transactions in vertex order.
 *
 * Persistence: the ledger is derived state. Nothing of it is written; at start
 * `rebuild()` replays the accepted vertices from storage (`allDecisions()` is
 * in record order, and consensus records a vertex accepted only after its
 * parents and transactions). The transition is deterministic, so the replay
 * reaches the state every other node holds. Checkpoints (`Ledger.export()`)
 * are left out on purpose: the concurrent-set bookkeeping below is not in the
 * export, so a checkpoint would have to carry it too. The price: a restart
 * verifies every accepted transaction's ML-DSA-87 signature again.
 *
 * Failure: if the core throws while applying (a broken calling contract, e.g.
 * two accepted transactions with one conflict key, or a full journal), or
 * storage breaks an ordering promise (a missing vertex, a parent never
 * applied, a transaction not accepted), the service halts: it applies nothing
 * more, `halted` says why, and a rebuild meets the same fault again. Serving a
 * state that silently diverged from the other nodes would be worse.
 *
 * Concurrent sets. `LedgerContext.concurrent` must name the applied vertices
 * that are not ancestors of the carrier. Only vertices whose transactions
 * changed state ("fact vertices": the core keeps a journal entry only for
 * those) matter; naming others is a no-op. For every applied vertex V this
 * service keeps its application sequence number and conc(V), the fact
 * vertices concurrent to V when V was applied. Every ancestor of a vertex is
 * applied before it, so for a carrier C with parents P1..Pk:
 *
 *   conc(C) = ∩ over i of ( conc(Pi) ∪ { fact vertices applied after Pi } )
 *
 * (a fact vertex applied before Pi and not concurrent to Pi is an ancestor of
 * Pi, hence of C; one applied after Pi, or concurrent to it, is an ancestor of
 * C only through another parent, and the intersection removes it). A genesis
 * vertex (no parents) is concurrent to everything applied. This is exact, reads
 * only the carrier's own parent list, and costs O(smallest candidate set ×
 * parents) instead of a walk over the DAG.
 *
 * Settling: not done. LEDGER.md allows settling a vertex only once no vertex
 * still to be applied can be concurrent to it; today DAG admission bounds a
 * vertex's own timestamp but not its parents' age, so a late vertex may name
 * any old parent and no vertex is ever provably settled. Consequence: the core
 * refuses to apply after 65,536 unsettled fact vertices (JOURNAL_VERTICES_MAX),
 * and the per-vertex bookkeeping here grows with the DAG. Both need a
 * settlement rule in DAG admission (see the report for issue 6).
 */
import {
  CoreError,
  formatAmount,
  Ledger,
  type LedgerAccount,
  type LedgerContext,
  type LedgerFeeQuote,
  type LedgerGenesis,
  type LedgerOutcome,
  type LedgerReceipt,
  type LedgerStatus,
  ML_DSA_87_SIGNATURE_BYTES,
  validateVertex,
} from "../core/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";
import type { DecisionStatus, DecisionSubject, Storage } from "../storage/mod.ts";

/** The core's limit on `LedgerContext.concurrent` (wasm CONCURRENT_VERTICES_MAX). */
export const CONCURRENT_VERTICES_MAX = 4_096;
/** Most accounts one `accounts()` page returns. */
export const ACCOUNTS_PAGE_MAX = 1_000;

const ID_HEX_RE = /^[0-9a-f]{64}$/;

/** Async ML-DSA-87 verification by the crypto backend. */
export type AsyncSignatureVerifier = (
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
) => Promise<boolean>;

export interface LedgerServiceOptions {
  genesis: LedgerGenesis;
  storage: Storage;
  verify: AsyncSignatureVerifier;
  logger: Logger;
  registry: Registry;
}

/**
 * A decision as consensus reports it (`kind`, src/consensus) or as storage
 * returns it (`subject`): either shape is taken.
 */
export type LedgerDecisionInput =
  & { readonly id: string; readonly status: DecisionStatus }
  & ({ readonly kind: DecisionSubject } | { readonly subject: DecisionSubject });

export interface RebuildSummary {
  vertices: number;
  transactions: number;
  durationMs: number;
}

/** What one applied vertex left behind for its descendants' concurrent sets. */
interface AppliedVertex {
  /** Position in this node's application order. */
  readonly seq: number;
  /** Fact vertices concurrent to it when it was applied (hex, ascending). */
  readonly concurrent: readonly string[];
  /** Whether its transactions changed state (the core holds a journal entry for it). */
  readonly facts: boolean;
}

/** The service cannot follow consensus: the store or the caller broke an ordering promise. */
export class LedgerServiceError extends Error {
  readonly code = "ledger_out_of_step";
  constructor(message: string, options?: ErrorOptions) {
    super(`Cannot apply to the exchange ledger: ${message}`, options);
    this.name = "LedgerServiceError";
  }
}

function subjectOf(d: LedgerDecisionInput): DecisionSubject {
  return "kind" in d ? d.kind : d.subject;
}

export class LedgerService {
  readonly #o: LedgerServiceOptions;
  #ledger: Ledger;
  #applied = new Map<string, AppliedVertex>();
  /** Fact vertices in application order, with their sequence numbers (ascending). */
  #factIds: string[] = [];
  #factSeqs: number[] = [];
  #nextSeq = 0;
  /** Sequential processing: signature checks are async, applying must not interleave. */
  #queue: Promise<void> = Promise.resolve();
  /**
   * Set when applying a vertex threw (the core refused the calling contract,
   * e.g. two accepted transactions with one conflict key, or its journal is
   * full): the ledger may hold part of that vertex, so nothing more is applied
   * until a rebuild. Queries keep answering from the state reached.
   */
  #halted: Error | null = null;
  readonly #m: {
    transactions: Counter;
    duplicates: Counter;
    supply: Gauge;
    accounts: Gauge;
    vertices: Gauge;
    halted: Gauge;
  };

  constructor(o: LedgerServiceOptions) {
    this.#o = o;
    this.#ledger = Ledger.genesis(o.genesis);
    const r = o.registry;
    this.#m = {
      transactions: r.counter(
        "qudag_ledger_transactions_total",
        "Transactions the exchange ledger applied (ok) or refused (the refusal code), first application only.",
        ["result"],
      ),
      duplicates: r.counter(
        "qudag_ledger_duplicate_transactions_total",
        "Transactions carried again by a later accepted vertex; kind=concurrent when the carriers are concurrent.",
        ["kind"],
      ),
      supply: r.gauge("qudag_ledger_supply_units", "rUv in circulation (minted - burned), smallest units."),
      accounts: r.gauge("qudag_ledger_accounts", "Accounts on the exchange ledger."),
      vertices: r.gauge("qudag_ledger_applied_vertices", "Accepted vertices applied to the exchange ledger."),
      halted: r.gauge("qudag_ledger_halted", "1 when the exchange ledger stopped applying vertices (see the log)."),
    };
    this.#m.halted.set({}, 0);
    this.#refreshGauges();
  }

  // ------------------------------------------------------------ driving

  /**
   * Throws the ledger away and replays every accepted vertex from storage,
   * in decision record order. Call once at start, before `onDecisions`.
   */
  rebuild(): Promise<RebuildSummary> {
    return this.#enqueue(async () => {
      const started = performance.now();
      this.#halted = null;
      this.#m.halted.set({}, 0);
      this.#ledger.free();
      this.#ledger = Ledger.genesis(this.#o.genesis);
      this.#applied = new Map();
      this.#factIds = [];
      this.#factSeqs = [];
      this.#nextSeq = 0;
      let transactions = 0;
      for (const d of this.#o.storage.allDecisions()) {
        if (d.subject === "vertex" && d.status === "accepted") transactions += await this.#applyVertex(d.id);
      }
      const summary = {
        vertices: this.#applied.size,
        transactions,
        durationMs: Math.round(performance.now() - started),
      };
      this.#refreshGauges();
      this.#o.logger.info("exchange ledger rebuilt from storage", {
        ...summary,
        stateHash: this.#ledger.stateHash().toHex(),
      });
      return summary;
    });
  }

  /**
   * Applies the accepted vertices among `decisions` (after consensus stored
   * them), in the given order. Already applied vertices are skipped, so the
   * decisions a rebuild saw may be reported again.
   */
  onDecisions(decisions: readonly LedgerDecisionInput[]): Promise<void> {
    const vertices = decisions.filter((d) => subjectOf(d) === "vertex" && d.status === "accepted").map((d) => d.id);
    if (vertices.length === 0) return this.#queue;
    // Never rejects (the caller is consensus' synchronous report): failures are logged and halt the ledger.
    return this.#enqueue(async () => {
      for (const id of vertices) await this.#applyVertex(id);
      this.#refreshGauges();
    }).catch(() => {});
  }

  /** Why the ledger stopped applying vertices, or null while it is in step with consensus. */
  get halted(): Error | null {
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

  /** Applies one accepted vertex; returns how many transactions it applied or refused for the first time. */
  async #applyVertex(id: string): Promise<number> {
    if (this.#applied.has(id)) return 0;
    if (this.#halted !== null) {
      this.#o.logger.warn("exchange ledger halted; accepted vertex not applied", { vertex: id });
      return 0;
    }
    try {
      return await this.#applyVertexOnce(id);
    } catch (error) {
      this.#halted = error instanceof Error ? error : new Error(String(error));
      this.#m.halted.set({}, 1);
      this.#o.logger.error("exchange ledger halted: applying an accepted vertex failed; rebuild needed", {
        vertex: id,
        err: error,
      });
      throw error;
    }
  }

  async #applyVertexOnce(id: string): Promise<number> {
    const stored = this.#o.storage.getVertex(id);
    if (stored === null) {
      // Skipping it would leave this node's ledger without its effects for good.
      throw new LedgerServiceError(`accepted vertex ${id} is not in storage`);
    }
    const info = validateVertex(stored.bytes);
    const concurrent = this.#concurrentTo(id, stored.parents);
    const context: LedgerContext = {
      vertex: info.id,
      timeMs: info.vertex.timestampMs,
      concurrent: concurrent.slice(0, CONCURRENT_VERTICES_MAX).map((h) => Uint8Array.fromHex(h)),
    };
    if (concurrent.length > CONCURRENT_VERTICES_MAX) {
      // The core cannot take more; the view then includes effects it should not.
      this.#o.logger.error("too many concurrent vertices; capped, this node's receipts may diverge", {
        vertex: id,
        concurrent: concurrent.length,
        limit: CONCURRENT_VERTICES_MAX,
      });
    }

    // Prefetch: decide which transactions to apply and verify their signatures
    // (in parallel), then apply them synchronously in vertex order.
    const txs = info.vertex.transactions;
    info.transactionIds.forEach((t) => {
      // Consensus accepts a vertex only after its transactions; skipping one would diverge for good.
      if (this.#o.storage.getDecision(t.toHex())?.status !== "accepted") {
        throw new LedgerServiceError(`accepted vertex ${id} carries transaction ${t.toHex()}, which is not accepted`);
      }
    });
    const verdicts = await this.#verifyAll(txs);

    let first = 0;
    let facts = false;
    for (let i = 0; i < txs.length; i++) {
      const out = this.#ledger.apply(txs[i], context, verdicts[i]);
      this.#count(out, id);
      if (!out.duplicate) first++;
      // Applied, or refused after its nonce check (the nonce is consumed): either leaves journal facts.
      if (!out.duplicate && (out.code === "ok" || out.touched.length > 0)) facts = true;
    }
    const seq = this.#nextSeq++;
    this.#applied.set(id, { seq, concurrent, facts });
    if (facts) {
      this.#factIds.push(id);
      this.#factSeqs.push(seq);
    }
    return first;
  }

  /**
   * Signature verdicts for `txs`. The key comes from `prepare` (the account's
   * registered key) or, for an account created earlier in the same vertex,
   * from that create_account: an account id is the hash of its key, so either
   * is the one key the account can have. No key, or an earlier receipt
   * (apply returns the receipt again without looking at the verdict): false.
   */
  async #verifyAll(txs: readonly Uint8Array[]): Promise<boolean[]> {
    const created = new Map<string, Uint8Array>();
    const checks = txs.map((tx): Promise<boolean> => {
      const p = this.#ledger.prepare(tx);
      const account = p.account.toHex();
      if (p.kind === "create_account" && p.publicKey !== undefined && !created.has(account)) {
        created.set(account, p.publicKey);
      }
      const key = p.publicKey ?? created.get(account);
      if (p.receipt !== undefined || key === undefined) return Promise.resolve(false);
      // A verifier that fails to run rejects, and the service halts: recording
      // bad_signature for a backend fault would diverge from the other nodes.
      return this.#verifySignature(tx, key, p.signingMessage);
    });
    return await Promise.all(checks);
  }

  /** The signed encoding ends with the signature (the core's applyVerified reads it the same way). */
  #verifySignature(tx: Uint8Array, key: Uint8Array, signingMessage: Uint8Array): Promise<boolean> {
    return this.#o.verify(key, signingMessage, tx.subarray(tx.length - ML_DSA_87_SIGNATURE_BYTES));
  }

  #count(out: LedgerOutcome, vertex: string): void {
    if (out.concurrentDuplicate) {
      this.#m.duplicates.inc({ kind: "concurrent" });
      this.#o.logger.warn("transaction carried by two concurrent accepted vertices; first receipt kept", {
        txId: out.id.toHex(),
        vertex,
        firstVertex: out.vertex.toHex(),
      });
    } else if (out.duplicate) {
      this.#m.duplicates.inc({ kind: "duplicate" });
    } else {
      this.#m.transactions.inc({ result: out.code });
      if (out.code !== "ok") {
        this.#o.logger.debug("ledger refused a transaction", { txId: out.id.toHex(), code: out.code, vertex });
      }
    }
  }

  /** conc(C) from the parents' records; see the module comment. Hex ids, ascending. */
  #concurrentTo(id: string, parents: readonly string[]): string[] {
    if (parents.length === 0) return [...this.#factIds].sort();
    const records = parents.map((p) => {
      const r = this.#applied.get(p);
      // Consensus accepts a vertex only after its parents, and this service
      // applies every accepted vertex: only a broken store or caller gets here.
      if (r === undefined) throw new LedgerServiceError(`accepted vertex ${id} has parent ${p}, never applied`);
      return r;
    });
    // Start from the parent with the fewest candidates, then keep what every other parent also has.
    const candidates = (r: AppliedVertex) => r.concurrent.length + this.#factIds.length - this.#factsUpTo(r.seq);
    records.sort((a, b) => candidates(a) - candidates(b));
    const [first, ...rest] = records;
    const start = [...first.concurrent, ...this.#factIds.slice(this.#factsUpTo(first.seq))];
    const sets = rest.map((r) => ({ seq: r.seq, concurrent: new Set(r.concurrent) }));
    const out = start.filter((f) => {
      const seq = this.#applied.get(f)!.seq;
      return sets.every((s) => seq > s.seq || s.concurrent.has(f));
    });
    return out.sort();
  }

  /** How many fact vertices have seq <= `seq` (binary search). */
  #factsUpTo(seq: number): number {
    let lo = 0;
    let hi = this.#factSeqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#factSeqs[mid] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #refreshGauges(): void {
    const s = this.#ledger.status();
    this.#m.supply.set({}, Number(s.supply));
    this.#m.accounts.set({}, s.accountCount);
    this.#m.vertices.set({}, this.#applied.size);
  }

  // ------------------------------------------------------------ submissions

  /**
   * The dry run of a submission (not consensus): verifies its signature with
   * the signer's registered key (or a create_account's own key), then asks the
   * core what applying it at ledger time `timeMs` against the current state
   * would give. Nothing changes. Throws `ledger_halted` while halted: this
   * node's state is not one to judge by.
   */
  async check(tx: Uint8Array, timeMs: number): Promise<LedgerOutcome> {
    if (this.#halted !== null) {
      throw Object.assign(new LedgerServiceError(`halted: ${this.#halted.message}`), {
        code: "ledger_halted" as const,
      });
    }
    const p = this.#ledger.prepare(tx);
    const signatureOk = p.receipt === undefined && p.publicKey !== undefined &&
      await this.#verifySignature(tx, p.publicKey, p.signingMessage);
    return this.#ledger.check(tx, BigInt(Math.max(0, Math.floor(timeMs))), signatureOk);
  }

  // ------------------------------------------------------------ queries

  status(): LedgerStatus {
    return this.#ledger.status();
  }

  stateHash(): Uint8Array {
    return this.#ledger.stateHash();
  }

  /** The fact vertices named as concurrent when `vertex` (hex) was applied, before the core's cap; diagnostics. */
  concurrentOf(vertex: string): readonly string[] | undefined {
    return this.#applied.get(vertex)?.concurrent;
  }

  /** Accepted vertices applied so far. */
  get appliedVertices(): number {
    return this.#applied.size;
  }

  /**
   * An account by hex id (64 hex digits) or by name. An id is tried first: a
   * name may also be 64 hex digits, and then the id wins.
   */
  account(idOrName: string): LedgerAccount | undefined {
    const text = idOrName.toLowerCase();
    if (ID_HEX_RE.test(text)) {
      const byId = this.#ledger.account(Uint8Array.fromHex(text));
      if (byId !== undefined) return byId;
    }
    return this.#ledger.accountByName(idOrName);
  }

  /** Accounts in ascending id order: at most `limit` (≤ ACCOUNTS_PAGE_MAX) after the hex id `after`. */
  accounts(o: { after?: string; limit?: number } = {}): LedgerAccount[] {
    const limit = Math.min(Math.max(1, o.limit ?? ACCOUNTS_PAGE_MAX), ACCOUNTS_PAGE_MAX);
    const after = o.after?.toLowerCase();
    const out: LedgerAccount[] = [];
    for (const id of this.#ledger.accountIds()) {
      if (after !== undefined && id.toHex() <= after) continue;
      const a = this.#ledger.account(id);
      if (a !== undefined) out.push(a);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Balance in smallest units; 0n for an unknown account. */
  balance(id: Uint8Array | string): bigint {
    return this.#ledger.balance(typeof id === "string" ? Uint8Array.fromHex(id) : id);
  }

  /**
   * The ledger's receipt for a transaction (hex id), if it was applied or
   * refused. The core keeps receipts by id but is asked with the signed bytes,
   * which storage holds.
   */
  receipt(txId: string): LedgerReceipt | undefined {
    const stored = this.#o.storage.getTransaction(txId.toLowerCase());
    if (stored === null) return undefined;
    try {
      return this.#ledger.prepare(stored.bytes).receipt;
    } catch (error) {
      if (error instanceof CoreError) return undefined;
      throw error;
    }
  }

  /** Rate and fee for a transfer of `amount` units by `account` at ledger time `timeMs` (CoreError unknown_account). */
  feeQuote(account: Uint8Array, amount: bigint, timeMs: bigint): LedgerFeeQuote {
    return this.#ledger.feeQuote(account, amount, timeMs);
  }

  /** A one-line summary for logs and the node status. */
  summary(): { accounts: number; supply: string; stateHash: string; appliedVertices: number } {
    const s = this.#ledger.status();
    return {
      accounts: s.accountCount,
      supply: formatAmount(s.supply),
      stateHash: s.stateHash.toHex(),
      appliedVertices: this.#applied.size,
    };
  }
}
