import assert from "node:assert/strict";
import { runStorageConformance } from "./conformance.ts";
import { MemoryStorage } from "./memory.ts";
import { DB_FILE, SqliteStorage } from "./sqlite.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { StorageError } from "./types.ts";

runStorageConformance({ name: "MemoryStorage", open: () => new MemoryStorage() });

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
    dirs.set(again, dir);
    return again;
  },
});

Deno.test("SqliteStorage.open() refuses a data directory held by another process", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-lock-" });
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
  const dir = Deno.makeTempDirSync({ prefix: "qudag-corrupt-" });
  Deno.writeTextFileSync(`${dir}/${DB_FILE}`, "this is not sqlite".repeat(100));
  assert.throws(
    () => SqliteStorage.open({ dataDir: dir }),
    (e: unknown) => e instanceof StorageError && e.code === "storage_corrupt" && e.message.includes(DB_FILE),
  );
});

Deno.test("SqliteStorage.open() applies every migration once and records the version", () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-migr-" });
  SqliteStorage.open({ dataDir: dir }).close();
  const s = SqliteStorage.open({ dataDir: dir });
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  s.close();
});
