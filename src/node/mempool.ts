/**
 * The transactions submitted to this node and not decided yet: their bytes
 * until a vertex of this node carries them, their conflict keys (so a
 * submission can tell that its account's previous nonce waits here), and the
 * intake's limits. Past `pendingTxsMax` undecided submissions a new one is
 * refused with node_busy and a time to retry: past what the validators can
 * decide, more work in flight only slows every poll, until queries time out
 * and nothing is decided at all. So is one while the node is `overloaded`
 * (its event loop lags by more than consensus.busy_lag_ms): a node that takes
 * more than it can settle falls behind the settlement lag and closes cuts
 * before the vertices they need reach it.
 */
import { type TransactionInfo, validateTransaction } from "../core/mod.ts";
import { conflictKeyOf } from "../dag/conflict_key.ts";
import { toHex } from "../keys/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import type { Genesis } from "./genesis.ts";

export type TxState = "processing" | "accepted" | "rejected" | "pending" | "unknown";

/**
 * A submission this node refuses: stable code (wrong_chain, mempool_full,
 * shutting_down, ledger_halted, or an exchange ledger refusal code such as
 * insufficient_funds), message for the client.
 */
export class SubmitError extends Error {
  readonly code: string;
  /** When the client may try again (node_busy), in seconds. */
  readonly retryAfterS: number | undefined;
  constructor(code: string, message: string, retryAfterS?: number) {
    super(message);
    this.name = "SubmitError";
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Bound on transactions waiting to be issued. */
const MEMPOOL_MAX = 100_000;
/** Default of pendingTxsMax (see ConsensusOptions). */
const PENDING_TXS_MAX = 512;

export interface MempoolOptions {
  genesis: Genesis;
  /** Submissions here not decided yet above which new ones are refused (node_busy). */
  pendingTxsMax?: number;
  /** qudag_transactions_submitted_total: this counts the "busy" refusals. */
  submitted: Counter;
  /**
   * Why the node cannot take more work now (its event loop lags), or null:
   * a submission is then refused with node_busy, before it costs anything.
   */
  overloaded?: () => string | null;
}

export class Mempool {
  readonly #o: MempoolOptions;
  /** Bytes of the transactions no vertex of this node carries yet. */
  readonly #bytes = new Map<string, Uint8Array>();
  /** Conflict key → id of the mempool transaction holding it, and back. */
  readonly #keys = new Map<string, string>();
  readonly #keyOf = new Map<string, string>();
  /** Every submission accepted here and not decided yet (carried or not), with its arrival time. */
  readonly #firstSeenMs = new Map<string, number>();
  #closed = false;

  constructor(o: MempoolOptions) {
    this.#o = o;
  }

  /** The checks that need no ledger: decoding, chain, shutdown, mempool room. */
  precheck(bytes: Uint8Array): TransactionInfo {
    if (this.#closed) throw new SubmitError("shutting_down", "this node is shutting down; submit elsewhere or retry");
    const info = validateTransaction(bytes);
    if (toHex(info.tx.chainId) !== this.#o.genesis.chainIdHex) {
      throw new SubmitError(
        "wrong_chain",
        `the transaction is for chain ${toHex(info.tx.chainId).slice(0, 16)}…, this node runs ${
          this.#o.genesis.chainIdHex.slice(0, 16)
        }…`,
      );
    }
    this.checkRoom();
    return info;
  }

  /** Throws the {@linkcode SubmitError} that refuses one more submission now, if any. */
  checkRoom(): void {
    if (this.#closed) throw new SubmitError("shutting_down", "this node is shutting down; submit elsewhere or retry");
    const overloaded = this.#o.overloaded?.() ?? null;
    if (overloaded !== null) {
      this.#o.submitted.inc({ result: "busy" });
      throw new SubmitError("node_busy", `${overloaded}; retry in a second or submit elsewhere`, 1);
    }
    const pendingMax = this.#o.pendingTxsMax ?? PENDING_TXS_MAX;
    if (this.#firstSeenMs.size >= pendingMax) {
      this.#o.submitted.inc({ result: "busy" });
      throw new SubmitError(
        "node_busy",
        `this node has ${this.#firstSeenMs.size} submitted transactions undecided (at most ${pendingMax}); retry in a second or submit elsewhere`,
        1,
      );
    }
    if (this.#bytes.size >= MEMPOOL_MAX) {
      throw new SubmitError("mempool_full", `the mempool is full (${MEMPOOL_MAX} transactions); retry later`);
    }
  }

  add(id: string, conflictKey: string, bytes: Uint8Array, nowMs: number): void {
    this.#bytes.set(id, bytes);
    this.#keys.set(conflictKey, id);
    this.#keyOf.set(id, conflictKey);
    this.#firstSeenMs.set(id, nowMs);
  }

  has(id: string): boolean {
    return this.#bytes.has(id);
  }

  bytesOf(id: string): Uint8Array | undefined {
    return this.#bytes.get(id);
  }

  /** Whether a transaction waiting here holds this conflict key. */
  holdsKey(conflictKey: string): boolean {
    return this.#keys.has(conflictKey);
  }

  /** When a submission that is not decided yet arrived here. */
  firstSeenMs(id: string): number | undefined {
    return this.#firstSeenMs.get(id);
  }

  /** The transactions no vertex of this node carries yet, in the order they came. */
  waiting(): Uint8Array[] {
    return [...this.#bytes.values()];
  }

  /** The key of the account's create_account if it waits in this node's mempool. */
  pendingKey(accountHex: string): Uint8Array | null {
    const id = this.#keys.get(conflictKeyOf(accountHex, 0n));
    const bytes = id === undefined ? undefined : this.#bytes.get(id);
    if (bytes === undefined) return null;
    const { tx } = validateTransaction(bytes);
    return tx.kind === "create_account" ? tx.publicKey : null;
  }

  /** A vertex stored with the transaction carries its bytes now; it still counts as undecided. */
  release(txId: string): void {
    this.#bytes.delete(txId);
    const key = this.#keyOf.get(txId);
    if (key === undefined) return;
    this.#keyOf.delete(txId);
    if (this.#keys.get(key) === txId) this.#keys.delete(key);
  }

  /** The transaction is decided or dropped: nothing of it stays. */
  forget(txId: string): void {
    this.release(txId);
    this.#firstSeenMs.delete(txId);
  }

  /** From now on every submission is refused with shutting_down. */
  close(): void {
    this.#closed = true;
  }
}
