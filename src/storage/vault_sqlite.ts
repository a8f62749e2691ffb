/**
 * The vault's tables in the node's SQLite database (migration 6), on the
 * storage's own connection.
 *
 * Real deletes: every vault write that frees content runs with
 * `PRAGMA secure_delete = ON` (freed cells and pages are overwritten with
 * zeros, index entries included), and after it commits the write-ahead log is
 * checkpointed and truncated (`wal_checkpoint(TRUNCATE)`), so the WAL, which
 * still holds the older page images, is emptied and the database file holds
 * only the zeroed pages.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { StorageError } from "./types.ts";
import {
  searchText,
  type StoredSecret,
  type StoredSecretVersion,
  type StoredVaultKey,
  VAULT_PAGE_MAX,
  type VaultQuery,
  type VaultStore,
} from "./vault_types.ts";

const SECRET_COLUMNS = "id, label, username, url, tags, version, wrapped_key, created_at_ms, updated_at_ms";
/** More terms than this in one query is a caller's bug (src/vault bounds queries well below it). */
const TERMS_MAX = 16;

const SQL = {
  getKey: "SELECT sealed, public_key, created_at_ms FROM vault_key WHERE id = 1",
  putKey:
    "INSERT INTO vault_key (id, sealed, public_key, created_at_ms) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
  count: "SELECT COUNT(*) AS n FROM vault_secrets",
  insertSecret: `INSERT INTO vault_secrets (${SECRET_COLUMNS}, search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ` +
    "ON CONFLICT(id) DO NOTHING",
  updateSecret: "UPDATE vault_secrets SET label = ?, username = ?, url = ?, tags = ?, search_text = ?, version = ?, " +
    "updated_at_ms = ? WHERE id = ? AND version = ?",
  getSecret: `SELECT ${SECRET_COLUMNS} FROM vault_secrets WHERE id = ?`,
  insertVersion:
    "INSERT INTO vault_versions (secret_id, version, iv, ciphertext, created_at_ms) VALUES (?, ?, ?, ?, ?)",
  getVersion: "SELECT secret_id, version, iv, ciphertext, created_at_ms FROM vault_versions " +
    "WHERE secret_id = ? AND version = ?",
  versions: "SELECT version FROM vault_versions WHERE secret_id = ? ORDER BY version",
  pruneVersions: "DELETE FROM vault_versions WHERE secret_id = ? AND version <= ?",
  deleteVersions: "DELETE FROM vault_versions WHERE secret_id = ?",
  deleteSecret: "DELETE FROM vault_secrets WHERE id = ?",
} as const;

/**
 * Search, newest first by (created_at_ms, id): a walk of the covering index
 * vault_secrets_by_created (created_at_ms, id, search_text) from the cursor,
 * matching terms without reading the rows, whatever the depth; the page's
 * rows are then read by id.
 */
export function vaultSearchSql(terms: number, after: boolean): string {
  const where = [
    ...(after ? ["(created_at_ms, id) < (?, ?)"] : []),
    ...Array.from({ length: terms }, () => "instr(search_text, ?) > 0"),
  ];
  return "SELECT id FROM vault_secrets INDEXED BY vault_secrets_by_created" +
    (where.length ? ` WHERE ${where.join(" AND ")}` : "") + " ORDER BY created_at_ms DESC, id DESC LIMIT ?";
}

type SecretRow = {
  id: string;
  label: string;
  username: string | null;
  url: string | null;
  tags: string;
  version: number;
  wrapped_key: Uint8Array;
  created_at_ms: number;
  updated_at_ms: number;
};

function secretOf(r: SecretRow): StoredSecret {
  return {
    id: r.id,
    label: r.label,
    username: r.username,
    url: r.url,
    tags: JSON.parse(r.tags) as string[],
    version: Number(r.version),
    wrappedKey: new Uint8Array(r.wrapped_key),
    createdAtMs: Number(r.created_at_ms),
    updatedAtMs: Number(r.updated_at_ms),
  };
}

