/** LedgerService settlement, continued: restore from snapshots, halts, and a transaction carried again (see settlement_test.ts). */
import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage, SqliteStorage, type Storage } from "../storage/mod.ts";
import { DagWriter, T0 } from "./_testing.ts";
import {
  accept,
  assertInStep,
  createTx,
  creationOrder,
  CutBook,
  dataTx,
  fakeKey,
  fakeTx,
  hashesOf,
  lanesPlan,
  ledgerService,
  SimNode,
  T0_MS,
  txIdOf,
  vertexDecision,
} from "./_settlement_testing.ts";

// ------------------------------------------------------------ 4. restore from snapshots

async function restoreScenario(storage: Storage, reopen: (s: Storage) => Storage) {
  const plan = lanesPlan(11, 800);
  const steps = creationOrder(plan);
  // A node that restarts after cut 5 (and some vertices above it), and one that never does.
  const restartAt = steps.findIndex((s) => "cut" in s && s.cut === 4) + 40;
  const node = new SimNode(plan, storage, 2);
  const reference = new SimNode(plan, new MemoryStorage(), 2);
  try {
    await node.run(steps.slice(0, restartAt));
    await reference.run(steps.slice(0, restartAt));
    assert.deepEqual(node.storage.snapshotSeqs(), [4, 2]);
    const applied = steps.slice(0, restartAt).filter((s) => "vertex" in s).map((s) => (s as { vertex: number }).vertex);
    const snapshotBoundaryMs = plan.cuts[3].boundaryMs;

    const summary = await node.restart(reopen(node.storage));
    assertInStep(node.ledger);
    assert.equal(summary.fromSeq, 4);
    assert.equal(summary.cuts, 1);
    assert.equal(summary.vertices, applied.filter((i) => plan.vertices[i].timestampMs >= snapshotBoundaryMs).length);
    assert.ok(summary.vertices < applied.length / 2, `${summary.vertices} of ${applied.length} replayed`);
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.equal(node.ledger.status().journalVertices, reference.ledger.status().journalVertices);
    assert.equal(node.ledger.verticesHeld, reference.ledger.verticesHeld);
    assert.deepEqual(node.receipts(), reference.receipts());

    // The vertices above, some concurrent to the snapshot's own vertices, and the cuts after: still in step.
    await node.run(steps.slice(restartAt));
    await reference.run(steps.slice(restartAt));
    assertInStep(node.ledger);
    assert.deepEqual(node.folds.map(hashesOf), reference.folds.map(hashesOf));
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.deepEqual(node.receipts(), reference.receipts());

    // An unreadable newest snapshot: the restore takes the one before and gets there too.
    const [newest, older] = node.storage.snapshotSeqs();
    node.storage.putSnapshot(newest, new TextEncoder().encode("not a snapshot"), 2);
    const again = await node.restart();
    assertInStep(node.ledger);
    assert.equal(again.fromSeq, older);
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.deepEqual(node.receipts(), reference.receipts());
  } finally {
    node.close();
    reference.close();
  }
}

Deno.test("LedgerService.restore() from a snapshot, then the vertices above it, reaches the live state (memory)", async () => {
  await restoreScenario(new MemoryStorage(), (s) => s);
});

Deno.test("LedgerService.restore() from a snapshot, then the vertices above it, reaches the live state (SQLite, reopened)", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "qudag-settlement-" });
  let current: Storage = SqliteStorage.open({ dataDir });
  try {
    await restoreScenario(current, (s) => {
      s.close();
      current = SqliteStorage.open({ dataDir });
      return current;
    });
  } finally {
    current.close();
    Deno.removeSync(dataDir, { recursive: true });
  }
});

/**
 * Two lanes, cuts every 100 ms. X (above cut 4's boundary) does not descend
 * from Y (cut 3) and claims Y's name: live, X was applied before cut 4 closed
 * and saw Y as concurrent (ok). A restore from a snapshot at cut 4 would hold
 * Y settled and refuse X (name_taken), so cut 4 is not snapshot-safe.
 */
