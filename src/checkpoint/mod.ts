/**
 * Checkpoints: statements validators sign about a settled cut of the DAG
 * (statement.ts), certificates of more than 2/3 of the genesis validators and
 * their offline verification (certificate.ts), and the bounded collection of
 * signatures until a certificate forms (collector.ts). Pure: signatures are
 * checked by a function the caller passes in.
 *
 * @module
 */
export {
  CHECKPOINT_ERROR_CODES,
  CheckpointError,
  type CheckpointErrorCode,
  type CheckpointStatement,
  checkStatement,
  decodeStatement,
  encodeStatement,
  HEX_ID_RE,
  nextTxAccumulator,
  STATEMENT_BYTES_MAX,
  STATEMENT_DOMAIN,
  STATEMENT_FRONTIER_MAX,
  statementDigest,
  TX_ACCUMULATOR_DOMAIN,
  ZERO_HASH,
} from "./statement.ts";
export {
  CERTIFICATE_FORMAT,
  CERTIFICATE_SIGNATURES_MAX,
  type CertificateContext,
  certificateFromJson,
  type CertificateJson,
  certificateToJson,
  type CertificateVerdict,
  type CheckpointCertificate,
  type CheckpointSignature,
  quorum,
  type SignatureCheck,
  verifyCertificate,
} from "./certificate.ts";
export {
  type AddOutcome,
  COLLECTOR_WINDOW_DEFAULT,
  type CollectorOptions,
  DIGESTS_PER_VALIDATOR_MAX,
  SignatureCollector,
} from "./collector.ts";
