/** State sync: what apply() refuses, and the snapshot check. Fixtures in _state_sync_testing.ts. */
import assert from "node:assert/strict";
import { encodeStatement } from "../checkpoint/mod.ts";

import { validateVertex } from "../core/mod.ts";

import { outsiderKey } from "./_checkpoint_testing.ts";
import { checkSnapshot } from "./state_sync.ts";

import {
  assertNothingStored,
  certifiedChain,
  decodedCertificate,
  FakePeers,
  handVertex,
  oneVertexPeer,
  probeThenApply,
  servingPeer,
  syncingNode,
  V0,
  V1,
  V2,
} from "./_state_sync_testing.ts";

Deno.test("apply() refuses a snapshot that does not match the certificate and stores nothing", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  // Certificate 2, with the snapshot of cut 1.
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage, { snapshot: c.snapshots[0] }));
  const { sync, storage } = syncingNode(peers);
  const { out } = await probeThenApply(sync);
  assert.ok(!out.synced);
  assert.equal(out.reason, "sync_snapshot_mismatch");
  assert.match(out.message, /state hash/);
  assertNothingStored(storage);
  assert.deepEqual(peers.requestsOf("getVertices"), [], "vertices were fetched after the snapshot was refused");
});

Deno.test("apply() refuses with sync_snapshot_missing when the peer holds no snapshot", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage, { snapshot: new Uint8Array() }));
  const { sync, storage } = syncingNode(peers);
  const out = await sync.apply(decodedCertificate(c.certificates[1]), V1.id);
  assert.ok(!out.synced);
  assert.equal(out.reason, "sync_snapshot_missing");
  assertNothingStored(storage);
});

Deno.test("apply() refuses a snapshot chunk longer than the total its peer announced", async () => {
  // Regression (fixed): #fetchSnapshot trusts a chunk's length against the `total` the peer announced: a chunk that runs past it
  // ends the loop with offset > total, and `out.set(p, at)` into the `total`-byte buffer throws a RangeError, so
  // apply() rejects (and startNode with it) instead of refusing the peer with a code, as the module promises for
  // anything a peer sends. It should refuse a chunk with offset + bytes.length > total (sync_snapshot_missing).
  const c = await certifiedChain();
  const peers = new FakePeers();
  peers.add(V1.id, (m) => {
    if (m.type === "getSnapshot") {
      peers.reply(V1.id, { type: "snapshotChunk", seq: m.seq, offset: m.offset, total: 10, bytes: c.snapshots[1] });
    }
  });
  const { sync, storage } = syncingNode(peers);
  let out;
  try {
    out = await sync.apply(decodedCertificate(c.certificates[1]), V1.id);
  } catch (error) {
    assert.fail(`apply() threw instead of refusing the peer: ${error}`);
  }
  assert.ok(!out.synced);
  assert.ok(out.reason === "sync_snapshot_missing" || out.reason === "sync_snapshot_mismatch", out.reason);
  assertNothingStored(storage);
});

Deno.test("apply() refuses with sync_vertices_missing when the peer does not send a vertex of the cut", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  const missing = c.chain[6];
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage, { omit: new Set([missing]) }));
  const { sync, storage } = syncingNode(peers);
  const { out } = await probeThenApply(sync);
  assert.ok(!out.synced);
  assert.equal(out.reason, "sync_vertices_missing");
  assert.match(out.message, new RegExp(missing));
  assertNothingStored(storage);
});

/** A genesis vertex that claims `author` and is signed with `signer`'s key. */
Deno.test("apply() refuses with sync_vertex_invalid a certified vertex whose signature does not verify", async () => {
  const t = 1_780_000_000_000n;
  const cases = [
    {
      name: "validator 1's vertex signed by validator 0",
      vertex: handVertex(V1, V0, t),
      reason: "sync_vertex_invalid",
    },
    {
      name: "an outsider's vertex",
      vertex: handVertex(outsiderKey(), outsiderKey(), t),
      reason: "sync_vertex_invalid",
    },
    { name: "validator 1's own vertex", vertex: handVertex(V1, V1, t), reason: null },
  ];
  for (const { name, vertex, reason } of cases) {
    const peers = new FakePeers();
    const cert = oneVertexPeer(peers, V2.id, vertex);
    const { sync, storage } = syncingNode(peers, { exchange: false });
    const { cert: found, out } = await probeThenApply(sync, name);
    assert.equal(found.statement.seq, 1);
    if (reason === null) {
      assert.deepEqual(out, { synced: true, seq: 1, vertices: 1, snapshotBytes: 0 }, name);
      assert.equal(storage.getCut(1)?.digest, cert.digest, name);
      assert.equal(storage.getDecision(validateVertex(vertex).id.toHex())?.status, "accepted", name);
    } else {
      assert.ok(!out.synced, name);
      assert.equal(out.reason, reason, name);
      assertNothingStored(storage);
    }
  }
});

// ------------------------------------------------------------------ checkSnapshot()

Deno.test("checkSnapshot() accepts the snapshot of the certified cut", async () => {
  const c = await certifiedChain();
  assert.equal(checkSnapshot(c.snapshots[0], c.statements[0]), null);
  assert.equal(checkSnapshot(c.snapshots[1], c.statements[1]), null);
});

Deno.test("checkSnapshot() names the state hash of another cut's snapshot", async () => {
  const c = await certifiedChain();
  const why = checkSnapshot(c.snapshots[0], c.statements[1]);
  assert.ok(why !== null);
  assert.match(why, /state hash/);
  assert.match(why, /checkpoint 2 certifies/);
  assert.ok(why.includes(c.statements[1].stateHash.toHex()));
});

Deno.test("checkSnapshot() names the journal hash when only it differs", async () => {
  const c = await certifiedChain();
  const s = { ...c.statements[1], journalHash: new Uint8Array(32).fill(0xff) };
  const why = checkSnapshot(c.snapshots[1], s);
  assert.ok(why !== null);
  assert.match(why, /journal hash/);
  // Still a valid statement: only the hash is wrong.
  encodeStatement(s);
});

Deno.test("checkSnapshot() refuses bytes that are not a ledger snapshot", async () => {
  const c = await certifiedChain();
  for (
    const bytes of [new Uint8Array(), new Uint8Array(64).fill(1), c.snapshots[1].subarray(0, c.snapshots[1].length - 1)]
  ) {
    const why = checkSnapshot(bytes, c.statements[1]);
    assert.ok(why !== null);
    assert.match(why, /does not import/);
  }
});
