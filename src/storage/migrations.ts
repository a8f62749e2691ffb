/**
 * Versioned schema migrations, applied in order at start inside one
 * transaction each. Never edit a released migration: append a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The triggers that keep the decisions' counters (migration 4; migration 12 rebuilds the table, so sets them again). */
const DECISION_COUNTERS = `      CREATE TRIGGER decisions_counted_in AFTER INSERT ON decisions
        BEGIN UPDATE counters SET n = n + 1 WHERE name = 'decisions:' || NEW.subject || ':' || NEW.status; END;
      CREATE TRIGGER decisions_counted_out AFTER DELETE ON decisions
        BEGIN UPDATE counters SET n = n - 1 WHERE name = 'decisions:' || OLD.subject || ':' || OLD.status; END;`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "meta",
    sql: `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`,
  },
  {
    version: 2,
    name: "dag",
    sql: `
      CREATE TABLE vertices (
        id TEXT PRIMARY KEY,
        bytes BLOB NOT NULL,
        author TEXT NOT NULL,
        round INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE vertex_parents (
        child TEXT NOT NULL REFERENCES vertices(id),
        parent TEXT NOT NULL,
        PRIMARY KEY (child, parent)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX vertex_parents_by_parent ON vertex_parents(parent, child);
      CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL CHECK (subject IN ('tx', 'vertex')),
        status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
        decided_at_ms INTEGER NOT NULL
      ) STRICT;`,
  },
  {
    version: 3,
    name: "transactions",
    sql: `
      CREATE TABLE transactions (
        id TEXT PRIMARY KEY,
        bytes BLOB NOT NULL,
        conflict_key TEXT NOT NULL,
        vertex TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX transactions_by_conflict ON transactions(conflict_key, id);
      CREATE INDEX vertices_by_round ON vertices(round, id);`,
  },
  {
    version: 4,
    name: "settlement",
    // ts_ms stays NULL for rows written before this version until the node
    // backfills it from their bytes (vertexIdsWithoutTimestamp). Counters are
    // counted once here, then kept by triggers inside each writing
    // transaction; no statement may use REPLACE on vertices or decisions,
    // because its implicit delete fires no trigger (recursive_triggers is off).
    sql: `
      ALTER TABLE vertices ADD COLUMN ts_ms INTEGER;
      CREATE INDEX vertices_by_ts ON vertices(ts_ms, round, id);
      CREATE INDEX vertices_unpruned_by_ts ON vertices(ts_ms) WHERE length(bytes) > 0;

      CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) STRICT, WITHOUT ROWID;
      INSERT INTO counters (name, n) VALUES
        ('vertices', (SELECT COUNT(*) FROM vertices)),
        ('decisions:tx:accepted', (SELECT COUNT(*) FROM decisions WHERE subject = 'tx' AND status = 'accepted')),
        ('decisions:tx:rejected', (SELECT COUNT(*) FROM decisions WHERE subject = 'tx' AND status = 'rejected')),
        ('decisions:vertex:accepted', (SELECT COUNT(*) FROM decisions WHERE subject = 'vertex' AND status = 'accepted')),
        ('decisions:vertex:rejected', (SELECT COUNT(*) FROM decisions WHERE subject = 'vertex' AND status = 'rejected'));
      CREATE TRIGGER vertices_counted_in AFTER INSERT ON vertices
        BEGIN UPDATE counters SET n = n + 1 WHERE name = 'vertices'; END;
      CREATE TRIGGER vertices_counted_out AFTER DELETE ON vertices
        BEGIN UPDATE counters SET n = n - 1 WHERE name = 'vertices'; END;
${DECISION_COUNTERS}

      CREATE TABLE receipts (
        tx_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        fee TEXT NOT NULL,
        rate_ppb INTEGER NOT NULL,
        vertex TEXT NOT NULL,
        time_ms INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE cuts (
        seq INTEGER PRIMARY KEY,
        boundary_ms INTEGER NOT NULL,
        prev_boundary_ms INTEGER NOT NULL,
        frontier TEXT NOT NULL,
        vertex_count INTEGER NOT NULL,
        snapshot_safe INTEGER NOT NULL CHECK (snapshot_safe IN (0, 1)),
        statement BLOB,
        digest TEXT,
        signature BLOB
      ) STRICT;

      CREATE TABLE certificates (
        seq INTEGER PRIMARY KEY,
        digest TEXT NOT NULL,
        statement BLOB NOT NULL,
        signatures BLOB NOT NULL
      ) STRICT;

      CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL) STRICT;`,
  },
  {
    version: 5,
    name: "carriers",
    // Every vertex that carries a transaction, by conflict key: admission asks
    // whether an account's previous nonce is in a new vertex's causal past.
    // Rows written before this version know only their first carrier.
    sql: `
      CREATE TABLE tx_carriers (
        conflict_key TEXT NOT NULL,
        vertex TEXT NOT NULL,
        tx_id TEXT NOT NULL,
        PRIMARY KEY (conflict_key, vertex, tx_id)
      ) STRICT, WITHOUT ROWID;
      INSERT OR IGNORE INTO tx_carriers (conflict_key, vertex, tx_id) SELECT conflict_key, vertex, id FROM transactions;`,
  },
  {
    version: 6,
    name: "vault",
    // src/vault: one ML-KEM-768 vault key (its private part sealed under the passphrase), secrets with the
    // fields search reads in clear (label, username, URL, tags: search_text is their lower-cased join), each
    // with its data key wrapped to the vault key; versions hold the whole record, AES-256-GCM under that key.
    // Pages newest first by (created_at_ms, id), whatever the depth; search filters on the index alone.
    sql: `
      CREATE TABLE vault_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed TEXT NOT NULL,
        public_key BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE vault_secrets (
        id TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        username TEXT,
        url TEXT,
        tags TEXT NOT NULL,
        search_text TEXT NOT NULL,
        version INTEGER NOT NULL,
        wrapped_key BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX vault_secrets_by_created ON vault_secrets(created_at_ms, id, search_text);
      CREATE TABLE vault_versions (
        secret_id TEXT NOT NULL REFERENCES vault_secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        iv BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (secret_id, version)
      ) STRICT, WITHOUT ROWID;`,
  },
  {
    version: 7,
    name: "account_history",
    // An account's transactions, newest first (GET /api/v1/exchange/accounts/:id/transactions): one row per
    // account a receipt touched, seq = the receipt's rowid (apply order). A page is a range of the primary
    // key, so it costs the same at any depth. Receipts stored before this version have no rows here.
    sql: `
      CREATE TABLE account_history (
        account TEXT NOT NULL,
        seq INTEGER NOT NULL,
        tx_id TEXT NOT NULL,
        PRIMARY KEY (account, seq)
      ) STRICT, WITHOUT ROWID;`,
  },
  {
    version: 8,
    name: "transaction_bytes_in_vertex",
    // A transaction's bytes are stored once, in the vertex that first carried it: `bytes` is empty and
    // (`in_vertex_at`, `len`) say where they are. Rows written before this version keep their own bytes
    // (`in_vertex_at` NULL), and so do rows whose vertex body is pruned: pruning copies them out first,
    // through the partial index, which holds only rows still reading from a vertex.
    sql: `
      ALTER TABLE transactions ADD COLUMN in_vertex_at INTEGER;
      ALTER TABLE transactions ADD COLUMN len INTEGER;
      CREATE INDEX transactions_in_vertex ON transactions(vertex) WHERE in_vertex_at IS NOT NULL;`,
  },
  {
    version: 9,
    name: "account_history_in_batches",
    // A receipt holds the accounts its transaction touched (a JSON array); their account_history rows are written
    // in batches (src/storage/_sqlite_history.ts), up to the receipt meta 'history_indexed_seq' names. Receipts
    // stored before this version have their rows already (or none, before version 7): the mark starts above them.
    sql: `
      ALTER TABLE receipts ADD COLUMN accounts TEXT;
      INSERT INTO meta (key, value) SELECT 'history_indexed_seq', CAST(COALESCE(MAX(rowid), 0) AS TEXT) FROM receipts
        WHERE true ON CONFLICT(key) DO UPDATE SET value = excluded.value;`,
  },
  {
    version: 10,
    name: "vertex_timestamps_by_id",
    // A vertex's row holds its bytes (hundreds of KB under load) before ts_ms, so reading ts_ms from the row walks
    // the bytes' overflow pages: about 60 µs for a 300 KB vertex, against under 2 µs from this index. Admission
    // reads the timestamps of an account's earlier carriers for every transaction (carriersOfConflict), and the
    // ledger the timestamp of every vertex it applies; both read them here (INDEXED BY in _sqlite_sql.ts).
    sql: `
      CREATE INDEX vertices_ts_by_id ON vertices(id, ts_ms);`,
  },
  {
    version: 11,
    name: "conflicts_from_carriers",
    // A conflict key's transactions are read from tx_carriers (its primary key leads with the key), which every
    // stored transaction has a row in (migration 5 copied the older ones). The index this drops cost every stored
    // transaction one more random B-tree entry, each a page of its own in a commit: about 20 µs a transfer in the
    // write pattern of a node under load (bench/PROFILE_HISTORY.md, change 44).
    sql: `
      DROP INDEX transactions_by_conflict;`,
  },
  {
    version: 12,
    name: "per_transaction_rows_by_sequence",
    // A transaction's decision and receipt are found through its row's sequence number (tx_seq), not its hash:
    // the hash was the key of an index each of them kept, and a random key is a page of its own in every commit
    // (about 20 µs a transfer each under load, bench/PROFILE.md, change 48). A transaction is decided and applied
    // seconds after it is stored, so their tx_seq entries land at the end of the index, a few pages per commit.
    // Decisions of vertices, and of a transaction decided before it is stored (tx_seq NULL), are found by id.
    // Each table gets an INTEGER PRIMARY KEY: a rowid that VACUUM keeps (account_history names receipts by it).
    // The rowids are copied as they are, so every sequence and the history's mark stay valid.
    sql: `
      CREATE TABLE transactions_v12 (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        bytes BLOB NOT NULL,
        conflict_key TEXT NOT NULL,
        vertex TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL,
        in_vertex_at INTEGER,
        len INTEGER
      ) STRICT;
      INSERT INTO transactions_v12 (seq, id, bytes, conflict_key, vertex, received_at_ms, in_vertex_at, len)
        SELECT rowid, id, bytes, conflict_key, vertex, received_at_ms, in_vertex_at, len FROM transactions ORDER BY rowid;
      DROP TABLE transactions;
      ALTER TABLE transactions_v12 RENAME TO transactions;
      CREATE INDEX transactions_in_vertex ON transactions(vertex) WHERE in_vertex_at IS NOT NULL;

      CREATE TABLE decisions_v12 (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        subject TEXT NOT NULL CHECK (subject IN ('tx', 'vertex')),
        status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
        decided_at_ms INTEGER NOT NULL,
        tx_seq INTEGER
      ) STRICT;
      INSERT INTO decisions_v12 (seq, id, subject, status, decided_at_ms, tx_seq)
        SELECT d.rowid, d.id, d.subject, d.status, d.decided_at_ms,
          CASE WHEN d.subject = 'tx' THEN (SELECT t.seq FROM transactions AS t WHERE t.id = d.id) END
        FROM decisions AS d ORDER BY d.rowid;
      DROP TABLE decisions;
      ALTER TABLE decisions_v12 RENAME TO decisions;
      CREATE UNIQUE INDEX decisions_by_tx_seq ON decisions(tx_seq) WHERE tx_seq IS NOT NULL;
      CREATE UNIQUE INDEX decisions_by_id ON decisions(id) WHERE tx_seq IS NULL;
${DECISION_COUNTERS}

      CREATE TABLE receipts_v12 (
        seq INTEGER PRIMARY KEY,
        tx_id TEXT NOT NULL,
        code TEXT NOT NULL,
        fee TEXT NOT NULL,
        rate_ppb INTEGER NOT NULL,
        vertex TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        accounts TEXT,
        tx_seq INTEGER
      ) STRICT;
      INSERT INTO receipts_v12 (seq, tx_id, code, fee, rate_ppb, vertex, time_ms, accounts, tx_seq)
        SELECT r.rowid, r.tx_id, r.code, r.fee, r.rate_ppb, r.vertex, r.time_ms, r.accounts,
          (SELECT t.seq FROM transactions AS t WHERE t.id = r.tx_id)
        FROM receipts AS r ORDER BY r.rowid;
      DROP TABLE receipts;
      ALTER TABLE receipts_v12 RENAME TO receipts;
      CREATE UNIQUE INDEX receipts_by_tx_seq ON receipts(tx_seq) WHERE tx_seq IS NOT NULL;
      CREATE UNIQUE INDEX receipts_by_tx_id ON receipts(tx_id) WHERE tx_seq IS NULL;`,
  },
  {
    version: 13,
    name: "contested_preferences",
    // What each contested conflict set prefers (src/consensus/_preferences.ts): few rows, dropped once decided.
    sql: `
      CREATE TABLE preferences (
        conflict_key TEXT PRIMARY KEY,
        member TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
