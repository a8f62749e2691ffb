import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { SQL } from "./_sqlite_sql.ts";
import { vaultSearchSql } from "./vault_sqlite.ts";
import type { StoredSecret } from "./vault_types.ts";

const T0 = 1_700_000_000_000;
const enc = new TextEncoder();

/** Whether `needle` occurs in the bytes of `path` (missing file: no). */
function fileHolds(path: string, needle: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  const n = enc.encode(needle);
  outer: for (let i = 0; i + n.length <= bytes.length; i++) {
    for (let j = 0; j < n.length; j++) if (bytes[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}

function secret(id: string, label: string, o: Partial<StoredSecret> = {}): StoredSecret {
  return {
    id,
    label,
    username: `user-of-${label}`,
    url: `https://${label}.example`,
    tags: [`tag-of-${label}`],
    version: 1,
    wrappedKey: enc.encode(`wrapped-key-of-${label}`),
    createdAtMs: T0,
    updatedAtMs: T0,
    ...o,
  };
}

const version = (id: string, v: number, text: string) => ({
  secretId: id,
  version: v,
  iv: new Uint8Array(12),
  ciphertext: enc.encode(text),
  createdAtMs: T0 + v,
});

Deno.test("SqliteStorage vault.delete() leaves no byte of the secret in the database file or its WAL", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-vault-scrub-" });
  const db = `${dir}/${DB_FILE}`;
  const s = SqliteStorage.open({ dataDir: dir });
  try {
    const label = "zebra-label-7f3a";
    const marks = [label, `user-of-${label}`, `https://${label}.example`, `tag-of-${label}`, `wrapped-key-of-${label}`];
    s.vault.insert(secret("e1", label), version("e1", 1, "ciphertext-one-9c1d"));
    s.vault.update(secret("e1", label, { version: 2 }), version("e1", 2, "ciphertext-two-9c1d"), 10);
    s.vault.insert(secret("e2", "neighbour"), version("e2", 1, "neighbour-ct"));
    // Before the delete the content is on disk (in the file or the WAL): the check below can fail.
    for (const m of [...marks, "ciphertext-one-9c1d", "ciphertext-two-9c1d"]) {
      assert.ok(fileHolds(db, m) || fileHolds(`${db}-wal`, m), `${m} should be on disk before the delete`);
    }
    assert.equal(s.vault.delete("e1"), true);
    for (const m of [...marks, "ciphertext-one-9c1d", "ciphertext-two-9c1d"]) {
      assert.ok(!fileHolds(db, m), `${m} is still in ${DB_FILE}`);
      assert.ok(!fileHolds(`${db}-wal`, m), `${m} is still in the WAL`);
    }
    assert.equal(Deno.statSync(`${db}-wal`).size, 0);
    assert.ok(s.vault.get("e2"), "the other secret stays");
    assert.ok(fileHolds(db, "neighbour-ct"));
    // Versions pruned by an update are scrubbed the same way.
    for (let v = 2; v <= 4; v++) {
      s.vault.update(secret("e2", "neighbour", { version: v }), version("e2", v, `n-ct-${v}`), 2);
    }
    assert.deepEqual(s.vault.versions("e2"), [3, 4]);
    assert.ok(!fileHolds(db, "neighbour-ct") && !fileHolds(`${db}-wal`, "neighbour-ct"));
    assert.ok(!fileHolds(db, "n-ct-2") && !fileHolds(`${db}-wal`, "n-ct-2"));
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage vault secure_delete is on only during vault deletes", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-vault-pragma-" });
  const s = SqliteStorage.open({ dataDir: dir });
  try {
    s.vault.insert(secret("f1", "x"), version("f1", 1, "y"));
    s.vault.delete("f1");
    s.close();
    const db = new DatabaseSync(`${dir}/${DB_FILE}`);
    assert.deepEqual({ ...db.prepare("PRAGMA secure_delete").get() }, { secure_delete: 0 });
    db.close();
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

function planOf(db: DatabaseSync, sql: string): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail);
}

Deno.test("SqliteStorage account history and vault search pages walk an index from the cursor (no scan, no sort)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-history-plan-" });
  const s = SqliteStorage.open({ dataDir: dir });
  const accounts = ["a", "b", "c"];
  s.putReceipts(
    Array.from({ length: 3000 }, (_, i) => ({
      txId: `t${i}`,
      code: "ok",
      fee: 0n,
      ratePpb: 0,
      vertex: "v",
      timeMs: i,
      accounts: [accounts[i % 3], "fees"],
    })),
  );
  s.close();
  const db = new DatabaseSync(`${dir}/${DB_FILE}`);
  try {
    for (const analyzed of [false, true]) {
      if (analyzed) db.exec("ANALYZE");
      assert.deepEqual(planOf(db, SQL.accountHistory), [
        "SEARCH h USING PRIMARY KEY (account=? AND seq<?)",
        "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
      ]);
      for (const [terms, after] of [[0, false], [2, false], [0, true], [3, true]] as const) {
        // In index order from the cursor, terms matched in the index itself, stopping at the limit: no sort.
        assert.deepEqual(planOf(db, vaultSearchSql(terms, after)), [
          after
            ? "SEARCH vault_secrets USING COVERING INDEX vault_secrets_by_created ((created_at_ms,id)<(?,?))"
            : "SCAN vault_secrets USING COVERING INDEX vault_secrets_by_created",
        ]);
      }
    }
  } finally {
    db.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
