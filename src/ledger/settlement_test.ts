/**
 * Settlement end to end through LedgerService (wasm/LEDGER.md, "What the host
 * must do"; src/consensus/cut.ts): vertices arrive through onDecisions, cuts
 * are recorded in storage (as a node's consensus does) and then folded with
 * onCut, snapshots are taken, and restore() restarts from them. Transactions
 * carry zero signatures and a verifier that accepts everything (the service's
 * signature path is covered in service_test.ts); vertices carry zero
 * signatures (the service never checks them).
 */
import assert from "node:assert/strict";
import { MemoryStorage, type Storage } from "../storage/mod.ts";
import { DagWriter, roleKeys, RUV, T0 } from "./_testing.ts";
import { type CutFold, type LedgerDecisionInput, LedgerService } from "./mod.ts";
import {
  accept,
  ancestorsOf,
  assertInStep,
  coreLedger,
  createTx,
  creationOrder,
  CutBook,
  dataTx,
  FakeKey,
  fakeKey,
  fakeTx,
  hashesOf,
  lanesPlan,
  ledgerService,
  shuffledOrder,
  SimNode,
  T0_MS,
  txIdOf,
  vertexDecision,
  writePlan,
} from "./_settlement_testing.ts";

// ------------------------------------------------------------ 1. wide concurrency

Deno.test("LedgerService: a vertex concurrent to 4,096 state-changing vertices applies, and two services that applied them in different orders agree", async () => {
  const n = 4_096;
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const txs: Uint8Array[] = [];
  const ids: string[] = [];
  const keys: FakeKey[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(fakeKey(10_000 + i));
    txs.push(createTx(keys[i], `user-${i}`));
    ids.push(writer.vertex([], [txs[i]], T0 + BigInt(i)));
    accept(storage, ids[i], [txIdOf(txs[i])]);
  }
  // Concurrent to all of them: it must not see their claims, so its claim of user-17's name is ok (both own it
  // then; the smaller id is the owner), as a core's concurrent name claims are.
  const rivalKey = fakeKey(20_000);
  const rivalTx = createTx(rivalKey, "user-17");
  const rival = writer.vertex([], [rivalTx], T0 + BigInt(n));
  accept(storage, rival, [txIdOf(rivalTx)]);
  const allTxs = [...txs, rivalTx];

  const run = async (order: readonly string[]) => {
    const s = ledgerService(storage);
    await s.onDecisions(order.map(vertexDecision));
    return s;
  };
  const a = await run([...ids, rival]);
  const b = await run([rival, ...ids.toReversed()]);
  try {
    assertInStep(a);
    assertInStep(b);
    assert.equal(a.concurrentOf(rival)?.length, n, "the last vertex saw every other one as concurrent");
    assert.equal(b.concurrentOf(ids[0])?.length, n, "in the reversed order the first genesis vertex is the last");
    const receiptsA = allTxs.map((tx) => a.receipt(txIdOf(tx)));
    const receiptsB = allTxs.map((tx) => b.receipt(txIdOf(tx)));
    assert.deepEqual(receiptsA.map((r) => r?.code), allTxs.map(() => "ok"));
    assert.deepEqual(receiptsB, receiptsA);
    assert.equal(a.status().accountCount, 5 + n + 1);
    assert.equal(b.stateHash().toHex(), a.stateHash().toHex());
    // Both claims stand; the name belongs to the smaller id, in either order.
    const owner = keys[17].id.toHex() < rivalKey.id.toHex() ? keys[17].id : rivalKey.id;
    for (const s of [a, b]) {
      assert.equal(s.account("user-17")?.id.toHex(), owner.toHex());
      assert.equal(s.account(rivalKey.id.toHex())?.name, "user-17");
      assert.equal(s.account(keys[17].id.toHex())?.name, "user-17");
    }
  } finally {
    a.close();
    b.close();
  }
});

// ------------------------------------------------------------ 2. bounded over a long chain, restart from a snapshot

