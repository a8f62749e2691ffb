/**
 * The node's claim on its data directory: the database belongs to one node
 * key and one chain, counts its starts, and is moved aside when a state sync
 * starts over, all but its vault, which moves along. The newest
 * STALE_COPIES_KEPT databases moved aside stay; older ones are deleted (a
 * node that syncs again and again while it runs must not fill its disk).
 */
import type { Logger } from "../log/mod.ts";
import { DB_FILE, SqliteStorage, type Storage } from "../storage/mod.ts";
import type { Genesis } from "./genesis.ts";
import type { NodeIdentity } from "./identity.ts";
import { NodeStartError } from "./start_error.ts";

/** Databases moved aside that are kept, the newest ones. */
export const STALE_COPIES_KEPT = 2;

/** What the data directory knows of the node's identity and chain. */
type Owner = Pick<NodeIdentity, "keyId" | "source">;
type Chain = Pick<Genesis, "chainIdHex" | "path">;

export interface StartRecord {
  /** How many times this data directory has started a node, this start included. */
  boots: number;
  firstStartedAt: string;
}

/**
 * The data directory's database and the record of this start. A state sync
 * that finds the node far behind starts over on a fresh database: then both
 * are replaced, so readers hold the DataDir, not its storage, until the sync
 * is over.
 */
export class DataDir {
  #storage: SqliteStorage;
  #start: StartRecord | null = null;
  readonly #path: string;
  /** After startOver: the database moved aside and the start record it held, until the sync ends. */
  #undo: { aside: string; start: StartRecord | null } | null = null;

  constructor(path: string) {
    this.#path = path;
    this.#storage = SqliteStorage.open({ dataDir: path });
  }

  get storage(): SqliteStorage {
    return this.#storage;
  }

  /** This start's record; see {@linkcode recordStart}. */
  get start(): StartRecord {
    if (this.#start === null) throw new Error("the data directory has not recorded this start yet");
    return this.#start;
  }

  /** Records this start and refuses a data directory that belongs to another identity. */
  recordStart(identity: Owner, nowIso: string): StartRecord {
    this.#start = recordStart(this.#storage, identity, nowIso);
    return this.#start;
  }

  /** Moves the database aside and starts a fresh one for `genesis`'s chain (a state sync), recording this start. */
  startOver(identity: Owner, nowIso: string, genesis: Chain, log: Logger): SqliteStorage {
    const { storage, aside } = moveStoreAside(this.#storage, this.#path, log);
    this.#storage = storage;
    this.#undo = { aside, start: this.#start };
    const secrets = storage.vault.moveFrom(aside);
    if (secrets > 0) log.info("the vault moved from the stale database into the fresh one", { secrets });
    deleteOldStaleCopies(this.#path, STALE_COPIES_KEPT, log);
    this.recordStart(identity, nowIso);
    this.#storage.setMeta("chain_id", genesis.chainIdHex);
    return this.#storage;
  }

  /**
   * The state sync that `startOver` prepared failed: the fresh database goes,
   * the one moved aside comes back (with the vault, which moved with it), and
   * this start's record is the one it held. A node is better off catching up
   * from what it had than from nothing.
   */
  undoStartOver(log: Logger): SqliteStorage {
    const undo = this.#undo;
    if (undo === null) throw new Error("no start over to undo");
    this.#undo = null;
    const base = `${this.#path.replace(/\/+$/, "")}/${DB_FILE}`;
    const failed = `${base}.failed-sync`;
    this.#storage.close();
    renameDb(base, failed);
    renameDb(undo.aside, base);
    this.#storage = SqliteStorage.open({ dataDir: this.#path });
    this.#storage.vault.moveFrom(failed);
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(failed + suffix);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    this.#start = undo.start;
    log.warn("the state sync failed: the database moved aside for it is back", { from: undo.aside });
    return this.#storage;
  }

  /** The state sync that `startOver` prepared succeeded: the database moved aside stays aside. */
  keepStartOver(): void {
    this.#undo = null;
  }

  close(): void {
    this.#storage.close();
  }
}

/** Renames a database file with its WAL and shared-memory files (those that exist). */
function renameDb(from: string, to: string): void {
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.renameSync(from + suffix, to + suffix);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/** Records this start and refuses a data directory that belongs to another identity. */
function recordStart(storage: Storage, identity: Owner, nowIso: string): StartRecord {
  return storage.transaction(() => {
    const owner = storage.getMeta("node_key_id");
    if (owner && owner !== identity.keyId) {
      throw new NodeStartError(
        "identity_mismatch",
        `this data directory belongs to node key ${owner.slice(0, 16)}, but the node key is ${
          identity.keyId.slice(0, 16)
        } (from ${identity.source === "env" ? "NODE_PRIVATE_KEY" : "the key store"})`,
      );
    }
    if (!owner) storage.setMeta("node_key_id", identity.keyId);
    const firstStartedAt = storage.getMeta("first_started_at") ?? nowIso;
    storage.setMeta("first_started_at", firstStartedAt);
    const boots = Number(storage.getMeta("boots") ?? "0") + 1;
    storage.setMeta("boots", String(boots));
    storage.setMeta("last_started_at", nowIso);
    return { boots, firstStartedAt };
  });
}

/** Refuses a data directory that holds another chain, then marks it as this genesis's. */
export function claimChain(storage: Storage, genesis: Chain): void {
  const storedChain = storage.getMeta("chain_id");
  if (storedChain && storedChain !== genesis.chainIdHex) {
    throw new NodeStartError(
      "identity_mismatch",
      `this data directory holds chain ${storedChain.slice(0, 16)}…, but ${genesis.path} describes chain ${
        genesis.chainIdHex.slice(0, 16)
      }…`,
    );
  }
  storage.setMeta("chain_id", genesis.chainIdHex);
}

/**
 * Deletes the databases moved aside (`qudag.db.stale-<time>`, with their WAL
 * and shared-memory files) but the newest `keep`; their names sort by time.
 */
export function deleteOldStaleCopies(dataDir: string, keep: number, log: Logger): void {
  const dir = dataDir.replace(/\/+$/, "");
  const prefix = `${DB_FILE}.stale-`;
  const stamps = new Set<string>();
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile && e.name.startsWith(prefix)) stamps.add(e.name.slice(prefix.length).replace(/-(wal|shm)$/, ""));
  }
  const old = [...stamps].sort().slice(0, Math.max(0, stamps.size - keep));
  for (const stamp of old) {
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(`${dir}/${prefix}${stamp}${suffix}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    log.info("an old stale database was deleted", { deleted: `${dir}/${prefix}${stamp}`, kept: keep });
  }
}

/**
 * Moves a stale database aside (`qudag.db.stale-<time>`, with its WAL) and
 * opens a fresh one, for a state sync (the vault then moves into the fresh
 * one: SqliteVaultStore.moveFrom).
 */
function moveStoreAside(
  storage: SqliteStorage,
  dataDir: string,
  log: Logger,
): { storage: SqliteStorage; aside: string } {
  storage.close();
  const base = `${dataDir.replace(/\/+$/, "")}/${DB_FILE}`;
  const aside = `${base}.stale-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  renameDb(base, aside);
  log.warn("this node is far behind the certified checkpoints: its database was moved aside for a state sync", {
    movedTo: aside,
  });
  return { storage: SqliteStorage.open({ dataDir }), aside };
}
