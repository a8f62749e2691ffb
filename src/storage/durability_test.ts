import assert from "node:assert/strict";
import { SqliteStorage } from "./sqlite.ts";

Deno.test("SqliteStorage commits durably: synchronous = FULL in WAL mode, so a reported decision survives power loss", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-durable-" });
  try {
    const s = SqliteStorage.open({ dataDir: dir });
    try {
      // Read back from SQLite itself (PRAGMA synchronous on the storage's own connection).
      assert.equal(s.synchronous, "full");
      assert.equal(s.journalMode, "wal");
      s.putDecision({ id: "ab".repeat(32), subject: "tx", status: "accepted", decidedAtMs: 1 });
    } finally {
      s.close();
    }
    const again = SqliteStorage.open({ dataDir: dir });
    try {
      assert.equal(again.synchronous, "full");
      assert.equal(again.getDecision("ab".repeat(32))?.status, "accepted");
    } finally {
      again.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