/** The vault's tables, parents first. */
const VAULT_TABLES = ["vault_key", "vault_secrets", "vault_versions"] as const;

export interface SqliteVaultDeps {
  db: DatabaseSync;
  stmt(sql: string): StatementSync;
  transaction<T>(fn: () => T): T;
  /** Commits a group commit the node's storage holds open (see SqliteStorage.flushGroup). */
  flushGroup(): void;
}

export class SqliteVaultStore implements VaultStore {
  readonly #d: SqliteVaultDeps;

  constructor(deps: SqliteVaultDeps) {
    this.#d = deps;
  }

  getKey(): StoredVaultKey | null {
    const r = this.#d.stmt(SQL.getKey).get() as
      | { sealed: string; public_key: Uint8Array; created_at_ms: number }
      | undefined;
    return r
      ? { sealed: r.sealed, publicKey: new Uint8Array(r.public_key), createdAtMs: Number(r.created_at_ms) }
      : null;
  }

  putKey(key: StoredVaultKey): void {
    const r = this.#d.stmt(SQL.putKey).run(key.sealed, key.publicKey, key.createdAtMs);
    if (Number(r.changes) === 0) throw new StorageError("storage_conflict", "the vault key exists already");
  }

  count(): number {
    return Number((this.#d.stmt(SQL.count).get() as { n: number }).n);
  }

  insert(secret: StoredSecret, first: StoredSecretVersion): void {
    this.#d.transaction(() => {
      const r = this.#d.stmt(SQL.insertSecret).run(...secretParams(secret), searchText(secret));
      if (Number(r.changes) === 0) throw new StorageError("storage_conflict", `vault secret ${secret.id} exists`);
      this.#insertVersion(first);
    });
  }

  get(id: string): StoredSecret | null {
    const r = this.#d.stmt(SQL.getSecret).get(id) as SecretRow | undefined;
    return r ? secretOf(r) : null;
  }

  getVersion(id: string, version: number): StoredSecretVersion | null {
    const r = this.#d.stmt(SQL.getVersion).get(id, version) as
      | { secret_id: string; version: number; iv: Uint8Array; ciphertext: Uint8Array; created_at_ms: number }
      | undefined;
    return r
      ? {
        secretId: r.secret_id,
        version: Number(r.version),
        iv: new Uint8Array(r.iv),
        ciphertext: new Uint8Array(r.ciphertext),
        createdAtMs: Number(r.created_at_ms),
      }
      : null;
  }

