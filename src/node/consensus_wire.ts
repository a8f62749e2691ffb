/**
 * The engine's messages over the peer transport, in the wire protocol of
 * src/net/protocol.ts: its Sender encodes them, incoming ones go to the DAG
 * service (vertices) or the engine (queries, votes, frontiers), and each
 * query gets its timeout here (the engine owns no timers). A vote counts as
 * the authenticated peer's that sent it (votes carry no signature: see Vote
 * in src/engine/types.ts).
 */
import { validateVertex } from "../core/mod.ts";
import type { Engine, Sender, Vote } from "../engine/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage, VERTICES_PER_MESSAGE_MAX } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { acceptedPage, CATCH_UP_ORPHANS_MIN, CatchUp } from "./catch_up.ts";
import type { DagService } from "./dag_service.ts";
import { TurnBudget } from "./turn_budget.ts";
import { toSignedVertex } from "./vertex_codec.ts";

export interface ConsensusWireOptions {
  /** The engine the messages drive (built after the wire, which gives it its Sender). */
  engine: () => Engine;
  transport: PeerTransport | null;
  storage: Storage;
  dag: DagService;
  logger: Logger;
  /** A query without votes by then counts as failed. */
  queryTimeoutMs?: number;
  /** Uniform in [0, max): picks the peer asked for wanted vertices. */
  randomInt: (max: number) => number;
  /** qudag_consensus_messages_total and qudag_consensus_votes_total. */
  messages: Counter;
  votes: Counter;
  /** Protocol messages consensus does not handle itself (checkpoints, snapshots). */
  onOtherMessage?: (from: string, m: ProtocolMessage) => Promise<void>;
  /** Wall clock in ms (catching up forward: src/node/catch_up.ts). */
  nowMs: () => number;
  /** When bursts of vertices give the event loop a turn for I/O; a TurnBudget of its own by default. */
  turnBudget?: TurnBudget;
}

/** Bytes of vertices packed into one protocol message. */
const MESSAGE_VERTEX_BYTES_MAX = 1000 * 1024;
/** Most ids in one getVertices this node sends. */
const GET_VERTICES_IDS_MAX = 256;

export class ConsensusWire {
  readonly #o: ConsensusWireOptions;
  /** Open queries of ours, by `${peer}:${requestId}`: each ends in its votes or its timeout, once. */
  readonly #queryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #stopped = false;
  readonly #catchUp: CatchUp;
  /** Lets HTTP requests in between the vertices of a burst (turn_budget.ts). */
  readonly #budget: TurnBudget;

  constructor(o: ConsensusWireOptions) {
    this.#o = o;
    this.#catchUp = new CatchUp({ send: (to, m) => void this.send(to, m), nowMs: o.nowMs });
    this.#budget = o.turnBudget ?? new TurnBudget();
  }