const LONG_VERTICES = 70_000;
const LONG_WIDTH = 4;
const LONG_LAYER_MS = 4;
const LONG_INTERVAL_MS = 1_000;
const LONG_LAG_MS = 250;
const LONG_SNAPSHOT_EVERY = 8;
/** Bound on the journal, the concurrency records and the core's receipts: about two cuts and a lag of vertices. */
const LONG_HELD_MAX = 2_500;

async function longRun(storage: Storage) {
  const layers = LONG_VERTICES / LONG_WIDTH;
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const live = ledgerService(storage, { snapshotEvery: LONG_SNAPSHOT_EVERY });
  const book = new CutBook();
  const keys = Array.from({ length: LONG_WIDTH }, (_, i) => fakeKey(1_000 + i));
  const nonces = keys.map(() => 1n);
  const master = roleKeys().master;
  const startMs = T0_MS + 500;
  /** Transactions of the first layers, of layer 50 and of the last one: their receipts are checked after the restart. */
  const watched: { txId: string; vertex: string }[] = [];
  const txOf = (layer: number, lane: number): Uint8Array => {
    if (layer === 0) return createTx(keys[lane], `lane-${lane}`);
    if (lane === 0 && layer <= LONG_WIDTH) {
      return fakeTx(master, BigInt(layer - 1), { kind: "mint", to: keys[layer - 1].id, amount: 1_000_000n * RUV });
    }
    if (layer % 100 === 50) {
      const to = keys[(lane + 1) % LONG_WIDTH].id;
      return fakeTx(keys[lane], nonces[lane]++, { kind: "transfer", to, amount: RUV, memo: new Uint8Array() });
    }
    return dataTx(keys[lane], nonces[lane]++);
  };

  let prevLayer: string[] = [];
  let pending: { id: string; parents: string[]; timestampMs: number }[] = [];
  let decisions: LedgerDecisionInput[] = [];
  let boundaryMs = T0_MS + LONG_INTERVAL_MS;
  let prevBoundaryMs = 0;
  let seq = 0;
  const folds: CutFold[] = [];
  const held = { journal: 0, vertices: 0, receipts: 0, afterFold: 0 };
  const note = () => {
    const s = live.status();
    held.journal = Math.max(held.journal, s.journalVertices);
    held.vertices = Math.max(held.vertices, live.verticesHeld);
    held.receipts = Math.max(held.receipts, s.resultCount);
  };
  const flush = async () => {
    await live.onDecisions(decisions);
    decisions = [];
    note();
  };
  const closeCut = async () => {
    await flush();
    const inside = pending.filter((v) => v.timestampMs < boundaryMs);
    pending = pending.filter((v) => v.timestampMs >= boundaryMs);
    const cut = { seq: ++seq, boundaryMs, prevBoundaryMs, snapshotSafe: true };
    const fold = await book.close(storage, live, cut, inside);
    assert.ok(fold !== null, `cut ${seq}: ${live.halted?.message}`);
    assert.equal(fold.snapshot, seq % LONG_SNAPSHOT_EVERY === 0, `cut ${seq}`);
    folds.push(fold);
    note();
    held.afterFold = Math.max(held.afterFold, live.verticesHeld);
    assert.ok(live.verticesHeld <= LONG_HELD_MAX, `cut ${seq}: ${live.verticesHeld} vertices held`);
    assert.ok(live.status().journalVertices <= LONG_HELD_MAX, `cut ${seq}: journal ${live.status().journalVertices}`);
    if (fold.snapshot) {
      // As a node prunes behind its checkpoints: a restore must never need a body below the oldest snapshot's cut.
      const oldest = storage.getCut(storage.snapshotSeqs().at(-1)!)!;
      storage.pruneVertexBodies(oldest.prevBoundaryMs);
    }
    prevBoundaryMs = boundaryMs;
    boundaryMs += LONG_INTERVAL_MS;
  };

  for (let layer = 0; layer < layers; layer++) {
    const timestampMs = startMs + layer * LONG_LAYER_MS;
    while (timestampMs >= boundaryMs + LONG_LAG_MS) await closeCut();
    const ids: string[] = [];
    for (let lane = 0; lane < LONG_WIDTH; lane++) {
      const tx = txOf(layer, lane);
      const id = writer.vertex(prevLayer, [tx], BigInt(timestampMs));
      decisions.push(...accept(storage, id, [txIdOf(tx)]));
      pending.push({ id, parents: prevLayer, timestampMs });
      ids.push(id);
      if (layer <= LONG_WIDTH || layer === 50 || layer === layers - 1) watched.push({ txId: txIdOf(tx), vertex: id });
    }
    prevLayer = ids;
    if (decisions.length >= 1_000) await flush();
  }
  await flush();
  return { live, folds, held, watched };
}

