/**
 * Migration 12: a transaction's decision and receipt are found through its
 * row's sequence number. A version 11 database with rows of every kind opens
 * with the same answers: decisions (of vertices, of stored transactions, of
 * one never stored), their counters, receipts, the account history and its
 * mark, and the sequences go on from where they were.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "./migrations.ts";
import { databaseAtVersion } from "./_migration_testing.ts";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { HISTORY_MARK_KEY } from "./_sqlite_history.ts";

function createVersion11Database(path: string): void {
  const db = databaseAtVersion(path, 11);
  try {
    db.prepare(
      "INSERT INTO vertices (id, bytes, author, round, received_at_ms, ts_ms) VALUES ('v1', X'01', 'aa', 1, 5, 5)",
    )
      .run();
    const tx = db.prepare(
      "INSERT INTO transactions (id, bytes, conflict_key, vertex, received_at_ms) VALUES (?, X'00', ?, 'v1', 5)",
    );
    const carrier = db.prepare("INSERT INTO tx_carriers (conflict_key, vertex, tx_id) VALUES (?, 'v1', ?)");
    // Rowids with a gap, so copying them as they are shows.
    db.exec(
      "INSERT INTO transactions (rowid, id, bytes, conflict_key, vertex, received_at_ms) VALUES (40, 't0', X'00', 'acct:0', 'v1', 5)",
    );
    for (const [id, key] of [["t1", "acct:1"], ["t2", "acct:1"], ["t3", "acct:3"]]) {
      tx.run(id, key);
      carrier.run(key, id);
    }
    const decision = db.prepare("INSERT INTO decisions (id, subject, status, decided_at_ms) VALUES (?, ?, ?, ?)");
    decision.run("v1", "vertex", "accepted", 1);
    decision.run("t1", "tx", "accepted", 2);
    decision.run("t2", "tx", "rejected", 3);
    decision.run("t9", "tx", "accepted", 4); // decided, never stored
    const receipt = db.prepare(
      "INSERT INTO receipts (tx_id, code, fee, rate_ppb, vertex, time_ms, accounts) VALUES (?, 'ok', ?, 0, 'v1', 5, ?)",
    );
    receipt.run("t1", "11", JSON.stringify(["a", "b"]));
    receipt.run("t9", "19", JSON.stringify(["a"]));
    // t1's history rows written, t9's waiting above the mark.
    db.exec("INSERT INTO account_history (account, seq, tx_id) VALUES ('a', 1, 't1'), ('b', 1, 't1')");
    db.exec(`INSERT INTO meta (key, value) VALUES ('${HISTORY_MARK_KEY}', '1')
      ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
  } finally {
    db.close();
  }
}

Deno.test("SqliteStorage.open() migrates a version 11 database: decisions, receipts and history read the same", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-v11-" });
  try {
    createVersion11Database(`${dir}/${DB_FILE}`);
    const s = SqliteStorage.open({ dataDir: dir, historyBatch: 2 });
    try {
      assert.equal(s.schemaVersion, SCHEMA_VERSION);
      assert.deepEqual(s.getDecision("v1"), { id: "v1", subject: "vertex", status: "accepted", decidedAtMs: 1 });
      assert.deepEqual(s.getDecision("t1"), { id: "t1", subject: "tx", status: "accepted", decidedAtMs: 2 });
      assert.deepEqual(s.getDecision("t2"), { id: "t2", subject: "tx", status: "rejected", decidedAtMs: 3 });
      assert.deepEqual(s.getDecision("t9"), { id: "t9", subject: "tx", status: "accepted", decidedAtMs: 4 });
      assert.equal(s.getDecision("t3"), null);
      assert.deepEqual(s.allDecisions().map((d) => d.id), ["v1", "t1", "t2", "t9"]);
      assert.deepEqual(s.decisionCountsBySubject(), {
        tx: { accepted: 2, rejected: 1 },
        vertex: { accepted: 1, rejected: 0 },
      });
      assert.equal(s.acceptedOfConflict("acct:1"), "t1");
      assert.deepEqual(s.acceptedVerticesFrom(0), ["v1"]);
      assert.equal(s.getReceipt("t1")!.fee, 11n);
      assert.equal(s.getReceipt("t9")!.fee, 19n);
      assert.equal(s.getTransaction("t0")!.conflictKey, "acct:0");
      // The same decisions again change nothing; another status is refused.
      assert.equal(s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 9 }), false);
      assert.equal(s.putDecision({ id: "t9", subject: "tx", status: "accepted", decidedAtMs: 9 }), false);
      assert.throws(() => s.putDecision({ id: "t2", subject: "tx", status: "accepted", decidedAtMs: 9 }), /already/);
      // New rows go on from the copied sequences: t3's receipt is the third, and fills the history's batch.
      assert.equal(s.putDecision({ id: "t3", subject: "tx", status: "accepted", decidedAtMs: 9 }), true);
      s.putReceipts([{ txId: "t3", code: "ok", fee: 13n, ratePpb: 0, vertex: "v1", timeMs: 6, accounts: ["a"] }]);
      s.putReceipts([{ txId: "t1", code: "ok", fee: 99n, ratePpb: 0, vertex: "v1", timeMs: 6, accounts: ["a"] }]);
      assert.equal(s.getMeta(HISTORY_MARK_KEY), "3");
      assert.deepEqual(s.accountHistory("a", null, 10).map((e) => [e.seq, e.receipt.txId, e.receipt.fee]), [
        [3, "t3", 13n],
        [2, "t9", 19n],
        [1, "t1", 11n],
      ]);
      assert.deepEqual(s.accountHistory("b", null, 10).map((e) => e.receipt.txId), ["t1"]);
      s.putTransaction({ id: "t4", bytes: new Uint8Array([4]), conflictKey: "acct:4", vertex: "v1", receivedAtMs: 7 });
    } finally {
      s.close();
    }
    const db = new DatabaseSync(`${dir}/${DB_FILE}`);
    try {
      const seq = (id: string) =>
        (db.prepare("SELECT seq FROM transactions WHERE id = ?").get(id) as { seq: number }).seq;
      assert.deepEqual(["t0", "t1", "t2", "t3", "t4"].map(seq), [40, 41, 42, 43, 44]);
      assert.equal((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok");
    } finally {
      db.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