  /** Starts taking the peers' messages. */
  listen(): void {
    // The one boundary for peer input: nothing a peer sends may reject unhandled and end the process.
    this.#o.transport?.onMessage((from, bytes) => {
      this.#onMessage(from, bytes).catch((err) => {
        if (!this.#stopped) this.#o.logger.error("protocol message failed", { peer: from, err });
      });
    });
  }

  /** Asks a random connected peer again for the parents that waiting vertices need. */
  askForWanted(): void {
    const wanted = this.#o.dag.wanted().slice(0, GET_VERTICES_IDS_MAX);
    const peers = this.#o.transport?.peers() ?? [];
    if (wanted.length && peers.length) {
      this.send(peers[this.#o.randomInt(peers.length)].peerId, { type: "getVertices", ids: wanted });
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#queryTimers.values()) clearTimeout(t);
    this.#queryTimers.clear();
  }

  /** Sends a protocol message to one peer; false when it could not be queued. */
  send(to: string, m: ProtocolMessage): boolean {
    const t = this.#o.transport;
    if (!t || this.#stopped) return false;
    // A fresh encoding, handed over: not copied again.
    const r = t.send(to, encodeMessage(m), true);
    if (r !== "queued") this.#o.messages.inc({ type: `send_${r}` });
    return r === "queued";
  }

  /** The engine's outgoing messages. */
  sender(): Sender {
    return {
      sendVertices: (to, vertices) =>
        this.#sendVertexBytes(
          to,
          vertices.map((v) => v.payload ?? this.#o.storage.getVertex(v.id)?.bytes).filter((b) => b !== undefined),
        ),
      sendGetVertices: (to, ids) =>
        void this.send(to, { type: "getVertices", ids: [...ids].slice(0, GET_VERTICES_IDS_MAX) }),
      sendQuery: (to, requestId, frontier) => {
        const key = `${to}:${requestId}`;
        const sent = this.send(to, { type: "query", requestId, frontier: [...frontier] });
        // Exactly one of onVotes / onQueryFailed follows every query.
        const t = setTimeout(() => {
          this.#queryTimers.delete(key);
          if (!this.#stopped) this.#o.engine().onQueryFailed(to, requestId);
        }, sent ? (this.#o.queryTimeoutMs ?? 2_000) : 0);
        this.#queryTimers.set(key, t);
      },
      sendVotes: (to, vote) =>
        void this.send(to, {
          type: "votes",
          querier: vote.querier,
          requestId: vote.requestId,
          responder: vote.responder,
          frontier: [...vote.frontier],
        }),
      sendFrontier: (to, frontier, replyWanted) =>
        void this.send(to, { type: "frontier", frontier: [...frontier], replyWanted }),
    };
  }

  /** Sends vertex bytes to a peer, as many per message as fit. */
  #sendVertexBytes(to: string, all: readonly Uint8Array[]): void {
    let chunk: Uint8Array[] = [];
    let bytes = 0;
    for (const v of all) {
      if (chunk.length && (chunk.length >= VERTICES_PER_MESSAGE_MAX || bytes + v.length > MESSAGE_VERTEX_BYTES_MAX)) {
        this.send(to, { type: "vertices", vertices: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(v);
      bytes += v.length;
    }
    if (chunk.length) this.send(to, { type: "vertices", vertices: chunk });
  }

  async #onMessage(from: string, bytes: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    let m: ProtocolMessage;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      this.#o.messages.inc({ type: "malformed" });
      this.#o.logger.warn("malformed protocol message", { peer: from, err: e });
      return;
    }
    this.#o.messages.inc({ type: m.type });
    const engine = this.#o.engine();
    switch (m.type) {
      case "vertices":
        if (!await this.#takeAll(from, m.vertices, true)) return;
        // Far behind (more waiting than fetching backward can hold): catch up forward from the last cut instead.
        if (this.#o.dag.orphanCount >= CATCH_UP_ORPHANS_MIN) this.#catchUp.start(from, this.#o.dag.settledBoundaryMs);
        break;
      case "getAcceptedSince": {
        const page = acceptedPage(this.#o.storage, m.sinceMs, m.skip, this.#o.nowMs());
        for (const v of page.alone) this.send(from, { type: "vertices", vertices: [v] });
        this.send(from, { type: "acceptedSince", vertices: page.vertices, next: page.next });
        break;
      }
      case "acceptedSince":
        // In order, each connecting to the last: nothing to fetch backward.
        if (!await this.#takeAll(from, m.vertices, false)) return;
        this.#catchUp.onPage(from, m.next);
        break;
      case "getVertices":
        this.#sendVertexBytes(
          from,
          m.ids.map((id) => this.#o.storage.getVertex(id)?.bytes).filter((b) => b !== undefined),
        );
        break;
      case "query":
        engine.onQuery(from, m.requestId, m.frontier);
        break;
      case "frontier":
        engine.onFrontier(from, m.frontier, m.replyWanted);
        break;
      case "votes":
        this.#onVotes(from, m);
        break;
      default:
        await this.#o.onOtherMessage?.(from, m);
    }
  }

  /** A message's vertices in order, as one burst (turn_budget.ts); false once the wire stopped. */
  async #takeAll(from: string, vertices: readonly Uint8Array[], fetchMissing: boolean): Promise<boolean> {
    this.#budget.begin();
    try {
      for (const v of vertices) {
        await this.#budget.spend();
        if (!await this.#take(from, v, fetchMissing)) return false;
      }
      return true;
    } finally {
      this.#budget.end();
    }
  }

  /**
   * One vertex from a peer into DAG admission; with `fetchMissing`, its
   * missing parents are asked of that peer. False once the wire stopped.
   */
  async #take(from: string, v: Uint8Array, fetchMissing: boolean): Promise<boolean> {
    const r = await this.#o.dag.submit(v, "peer", from);
    if (this.#stopped) return false;
    if (fetchMissing && r.status === "waiting" && r.missing?.length) {
      this.send(from, { type: "getVertices", ids: [...r.missing] });
    }
    // Stored earlier but not in the engine (it dropped it: full pending buffer): hand it on.
    const engine = this.#o.engine();
    if (r.status === "duplicate" && r.id && !engine.consensus.hasVertex(r.id)) {
      const stored = this.#o.storage.getVertex(r.id)!.bytes;
      engine.onVertices(from, [toSignedVertex(validateVertex(stored), stored)]);
    }
    return true;
  }

  /**
   * A vote counts as the sending peer's only (the authenticated channel names
   * it; the engine refuses one naming another responder), for an open query
   * of ours to that peer, once: votes carry no signature of their own.
   */
  #onVotes(from: string, m: Extract<ProtocolMessage, { type: "votes" }>): void {
    const vote: Vote = { querier: m.querier, requestId: m.requestId, responder: m.responder, frontier: m.frontier };
    if (this.#stopped) return;
    const engine = this.#o.engine();
    const accepted = engine.stats.votesAccepted;
    engine.onVotes(from, vote);
    // Only a vote the engine took answers the query; after a refused one its timeout must still fire.
    this.#o.votes.inc({ result: engine.stats.votesAccepted > accepted ? "accepted" : "refused" });
    if (engine.stats.votesAccepted > accepted) {
      const key = `${from}:${vote.requestId}`;
      const t = this.#queryTimers.get(key);
      if (t !== undefined) {
        clearTimeout(t);
        this.#queryTimers.delete(key);
      }
    }
  }
}
