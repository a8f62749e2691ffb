import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type Decision,
  type DecisionStatus,
  type DecisionSubject,
  type Storage,
  StorageError,
  type StoredTransaction,
  type StoredVertex,
} from "./types.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";

export const DB_FILE = "qudag.db";

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** The primary SQLite result code; Deno's node:sqlite gives only the message, so map it back. */
function sqliteCode(e: unknown): number | undefined {
  const code = (e as { errcode?: unknown }).errcode;
  if (typeof code === "number") return code & 0xff;
  const msg = e instanceof Error ? e.message : String(e);
  if (/database is locked/.test(msg)) return SQLITE_BUSY;
  if (/database table is locked/.test(msg)) return SQLITE_LOCKED;
  if (/disk image is malformed/.test(msg)) return SQLITE_CORRUPT;
  if (/file is not a database/.test(msg)) return SQLITE_NOTADB;
  return undefined;
}

export interface SqliteOptions {
  /** The data directory; the database is `<dir>/qudag.db`. */
  dataDir: string;
  /** Written to the lock holder file so a refused second node can name the first. */
  pid?: number;
}

/**
 * SQLite storage (node:sqlite) in WAL mode with EXCLUSIVE locking: the first
 * node process holds an OS-level lock on the database for its whole life, so a
 * second process on the same data directory is refused, and the lock goes away
 * when the holder dies, even by kill -9.
 */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite" as const;
  readonly schemaVersion = SCHEMA_VERSION;
  readonly path: string;
  #db: DatabaseSync;
  #closed = false;
  #stmts = new Map<string, StatementSync>();
  #txDepth = 0;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.path = path;
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
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
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
    const storage = new SqliteStorage(db, path);
    storage.#migrate();
    try {
      Deno.writeTextFileSync(holderFile, `pid ${options.pid ?? Deno.pid}, since ${new Date().toISOString()}\n`);
    } catch { /* informational only */ }
    return storage;
  }

  #migrate(): void {
    const db = this.#db;
    try {
      db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT",
      );
      const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
      const current = row.v ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new StorageError(
          "storage_corrupt",
          `database ${this.path} has schema version ${current}, newer than this build supports (${SCHEMA_VERSION}); upgrade qudag`,
        );
      }
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec("BEGIN");
        try {
          db.exec(m.sql);
          db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
            m.version,
            m.name,
            new Date().toISOString(),
          );
          db.exec("COMMIT");
        } catch (cause) {
          db.exec("ROLLBACK");
          throw new StorageError(
            "storage_io",
            `migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`,
            {
              cause,
            },
          );
        }
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const code = sqliteCode(e);
      if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
        throw new StorageError("storage_corrupt", `database ${this.path} is corrupt or not a qudag database`, {
          cause: e,
        });
      }
      throw new StorageError("storage_io", `cannot read schema of ${this.path}: ${(e as Error).message}`, { cause: e });
    }
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

  getMeta(key: string): string | null {
    const row = this.#stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }
  setMeta(key: string, value: string): void {
    this.#stmt("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  putVertex(v: StoredVertex): boolean {
    return this.transaction(() => {
      const r = this.#stmt(
        "INSERT INTO vertices (id, bytes, author, round, received_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
      ).run(v.id, v.bytes, v.author, v.round, v.receivedAtMs);
      if (Number(r.changes) === 0) return false;
      const ins = this.#stmt("INSERT OR IGNORE INTO vertex_parents (child, parent) VALUES (?, ?)");
      for (const p of v.parents) ins.run(v.id, p);
      return true;
    });
  }
  getVertex(id: string): StoredVertex | null {
    const row = this.#stmt("SELECT id, bytes, author, round, received_at_ms FROM vertices WHERE id = ?").get(id) as
      | { id: string; bytes: Uint8Array; author: string; round: number | bigint; received_at_ms: number }
      | undefined;
    if (!row) return null;
    const parents = (this.#stmt("SELECT parent FROM vertex_parents WHERE child = ? ORDER BY parent").all(id) as {
      parent: string;
    }[]).map((r) => r.parent);
    return {
      id: row.id,
      bytes: new Uint8Array(row.bytes),
      author: row.author,
      round: BigInt(row.round),
      parents,
      receivedAtMs: Number(row.received_at_ms),
    };
  }
  children(id: string): string[] {
    return (this.#stmt("SELECT child FROM vertex_parents WHERE parent = ? ORDER BY child").all(id) as {
      child: string;
    }[]).map((r) => r.child);
  }
  vertexCount(): number {
    return Number((this.#stmt("SELECT COUNT(*) AS n FROM vertices").get() as { n: number }).n);
  }

  tips(): string[] {
    return (this.#stmt(
      "SELECT id FROM vertices v WHERE NOT EXISTS (SELECT 1 FROM vertex_parents p WHERE p.parent = v.id) ORDER BY id",
    ).all() as { id: string }[]).map((r) => r.id);
  }
  vertexIdsInOrder(): string[] {
    return (this.#stmt("SELECT id FROM vertices ORDER BY round, id").all() as { id: string }[]).map((r) => r.id);
  }

  putTransaction(t: StoredTransaction): boolean {
    const r = this.#stmt(
      "INSERT INTO transactions (id, bytes, conflict_key, vertex, received_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
    ).run(t.id, t.bytes, t.conflictKey, t.vertex, t.receivedAtMs);
    return Number(r.changes) > 0;
  }
  getTransaction(id: string): StoredTransaction | null {
    const row = this.#stmt("SELECT id, bytes, conflict_key, vertex, received_at_ms FROM transactions WHERE id = ?")
      .get(id) as
        | { id: string; bytes: Uint8Array; conflict_key: string; vertex: string; received_at_ms: number }
        | undefined;
    return row
      ? {
        id: row.id,
        bytes: new Uint8Array(row.bytes),
        conflictKey: row.conflict_key,
        vertex: row.vertex,
        receivedAtMs: Number(row.received_at_ms),
      }
      : null;
  }
  conflicting(conflictKey: string): string[] {
    return (this.#stmt("SELECT id FROM transactions WHERE conflict_key = ? ORDER BY id").all(conflictKey) as {
      id: string;
    }[]).map((r) => r.id);
  }

  putDecision(d: Decision): void {
    this.transaction(() => {
      const prev = this.getDecision(d.id);
      if (prev) {
        if (prev.status !== d.status || prev.subject !== d.subject) {
          throw new StorageError(
            "storage_conflict",
            `${d.subject} ${d.id} was already ${prev.status}; cannot record it as ${d.status}`,
          );
        }
        return;
      }
      this.#stmt("INSERT INTO decisions (id, subject, status, decided_at_ms) VALUES (?, ?, ?, ?)").run(
        d.id,
        d.subject,
        d.status,
        d.decidedAtMs,
      );
    });
  }
  getDecision(id: string): Decision | null {
    const row = this.#stmt("SELECT id, subject, status, decided_at_ms FROM decisions WHERE id = ?").get(id) as
      | { id: string; subject: DecisionSubject; status: DecisionStatus; decided_at_ms: number }
      | undefined;
    return row
      ? { id: row.id, subject: row.subject, status: row.status, decidedAtMs: Number(row.decided_at_ms) }
      : null;
  }
  allDecisions(): Decision[] {
    return (this.#stmt("SELECT id, subject, status, decided_at_ms FROM decisions ORDER BY rowid").all() as {
      id: string;
      subject: DecisionSubject;
      status: DecisionStatus;
      decided_at_ms: number;
    }[]).map((r) => ({ id: r.id, subject: r.subject, status: r.status, decidedAtMs: Number(r.decided_at_ms) }));
  }
  decisionCounts(): Record<DecisionStatus, number> {
    const out = { accepted: 0, rejected: 0 };
    for (
      const r of this.#stmt("SELECT status, COUNT(*) AS n FROM decisions GROUP BY status").all() as {
        status: DecisionStatus;
        n: number;
      }[]
    ) out[r.status] = Number(r.n);
    return out;
  }

  transaction<T>(fn: () => T): T {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    // Nested calls join the outer transaction through a savepoint.
    const name = `sp${this.#txDepth}`;
    this.#db.exec(this.#txDepth === 0 ? "BEGIN IMMEDIATE" : `SAVEPOINT ${name}`);
    this.#txDepth++;
    try {
      const result = fn();
      this.#txDepth--;
      this.#db.exec(this.#txDepth === 0 ? "COMMIT" : `RELEASE ${name}`);
      return result;
    } catch (e) {
      this.#txDepth--;
      this.#db.exec(this.#txDepth === 0 ? "ROLLBACK" : `ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    }
  }

  checkWritable(): void {
    try {
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
    this.#closed = true;
    this.#stmts.clear();
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* best effort; WAL replays on next open */ }
    this.#db.close();
  }
}
