/**
 * Versioned schema migrations, applied in order at start inside one
 * transaction each. Never edit a released migration: append a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

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
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
