/**
 * State sync (wasm/LEDGER.md, "Settlement"): a node with an empty or stale
 * data directory, of any age, does not replay the chain's history. At start
 * it asks its peers for their newest certified checkpoint that has a ledger
 * snapshot, checks the certificate against the genesis validators (more than
 * two thirds), fetches the snapshot and checks its state and journal hashes
 * against the certificate, fetches the vertices of the checkpoint's own cut
 * (authenticated by their ids, which the certified frontier names) and the
 * previous cut's frontier, stores all of it as settled, and then follows the
 * DAG from that frontier like any node.
 *
 * Nothing a peer sends is trusted beyond what the certificate proves: a
 * snapshot that does not match it, a vertex whose id or signature does not
 * check, or a certificate short of signatures is refused with a stable code
 * and the next peer is tried.
 */
import {
  type CheckpointCertificate,
  type CheckpointStatement,
  decodeStatement,
  encodeStatement,
  statementDigest,
} from "../checkpoint/mod.ts";
import { concatBytes } from "../bytes.ts";
import { Ledger, validateTransaction, validateVertex, type VertexInfo } from "../core/mod.ts";
import type { Logger } from "../log/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import { carriedOffsets, type Storage, type StoredCertificate } from "../storage/mod.ts";
import type { CheckpointService } from "./checkpoints.ts";
import type { ValidatorSet } from "./validators.ts";

export type StateSyncRefusal =
  | "sync_no_peers"
  | "sync_no_checkpoint"
  | "sync_not_behind"
  | "sync_snapshot_missing"
  | "sync_snapshot_mismatch"
  | "sync_vertex_invalid"
  | "sync_vertices_missing";

export type StateSyncOutcome =
  | { readonly synced: true; readonly seq: number; readonly vertices: number; readonly snapshotBytes: number }
  | { readonly synced: false; readonly reason: StateSyncRefusal; readonly message: string };

export interface StateSyncOptions {
  storage: Storage;
  transport: PeerTransport;
  checkpoints: CheckpointService;
  validators: ValidatorSet;
  /** True when the chain runs the exchange ledger (a snapshot is then required). */
  exchange: boolean;
  logger: Logger;
  /** This node's newest cut (0: none). */
  ownSeq: number;
  /** Sync only when the peers' newest certified checkpoint is at least this many ahead. */
  behindMin: number;
  /** How long to wait for a first peer. */
  waitMs: number;
  /** How long to wait for one answer. */
  answerMs?: number;
  /** Sleeps (injected so tests need not wait on wall time). */
  sleep?: (ms: number) => Promise<void>;
}

/** A vertex fetched and checked, with its signed bytes. */
interface Fetched {
  readonly info: VertexInfo;
  readonly bytes: Uint8Array;
}

/** Most vertices fetched for one cut: its own vertices and the previous frontier (guards a lying peer). */
const SYNC_VERTICES_MAX = 200_000;
/** Ids asked for in one request. */
const FETCH_BATCH = 64;
/** Times the vertices of one batch are asked for, from one peer after another, before the sync gives up. */
const SYNC_ASKS_MAX = 3;
/** Certificates or snapshot chunks held while waiting for an answer. */
const ANSWERS_MAX = 64;
/** Largest snapshot accepted (the exchange state of about a million accounts). */
const SNAPSHOT_BYTES_MAX = 4 * 1024 * 1024 * 1024 - 1;

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Decides whether this node is far enough behind its peers' certified
 * checkpoints to sync, and if so fetches, checks and stores what the
 * checkpoint needs. The caller must start from an empty store when it syncs
 * (a stale one is moved aside first: see {@linkcode needsStateSync}).
 */
