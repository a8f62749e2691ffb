import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type Decision,
  type DecisionStatus,
  type DecisionSubject,
  type HistoryEntry,
  type PreferenceRow,
  type Storage,
  StorageError,
  type StoredCertificate,
  type StoredCut,
  type StoredReceipt,
  type StoredTransaction,
  type StoredVertex,
  type TransactionOptions,
  type TxDecisionAndReceipt,
} from "./types.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { SqliteCommits } from "./_sqlite_commits.ts";
import {
  checkCertificate,
  checkCut,
  checkCutStatement,
  checkDecision,
  checkHistoryPage,
  checkKeep,
  checkLimit,
  checkReceipt,
  checkSeq,
  checkTimestampBackfill,
  checkVertex,
  CUTS_FROM_LIMIT_DEFAULT,
} from "./_rules.ts";
import { encodeSignatures } from "./_signatures.ts";
import { SQL } from "./_sqlite_sql.ts";
import { SqliteHistory } from "./_sqlite_history.ts";
import { migrate, SQLITE_BUSY, SQLITE_CORRUPT, SQLITE_LOCKED, SQLITE_NOTADB, sqliteCode } from "./_sqlite_migrate.ts";
import {
  certificateOf,
  type CertificateRow,
  cutOf,
  type CutRow,
  decisionOf,
  type DecisionRow,
  receiptOf,
  type ReceiptRow,
} from "./_sqlite_rows.ts";
import { SqliteVaultStore } from "./vault_sqlite.ts";

export const DB_FILE = "qudag.db";

/** The `bytes` of a transaction kept in its vertex (migration 8). */
const EMPTY = new Uint8Array(0);
export interface SqliteOptions {
  /** The data directory; the database is `<dir>/qudag.db`. */
  dataDir: string;
  /** Written to the lock holder file so a refused second node can name the first. */
  pid?: number;
  /**
   * "durable" (the default, and what a node runs): commits sync the WAL only
   * when the caller asks (`transaction(fn, { durable: true })`: the engine's
   * decisions, which are reported only after their commit); a synced WAL
   * carries every commit before it to disk too. "full": every commit syncs.
   * "normal": none does (syncs at checkpoints only; a commit can be lost on
   * power failure, not on a process crash). The last two exist for
   * bench/storage_bench.ts, which measures what syncing costs.
   */
  synchronous?: "durable" | "full" | "normal";
  /** Receipts gathered before their account history rows are written (_sqlite_history.ts); tests make it small. */
  historyBatch?: number;
}

