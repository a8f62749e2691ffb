import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MemoryStorage } from "./memory.ts";
import { databaseAtVersion } from "./_migration_testing.ts";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { HISTORY_MARK_KEY } from "./_sqlite_history.ts";
import type { Storage, StoredReceipt } from "./types.ts";

function receipt(txId: string, accounts: string[]): StoredReceipt {
  return { txId, code: "ok", fee: 7n, ratePpb: 3, vertex: "ab".repeat(32), timeMs: 1_000, accounts };
}

/** Every page walk of every account, `limit` at a time, from the newest. */
function walks(s: Storage, accounts: readonly string[], limit: number): string[][] {
  return accounts.map((a) => {
    const seen: string[] = [];
    let before: number | null = null;
    for (;;) {
      const page = s.accountHistory(a, before, limit);
      seen.push(...page.map((e) => `${e.seq}:${e.receipt.txId}`));
      if (page.length < limit) return seen;
      before = page[page.length - 1].seq;
    }
  });
}

/** A seeded workload of receipts in bursts, some touching an account twice, some stored twice. */
function workload(seed: number, n: number): StoredReceipt[][] {
  let x = seed;
  const next = (m: number) => (x = (x * 1103515245 + 12345) % 2 ** 31) % m;
  const accounts = ["a", "b", "c", "d", "fee"];
  const bursts: StoredReceipt[][] = [];
  for (let i = 0; i < n;) {
    const burst: StoredReceipt[] = [];
    for (let j = next(5); j >= 0 && i < n; j--, i++) {
      const touched = [accounts[next(4)], accounts[next(4)], "fee"];
      burst.push(receipt(`t${next(3) === 0 && i > 0 ? next(i) : i}`, touched));
    }
    bursts.push(burst);
  }
  return bursts;
}

Deno.test("SqliteStorage: account history pages are the same below, across and above the batch mark", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-history-" });
  try {
    const memory = new MemoryStorage();
    let s = SqliteStorage.open({ dataDir: dir, historyBatch: 4 });
    const accounts = ["a", "b", "c", "d", "fee", "nobody"];
    const bursts = workload(7, 60);
    bursts.forEach((burst, i) => {
      memory.putReceipts(burst);
      s.putReceipts(burst, { grouped: i % 2 === 0 });
      if (i % 5 === 0) {
        for (const limit of [1, 2, 3, 100]) assert.deepEqual(walks(s, accounts, limit), walks(memory, accounts, limit));
      }
      if (i === 20) {
        s.close(); // the mark and what waits above it are read again at open
        s = SqliteStorage.open({ dataDir: dir, historyBatch: 4 });
      }
    });
    for (const limit of [1, 2, 5, 100]) assert.deepEqual(walks(s, accounts, limit), walks(memory, accounts, limit));
    // Some rows are indexed, some still wait above the mark.
    s.close();
    const db = new DatabaseSync(`${dir}/${DB_FILE}`);
    const mark = Number(
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(HISTORY_MARK_KEY) as { value: string })
        .value,
    );
    const top = Number((db.prepare("SELECT MAX(rowid) AS n FROM receipts").get() as { n: number }).n);
    const indexed = Number((db.prepare("SELECT COUNT(*) AS n FROM account_history").get() as { n: number }).n);
    db.close();
    assert.ok(mark > 0 && mark <= top, `mark ${mark}, newest receipt ${top}`);
    assert.ok(indexed > 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage: history rows are written a batch at a time, in the commit of the receipt that fills it", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-history-" });
  try {
    const s = SqliteStorage.open({ dataDir: dir, historyBatch: 3 });
    s.putReceipts([receipt("t1", ["a", "b"]), receipt("t2", ["a"])]);
    s.putReceipts([receipt("t1", ["c"])]); // stored before: not counted towards the batch
    assert.deepEqual(s.accountHistory("a", null, 10).map((e) => e.receipt.txId), ["t2", "t1"]);
    s.putReceipts([receipt("t3", ["b", "b"])]);
    assert.deepEqual(s.accountHistory("b", null, 10).map((e) => e.receipt.txId), ["t3", "t1"]);
    assert.deepEqual(s.accountHistory("c", null, 10), []);
    s.close();
    const db = new DatabaseSync(`${dir}/${DB_FILE}`);
    const indexed = db.prepare("SELECT account, seq, tx_id FROM account_history ORDER BY account, seq").all()
      .map((r) => `${r.account}:${r.seq}:${r.tx_id}`);
    db.close();
    assert.deepEqual(indexed, ["a:1:t1", "a:2:t2", "b:1:t1", "b:3:t3"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage.open() migrates a version 8 database: its history rows stay, the mark starts above them", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-history-" });
  try {
    const db = databaseAtVersion(`${dir}/${DB_FILE}`, 8);
    const put = db.prepare(
      "INSERT INTO receipts (tx_id, code, fee, rate_ppb, vertex, time_ms) VALUES (?, 'ok', '1', 0, 'v', 5)",
    );
    const history = db.prepare("INSERT INTO account_history (account, seq, tx_id) VALUES (?, ?, ?)");
    for (const [tx, accounts] of [["t1", ["a", "b"]], ["t2", ["a"]]] as const) {
      const seq = put.run(tx).lastInsertRowid;
      for (const a of accounts) history.run(a, seq, tx);
    }
    db.close();
    const s = SqliteStorage.open({ dataDir: dir, historyBatch: 2 });
    try {
      assert.equal(s.getMeta(HISTORY_MARK_KEY), "2");
      s.putReceipts([receipt("t3", ["a"])]);
      assert.deepEqual(s.accountHistory("a", null, 10).map((e) => e.receipt.txId), ["t3", "t2", "t1"]);
      assert.deepEqual(s.accountHistory("a", 3, 1).map((e) => e.receipt.txId), ["t2"]);
      assert.deepEqual(s.accountHistory("b", null, 10).map((e) => e.receipt.txId), ["t1"]);
    } finally {
      s.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
