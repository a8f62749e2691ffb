import assert from "node:assert/strict";
import { decodeStatement } from "../checkpoint/mod.ts";

import { validateVertex } from "../core/mod.ts";

import { certify, signaturesCounted, statementOf, storedCut, testCut, testNode } from "./_checkpoint_testing.ts";

import {
  certifiedChain,
  FakePeers,
  minute,
  probeThenApply,
  seedLedger,
  servingPeer,
  storeAtSeq1,
  syncingNode,
  V0,
  V1,
  V2,
} from "./_state_sync_testing.ts";

// ------------------------------------------------------------------ probe()

Deno.test("probe() returns the newest certificate the peers hold with a snapshot, verified, and its peer", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V0.id, servingPeer(peers, V0.id, storeAtSeq1(c)));
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage));
  // A higher seq that only two validators signed: not a certificate.
  const forged = certify(
    { ...c.statements[1], seq: 5, prevDigest: new Uint8Array(32).fill(9) },
    [V0, V1],
  );
  peers.add(V2.id, (m) => {
    if (m.type === "getCheckpoint") {
      peers.reply(V2.id, { type: "checkpoint", statement: forged.statement, signatures: [...forged.signatures] });
    }
  });
  const { sync, node } = syncingNode(peers);

  const found = await sync.probe();
  assert.ok("cert" in found, JSON.stringify(found));
  assert.equal(found.from, V1.id);
  assert.deepEqual(found.cert.statement, c.statements[1]);
  assert.deepEqual(
    found.cert.signatures.map((s) => s.validator),
    c.certificates[1].signatures.map((s) => s.validator),
  );
  assert.deepEqual(peers.requests.map((r) => r.to).sort(), [V0.id, V1.id, V2.id].sort());
  for (const { m } of peers.requests) assert.deepEqual(m, { type: "getCheckpoint", seq: 0, withSnapshot: true });
  assert.equal(signaturesCounted(node.registry, "checkpoint_under_signed"), 1);
});

Deno.test("probe() refuses with sync_not_behind when this node is within behindMin of the newest certificate", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage));

  const near = await syncingNode(peers, { ownSeq: 1, behindMin: 2 }).sync.probe();
  assert.ok(!("cert" in near) && !near.synced);
  assert.equal(near.reason, "sync_not_behind");
  assert.match(near.message, /checkpoint 1, the peers at 2/);

  const far = await syncingNode(peers, { ownSeq: 0, behindMin: 2 }).sync.probe();
  assert.ok("cert" in far, "2 checkpoints behind with behindMin 2 is behind");
  assert.equal(far.cert.statement.seq, 2);
});

Deno.test("probe() refuses with sync_no_peers when no peer is connected within waitMs", async () => {
  const peers = new FakePeers();
  const { sync } = syncingNode(peers, { waitMs: 0 });
  const out = await sync.probe();
  assert.ok(!("cert" in out) && !out.synced);
  assert.equal(out.reason, "sync_no_peers");
  assert.deepEqual(peers.requests, []);
});

Deno.test("probe() waits for a first peer through the injected sleep", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage));
  peers.online = false;
  const sleeps: number[] = [];
  const { sync } = syncingNode(peers, {
    waitMs: 3_600_000,
    sleep: (ms) => {
      sleeps.push(ms);
      peers.online = true;
      return Promise.resolve();
    },
  });
  const found = await sync.probe();
  assert.ok("cert" in found);
  assert.deepEqual(sleeps, [50]);
});

Deno.test("probe() refuses with sync_no_checkpoint when the peers answer nothing or nothing certified", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V0.id, () => {});
  const silent = syncingNode(peers);
  const out = await silent.sync.probe();
  assert.ok(!("cert" in out) && !out.synced);
  assert.equal(out.reason, "sync_no_checkpoint");
  assert.ok(silent.sleeps.length > 0, "it gave up without waiting for an answer");

  const underSigned = { ...c.certificates[1], signatures: c.certificates[1].signatures.slice(0, 2) };
  peers.add(V1.id, (m) => {
    if (m.type === "getCheckpoint") {
      peers.reply(V1.id, {
        type: "checkpoint",
        statement: underSigned.statement,
        signatures: [...underSigned.signatures],
      });
    }
  });
  const refused = await syncingNode(peers).sync.probe();
  assert.ok(!("cert" in refused) && !refused.synced);
  assert.equal(refused.reason, "sync_no_checkpoint");
});

// ------------------------------------------------------------------ apply()

