/**
 * The shared conformance suite: every Storage implementation must pass it.
 * This file holds the DAG part (meta, vertices, transactions, decisions,
 * counters, transaction()) and runs the settlement part
 * (conformance_settlement.ts) too.
 */
import assert from "node:assert/strict";
import { carriedOffsets } from "./embedded.ts";
import { StorageError } from "./types.ts";
import {
  accept,
  assertStorageError,
  BASE_MS,
  type ConformanceTarget,
  reject,
  storeTest,
  tx,
  vertex,
} from "./_conformance.ts";
import { runSettlementConformance } from "./conformance_settlement.ts";
import { runVaultConformance } from "./conformance_vault.ts";

export type { ConformanceTarget } from "./_conformance.ts";

export function runStorageConformance(target: ConformanceTarget): void {
  runDagConformance(target);
  runSettlementConformance(target);
  runVaultConformance(target);
}

function runDagConformance(target: ConformanceTarget): void {
  const t = storeTest(target);

  t("getMeta() returns null for a missing key and the last value set", (s) => {
    assert.equal(s.getMeta("k"), null);
    s.setMeta("k", "1");
    s.setMeta("k", "2");
    assert.equal(s.getMeta("k"), "2");
  });

  t("putVertex() stores once and is idempotent", (s) => {
    assert.equal(s.putVertex(vertex("01", [], 1n, BASE_MS + 5)), true);
    assert.equal(s.putVertex(vertex("01", [], 1n, BASE_MS + 9)), false);
    assert.equal(s.vertexCount(), 1);
    const v = s.getVertex("01")!;
    assert.equal(v.id, "01");
    assert.equal(v.round, 1n);
    assert.equal(v.timestampMs, BASE_MS + 5);
    assert.equal(v.receivedAtMs, BASE_MS);
    assert.deepEqual(v.bytes, new TextEncoder().encode("vertex 01"));
    assert.equal(s.getVertex("02"), null);
  });

  t("getVertex() returns bytes of their own: a change to one read shows in no other", (s) => {
    s.putVertex(vertex("01", [], 1n, BASE_MS + 5));
    const first = s.getVertex("01")!.bytes;
    first[0] ^= 0xff;
    assert.deepEqual(s.getVertex("01")!.bytes, new TextEncoder().encode("vertex 01"));
    assert.equal(first.byteOffset, 0);
    assert.equal(first.buffer.byteLength, first.byteLength, "not a view of a larger (shared) buffer");
  });

  t("putVertex() refuses a timestamp that is not a safe integer", (s) => {
    for (const ts of [1.5, NaN, 2 ** 53, undefined as unknown as number]) {
      assert.throws(() => s.putVertex({ ...vertex("01", []), timestampMs: ts }), RangeError);
    }
    assert.equal(s.vertexCount(), 0);
    assert.equal(s.getVertex("01"), null);
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

  // Inserted out of order; (timestamp, round, id) puts every parent first.
  const dag = [
    vertex("e0", ["c0", "d0"], 3n, BASE_MS + 20),
    vertex("c0", ["a0", "b0"], 2n, BASE_MS + 10),
    vertex("d0", ["b0"], 2n, BASE_MS + 20),
    vertex("b0", [], 1n, BASE_MS + 10),
    vertex("a0", [], 1n, BASE_MS),
    vertex("ff", ["a0"], 2n, BASE_MS + 10),
  ];
  const ordered = ["a0", "b0", "c0", "ff", "d0", "e0"];

  t("verticesFrom() lists vertices at or above a timestamp in (timestamp, round, id) order", (s) => {
    assert.deepEqual(s.verticesFrom(0), []);
    for (const v of dag) s.putVertex(v);
    assert.deepEqual(s.verticesFrom(0), ordered);
    assert.deepEqual(s.verticesFrom(BASE_MS), ordered);
    assert.deepEqual(s.verticesFrom(BASE_MS + 1), ["b0", "c0", "ff", "d0", "e0"]);
    assert.deepEqual(s.verticesFrom(BASE_MS + 10), ["b0", "c0", "ff", "d0", "e0"]);
    assert.deepEqual(s.verticesFrom(BASE_MS + 20), ["d0", "e0"]);
    assert.deepEqual(s.verticesFrom(BASE_MS + 21), []);
    for (const [i, id] of ordered.entries()) {
      for (const p of s.getVertex(id)!.parents) assert.ok(ordered.indexOf(p) < i, `${p} before ${id}`);
    }
  });

  t("acceptedVerticesFrom() and acceptedVerticesBetween() list accepted vertices only, parents first", (s) => {
    for (const v of dag) s.putVertex(v);
    for (const id of ["a0", "b0", "c0", "d0"]) accept(s, id);
    reject(s, "ff");
    // e0 is undecided.
    assert.deepEqual(s.acceptedVerticesFrom(0), ["a0", "b0", "c0", "d0"]);
    assert.deepEqual(s.acceptedVerticesFrom(BASE_MS + 10), ["b0", "c0", "d0"]);
    assert.deepEqual(s.acceptedVerticesFrom(BASE_MS + 21), []);
    assert.deepEqual(s.acceptedVerticesBetween(BASE_MS, BASE_MS + 20), ["a0", "b0", "c0"]);
    assert.deepEqual(s.acceptedVerticesBetween(BASE_MS + 10, BASE_MS + 11), ["b0", "c0"]);
    assert.deepEqual(s.acceptedVerticesBetween(BASE_MS + 20, BASE_MS + 20), []);
    assert.deepEqual(s.acceptedVerticesBetween(BASE_MS + 20, BASE_MS), []);
    accept(s, "e0");
    assert.deepEqual(s.acceptedVerticesBetween(BASE_MS + 20, BASE_MS + 21), ["d0", "e0"]);
  });

  t("vertexTimestamp() returns a stored vertex's timestamp, or null", (s) => {
    s.putVertex(vertex("01", [], 1n, 0));
    s.putVertex(vertex("02", ["01"], 2n, BASE_MS));
    assert.equal(s.vertexTimestamp("01"), 0);
    assert.equal(s.vertexTimestamp("02"), BASE_MS);
    assert.equal(s.vertexTimestamp("03"), null);
  });

  t("setVertexTimestamp() accepts the timestamp a vertex has and refuses another or an unknown vertex", (s) => {
    assert.deepEqual(s.vertexIdsWithoutTimestamp(10), []);
    s.putVertex(vertex("01", [], 1n, BASE_MS));
    assert.deepEqual(s.vertexIdsWithoutTimestamp(10), []);
    s.setVertexTimestamp("01", BASE_MS);
    assertStorageError(
      () => s.setVertexTimestamp("01", BASE_MS + 1),
      "storage_conflict",
      /vertex 01.*is 1700000000000/,
    );
    assertStorageError(() => s.setVertexTimestamp("02", BASE_MS), "storage_conflict", /vertex 02: it is not stored/);
    assert.throws(() => s.setVertexTimestamp("01", 0.5), RangeError);
    assert.throws(() => s.vertexIdsWithoutTimestamp(-1), RangeError);
    assert.equal(s.vertexTimestamp("01"), BASE_MS);
  });

  t("pruneVertexBodies() empties the bytes below a timestamp and keeps everything else", (s) => {
    for (const v of dag) s.putVertex(v);
    accept(s, "a0");
    reject(s, "ff");
    assert.equal(s.pruneVertexBodies(BASE_MS), 0);
    assert.equal(s.pruneVertexBodies(BASE_MS + 20), 4);
    assert.equal(s.pruneVertexBodies(BASE_MS + 20), 0, "already pruned");
    for (const id of ["a0", "b0", "c0", "ff"]) {
      const v = s.getVertex(id)!;
      assert.equal(v.bytes.length, 0, id);
      assert.equal(v.timestampMs, dag.find((d) => d.id === id)!.timestampMs);
    }
    for (const id of ["d0", "e0"]) assert.deepEqual(s.getVertex(id)!.bytes, new TextEncoder().encode(`vertex ${id}`));
    assert.deepEqual(s.getVertex("c0")!.parents, ["a0", "b0"]);
    assert.deepEqual(s.children("a0"), ["c0", "ff"]);
    assert.equal(s.getDecision("a0")!.status, "accepted");
    assert.equal(s.vertexCount(), 6);
    assert.deepEqual(s.verticesFrom(0), ordered);
    assert.deepEqual(s.acceptedVerticesFrom(0), ["a0"]);
    assert.equal(s.putVertex(dag[4]), false, "a pruned vertex is still stored");
    assert.equal(s.getVertex("a0")!.bytes.length, 0);
    assert.equal(s.pruneVertexBodies(BASE_MS + 21), 2);
  });

  t("vertexCount() and the decision counters follow inserts and decisions, not repeats or rollbacks", (s) => {
    const zero = { tx: { accepted: 0, rejected: 0 }, vertex: { accepted: 0, rejected: 0 } };
    assert.equal(s.vertexCount(), 0);
    assert.deepEqual(s.decisionCounts(), { accepted: 0, rejected: 0 });
    assert.deepEqual(s.decisionCountsBySubject(), zero);
    for (const v of dag) s.putVertex(v);
    s.putVertex(dag[0]);
    assert.equal(s.vertexCount(), 6);
    accept(s, "a0");
    accept(s, "a0");
    accept(s, "b0");
    reject(s, "ff");
    accept(s, "t1", "tx");
    reject(s, "t2", "tx");
    reject(s, "t3", "tx");
    assert.throws(() => reject(s, "a0"), StorageError);
    assert.throws(() =>
      s.transaction(() => {
        s.putVertex(vertex("99", [], 9n, BASE_MS + 99));
        accept(s, "c0");
        reject(s, "t4", "tx");
        throw new Error("boom");
      }), /boom/);
    assert.equal(s.vertexCount(), 6);
    assert.deepEqual(s.decisionCounts(), { accepted: 3, rejected: 3 });
    assert.deepEqual(s.decisionCountsBySubject(), {
      tx: { accepted: 1, rejected: 2 },
      vertex: { accepted: 2, rejected: 1 },
    });
    const counts = s.decisionCountsBySubject();
    counts.tx.accepted = 100;
    assert.equal(s.decisionCountsBySubject().tx.accepted, 1, "a copy");
  });

  t("putTransaction() stores once; conflicting() groups by conflict key", (s) => {
    assert.equal(s.putTransaction(tx("t2", "acct:1")), true);
    assert.equal(s.putTransaction(tx("t2", "acct:1")), false);
    s.putTransaction(tx("t1", "acct:1"));
    s.putTransaction(tx("t3", "acct:2"));
    assert.deepEqual(s.conflicting("acct:1"), ["t1", "t2"]);
    assert.deepEqual(s.conflicting("acct:9"), []);
    assert.deepEqual(s.getTransaction("t3")!.bytes, new TextEncoder().encode("tx t3"));
    assert.equal(s.getTransaction("t3")!.conflictKey, "acct:2");
    assert.equal(s.getTransaction("nope"), null);
  });

  t("putTransaction() records every carrier; carriersOfConflict() and vertexLinks() read them without bytes", (s) => {
    s.putVertex(vertex("01", [], 1n, BASE_MS + 1));
    s.putVertex(vertex("02", ["01"], 2n, BASE_MS + 2));
    s.putVertex(vertex("03", ["01", "02"], 3n, BASE_MS + 3));
    assert.equal(s.putTransaction(tx("t1", "acct:1", "02")), true);
    // The same transaction again in another vertex: stored once, carried twice.
    assert.equal(s.putTransaction(tx("t1", "acct:1", "01")), false);
    assert.equal(s.putTransaction(tx("t1", "acct:1", "01")), false);
    s.putTransaction(tx("t2", "acct:1", "03"));
    s.putTransaction(tx("t3", "acct:2", "03"));
    assert.equal(s.getTransaction("t1")!.vertex, "02", "the first carrier stays");
    assert.deepEqual(s.carriersOfConflict("acct:1"), [
      { vertex: "01", timestampMs: BASE_MS + 1 },
      { vertex: "02", timestampMs: BASE_MS + 2 },
      { vertex: "03", timestampMs: BASE_MS + 3 },
    ]);
    assert.deepEqual(s.carriersOfConflict("acct:9"), []);
    // Each transaction once, sorted, however many vertices carry it.
    assert.deepEqual(s.conflicting("acct:1"), ["t1", "t2"]);
    s.putDecision({ id: "t2", subject: "tx", status: "accepted", decidedAtMs: BASE_MS });
    assert.equal(s.acceptedOfConflict("acct:1"), "t2");
    assert.equal(s.acceptedOfConflict("acct:2"), null);
    assert.deepEqual(s.vertexLinks("03"), { parents: ["01", "02"], timestampMs: BASE_MS + 3 });
    assert.deepEqual(s.vertexLinks("01"), { parents: [], timestampMs: BASE_MS + 1 });
    assert.equal(s.vertexLinks("99"), null);
  });

  t("putTransaction() with inVertexAt reads its bytes back from its vertex, before and after pruning", (s) => {
    const enc = (text: string) => new TextEncoder().encode(text);
    const txs = [enc("tx alpha"), enc("tx beta"), enc("tx alpha")];
    const body = { ...vertex("01", [], 1n, BASE_MS + 1), bytes: enc("head|tx alpha|tx beta|tx alpha|tail") };
    s.putVertex(body);
    s.putVertex(vertex("02", ["01"], 2n, BASE_MS + 30));
    const offsets = carriedOffsets(body.bytes, txs);
    assert.deepEqual(offsets, [5, 14, 22]);
    txs.forEach((bytes, i) =>
      s.putTransaction({ ...tx(`t${i}`, `acct:${i}`), bytes, inVertexAt: offsets[i], vertex: "01" })
    );
    // Not found in its vertex (-1): stored whole.
    s.putTransaction({ ...tx("t9", "acct:9", "02"), inVertexAt: -1 });
    const read = () => ["t0", "t1", "t2", "t9"].map((id) => new TextDecoder().decode(s.getTransaction(id)!.bytes));
    assert.deepEqual(read(), ["tx alpha", "tx beta", "tx alpha", "tx t9"]);
    assert.equal(s.getTransaction("t1")!.inVertexAt, undefined, "where the bytes sit is storage's business");
    assert.equal(s.pruneVertexBodies(BASE_MS + 31), 2);
    assert.equal(s.getVertex("01")!.bytes.length, 0);
    assert.deepEqual(read(), ["tx alpha", "tx beta", "tx alpha", "tx t9"], "pruning keeps transactions' bytes");
  });

  t("acceptedOfConflict() returns the accepted transaction of a conflict key, or null", (s) => {
    for (const [id, key] of [["t1", "acct:1"], ["t2", "acct:1"], ["t3", "acct:1"], ["t4", "acct:2"]]) {
      s.putTransaction(tx(id, key));
    }
    assert.equal(s.acceptedOfConflict("acct:1"), null);
    reject(s, "t1", "tx");
    assert.equal(s.acceptedOfConflict("acct:1"), null);
    accept(s, "t3", "tx");
    assert.equal(s.acceptedOfConflict("acct:1"), "t3");
    assert.equal(s.acceptedOfConflict("acct:2"), null);
    assert.equal(s.acceptedOfConflict("acct:9"), null);
    accept(s, "t9", "tx"); // decided, never stored as a transaction
    assert.equal(s.acceptedOfConflict("acct:1"), "t3");
  });

  t("putPreferences() sets, replaces and drops rows in order; preferences() lists them by conflict key", (s) => {
    assert.deepEqual(s.preferences(), []);
    s.putPreferences([
      { conflictKey: "acct:2", member: "t2@v1" },
      { conflictKey: "acct:1", member: "t1@v1" },
      { conflictKey: "acct:2", member: "t3@v2" },
    ]);
    assert.deepEqual(s.preferences(), [
      { conflictKey: "acct:1", member: "t1@v1" },
      { conflictKey: "acct:2", member: "t3@v2" },
    ]);
    s.putPreferences([{ conflictKey: "acct:1", member: null }, { conflictKey: "acct:9", member: null }]);
    assert.deepEqual(s.preferences(), [{ conflictKey: "acct:2", member: "t3@v2" }]);
    s.putPreferences([]);
    assert.equal(s.preferences().length, 1);
  });

  t("putDecision() is final: same status is a no-op, a different one is refused; true only when new", (s) => {
    assert.equal(s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 5 }), true);
    assert.equal(s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 9 }), false);
    assert.equal(s.getDecision("t1")!.decidedAtMs, 5);
    assertStorageError(
      () => s.putDecision({ id: "t1", subject: "tx", status: "rejected", decidedAtMs: 6 }),
      "storage_conflict",
      /tx t1 was already accepted; cannot record it as rejected/,
    );
    s.putDecision({ id: "t2", subject: "tx", status: "rejected", decidedAtMs: 7 });
    assert.deepEqual(s.decisionCounts(), { accepted: 1, rejected: 1 });
    assert.deepEqual(s.allDecisions().map((d) => [d.id, d.status]), [["t1", "accepted"], ["t2", "rejected"]]);
    assert.equal(s.getDecision("nope"), null);
  });

  t(
    "a transaction decided before it is stored keeps that one decision once stored, and is decided again after",
    (s) => {
      assert.equal(s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 5 }), true);
      s.putVertex(vertex("01", []));
      s.putTransaction(tx("t1", "acct:1"));
      s.putTransaction(tx("t2", "acct:1"));
      assert.equal(s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 9 }), false);
      assertStorageError(
        () => s.putDecision({ id: "t1", subject: "tx", status: "rejected", decidedAtMs: 9 }),
        "storage_conflict",
        /tx t1 was already accepted/,
      );
      assert.equal(s.getDecision("t1")!.decidedAtMs, 5);
      assert.equal(s.acceptedOfConflict("acct:1"), "t1");
      // Stored first, then decided.
      assert.equal(s.putDecision({ id: "t2", subject: "tx", status: "rejected", decidedAtMs: 7 }), true);
      assert.equal(s.putDecision({ id: "t2", subject: "tx", status: "rejected", decidedAtMs: 8 }), false);
      assert.deepEqual(s.getDecision("t2"), { id: "t2", subject: "tx", status: "rejected", decidedAtMs: 7 });
      assert.deepEqual(s.decisionCountsBySubject().tx, { accepted: 1, rejected: 1 });
      assert.deepEqual(s.allDecisions().map((d) => d.id), ["t1", "t2"]);
    },
  );

  t("putDecision() inside a transaction: the same answers, and a refusal undoes the transaction", (s) => {
    const news = s.transaction(() => [
      s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 5 }),
      s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 9 }),
      s.putDecision({ id: "v1", subject: "vertex", status: "accepted", decidedAtMs: 5 }),
    ]);
    assert.deepEqual(news, [true, false, true]);
    assertStorageError(
      () =>
        s.transaction(() => {
          s.putDecision({ id: "t2", subject: "tx", status: "accepted", decidedAtMs: 6 });
          s.putDecision({ id: "t1", subject: "tx", status: "rejected", decidedAtMs: 6 });
        }),
      "storage_conflict",
      /tx t1 was already accepted; cannot record it as rejected/,
    );
    assert.equal(s.getDecision("t2"), null);
    assert.equal(s.getDecision("t1")!.decidedAtMs, 5);
    assert.deepEqual(s.decisionCountsBySubject(), {
      tx: { accepted: 1, rejected: 0 },
      vertex: { accepted: 1, rejected: 0 },
    });
  });

  t("transaction() rolls back every write when fn throws", (s) => {
    s.setMeta("k", "before");
    s.putVertex(vertex("00", [], 0n, BASE_MS));
    assert.throws(() =>
      s.transaction(() => {
        s.setMeta("k", "inside");
        s.putVertex(vertex("01", ["00"]));
        s.putTransaction(tx("t1", "acct:1"));
        s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 1 });
        s.pruneVertexBodies(BASE_MS + 1);
        throw new Error("boom");
      }), /boom/);
    assert.equal(s.getMeta("k"), "before");
    assert.equal(s.vertexCount(), 1);
    assert.deepEqual(s.children("00"), []);
    assert.equal(s.getDecision("t1"), null);
    assert.deepEqual(s.conflicting("acct:1"), []);
    assert.equal(s.getVertex("00")!.bytes.length, 9);
    assert.deepEqual(s.verticesFrom(0), ["00"]);
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
    target.dispose?.(s);
    for (
      const call of [
        () => s.getMeta("k"),
        () => s.vertexCount(),
        () => s.verticesFrom(0),
        () => s.decisionCountsBySubject(),
        () => s.latestCut(),
        () => s.snapshotSeqs(),
        () => s.transaction(() => 1),
      ]
    ) assertStorageError(call, "storage_closed");
  });

  if (target.reopen) {
    const reopen = target.reopen;
    Deno.test(`${target.name}: the DAG, its counters and pruned bodies survive close and reopen`, () => {
      let s = target.open();
      s.setMeta("k", "v");
      for (const v of dag) s.putVertex(v);
      accept(s, "a0");
      reject(s, "ff");
      s.putTransaction(tx("t1", "acct:1"));
      accept(s, "t1", "tx");
      s.pruneVertexBodies(BASE_MS + 10);
      s = reopen(s);
      try {
        assert.equal(s.getMeta("k"), "v");
        assert.deepEqual(s.children("a0"), ["c0", "ff"]);
        assert.equal(s.getDecision("a0")!.status, "accepted");
        assert.equal(s.vertexCount(), 6);
        assert.deepEqual(s.decisionCountsBySubject(), {
          tx: { accepted: 1, rejected: 0 },
          vertex: { accepted: 1, rejected: 1 },
        });
        assert.deepEqual(s.verticesFrom(0), ordered);
        assert.equal(s.getVertex("a0")!.bytes.length, 0);
        assert.equal(s.getVertex("b0")!.bytes.length, 9);
        assert.equal(s.vertexTimestamp("e0"), BASE_MS + 20);
        assert.equal(s.acceptedOfConflict("acct:1"), "t1");
        s.putVertex(vertex("f1", ["e0"], 4n, BASE_MS + 30));
        assert.equal(s.vertexCount(), 7);
      } finally {
        s.close();
        target.dispose?.(s);
      }
    });
  }
}
