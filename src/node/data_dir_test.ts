import assert from "node:assert/strict";
import { createLogger } from "../log/mod.ts";
import { DatabaseSync } from "node:sqlite";
import { claimChain, DataDir, STALE_COPIES_KEPT } from "./data_dir.ts";

const owner = { keyId: "a".repeat(64), source: "key-store" as const };
const chain = { chainIdHex: "c".repeat(64), path: "/tmp/genesis.json" };
const quiet = createLogger({ level: "error", write: () => {} });

/** A started DataDir of `chain` in a fresh temporary directory, deleted afterwards. */
async function withDataDir(fn: (d: DataDir, dir: string) => void | Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync();
  try {
    const d = new DataDir(dir);
    d.recordStart(owner, "2026-01-01T00:00:00.000Z");
    claimChain(d.storage, chain);
    await fn(d, dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("DataDir.recordStart() counts starts and keeps the first start's time", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const first = new DataDir(dir);
    assert.deepEqual(first.recordStart(owner, "2026-01-01T00:00:00.000Z"), {
      boots: 1,
      firstStartedAt: "2026-01-01T00:00:00.000Z",
    });
    first.close();
    const again = new DataDir(dir);
    again.recordStart(owner, "2026-02-01T00:00:00.000Z");
    assert.deepEqual(again.start, { boots: 2, firstStartedAt: "2026-01-01T00:00:00.000Z" });
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DataDir.recordStart() refuses a data directory of another node key with identity_mismatch", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const first = new DataDir(dir);
    first.recordStart(owner, "2026-01-01T00:00:00.000Z");
    first.close();
    const other = new DataDir(dir);
    assert.throws(
      () => other.recordStart({ keyId: "b".repeat(64), source: "env" }, "2026-01-02T00:00:00.000Z"),
      (e: Error & { code?: string }) => e.code === "identity_mismatch" && /NODE_PRIVATE_KEY/.test(e.message),
    );
    assert.throws(() => other.start, /has not recorded this start/);
    other.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("claimChain() refuses a data directory that holds another chain", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const d = new DataDir(dir);
    claimChain(d.storage, chain);
    claimChain(d.storage, chain);
    assert.throws(
      () => claimChain(d.storage, { ...chain, chainIdHex: "d".repeat(64) }),
      (e: Error & { code?: string }) =>
        e.code === "identity_mismatch" && /holds chain cccccccccccccccc/.test(e.message),
    );
    d.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DataDir.startOver() moves the database aside and starts a fresh one of the same chain", () =>
  withDataDir((d, dir) => {
    d.storage.setMeta("marker", "old");
    const old = d.storage;
    const fresh = d.startOver(owner, "2026-03-01T00:00:00.000Z", chain, quiet);
    assert.notEqual(fresh, old);
    assert.equal(d.storage, fresh);
    assert.equal(fresh.getMeta("marker"), null);
    assert.equal(fresh.getMeta("chain_id"), chain.chainIdHex);
    assert.deepEqual(d.start, { boots: 1, firstStartedAt: "2026-03-01T00:00:00.000Z" });
    const aside = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".stale-"));
    assert.ok(aside.length >= 1, `a stale copy is kept, found ${aside.join(", ")}`);
    d.close();
  }));

Deno.test("DataDir.startOver() moves the vault into the fresh database and leaves none of it in the stale one", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const d = new DataDir(dir);
    d.recordStart(owner, "2026-01-01T00:00:00.000Z");
    const key = { sealed: '{"k":1}', publicKey: new Uint8Array([9, 8]), createdAtMs: 1 };
    const secret = {
      id: "s1",
      label: "db password",
      username: "ops",
      url: null,
      tags: ["prod"],
      version: 1,
      wrappedKey: new Uint8Array([1, 2, 3]),
      createdAtMs: 1,
      updatedAtMs: 1,
    };
    const sealed = new TextEncoder().encode("SEALED-VALUE-MARKER");
    d.storage.vault.putKey(key);
    d.storage.vault.insert(secret, {
      secretId: "s1",
      version: 1,
      iv: new Uint8Array(12),
      ciphertext: sealed,
      createdAtMs: 1,
    });
    const fresh = d.startOver(owner, "2026-03-01T00:00:00.000Z", chain, quiet);
    assert.deepEqual(fresh.vault.getKey(), key);
    assert.deepEqual(fresh.vault.get("s1"), secret);
    assert.deepEqual(fresh.vault.getVersion("s1", 1)?.ciphertext, sealed);
    d.close();
    const stale = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".stale-"));
    for (const name of stale) {
      const bytes = Deno.readFileSync(`${dir}/${name}`);
      const text = new TextDecoder("latin1").decode(bytes);
      assert.ok(!text.includes("SEALED-VALUE-MARKER") && !text.includes("db password"), `${name} keeps vault data`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DataDir.startOver() keeps the newest STALE_COPIES_KEPT stale databases and deletes older ones", () =>
  withDataDir(async (d, dir) => {
    for (let i = 0; i < STALE_COPIES_KEPT + 2; i++) {
      d.storage.setMeta("marker", `copy ${i}`);
      await new Promise((r) => setTimeout(r, 5)); // each copy's name has its own millisecond
      d.startOver(owner, "2026-03-01T00:00:00.000Z", chain, quiet);
    }
    const stale = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.stale-[^-]+.*Z$/.test(n)).sort();
    assert.equal(stale.length, STALE_COPIES_KEPT, stale.join(", "));
    const markers = stale.map((name) => {
      const db = new DatabaseSync(`${dir}/${name}`, { readOnly: true });
      try {
        return (db.prepare("SELECT value FROM meta WHERE key = 'marker'").get() as { value: string }).value;
      } finally {
        db.close();
      }
    });
    assert.deepEqual(markers, [`copy ${STALE_COPIES_KEPT}`, `copy ${STALE_COPIES_KEPT + 1}`]);
    d.close();
  }));

Deno.test("DataDir.undoStartOver() brings back the database moved aside, its vault and its start record", () =>
  withDataDir((d, dir) => {
    d.storage.setMeta("marker", "old");
    const key = { sealed: '{"k":2}', publicKey: new Uint8Array([7]), createdAtMs: 2 };
    d.storage.vault.putKey(key);
    const before = d.start;
    d.startOver(owner, "2026-03-01T00:00:00.000Z", chain, quiet);
    assert.equal(d.storage.getMeta("marker"), null);
    const back = d.undoStartOver(quiet);
    assert.equal(d.storage, back);
    assert.equal(back.getMeta("marker"), "old");
    assert.deepEqual(back.vault.getKey(), key, "the vault came back with it");
    assert.deepEqual(d.start, before);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("qudag.db."));
    assert.deepEqual(left.filter((n) => /stale|failed/.test(n) && !/-(wal|shm)$/.test(n)), []);
    assert.throws(() => d.undoStartOver(quiet), /no start over to undo/);
    d.close();
  }));