/**
 * SQLite storage (node:sqlite) in WAL mode with EXCLUSIVE locking: the first
 * node process holds an OS-level lock on the database for its whole life, so a
 * second process on the same data directory is refused, and the lock goes away
 * when the holder dies, even by kill -9. Commits survive a crash of the process;
 * those asked durable (the engine's decisions) are on disk when they return,
 * with everything written before them, so what the node reports after them
 * (an accepted transaction, and the vertices it rests on) survives a power
 * failure (SqliteOptions.synchronous).
 */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite" as const;
  readonly schemaVersion = SCHEMA_VERSION;
  readonly path: string;
  #db: DatabaseSync;
  #closed = false;
  #stmts = new Map<string, StatementSync>();
  /** See SqliteOptions.synchronous. */
  readonly #mode: "durable" | "full" | "normal";
  readonly #historyBatch: number | undefined;
  /** Made at the first use, after the migrations. */
  #history: SqliteHistory | null = null;
  /** Transactions, savepoints, the group commit and the WAL's sync (see SqliteCommits). */
  readonly #commits: SqliteCommits;
  readonly vault: SqliteVaultStore;

  private constructor(db: DatabaseSync, path: string, mode: "durable" | "full" | "normal", historyBatch?: number) {
    this.#db = db;
    this.path = path;
    this.#mode = mode;
    this.#historyBatch = historyBatch;
    this.#commits = new SqliteCommits(
      db,
      path,
      mode,
      () => this.#stmt(SQL.setMeta).run("synced_at", String(Date.now())),
    );
    this.vault = new SqliteVaultStore({
      db,
      stmt: (sql) => this.#stmt(sql),
      transaction: (fn) => this.transaction(fn),
      flushGroup: () => this.flushGroup(),
    });
  }

  static open(options: SqliteOptions): SqliteStorage {
    const dir = options.dataDir;
    try {
      Deno.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new StorageError("storage_io", `cannot create data directory ${dir}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const path = `${dir.replace(/\/+$/, "")}/${DB_FILE}`;
    const holderFile = `${dir.replace(/\/+$/, "")}/node.lock-holder`;
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new StorageError("storage_io", `cannot open database ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      db.exec("PRAGMA busy_timeout = 0");
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("PRAGMA journal_mode = WAL");
      // Durable commits when asked for: decisions are reported only after their commit (see SqliteOptions.synchronous).
      db.exec(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      db.exec("PRAGMA foreign_keys = ON");
      // Each grouped write is a savepoint, whose sub-journal (the pages it changed, kept to undo it alone) was a
      // temporary file: one write per page. In memory it costs a copy (bench/PROFILE_HISTORY.md, change 29).
      db.exec("PRAGMA temp_store = MEMORY");
      // Take the exclusive lock now rather than at the first write.
      db.exec("BEGIN EXCLUSIVE; COMMIT;");
    } catch (cause) {
      try {
        db.close();
      } catch { /* already failing */ }
      const code = sqliteCode(cause);
      if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
        let holder = "";
        try {
          holder = Deno.readTextFileSync(holderFile).trim();
        } catch { /* no holder info */ }
        throw new StorageError(
          "storage_locked",
          `data directory ${dir} is in use by another qudag node${
            holder ? ` (${holder})` : ""
          }; stop it or choose another --data-dir`,
          { cause },
        );
      }
      if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
        throw new StorageError("storage_corrupt", `database ${path} is corrupt or not a qudag database`, { cause });
      }
      throw new StorageError("storage_io", `cannot open database ${path}: ${(cause as Error).message}`, { cause });
    }
    const storage = new SqliteStorage(db, path, options.synchronous ?? "durable", options.historyBatch);
    migrate(db, path);
    try {
      Deno.writeTextFileSync(holderFile, `pid ${options.pid ?? Deno.pid}, since ${new Date().toISOString()}\n`);
    } catch { /* informational only */ }
    return storage;
  }

  #stmt(sql: string): StatementSync {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  #ids(sql: string, ...params: (string | number)[]): string[] {
    return (this.#stmt(sql).all(...params) as { id: string }[]).map((r) => r.id);
  }

  getMeta(key: string): string | null {
    const row = this.#stmt(SQL.getMeta).get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }
  setMeta(key: string, value: string): void {
    this.flushGroup();
    this.#stmt(SQL.setMeta).run(key, value);
  }

  putVertex(v: StoredVertex): boolean {
    checkVertex(v);
    return this.transaction(() => {
      const r = this.#stmt(SQL.putVertex).run(v.id, v.bytes, v.author, v.round, v.receivedAtMs, v.timestampMs);
      if (Number(r.changes) === 0) return false;
      const ins = this.#stmt(SQL.putVertexParent);
      for (const p of v.parents) ins.run(v.id, p);
      return true;
    });
  }
  // node:sqlite returns each BLOB as a new Uint8Array over an ArrayBuffer of its own: read bytes are not copied again.
  getVertex(id: string): StoredVertex | null {
    const row = this.#stmt(SQL.getVertex).get(id) as
      | {
        id: string;
        bytes: Uint8Array;
        author: string;
        round: number | bigint;
        received_at_ms: number;
        ts_ms: number | null;
      }
      | undefined;
    if (!row) return null;
    const parents = (this.#stmt(SQL.parents).all(id) as { parent: string }[]).map((r) => r.parent);
    return {
      id: row.id,
      bytes: row.bytes,
      author: row.author,
      round: BigInt(row.round),
      parents,
      receivedAtMs: Number(row.received_at_ms),
      timestampMs: row.ts_ms === null ? NaN : Number(row.ts_ms),
    };
  }
  children(id: string): string[] {
    return (this.#stmt(SQL.children).all(id) as { child: string }[]).map((r) => r.child);
  }
  vertexCount(): number {
    return this.#counters().get("vertices") ?? 0;
  }
  verticesFrom(timestampMs: number): string[] {
    return this.#ids(SQL.verticesFrom, timestampMs);
  }
  acceptedVerticesFrom(timestampMs: number): string[] {
    return this.#ids(SQL.acceptedVerticesFrom, timestampMs);
  }
  acceptedVerticesBetween(fromMs: number, toMs: number): string[] {
    return this.#ids(SQL.acceptedVerticesBetween, fromMs, toMs);
  }
  vertexTimestamp(id: string): number | null {
    const row = this.#stmt(SQL.vertexTimestamp).get(id) as { ts_ms: number | null } | undefined;
    return row?.ts_ms == null ? null : Number(row.ts_ms);
  }
  vertexIdsWithoutTimestamp(limit: number): string[] {
    checkLimit("limit of vertexIdsWithoutTimestamp()", limit);
    return this.#ids(SQL.vertexIdsWithoutTimestamp, limit);
  }
  setVertexTimestamp(id: string, timestampMs: number): void {
    this.transaction(() => {
      const row = this.#stmt(SQL.vertexTimestamp).get(id) as { ts_ms: number | null } | undefined;
      const current = row === undefined ? undefined : row.ts_ms === null ? null : Number(row.ts_ms);
      if (checkTimestampBackfill(id, current, timestampMs)) this.#stmt(SQL.setVertexTimestamp).run(timestampMs, id);
    });
  }
  pruneVertexBodies(timestampMs: number): number {
    this.flushGroup();
    return this.transaction(() => {
      this.#stmt(SQL.unembedBeforePrune).run(timestampMs);
      return Number(this.#stmt(SQL.pruneVertexBodies).run(timestampMs).changes);
    });
  }

  putTransaction(t: StoredTransaction): boolean {
    this.flushGroup();
    const embedded = t.inVertexAt !== undefined && t.inVertexAt >= 0;
    const r = this.#stmt(SQL.putTransaction).run(
      t.id,
      embedded ? EMPTY : t.bytes,
      t.conflictKey,
      t.vertex,
      t.receivedAtMs,
      embedded ? t.inVertexAt! : null,
      embedded ? t.bytes.length : null,
    );
    this.#stmt(SQL.putCarrier).run(t.conflictKey, t.vertex, t.id);
    return Number(r.changes) > 0;
  }
  carriersOfConflict(conflictKey: string): { vertex: string; timestampMs: number }[] {
    const rows = this.#stmt(SQL.carriersOfConflict).all(conflictKey) as { vertex: string; ts_ms: number | null }[];
    // By vertex (the key's order): one vertex carrying two of the key's transactions is listed once.
    return rows.filter((r, i) => i === 0 || rows[i - 1].vertex !== r.vertex)
      .map((r) => ({ vertex: r.vertex, timestampMs: r.ts_ms === null ? NaN : Number(r.ts_ms) }));
  }
  vertexLinks(id: string): { parents: string[]; timestampMs: number } | null {
    const row = this.#stmt(SQL.vertexTimestamp).get(id) as { ts_ms: number | null } | undefined;
    if (!row) return null;
    const parents = (this.#stmt(SQL.parents).all(id) as { parent: string }[]).map((r) => r.parent);
    return { parents, timestampMs: row.ts_ms === null ? NaN : Number(row.ts_ms) };
  }
  getTransaction(id: string): StoredTransaction | null {
    const row = this.#stmt(SQL.getTransaction).get(id) as
      | { id: string; bytes: Uint8Array; conflict_key: string; vertex: string; received_at_ms: number }
      | undefined;
    return row
      ? {
        id: row.id,
        bytes: row.bytes,
        conflictKey: row.conflict_key,
        vertex: row.vertex,
        receivedAtMs: Number(row.received_at_ms),
      }
      : null;
  }
  conflicting(conflictKey: string): string[] {
    return [...new Set(this.#ids(SQL.conflicting, conflictKey))].sort();
  }
  acceptedOfConflict(conflictKey: string): string | null {
    return this.#ids(SQL.acceptedOfConflict, conflictKey)[0] ?? null;
  }

  putDecision(d: Decision): boolean {
    // One statement writes or changes nothing; the decision already there is read only then, to be compared.
    const put = () =>
      Number(this.#stmt(SQL.putDecision).run(d.id, d.subject, d.status, d.decidedAtMs).changes) > 0 ||
      checkDecision(this.getDecision(d.id), d);
    // Inside the caller's transaction (the decision log's batches) no savepoint is needed around it.
    return this.#commits.inTransaction() ? put() : this.transaction(put);
  }
  getDecision(id: string): Decision | null {
    const row = this.#stmt(SQL.getDecision).get(id) as DecisionRow | undefined;
    return row ? decisionOf(row) : null;
  }
  allDecisions(): Decision[] {
    return (this.#stmt(SQL.allDecisions).all() as DecisionRow[]).map(decisionOf);
  }
  putPreferences(records: readonly PreferenceRow[]): void {
    if (records.length === 0) return;
    const put = () => {
      for (const { conflictKey, member } of records) {
        if (member === null) this.#stmt(SQL.dropPreference).run(conflictKey);
        else this.#stmt(SQL.setPreference).run(conflictKey, member);
      }
    };
    this.#commits.inTransaction() ? put() : this.transaction(put);
  }
  preferences(): { conflictKey: string; member: string }[] {
    return (this.#stmt(SQL.preferences).all() as { conflict_key: string; member: string }[]).map((r) => ({
      conflictKey: r.conflict_key,
      member: r.member,
    }));
  }
  decisionCounts(): Record<DecisionStatus, number> {
    const { tx, vertex } = this.decisionCountsBySubject();
    return { accepted: tx.accepted + vertex.accepted, rejected: tx.rejected + vertex.rejected };
  }
  decisionCountsBySubject(): Record<DecisionSubject, Record<DecisionStatus, number>> {
    const c = this.#counters();
    const n = (name: string) => c.get(`decisions:${name}`) ?? 0;
    return {
      tx: { accepted: n("tx:accepted"), rejected: n("tx:rejected") },
      vertex: { accepted: n("vertex:accepted"), rejected: n("vertex:rejected") },
    };
  }
  #counters(): Map<string, number> {
    const rows = this.#stmt(SQL.counters).all() as { name: string; n: number }[];
    return new Map(rows.map((r) => [r.name, Number(r.n)]));
  }

  putReceipts(receipts: readonly StoredReceipt[], options?: { grouped?: boolean }): void {
    for (const r of receipts) checkReceipt(r);
    this.transaction(() => this.#historyIndex().put(receipts), { grouped: options?.grouped === true });
  }
  accountHistory(account: string, beforeSeq: number | null, limit: number): HistoryEntry[] {
    checkHistoryPage(beforeSeq, limit);
    return this.#historyIndex().page(account, beforeSeq, limit);
  }
  #historyIndex(): SqliteHistory {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    return this.#history ??= new SqliteHistory((sql) => this.#stmt(sql), this.#historyBatch);
  }
  getReceipt(txId: string): StoredReceipt | null {
    const row = this.#stmt(SQL.getReceipt).get(txId) as ReceiptRow | undefined;
    return row ? receiptOf(row) : null;
  }
  txDecisionsAndReceipts(txIds: readonly string[]): TxDecisionAndReceipt[] {
    const out: TxDecisionAndReceipt[] = txIds.map(() => ({ status: null, receiptVertex: null }));
    if (txIds.length === 0) return out;
    const rows = this.#stmt(SQL.txDecisionsAndReceipts).all(JSON.stringify(txIds)) as {
      i: number;
      status: DecisionStatus | null;
      receipt_vertex: string | null;
    }[];
    for (const r of rows) out[r.i] = { status: r.status, receiptVertex: r.receipt_vertex };
    return out;
  }

  putCut(cut: StoredCut): void {
    this.transaction(() => {
      const latest = (this.#stmt(SQL.latestCutSeq).get() as { seq: number | null }).seq;
      checkCut(cut, latest);
      this.#stmt(SQL.putCut).run(
        cut.seq,
        cut.boundaryMs,
        cut.prevBoundaryMs,
        JSON.stringify(cut.frontier),
        cut.vertexCount,
        cut.snapshotSafe ? 1 : 0,
        cut.statement,
        cut.digest,
        cut.signature,
      );
    });
  }
  setCutStatement(seq: number, statement: Uint8Array, digest: string, signature: Uint8Array | null): void {
    this.transaction(() => {
      const row = this.#stmt(SQL.cutDigest).get(seq) as { digest: string | null } | undefined;
      if (checkCutStatement(seq, row?.digest, digest)) {
        this.#stmt(SQL.setCutStatement).run(statement, digest, signature, seq);
      } else if (signature) {
        this.#stmt(SQL.fillCutSignature).run(signature, seq);
      }
    });
  }
  getCut(seq: number): StoredCut | null {
    const row = this.#stmt(SQL.getCut).get(seq) as CutRow | undefined;
    return row ? cutOf(row) : null;
  }
  latestCut(): StoredCut | null {
    const row = this.#stmt(SQL.latestCut).get() as CutRow | undefined;
    return row ? cutOf(row) : null;
  }
  cutsFrom(seq: number, limit = CUTS_FROM_LIMIT_DEFAULT): StoredCut[] {
    checkLimit("limit of cutsFrom()", limit);
    return (this.#stmt(SQL.cutsFrom).all(seq, limit) as CutRow[]).map(cutOf);
  }

  putCertificate(c: StoredCertificate): void {
    this.transaction(() => {
      const prev = this.#stmt(SQL.certificateDigest).get(c.seq) as { digest: string } | undefined;
      const checked = checkCertificate(prev?.digest ?? null, c);
      if (!checked) return;
      this.#stmt(SQL.putCertificate).run(
        checked.seq,
        checked.digest,
        checked.statement,
        encodeSignatures(checked.signatures),
      );
    });
  }
  getCertificate(seq: number): StoredCertificate | null {
    const row = this.#stmt(SQL.getCertificate).get(seq) as CertificateRow | undefined;
    return row ? certificateOf(row) : null;
  }
  latestCertificate(): StoredCertificate | null {
    const row = this.#stmt(SQL.latestCertificate).get() as CertificateRow | undefined;
    return row ? certificateOf(row) : null;
  }

  putSnapshot(seq: number, bytes: Uint8Array, keep: number): void {
    checkSeq("snapshot", seq);
    checkKeep(keep);
    this.transaction(() => {
      this.#stmt(SQL.putSnapshot).run(seq, bytes);
      this.#stmt(SQL.trimSnapshots).run(keep);
    });
  }
  getSnapshot(seq: number): Uint8Array | null {
    const row = this.#stmt(SQL.getSnapshot).get(seq) as { bytes: Uint8Array } | undefined;
    return row ? row.bytes : null;
  }
  snapshotSeqs(): number[] {
    return (this.#stmt(SQL.snapshotSeqs).all() as { seq: number }[]).map((r) => Number(r.seq));
  }
  transaction<T>(fn: () => T, options?: TransactionOptions): T {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    return this.#commits.transaction(fn, options);
  }

  /** Commits the open group commit now, if there is one (and no transaction runs inside it). */
  flushGroup(): void {
    this.#commits.flushGroup();
  }

  /**
   * Syncs the WAL on a thread (`FsFile.syncData`): every commit made so far,
   * appended to it, is then on disk, as after a `durable` commit. In "full"
   * mode every commit already is, and "normal" promises nothing: both
   * resolve at once.
   */
  async syncCommitted(): Promise<void> {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    if (this.#mode !== "durable") return;
    await this.#commits.syncWal();
  }

  /** SQLite's `synchronous` setting on this connection, as SQLite reports it. */
  get synchronous(): "off" | "normal" | "full" | "extra" {
    const row = this.#db.prepare("PRAGMA synchronous").get() as { synchronous: number };
    return (["off", "normal", "full", "extra"] as const)[row.synchronous];
  }

  /** SQLite's journal mode on this connection ("wal"). */
  get journalMode(): string {
    return (this.#db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode;
  }

  checkWritable(): void {
    try {
      this.flushGroup();
      this.setMeta("last_ready_check", "ok");
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError("storage_io", `database ${this.path} is not writable: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#commits.close();
    this.#closed = true;
    this.#stmts.clear();
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* best effort; WAL replays on next open */ }
    this.#db.close();
  }
}
