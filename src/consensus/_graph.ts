/**
 * The state DagConsensus holds: vertices, transactions, carriers, conflict
 * sets and what is still processing, with the invariants they keep. The
 * files beside it (_add, _poll, _frontier, _cascade, _restore, _settle) work
 * on one {@linkcode Graph}; {@linkcode DagConsensus} is their only caller and
 * never hands the Graph out, so its fields are open to this folder only.
 */
import type { ConflictSet } from "./conflicts.ts";
import type { Parameters } from "./parameters.ts";
import type { SoloGroup } from "./_solo.ts";
import type { Decision, PreferenceRecord, Status } from "./types.ts";
import type { CutPosition } from "../dag/coverage.ts";

export interface VertexState {
  readonly id: string;
  readonly parents: readonly string[];
  /** Emptied when it becomes a settled stub (see applyCut). */
  txIds: readonly string[];
  /** Its carriers, in txIds order. */
  carriers: readonly string[];
  readonly children: string[];
  readonly addedAtPoll: number;
  readonly timestampMs: number;
  readonly author: string;
  status: Status;
}

/**
 * One transaction in one vertex. Conflict sets choose among carriers, so of
 * all the vertices carrying a transaction at most one is ever accepted.
 */
export interface CarrierState {
  readonly id: string;
  readonly txId: string;
  readonly vertexId: string;
  status: Status;
}

export interface TxState {
  readonly id: string;
  readonly conflictKey: string;
  readonly deps: readonly string[];
  readonly carriers: string[];
  readonly addedAtPoll: number;
  status: Status;
}

/**
 * What consensus no longer holds in memory once a cut settled it (the node
 * reads it from storage). Without one, nothing is ever settled.
 */
export interface SettledView {
  /** True for an accepted vertex of a closed cut (consensus may have dropped it). */
  isSettled(vertexId: string): boolean;
  /** "accepted" for a transaction a closed cut holds, "rejected" for any rejected one; else undefined. */
  txStatus(txId: string): "accepted" | "rejected" | undefined;
  /** The accepted transaction of `conflictKey`, if a closed cut holds it. */
  winner(conflictKey: string): string | null;
}

export const NOTHING_SETTLED: SettledView = { isSettled: () => false, txStatus: () => undefined, winner: () => null };

/** The tally key of an empty vertex's own one-member choice (no conflict key or carrier id looks like it). */
export function emptyKey(vertexId: string): string {
  return `@${vertexId}`;
}

/** The id of `txId` carried by `vertexId`, as conflict sets know it. */
export function carrierId(txId: string, vertexId: string): string {
  return `${txId}@${vertexId}`;
}

/**
 * Invariants (between calls of DagConsensus's methods):
 * - a held carrier's id is `carrierId(txId, vertexId)`, and its transaction
 *   lists it; settlement may forget a carrier its vertex still lists;
 * - a vertex, transaction or carrier never leaves "accepted" or "rejected";
 * - `processingVertices` and `processingTxs` hold exactly the held vertices
 *   and transactions whose status is "processing";
 * - `decisions` is empty: every method that decides takes them.
 */
export class Graph {
  readonly params: Parameters;
  readonly vertices = new Map<string, VertexState>();
  readonly txs = new Map<string, TxState>();
  readonly carriers = new Map<string, CarrierState>();
  readonly sets = new Map<string, ConflictSet>();
  /** Dependents by dependency id; the dependency may not be known yet. */
  readonly dependents = new Map<string, string[]>();
  /** In insertion order, which is topological (parents are added first). */
  readonly processingVertices = new Set<string>();
  readonly processingTxs = new Set<string>();
  /** Conflict keys polls feed; a set that stopped processing is dropped by the next acceptReady at the latest. */
  readonly processingSets = new Set<string>();
  /** Accepted vertices without an accepted child. */
  readonly acceptedTips = new Set<string>();
  /**
   * Processing vertices without transactions -> consecutive polls in which at
   * least alphaConfidence responders had them in their frontier's ancestry.
   * Such a vertex decides no conflict set, yet it must win polls like any
   * other: a vertex only some nodes ever see must not be accepted by them.
   */
  readonly emptyConfidence = new Map<string, number>();
  /**
   * Processing vertices -> the shared tally of the sets they brought in alone
   * (_solo.ts), polled like an empty vertex's choice (under its emptyKey).
   * Off (`soloGroups` false), every set is polled on its own: same decisions,
   * one tally per set (the reference the tests compare against).
   */
  readonly groups = new Map<string, SoloGroup>();
  readonly soloGroups: boolean;
  /** Contested sets' preferences as last recorded (_preferences.ts), and the changes not taken yet. */
  readonly recordedPreferences = new Map<string, string>();
  preferenceChanges: PreferenceRecord[] = [];
  polls = 0;
  lastPollSuccesses = 0;
  equivocatingVotes = 0;
  /**
   * Derived views of the current state; both are dropped on every change
   * (see changed), so they never outlive the state they were computed from.
   */
  frontierCache: string[] | null = null;
  readonly supportCache = new Map<string, Map<string, string>>();
  /** Decisions made and not yet taken, in the order they were made. */
  decisions: Decision[] = [];
  readonly settled: SettledView;
  position: CutPosition;
  seq: number;

  constructor(params: Parameters, settled: SettledView, position: CutPosition, seq: number, soloGroups = true) {
    this.params = params;
    this.soloGroups = soloGroups;
    this.settled = settled;
    this.position = position;
    this.seq = seq;
  }

  /** Known here, or settled (possibly dropped from memory). */
  hasVertex(id: string): boolean {
    return this.vertices.has(id) || this.settled.isSettled(id);
  }

  /** A parent's status: settled vertices dropped from memory were accepted. */
  statusOf(id: string): Status {
    return this.vertices.get(id)?.status ?? "accepted";
  }

  /** Accepted here, or accepted and dropped from memory. */
  txAccepted(txId: string): boolean {
    const tx = this.txs.get(txId);
    return tx === undefined ? this.settled.txStatus(txId) === "accepted" : tx.status === "accepted";
  }

  /** A settled frontier vertex, held only so that new vertices may name it. */
  isStub(v: VertexState): boolean {
    return v.status === "accepted" && v.timestampMs < this.position.boundaryMs;
  }

  changed(): void {
    this.frontierCache = null;
    this.supportCache.clear();
  }

  decide(kind: "tx" | "vertex", id: string, status: "accepted" | "rejected", since: number): void {
    this.decisions.push({ kind, id, status, rounds: this.polls - since });
  }

  takeDecisions(): Decision[] {
    const out = this.decisions;
    this.decisions = [];
    return out;
  }
}
