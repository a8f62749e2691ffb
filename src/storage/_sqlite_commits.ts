/**
 * How SqliteStorage commits, on its one connection: plain transactions,
 * savepoints nested in them, the group commit that received vertices share
 * (one commit per turn of the event loop), durable commits, and the WAL's
 * sync on a thread. SqliteStorage's `transaction`, `flushGroup` and
 * `syncCommitted` are this class; see {@linkcode Storage.transaction} for
 * what each option promises.
 */
import type { DatabaseSync } from "node:sqlite";
import { StorageError, type TransactionOptions } from "./types.ts";

export class SqliteCommits {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #mode: "durable" | "full" | "normal";
  /** One small write whose FULL commit syncs the WAL (see #syncNow). */
  readonly #markSynced: () => void;
  #txDepth = 0;
  /** A transaction nested in the current one asked for a durable commit. */
  #syncAfterCommit = false;
  /** The open group commit (see `transaction`'s `grouped`): its flush timer; the outermost transaction is it. */
  #group: ReturnType<typeof setTimeout> | null = null;
  /** A group commit that failed in its timer, reported by the next call. */
  #groupError: StorageError | null = null;
  /** The WAL, opened for `syncWal` (a sync of any descriptor of a file carries all its written data to disk). */
  #wal: Deno.FsFile | null = null;
  #closed = false;

  constructor(db: DatabaseSync, path: string, mode: "durable" | "full" | "normal", markSynced: () => void) {
    this.#db = db;
    this.#path = path;
    this.#mode = mode;
    this.#markSynced = markSynced;
  }

  transaction<T>(fn: () => T, options?: TransactionOptions): T {
    this.#throwGroupError();
    const durable = options?.durable === true && this.#mode === "durable";
    if (options?.grouped === true && !durable) {
      if (this.#txDepth === 0) this.#openGroup();
      return this.#savepoint(fn);
    }
    if (options?.withGroup === true && !durable && this.#group !== null && this.#txDepth === 1) {
      // One commit for the group and fn (a node's own vertex, a batch of decisions) instead of one each.
      const result = this.#savepoint(fn);
      this.flushGroup();
      this.#syncIfAsked(false);
      return result;
    }
    // Anything else commits at its return, as it always has: whatever the group holds commits first.
    if (this.#group !== null && this.#txDepth === 1) this.flushGroup();
    if (this.#txDepth > 0) {
      // Joins the outer transaction; its commit is synced afterwards if this one asked (see #syncAfterCommit).
      if (durable) this.#syncAfterCommit = true;
      return this.#savepoint(fn);
    }
    // The safety level can only change outside a transaction: FULL for this commit, NORMAL again after.
    if (durable) this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("BEGIN IMMEDIATE");
    this.#txDepth++;
    try {
      const result = fn();
      this.#txDepth--;
      this.#db.exec("COMMIT");
      return result;
    } catch (e) {
      this.#txDepth--;
      this.#db.exec("ROLLBACK");
      throw e;
    } finally {
      if (durable) this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#syncIfAsked(durable);
    }
  }

  /** True inside a caller's transaction (the open group commit alone does not count). */
  inTransaction(): boolean {
    return this.#txDepth > (this.#group !== null ? 1 : 0);
  }

  /** Commits the open group commit now, if there is one (and no transaction runs inside it). */
  flushGroup(): void {
    if (this.#group === null || this.#txDepth !== 1 || this.#closed) return;
    clearTimeout(this.#group);
    this.#group = null;
    this.#txDepth = 0;
    try {
      this.#db.exec("COMMIT");
    } catch (cause) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* SQLite rolled back already */ }
      throw new StorageError("storage_io", `a group commit failed: ${(cause as Error).message}`, { cause });
    }
  }

  /** Syncs the WAL on a thread (`FsFile.syncData`): every commit made so far is then on disk. */
  async syncWal(): Promise<void> {
    try {
      this.#wal ??= Deno.openSync(`${this.#path}-wal`, { read: true });
      await this.#wal.syncData();
    } catch (cause) {
      throw new StorageError("storage_io", `cannot sync the WAL of ${this.#path}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** Commits what the group holds (best effort: a failure loses the last few milliseconds, as a crash would). */
  close(): void {
    if (this.#closed) return;
    try {
      this.flushGroup();
    } catch { /* reported by nothing: the writes of the last few milliseconds are lost, as in a crash */ }
    this.#closed = true;
    try {
      this.#wal?.close();
    } catch { /* a sync under way holds it; it ends with the process */ }
    this.#wal = null;
  }

  /**
   * Opens a group commit: one write transaction that the grouped writes of
   * this turn of the event loop join (each as a savepoint, so one that fails
   * undoes only itself), committed by a zero-delay timer, or at once before
   * any other transaction, `checkWritable` or `close`. Received vertices are
   * stored this way: one commit per burst instead of one per vertex (the
   * commits were a node's largest SQLite cost under load, bench/PROFILE_HISTORY.md).
   * A crash loses at most the last few milliseconds of such writes, which
   * peers send again.
   */
  #openGroup(): void {
    this.#db.exec("BEGIN IMMEDIATE");
    this.#txDepth = 1;
    this.#group = setTimeout(() => {
      try {
        this.flushGroup();
      } catch (e) {
        this.#groupError = e instanceof StorageError
          ? e
          : new StorageError("storage_io", `a group commit failed: ${(e as Error).message}`, { cause: e });
      }
    }, 0);
  }

  #throwGroupError(): void {
    const e = this.#groupError;
    if (e === null) return;
    this.#groupError = null;
    throw e;
  }

  #savepoint<T>(fn: () => T): T {
    const name = `sp${this.#txDepth}`;
    this.#db.exec(`SAVEPOINT ${name}`);
    this.#txDepth++;
    try {
      const result = fn();
      this.#txDepth--;
      this.#db.exec(`RELEASE ${name}`);
      return result;
    } catch (e) {
      this.#txDepth--;
      this.#db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    }
  }

  /** After a commit: a nested transaction asked for durability, and the commit itself was not durable. */
  #syncIfAsked(durable: boolean): void {
    if (!this.#syncAfterCommit) return;
    this.#syncAfterCommit = false;
    if (!durable) this.#syncNow();
  }

  /** Syncs the WAL (with everything committed so far) by one small FULL commit. */
  #syncNow(): void {
    this.#db.exec("PRAGMA synchronous = FULL");
    try {
      this.#markSynced();
    } finally {
      this.#db.exec("PRAGMA synchronous = NORMAL");
    }
  }
}
