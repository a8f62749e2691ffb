/** Counters for metrics and for the simulation's assertions. */
export interface EngineStats {
  pollsStarted: number;
  pollsFinished: number;
  /** Polls whose result waited for vertices their votes named and this node did not hold yet. */
  pollsHeld: number;
  /** Held polls counted before all those vertices arrived, because the wait ran out (see the engine). */
  heldPollsExpired: number;
  queriesFailed: number;
  votesAccepted: number;
  /** Votes or vertices whose signer is not in the genesis set. */
  unknownValidator: number;
  /** Vertices whose signature does not verify. */
  badSignature: number;
  /** Votes for no open query of ours, from a responder not asked, or oversized. */
  unexpectedVotes: number;
  /** Votes naming a responder other than the peer that sent them (an impersonation attempt). */
  wrongSenderVotes: number;
  /** Votes for a query of ours that had already ended early. */
  lateVotes: number;
  /** Vertices with a wrong id or breaking a structural rule. */
  invalidVertices: number;
  /** Vertices not held because the pending buffer was full. */
  pendingOverflow: number;
  /** Vertices below the settled cut, or not descending from its whole frontier. */
  staleVertices: number;
  cutsClosed: number;
  /** Undecided vertices rejected because a certified cut past them does not hold them. */
  verticesAbandoned: number;
  verticesIssued: number;
  txsReissued: number;
}

/** Every counter at zero. */
export function newEngineStats(): EngineStats {
  return {
    pollsStarted: 0,
    pollsFinished: 0,
    pollsHeld: 0,
    heldPollsExpired: 0,
    queriesFailed: 0,
    votesAccepted: 0,
    unknownValidator: 0,
    badSignature: 0,
    unexpectedVotes: 0,
    wrongSenderVotes: 0,
    lateVotes: 0,
    invalidVertices: 0,
    pendingOverflow: 0,
    staleVertices: 0,
    cutsClosed: 0,
    verticesAbandoned: 0,
    verticesIssued: 0,
    txsReissued: 0,
  };
}
