/**
 * The account history index of SqliteStorage (`accountHistory`, the API's
 * `GET /api/v1/exchange/accounts/:id/transactions`), built from the receipts
 * in batches (migration 9).
 *
 * A receipt row holds the accounts its transaction touched (a JSON array).
 * The rows of `account_history` (account, seq = the receipt's rowid) are
 * written later, `batch` receipts at a time, sorted, in the transaction that
 * stores the receipt that fills the batch, and the meta key
 * `history_indexed_seq` says up to which receipt they are written. Written one
 * receipt at a time, each of the three rows per transfer (sender, receiver,
 * fee account) landed on a page of its own in every commit: about 12 µs each,
 * and a quarter of a node's SQLite time at saturation (bench/PROFILE_HISTORY.md,
 * change 33). A page of history reads
 * the receipts above the mark first (at most a batch, newest first, by rowid),
 * then the index below it, so it lists the same entries whenever the batch is
 * written. The receipts are the source: a crash loses nothing the index needs.
 */
import type { StatementSync } from "node:sqlite";
import type { HistoryEntry, StoredReceipt } from "./types.ts";
import { SQL } from "./_sqlite_sql.ts";
import { receiptOf, type ReceiptRow } from "./_sqlite_rows.ts";

/** Receipts gathered before their history rows are written. */
export const HISTORY_BATCH_DEFAULT = 2048;
/** The meta key: the rowid of the last receipt whose history rows are written. */
export const HISTORY_MARK_KEY = "history_indexed_seq";

type SeqRow = ReceiptRow & { seq: number | bigint };

function entryOf(r: SeqRow): HistoryEntry {
  return { seq: Number(r.seq), receipt: receiptOf(r) };
}

export class SqliteHistory {
  readonly #stmt: (sql: string) => StatementSync;
  readonly #batch: number;
  /** Receipts above the mark: read at open, then counted. */
  #waiting: number;
  #mark: number;

  constructor(stmt: (sql: string) => StatementSync, batch = HISTORY_BATCH_DEFAULT) {
    this.#stmt = stmt;
    this.#batch = Math.max(1, batch);
    const mark = stmt(SQL.getMeta).get(HISTORY_MARK_KEY) as { value: string } | undefined;
    this.#mark = Number(mark?.value ?? 0);
    this.#waiting = Number((stmt(SQL.receiptsAbove).get(this.#mark) as { n: number | bigint }).n);
  }

  /**
   * Stores `receipts` (the first receipt of a transaction stays), each with
   * its accounts; writes the waiting history rows once a batch is full. Runs
   * inside the caller's transaction.
   */
  put(receipts: readonly StoredReceipt[]): void {
    const ins = this.#stmt(SQL.putReceipt);
    for (const r of receipts) {
      const accounts = JSON.stringify([...new Set(r.accounts ?? [])]);
      const done = ins.run(r.txId, r.code, r.fee.toString(), r.ratePpb, r.vertex, r.timeMs, accounts);
      if (Number(done.changes) > 0) this.#waiting++;
    }
    if (this.#waiting >= this.#batch) this.#write();
  }

  /** A page of `account`'s entries below `beforeSeq`, newest first (checked by the caller). */
  page(account: string, beforeSeq: number | null, limit: number): HistoryEntry[] {
    const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const out: HistoryEntry[] = [];
    if (before > this.#mark + 1) {
      // The quoted id narrows the scan; the parsed list decides.
      const rows = this.#stmt(SQL.receiptsTouching).iterate(this.#mark, before, JSON.stringify(account));
      for (const row of rows as Iterable<SeqRow & { accounts: string }>) {
        if (!(JSON.parse(row.accounts) as string[]).includes(account)) continue;
        out.push(entryOf(row));
        if (out.length >= limit) return out;
      }
    }
    const below = Math.min(before, this.#mark + 1);
    const rows = this.#stmt(SQL.accountHistory).all(account, below, limit - out.length) as SeqRow[];
    return [...out, ...rows.map(entryOf)];
  }

  /** Writes the history rows of every receipt above the mark, sorted by (account, seq), and moves the mark. */
  #write(): void {
    const rows = this.#stmt(SQL.receiptsFrom).all(this.#mark) as {
      seq: number | bigint;
      tx_id: string;
      accounts: string | null;
    }[];
    if (rows.length === 0) return;
    const entries: { account: string; seq: number; txId: string }[] = [];
    for (const r of rows) {
      for (const account of JSON.parse(r.accounts ?? "[]") as string[]) {
        entries.push({ account, seq: Number(r.seq), txId: r.tx_id });
      }
    }
    entries.sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : a.seq - b.seq));
    const history = this.#stmt(SQL.putHistory);
    for (const e of entries) history.run(e.account, e.seq, e.txId);
    const mark = Number(rows[rows.length - 1].seq);
    this.#stmt(SQL.setMeta).run(HISTORY_MARK_KEY, String(mark));
    this.#mark = mark;
    this.#waiting = 0;
  }
}
