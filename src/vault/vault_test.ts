import assert from "node:assert/strict";
import { createNobleBackend } from "../crypto/noble.ts";
import { KeyError } from "../keys/mod.ts";
import { DB_FILE, MemoryStorage, SqliteStorage, type Storage } from "../storage/mod.ts";
import { Vault, VaultError, type VaultErrorCode, type VaultOptions, type VaultRecord } from "./mod.ts";
import { FAST_KDF } from "../keys/_testing.ts";

const backend = createNobleBackend();
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

function options(storage: Storage, o: Partial<VaultOptions> = {}): VaultOptions {
  let now = 1_000;
  return { store: storage.vault, backend, passphrase: "vault pass", kdf: FAST_KDF, nowMs: () => now++, random, ...o };
}

const record = (o: Partial<VaultRecord> = {}): VaultRecord => ({
  label: "Bank",
  username: "alice",
  url: "https://bank.example",
  tags: ["money"],
  notes: "pin hint: none",
  value: "hunter2-correct-horse",
  ...o,
});

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: VaultErrorCode): Promise<void> {
  let caught: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof VaultError, `expected VaultError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
}

Deno.test("Vault create() and get() round-trip a secret; update() keeps versions; delete() removes them all", async () => {
  const vault = await Vault.open(options(new MemoryStorage()));
  const made = await vault.create(record());
  assert.match(made.id, /^[0-9a-f]{32}$/);
  assert.equal(made.version, 1);
  assert.equal((made as unknown as Record<string, unknown>).value, undefined);
  const got = await vault.get(made.id);
  assert.equal(got.value, "hunter2-correct-horse");
  assert.equal(got.notes, "pin hint: none");
  assert.deepEqual(got.versions, [1]);

  const v2 = await vault.update(made.id, { value: "second", username: null });
  assert.equal(v2.version, 2);
  assert.equal(v2.username, null);
  assert.equal(v2.label, "Bank");
  const now = await vault.get(made.id);
  assert.equal(now.value, "second");
  assert.equal(now.notes, "pin hint: none");
  assert.deepEqual(now.versions, [1, 2]);
  const old = await vault.get(made.id, 1);
  assert.equal(old.value, "hunter2-correct-horse");
  assert.equal(old.username, "alice");
  assert.equal(old.version, 1);
  await rejectsWith(vault.get(made.id, 3), "not_found");

  assert.deepEqual(await vault.delete(made.id), { id: made.id, versions: 2 });
  await rejectsWith(vault.get(made.id), "not_found");
  await rejectsWith(vault.delete(made.id), "not_found");
  await rejectsWith(vault.update(made.id, { value: "x" }), "not_found");
  await rejectsWith(vault.get("not-an-id"), "not_found");
});

Deno.test("Vault update() keeps the newest versions only; concurrent updates each make a version", async () => {
  const vault = await Vault.open(options(new MemoryStorage(), { versionsKept: 3 }));
  const { id } = await vault.create(record());
  await Promise.all([1, 2, 3, 4, 5].map((i) => vault.update(id, { value: `v${i}` })));
  const got = await vault.get(id);
  assert.equal(got.version, 6);
  assert.deepEqual(got.versions, [4, 5, 6]);
  await rejectsWith(vault.get(id, 2), "not_found");
});

Deno.test("Vault search() matches label, username, URL and tags, never values or notes; pages newest first", async () => {
  const vault = await Vault.open(options(new MemoryStorage()));
  const a = await vault.create(record({ label: "Work mail", tags: ["office"] }));
  const b = await vault.create(record({ label: "Home mail", username: "bob", url: null, tags: [] }));
  const c = await vault.create(record({ label: "Router", username: null, url: "http://192.168.1.1", notes: null }));
  const ids = (q: string) => vault.search(q, null, 10).secrets.map((s) => s.id);
  assert.deepEqual(ids(""), [c.id, b.id, a.id]);
  assert.deepEqual(ids("MAIL"), [b.id, a.id]);
  assert.deepEqual(ids("mail office"), [a.id]);
  assert.deepEqual(ids("bob"), [b.id]);
  assert.deepEqual(ids("192.168"), [c.id]);
  assert.deepEqual(ids("hunter2"), [], "a value is never searched");
  assert.deepEqual(ids("hint"), [], "notes are never searched");
  const first = vault.search("", null, 2);
  assert.deepEqual(first.secrets.map((s) => s.id), [c.id, b.id]);
  assert.ok(first.nextCursor);
  const second = vault.search("", first.nextCursor, 2);
  assert.deepEqual(second.secrets.map((s) => s.id), [a.id]);
  assert.equal(second.nextCursor, null);
  assert.ok(vault.search("", null, 10).secrets.every((s) => !("value" in s) && !("notes" in s)));
  await rejectsWith(() => vault.search("", "garbage", 2), "invalid_request");
  await rejectsWith(() => vault.search("a b c d e f g h i", null, 2), "invalid_request");
});

Deno.test("Vault refuses bad records with invalid_request naming the field, and a full vault with vault_full", async () => {
  const vault = await Vault.open(options(new MemoryStorage(), { secretsMax: 1 }));
  for (
    const [bad, field] of [
      [record({ label: "" }), "label"],
      [record({ value: "" }), "value"],
      [record({ value: "x".repeat(64 * 1024 + 1) }), "value"],
      [record({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }), "tags"],
      [record({ url: "u".repeat(2049) }), "url"],
    ] as const
  ) {
    let caught: unknown;
    try {
      await vault.create(bad);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof VaultError && caught.code === "invalid_request", String(caught));
    assert.match(caught.message, new RegExp(`^${field}:`));
    assert.ok(!caught.message.includes("xxxx"), "the message never carries the value");
  }
  const { id } = await vault.create(record());
  await rejectsWith(vault.create(record()), "vault_full");
  await rejectsWith(vault.update(id, {}), "invalid_request");
});

Deno.test("Vault.open() with another passphrase is refused; with the same one the secrets open (SQLite, reopened)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-vault-" });
  try {
    let storage = SqliteStorage.open({ dataDir: dir });
    const vault = await Vault.open(options(storage));
    const { id } = await vault.create(record({ value: "plain-value-5d1e", notes: "plain-notes-5d1e" }));
    storage.close();
    // Neither the value nor the notes are ever in the file or its WAL, in any form the vault wrote.
    for (const f of [DB_FILE, `${DB_FILE}-wal`]) {
      const bytes = (() => {
        try {
          return new TextDecoder("latin1").decode(Deno.readFileSync(`${dir}/${f}`));
        } catch {
          return "";
        }
      })();
      assert.ok(!bytes.includes("plain-value-5d1e") && !bytes.includes("plain-notes-5d1e"), f);
    }
    storage = SqliteStorage.open({ dataDir: dir });
    try {
      await assert.rejects(
        Vault.open(options(storage, { passphrase: "wrong" })),
        (e: unknown) => e instanceof KeyError && e.code === "key_passphrase_wrong",
      );
      const again = await Vault.open(options(storage));
      assert.equal((await again.get(id)).value, "plain-value-5d1e");
    } finally {
      storage.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