export class StateSync {
  readonly #o: StateSyncOptions;
  /** Answers by kind, filled by the transport handler. */
  readonly #certificates: {
    from: string;
    statement: Uint8Array;
    signatures: { validator: string; signature: Uint8Array }[];
  }[] = [];
  readonly #chunks: { seq: number; offset: number; total: number; bytes: Uint8Array }[] = [];
  readonly #vertices = new Map<string, Uint8Array>();
  /** Peers that answered they hold no checkpoint. */
  readonly #none = new Set<string>();

  constructor(o: StateSyncOptions) {
    this.#o = o;
  }

  /** The transport handler while syncing (consensus installs its own when it starts). */
  onMessage = (from: string, bytes: Uint8Array): void => {
    let m: ProtocolMessage;
    try {
      m = decodeMessage(bytes);
    } catch {
      return;
    }
    // Bounded: a peer can only fill what this sync is waiting for.
    if (m.type === "checkpoint") {
      if (m.statement.length === 0) this.#none.add(from); // the peer holds no such checkpoint
      else if (this.#certificates.length < ANSWERS_MAX) {
        this.#certificates.push({ from, statement: m.statement, signatures: m.signatures });
      }
    } else if (m.type === "snapshotChunk") {
      if (this.#chunks.length < ANSWERS_MAX) this.#chunks.push(m);
    } else if (m.type === "vertices") {
      for (const v of m.vertices) {
        if (this.#vertices.size >= FETCH_BATCH * 4) break;
        try {
          this.#vertices.set(validateVertex(v).id.toHex(), v);
        } catch { /* checked again below; garbage is ignored */ }
      }
    }
  };

  /**
   * The newest certified checkpoint the peers hold with a snapshot, verified,
   * if this node is at least `behindMin` behind it.
   */
  async probe(): Promise<{ cert: CheckpointCertificate; from: string } | StateSyncOutcome> {
    const sleep = this.#o.sleep ?? defaultSleep;
    const waitUntil = Date.now() + this.#o.waitMs;
    while (this.#o.transport.peers().length === 0 && Date.now() < waitUntil) await sleep(50);
    const peers = this.#o.transport.peers().map((p) => p.peerId);
    if (peers.length === 0) return refuse("sync_no_peers", `no peer connected within ${this.#o.waitMs} ms`);
    for (const p of peers) this.#send(p, { type: "getCheckpoint", seq: 0, withSnapshot: this.#o.exchange });
    await this.#waitFor(() => this.#certificates.length + this.#none.size >= peers.length);
    let best: { cert: CheckpointCertificate; from: string } | null = null;
    for (const c of this.#certificates.splice(0)) {
      const cert = await this.#o.checkpoints.onCertificate(c.from, c.statement, c.signatures);
      if (cert !== null && (best === null || cert.statement.seq > best.cert.statement.seq)) {
        best = { cert, from: c.from };
      }
    }
    if (best === null) return refuse("sync_no_checkpoint", "no peer holds a certified checkpoint yet");
    if (best.cert.statement.seq < this.#o.ownSeq + this.#o.behindMin) {
      return refuse(
        "sync_not_behind",
        `this node is at checkpoint ${this.#o.ownSeq}, the peers at ${best.cert.statement.seq}: it catches up by fetching`,
      );
    }
    return best;
  }

  /** Fetches and checks what checkpoint `cert` needs and stores it as settled (into an empty store). */
  async apply(cert: CheckpointCertificate, from: string): Promise<StateSyncOutcome> {
    const s = cert.statement;
    let snapshot: Uint8Array | null = null;
    if (this.#o.exchange) {
      snapshot = await this.#fetchSnapshot(s.seq, from);
      if (snapshot === null) {
        return refuse("sync_snapshot_missing", `peer ${from.slice(0, 16)}… sent no snapshot of checkpoint ${s.seq}`);
      }
      const mismatch = checkSnapshot(snapshot, s);
      if (mismatch !== null) return refuse("sync_snapshot_mismatch", mismatch);
    }
    // The previous checkpoint names the frontier new vertices must still descend from.
    let prev: CheckpointStatement | null = null;
    if (s.seq > 1) {
      this.#send(from, { type: "getCheckpoint", seq: s.seq - 1, withSnapshot: false });
      await this.#waitFor(() => this.#certificates.length > 0);
      for (const c of this.#certificates.splice(0)) {
        const verified = await this.#o.checkpoints.onCertificate(c.from, c.statement, c.signatures);
        if (verified?.statement.seq === s.seq - 1) prev = verified.statement;
      }
    }
    const fetched = await this.#fetchCut(s, prev, from);
    if (!fetched.ok) return refuse(fetched.reason, fetched.message);
    this.#store(cert, prev, fetched.vertices, snapshot);
    this.#o.logger.info("synced from a certified checkpoint", {
      seq: s.seq,
      boundaryMs: s.boundaryMs,
      vertices: fetched.vertices.length,
      snapshotBytes: snapshot?.length ?? 0,
      peer: from,
    });
    return { synced: true, seq: s.seq, vertices: fetched.vertices.length, snapshotBytes: snapshot?.length ?? 0 };
  }

  async #fetchSnapshot(seq: number, from: string): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let offset = 0;
    let total = -1;
    while (total < 0 || offset < total) {
      this.#send(from, { type: "getSnapshot", seq, offset });
      await this.#waitFor(() => this.#chunks.some((c) => c.seq === seq && c.offset === offset));
      const chunk = this.#chunks.find((c) => c.seq === seq && c.offset === offset);
      this.#chunks.length = 0;
      if (chunk === undefined || chunk.total === 0 || chunk.bytes.length === 0) return null;
      // A chunk must fit the total its peer announced, and that total must not change.
      if (chunk.total > SNAPSHOT_BYTES_MAX || (total >= 0 && chunk.total !== total)) return null;
      if (chunk.offset + chunk.bytes.length > chunk.total) return null;
      total = chunk.total;
      parts.push(chunk.bytes);
      offset += chunk.bytes.length;
    }
    // The chunks cover [0, total) in order, each checked to fit it.
    return concatBytes(...parts);
  }

  /**
   * The vertices of the cut (timestamp in [prevBoundary, boundary)), reached
   * from the certified frontier through parents, and the previous frontier.
   * Each is authenticated by its id, which a verified child (or the
   * certificate) names, and its author's signature is checked.
   */
  async #fetchCut(
    s: CheckpointStatement,
    prev: CheckpointStatement | null,
    from: string,
  ): Promise<{ ok: true; vertices: Fetched[] } | { ok: false; reason: StateSyncRefusal; message: string }> {
    const wanted = new Set<string>([...s.frontier, ...(prev?.frontier ?? [])]);
    const done = new Map<string, Fetched>();
    const stopBelow = new Set(prev?.frontier ?? []);
    while (wanted.size > 0) {
      if (done.size > SYNC_VERTICES_MAX) {
        return { ok: false, reason: "sync_vertices_missing", message: `more than ${SYNC_VERTICES_MAX} vertices` };
      }
      const batch = [...wanted].slice(0, FETCH_BATCH);
      // A loaded peer may answer late: what is missing is asked of the next peer (any holds a certified cut).
      const askable = [from, ...this.#o.transport.peers().map((p) => p.peerId).filter((p) => p !== from)];
      for (let ask = 0; ask < SYNC_ASKS_MAX && !batch.every((id) => this.#vertices.has(id)); ask++) {
        const missing = batch.filter((id) => !this.#vertices.has(id));
        this.#send(askable[ask % askable.length], { type: "getVertices", ids: missing });
        await this.#waitFor(() => batch.every((id) => this.#vertices.has(id)));
      }
      for (const id of batch) {
        const bytes = this.#vertices.get(id);
        if (bytes === undefined) {
          return {
            ok: false,
            reason: "sync_vertices_missing",
            message: `no peer sent vertex ${id} (asked ${SYNC_ASKS_MAX} times, first of ${from.slice(0, 16)}…)`,
          };
        }
        const info = validateVertex(bytes);
        const author = info.vertex.author.toHex();
        if (
          !this.#o.validators.has(author) ||
          !await this.#o.validators.verify(author, info.signingMessage, info.vertex.signature)
        ) {
          return {
            ok: false,
            reason: "sync_vertex_invalid",
            message: `vertex ${id} is not signed by a genesis validator`,
          };
        }
        wanted.delete(id);
        done.set(id, { info, bytes });
        // Walk down through the cut's own vertices; stop at the previous cut.
        if (Number(info.vertex.timestampMs) >= s.prevBoundaryMs && !stopBelow.has(id)) {
          for (const p of info.vertex.parents.map((x) => x.toHex())) if (!done.has(p)) wanted.add(p);
        }
        this.#vertices.delete(id);
      }
    }
    // Parents first: (timestamp, round) never decreases from parent to child.
    const vertices = [...done.values()].sort((a, b) =>
      Number(a.info.vertex.timestampMs - b.info.vertex.timestampMs) || Number(a.info.vertex.round - b.info.vertex.round)
    );
    return { ok: true, vertices };
  }

  #store(
    cert: CheckpointCertificate,
    prev: CheckpointStatement | null,
    vertices: readonly Fetched[],
    snapshot: Uint8Array | null,
  ): void {
    const storage = this.#o.storage;
    const s = cert.statement;
    storage.transaction(() => {
      for (const { info, bytes } of vertices) {
        const id = info.id.toHex();
        storage.putVertex({
          id,
          bytes,
          author: info.vertex.author.toHex(),
          round: info.vertex.round,
          parents: info.vertex.parents.map((p) => p.toHex()).sort(),
          receivedAtMs: 0,
          timestampMs: Number(info.vertex.timestampMs),
        });
        const offsets = carriedOffsets(bytes, info.vertex.transactions);
        info.vertex.transactions.forEach((tx, i) => {
          const txId = info.transactionIds[i].toHex();
          storage.putTransaction({
            id: txId,
            bytes: tx,
            conflictKey: validateTransaction(tx).conflictKey,
            vertex: id,
            receivedAtMs: 0,
            inVertexAt: offsets[i],
          });
          storage.putDecision({ id: txId, subject: "tx", status: "accepted", decidedAtMs: 0 });
        });
        storage.putDecision({ id, subject: "vertex", status: "accepted", decidedAtMs: 0 });
      }
      // The store may be a fresh one (a stale one was moved aside after the probe): the certificates go in it.
      const held = this.#keep(cert);
      if (prev !== null) {
        const p = storage.getCertificate(prev.seq)!;
        storage.putCut({
          seq: prev.seq,
          boundaryMs: prev.boundaryMs,
          prevBoundaryMs: prev.prevBoundaryMs,
          frontier: prev.frontier,
          vertexCount: prev.vertexCount,
          snapshotSafe: false,
          statement: null,
          digest: null,
          signature: null,
        });
        storage.setCutStatement(prev.seq, p.statement, p.digest, null);
      }
      storage.putCut({
        seq: s.seq,
        boundaryMs: s.boundaryMs,
        prevBoundaryMs: s.prevBoundaryMs,
        frontier: s.frontier,
        vertexCount: s.vertexCount,
        snapshotSafe: true,
        statement: null,
        digest: null,
        signature: null,
      });
      storage.setCutStatement(s.seq, held.statement, held.digest, null);
      if (snapshot !== null) storage.putSnapshot(s.seq, snapshot, 1);
      storage.setMeta("synced_from_checkpoint", String(s.seq));
    }, { durable: true });
  }

  /** Stores a verified certificate unless it is there already; returns what is stored. */
  #keep(cert: CheckpointCertificate): StoredCertificate {
    const storage = this.#o.storage;
    const held = storage.getCertificate(cert.statement.seq);
    if (held !== null) return held;
    const stored = {
      seq: cert.statement.seq,
      digest: statementDigest(cert.statement).toHex(),
      statement: encodeStatement(cert.statement),
      signatures: cert.signatures,
    };
    storage.putCertificate(stored);
    return stored;
  }

  #send(to: string, m: ProtocolMessage): void {
    this.#o.transport.send(to, encodeMessage(m), true);
  }

  async #waitFor(done: () => boolean): Promise<void> {
    const sleep = this.#o.sleep ?? defaultSleep;
    const until = Date.now() + (this.#o.answerMs ?? 5_000);
    while (!done() && Date.now() < until) await sleep(20);
  }
}

