/**
 * Runs the QR-Avalanche engine inside the node: vertices reach it only after
 * the DAG service has checked and stored them; its messages travel over the
 * peer transport in the wire protocol of src/net/protocol.ts; vote signatures
 * are verified (asynchronously, with the crypto backend) before the engine
 * sees a vote; decisions are stored in SQLite before they are reported. The
 * engine owns no timers: this service turns time into messages (gossip ticks,
 * query timeouts).
 */
import {
  blake3,
  encodeVertex,
  validateTransaction,
  validateVertex,
  type VertexInfo,
  vertexSigningMessage,
} from "../core/mod.ts";
import type { CryptoBackend, MlDsaVerifier } from "../crypto/backend.ts";
import { type Decision, DEFAULT_PARAMETERS, type Parameters, type TxInput, VERTEX_TXS_MAX } from "../consensus/mod.ts";
import {
  Engine,
  type Sender,
  type SignedVertex,
  type SignedVote,
  type VertexBody,
  type VertexCodec,
  voteSigningBytes,
} from "../engine/mod.ts";
import { fromHex, toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage, VERTICES_PER_MESSAGE_MAX } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import type { DagService } from "./dag_service.ts";
import type { Genesis } from "./genesis.ts";
import type { SyncSigner } from "./sync_signer.ts";

export interface ConsensusOptions {
  genesis: Genesis;
  validatorId: string;
  syncSigner: SyncSigner;
  storage: Storage;
  dag: DagService;
  backend: CryptoBackend;
  transport: PeerTransport | null;
  registry: Registry;
  logger: Logger;
  nowMs: () => number;
  params?: Parameters;
  /** How often the engine gets a gossip tick (polls, fetch retries, re-issues). */
  gossipIntervalMs?: number;
  /** A query without votes by then counts as failed. */
  queryTimeoutMs?: number;
  /** Transactions wait at most this long to share a vertex. */
  batchDelayMs?: number;
  /** Most transactions in one vertex this node issues. */
  batchTxsMax?: number;
  /** Called with every batch of decisions once they are stored (the exchange ledger follows them). */
  onStored?: (decisions: readonly Decision[]) => void;
}

export type TxState = "processing" | "accepted" | "rejected" | "pending" | "unknown";

/** A submission this node refuses: stable code, message for the client. */
export class SubmitError extends Error {
  readonly code: "wrong_chain" | "mempool_full" | "shutting_down";
  constructor(code: SubmitError["code"], message: string) {
    super(message);
    this.name = "SubmitError";
    this.code = code;
  }
}

/** Bound on remembered verified votes (one entry per vote received). */
const VERIFIED_VOTES_MAX = 16_384;
/** Bound on transactions waiting to be issued. */
const MEMPOOL_MAX = 100_000;
/**
 * Bytes of transactions in one vertex: a vertex must fit one transport message
 * (1 MiB) with room for its header, parents and signature.
 */
const VERTEX_TX_BYTES_MAX = 960 * 1024;
/** Bytes of vertices packed into one protocol message. */
const MESSAGE_VERTEX_BYTES_MAX = 1000 * 1024;
/** Gossip ticks between re-requests of parents that waiting vertices need. */
const WANTED_EVERY_TICKS = 10;

export class ConsensusService {
  readonly engine: Engine;
  readonly #o: ConsensusOptions;
  readonly #verifiedVotes = new Set<string>();
  readonly #voteVerifiers = new Map<string, Promise<MlDsaVerifier>>();
  readonly #queryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #mempool = new Map<string, Uint8Array>();
  #batch: TxInput[] = [];
  #batchBytes = 0;
  #ticks = 0;
  #batchTimer: ReturnType<typeof setTimeout> | null = null;
  #tick: ReturnType<typeof setInterval> | null = null;
  readonly #firstSeenMs = new Map<string, number>();
  #stopped = false;
  readonly #m;

