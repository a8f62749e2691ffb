import assert from "node:assert/strict";
import { SqliteStorage } from "./sqlite.ts";

Deno.test("SqliteStorage syncs a durable commit (FULL for that commit, NORMAL otherwise) in WAL mode: a reported decision survives power loss", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-durable-" });
  try {
    const s = SqliteStorage.open({ dataDir: dir });
    try {
      // Read back from SQLite itself (PRAGMA synchronous on the storage's own connection).
      assert.equal(s.synchronous, "normal");
      assert.equal(s.journalMode, "wal");
      let during = "";
      s.transaction(() => {
        during = s.synchronous;
        s.putDecision({ id: "ab".repeat(32), subject: "tx", status: "accepted", decidedAtMs: 1 });
      }, { durable: true });
      assert.equal(during, "full", "the durable commit runs at FULL");
      assert.equal(s.synchronous, "normal", "and the connection is back at NORMAL");
      // A durable commit nested in another makes the outer one synced afterwards.
      s.transaction(() => {
        s.transaction(() => s.putDecision({ id: "cd".repeat(32), subject: "tx", status: "accepted", decidedAtMs: 2 }), {
          durable: true,
        });
      });
      assert.equal(s.getMeta("synced_at") !== null, true, "a sync commit followed the outer commit");
    } finally {
      s.close();
    }
    const again = SqliteStorage.open({ dataDir: dir });
    try {
      assert.equal(again.synchronous, "normal");
      assert.equal(again.getDecision("ab".repeat(32))?.status, "accepted");
    } finally {
      again.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage.syncCommitted syncs the WAL off the event loop, keeps it open for the next, refuses once closed", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-durable-" });
  try {
    const s = SqliteStorage.open({ dataDir: dir });
    s.transaction(() => s.putDecision({ id: "ab".repeat(32), subject: "tx", status: "accepted", decidedAtMs: 1 }));
    const pending = s.syncCommitted();
    assert.ok(pending instanceof Promise, "the caller goes on while the disk syncs");
    await pending;
    s.transaction(() => s.putDecision({ id: "cd".repeat(32), subject: "tx", status: "accepted", decidedAtMs: 2 }));
    await s.syncCommitted();
    assert.equal(s.synchronous, "normal", "no commit ran at FULL");
    s.close();
    await assert.rejects(s.syncCommitted(), (e: Error & { code?: string }) => e.code === "storage_closed");
    const again = SqliteStorage.open({ dataDir: dir });
    try {
      assert.equal(again.getDecision("cd".repeat(32))?.status, "accepted");
    } finally {
      again.close();
    }
    // Where every commit syncs already, or none is promised, there is nothing to wait for.
    for (const synchronous of ["full", "normal"] as const) {
      const other = SqliteStorage.open({ dataDir: dir, synchronous });
      try {
        await other.syncCommitted();
      } finally {
        other.close();
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
