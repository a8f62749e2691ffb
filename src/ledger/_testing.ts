/**
 * Test helpers for the exchange ledger service and API: real ML-DSA-87 keys,
 * signed transactions, and a DAG written straight into storage with the
 * decisions consensus would have recorded.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  defaultFeeParams,
  encodeTransaction,
  encodeVertex,
  type LedgerGenesis,
  ML_DSA_87_SIGNATURE_BYTES,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
  validateTransaction,
  validateVertex,
  vertexSigningMessage,
} from "../core/mod.ts";
import type { Storage } from "../storage/mod.ts";
import { makeExchangeGenesis, parseExchangeGenesis } from "./genesis.ts";

export const RUV = 1_000_000n;
export const MINUTE_MS = 60_000n;
export const DAY_MS = 86_400_000n;
export const T0 = 1_750_000_000_000n;
export const CHAIN = new Uint8Array(32).fill(7);

export interface Key {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** BLAKE3-256 of the public key: the account (or validator) id. */
  id: Uint8Array;
}

const keys = new Map<number, Key>();

/** A real ML-DSA-87 key from seed byte `n` (cached: keygen is the slow part of these tests). */
export function realKey(n: number): Key {
  let k = keys.get(n);
  if (k === undefined) {
    const { publicKey, secretKey } = ml_dsa87.keygen(new Uint8Array(32).fill(n));
    k = { publicKey, secretKey, id: blake3(publicKey) };
    keys.set(n, k);
  }
  return k;
}

export function signTx(key: Key, nonce: bigint, payload: TransactionPayload, maxFee = 1n << 40n): Uint8Array {
  const unsigned = {
    chainId: CHAIN,
    account: key.id,
    nonce,
    timestampMs: 0n,
    maxFee,
    ...payload,
  } as UnsignedTransaction;
  const signature = ml_dsa87.sign(transactionSigningMessage(unsigned), key.secretKey, { extraEntropy: false });
  return encodeTransaction({ ...unsigned, signature });
}

export const verifyAsync = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> =>
  Promise.resolve(ml_dsa87.verify(signature, message, publicKey));

/** The five role holders of the seed flow (the same seeds as src/core/ledger_test.ts). */
export function roleKeys() {
  return { fees: realKey(1), master: realKey(2), feeAdmin: realKey(3), verifier: realKey(4), governance: realKey(5) };
}

/** The seed-flow genesis, through the genesis JSON the node reads. */
export function seedGenesis(supplyCap = 0n): LedgerGenesis {
  const k = roleKeys();
  const doc = makeExchangeGenesis({
    timeMs: T0,
    supplyCap,
    accounts: [
      { name: "fees", publicKey: k.fees.publicKey },
      { name: "exchange-master", publicKey: k.master.publicKey },
      { name: "fee-admin", publicKey: k.feeAdmin.publicKey },
      { name: "agent-verifier", publicKey: k.verifier.publicKey },
      { name: "governance", publicKey: k.governance.publicKey },
    ],
    roles: {
      feeAccount: "fees",
      exchangeMaster: "exchange-master",
      feeAdmin: "fee-admin",
      agentVerifier: "agent-verifier",
      governance: "governance",
    },
  });
  return parseExchangeGenesis(JSON.parse(JSON.stringify(doc)), CHAIN);
}

export interface DagWriterOptions {
  /**
   * Writes zero bytes as each vertex's signature instead of signing it with
   * ML-DSA-87 (the slow part of writing a vertex). The ledger service never
   * checks vertex signatures (admission does), only transaction signatures;
   * for tests that write tens of thousands of vertices.
   */
  fakeSignatures?: boolean;
}

/**
 * Writes vertices into storage as the DAG service would, and accepts them as
 * consensus would (transactions first, then the vertex).
 */
export class DagWriter {
  readonly storage: Storage;
  readonly #validator = realKey(200);
  readonly #rounds = new Map<string, bigint>();
  readonly #fakeSignatures: boolean;

  constructor(storage: Storage, options: DagWriterOptions = {}) {
    this.storage = storage;
    this.#fakeSignatures = options.fakeSignatures ?? false;
  }