async function unsafeCutScenario(lie: boolean) {
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const live = ledgerService(storage, { snapshotEvery: 2 });
  const book = new CutBook();
  const [ka, kb, ky, kx] = [fakeKey(40), fakeKey(41), fakeKey(42), fakeKey(43)];
  const txs = new Map<string, Uint8Array>();
  const vertex = async (parents: string[], tx: Uint8Array, ms: number) => {
    const id = writer.vertex(parents, [tx], BigInt(T0_MS + ms));
    txs.set(id, tx);
    await live.onDecisions(accept(storage, id, [txIdOf(tx)]));
    return id;
  };
  const cut = (seq: number, boundary: number, prev: number, vertices: string[], snapshotSafe = true) =>
    book.close(storage, live, {
      seq,
      boundaryMs: T0_MS + boundary,
      prevBoundaryMs: prev === 0 ? 0 : T0_MS + prev,
      snapshotSafe,
    }, vertices.map((id) => ({ id, parents: storage.getVertex(id)!.parents })));

  const a0 = await vertex([], createTx(ka, "lane-a"), 10);
  const b0 = await vertex([a0], createTx(kb, "lane-b"), 20);
  await cut(1, 100, 0, [a0, b0]);
  const a1 = await vertex([b0], dataTx(ka, 1n), 110);
  const b1 = await vertex([a1], dataTx(kb, 1n), 120);
  const fold2 = await cut(2, 200, 100, [a1, b1]);
  const y = await vertex([b1], createTx(ky, "dup"), 250);
  const a2 = await vertex([b1], dataTx(ka, 2n), 260);
  await cut(3, 300, 200, [y, a2]);
  const a3 = await vertex([a2], dataTx(ka, 3n), 350);
  const x = await vertex([a3], createTx(kx, "dup"), 410);
  const fold4 = await cut(4, 400, 300, [a3], lie);
  const b2 = await vertex([x, y], dataTx(kb, 2n), 420);
  await cut(5, 500, 400, [x, b2]);
  return { storage, writer, live, txs, ids: { a0, b0, a1, b1, y, a2, a3, x, b2 }, ka, fold2, fold4, cut };
}

Deno.test("LedgerService: a cut that was not snapshotSafe is not used as a snapshot; restore() folds across it", async () => {
  const s = await unsafeCutScenario(false);
  const restarted = ledgerService(s.storage, { snapshotEvery: 2 });
  try {
    assertInStep(s.live);
    assert.equal(s.live.receipt(txIdOf(s.txs.get(s.ids.x)!))?.code, "ok", "X did not see Y's claim");
    assert.equal(s.fold2?.snapshot, true);
    assert.equal(s.fold4?.snapshot, false, "cut 4 is a snapshot cut (4 % 2) but not snapshot-safe");
    assert.deepEqual(s.storage.snapshotSeqs(), [2]);

    const summary = await restarted.restore();
    assertInStep(restarted);
    assert.deepEqual([summary.fromSeq, summary.cuts, summary.vertices], [2, 3, 5]);
    assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    for (const [name, id] of Object.entries(s.ids)) {
      const tx = txIdOf(s.txs.get(id)!);
      assert.deepEqual(restarted.receipt(tx), s.live.receipt(tx), name);
    }

    // Both go on alike; the next snapshot cut is safe and stored.
    const c = s.writer.vertex([s.ids.b2], [dataTx(s.ka, 4n)], BigInt(T0_MS + 510));
    const decisions = accept(s.storage, c, [txIdOf(dataTx(s.ka, 4n))]);
    await s.live.onDecisions(decisions);
    await restarted.onDecisions(decisions);
    const fold6 = await s.cut(6, 600, 500, [c]);
    const stored6 = s.storage.getCut(6)!;
    assert.deepEqual(hashesOf(await restarted.onCut(stored6)), hashesOf(fold6));
    assert.equal(fold6?.snapshot, true);
    assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    const third = ledgerService(s.storage, { snapshotEvery: 2 });
    const from6 = await third.restore();
    assert.deepEqual([from6.fromSeq, from6.vertices], [6, 0]);
    assert.equal(third.stateHash().toHex(), s.live.stateHash().toHex());
    third.close();
  } finally {
    s.live.close();
    restarted.close();
  }
});

