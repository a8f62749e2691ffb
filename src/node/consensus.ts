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
import { type Decision, DEFAULT_PARAMETERS, type Parameters, type TxInput } from "../consensus/mod.ts";
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
}

export type TxState = "processing" | "accepted" | "rejected" | "pending" | "unknown";

/** Bound on remembered verified votes (one entry per vote received). */
const VERIFIED_VOTES_MAX = 16_384;
/** Bound on transactions waiting to be issued. */
const MEMPOOL_MAX = 100_000;

export class ConsensusService {
  readonly engine: Engine;
  readonly #o: ConsensusOptions;
  readonly #verifiedVotes = new Set<string>();
  readonly #voteVerifiers = new Map<string, Promise<MlDsaVerifier>>();
  readonly #queryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #mempool = new Map<string, Uint8Array>();
  #batch: TxInput[] = [];
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
    o.dag.onAdmitted((info, bytes, origin) => {
      if (origin !== "local") this.engine.onVertices(toHex(info.vertex.author), [toSignedVertex(info, bytes)]);
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
    this.#o.transport?.onMessage((from, bytes) => void this.#onMessage(from, bytes));
    this.#tick = setInterval(() => this.engine.onGossipTick(), this.#o.gossipIntervalMs ?? 100);
    this.#o.logger.info("consensus started", {
      vertices: vertices.length,
      decisions: decisions.length,
      params: this.engine.params,
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick !== null) clearInterval(this.#tick);
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    for (const t of this.#queryTimers.values()) clearTimeout(t);
    this.#queryTimers.clear();
  }

  /** Takes a signed transaction into the next vertex this node issues. Idempotent by transaction id. */
  submit(bytes: Uint8Array): { id: string; state: TxState } {
    const info = validateTransaction(bytes);
    const id = toHex(info.id);
    const state = this.txState(id);
    if (state !== "unknown") {
      this.#m.submitted.inc({ result: "duplicate" });
      return { id, state };
    }
    if (this.#mempool.size >= MEMPOOL_MAX) throw new Error(`the mempool is full (${MEMPOOL_MAX} transactions)`);
    this.#mempool.set(id, bytes);
    this.#firstSeenMs.set(id, this.#o.nowMs());
    this.#batch.push({ id, conflictKey: info.conflictKey, deps: [] });
    this.#m.submitted.inc({ result: "queued" });
    if (this.#batch.length >= (this.#o.batchTxsMax ?? 256)) this.#flush();
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
        this.#o.logger.warn("could not issue a vertex", { err: e, txs: g.length });
        for (const t of g) this.#mempool.delete(t.id);
      }
    }
  }

  #reported(decisions: readonly Decision[]): void {
    const now = this.#o.nowMs();
    for (const d of decisions) {
      this.#m.decisions.inc({ kind: d.kind, status: d.status });
      if (d.kind === "tx") {
        const seen = this.#firstSeenMs.get(d.id);
        if (seen !== undefined && d.status === "accepted") this.#m.acceptance.observe({}, (now - seen) / 1000);
        this.#firstSeenMs.delete(d.id);
        this.#mempool.delete(d.id);
      }
    }
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
        return toSignedVertex(validateVertex(bytes), bytes);
      },
      // Every vertex the engine gets came through the DAG service, which checked its id and signature.
      check: (v) => (o.dag.roundOf(v.id) !== null ? "ok" : "bad_signature"),
    };
  }

  #send(to: string, m: ProtocolMessage): boolean {
    const t = this.#o.transport;
    if (!t || this.#stopped) return false;
    return t.send(to, encodeMessage(m)) === "queued";
  }

  #sender(): Sender {
    return {
      sendVertices: (to, vertices) => {
        for (let i = 0; i < vertices.length; i += VERTICES_PER_MESSAGE_MAX) {
          const chunk = vertices.slice(i, i + VERTICES_PER_MESSAGE_MAX).map((v) => v.payload).filter((p) =>
            p !== undefined
          );
          if (chunk.length) this.#send(to, { type: "vertices", vertices: chunk });
        }
      },
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
          const r = await this.#o.dag.submit(v, "peer");
          if (r.status === "waiting" && r.missing?.length) {
            this.#send(from, { type: "getVertices", ids: [...r.missing] });
          }
        }
        break;
      case "getVertices": {
        const found = m.ids.map((id) => this.#o.storage.getVertex(id)?.bytes).filter((b) => b !== undefined);
        for (let i = 0; i < found.length; i += VERTICES_PER_MESSAGE_MAX) {
          this.#send(from, { type: "vertices", vertices: found.slice(i, i + VERTICES_PER_MESSAGE_MAX) });
        }
        break;
      }
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
        this.#voteVerifiers.set(validator.id, verifier = this.#o.backend.mlDsaVerifier(validator.publicKey));
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
    const key = `${from}:${vote.requestId}`;
    const t = this.#queryTimers.get(key);
    if (t !== undefined) {
      clearTimeout(t);
      this.#queryTimers.delete(key);
    }
    // The engine checks the signature again through the verifier: a vote that failed above is refused and counted there.
    if (!this.#stopped) this.engine.onVotes(from, vote);
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