  /** Stores a vertex (not yet decided); returns its hex id. */
  vertex(parents: readonly string[], transactions: Uint8Array[], timestampMs: bigint): string {
    const sorted = [...parents].sort();
    let round = 0n;
    for (const p of sorted) {
      const r = this.#rounds.get(p);
      if (r === undefined) throw new Error(`unknown parent ${p}`);
      if (r + 1n > round) round = r + 1n;
    }
    const unsigned = {
      chainId: CHAIN,
      author: this.#validator.id,
      round,
      timestampMs,
      parents: sorted.map((p) => Uint8Array.fromHex(p)),
      transactions,
    };
    const signature = this.#fakeSignatures
      ? new Uint8Array(ML_DSA_87_SIGNATURE_BYTES)
      : ml_dsa87.sign(vertexSigningMessage(unsigned), this.#validator.secretKey, { extraEntropy: false });
    const bytes = encodeVertex({ ...unsigned, signature });
    const info = validateVertex(bytes);
    const id = info.id.toHex();
    this.storage.putVertex({
      id,
      bytes,
      author: this.#validator.id.toHex(),
      round,
      parents: sorted,
      receivedAtMs: 0,
      timestampMs: Number(timestampMs),
    });
    transactions.forEach((tx, i) => {
      this.storage.putTransaction({
        id: info.transactionIds[i].toHex(),
        bytes: tx,
        conflictKey: validateTransaction(tx).conflictKey,
        vertex: id,
        receivedAtMs: 0,
      });
    });
    this.#rounds.set(id, round);
    return id;
  }

  /** Records the acceptance of a stored vertex and its transactions; returns the decisions recorded. */
  accept(id: string): { id: string; subject: "tx" | "vertex"; status: "accepted"; decidedAtMs: number }[] {
    const v = this.storage.getVertex(id);
    if (v === null) throw new Error(`no vertex ${id}`);
    const info = validateVertex(v.bytes);
    const decisions = [
      ...info.transactionIds.map((t) => ({ id: t.toHex(), subject: "tx" as const })),
      { id, subject: "vertex" as const },
    ].map((d) => ({ ...d, status: "accepted" as const, decidedAtMs: 0 }));
    this.storage.transaction(() => {
      for (const d of decisions) this.storage.putDecision(d);
    });
    return decisions;
  }
}

/**
 * The seed flow's transactions in order (SPEC.md, src/core/ledger_test.ts):
 * create genesis-treasury, mint 10,000,000 rUv, create alice and bob,
 * transfer 50,000 and 30,000, configure fees (the defaults), attest alice,
 * lock the configuration (`configHash`) with a one-day grace period.
 */
export function seedFlowTransactions(configHash: Uint8Array): { name: string; tx: Uint8Array }[] {
  const k = roleKeys();
  const [treasury, alice, bob] = [realKey(10), realKey(11), realKey(12)];
  const memo = new Uint8Array();
  return [
    [
      "create treasury",
      signTx(treasury, 0n, { kind: "create_account", name: "genesis-treasury", publicKey: treasury.publicKey }),
    ],
    ["mint", signTx(k.master, 0n, { kind: "mint", to: treasury.id, amount: 10_000_000n * RUV })],
    ["create alice", signTx(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey })],
    ["create bob", signTx(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey })],
    ["transfer alice", signTx(treasury, 1n, { kind: "transfer", to: alice.id, amount: 50_000n * RUV, memo })],
    ["transfer bob", signTx(treasury, 2n, { kind: "transfer", to: bob.id, amount: 30_000n * RUV, memo })],
    ["configure fees", signTx(k.feeAdmin, 0n, { kind: "configure_fees", fees: defaultFeeParams() })],
    [
      "attest alice",
      signTx(k.verifier, 0n, {
        kind: "attest_agent",
        agent: alice.id,
        proofDigest: blake3(new TextEncoder().encode("alice-kyc.json")),
        expiryMs: T0 + 365n * DAY_MS,
      }),
    ],
    ["lock", signTx(k.governance, 0n, { kind: "immutable_lock", configHash, gracePeriodMs: DAY_MS })],
  ].map(([name, tx]) => ({ name: name as string, tx: tx as Uint8Array }));
}

/**
 * Writes `txs` as a chain of vertices, one transaction each, the first a
 * genesis vertex, timestamps T0 + 2 min, + 3 min, ... (as the core's seed-flow
 * test steps its clock), and accepts each. Returns the vertex ids.
 */
export function writeChain(writer: DagWriter, txs: readonly Uint8Array[], firstTimeMs = T0 + 2n * MINUTE_MS): string[] {
  const ids: string[] = [];
  txs.forEach((tx, i) => {
    const id = writer.vertex(ids.length === 0 ? [] : [ids[ids.length - 1]], [tx], firstTimeMs + BigInt(i) * MINUTE_MS);
    writer.accept(id);
    ids.push(id);
  });
  return ids;
}