  constructor(o: ConsensusOptions) {
    this.#o = o;
    const r = o.registry;
    this.#m = {
      decisions: r.counter("qudag_consensus_decisions_total", "Final decisions, by kind and status.", [
        "kind",
        "status",
      ]),
      acceptance: r.histogram(
        "qudag_consensus_time_to_acceptance_seconds",
        "From a transaction's arrival here to its acceptance.",
        [],
        [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      ),
      vertices: r.gauge("qudag_consensus_vertices", "Vertices in consensus by state.", ["state"]),
      polls: r.gauge("qudag_consensus_polls_total", "Polls started and finished by this node.", ["phase"]),
      votes: r.counter("qudag_consensus_votes_total", "Votes received, by outcome.", ["result"]),
      messages: r.counter("qudag_consensus_messages_total", "Protocol messages received, by type.", ["type"]),
      submitted: r.counter("qudag_transactions_submitted_total", "Transactions submitted to this node, by result.", [
        "result",
      ]),
    };
    r.onCollect(() => {
      const s = this.engine.stats;
      this.#m.polls.set({ phase: "started" }, s.pollsStarted);
      this.#m.polls.set({ phase: "finished" }, s.pollsFinished);
      const counts = { processing: 0, accepted: 0, rejected: 0 };
      for (const id of this.#o.storage.vertexIdsInOrder()) {
        const st = this.engine.consensus.vertexStatus(id);
        if (st) counts[st]++;
      }
      for (const [state, n] of Object.entries(counts)) this.#m.vertices.set({ state }, n);
    });

    const validatorIds = o.genesis.validators.map((v) => v.id);
    this.engine = new Engine(
      {
        params: o.params ?? DEFAULT_PARAMETERS,
        validators: validatorIds,
        // Fresh ids after every start, so a vote still in flight for the last run's query cannot count now.
        firstRequestId: 1 + randomInt(0xffff_fffe),
      },
      {
        sender: this.#sender(),
        clock: { nowMs: o.nowMs },
        rng: { nextInt: (max) => randomInt(max) },
        store: {
          record: (decisions) => {
            const at = o.nowMs();
            o.storage.transaction(() => {
              for (const d of decisions) {
                o.storage.putDecision({ id: d.id, subject: d.kind, status: d.status, decidedAtMs: at });
              }
            });
          },
        },
        signer: { validatorId: o.validatorId, sign: (m) => o.syncSigner.sign(m) },
        verifier: {
          isValidator: (id) => validatorIds.includes(id),
          // Votes reach the engine only after #onVotes verified them; see there.
          verify: (id, message, signature) => this.#verifiedVotes.has(voteKey(id, message, signature)),
        },
        codec: this.#codec(),
        onDecisions: (ds) => this.#reported(ds),
      },
    );
    o.dag.onAdmitted((info, bytes, origin, from) => {
      if (origin !== "local" && !this.#stopped) {
        this.engine.onVertices(from ?? toHex(info.vertex.author), [toSignedVertex(info, bytes)]);
      }
    });
  }