/** Null when the snapshot is the state the statement certifies; else why not. */
export function checkSnapshot(snapshot: Uint8Array, s: CheckpointStatement): string | null {
  let ledger: Ledger;
  try {
    ledger = Ledger.import(snapshot);
  } catch (error) {
    return `the snapshot of checkpoint ${s.seq} does not import: ${(error as Error).message}`;
  }
  try {
    const h = ledger.cutHashes([]);
    if (h.stateHash.toHex() !== s.stateHash.toHex()) {
      return `the snapshot's state hash is ${h.stateHash.toHex()}, checkpoint ${s.seq} certifies ${s.stateHash.toHex()}`;
    }
    if (h.journalHash.toHex() !== s.journalHash.toHex()) {
      return `the snapshot's journal hash is ${h.journalHash.toHex()}, checkpoint ${s.seq} certifies ${s.journalHash.toHex()}`;
    }
    return null;
  } finally {
    ledger.free();
  }
}

function refuse(reason: StateSyncRefusal, message: string): StateSyncOutcome {
  return { synced: false, reason, message };
}

/** The statement a stored certificate certifies. */
export function certifiedStatement(bytes: Uint8Array): CheckpointStatement {
  return decodeStatement(bytes);
}

/**
 * At start: asks the peers for their newest certified checkpoint and, when
 * this node is at least `behindMin` checkpoints behind it (with `force`,
 * whatever this node holds: the resync watch found it stuck), syncs from it,
 * into a fresh store when this one holds anything (`freshStore` moves it
 * aside; a failed sync brings it back). What a sync does not do, fetching
 * does.
 */