  versions(id: string): number[] {
    return (this.#d.stmt(SQL.versions).all(id) as { version: number }[]).map((r) => Number(r.version));
  }

  update(secret: StoredSecret, next: StoredSecretVersion, keep: number): void {
    if (!Number.isSafeInteger(keep) || keep < 1) throw new RangeError(`versions to keep is ${keep}, expected >= 1`);
    if (next.version !== secret.version || next.secretId !== secret.id) {
      throw new RangeError(`version ${next.version} of ${next.secretId} does not match the row's`);
    }
    this.#scrubbing(() => {
      const r = this.#d.stmt(SQL.updateSecret).run(
        secret.label,
        secret.username,
        secret.url,
        JSON.stringify(secret.tags),
        searchText(secret),
        secret.version,
        secret.updatedAtMs,
        secret.id,
        secret.version - 1,
      );
      if (Number(r.changes) === 0) {
        throw new StorageError("storage_conflict", `vault secret ${secret.id} is not at version ${secret.version - 1}`);
      }
      this.#insertVersion(next);
      this.#d.stmt(SQL.pruneVersions).run(secret.id, secret.version - keep);
    });
  }

  delete(id: string): boolean {
    return this.#scrubbing(() => {
      this.#d.stmt(SQL.deleteVersions).run(id);
      return Number(this.#d.stmt(SQL.deleteSecret).run(id).changes) > 0;
    });
  }

  search(q: VaultQuery): StoredSecret[] {
    if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > VAULT_PAGE_MAX) {
      throw new RangeError(`limit of a vault search is ${q.limit}, expected 1..${VAULT_PAGE_MAX}`);
    }
    if (q.terms.length > TERMS_MAX) {
      throw new RangeError(`a vault search has ${q.terms.length} terms, at most ${TERMS_MAX}`);
    }
    const params: (string | number)[] = [];
    if (q.after) params.push(q.after.createdAtMs, q.after.id);
    params.push(...q.terms.map((t) => t.toLowerCase()), q.limit);
    const ids = this.#d.stmt(vaultSearchSql(q.terms.length, q.after !== null)).all(...params) as { id: string }[];
    const read = this.#d.stmt(SQL.getSecret);
    return ids.map((r) => secretOf(read.get(r.id) as SecretRow));
  }

  #insertVersion(v: StoredSecretVersion): void {
    this.#d.stmt(SQL.insertVersion).run(v.secretId, v.version, v.iv, v.ciphertext, v.createdAtMs);
  }

  /**
   * Moves the vault (its key, secrets and versions) out of the database file
   * at `path`, of the same schema, into this empty store: a state sync that
   * sets a stale database aside keeps the operator's secrets. They are
   * deleted from the old file as a vault delete is (secure_delete, WAL
   * emptied), so no second copy outlives a later delete. Returns the number
   * of secrets moved.
   */
  moveFrom(path: string): number {
    const db = this.#d.db;
    this.#d.flushGroup();
    if (this.getKey() !== null || this.count() > 0) {
      throw new StorageError("storage_conflict", "the vault can only move into an empty vault");
    }
    // A second connection, not ATTACH: under the node's narrow permissions SQLite may attach no database.
    const stale = new DatabaseSync(path);
    try {
      const has = stale.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'vault_versions'").get() as {
        n: number;
      };
      if (Number(has.n) === 0) return 0;
      const moved = this.#d.transaction(() => {
        for (const table of VAULT_TABLES) {
          for (const row of stale.prepare(`SELECT * FROM ${table}`).all()) {
            const columns = Object.keys(row);
            db.prepare(
              `INSERT INTO main.${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
            )
              .run(...columns.map((c) => row[c] as SQLInputValue));
          }
        }
        return this.count();
      });
      stale.exec("PRAGMA secure_delete = ON");
      stale.exec("BEGIN IMMEDIATE");
      try {
        for (const table of [...VAULT_TABLES].reverse()) stale.exec(`DELETE FROM ${table}`);
        stale.exec("COMMIT");
      } catch (e) {
        stale.exec("ROLLBACK");
        throw e;
      }
      stale.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
      return moved;
    } finally {
      stale.close();
    }
  }

  /** Runs a write that frees vault content with secure_delete on, then empties the WAL. */
  #scrubbing<T>(fn: () => T): T {
    const db = this.#d.db;
    this.#d.flushGroup();
    if (db.isTransaction) throw new Error("a vault delete cannot join an open transaction (its WAL must be emptied)");
    const before = (this.#d.stmt("PRAGMA secure_delete").get() as { secure_delete: number }).secure_delete;
    db.exec("PRAGMA secure_delete = ON");
    let result: T;
    try {
      result = this.#d.transaction(fn);
    } finally {
      db.exec(`PRAGMA secure_delete = ${before ? "ON" : "OFF"}`);
    }
    const cp = this.#d.stmt("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number };
    if (cp.busy !== 0) {
      throw new StorageError("storage_io", "the vault change is stored, but the WAL could not be emptied (busy)");
    }
    return result;
  }
}

function secretParams(s: StoredSecret): (string | number | null | Uint8Array)[] {
  return [
    s.id,
    s.label,
    s.username,
    s.url,
    JSON.stringify(s.tags),
    s.version,
    s.wrappedKey,
    s.createdAtMs,
    s.updatedAtMs,
  ];
}
