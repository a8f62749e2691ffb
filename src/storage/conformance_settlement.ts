/**
 * The settlement part of the conformance suite: receipts, cuts and their
 * statements, certificates and snapshots.
 */
import assert from "node:assert/strict";
import type { Storage, StoredCertificate, StoredCut, StoredReceipt } from "./types.ts";
import { assertStorageError, type ConformanceTarget, storeTest } from "./_conformance.ts";

function receipt(txId: string, fee: bigint, code = "ok"): StoredReceipt {
  return { txId, code, fee, ratePpb: 2_500, vertex: "v1", timeMs: 1_700_000_000_123 };
}

function cut(seq: number, frontier = [`f${seq}`]): StoredCut {
  return {
    seq,
    boundaryMs: seq * 1000,
    prevBoundaryMs: (seq - 1) * 1000,
    frontier,
    vertexCount: seq * 3,
    snapshotSafe: seq % 2 === 0,
    statement: null,
    digest: null,
    signature: null,
  };
}

const signer = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

function certificate(seq: number, digest: string, signers: number[]): StoredCertificate {
  return {
    seq,
    digest,
    statement: new TextEncoder().encode(`statement ${seq} ${digest}`),
    signatures: signers.map((n) => ({ validator: signer(n), signature: new Uint8Array(4627).fill(n) })),
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** Vertex v1, which the receipts' transactions name. */
function putVertexV1(s: Storage): void {
  s.putVertex({ id: "v1", bytes: bytes("v1"), author: "aa", round: 1n, parents: [], receivedAtMs: 1, timestampMs: 1 });
}

export function runSettlementConformance(target: ConformanceTarget): void {
  const t = storeTest(target);

  t("putReceipts() stores a batch; the first receipt of a transaction stays", (s) => {
    const u64Max = 2n ** 64n - 1n;
    s.putReceipts([receipt("t1", 0n), receipt("t2", u64Max, "insufficient_funds"), receipt("t1", 5n)]);
    s.putReceipts([receipt("t2", 7n), receipt("t3", 2n ** 53n + 1n)]);
    s.putReceipts([]);
    assert.deepEqual(s.getReceipt("t1"), receipt("t1", 0n));
    assert.deepEqual(s.getReceipt("t2"), receipt("t2", u64Max, "insufficient_funds"));
    assert.equal(s.getReceipt("t3")!.fee, 2n ** 53n + 1n);
    assert.equal(s.getReceipt("t9"), null);
  });

  t("txDecisionsAndReceipts() answers as getDecision() and getReceipt(), each id in its place", (s) => {
    putVertexV1(s);
    const stored = (id: string) =>
      s.putTransaction({ id, bytes: bytes(id), conflictKey: `acct:${id}`, vertex: "v1", receivedAtMs: 1 });
    // t1: stored, decided, applied. t2: decided and applied before it was stored. t3: stored, rejected.
    // t4: decided, never stored, no receipt. t5: stored only. t6: unknown.
    stored("t1");
    s.putDecision({ id: "t1", subject: "tx", status: "accepted", decidedAtMs: 1 });
    s.putReceipts([{ ...receipt("t1", 1n), vertex: "v1" }]);
    s.putDecision({ id: "t2", subject: "tx", status: "accepted", decidedAtMs: 1 });
    s.putReceipts([{ ...receipt("t2", 1n), vertex: "v2" }]);
    stored("t2");
    stored("t3");
    s.putDecision({ id: "t3", subject: "tx", status: "rejected", decidedAtMs: 2 });
    s.putDecision({ id: "t4", subject: "tx", status: "accepted", decidedAtMs: 2 });
    stored("t5");
    const ids = ["t6", "t1", "t2", "t3", "t4", "t5", "t1"];
    const got = s.txDecisionsAndReceipts(ids);
    assert.deepEqual(got, [
      { status: null, receiptVertex: null },
      { status: "accepted", receiptVertex: "v1" },
      { status: "accepted", receiptVertex: "v2" },
      { status: "rejected", receiptVertex: null },
      { status: "accepted", receiptVertex: null },
      { status: null, receiptVertex: null },
      { status: "accepted", receiptVertex: "v1" },
    ]);
    assert.deepEqual(
      got,
      ids.map((id) => ({
        status: s.getDecision(id)?.status ?? null,
        receiptVertex: s.getReceipt(id)?.vertex ?? null,
      })),
    );
    assert.deepEqual(s.txDecisionsAndReceipts([]), []);
  });

  t("a receipt stored before its transaction stays the one receipt once the transaction is stored", (s) => {
    s.putReceipts([{ ...receipt("t1", 3n), accounts: ["a"] }]);
    putVertexV1(s);
    s.putTransaction({ id: "t1", bytes: bytes("t1"), conflictKey: "acct:1", vertex: "v1", receivedAtMs: 1 });
    s.putTransaction({ id: "t2", bytes: bytes("t2"), conflictKey: "acct:2", vertex: "v1", receivedAtMs: 1 });
    s.putReceipts([{ ...receipt("t1", 4n), accounts: ["a"] }, { ...receipt("t2", 5n), accounts: ["a"] }]);
    s.putReceipts([{ ...receipt("t2", 6n), accounts: ["a"] }]);
    assert.equal(s.getReceipt("t1")!.fee, 3n);
    assert.equal(s.getReceipt("t2")!.fee, 5n);
    assert.deepEqual(s.accountHistory("a", null, 10).map((e) => [e.receipt.txId, e.receipt.fee]), [["t2", 5n], [
      "t1",
      3n,
    ]]);
  });

  t("putReceipts() refuses a fee outside u64 and then stores none of the batch", (s) => {
    assert.throws(() => s.putReceipts([receipt("t1", 1n), receipt("t2", 2n ** 64n)]), RangeError);
    assert.throws(() => s.putReceipts([receipt("t1", 1n), receipt("t2", -1n)]), RangeError);
    assert.throws(() => s.putReceipts([{ ...receipt("t1", 1n), ratePpb: 0.5 }]), RangeError);
    assert.equal(s.getReceipt("t1"), null);
  });

  t("putCut() accepts any first seq, then only the latest seq + 1", (s) => {
    assert.throws(() => s.putCut(cut(0)), RangeError);
    assert.throws(() => s.putCut(cut(1.5)), RangeError);
    s.putCut(cut(5)); // a node restored from a state sync at cut 5
    assertStorageError(() => s.putCut(cut(7)), "storage_conflict", /cut 7: the latest stored cut is 5.* must be 6/);
    assertStorageError(() => s.putCut(cut(5)), "storage_conflict", /cut 5: the latest stored cut is 5/);
    assertStorageError(() => s.putCut(cut(4)), "storage_conflict", /cut 4: the latest stored cut is 5/);
    s.putCut(cut(6));
    assert.deepEqual(s.latestCut(), cut(6));
    assert.deepEqual(s.getCut(5), cut(5));
  });

  t("getCut(), latestCut() and cutsFrom() read cuts back in seq order", (s) => {
    assert.equal(s.latestCut(), null);
    assert.equal(s.getCut(1), null);
    assert.deepEqual(s.cutsFrom(1), []);
    s.putCut(cut(1, []));
    s.putCut({ ...cut(2, ["aa", "bb"]), statement: bytes("st2"), digest: "d2", signature: bytes("sig2") });
    for (let seq = 3; seq <= 5; seq++) s.putCut(cut(seq));
    assert.deepEqual(s.getCut(1), cut(1, []));
    assert.deepEqual(s.getCut(2), {
      ...cut(2, ["aa", "bb"]),
      statement: bytes("st2"),
      digest: "d2",
      signature: bytes("sig2"),
    });
    assert.equal(s.getCut(6), null);
    assert.equal(s.latestCut()!.seq, 5);
    assert.deepEqual(s.cutsFrom(3).map((c) => c.seq), [3, 4, 5]);
    assert.deepEqual(s.cutsFrom(0).map((c) => c.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(s.cutsFrom(2, 2).map((c) => c.seq), [2, 3]);
    assert.deepEqual(s.cutsFrom(6), []);
    assert.deepEqual(s.cutsFrom(1, 0), []);
    assert.throws(() => s.cutsFrom(1, -1), RangeError);
    const read = s.getCut(2)!;
    read.statement![0] = 0;
    assert.deepEqual(s.getCut(2)!.statement, bytes("st2"), "a copy");
  });

  t("cutsFrom() returns at most 1,000 cuts by default", (s) => {
    s.transaction(() => {
      for (let seq = 1; seq <= 1001; seq++) s.putCut(cut(seq));
    });
    const page = s.cutsFrom(1);
    assert.equal(page.length, 1000);
    assert.equal(page[999].seq, 1000);
    assert.deepEqual(s.cutsFrom(1000).map((c) => c.seq), [1000, 1001]);
  });

  t("setCutStatement() sets a statement once; the same digest may add a signature later", (s) => {
    assertStorageError(() => s.setCutStatement(1, bytes("st"), "d1", null), "storage_conflict", /cut 1: no such cut/);
    s.putCut(cut(1));
    s.setCutStatement(1, bytes("st"), "d1", null);
    assert.deepEqual(s.getCut(1), { ...cut(1), statement: bytes("st"), digest: "d1", signature: null });
    s.setCutStatement(1, bytes("st"), "d1", bytes("sig-a"));
    s.setCutStatement(1, bytes("st"), "d1", bytes("sig-b"));
    s.setCutStatement(1, bytes("st"), "d1", null);
    assert.deepEqual(s.getCut(1)!.signature, bytes("sig-a"), "the first signature stays");
    assertStorageError(
      () => s.setCutStatement(1, bytes("other"), "d2", bytes("sig-c")),
      "storage_conflict",
      /cut 1 to digest d2: it already has digest d1/,
    );
    assert.deepEqual(s.getCut(1), { ...cut(1), statement: bytes("st"), digest: "d1", signature: bytes("sig-a") });
    s.putCut(cut(2));
    s.setCutStatement(2, bytes("st2"), "e2", bytes("sig"));
    assert.deepEqual(s.latestCut(), { ...cut(2), statement: bytes("st2"), digest: "e2", signature: bytes("sig") });
  });

  t("putCertificate() keeps the first certificate of a seq and refuses one with another digest", (s) => {
    assert.equal(s.getCertificate(1), null);
    assert.equal(s.latestCertificate(), null);
    s.putCertificate(certificate(1, "d1", [3, 1, 2]));
    const stored = s.getCertificate(1)!;
    assert.deepEqual(stored.signatures.map((x) => x.validator), [signer(1), signer(2), signer(3)]);
    assert.deepEqual(stored.signatures[0].signature, new Uint8Array(4627).fill(1));
    assert.deepEqual(stored.statement, bytes("statement 1 d1"));
    s.putCertificate(certificate(1, "d1", [4, 5, 6, 7]));
    assert.deepEqual(s.getCertificate(1), stored, "the first one stays");
    assertStorageError(
      () => s.putCertificate(certificate(1, "x1", [1, 2, 3])),
      "storage_conflict",
      /seq 1 with digest x1: one with digest d1 is stored/,
    );
    assert.deepEqual(s.getCertificate(1), stored);
    s.putCertificate(certificate(3, "d3", []));
    s.putCertificate(certificate(2, "d2", [9]));
    assert.equal(s.latestCertificate()!.seq, 3);
    assert.deepEqual(s.latestCertificate()!.signatures, []);
    assert.throws(() => s.putCertificate(certificate(0, "d0", [1])), RangeError);
    const badSigner = certificate(4, "d4", [1]);
    for (const validator of ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)]) {
      assert.throws(() => s.putCertificate({ ...badSigner, signatures: [{ validator, signature: bytes("s") }] }), {
        name: "RangeError",
        message: /signer/,
      });
    }
    assert.equal(s.getCertificate(4), null);
  });

  t("putSnapshot() keeps the newest `keep` snapshots", (s) => {
    assert.deepEqual(s.snapshotSeqs(), []);
    assert.equal(s.getSnapshot(1), null);
    s.putSnapshot(1, bytes("s1"), 2);
    s.putSnapshot(2, bytes("s2"), 2);
    s.putSnapshot(3, bytes("s3"), 2);
    assert.deepEqual(s.snapshotSeqs(), [3, 2]);
    assert.equal(s.getSnapshot(1), null);
    s.putSnapshot(3, bytes("s3 again"), 2);
    assert.deepEqual(s.getSnapshot(3), bytes("s3 again"));
    s.putSnapshot(1, bytes("old"), 2);
    assert.deepEqual(s.snapshotSeqs(), [3, 2], "an older snapshot than the newest `keep` is not kept");
    s.putSnapshot(5, bytes("s5"), 3);
    assert.deepEqual(s.snapshotSeqs(), [5, 3, 2]);
    s.putSnapshot(6, bytes("s6"), 1);
    assert.deepEqual(s.snapshotSeqs(), [6]);
    assert.throws(() => s.putSnapshot(7, bytes("s7"), 0), RangeError);
    assert.throws(() => s.putSnapshot(0, bytes("s0"), 1), RangeError);
    assert.deepEqual(s.snapshotSeqs(), [6]);
    const read = s.getSnapshot(6)!;
    read[0] = 0;
    assert.deepEqual(s.getSnapshot(6), bytes("s6"), "a copy");
  });

  t("transaction() rolls back receipts, cuts, statements, certificates and snapshots", (s) => {
    s.putCut(cut(1));
    s.putSnapshot(1, bytes("s1"), 1);
    assert.throws(() =>
      s.transaction(() => {
        s.putReceipts([receipt("t1", 1n)]);
        s.setCutStatement(1, bytes("st"), "d1", null);
        s.putCut(cut(2));
        s.putCertificate(certificate(1, "d1", [1]));
        s.putSnapshot(2, bytes("s2"), 1);
        throw new Error("boom");
      }), /boom/);
    assert.equal(s.getReceipt("t1"), null);
    assert.deepEqual(s.latestCut(), cut(1));
    assert.equal(s.latestCertificate(), null);
    assert.deepEqual(s.snapshotSeqs(), [1]);
    assert.deepEqual(s.getSnapshot(1), bytes("s1"));
  });

  if (target.reopen) {
    const reopen = target.reopen;
    Deno.test(`${target.name}: receipts, cuts, certificates and snapshots survive close and reopen`, () => {
      let s = target.open();
      s.putReceipts([receipt("t1", 2n ** 64n - 1n)]);
      s.putCut(cut(4));
      s.putCut(cut(5));
      s.setCutStatement(5, bytes("st5"), "d5", bytes("sig5"));
      s.putCertificate(certificate(5, "d5", [2, 1]));
      s.putSnapshot(4, bytes("s4"), 2);
      s.putSnapshot(5, bytes("s5"), 2);
      s = reopen(s);
      try {
        assert.deepEqual(s.getReceipt("t1"), receipt("t1", 2n ** 64n - 1n));
        assert.deepEqual(s.cutsFrom(1).map((c) => c.seq), [4, 5]);
        assert.deepEqual(s.latestCut(), { ...cut(5), statement: bytes("st5"), digest: "d5", signature: bytes("sig5") });
        assert.deepEqual(s.latestCertificate()!.signatures.map((x) => x.validator), [signer(1), signer(2)]);
        assert.deepEqual(s.snapshotSeqs(), [5, 4]);
        assert.deepEqual(s.getSnapshot(4), bytes("s4"));
        assertStorageError(() => s.putCut(cut(7)), "storage_conflict", /latest stored cut is 5/);
        assertStorageError(() => s.putCertificate(certificate(5, "x5", [1])), "storage_conflict");
      } finally {
        s.close();
        target.dispose?.(s);
      }
    });
  }
}
