/**
 * The shared conformance suite: every Storage implementation must pass it.
 * `open` returns a fresh, empty store; `reopen`, when given, closes and opens
 * the same store again so persistence is checked too.
 */
import assert from "node:assert/strict";
import { type Storage, StorageError, type StoredVertex } from "./types.ts";

export interface ConformanceTarget {
  name: string;
  open(): Storage;
  reopen?(s: Storage): Storage;
}

function vertex(id: string, parents: string[], round = 1n): StoredVertex {
  return {
    id,
    bytes: new TextEncoder().encode(`vertex ${id}`),
    author: "aa".repeat(32),
    round,
    parents,
    receivedAtMs: 1_700_000_000_000,
  };
}

export function runStorageConformance(target: ConformanceTarget): void {
  const t = (name: string, fn: (s: Storage) => void) =>
    Deno.test(`${target.name}: ${name}`, () => {
      const s = target.open();
      try {
        fn(s);
      } finally {
        s.close();
      }
    });

  t("getMeta() returns null for a missing key and the last value set", (s) => {
    assert.equal(s.getMeta("k"), null);
    s.setMeta("k", "1");
    s.setMeta("k", "2");
    assert.equal(s.getMeta("k"), "2");
  });

  t("putVertex() stores once and is idempotent", (s) => {
    assert.equal(s.putVertex(vertex("01", [])), true);
    assert.equal(s.putVertex(vertex("01", [])), false);
    assert.equal(s.vertexCount(), 1);
    const v = s.getVertex("01")!;
    assert.equal(v.id, "01");
    assert.equal(v.round, 1n);
    assert.deepEqual(v.bytes, new TextEncoder().encode("vertex 01"));
    assert.equal(s.getVertex("02"), null);
  });

  t("getVertex() returns parents sorted and a copy of the bytes", (s) => {
    s.putVertex(vertex("03", ["02", "01"], 2n ** 40n));
    const v = s.getVertex("03")!;
    assert.deepEqual(v.parents, ["01", "02"]);
    assert.equal(v.round, 2n ** 40n);
    v.bytes[0] ^= 0xff;
    assert.deepEqual(s.getVertex("03")!.bytes, new TextEncoder().encode("vertex 03"));
  });

  t("children() lists every child of a vertex, sorted", (s) => {
    s.putVertex(vertex("01", []));
    s.putVertex(vertex("0c", ["01"]));
    s.putVertex(vertex("0b", ["01"]));
    s.putVertex(vertex("0d", ["0b", "0c"]));
    assert.deepEqual(s.children("01"), ["0b", "0c"]);
    assert.deepEqual(s.children("0b"), ["0d"]);
    assert.deepEqual(s.children("0d"), []);
  });

  t("tips() lists vertices without children; vertexIdsInOrder() puts parents first", (s) => {
    assert.deepEqual(s.tips(), []);
    s.putVertex(vertex("0a", [], 0n));
    s.putVertex(vertex("09", [], 0n));
    assert.deepEqual(s.tips(), ["09", "0a"]);
    s.putVertex(vertex("01", ["09", "0a"], 1n));
    s.putVertex(vertex("ff", ["0a"], 1n));
    s.putVertex(vertex("00", ["01", "ff"], 2n));
    assert.deepEqual(s.tips(), ["00"]);
    assert.deepEqual(s.vertexIdsInOrder(), ["09", "0a", "01", "ff", "00"]);
  });

  t("putTransaction() stores once; conflicting() groups by conflict key", (s) => {
    const tx = (id: string, key: string) => ({
      id,
      bytes: new TextEncoder().encode(`tx ${id}`),
      conflictKey: key,
      vertex: "01",
      receivedAtMs: 7,
    });
    assert.equal(s.putTransaction(tx("t2", "acct:1")), true);
    assert.equal(s.putTransaction(tx("t2", "acct:1")), false);
    s.putTransaction(tx("t1", "acct:1"));
    s.putTransaction(tx("t3", "acct:2"));
    assert.deepEqual(s.conflicting("acct:1"), ["t1", "t2"]);
    assert.deepEqual(s.getTransaction("t3")!.bytes, new TextEncoder().encode("tx t3"));
    assert.equal(s.getTransaction("t3")!.conflictKey, "acct:2");
    assert.equal(s.getTransaction("nope"), null);
  });

  t("putDecision() is final: same status is a no-op, a different one is refused", (s) => {
    s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 5 });
    s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 9 });
    assert.equal(s.getDecision("t1")!.decidedAtMs, 5);
    assert.throws(
      () => s.putDecision({ id: "t1", subject: "tx", status: "rejected", decidedAtMs: 6 }),
      (e: unknown) => e instanceof StorageError && e.code === "storage_conflict",
    );
    s.putDecision({ id: "t2", subject: "tx", status: "rejected", decidedAtMs: 7 });
    assert.deepEqual(s.decisionCounts(), { accepted: 1, rejected: 1 });
    assert.deepEqual(s.allDecisions().map((d) => [d.id, d.status]), [["t1", "accepted"], ["t2", "rejected"]]);
    assert.equal(s.getDecision("nope"), null);
  });

  t("transaction() rolls back every write when fn throws", (s) => {
    s.setMeta("k", "before");
    assert.throws(() =>
      s.transaction(() => {
        s.setMeta("k", "inside");
        s.putVertex(vertex("01", []));
        s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 1 });
        throw new Error("boom");
      }), /boom/);
    assert.equal(s.getMeta("k"), "before");
    assert.equal(s.vertexCount(), 0);
    assert.equal(s.getDecision("t1"), null);
  });

  t("transaction() commits and returns fn's value; nested calls join it", (s) => {
    const r = s.transaction(() => {
      s.setMeta("a", "1");
      try {
        s.transaction(() => {
          s.setMeta("b", "2");
          throw new Error("inner");
        });
      } catch { /* inner rolled back alone */ }
      return 42;
    });
    assert.equal(r, 42);
    assert.equal(s.getMeta("a"), "1");
    assert.equal(s.getMeta("b"), null);
  });

  t("checkWritable() passes on an open store", (s) => {
    s.checkWritable();
  });

  Deno.test(`${target.name}: a closed store refuses calls with storage_closed`, () => {
    const s = target.open();
    s.close();
    assert.throws(() => s.getMeta("k"), (e: unknown) => e instanceof StorageError && e.code === "storage_closed");
  });

  if (target.reopen) {
    const reopen = target.reopen;
    Deno.test(`${target.name}: data survives close and reopen`, () => {
      let s = target.open();
      s.setMeta("k", "v");
      s.putVertex(vertex("01", []));
      s.putVertex(vertex("02", ["01"]));
      s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 3 });
      s = reopen(s);
      try {
        assert.equal(s.getMeta("k"), "v");
        assert.deepEqual(s.children("01"), ["02"]);
        assert.equal(s.getDecision("t1")!.status, "accepted");
      } finally {
        s.close();
      }
    });
  }
}
