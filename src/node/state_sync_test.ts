import assert from "node:assert/strict";
import { type CheckpointStatement, decodeStatement, encodeStatement } from "../checkpoint/mod.ts";
import type { Cut } from "../consensus/mod.ts";
import { encodeVertex, Ledger, validateVertex, vertexSigningMessage } from "../core/mod.ts";
import { DagWriter, MINUTE_MS, seedFlowTransactions, seedGenesis, T0, verifyAsync } from "../ledger/_testing.ts";
import { LedgerService } from "../ledger/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import { MemoryStorage, type Storage, type StoredCertificate } from "../storage/mod.ts";
import {
  certify,
  noble,
  outsiderKey,
  signaturesCounted,
  statementOf,
  storedCut,
  testCut,
  testGenesis,
  type TestKey,
  type TestNode,
  testNode,
  validatorKeys,
} from "./_checkpoint_testing.ts";
import { checkSnapshot, StateSync, type StateSyncOptions } from "./state_sync.ts";
import { ValidatorSet } from "./validators.ts";

// ------------------------------------------------------------------ a certified chain

/**
 * A peer's store: the seed flow's nine transactions in a chain of vertices one minute apart (validator 0's,
 * written by the ledger's DagWriter) plus an empty side vertex, settled in two cuts that a real LedgerService
 * folded (real state hashes, a snapshot at each) and 3 of the 4 validators certified.
 *
 * ```
 * cut 1 (boundary T0+6 min):  c0 <- c1 <- c2 <- c3
 * cut 2 (boundary T0+11 min): c3 <- c4 <- c5 <- c6 <- c7 <- c8,  c4 <- side (T0+6.5 min)
 * ```
 */
interface CertifiedChain {
  readonly storage: MemoryStorage;
  /** c0..c8. */
  readonly chain: readonly string[];
  readonly side: string;
  readonly cuts: readonly [Cut, Cut];
  readonly certificates: readonly [StoredCertificate, StoredCertificate];
  readonly statements: readonly [CheckpointStatement, CheckpointStatement];
  readonly snapshots: readonly [Uint8Array, Uint8Array];
  /** The peer ledger's state hash after cut 2. */
  readonly stateHash: Uint8Array;
}

const minute = (n: number) => T0 + BigInt(n) * MINUTE_MS;

/** A cut of the vertices `ids`, with the transaction ids they carry. */
function cutOf(
  storage: Storage,
  seq: number,
  prevBoundaryMs: number,
  boundaryMs: number,
  frontier: string[],
  ids: string[],
): Cut {
  const txIds = ids.flatMap((id) => validateVertex(storage.getVertex(id)!.bytes).transactionIds.map((t) => t.toHex()));
  return testCut(seq, { boundaryMs, prevBoundaryMs, frontier, vertices: ids, txIds });
}

let built: Promise<CertifiedChain> | undefined;

function certifiedChain(): Promise<CertifiedChain> {
  return built ??= (async () => {
    const storage = new MemoryStorage();
    const ledger = new LedgerService({
      genesis: seedGenesis(),
      storage,
      verify: verifyAsync,
      logger: silentLogger,
      registry: new Registry(),
      snapshotEvery: 1,
    });
    const node = testNode({ validator: 0, storage, ledger });
    const writer = new DagWriter(storage);
    let configHash: Uint8Array;
    {
      using l = Ledger.genesis(seedGenesis());
      configHash = l.status().configHash;
    }
    const txs = seedFlowTransactions(configHash).map((s) => s.tx);
    const add = async (parents: string[], carried: Uint8Array[], timestampMs: bigint) => {
      const id = writer.vertex(parents, carried, timestampMs);
      await ledger.onDecisions(writer.accept(id));
      return id;
    };
    const chain: string[] = [];
    for (let i = 0; i < 4; i++) chain.push(await add(chain.slice(-1), [txs[i]], minute(i + 2)));
    const cut1 = cutOf(storage, 1, 0, Number(minute(6)), [chain[3]], chain.slice(0, 4));
    storage.putCut(storedCut(cut1));
    await node.service.onCut(cut1);
    for (let i = 4; i < 9; i++) chain.push(await add(chain.slice(-1), [txs[i]], minute(i + 2)));
    const side = await add([chain[4]], [], minute(6) + 30_000n);
    const inCut2 = [chain[4], side, ...chain.slice(5)];
    const cut2 = cutOf(storage, 2, Number(minute(6)), Number(minute(11)), [chain[8], side], inCut2);
    storage.putCut(storedCut(cut2));
    await node.service.onCut(cut2);
    assert.equal(ledger.halted, null, "the peer's ledger halted while building the fixture");

    for (const seq of [1, 2]) {
      const own = storage.getCut(seq)!;
      for (const k of validatorKeys().slice(1, 3)) {
        await node.service.onSignature(k.id, seq, own.digest!, k.signer.sign(own.statement!));
      }
    }
    const certificates = [storage.getCertificate(1)!, storage.getCertificate(2)!] as const;
    assert.ok(certificates[0] && certificates[1], "the fixture's cuts were not certified");
    const snapshots = [storage.getSnapshot(1)!, storage.getSnapshot(2)!] as const;
    assert.ok(snapshots[0] && snapshots[1], "the fixture's ledger stored no snapshots");
    return {
      storage,
      chain,
      side,
      cuts: [cut1, cut2],
      certificates,
      statements: [decodeStatement(certificates[0].statement), decodeStatement(certificates[1].statement)],
      snapshots,
      stateHash: ledger.stateHash(),
    };
  })();
}

