/**
 * Test helpers for src/node/checkpoints_test.ts and src/node/state_sync_test.ts:
 * four genesis validators with real ML-DSA-87 keys from fixed seeds (noble),
 * CheckpointServices over MemoryStorage whose `send` collects what they send,
 * statements and certificates signed by chosen validators, and a logger that
 * keeps its lines.
 */
import {
  type CheckpointStatement,
  encodeStatement,
  nextTxAccumulator,
  type SignatureCheck,
  statementDigest,
  ZERO_HASH,
} from "../checkpoint/mod.ts";
import type { Cut } from "../consensus/mod.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import type { CutPosition } from "../dag/coverage.ts";
import { keyIdOf } from "../keys/mod.ts";
import type { LedgerService } from "../ledger/mod.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import type { ProtocolMessage } from "../net/protocol.ts";
import { MemoryStorage, type StoredCertificate, type StoredCut } from "../storage/mod.ts";
import { CheckpointService } from "./checkpoints.ts";
import { type Genesis, makeGenesis, parseGenesis } from "./genesis.ts";
import type { SyncSigner } from "./sync_signer.ts";
import { ValidatorSet } from "./validators.ts";

export const noble = createNobleBackend();

/**
 * Seed bytes of the four genesis validators. 200 is the author of the vertices the ledger's DagWriter
 * writes (src/ledger/_testing.ts, realKey(200)), so those vertices are validator 0's.
 */
export const VALIDATOR_SEEDS: readonly number[] = [200, 201, 202, 203];
/** A key outside the genesis. */
export const OUTSIDER_SEED = 250;

export interface TestKey {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly signer: SyncSigner;
}

const keys = new Map<number, TestKey>();

/** The ML-DSA-87 key of seed byte `seed` (cached: keygen is the slow part). */
export function testKey(seed: number): TestKey {
  let k = keys.get(seed);
  if (k === undefined) {
    const signer = noble.mlDsaSyncSigner!(new Uint8Array(32).fill(seed));
    k = { id: keyIdOf(signer.publicKey), publicKey: signer.publicKey, signer };
    keys.set(seed, k);
  }
  return k;
}

/** The four genesis validators, in genesis order. */
export function validatorKeys(): TestKey[] {
  return VALIDATOR_SEEDS.map(testKey);
}

export function outsiderKey(): TestKey {
  return testKey(OUTSIDER_SEED);
}

let genesis: Genesis | undefined;

/** The genesis of the four validators (one per test process: makeGenesis draws a nonce, so the chain id). */
export function testGenesis(): Genesis {
  return genesis ??= parseGenesis(
    makeGenesis(
      "checkpoint-test",
      "2026-12-01T00:00:00.000Z",
      validatorKeys().map((k, i) => ({ name: `v${i}`, publicKey: k.publicKey })),
    ),
    "<checkpoint test genesis>",
  );
}

/** Real ML-DSA-87 verification (empty context), as verifyCertificate takes it. */
export const signatureCheck: SignatureCheck = async (publicKey, message, signature) =>
  await (await noble.mlDsaVerifier(publicKey)).verify(message, signature);

/** 32 bytes of `byte` as 64 hex digits: distinct, sortable stand-ins for vertex and transaction ids. */
export function hexId(byte: number): string {
  return new Uint8Array(32).fill(byte).toHex();
}

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A logger that keeps every line (debug and up), parsed. */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { logger: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) }), lines };
}

export interface TestNode {
  readonly service: CheckpointService;
  readonly storage: MemoryStorage;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly lines: LogLine[];
  /** What the service sent, in order (when no `send` was passed in). */
  readonly sent: { to: string; m: ProtocolMessage }[];
  /** Its onCertified calls, in order. */
  readonly certified: { position: CutPosition; from: string | undefined }[];
  /** Its onDiverged calls (the sequences), in order. */
  readonly diverged: number[];
}

export interface TestNodeOptions {
  /** Index of the genesis validator this node is (it signs its statements); null: an outsider without a signer. */
  validator: number | null;
  storage?: MemoryStorage;
  ledger?: LedgerService | null;
  peers?: readonly string[];
  /** Where sent messages go instead of `sent`. */
  send?: (to: string, m: ProtocolMessage) => void;
}

