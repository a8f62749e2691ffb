/**
 * Checkpoint certificates: a statement with the ML-DSA-87 signatures of more
 * than two thirds of the genesis validators. Anyone holding the genesis can
 * check one offline with {@linkcode verifyCertificate}; the signature check
 * itself is injected, so this module stays pure (the caller brings a crypto
 * backend).
 *
 * A certificate is an exact object: every signature in it must be a genesis
 * validator's, appear once and verify. One bad signature fails the whole
 * certificate even when the good ones reach the quorum, so that two parties
 * holding the same certificate bytes always reach the same verdict, and a
 * relay cannot pad a certificate with junk that some verifiers skip and
 * others trip over. Whoever assembles a certificate drops what does not verify.
 */
import { ML_DSA_87_SIGNATURE_BYTES } from "../core/mod.ts";
import {
  CheckpointError,
  type CheckpointErrorCode,
  type CheckpointStatement,
  encodeStatement,
  HEX_ID_RE,
  statementDigest,
} from "./statement.ts";

export const CERTIFICATE_FORMAT = "qudag-checkpoint/1";
/** Most signatures a certificate may carry; a genesis holds at most ~1,000 validators. */
export const CERTIFICATE_SIGNATURES_MAX = 1024;

export interface CheckpointSignature {
  /** Hex BLAKE3-256 of the validator's ML-DSA-87 public key (its genesis id). */
  readonly validator: string;
  /** ML-DSA-87 signature (4,627 bytes, empty context) over encodeStatement(statement). */
  readonly signature: Uint8Array;
}

export interface CheckpointCertificate {
  readonly statement: CheckpointStatement;
  readonly signatures: readonly CheckpointSignature[];
}

/** The trusted side of a verification: the genesis' chain id and validator set. */
export interface CertificateContext {
  readonly chainId: Uint8Array;
  /** Genesis validators; `id` is trusted to be the hex BLAKE3-256 of `publicKey`. */
  readonly validators: readonly { readonly id: string; readonly publicKey: Uint8Array }[];
}

/** Checks one ML-DSA-87 signature (empty context); false when it does not verify. */
export type SignatureCheck = (
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
) => boolean | Promise<boolean>;

export type CertificateVerdict =
  | { readonly ok: true; readonly signers: string[] }
  | { readonly ok: false; readonly code: CheckpointErrorCode; readonly message: string };

/** Signatures needed out of `n` validators: more than two thirds, floor(2n/3) + 1 (1→1, 4→3, 5→4, 7→5). */
export function quorum(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`validator count ${n} is not a count`);
  return Math.floor((2 * n) / 3) + 1;
}

function malformed(why: string): CheckpointError {
  return new CheckpointError("checkpoint_malformed", `Invalid checkpoint certificate: ${why}`);
}

