import type { Cut, Decision, Parameters, SettledView, TxInput } from "../consensus/mod.ts";
import type { CutPosition } from "../dag/coverage.ts";
import type { Clock, DecisionStore, Rng, Sender, SignedVertex, Signer, Verifier, VertexCodec } from "./types.ts";

/**
 * Default {@linkcode EngineConfig.fetchGraceMs}. At 1,000 transfers/s offered to 4 nodes on 2 cores, the copies a
 * node received of vertices it already held were 40 % of the vertices it received without a grace, 8 % with 100 ms
 * and 5 % with 300 ms (bench/PROFILE_HISTORY.md, change 30). The shorter grace keeps the wait small for a vertex
 * that its author could not send (a peer not yet connected). A node sets it with consensus.fetch_grace_ms (its schema
 * default is this value; a test keeps them equal).
 */
export const FETCH_GRACE_MS_DEFAULT = 100;

export interface EngineConfig {
  /** Scaled down with `parametersForValidatorCount` (src/consensus) if needed. */
  readonly params: Parameters;
  /** Genesis validator ids, this node's included. */
  readonly validators: readonly string[];
  /** Polls in flight at once. */
  readonly pollsOutstandingMax?: number;
  /** Parents named by a vertex this node issues. */
  readonly issueParentsMax?: number;
  /** Vertices held while their parents are fetched; beyond, new ones wait for a refetch. */
  readonly pendingVerticesMax?: number;
  /**
   * A missing vertex is requested again from another peer after this long.
   * A settled poll whose votes name vertices this node does not hold yet
   * waits for them at most `fetchGraceMs` plus twice this long before it is
   * counted anyway.
   */
  readonly fetchRetryMs?: number;
  /**
   * A vertex another validator names (in votes, a query or a frontier) that
   * this node does not hold is first requested only this long after it was
   * first named: its author's own send is usually on its way (default
   * FETCH_GRACE_MS_DEFAULT; 0 asks at once). Missing parents are asked for
   * at once.
   */
  readonly fetchGraceMs?: number;
  /**
   * A transaction none of whose carriers is alive (all its vertices were
   * rejected) is re-issued on clean parents: at once by the author of one of
   * its vertices, by anyone after three times this long.
   */
  readonly reissueGraceMs?: number;
  /**
   * Request id of this engine's first poll (default 1); ids then count up and
   * wrap within [1, 2^32). A restarted node should start well past the ids of
   * its previous run (a random u32 will do), so that votes still in flight for
   * the old run's queries cannot count in the new run's.
   */
  readonly firstRequestId?: number;
  /** Closing cuts (wasm/LEDGER.md, "Settlement"); without it nothing is settled. */
  readonly settlement?: SettlementConfig;
}

/** When cuts close. The first two are chain parameters (every node must use the same); the others local policy. */
export interface SettlementConfig {
  /** Cut boundaries are multiples of this (ms of vertex time). */
  readonly intervalMs: number;
  /** Most vertices one cut settles; a larger interval is split where that keeps cuts an interval apart. */
  readonly verticesMax: number;
  /**
   * A boundary closes only once this node's clock is this far past it (late
   * vertices, clock skew). At most half the interval: the rest is the slack
   * an author has to learn a cut before its vertices must cover it (cut.ts).
   */
  readonly lagMs: number;
  /** The last closed cut and its sequence number (after a restart or a state sync). */
  readonly position?: CutPosition;
  readonly seq?: number;
  /** The cut before it: new vertices must descend from its whole frontier (src/dag/coverage.ts). */
  readonly previous?: CutPosition;
}

export interface EngineDeps {
  readonly sender: Sender;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly store: DecisionStore;
  /** This node's validator id (votes carry no signature: see `Vote` in types.ts). */
  readonly signer: Pick<Signer, "validatorId">;
  /** The genesis validator set. */
  readonly verifier: Pick<Verifier, "isValidator">;
  /** Builds this node's vertices and checks received vertices' ids and signatures. */
  readonly codec: VertexCodec;
  /** Called with decisions only after the store recorded them. */
  readonly onDecisions?: (decisions: readonly Decision[]) => void;
  /** What settled cuts dropped from memory; needed with `settlement`. */
  readonly settled?: SettledView;
  /** Called with each closed cut, after the store recorded it and after every decision before it was reported. */
  readonly onCut?: (cut: Cut) => void;
  /**
   * Where settled vertices go when they leave memory, so that lagging peers
   * can still fetch them (the node serves fetches from its database instead).
   */
  readonly archive?: { put(vertex: SignedVertex): void; get(id: string): SignedVertex | undefined };
  /**
   * Issues orphaned transactions again (DagConsensus.orphanedTxs) when the
   * host must choose their parents itself (the node: an account's previous
   * nonce must be in the new vertex's causal past). Without it the engine
   * issues each with `issue`.
   */
  readonly reissue?: (txs: readonly TxInput[]) => void;
}
