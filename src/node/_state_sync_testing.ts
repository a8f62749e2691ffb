/**
 * Fixtures of the state sync tests (state_sync_test.ts, state_sync_refusals_test.ts): a certified chain a
 * peer serves, fake peers, and a node that syncs from them.
 */
import assert from "node:assert/strict";
import { type CheckpointStatement, decodeStatement } from "../checkpoint/mod.ts";
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
  statementOf,
  storedCut,
  testCut,
  testGenesis,
  type TestKey,
  type TestNode,
  testNode,
  validatorKeys,
} from "./_checkpoint_testing.ts";
import { StateSync, type StateSyncOptions } from "./state_sync.ts";
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
export interface CertifiedChain {
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

export const minute = (n: number) => T0 + BigInt(n) * MINUTE_MS;

/** A cut of the vertices `ids`, with the transaction ids they carry. */
export function cutOf(
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

/** A ledger service of the seed genesis over `storage`. */
export function seedLedger(storage: Storage, snapshotEvery?: number): LedgerService {
  return new LedgerService({
    genesis: seedGenesis(),
    storage,
    verify: verifyAsync,
    logger: silentLogger,
    registry: new Registry(),
    ...(snapshotEvery === undefined ? {} : { snapshotEvery }),
  });
}

let built: Promise<CertifiedChain> | undefined;

export function certifiedChain(): Promise<CertifiedChain> {
  return built ??= (async () => {
    const storage = new MemoryStorage();
    const ledger = seedLedger(storage, 1);
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
export class FakePeers {
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

export interface ServingOptions {
  /** Serves snapshots in chunks of this many bytes itself (else the CheckpointService's chunks). */
  chunkBytes?: number;
  /** Serves these bytes as every snapshot. */
  snapshot?: Uint8Array;
  /** Vertex ids it does not send. */
  omit?: ReadonlySet<string>;
}

/** A peer serving `storage`: certificates and snapshots through a real CheckpointService, vertices from the store. */
export function servingPeer(peers: FakePeers, peerId: string, storage: Storage, o: ServingOptions = {}): PeerHandler {
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
export function storeAtSeq1(c: CertifiedChain): MemoryStorage {
  const s = new MemoryStorage();
  s.putCertificate(c.certificates[0]);
  s.putSnapshot(1, c.snapshots[0], 1);
  return s;
}

export interface SyncingNode {
  readonly sync: StateSync;
  readonly storage: MemoryStorage;
  readonly node: TestNode;
  /** What the injected sleep was asked to wait, in order. */
  readonly sleeps: number[];
}

/** probe(), which must find a certificate, then apply() of it: the certificate and what apply() answered. */
export async function probeThenApply(sync: StateSync, label = "probe() found no certificate") {
  const found = await sync.probe();
  assert.ok("cert" in found, label);
  return { cert: found.cert, out: await sync.apply(found.cert, found.from) };
}

/** A StateSync over an empty store (validator 3's), its transport the fake peers; it never waits on wall time. */
export function syncingNode(peers: FakePeers, o: Partial<StateSyncOptions> = {}): SyncingNode {
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

export function assertNothingStored(storage: Storage): void {
  assert.equal(storage.vertexCount(), 0, "vertices were stored");
  assert.deepEqual(storage.allDecisions(), [], "decisions were stored");
  assert.equal(storage.latestCut(), null, "a cut was stored");
  assert.deepEqual(storage.snapshotSeqs(), [], "a snapshot was stored");
  assert.equal(storage.getMeta("synced_from_checkpoint"), null);
}

export const [V0, V1, V2] = validatorKeys();

export function handVertex(author: TestKey, signer: TestKey, timestampMs: bigint): Uint8Array {
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
export function oneVertexPeer(peers: FakePeers, peerId: string, vertex: Uint8Array): StoredCertificate {
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

export function decodedCertificate(c: StoredCertificate) {
  return { statement: decodeStatement(c.statement), signatures: c.signatures };
}