// ------------------------------------------------------------------ fake peers

type PeerHandler = (m: ProtocolMessage) => void;

/**
 * A PeerTransport stand-in: `send` decodes the bytes and hands the message to the addressed fake peer,
 * which answers through `reply` (the wire encoding, then StateSync.onMessage).
 */
class FakePeers {
  readonly requests: { to: string; m: ProtocolMessage }[] = [];
  readonly #handlers = new Map<string, PeerHandler>();
  #sync: StateSync | null = null;
  /** False: peers() lists none yet. */
  online = true;

  readonly transport = {
    peers: () => this.online ? [...this.#handlers.keys()].map((peerId) => ({ peerId })) : [],
    send: (to: string, bytes: Uint8Array) => {
      const m = decodeMessage(bytes);
      this.requests.push({ to, m });
      this.#handlers.get(to)?.(m);
      return "queued";
    },
  } as unknown as PeerTransport;

  add(peerId: string, handler: PeerHandler): void {
    this.#handlers.set(peerId, handler);
  }

  attach(sync: StateSync): void {
    this.#sync = sync;
  }

  reply(from: string, m: ProtocolMessage): void {
    this.#sync!.onMessage(from, encodeMessage(m));
  }

  requestsOf(type: ProtocolMessage["type"]): ProtocolMessage[] {
    return this.requests.filter((r) => r.m.type === type).map((r) => r.m);
  }
}

interface ServingOptions {
  /** Serves snapshots in chunks of this many bytes itself (else the CheckpointService's chunks). */
  chunkBytes?: number;
  /** Serves these bytes as every snapshot. */
  snapshot?: Uint8Array;
  /** Vertex ids it does not send. */
  omit?: ReadonlySet<string>;
}

/** A peer serving `storage`: certificates and snapshots through a real CheckpointService, vertices from the store. */
function servingPeer(peers: FakePeers, peerId: string, storage: Storage, o: ServingOptions = {}): PeerHandler {
  const server = testNode({
    validator: 0,
    storage: storage as MemoryStorage,
    send: (_to, m) => peers.reply(peerId, m),
  });
  return (m) => {
    if (m.type === "getVertices") {
      const vertices = m.ids.filter((id) => !o.omit?.has(id)).flatMap((id) => storage.getVertex(id)?.bytes ?? []);
      peers.reply(peerId, { type: "vertices", vertices });
    } else if (m.type === "getSnapshot" && (o.chunkBytes !== undefined || o.snapshot !== undefined)) {
      const bytes = o.snapshot ?? storage.getSnapshot(m.seq) ?? new Uint8Array();
      const chunk = bytes.slice(m.offset, m.offset + (o.chunkBytes ?? bytes.length));
      peers.reply(peerId, { type: "snapshotChunk", seq: m.seq, offset: m.offset, total: bytes.length, bytes: chunk });
    } else {
      void server.service.onMessage("syncing-node", m);
    }
  };
}

/** A store holding only certificate 1 and its snapshot. */
function storeAtSeq1(c: CertifiedChain): MemoryStorage {
  const s = new MemoryStorage();
  s.putCertificate(c.certificates[0]);
  s.putSnapshot(1, c.snapshots[0], 1);
  return s;
}

interface SyncingNode {
  readonly sync: StateSync;
  readonly storage: MemoryStorage;
  readonly node: TestNode;
  /** What the injected sleep was asked to wait, in order. */
  readonly sleeps: number[];
}

/** A StateSync over an empty store (validator 3's), its transport the fake peers; it never waits on wall time. */
function syncingNode(peers: FakePeers, o: Partial<StateSyncOptions> = {}): SyncingNode {
  const storage = new MemoryStorage();
  const node = testNode({ validator: 3, storage });
  const sleeps: number[] = [];
  const sync = new StateSync({
    storage,
    transport: peers.transport,
    checkpoints: node.service,
    validators: new ValidatorSet(testGenesis(), noble),
    exchange: true,
    logger: node.logger,
    ownSeq: 0,
    behindMin: 1,
    waitMs: 0,
    answerMs: 20,
    sleep: (ms) => {
      sleeps.push(ms);
      // A turn of the event loop, not `ms`: answers that come later still get in.
      return new Promise((resolve) => setTimeout(resolve, 0));
    },
    ...o,
  });
  peers.attach(sync);
  return { sync, storage, node, sleeps };
}

function assertNothingStored(storage: Storage): void {
  assert.equal(storage.vertexCount(), 0, "vertices were stored");
  assert.deepEqual(storage.allDecisions(), [], "decisions were stored");
  assert.equal(storage.latestCut(), null, "a cut was stored");
  assert.deepEqual(storage.snapshotSeqs(), [], "a snapshot was stored");
  assert.equal(storage.getMeta("synced_from_checkpoint"), null);
}

const [V0, V1, V2] = validatorKeys();

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
  const found = await sync.probe();
  assert.ok("cert" in found);