Deno.test("apply() fetches the snapshot in chunks and the cut's vertices, and stores them as settled", async () => {
  const c = await certifiedChain();
  const snapshot = c.snapshots[1];
  const chunkBytes = Math.ceil(snapshot.length / 3);
  const peers = new FakePeers();
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage, { chunkBytes }));
  const { sync, storage } = syncingNode(peers);
  const { out: outcome } = await probeThenApply(sync);
  // c3 (the previous frontier) to c8, and the side vertex.
  const fetched = [...c.chain.slice(3), c.side];
  assert.deepEqual(outcome, { synced: true, seq: 2, vertices: fetched.length, snapshotBytes: snapshot.length });
  assert.deepEqual(
    peers.requestsOf("getSnapshot"),
    [0, chunkBytes, 2 * chunkBytes].map((offset) => ({ type: "getSnapshot", seq: 2, offset })),
  );
  assert.deepEqual(peers.requestsOf("getCheckpoint").at(-1), { type: "getCheckpoint", seq: 1, withSnapshot: false });

  // Vertices with their bytes, transactions, and accepted decisions; nothing of cut 1 but its frontier.
  assert.equal(storage.vertexCount(), fetched.length);
  for (const id of fetched) {
    const held = storage.getVertex(id);
    assert.ok(held, `vertex ${id} not stored`);
    assert.deepEqual(held.bytes, c.storage.getVertex(id)!.bytes);
    assert.deepEqual(held.parents, c.storage.getVertex(id)!.parents);
    assert.equal(held.timestampMs, c.storage.getVertex(id)!.timestampMs);
    assert.equal(storage.getDecision(id)?.status, "accepted");
    for (const tx of validateVertex(held.bytes).transactionIds.map((t) => t.toHex())) {
      assert.equal(storage.getTransaction(tx)?.vertex, id);
      assert.equal(storage.getDecision(tx)?.status, "accepted");
    }
  }
  for (const id of c.chain.slice(0, 3)) assert.equal(storage.getVertex(id), null);

  // Both cuts with the certified statements, the certificate, the snapshot.
  for (const [i, seq] of [1, 2].entries()) {
    const cut = storage.getCut(seq);
    assert.ok(cut, `cut ${seq} not stored`);
    assert.deepEqual(
      [cut.boundaryMs, cut.prevBoundaryMs, cut.frontier, cut.vertexCount],
      [c.cuts[i].boundaryMs, c.cuts[i].prevBoundaryMs, c.cuts[i].frontier, c.cuts[i].vertices.length],
    );
    assert.deepEqual(cut.statement, c.certificates[i].statement);
    assert.equal(cut.digest, c.certificates[i].digest);
    assert.equal(cut.signature, null);
    assert.equal(storage.getCertificate(seq)?.digest, c.certificates[i].digest);
  }
  assert.equal(storage.getCut(2)!.snapshotSafe, true);
  assert.equal(storage.latestCut()?.seq, 2);
  assert.deepEqual(storage.snapshotSeqs(), [2]);
  assert.deepEqual(storage.getSnapshot(2), snapshot);
  assert.equal(storage.getMeta("synced_from_checkpoint"), "2");

  // A ledger restored from the synced store has the certified state.
  const ledger = seedLedger(storage);
  try {
    const summary = await ledger.restore();
    assert.equal(ledger.halted, null, JSON.stringify(ledger.halted));
    assert.equal(summary.fromSeq, 2);
    assert.deepEqual(ledger.stateHash(), c.statements[1].stateHash);
    assert.deepEqual(ledger.stateHash(), c.stateHash);
  } finally {
    ledger.close();
  }

  // The node states its next cut on top of the certified one.
  const next = testNode({ validator: 3, storage });
  const cut3 = testCut(3, {
    boundaryMs: Number(minute(16)),
    prevBoundaryMs: Number(minute(11)),
    frontier: [c.chain[8]],
  });
  storage.putCut(storedCut(cut3));
  await next.service.onCut(cut3);
  assert.deepEqual(decodeStatement(storage.getCut(3)!.statement!), statementOf(cut3, c.statements[1]));
});

Deno.test("apply() into a fresh store (a stale one moved aside after probe()) stores the certificate itself", async () => {
  // Regression (fixed): apply() reads the certificate it syncs to back from its own store (`storage.getCertificate(s.seq)!` in
  // #store), where only probe() put it, through the CheckpointService probe() was given. startNode (src/node/services.ts)
  // probes with the old store, moves that store aside when it holds vertices, and applies with a StateSync over the
  // new, empty one: `held` is null, #store throws a TypeError inside its transaction, apply() rejects, and a node
  // with a stale database cannot start. apply() should store `cert` (it was verified by probe(); or verify it again
  // through checkpoints.onCertificate) before reading it back.
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage));
  const found = await syncingNode(peers).sync.probe();
  assert.ok("cert" in found);

  const fresh = syncingNode(peers);
  let outcome;
  try {
    outcome = await fresh.sync.apply(found.cert, found.from);
  } catch (error) {
    assert.fail(`apply() threw instead of syncing: ${error}`);
  }
  assert.equal(outcome.synced, true);
  assert.equal(fresh.storage.getCertificate(2)?.digest, c.certificates[1].digest);
  assert.equal(fresh.storage.getCut(2)?.digest, c.certificates[1].digest);
});