async function longRestart(storage: Storage, reopen: () => Storage): Promise<void> {
  const { live, folds, held, watched } = await longRun(storage);
  let restarted: LedgerService | null = null;
  try {
    assertInStep(live);
    assert.equal(live.appliedVertices, LONG_VERTICES);
    assert.equal(folds.length, 70);
    assert.equal(storage.latestCut()?.seq, 70);
    // Bounded by settlement, whatever the chain's age: about two cuts (2 × 1,000 vertices) and the lag.
    assert.ok(held.vertices <= LONG_HELD_MAX, `at most ${held.vertices} vertices held`);
    assert.ok(held.journal <= LONG_HELD_MAX, `at most ${held.journal} journal vertices`);
    assert.ok(held.receipts <= LONG_HELD_MAX, `at most ${held.receipts} receipts in the core`);
    assert.ok(held.afterFold <= 1_300, `at most ${held.afterFold} vertices held after a fold`);
    assert.ok(held.journal >= 1_000, "the journal did hold the unsettled vertices");
    assert.deepEqual(storage.snapshotSeqs(), [64, 56]);

    const liveHash = live.stateHash().toHex();
    const liveStatus = live.status();
    const liveReceipts = watched.map((w) => live.receipt(w.txId));
    const liveHeld = live.verticesHeld;
    live.close();
    const reopened = reopen();
    restarted = ledgerService(reopened, { snapshotEvery: LONG_SNAPSHOT_EVERY });
    const summary = await restarted.restore();
    assertInStep(restarted);
    const snapshotCut = reopened.getCut(64)!;
    const above = reopened.acceptedVerticesFrom(snapshotCut.boundaryMs).length;
    assert.equal(summary.fromSeq, 64);
    assert.equal(summary.cuts, 6, "cuts 65..70 folded again (and checked against their statements)");
    assert.equal(summary.vertices, above);
    assert.equal(above, LONG_VERTICES - (snapshotCut.boundaryMs - T0_MS - 500) / LONG_LAYER_MS * LONG_WIDTH);
    assert.ok(summary.vertices < 7_000, `${summary.vertices} vertices replayed`);
    assert.equal(restarted.stateHash().toHex(), liveHash);
    assert.equal(restarted.status().journalVertices, liveStatus.journalVertices);
    assert.equal(restarted.verticesHeld, liveHeld);
    // The first layers' transactions were settled long ago (their receipts come from storage, on both sides of
    // the restart); the last layer's are held by the core (live) or replayed (restarted).
    const restartedReceipts = watched.map((w) => restarted!.receipt(w.txId));
    assert.deepEqual(restartedReceipts, liveReceipts);
    for (const [i, w] of watched.entries()) {
      assert.equal(restartedReceipts[i]?.code, "ok", `watched transaction ${i}`);
      assert.equal(restartedReceipts[i]?.vertex.toHex(), w.vertex);
    }
  } finally {
    live.close();
    restarted?.close();
  }
}

