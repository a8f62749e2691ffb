/**
 * Opening a qudag SQLite database: SQLite's result codes (node:sqlite gives
 * only a message for some), and the versioned migrations, each applied once
 * in its own transaction and recorded in schema_migrations.
 */
import type { DatabaseSync } from "node:sqlite";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
import { StorageError } from "./types.ts";

export const SQLITE_BUSY = 5;
export const SQLITE_LOCKED = 6;
export const SQLITE_CORRUPT = 11;
export const SQLITE_NOTADB = 26;

/** The primary SQLite result code; Deno's node:sqlite gives only the message, so map it back. */
export function sqliteCode(e: unknown): number | undefined {
  const code = (e as { errcode?: unknown }).errcode;
  if (typeof code === "number") return code & 0xff;
  const msg = e instanceof Error ? e.message : String(e);
  if (/database is locked/.test(msg)) return SQLITE_BUSY;
  if (/database table is locked/.test(msg)) return SQLITE_LOCKED;
  if (/disk image is malformed/.test(msg)) return SQLITE_CORRUPT;
  if (/file is not a database/.test(msg)) return SQLITE_NOTADB;
  return undefined;
}

/** Brings the database at `path` to SCHEMA_VERSION; refuses a newer one (storage_corrupt). */
export function migrate(db: DatabaseSync, path: string): void {
  try {
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT",
    );
    const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new StorageError(
        "storage_corrupt",
        `database ${path} has schema version ${current}, newer than this build supports (${SCHEMA_VERSION}); upgrade qudag`,
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
      throw new StorageError("storage_corrupt", `database ${path} is corrupt or not a qudag database`, {
        cause: e,
      });
    }
    throw new StorageError("storage_io", `cannot read schema of ${path}: ${(e as Error).message}`, { cause: e });
  }
}