  /** Loads what storage holds into the engine, then starts the clock-driven messages. */
  start(): void {
    const vertices = this.#o.storage.vertexIdsInOrder().map((id) => {
      const bytes = this.#o.storage.getVertex(id)!.bytes;
      return toSignedVertex(validateVertex(bytes), bytes);
    });
    const decisions: Decision[] = this.#o.storage.allDecisions().map((d) => ({
      kind: d.subject,
      id: d.id,
      status: d.status,
      rounds: 0,
    }));
    this.engine.restore(vertices, decisions);
    // The one boundary for peer input: nothing a peer sends may reject unhandled and end the process.
    this.#o.transport?.onMessage((from, bytes) => {
      this.#onMessage(from, bytes).catch((err) => {
        if (!this.#stopped) this.#o.logger.error("protocol message failed", { peer: from, err });
      });
    });
    this.#tick = setInterval(() => this.#onTick(), this.#o.gossipIntervalMs ?? 100);
    this.#o.logger.info("consensus started", {
      vertices: vertices.length,
      decisions: decisions.length,
      params: this.engine.params,
    });
  }

  #onTick(): void {
    if (this.#stopped) return;
    this.engine.onGossipTick();
    // Parents that waiting vertices need are asked for again, from a random connected peer.
    if (++this.#ticks % WANTED_EVERY_TICKS === 0) {
      const wanted = this.#o.dag.wanted().slice(0, 256);
      const peers = this.#o.transport?.peers() ?? [];
      if (wanted.length && peers.length) {
        this.#send(peers[randomInt(peers.length)].peerId, { type: "getVertices", ids: wanted });
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick !== null) clearInterval(this.#tick);
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    for (const t of this.#queryTimers.values()) clearTimeout(t);
    this.#queryTimers.clear();
  }

  /** Takes a signed transaction into the next vertex this node issues. Idempotent by transaction id. */
  submit(bytes: Uint8Array): { id: string; state: TxState } {
    if (this.#stopped) throw new SubmitError("shutting_down", "this node is shutting down; submit elsewhere or retry");
    const info = validateTransaction(bytes);
    const id = toHex(info.id);
    if (toHex(info.tx.chainId) !== this.#o.genesis.chainIdHex) {
      throw new SubmitError(
        "wrong_chain",
        `the transaction is for chain ${toHex(info.tx.chainId).slice(0, 16)}…, this node runs ${
          this.#o.genesis.chainIdHex.slice(0, 16)
        }…`,
      );
    }
    const state = this.txState(id);
    if (state !== "unknown") {
      this.#m.submitted.inc({ result: "duplicate" });
      return { id, state };
    }
    if (this.#mempool.size >= MEMPOOL_MAX) {
      throw new SubmitError("mempool_full", `the mempool is full (${MEMPOOL_MAX} transactions); retry later`);
    }
    if (this.#batchBytes + bytes.length > VERTEX_TX_BYTES_MAX) this.#flush();
    this.#mempool.set(id, bytes);
    this.#firstSeenMs.set(id, this.#o.nowMs());
    this.#batch.push({ id, conflictKey: info.conflictKey, deps: [] });
    this.#batchBytes += bytes.length;
    this.#m.submitted.inc({ result: "queued" });
    if (this.#batch.length >= (this.#o.batchTxsMax ?? VERTEX_TXS_MAX)) this.#flush();
    else this.#batchTimer ??= setTimeout(() => this.#flush(), this.#o.batchDelayMs ?? 20);
    return { id, state: "pending" };
  }

  txState(id: string): TxState {
    const d = this.#o.storage.getDecision(id);
    if (d) return d.status;
    const s = this.engine.consensus.txStatus(id);
    if (s) return s;
    return this.#mempool.has(id) ? "pending" : "unknown";
  }

  #flush(): void {
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.#stopped) return;
    // Two transactions of one conflict set cannot share a vertex: issue them apart.
    const groups: TxInput[][] = [];
    for (const tx of batch) {
      const g = groups.find((g) => !g.some((t) => t.conflictKey === tx.conflictKey));
      if (g) g.push(tx);
      else groups.push([tx]);
    }
    for (const g of groups) {
      try {
        this.engine.issue(g);
      } catch (e) {
        // Retry one by one so only the transaction at fault is dropped.
        this.#o.logger.warn("could not issue a vertex; retrying its transactions one by one", {
          err: e,
          txs: g.length,
        });
        for (const t of g) {
          try {
            this.engine.issue([t]);
          } catch (err) {
            this.#o.logger.warn("transaction dropped: it cannot be issued", { id: t.id, err });
            this.#m.submitted.inc({ result: "dropped" });
            this.#forget(t.id);
          }
        }
      }
    }
  }

  #reported(decisions: readonly Decision[]): void {
    this.#o.onStored?.(decisions);
    const now = this.#o.nowMs();
    for (const d of decisions) {
      this.#m.decisions.inc({ kind: d.kind, status: d.status });
      if (d.kind === "tx") {
        const seen = this.#firstSeenMs.get(d.id);
        if (seen !== undefined && d.status === "accepted") this.#m.acceptance.observe({}, (now - seen) / 1000);
        this.#forget(d.id);
      }
    }
  }

  #forget(txId: string): void {
    this.#mempool.delete(txId);
    this.#firstSeenMs.delete(txId);
  }

  #codec(): VertexCodec {
    const o = this.#o;
    return {
      build: (body: VertexBody): SignedVertex => {
        const parents = [...body.parents].sort();
        let round = 0n;
        for (const p of parents) {
          const r = o.dag.roundOf(p);
          if (r === null) throw new Error(`cannot build on unknown parent ${p}`);
          if (r + 1n > round) round = r + 1n;
        }
        const transactions = body.txs.map((t) => {
          const b = this.#mempool.get(t.id) ?? o.storage.getTransaction(t.id)?.bytes;
          if (!b) throw new Error(`no bytes for transaction ${t.id}`);
          return b;
        });
        const unsigned = {
          chainId: o.genesis.chainId,
          author: fromHex(o.validatorId),
          round,
          timestampMs: BigInt(body.timestampMs),
          parents: parents.map(fromHex),
          transactions,
        };
        const signature = o.syncSigner.sign(vertexSigningMessage(unsigned));
        const bytes = encodeVertex({ ...unsigned, signature });
        const stored = o.dag.admitOwn(bytes);
        if (stored.status === "rejected") throw new Error(`own vertex refused: ${stored.message} [${stored.code}]`);
        // Stored with the vertex now: the mempool no longer needs the bytes.
        for (const t of body.txs) this.#mempool.delete(t.id);
        return toSignedVertex(validateVertex(bytes), bytes);
      },
      // Every vertex the engine gets came through the DAG service, which checked its id and signature.
      check: (v) => (o.dag.roundOf(v.id) !== null ? "ok" : "bad_signature"),
    };
  }

  #send(to: string, m: ProtocolMessage): boolean {
    const t = this.#o.transport;
    if (!t || this.#stopped) return false;
    const r = t.send(to, encodeMessage(m));
    if (r !== "queued") this.#m.messages.inc({ type: `send_${r}` });
    return r === "queued";
  }

  /** Sends vertex bytes to a peer, as many per message as fit. */
  #sendVertexBytes(to: string, all: readonly Uint8Array[]): void {
    let chunk: Uint8Array[] = [];
    let bytes = 0;
    for (const v of all) {
      if (chunk.length && (chunk.length >= VERTICES_PER_MESSAGE_MAX || bytes + v.length > MESSAGE_VERTEX_BYTES_MAX)) {
        this.#send(to, { type: "vertices", vertices: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(v);
      bytes += v.length;
    }
    if (chunk.length) this.#send(to, { type: "vertices", vertices: chunk });
  }

  #sender(): Sender {
    return {
      sendVertices: (to, vertices) =>
        this.#sendVertexBytes(
          to,
          vertices.map((v) => v.payload ?? this.#o.storage.getVertex(v.id)?.bytes).filter((b) => b !== undefined),
        ),
      sendGetVertices: (to, ids) => void this.#send(to, { type: "getVertices", ids: [...ids].slice(0, 256) }),
      sendQuery: (to, requestId, frontier) => {
        const key = `${to}:${requestId}`;
        const sent = this.#send(to, { type: "query", requestId, frontier: [...frontier] });
        // Exactly one of onVotes / onQueryFailed follows every query.
        const t = setTimeout(() => {
          this.#queryTimers.delete(key);
          if (!this.#stopped) this.engine.onQueryFailed(to, requestId);
        }, sent ? (this.#o.queryTimeoutMs ?? 2_000) : 0);
        this.#queryTimers.set(key, t);
      },
      sendVotes: (to, vote) =>
        void this.#send(to, {
          type: "votes",
          querier: vote.querier,
          requestId: vote.requestId,
          responder: vote.responder,
          frontier: [...vote.frontier],
          signature: vote.signature,
        }),
      sendFrontier: (to, frontier, replyWanted) =>
        void this.#send(to, { type: "frontier", frontier: [...frontier], replyWanted }),
    };
  }

  async #onMessage(from: string, bytes: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    let m: ProtocolMessage;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      this.#m.messages.inc({ type: "malformed" });
      this.#o.logger.warn("malformed protocol message", { peer: from, err: e });
      return;
    }
    this.#m.messages.inc({ type: m.type });
    switch (m.type) {
      case "vertices":
        for (const v of m.vertices) {
          const r = await this.#o.dag.submit(v, "peer", from);
          if (this.#stopped) return;
          if (r.status === "waiting" && r.missing?.length) {
            this.#send(from, { type: "getVertices", ids: [...r.missing] });
          }
          // Stored earlier but not in the engine (it dropped it: full pending buffer): hand it on.
          if (r.status === "duplicate" && r.id && !this.engine.consensus.hasVertex(r.id)) {
            const stored = this.#o.storage.getVertex(r.id)!.bytes;
            this.engine.onVertices(from, [toSignedVertex(validateVertex(stored), stored)]);
          }
        }
        break;
      case "getVertices":
        this.#sendVertexBytes(
          from,
          m.ids.map((id) => this.#o.storage.getVertex(id)?.bytes).filter((b) => b !== undefined),
        );
        break;
      case "query":
        this.engine.onQuery(from, m.requestId, m.frontier);
        break;
      case "frontier":
        this.engine.onFrontier(from, m.frontier, m.replyWanted);
        break;
      case "votes":
        await this.#onVotes(from, m);
        break;
    }
  }

  async #onVotes(from: string, m: Extract<ProtocolMessage, { type: "votes" }>): Promise<void> {
    const vote: SignedVote = {
      querier: m.querier,
      requestId: m.requestId,
      responder: m.responder,
      frontier: m.frontier,
      signature: m.signature,
    };
    const validator = this.#o.genesis.validators.find((v) => v.id === vote.responder);
    if (validator && vote.responder === from) {
      let verifier = this.#voteVerifiers.get(validator.id);
      if (!verifier) {
        verifier = this.#o.backend.mlDsaVerifier(validator.publicKey);
        // A failed import is not kept: a passing error must not disable a validator's votes.
        verifier.catch(() => this.#voteVerifiers.delete(validator.id));
        this.#voteVerifiers.set(validator.id, verifier);
      }
      const message = voteSigningBytes(vote);
      if (await (await verifier).verify(message, vote.signature)) {
        this.#verifiedVotes.add(voteKey(vote.responder, message, vote.signature));
        if (this.#verifiedVotes.size > VERIFIED_VOTES_MAX) {
          this.#verifiedVotes.delete(this.#verifiedVotes.values().next().value!);
        }
        this.#m.votes.inc({ result: "verified" });
      } else this.#m.votes.inc({ result: "bad_signature" });
    } else this.#m.votes.inc({ result: "wrong_sender" });
    if (this.#stopped) return;
    // The engine checks the signature again through the verifier: a vote that failed above is refused and counted there.
    const accepted = this.engine.stats.votesAccepted;
    this.engine.onVotes(from, vote);
    // Only a vote the engine took answers the query; after a refused one its timeout must still fire.
    if (this.engine.stats.votesAccepted > accepted) {
      const key = `${from}:${vote.requestId}`;
      const t = this.#queryTimers.get(key);
      if (t !== undefined) {
        clearTimeout(t);
        this.#queryTimers.delete(key);
      }
    }
  }
}

function voteKey(responder: string, message: Uint8Array, signature: Uint8Array): string {
  const joined = new Uint8Array(message.length + signature.length);
  joined.set(message);
  joined.set(signature, message.length);
  return `${responder}:${toHex(blake3(joined))}`;
}

/** Uniform in [0, max) from the OS's randomness, without modulo bias. */
function randomInt(max: number): number {
  if (max <= 1) return 0;
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf); while (buf[0] >= limit);
  return buf[0] % max;
}

/** The engine's view of a core vertex; `payload` is the canonical signed bytes. */
export function toSignedVertex(info: VertexInfo, bytes: Uint8Array): SignedVertex {
  return {
    id: toHex(info.id),
    author: toHex(info.vertex.author),
    parents: info.vertex.parents.map(toHex),
    txs: info.vertex.transactions.map((t, i) => ({
      id: toHex(info.transactionIds[i]),
      conflictKey: validateTransaction(t).conflictKey,
      deps: [],
    })),
    timestampMs: Number(info.vertex.timestampMs),
    signature: info.vertex.signature,
    payload: bytes,
  };
}
