import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { StorageError } from "./types.ts";

const vertex = (id: string) => ({
  id,
  bytes: new Uint8Array([1, 2, 3]),
  author: "aa",
  round: 1n,
  parents: [],
  receivedAtMs: 1,
  timestampMs: 1,
});
const hex = (n: number) => n.toString(16).padStart(64, "0");

Deno.test("SqliteStorage grouped writes: one commit per burst, visible at once, committed before any other write", async () => {
  const dir = Deno.makeTempDirSync();
  const s = SqliteStorage.open({ dataDir: dir });
  try {
    for (let i = 1; i <= 3; i++) s.transaction(() => s.putVertex(vertex(hex(i))), { grouped: true });
    // Readable on this connection before the commit.
    assert.ok(s.getVertex(hex(2)) !== null);
    // A grouped write that fails undoes only itself.
    assert.throws(() =>
      s.transaction(() => {
        s.putVertex(vertex(hex(4)));
        throw new Error("refused");
      }, { grouped: true })
    );
    assert.equal(s.getVertex(hex(4)), null);
    // Another process sees nothing until the group commits (the file holds the last commit only).
    const copy = `${dir}/copy.db`;
    assert.equal(countIn(dir, copy), 0);
    // Any other transaction commits the group first, then itself.
    s.transaction(() => s.setMeta("k", "v"));
    assert.equal(countIn(dir, copy), 3);
    // A new burst is committed by its timer within a turn of the event loop.
    s.transaction(() => s.putVertex(vertex(hex(5))), { grouped: true });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(countIn(dir, copy), 4);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage grouped writes: close() commits the group; a durable write is never grouped", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const s = SqliteStorage.open({ dataDir: dir, synchronous: "durable" });
    s.transaction(() => s.putVertex(vertex(hex(1))), { grouped: true });
    s.transaction(() => s.putVertex(vertex(hex(2))), { grouped: true, durable: true });
    s.close();
    const again = SqliteStorage.open({ dataDir: dir });
    assert.ok(again.getVertex(hex(1)) !== null && again.getVertex(hex(2)) !== null);
    again.close();
    assert.throws(() => again.transaction(() => 1, { grouped: true }), StorageError);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Vertices committed to the files on disk: a copy of the database and its WAL, opened apart. */
Deno.test("SqliteStorage grouped receipts join the burst's commit; ungrouped ones commit at once", () => {
  const dir = Deno.makeTempDirSync();
  const s = SqliteStorage.open({ dataDir: dir });
  const receipt = (txId: string) => ({ txId, code: "ok", fee: 1n, ratePpb: 0, vertex: hex(1), timeMs: 1 });
  const copy = `${dir}/copy.db`;
  try {
    s.transaction(() => s.putVertex(vertex(hex(1))), { grouped: true });
    s.putReceipts([receipt(hex(10)), receipt(hex(11))], { grouped: true });
    assert.ok(s.getReceipt(hex(11)) !== null);
    assert.deepEqual([countIn(dir, copy), countIn(dir, copy, "receipts")], [0, 0]);
    s.putReceipts([receipt(hex(12))]);
    assert.deepEqual([countIn(dir, copy), countIn(dir, copy, "receipts")], [1, 3]);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage withGroup: the waiting group and its own writes in one commit; a failure undoes only its own", () => {
  const dir = Deno.makeTempDirSync();
  const s = SqliteStorage.open({ dataDir: dir });
  const copy = `${dir}/copy.db`;
  try {
    s.transaction(() => s.putVertex(vertex(hex(1))), { grouped: true });
    const before = commitsIn(dir);
    s.transaction(() => s.putVertex(vertex(hex(2))), { withGroup: true });
    assert.equal(commitsIn(dir), before + 1);
    assert.equal(countIn(dir, copy), 2);
    // With no group waiting, it commits alone.
    s.transaction(() => s.setMeta("k", "v"), { withGroup: true });
    assert.equal(commitsIn(dir), before + 2);
    // Without the option, a group waiting is committed first: two commits.
    s.transaction(() => s.putVertex(vertex(hex(3))), { grouped: true });
    const plain = commitsIn(dir);
    s.transaction(() => s.putVertex(vertex(hex(4))));
    assert.equal(commitsIn(dir), plain + 2);
    // A failure undoes only its own writes; the group's still commit.
    s.transaction(() => s.putVertex(vertex(hex(5))), { grouped: true });
    assert.throws(() =>
      s.transaction(() => {
        s.putVertex(vertex(hex(6)));
        throw new Error("refused");
      }, { withGroup: true })
    );
    s.flushGroup();
    assert.equal(countIn(dir, copy), 5);
    assert.equal(s.getVertex(hex(6)), null);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Commit records in the WAL (frames whose header gives the database size after a commit), of its current salt. */
function commitsIn(dir: string): number {
  const wal = Deno.readFileSync(`${dir}/${DB_FILE}-wal`);
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const pageSize = view.getUint32(8);
  const [salt1, salt2] = [view.getUint32(16), view.getUint32(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) break;
    if (view.getUint32(at + 4) !== 0) commits++;
  }
  return commits;
}

function countIn(dir: string, copy: string, table = "vertices"): number {
  for (const suffix of ["", "-wal"]) {
    try {
      Deno.copyFileSync(`${dir}/${DB_FILE}${suffix}`, `${copy}${suffix}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const db = new DatabaseSync(copy);
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(`${copy}${suffix}`);
      } catch { /* not made */ }
    }
  }
}
