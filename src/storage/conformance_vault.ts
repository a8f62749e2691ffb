/** The conformance suite's vault and account-history parts: both stores answer these the same way. */
import assert from "node:assert/strict";
import type { StoredReceipt } from "./types.ts";
import type { StoredSecret, StoredSecretVersion } from "./vault_types.ts";
import { assertStorageError, type ConformanceTarget, storeTest } from "./_conformance.ts";

const T0 = 1_700_000_000_000;

function secret(id: string, o: Partial<StoredSecret> = {}): StoredSecret {
  return {
    id,
    label: `Label ${id}`,
    username: null,
    url: null,
    tags: [],
    version: 1,
    wrappedKey: new Uint8Array([1, 2, 3]),
    createdAtMs: T0,
    updatedAtMs: T0,
    ...o,
  };
}

function version(secretId: string, v: number): StoredSecretVersion {
  return {
    secretId,
    version: v,
    iv: new Uint8Array(12).fill(v),
    ciphertext: new Uint8Array([v, v, v]),
    createdAtMs: T0 + v,
  };
}

function receipt(txId: string, accounts: string[]): StoredReceipt {
  return { txId, code: "ok", fee: 1n, ratePpb: 1_000_000, vertex: "vv", timeMs: T0, accounts };
}

export function runVaultConformance(target: ConformanceTarget): void {
  const t = storeTest(target);

  t("vault.putKey() stores the vault key once", (s) => {
    assert.equal(s.vault.getKey(), null);
    const key = { sealed: '{"k":1}', publicKey: new Uint8Array([9, 8]), createdAtMs: T0 };
    s.vault.putKey(key);
    assert.deepEqual(s.vault.getKey(), key);
    assertStorageError(() => s.vault.putKey({ ...key, sealed: "{}" }), "storage_conflict");
    assert.deepEqual(s.vault.getKey(), key);
  });

  t("vault.insert() stores a secret and its first version; an id is taken once", (s) => {
    const a = secret("a1", { username: "ann", url: "https://x.example", tags: ["work", "mail"] });
    s.vault.insert(a, version("a1", 1));
    assert.deepEqual(s.vault.get("a1"), a);
    assert.deepEqual(s.vault.getVersion("a1", 1), version("a1", 1));
    assert.deepEqual(s.vault.versions("a1"), [1]);
    assert.equal(s.vault.count(), 1);
    assertStorageError(() => s.vault.insert(secret("a1"), version("a1", 1)), "storage_conflict");
    assert.deepEqual(s.vault.get("a1"), a);
    assert.equal(s.vault.get("zz"), null);
    assert.equal(s.vault.getVersion("a1", 2), null);
  });

  t("vault.update() adds the next version, keeps the newest `keep`, refuses a stale version", (s) => {
    s.vault.insert(secret("b1"), version("b1", 1));
    for (let v = 2; v <= 5; v++) {
      s.vault.update(secret("b1", { version: v, label: `L${v}`, updatedAtMs: T0 + v }), version("b1", v), 3);
    }
    assert.deepEqual(s.vault.versions("b1"), [3, 4, 5]);
    assert.equal(s.vault.get("b1")!.label, "L5");
    assert.equal(s.vault.get("b1")!.updatedAtMs, T0 + 5);
    assert.equal(s.vault.getVersion("b1", 2), null);
    assertStorageError(() => s.vault.update(secret("b1", { version: 5 }), version("b1", 5), 3), "storage_conflict");
    assertStorageError(() => s.vault.update(secret("nope", { version: 2 }), version("nope", 2), 3), "storage_conflict");
    assert.throws(() => s.vault.update(secret("b1", { version: 6 }), version("b1", 7), 3), RangeError);
    assert.deepEqual(s.vault.versions("b1"), [3, 4, 5]);
  });

  t("vault.delete() removes the secret and every version", (s) => {
    s.vault.insert(secret("c1"), version("c1", 1));
    s.vault.update(secret("c1", { version: 2 }), version("c1", 2), 10);
    s.vault.insert(secret("c2"), version("c2", 1));
    assert.equal(s.vault.delete("c1"), true);
    assert.equal(s.vault.delete("c1"), false);
    assert.equal(s.vault.get("c1"), null);
    assert.deepEqual(s.vault.versions("c1"), []);
    assert.equal(s.vault.count(), 1);
    assert.ok(s.vault.get("c2"));
  });

  t("vault.search() matches every term in label, username, URL or tags, newest first, in pages", (s) => {
    const rows = [
      secret("d1", { label: "Bank", username: "Alice", createdAtMs: T0 + 1 }),
      secret("d2", { label: "Mail", url: "https://MAIL.example", tags: ["work"], createdAtMs: T0 + 2 }),
      secret("d3", { label: "Work mail", tags: ["Personal"], createdAtMs: T0 + 2 }),
      secret("d4", { label: "Other", createdAtMs: T0 + 3 }),
    ];
    for (const r of rows) s.vault.insert(r, version(r.id, 1));
    const ids = (terms: string[], after: { createdAtMs: number; id: string } | null = null, limit = 10) =>
      s.vault.search({ terms, after, limit }).map((r) => r.id);
    assert.deepEqual(ids([]), ["d4", "d3", "d2", "d1"]);
    assert.deepEqual(ids(["mail"]), ["d3", "d2"]);
    assert.deepEqual(ids(["mail", "work"]), ["d3", "d2"]);
    assert.deepEqual(ids(["alice"]), ["d1"]);
    assert.deepEqual(ids(["personal"]), ["d3"]);
    assert.deepEqual(ids(["nothing"]), []);
    assert.deepEqual(ids([], null, 2), ["d4", "d3"]);
    assert.deepEqual(ids([], { createdAtMs: T0 + 2, id: "d3" }, 2), ["d2", "d1"]);
    assert.deepEqual(ids(["mail"], { createdAtMs: T0 + 2, id: "d3" }), ["d2"]);
    assert.throws(() => s.vault.search({ terms: [], after: null, limit: 0 }), RangeError);
  });

  t("accountHistory() lists the receipts that touched an account, newest first, in pages", (s) => {
    s.putReceipts([receipt("t1", ["a", "b"]), receipt("t2", ["b"]), receipt("t3", ["a", "fee", "a"])]);
    s.putReceipts([receipt("t1", ["c"]), receipt("t4", ["a"])]); // t1 again: the first receipt and its history stay
    const ids = (account: string, before: number | null = null, limit = 10) =>
      s.accountHistory(account, before, limit).map((e) => e.receipt.txId);
    assert.deepEqual(ids("a"), ["t4", "t3", "t1"]);
    assert.deepEqual(ids("b"), ["t2", "t1"]);
    assert.deepEqual(ids("c"), []);
    assert.deepEqual(ids("fee"), ["t3"]);
    const page = s.accountHistory("a", null, 2);
    assert.deepEqual(page.map((e) => e.receipt.txId), ["t4", "t3"]);
    assert.ok(page[0].seq > page[1].seq);
    assert.deepEqual(ids("a", page[1].seq), ["t1"]);
    const { accounts: _, ...plain } = receipt("t3", []);
    assert.deepEqual(s.accountHistory("fee", null, 1)[0].receipt, plain);
    assert.deepEqual(s.getReceipt("t3"), plain);
    assert.throws(() => s.accountHistory("a", null, 0), RangeError);
    assert.throws(() => s.accountHistory("a", -1, 1), RangeError);
  });
}
