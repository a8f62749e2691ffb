import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runStorageConformance } from "./conformance.ts";
import { MemoryStorage } from "./memory.ts";
import { databaseAtVersion } from "./_migration_testing.ts";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
import { StorageError } from "./types.ts";
import { SQL } from "./_sqlite_sql.ts";

runStorageConformance({ name: "MemoryStorage", open: () => new MemoryStorage() });

/** A temporary directory, removed when the test's scope ends (`using`). */
function tempDir(prefix: string): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

const dirs = new Map<object, string>();
runStorageConformance({
  name: "SqliteStorage",
  open() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-store-" });
    const s = SqliteStorage.open({ dataDir: dir });
    dirs.set(s, dir);
    return s;
  },
  reopen(s) {
    const dir = dirs.get(s)!;
    s.close();
    const again = SqliteStorage.open({ dataDir: dir });
    dirs.delete(s);
    dirs.set(again, dir);
    return again;
  },
  dispose(s) {
    const dir = dirs.get(s);
    dirs.delete(s);
    if (dir !== undefined) Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test("SqliteStorage.open() refuses a data directory held by another process", async () => {
  using tmp = tempDir("qudag-lock-");
  const dir = tmp.path;
  // The holder is a real second process: SQLite's lock is per process.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { SqliteStorage } from "${new URL("./sqlite.ts", import.meta.url).href}";
       const s = SqliteStorage.open({ dataDir: ${JSON.stringify(dir)} });
       console.log("held"); await new Promise((r) => setTimeout(r, 30000)); s.close();`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = holder.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /held/);
    reader.releaseLock();
    assert.throws(
      () => SqliteStorage.open({ dataDir: dir }),
      (e: unknown) =>
        e instanceof StorageError && e.code === "storage_locked" &&
        /in use by another qudag node \(pid \d+/.test(e.message),
    );
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
  }
  // After the holder dies (even by SIGKILL) the directory is free again.
  const s = SqliteStorage.open({ dataDir: dir });
  s.close();
});

Deno.test("SqliteStorage.open() reports a file that is not a database as storage_corrupt", () => {
  using tmp = tempDir("qudag-corrupt-");
  const dir = tmp.path;
  Deno.writeTextFileSync(`${dir}/${DB_FILE}`, "this is not sqlite".repeat(100));
  assert.throws(
    () => SqliteStorage.open({ dataDir: dir }),
    (e: unknown) => e instanceof StorageError && e.code === "storage_corrupt" && e.message.includes(DB_FILE),
  );
});

Deno.test("SqliteStorage.open() applies every migration once and records the version", () => {
  using tmp = tempDir("qudag-migr-");
  const dir = tmp.path;
  SqliteStorage.open({ dataDir: dir }).close();
  const s = SqliteStorage.open({ dataDir: dir });
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  s.close();
  const db = new DatabaseSync(`${dir}/${DB_FILE}`);
  try {
    const rows = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[];
    assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
  } finally {
    db.close();
  }
});

/** A database as the build before schema version 4 left it, with a few rows. */
function createVersion3Database(dir: string): void {
  const db = databaseAtVersion(`${dir}/${DB_FILE}`, 3);
  try {
    const vertex = db.prepare(
      "INSERT INTO vertices (id, bytes, author, round, received_at_ms) VALUES (?, ?, 'aa', ?, 5)",
    );
    const parent = db.prepare("INSERT INTO vertex_parents (child, parent) VALUES (?, ?)");
    const decision = db.prepare("INSERT INTO decisions (id, subject, status, decided_at_ms) VALUES (?, ?, ?, 9)");
    const tx = db.prepare(
      "INSERT INTO transactions (id, bytes, conflict_key, vertex, received_at_ms) VALUES (?, X'00', ?, 'c3', 5)",
    );
    // Ids against round order, so (round, id) order shows.
    vertex.run("c3", new TextEncoder().encode("vertex c3"), 0);
    vertex.run("b2", new TextEncoder().encode("vertex b2"), 1);
    vertex.run("a1", new TextEncoder().encode("vertex a1"), 2);
    parent.run("b2", "c3");
    parent.run("a1", "b2");
    decision.run("c3", "vertex", "accepted");
    decision.run("b2", "vertex", "rejected");
    decision.run("t1", "tx", "accepted");
    decision.run("t2", "tx", "rejected");
    decision.run("t3", "tx", "rejected");
    tx.run("t1", "acct:1");
    tx.run("t2", "acct:1");
  } finally {
    db.close();
  }
}

Deno.test("SqliteStorage.open() migrates a version 3 database: counters counted once, timestamps left to backfill", () => {
  using tmp = tempDir("qudag-v3-");
  const dir = tmp.path;
  createVersion3Database(dir);
  let s = SqliteStorage.open({ dataDir: dir });
  try {
    assert.equal(s.schemaVersion, SCHEMA_VERSION);
    assert.equal(s.vertexCount(), 3);
    // Version 5 knows each older transaction's first carrier.
    assert.deepEqual(s.carriersOfConflict("acct:1").map((c) => c.vertex), ["c3"]);
    assert.deepEqual(s.decisionCountsBySubject(), {
      tx: { accepted: 1, rejected: 2 },
      vertex: { accepted: 1, rejected: 1 },
    });
    assert.deepEqual(s.decisionCounts(), { accepted: 2, rejected: 3 });
    assert.equal(s.acceptedOfConflict("acct:1"), "t1");
    // Rows from before version 8 keep their own bytes.
    assert.deepEqual(s.getTransaction("t2")!.bytes, new Uint8Array([0]));

    // Rows without a timestamp: listed for the backfill, skipped by the reads by time and by pruning.
    assert.deepEqual(s.vertexIdsWithoutTimestamp(10), ["c3", "b2", "a1"]);
    assert.deepEqual(s.vertexIdsWithoutTimestamp(2), ["c3", "b2"]);
    assert.deepEqual(s.vertexIdsWithoutTimestamp(0), []);
    const legacy = s.getVertex("a1")!;
    assert.ok(Number.isNaN(legacy.timestampMs));
    assert.deepEqual(legacy.bytes, new TextEncoder().encode("vertex a1"));
    assert.deepEqual(legacy.parents, ["b2"]);
    assert.equal(s.vertexTimestamp("a1"), null);
    assert.deepEqual(s.verticesFrom(0), []);
    assert.deepEqual(s.acceptedVerticesFrom(0), []);
    assert.equal(s.pruneVertexBodies(Number.MAX_SAFE_INTEGER), 0);

    s.setVertexTimestamp("c3", 100);
    s.setVertexTimestamp("b2", 100);
    assert.deepEqual(s.vertexIdsWithoutTimestamp(10), ["a1"]);
    s.setVertexTimestamp("a1", 200);
    s.setVertexTimestamp("a1", 200);
    assert.throws(
      () => s.setVertexTimestamp("a1", 300),
      (e: unknown) => e instanceof StorageError && e.code === "storage_conflict",
    );
    assert.deepEqual(s.vertexIdsWithoutTimestamp(10), []);
    assert.deepEqual(s.verticesFrom(0), ["c3", "b2", "a1"]);
    assert.deepEqual(s.acceptedVerticesBetween(100, 201), ["c3"]);
    assert.equal(s.getVertex("a1")!.timestampMs, 200);

    // The triggers count from here on.
    s.putVertex({ ...legacy, id: "d4", round: 3n, parents: ["a1"], timestampMs: 300 });
    s.putDecision({ id: "d4", subject: "vertex", status: "accepted", decidedAtMs: 10 });
    s = (s.close(), SqliteStorage.open({ dataDir: dir }));
    assert.equal(s.vertexCount(), 4);
    assert.deepEqual(s.decisionCountsBySubject().vertex, { accepted: 2, rejected: 1 });
    assert.deepEqual(s.acceptedVerticesFrom(0), ["c3", "d4"]);
  } finally {
    s.close();
  }
});

/** The details of EXPLAIN QUERY PLAN, one per line of the plan. */
function planOf(db: DatabaseSync, sql: string): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail);
}

/** Reads that must cost what they return, not the history below them. */
const INDEXED_PLANS: Partial<Record<keyof typeof SQL, string[]>> = {
  verticesFrom: ["SEARCH vertices USING COVERING INDEX vertices_by_ts (ts_ms>?)"],
  acceptedVerticesFrom: [
    "SEARCH v USING COVERING INDEX vertices_by_ts (ts_ms>?)",
    "SEARCH d USING INDEX decisions_by_id (id=?)",
  ],
  acceptedVerticesBetween: [
    "SEARCH v USING COVERING INDEX vertices_by_ts (ts_ms>? AND ts_ms<?)",
    "SEARCH d USING INDEX decisions_by_id (id=?)",
  ],
  // Never the row: it holds the vertex's bytes before ts_ms (migration 10).
  vertexTimestamp: ["SEARCH vertices USING COVERING INDEX vertices_ts_by_id (id=?)"],
  vertexIdsWithoutTimestamp: ["SEARCH vertices USING COVERING INDEX vertices_by_ts (ts_ms=?)"],
  pruneVertexBodies: ["SEARCH vertices USING INDEX vertices_unpruned_by_ts (ts_ms<?)"],
  // A transaction's decision through its row (tx_seq), then one decided before it was stored (by id).
  acceptedOfConflict: [
    "COMPOUND QUERY",
    "LEFT-MOST SUBQUERY",
    "SEARCH c USING PRIMARY KEY (conflict_key=?)",
    "SEARCH t USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?)",
    "SEARCH d USING INDEX decisions_by_tx_seq (tx_seq=?)",
    "UNION ALL",
    "SEARCH c USING PRIMARY KEY (conflict_key=?)",
    "SEARCH d USING INDEX decisions_by_id (id=?)",
  ],
  getDecision: [
    "COMPOUND QUERY",
    "LEFT-MOST SUBQUERY",
    "SEARCH decisions USING INDEX decisions_by_tx_seq (tx_seq=?)",
    "SCALAR SUBQUERY 1",
    "SEARCH transactions USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?)",
    "UNION ALL",
    "SEARCH decisions USING INDEX decisions_by_id (id=?)",
  ],
  getReceipt: [
    "COMPOUND QUERY",
    "LEFT-MOST SUBQUERY",
    "SEARCH receipts USING INDEX receipts_by_tx_seq (tx_seq=?)",
    "SCALAR SUBQUERY 1",
    "SEARCH transactions USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?)",
    "UNION ALL",
    "SEARCH receipts USING INDEX receipts_by_tx_id (tx_id=?)",
  ],
  putDecision: [
    "SCAN CONSTANT ROW",
    "SCALAR SUBQUERY 2",
    "SEARCH decisions USING INDEX decisions_by_id (id=?)",
    "SCALAR SUBQUERY 1",
    "SEARCH transactions USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?)",
  ],
  putReceipt: [
    "SCAN CONSTANT ROW",
    "SCALAR SUBQUERY 2",
    "SEARCH receipts USING INDEX receipts_by_tx_id (tx_id=?)",
    "SCALAR SUBQUERY 1",
    "SEARCH transactions USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?)",
  ],
  txDecisionsAndReceipts: [
    "SCAN j VIRTUAL TABLE INDEX 1:",
    "SEARCH t USING COVERING INDEX sqlite_autoindex_transactions_1 (id=?) LEFT-JOIN",
    "CORRELATED SCALAR SUBQUERY 1",
    "SEARCH d USING INDEX decisions_by_tx_seq (tx_seq=?)",
    "CORRELATED SCALAR SUBQUERY 2",
    "SEARCH d USING INDEX decisions_by_id (id=?)",
    "CORRELATED SCALAR SUBQUERY 3",
    "SEARCH r USING INDEX receipts_by_tx_seq (tx_seq=?)",
    "CORRELATED SCALAR SUBQUERY 4",
    "SEARCH r USING INDEX receipts_by_tx_id (tx_id=?)",
  ],
  conflicting: ["SEARCH tx_carriers USING PRIMARY KEY (conflict_key=?)"],
  carriersOfConflict: [
    "SEARCH c USING PRIMARY KEY (conflict_key=?)",
    "SEARCH v USING COVERING INDEX vertices_ts_by_id (id=?)",
  ],
  latestCutSeq: ["SEARCH cuts"],
  getTransaction: [
    "SEARCH t USING INDEX sqlite_autoindex_transactions_1 (id=?)",
    "CORRELATED SCALAR SUBQUERY 1",
    "SEARCH v USING INDEX sqlite_autoindex_vertices_1 (id=?)",
  ],
  cutsFrom: ["SEARCH cuts USING INTEGER PRIMARY KEY (rowid>?)"],
  // The account history's receipts above its mark (_sqlite_history.ts): a rowid range, never the whole table.
  receiptsAbove: ["SEARCH receipts USING INTEGER PRIMARY KEY (rowid>?)"],
  receiptsFrom: ["SEARCH receipts USING INTEGER PRIMARY KEY (rowid>?)"],
  receiptsTouching: ["SEARCH receipts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"],
};

Deno.test("SqliteStorage reads by timestamp and conflict key through indexes, with or without statistics", () => {
  using tmp = tempDir("qudag-plan-");
  const dir = tmp.path;
  const s = SqliteStorage.open({ dataDir: dir });
  s.transaction(() => {
    for (let i = 0; i < 2000; i++) {
      const id = i.toString(16).padStart(64, "0");
      s.putVertex({
        id,
        bytes: new Uint8Array(64),
        author: "aa".repeat(32),
        round: BigInt(i),
        parents: i === 0 ? [] : [(i - 1).toString(16).padStart(64, "0")],
        receivedAtMs: i,
        timestampMs: i * 10,
      });
      s.putDecision({ id, subject: "vertex", status: i % 3 === 0 ? "rejected" : "accepted", decidedAtMs: i });
      s.putTransaction({
        id: `t${i}`,
        bytes: new Uint8Array(8),
        conflictKey: `acct:${i % 50}`,
        vertex: id,
        receivedAtMs: i,
        // Half of them kept in their vertex's bytes (migration 8).
        inVertexAt: i % 2 === 0 ? 0 : undefined,
      });
    }
  });
  s.pruneVertexBodies(10_000);
  s.close();
  const db = new DatabaseSync(`${dir}/${DB_FILE}`);
  try {
    for (const stats of ["without statistics", "after ANALYZE"]) {
      if (stats === "after ANALYZE") db.exec("ANALYZE");
      for (const [name, expected] of Object.entries(INDEXED_PLANS)) {
        assert.deepEqual(planOf(db, SQL[name as keyof typeof SQL]), expected, `${name} ${stats}`);
      }
      // allDecisions is for tests and tools; counters holds five rows.
      for (const [name, sql] of Object.entries(SQL)) {
        if (name === "allDecisions" || name === "counters") continue;
        for (const line of planOf(db, sql)) {
          assert.doesNotMatch(
            line,
            /^SCAN (vertices|vertex_parents|transactions|tx_carriers|decisions|receipts)\b/,
            `${name} ${stats}`,
          );
          assert.doesNotMatch(line, /TEMP B-TREE/, `${name} sorts rows ${stats}`);
        }
      }
    }
  } finally {
    db.close();
  }
});

Deno.test("SqliteStorage keeps a transaction's bytes once, in its vertex, until the vertex body is pruned", () => {
  using tmp = tempDir("qudag-once-");
  const dir = tmp.path;
  const s = SqliteStorage.open({ dataDir: dir });
  const txBytes = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  const vertexBytes = new Uint8Array(5000);
  vertexBytes.set(txBytes, 100);
  const vertex = (id: string, timestampMs: number) => ({
    id,
    bytes: vertexBytes,
    author: "aa".repeat(32),
    round: 1n,
    parents: [],
    receivedAtMs: 1,
    timestampMs,
  });
  s.transaction(() => {
    s.putVertex(vertex("01", 10));
    s.putVertex(vertex("02", 20));
    s.putTransaction({ id: "t1", bytes: txBytes, conflictKey: "k1", vertex: "01", receivedAtMs: 1, inVertexAt: 100 });
    s.putTransaction({ id: "t2", bytes: txBytes, conflictKey: "k2", vertex: "02", receivedAtMs: 1, inVertexAt: 100 });
  });
  assert.deepEqual(s.getTransaction("t1")!.bytes, txBytes);
  assert.equal(s.pruneVertexBodies(15), 1);
  assert.deepEqual(s.getTransaction("t1")!.bytes, txBytes, "copied out before its vertex body went");
  assert.deepEqual(s.getTransaction("t2")!.bytes, txBytes);
  s.close();
  const db = new DatabaseSync(`${dir}/${DB_FILE}`);
  try {
    const rows = db.prepare("SELECT id, length(bytes) AS n, in_vertex_at AS at, len FROM transactions ORDER BY id")
      .all() as { id: string; n: number; at: number | null; len: number | null }[];
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      { id: "t1", n: 4096, at: null, len: null },
      { id: "t2", n: 0, at: 100, len: 4096 },
    ]);
  } finally {
    db.close();
  }
});