Deno.test("LedgerService: the same DAG with cut 4 recorded as snapshotSafe restores to another state (the control)", async () => {
  const s = await unsafeCutScenario(true);
  const restarted = ledgerService(s.storage, { snapshotEvery: 2 });
  try {
    assert.equal(s.fold4?.snapshot, true);
    const summary = await restarted.restore();
    assert.equal(summary.fromSeq, 4);
    // Y is settled in that snapshot, so X, replayed above it, sees Y's claim: another state. The receipt stored
    // first (X "ok", by the live service on the same storage) is the one kept and served.
    assert.notEqual(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    assert.equal(restarted.receipt(txIdOf(s.txs.get(s.ids.x)!))?.code, "ok");
    // Folding cut 5 again, the restore meets the statement this node made of it live, and stops.
    assert.equal(restarted.halted?.code, "checkpoint_mismatch");
  } finally {
    s.live.close();
    restarted.close();
  }
});

// ------------------------------------------------------------ 5. halts

Deno.test("LedgerService: a node whose ledger halted restores without throwing and reports the halt code", async (t) => {
  await t.step("two accepted transactions of one conflict key above the snapshot: ledger_core_fault", async () => {
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage, { fakeSignatures: true });
    const live = ledgerService(storage, { snapshotEvery: 1 });
    const carol = fakeKey(50);
    const s = writer.vertex([], [createTx(carol, "carol")], T0 + 10n);
    await live.onDecisions(writer.accept(s));
    const fold = await new CutBook().close(storage, live, {
      seq: 1,
      boundaryMs: T0_MS + 100,
      prevBoundaryMs: 0,
      snapshotSafe: true,
    }, [{ id: s, parents: [] }]);
    assert.equal(fold?.snapshot, true);
    live.close();
    // Then the node stored two concurrent vertices with carol's nonce 1 as accepted (consensus must never) and stopped.
    const x = writer.vertex([s], [fakeTx(carol, 1n, { kind: "data", data: new Uint8Array([1]) })], T0 + 110n);
    const y = writer.vertex([s], [fakeTx(carol, 1n, { kind: "data", data: new Uint8Array([2]) })], T0 + 120n);
    const z = writer.vertex([x, y], [], T0 + 130n);
    for (const v of [x, y, z]) writer.accept(v);

    const registry = new Registry();
    const restarted = ledgerService(storage, { snapshotEvery: 1, registry });
    try {
      const summary = await restarted.restore();
      assert.equal(restarted.halted?.code, "ledger_core_fault");
      assert.match(restarted.halted?.message ?? "", /conflict key/);
      assert.equal(summary.fromSeq, 1);
      assert.equal(summary.vertices, 1, "x applied, y not");
      assert.match(registry.render(), /qudag_ledger_halted 1/);
      // Halted: no statement, no dry run, nothing more applied.
      assert.equal(
        await restarted.onCut({ seq: 2, boundaryMs: T0_MS + 200, prevBoundaryMs: T0_MS + 100, snapshotSafe: true }),
        null,
      );
      await assert.rejects(
        restarted.check(dataTx(carol, 2n), T0_MS + 200),
        (e: Error & { code?: string }) => e.code === "ledger_halted",
      );
      const applied = restarted.appliedVertices;
      await restarted.onDecisions([vertexDecision(z)]);
      assert.equal(restarted.appliedVertices, applied);
    } finally {
      restarted.close();
    }
  });

  await t.step("an accepted vertex whose parent was never accepted: ledger_out_of_step", async () => {
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage, { fakeSignatures: true });
    const p = writer.vertex([], [createTx(fakeKey(51), "dan")], T0 + 10n);
    const c = writer.vertex([p], [createTx(fakeKey(52), "erin")], T0 + 20n);
    writer.accept(c);
    const restarted = ledgerService(storage);
    try {
      const summary = await restarted.restore();
      assert.equal(restarted.halted?.code, "ledger_out_of_step");
      assert.match(restarted.halted?.message ?? "", new RegExp(`parent ${p}, never applied`));
      assert.equal(summary.vertices, 0);
    } finally {
      restarted.close();
    }
  });

  await t.step(
    "a replayed cut whose hashes differ from the statement this node stored: checkpoint_mismatch",
    async () => {
      const storage = new MemoryStorage();
      const writer = new DagWriter(storage, { fakeSignatures: true });
      const live = ledgerService(storage);
      const book = new CutBook();
      const v1 = writer.vertex([], [createTx(fakeKey(53), "fay")], T0 + 10n);
      await live.onDecisions(writer.accept(v1));
      await book.close(storage, live, { seq: 1, boundaryMs: T0_MS + 100, prevBoundaryMs: 0, snapshotSafe: true }, [
        { id: v1, parents: [] },
      ]);
      const v2 = writer.vertex([v1], [createTx(fakeKey(54), "gus")], T0 + 110n);
      await live.onDecisions(writer.accept(v2));
      const cut2 = book.record(storage, {
        seq: 2,
        boundaryMs: T0_MS + 200,
        prevBoundaryMs: T0_MS + 100,
        snapshotSafe: true,
      }, [{ id: v2, parents: [v1] }]);
      const fold = (await live.onCut(cut2))!;
      // The statement this node stored says another state.
      book.state(storage, cut2, { stateHash: new Uint8Array(32).fill(1), journalHash: fold.journalHash });
      live.close();
      const restarted = ledgerService(storage);
      try {
        await restarted.restore();
        assert.equal(restarted.halted?.code, "checkpoint_mismatch");
        assert.match(restarted.halted?.message ?? "", /replaying cut 2/);
      } finally {
        restarted.close();
      }
    },
  );
});