/** A CheckpointService over MemoryStorage, with everything it does recorded. */
export function testNode(o: TestNodeOptions): TestNode {
  const g = testGenesis();
  const key = o.validator === null ? null : validatorKeys()[o.validator];
  const storage = o.storage ?? new MemoryStorage();
  const registry = new Registry();
  const { logger, lines } = capturingLogger();
  const sent: { to: string; m: ProtocolMessage }[] = [];
  const certified: { position: CutPosition; from: string | undefined }[] = [];
  const diverged: number[] = [];
  const service = new CheckpointService({
    genesis: g,
    validators: new ValidatorSet(g, noble),
    validatorId: key?.id ?? outsiderKey().id,
    signer: key?.signer ?? null,
    backend: noble,
    storage,
    ledger: o.ledger ?? null,
    registry,
    logger,
    send: (to, m) => {
      if (o.send) o.send(to, m);
      else sent.push({ to, m });
      return true;
    },
    peers: () => o.peers ?? [],
    onCertified: (position, from) => certified.push({ position, from }),
    onDiverged: (seq) => diverged.push(seq),
  });
  return { service, storage, registry, logger, lines, sent, certified, diverged };
}

/** qudag_checkpoint_signatures_total{result} of a node's registry. */
export function signaturesCounted(registry: Registry, result: string): number {
  return registry.counter("qudag_checkpoint_signatures_total", "", ["result"]).get({ result });
}

/** qudag_checkpoint_mismatches_total of a node's registry. */
export function mismatchesCounted(registry: Registry): number {
  return registry.counter("qudag_checkpoint_mismatches_total", "").get();
}

/** A closed cut as consensus reports it; `vertices` default to the frontier. */
export function testCut(
  seq: number,
  o: { boundaryMs: number; prevBoundaryMs: number; frontier: string[]; txIds?: string[]; vertices?: string[] },
): Cut {
  return {
    seq,
    boundaryMs: o.boundaryMs,
    prevBoundaryMs: o.prevBoundaryMs,
    vertices: o.vertices ?? o.frontier,
    txIds: [...(o.txIds ?? [])].sort(),
    frontier: [...o.frontier].sort(),
    snapshotSafe: true,
  };
}

/** The row consensus stores for a cut before its statement is known. */
export function storedCut(cut: Cut): StoredCut {
  return {
    seq: cut.seq,
    boundaryMs: cut.boundaryMs,
    prevBoundaryMs: cut.prevBoundaryMs,
    frontier: cut.frontier,
    vertexCount: cut.vertices.length,
    snapshotSafe: cut.snapshotSafe,
    statement: null,
    digest: null,
    signature: null,
  };
}

/**
 * The statement of `cut` as a node without an exchange ledger makes it (zero state and journal hashes),
 * over `prev` (null for seq 1), on chain `chainId` (the test genesis by default).
 */
export function statementOf(
  cut: Cut,
  prev: CheckpointStatement | null,
  chainId: Uint8Array = testGenesis().chainId,
): CheckpointStatement {
  return {
    chainId,
    seq: cut.seq,
    boundaryMs: cut.boundaryMs,
    prevBoundaryMs: cut.prevBoundaryMs,
    vertexCount: cut.vertices.length,
    frontier: cut.frontier,
    txAccumulator: nextTxAccumulator(prev?.txAccumulator ?? ZERO_HASH, cut.txIds),
    stateHash: ZERO_HASH,
    journalHash: ZERO_HASH,
    prevDigest: prev === null ? ZERO_HASH : statementDigest(prev),
  };
}

export function sign(key: TestKey, statement: Uint8Array): { validator: string; signature: Uint8Array } {
  return { validator: key.id, signature: key.signer.sign(statement) };
}

/** A certificate of `statement` with the signatures of `signers` (not checked: pass too few to under-sign it). */
export function certify(statement: CheckpointStatement, signers: readonly TestKey[]): StoredCertificate {
  const bytes = encodeStatement(statement);
  return {
    seq: statement.seq,
    digest: statementDigest(statement).toHex(),
    statement: bytes,
    signatures: signers.map((k) => sign(k, bytes)).sort((a, b) => (a.validator < b.validator ? -1 : 1)),
  };
}
