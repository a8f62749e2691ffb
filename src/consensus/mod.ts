/**
 * The pure consensus layer: parameters, the Snowball family (Slush ->
 * Snowflake -> Snowball) and Avalanche over a DAG. No I/O, no clock, no
 * randomness; the engine samples, sends and times out.
 */
export {
  DEFAULT_PARAMETERS,
  type Parameters,
  ParametersError,
  parametersForValidatorCount,
  verifyParameters,
} from "./parameters.ts";
export { Slush } from "./slush.ts";
export { Snowflake } from "./snowflake.ts";
export { Snowball } from "./snowball.ts";
export { ConflictSet, SETTLED_WINNER } from "./conflicts.ts";
export { type Cut, type CutBlocker, type CutPlan, type CutVertexView, FRONTIER_MAX, planCut } from "./cut.ts";
export {
  DagConsensus,
  type DagConsensusOptions,
  type SettledView,
  VERTEX_PARENTS_MAX,
  VERTEX_TXS_MAX,
  VOTE_FRONTIER_MAX,
} from "./dag_consensus.ts";
export {
  ConsensusError,
  type Decision,
  type PreferenceRecord,
  RestoreError,
  type Status,
  type TxInput,
  type VertexInput,
} from "./types.ts";