export async function syncIfBehind(o: {
  storage: Storage;
  transport: PeerTransport;
  validators: ValidatorSet;
  /** A checkpoint service over the data directory's current store (a fresh store needs a new one). */
  checkpoints: () => CheckpointService;
  exchange: boolean;
  logger: Logger;
  behindMin: number;
  waitMs: number;
  freshStore: () => Storage;
  /** The sync into the fresh store failed: the store moved aside comes back. */
  undoFreshStore: () => void;
  /** It succeeded: the store moved aside stays aside. */
  keepFreshStore: () => void;
  force?: boolean;
}): Promise<StateSyncOutcome> {
  const options = (storage: Storage, ownSeq: number): StateSyncOptions => ({
    storage,
    transport: o.transport,
    checkpoints: o.checkpoints(),
    validators: o.validators,
    exchange: o.exchange,
    logger: o.logger,
    ownSeq,
    behindMin: o.force ? 1 : o.behindMin,
    waitMs: o.waitMs,
  });
  const probe = new StateSync(options(o.storage, o.force ? 0 : o.storage.latestCut()?.seq ?? 0));
  o.transport.onMessage(probe.onMessage);
  const found = await probe.probe();
  if (!("cert" in found)) return found;
  const fresh = o.storage.vertexCount() > 0;
  const storage = fresh ? o.freshStore() : o.storage;
  const sync = new StateSync(options(storage, 0));
  o.transport.onMessage(sync.onMessage);
  const outcome = await sync.apply(found.cert, found.from);
  if (fresh && outcome.synced) o.keepFreshStore();
  else if (fresh) o.undoFreshStore();
  return outcome;
}
