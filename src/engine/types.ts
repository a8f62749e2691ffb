import type { Cut, DagConsensus, Decision, PreferenceRecord, TxInput } from "../consensus/mod.ts";

/** What an author decides about a vertex; the codec turns it into a signed vertex. */
export interface VertexBody {
  /** Validator id of the author; must be in the genesis set. */
  readonly author: string;
  readonly parents: readonly string[];
  readonly txs: readonly TxInput[];
  readonly timestampMs: number;
}

/**
 * A vertex as it travels between validators. How `id` and `signature` are
 * computed is the {@linkcode VertexCodec}'s business; the engine only asks it
 * whether they check out.
 */
export interface SignedVertex extends VertexBody {
  readonly id: string;
  readonly signature: Uint8Array;
  /**
   * Opaque canonical bytes for the transport (the node's codec fills in the
   * core encoding). The engine never reads them; it keeps and forwards them.
   */
  readonly payload?: Uint8Array;
}

/**
 * Encoding, id and signature of vertices. The engine builds its own vertices
 * with it and checks every received one with it, so the id rule and the
 * signed bytes live in one place (the WASM core in production).
 */
export interface VertexCodec {
  /** Builds and signs a vertex this node authors (its id is final). May throw; the engine then does not issue. */
  build(body: VertexBody): SignedVertex;
  /** Checks a received vertex's id and signature. */
  check(v: SignedVertex): "ok" | "bad_id" | "bad_signature";
}

/**
 * One validator's answer to one query: its preferred frontier. It carries no
 * signature of its own: it counts only when it comes from the responder itself
 * over the transport's mutually authenticated channel (ML-DSA-87 handshake,
 * per-direction AES-256-GCM), in answer to an open query of ours to that
 * responder, once. Transferable proof comes from certified checkpoints.
 */
export interface Vote {
  readonly querier: string;
  readonly requestId: number;
  readonly responder: string;
  readonly frontier: readonly string[];
}

/**
 * Outgoing messages. Fire and forget: the transport may lose any of them.
 * For each `sendQuery` the transport must later deliver exactly one of
 * `onVotes` from that peer or `onQueryFailed` (its request timeout): the
 * engine owns no timers.
 */
export interface Sender {
  sendVertices(to: string, vertices: readonly SignedVertex[]): void;
  sendGetVertices(to: string, ids: readonly string[]): void;
  sendQuery(to: string, requestId: number, frontier: readonly string[]): void;
  sendVotes(to: string, vote: Vote): void;
  sendFrontier(to: string, frontier: readonly string[], replyWanted: boolean): void;
}

export interface Clock {
  nowMs(): number;
}

/** Seeded in tests; used only to sample validators and gossip partners. */
export interface Rng {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * Durable record of decisions. `record` makes them durable before anything
 * outside the engine hears of them: at once, or (the node) with the other
 * decisions of this turn of the event loop, reporting them itself after the
 * commit. `recordCut` returns only once the cut, and every decision recorded
 * before it, is durable.
 */
export interface DecisionStore {
  record(decisions: readonly Decision[]): void;
  /**
   * Records contested sets' preferences as polls change them, and drops the
   * records of sets decided (member null), in order: what restore() takes
   * back after a restart (src/consensus/_preferences.ts). Made durable like
   * decisions.
   */
  recordPreferences?(changes: readonly PreferenceRecord[]): void;
  /** Records a closed cut (its position and sequence number); returns only once it is durable. */
  recordCut?(cut: Cut): void;
}

/** Signs votes as this node's validator key (ML-DSA-87 in production). */
export interface Signer {
  readonly validatorId: string;
  sign(message: Uint8Array): Uint8Array;
}

/** Knows the genesis validator set and checks signatures against it (the reference codec's vertices). */
export interface Verifier {
  isValidator(validatorId: string): boolean;
  verify(validatorId: string, message: Uint8Array, signature: Uint8Array): boolean;
}

/** What the engine lets others read of its consensus instance (metrics, tests, the HTTP layer). */
export type EngineConsensusView = Pick<
  DagConsensus,
  | "preferredFrontier"
  | "txStatus"
  | "vertexStatus"
  | "hasVertex"
  | "processing"
  | "polls"
  | "lastPollSuccesses"
  | "size"
  | "position"
  | "equivocatingVotes"
  | "conflictSet"
  | "preferenceOf"
  | "undecided"
  | "undecidedCounts"
  | "vertexInfo"
  | "txInfo"
  | "virtuousFrontier"
  | "preferredVertexOf"
  | "orphanedTxs"
  | "verticesOf"
>;