Deno.test("LedgerService: 70,000 state-changing vertices with settlement: the journal and the records stay bounded, and a restart replays only the vertices above the last snapshot", async () => {
  const storage = new MemoryStorage();
  await longRestart(storage, () => storage);
});

// ------------------------------------------------------------ 3. cut hashes

Deno.test("LedgerService: a cut's hashes equal those of a fresh ledger that applied only the cut's vertices, and do not depend on the acceptance order", async () => {
  const plan = lanesPlan(7, 700);
  assert.ok(plan.cuts.length >= 8, `${plan.cuts.length} cuts`);
  const a = new SimNode(plan, new MemoryStorage(), 0);
  const b = new SimNode(plan, new MemoryStorage(), 0);
  // Every vertex accepted up front: fresh services are fed exactly the vertices of a cut.
  const reference = new MemoryStorage();
  const ids = writePlan(reference, plan);
  plan.vertices.forEach((v, i) => accept(reference, ids[i], v.txIds));
  const ancestors = ancestorsOf(plan);
  try {
    await a.run(creationOrder(plan));
    await b.run(shuffledOrder(plan, 99));
    assertInStep(a.ledger);
    assertInStep(b.ledger);
    let excludedFacts = 0;
    for (const [c, cut] of plan.cuts.entries()) {
      const fold = hashesOf(a.folds[c])!;
      assert.notEqual(fold, null);
      if (fold.stateHash !== a.liveHashAtFold[c]) excludedFacts++;
      const below = plan.vertices.keys().filter((i) => plan.vertices[i].timestampMs < cut.boundaryMs).toArray();

      // The core alone applied the vertices below the boundary and settled those below the previous one.
      const settled = below.filter((i) => plan.vertices[i].timestampMs < cut.prevBoundaryMs);
      using core = coreLedger(plan, ids, ancestors, below, settled);
      const { stateHash, journalHash, journalVertices } = core.cutHashes([]);
      assert.deepEqual(
        { seq: cut.seq, stateHash: stateHash.toHex(), journalHash: journalHash.toHex(), journalVertices },
        fold,
        `cut ${cut.seq}: the core alone`,
      );
      assert.ok(journalVertices > 0 && journalVertices <= cut.vertices.length, `cut ${cut.seq}: ${journalVertices}`);

      // A ledger that applied only the vertices below the boundary, never settling: the same state hash.
      const plain = ledgerService(reference);
      await plain.onDecisions(below.map((i) => vertexDecision(ids[i])));
      assert.equal(plain.stateHash().toHex(), fold.stateHash, `cut ${cut.seq}: state hash`);
      plain.close();

      // One that applied them cut by cut, folding the same cuts (so it settled the same vertices): the same journal.
      const folded = ledgerService(reference);
      let last: CutFold | null = null;
      for (const earlier of plan.cuts.slice(0, c + 1)) {
        await folded.onDecisions(earlier.vertices.map((i) => vertexDecision(ids[i])));
        last = await folded.onCut(earlier);
      }
      assert.deepEqual(hashesOf(last), fold, `cut ${cut.seq}: a ledger that held only the cut`);
      assert.equal(folded.stateHash().toHex(), fold.stateHash);
      folded.close();

      // Another acceptance order, the same cuts: the same statement.
      assert.deepEqual(hashesOf(b.folds[c]), fold, `cut ${cut.seq}: the shuffled order`);
    }
    // The cuts left out vertices whose effects had to be undone, and the orders really differed.
    assert.ok(excludedFacts >= plan.cuts.length / 2, `only ${excludedFacts} cuts excluded state changes`);
    assert.equal(b.ledger.stateHash().toHex(), a.ledger.stateHash().toHex());
    const receipts = a.receipts();
    assert.deepEqual(b.receipts(), receipts);
    const codes = new Set(receipts.map((r) => r?.code));
    for (const code of ["ok", "name_taken", "insufficient_funds"]) assert.ok(codes.has(code as never), code);
  } finally {
    a.close();
    b.close();
  }
});