function short(bytesOrHex: Uint8Array | string): string {
  return `${(typeof bytesOrHex === "string" ? bytesOrHex : bytesOrHex.toHex()).slice(0, 16)}…`;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Shape of the signature list, without any cryptography. */
function checkSignatures(signatures: unknown): asserts signatures is readonly CheckpointSignature[] {
  if (!Array.isArray(signatures)) throw malformed("signatures is not a list");
  if (signatures.length > CERTIFICATE_SIGNATURES_MAX) {
    throw malformed(`${signatures.length} signatures, more than ${CERTIFICATE_SIGNATURES_MAX}`);
  }
  signatures.forEach((s: Partial<CheckpointSignature> | null, i) => {
    if (typeof s !== "object" || s === null) throw malformed(`signature ${i} is not an object`);
    if (typeof s.validator !== "string" || !HEX_ID_RE.test(s.validator)) {
      throw malformed(`signature ${i}'s validator is not 64 lowercase hex digits`);
    }
    if (!(s.signature instanceof Uint8Array) || s.signature.length !== ML_DSA_87_SIGNATURE_BYTES) {
      const got = s.signature instanceof Uint8Array ? `${s.signature.length} bytes` : "not bytes";
      throw malformed(`signature ${i} is ${got}, expected ${ML_DSA_87_SIGNATURE_BYTES} (ML-DSA-87)`);
    }
  });
}

/**
 * Verifies a certificate against a genesis. Checks run cheapest first, and the first failure is the
 * verdict: shape and statement (`checkpoint_malformed`), chain id (`checkpoint_wrong_chain`), every
 * signer a genesis validator (`checkpoint_unknown_signer`), none twice (`checkpoint_duplicate_signer`),
 * at least quorum(n) signers (`checkpoint_under_signed`); only then the signatures themselves, every
 * one of which must verify over encodeStatement (`checkpoint_bad_signature`, see the module doc).
 * Refusals are results; an exception from `verify` is passed on.
 */
export async function verifyCertificate(
  cert: CheckpointCertificate,
  context: CertificateContext,
  verify: SignatureCheck,
): Promise<CertificateVerdict> {
  let message: Uint8Array;
  try {
    if (typeof cert !== "object" || cert === null) throw malformed("not an object");
    message = encodeStatement(cert.statement);
    checkSignatures(cert.signatures);
  } catch (e) {
    if (e instanceof CheckpointError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
  const { seq, chainId } = cert.statement;
  const refuse = (code: CheckpointErrorCode, why: string): CertificateVerdict => ({
    ok: false,
    code,
    message: `Cannot verify checkpoint ${seq}: ${why}`,
  });
  if (!equalBytes(chainId, context.chainId)) {
    return refuse(
      "checkpoint_wrong_chain",
      `it is for chain ${short(chainId)}, the genesis is chain ${short(context.chainId)}`,
    );
  }
  const keys = new Map(context.validators.map((v) => [v.id, v.publicKey]));
  const signers = new Set<string>();
  for (const { validator } of cert.signatures) {
    if (!keys.has(validator)) {
      return refuse("checkpoint_unknown_signer", `signer ${short(validator)} is not a genesis validator`);
    }
    if (signers.has(validator)) {
      return refuse("checkpoint_duplicate_signer", `validator ${short(validator)} signed twice`);
    }
    signers.add(validator);
  }
  const n = context.validators.length;
  const need = quorum(n);
  if (signers.size < need) {
    return refuse(
      "checkpoint_under_signed",
      `${signers.size} of ${n} validators signed, more than 2/3 (${need}) needed`,
    );
  }
  const results = await Promise.all(
    cert.signatures.map((s) => verify(keys.get(s.validator)!, message, s.signature)),
  );
  const bad = results.findIndex((r) => r !== true);
  if (bad >= 0) {
    return refuse(
      "checkpoint_bad_signature",
      `the signature of validator ${short(cert.signatures[bad].validator)} does not verify over this statement`,
    );
  }
  return { ok: true, signers: [...signers].sort() };
}

// ---------------------------------------------------------------- JSON

/** The JSON form. u64 fields are decimal strings, hashes and ids hex, signatures base64. */
export interface CertificateJson {
  format: typeof CERTIFICATE_FORMAT;
  /** Hex statementDigest: a convenience for people, checked on parse. */
  digest: string;
  statement: {
    chainId: string;
    seq: string;
    boundaryMs: string;
    prevBoundaryMs: string;
    vertexCount: string;
    frontier: string[];
    txAccumulator: string;
    stateHash: string;
    journalHash: string;
    prevDigest: string;
  };
  signatures: { validator: string; signature: string }[];
}

const STATEMENT_KEYS = [
  "chainId",
  "seq",
  "boundaryMs",
  "prevBoundaryMs",
  "vertexCount",
  "frontier",
  "txAccumulator",
  "stateHash",
  "journalHash",
  "prevDigest",
] as const;

/** The JSON form of a certificate; throws `checkpoint_malformed` for an invalid one. */
export function certificateToJson(cert: CheckpointCertificate): CertificateJson {
  const s = cert.statement;
  const digest = statementDigest(s).toHex();
  checkSignatures(cert.signatures);
  return {
    format: CERTIFICATE_FORMAT,
    digest,
    statement: {
      chainId: s.chainId.toHex(),
      seq: String(s.seq),
      boundaryMs: String(s.boundaryMs),
      prevBoundaryMs: String(s.prevBoundaryMs),
      vertexCount: String(s.vertexCount),
      frontier: [...s.frontier],
      txAccumulator: s.txAccumulator.toHex(),
      stateHash: s.stateHash.toHex(),
      journalHash: s.journalHash.toHex(),
      prevDigest: s.prevDigest.toHex(),
    },
    signatures: cert.signatures.map((x) => ({ validator: x.validator, signature: x.signature.toBase64() })),
  };
}

function record(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed(`${what} is not an object`);
  const extra = Object.keys(value).find((k) => !keys.includes(k));
  if (extra !== undefined) throw malformed(`${what} has an unknown field ${JSON.stringify(extra)}`);
  const missing = keys.find((k) => !(k in value));
  if (missing !== undefined) throw malformed(`${what} has no field ${missing}`);
  return value as Record<string, unknown>;
}

function hash(value: unknown, what: string): Uint8Array {
  if (typeof value !== "string" || !HEX_ID_RE.test(value)) throw malformed(`${what} is not 64 lowercase hex digits`);
  return Uint8Array.fromHex(value);
}

function decimal(value: unknown, what: string): number {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw malformed(`${what} is not a decimal string of a safe integer`);
  }
  return Number(value);
}

/** Canonical base64 only (padded, no whitespace), so one certificate has one JSON spelling of each signature. */
function base64(value: unknown, what: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  try {
    if (typeof value === "string") bytes = Uint8Array.fromBase64(value, { lastChunkHandling: "strict" });
  } catch { /* reported below */ }
  if (bytes === undefined || bytes.toBase64() !== value) throw malformed(`${what} is not canonical base64`);
  return bytes;
}

/**
 * A certificate from its parsed JSON form. Strict: unknown or missing fields, non-canonical numbers,
 * hex or base64 are `checkpoint_malformed`; a `digest` that is not the statement's is
 * `checkpoint_digest_mismatch`. Signatures are not verified here (see verifyCertificate).
 */
export function certificateFromJson(value: unknown): CheckpointCertificate {
  const top = record(value, "the certificate", ["format", "digest", "statement", "signatures"]);
  if (top.format !== CERTIFICATE_FORMAT) {
    throw malformed(`format is ${JSON.stringify(top.format)}, expected "${CERTIFICATE_FORMAT}"`);
  }
  const j = record(top.statement, "the statement", STATEMENT_KEYS);
  if (!Array.isArray(j.frontier)) throw malformed("the statement's frontier is not a list");
  const statement: CheckpointStatement = {
    chainId: hash(j.chainId, "chainId"),
    seq: decimal(j.seq, "seq"),
    boundaryMs: decimal(j.boundaryMs, "boundaryMs"),
    prevBoundaryMs: decimal(j.prevBoundaryMs, "prevBoundaryMs"),
    vertexCount: decimal(j.vertexCount, "vertexCount"),
    frontier: [...j.frontier],
    txAccumulator: hash(j.txAccumulator, "txAccumulator"),
    stateHash: hash(j.stateHash, "stateHash"),
    journalHash: hash(j.journalHash, "journalHash"),
    prevDigest: hash(j.prevDigest, "prevDigest"),
  };
  const digest = statementDigest(statement).toHex();
  if (typeof top.digest !== "string" || !HEX_ID_RE.test(top.digest)) {
    throw malformed("digest is not 64 lowercase hex digits");
  }
  if (top.digest !== digest) {
    throw new CheckpointError(
      "checkpoint_digest_mismatch",
      `Invalid checkpoint certificate: digest ${short(top.digest)} is not the statement's digest ${short(digest)}`,
    );
  }
  if (!Array.isArray(top.signatures)) throw malformed("signatures is not a list");
  if (top.signatures.length > CERTIFICATE_SIGNATURES_MAX) {
    throw malformed(`${top.signatures.length} signatures, more than ${CERTIFICATE_SIGNATURES_MAX}`);
  }
  const signatures = top.signatures.map((x: unknown, i: number): CheckpointSignature => {
    const r = record(x, `signature ${i}`, ["validator", "signature"]);
    if (typeof r.validator !== "string" || !HEX_ID_RE.test(r.validator)) {
      throw malformed(`signature ${i}'s validator is not 64 lowercase hex digits`);
    }
    return { validator: r.validator, signature: base64(r.signature, `signature ${i}`) };
  });
  checkSignatures(signatures);
  return { statement, signatures };
}