// ------------------------------------------------------------ 6. a transaction carried again

/**
 * V1 carries carol's create_account and her data nonce 1; V2 her nonce 2.
 * Cuts every 100 ms; cut 2 settles V1 (its receipts leave the core).
 */
async function carriedAgainScenario(snapshotEvery: number) {
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const registry = new Registry();
  const live = ledgerService(storage, { snapshotEvery, registry });
  const book = new CutBook();
  const carol = fakeKey(60);
  const first = [createTx(carol, "carol"), dataTx(carol, 1n)];
  const cut = (seq: number, boundary: number, prev: number, vertices: string[]) =>
    book.close(storage, live, {
      seq,
      boundaryMs: T0_MS + boundary,
      prevBoundaryMs: prev === 0 ? 0 : T0_MS + prev,
      snapshotSafe: true,
    }, vertices.map((id) => ({ id, parents: storage.getVertex(id)!.parents })));
  const v1 = writer.vertex([], first, T0 + 10n);
  await live.onDecisions(writer.accept(v1));
  return { storage, writer, registry, live, carol, first, v1, cut };
}

Deno.test("LedgerService: a transaction carried again after its vertex settled is not applied twice", async (t) => {
  await t.step("live, after the cut that settled its vertex", async () => {
    const s = await carriedAgainScenario(0);
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const v2 = s.writer.vertex([s.v1], [dataTx(s.carol, 2n)], T0 + 110n);
      await s.live.onDecisions(s.writer.accept(v2));
      await s.cut(2, 200, 100, [v2]);
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));
      assert.deepEqual(firstReceipts.map((r) => [r?.code, r?.vertex.toHex()]), [["ok", s.v1], ["ok", s.v1]]);
      assert.equal(s.live.status().resultCount, 1, "V1's receipts left the core: only V2's is held");
      const hash = s.live.stateHash().toHex();

      const v3 = s.writer.vertex([v2], [...s.first], T0 + 210n);
      await s.live.onDecisions(s.writer.accept(v3));
      assertInStep(s.live);
      assert.equal(s.live.stateHash().toHex(), hash);
      assert.equal(s.live.account(s.carol.id.toHex())?.nextNonce, 3n);
      assert.deepEqual(s.first.map((tx) => s.live.receipt(txIdOf(tx))), firstReceipts);
      const text = s.registry.render();
      assert.match(text, /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
      assert.match(text, /qudag_ledger_transactions_total\{result="ok"\} 3/);
    } finally {
      s.live.close();
    }
  });

  await t.step("replayed by a restore from a snapshot above the settled vertex", async () => {
    const s = await carriedAgainScenario(1);
    const registry = new Registry();
    const restarted = ledgerService(s.storage, { snapshotEvery: 1, registry });
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const v2 = s.writer.vertex([s.v1], [dataTx(s.carol, 2n)], T0 + 110n);
      await s.live.onDecisions(s.writer.accept(v2));
      await s.cut(2, 200, 100, [v2]);
      const v3 = s.writer.vertex([v2], [...s.first], T0 + 210n);
      await s.live.onDecisions(s.writer.accept(v3));
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));

      const summary = await restarted.restore();
      assert.deepEqual([summary.fromSeq, summary.vertices], [2, 1], "V3 replayed above snapshot 2");
      assertInStep(restarted);
      assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);
      assert.match(registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
    } finally {
      s.live.close();
      restarted.close();
    }
  });

  await t.step("after a restore from the snapshot of the cut that holds its vertex", async () => {
    // Regression (fixed after 9bc9abb): The snapshot of cut 1 holds V1 in its journal but no receipts (a
    // cut snapshot carries none), and V1 is not below the dropped boundary (#droppedBelowMs = cut 1's
    // prevBoundaryMs), so #applyVertex's `settled` test (storage receipt from another vertex whose timestamp
    // is below #droppedBelowMs) is false while the core holds no receipt either: the re-carried transactions
    // are applied afresh. Here they are refused without effect (account_exists, nonce_too_low), so the state
    // hash agrees, but the core now holds those refusals: receipt() answers account_exists / nonce_too_low
    // (carrier V2, time +110) where the node that did not restart answers ok (V1), and they are counted as
    // refused transactions, not duplicates. The next step shows a re-carry that changes the state. One fix:
    // count as a replay any transaction with a stored receipt from another vertex that the core holds no
    // receipt for (prepare(tx).receipt === undefined), whatever the carrier's timestamp.
    const s = await carriedAgainScenario(1);
    const registry = new Registry();
    const restarted = ledgerService(s.storage, { snapshotEvery: 1, registry });
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));
      const summary = await restarted.restore();
      assert.deepEqual([summary.fromSeq, summary.vertices], [1, 0]);
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);

      const v2 = s.writer.vertex([s.v1], [...s.first], T0 + 110n);
      const decisions = s.writer.accept(v2);
      await s.live.onDecisions(decisions);
      await restarted.onDecisions(decisions);
      assertInStep(restarted);
      assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
      // The node that did not restart: a duplicate, the first receipts.
      assert.deepEqual(s.first.map((tx) => s.live.receipt(txIdOf(tx))), firstReceipts);
      assert.match(s.registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
      // The restarted one must answer the same.
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);
      assert.match(registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
    } finally {
      s.live.close();
      restarted.close();
    }
  });

  await t.step(
    "a refused transaction carried again after a restore from the snapshot that holds its first carrier",
    async () => {
      // Regression (fixed after 9bc9abb), as the step before, with a state change. V1 carries carol's nonce
      // 2 before her nonce 1 (nonce_too_high: refused, nothing consumed, receipt kept); V2 carries nonce 1. The
      // snapshot of cut 1 holds neither receipt. V3, after V2, carries V1's transaction again: the node that
      // did not restart finds its receipt (a duplicate, nothing changes); the restored node applies it, now
      // with nonce 1 in its past: ok, carol's next nonce becomes 3 and the state hashes differ.
      const storage = new MemoryStorage();
      const writer = new DagWriter(storage, { fakeSignatures: true });
      const live = ledgerService(storage, { snapshotEvery: 1 });
      const restarted = ledgerService(storage, { snapshotEvery: 1 });
      const carol = fakeKey(61);
      const early = dataTx(carol, 2n);
      try {
        const v0 = writer.vertex([], [createTx(carol, "carol")], T0 + 5n);
        const v1 = writer.vertex([v0], [early], T0 + 10n);
        const v2 = writer.vertex([v1], [dataTx(carol, 1n)], T0 + 20n);
        for (const v of [v0, v1, v2]) await live.onDecisions(writer.accept(v));
        const first = live.receipt(txIdOf(early));
        assert.equal(first?.code, "nonce_too_high");
        await new CutBook().close(storage, live, {
          seq: 1,
          boundaryMs: T0_MS + 100,
          prevBoundaryMs: 0,
          snapshotSafe: true,
        }, [
          { id: v0, parents: [] },
          { id: v1, parents: [v0] },
          { id: v2, parents: [v1] },
        ]);
        const summary = await restarted.restore();
        assert.deepEqual([summary.fromSeq, summary.vertices], [1, 0]);
        assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());

        const v3 = writer.vertex([v2], [early], T0 + 110n);
        const decisions = writer.accept(v3);
        await live.onDecisions(decisions);
        await restarted.onDecisions(decisions);
        assert.equal(live.account(carol.id.toHex())?.nextNonce, 2n);
        assert.deepEqual(live.receipt(txIdOf(early)), first);
        assertInStep(restarted);
        assert.equal(restarted.account(carol.id.toHex())?.nextNonce, 2n, "the restored node applied it again, now ok");
        assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());
        assert.deepEqual(restarted.receipt(txIdOf(early)), first);
      } finally {
        live.close();
        restarted.close();
      }
    },
  );
});