  const outcome = await sync.apply(found.cert, found.from);
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
  const ledger = new LedgerService({
    genesis: seedGenesis(),
    storage,
    verify: verifyAsync,
    logger: silentLogger,
    registry: new Registry(),
  });
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

Deno.test("apply() refuses a snapshot that does not match the certificate and stores nothing", async () => {
  const c = await certifiedChain();
  const peers = new FakePeers();
  // Certificate 2, with the snapshot of cut 1.
  peers.add(V1.id, servingPeer(peers, V1.id, c.storage, { snapshot: c.snapshots[0] }));
  const { sync, storage } = syncingNode(peers);
  const found = await sync.probe();
  assert.ok("cert" in found);
  const out = await sync.apply(found.cert, found.from);
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
  const found = await sync.probe();
  assert.ok("cert" in found);
  const out = await sync.apply(found.cert, found.from);
  assert.ok(!out.synced);
  assert.equal(out.reason, "sync_vertices_missing");
  assert.match(out.message, new RegExp(missing));
  assertNothingStored(storage);
});

/** A genesis vertex that claims `author` and is signed with `signer`'s key. */
function handVertex(author: TestKey, signer: TestKey, timestampMs: bigint): Uint8Array {
  const unsigned = {
    chainId: testGenesis().chainId,
    author: Uint8Array.fromHex(author.id),
    round: 0n,
    timestampMs,
    parents: [],
    transactions: [],
  };
  return encodeVertex({ ...unsigned, signature: signer.signer.sign(vertexSigningMessage(unsigned)) });
}

/** A peer holding one vertex and a certificate (3 of 4) of a seq-1 cut whose frontier is that vertex. */
function oneVertexPeer(peers: FakePeers, peerId: string, vertex: Uint8Array): StoredCertificate {
  const storage = new MemoryStorage();
  const info = validateVertex(vertex);
  const id = info.id.toHex();
  storage.putVertex({
    id,
    bytes: vertex,
    author: info.vertex.author.toHex(),
    round: 0n,
    parents: [],
    receivedAtMs: 0,
    timestampMs: Number(info.vertex.timestampMs),
  });
  const cut = testCut(1, { boundaryMs: Number(info.vertex.timestampMs) + 1, prevBoundaryMs: 0, frontier: [id] });
  const cert = certify(statementOf(cut, null), [V0, V1, V2]);
  storage.putCertificate(cert);
  peers.add(peerId, servingPeer(peers, peerId, storage));
  return cert;
}

function decodedCertificate(c: StoredCertificate) {
  return { statement: decodeStatement(c.statement), signatures: c.signatures };
}

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
    const found = await sync.probe();
    assert.ok("cert" in found, name);
    assert.equal(found.cert.statement.seq, 1);
    const out = await sync.apply(found.cert, found.from);
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
