/**
 * The vault service: named secrets kept encrypted in the node's database
 * (sealing.ts says how), with versions on update, real deletes, and search
 * over labels, usernames, URLs and tags (never values or notes).
 *
 * Writes are serialized (one at a time per vault), so two updates of one
 * secret make two versions rather than a conflict. Time and randomness are
 * inputs.
 */
import type { CryptoBackend } from "../crypto/backend.ts";
import type { KdfParams } from "../keys/mod.ts";
import type { StoredSecret, VaultPosition, VaultStore } from "../storage/mod.ts";
import {
  applyPatch,
  checkRecord,
  decodeRecord,
  encodeRecord,
  queryTerms,
  VAULT_SECRETS_MAX,
  VAULT_VERSIONS_KEPT,
  VaultError,
  type VaultPatch,
  type VaultRecord,
} from "./record.ts";
import { VaultKey } from "./sealing.ts";

const ID_RE = /^[0-9a-f]{32}$/;
const CURSOR_RE = /^([0-9]{1,16})-([0-9a-f]{32})$/;

/** What lists and search show: everything but the notes and the value. */
export interface SecretSummary {
  readonly id: string;
  readonly label: string;
  readonly username: string | null;
  readonly url: string | null;
  readonly tags: readonly string[];
  readonly version: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** One version, whole. */
export interface SecretView extends SecretSummary {
  readonly notes: string | null;
  readonly value: string;
  /** Versions kept, ascending. */
  readonly versions: readonly number[];
}

export interface VaultPage {
  readonly secrets: SecretSummary[];
  readonly nextCursor: string | null;
}

export interface VaultOptions {
  store: VaultStore;
  backend: CryptoBackend;
  passphrase: string;
  kdf?: KdfParams;
  nowMs: () => number;
  random: (bytes: number) => Uint8Array;
  versionsKept?: number;
  secretsMax?: number;
}

function summary(s: StoredSecret): SecretSummary {
  return {
    id: s.id,
    label: s.label,
    username: s.username,
    url: s.url,
    tags: [...s.tags],
    version: s.version,
    createdAtMs: s.createdAtMs,
    updatedAtMs: s.updatedAtMs,
  };
}

export function cursorOf(p: VaultPosition): string {
  return `${p.createdAtMs}-${p.id}`;
}

export function parseCursor(cursor: string): VaultPosition {
  const m = CURSOR_RE.exec(cursor);
  if (!m) throw new VaultError("invalid_request", "cursor: not a cursor this vault gave (use nextCursor as it is)");
  return { createdAtMs: Number(m[1]), id: m[2] };
}

export class Vault {
  readonly #o: VaultOptions;
  readonly #key: VaultKey;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(o: VaultOptions, key: VaultKey) {
    this.#o = o;
    this.#key = key;
  }

  /** Opens the vault (making its key the first time). KeyError key_passphrase_wrong for a wrong passphrase. */
  static async open(o: VaultOptions): Promise<Vault> {
    return new Vault(o, await VaultKey.open(o));
  }

  /** Runs writes one at a time; a failed write does not stop the next. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(fn, fn);
    this.#writes = run.catch(() => {});
    return run;
  }

  #find(id: string): StoredSecret {
    const s = ID_RE.test(id) ? this.#o.store.get(id) : null;
    if (s === null) throw new VaultError("not_found", `no secret ${id.slice(0, 32)} in the vault`);
    return s;
  }

  async #record(s: StoredSecret, version: number): Promise<VaultRecord> {
    const v = this.#o.store.getVersion(s.id, version);
    if (v === null) throw new VaultError("not_found", `secret ${s.id} has no version ${version} (kept: the newest)`);
    const key = await this.#key.dataKey(s.id, s.wrappedKey);
    return decodeRecord(await this.#key.decrypt(key, s.id, version, v));
  }

  create(record: VaultRecord): Promise<SecretSummary> {
    checkRecord(record);
    return this.#serial(async () => {
      const max = this.#o.secretsMax ?? VAULT_SECRETS_MAX;
      if (this.#o.store.count() >= max) throw new VaultError("vault_full", `the vault holds ${max} secrets, its limit`);
      const id = this.#o.random(16).toHex();
      const now = this.#o.nowMs();
      const { key, wrapped } = await this.#key.newDataKey(id);
      const sealed = await this.#key.encrypt(key, id, 1, encodeRecord(record));
      const row: StoredSecret = {
        id,
        label: record.label,
        username: record.username,
        url: record.url,
        tags: [...record.tags],
        version: 1,
        wrappedKey: wrapped,
        createdAtMs: now,
        updatedAtMs: now,
      };
      this.#o.store.insert(row, { secretId: id, version: 1, ...sealed, createdAtMs: now });
      return summary(row);
    });
  }

  /** A secret's newest version, or `version` when given and still kept. */
  async get(id: string, version?: number): Promise<SecretView> {
    const s = this.#find(id);
    const v = version ?? s.version;
    const r = await this.#record(s, v);
    return {
      ...summary(s),
      // The version asked for: its own fields, as they were.
      label: r.label,
      username: r.username,
      url: r.url,
      tags: [...r.tags],
      version: v,
      notes: r.notes,
      value: r.value,
      versions: this.#o.store.versions(s.id),
    };
  }

  update(id: string, patch: VaultPatch): Promise<SecretSummary> {
    return this.#serial(async () => {
      const s = this.#find(id);
      const next = applyPatch(await this.#record(s, s.version), patch);
      checkRecord(next);
      const version = s.version + 1;
      const now = this.#o.nowMs();
      const key = await this.#key.dataKey(s.id, s.wrappedKey);
      const sealed = await this.#key.encrypt(key, s.id, version, encodeRecord(next));
      const row: StoredSecret = {
        ...s,
        label: next.label,
        username: next.username,
        url: next.url,
        tags: [...next.tags],
        version,
        updatedAtMs: now,
      };
      this.#o.store.update(row, { secretId: s.id, version, ...sealed, createdAtMs: now }, this.#versionsKept());
      return summary(row);
    });
  }

  /** Deletes a secret and all its versions, for real. */
  delete(id: string): Promise<{ id: string; versions: number }> {
    return this.#serial(() => {
      const s = this.#find(id);
      const versions = this.#o.store.versions(s.id).length;
      this.#o.store.delete(s.id);
      return Promise.resolve({ id: s.id, versions });
    });
  }

  /** Secrets whose label, username, URL or tags hold every word of `q` (all when empty), newest first. */
  search(q: string, cursor: string | null, limit: number): VaultPage {
    const terms = queryTerms(q);
    const after = cursor === null ? null : parseCursor(cursor);
    const rows = this.#o.store.search({ terms, after, limit });
    const last = rows.at(-1);
    return {
      secrets: rows.map(summary),
      nextCursor: rows.length === limit && last ? cursorOf(last) : null,
    };
  }

  get size(): number {
    return this.#o.store.count();
  }

  #versionsKept(): number {
    return this.#o.versionsKept ?? VAULT_VERSIONS_KEPT;
  }
}
