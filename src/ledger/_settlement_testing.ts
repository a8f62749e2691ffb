/** Shared by the LedgerService settlement tests: services, fake keys and transactions, random lane DAGs and cuts. */
import assert from "node:assert/strict";
import { encodeStatement, statementDigest, ZERO_HASH } from "../checkpoint/mod.ts";
import {
  blake3,
  encodeTransaction,
  Ledger,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  ML_DSA_87_SIGNATURE_BYTES,
  type TransactionPayload,
  type UnsignedTransaction,
} from "../core/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import type { Storage, StoredCut } from "../storage/mod.ts";
import { CHAIN, DagWriter, roleKeys, RUV, seedGenesis, T0 } from "./_testing.ts";
import {
  type AsyncSignatureVerifier,
  type CutFold,
  type LedgerCut,
  type LedgerDecisionInput,
  LedgerService,
} from "./mod.ts";

export const T0_MS = Number(T0);
export const yes: AsyncSignatureVerifier = () => Promise.resolve(true);

export function ledgerService(
  storage: Storage,
  o: { snapshotEvery?: number; registry?: Registry } = {},
): LedgerService {
  return new LedgerService({
    genesis: seedGenesis(),
    storage,
    verify: yes,
    logger: silentLogger,
    registry: o.registry ?? new Registry(),
    snapshotEvery: o.snapshotEvery ?? 0,
  });
}

export interface FakeKey {
  readonly publicKey: Uint8Array;
  readonly id: Uint8Array;
}

/** A key with a random-looking public key and no secret: only the yes-verifier accepts its transactions. */
export function fakeKey(n: number): FakeKey {
  const publicKey = blake3(new TextEncoder().encode(`fake key ${n}`), ML_DSA_87_PUBLIC_KEY_BYTES);
  return { publicKey, id: blake3(publicKey) };
}

export function fakeTx(key: { readonly id: Uint8Array }, nonce: bigint, payload: TransactionPayload): Uint8Array {
  const unsigned = {
    chainId: CHAIN,
    account: key.id,
    nonce,
    timestampMs: 0n,
    maxFee: 1n << 40n,
    ...payload,
  } as UnsignedTransaction;
  return encodeTransaction({ ...unsigned, signature: new Uint8Array(ML_DSA_87_SIGNATURE_BYTES) });
}

export const createTx = (key: FakeKey, name: string) =>
  fakeTx(key, 0n, { kind: "create_account", name, publicKey: key.publicKey });
export const dataTx = (key: FakeKey, nonce: bigint) =>
  fakeTx(key, nonce, { kind: "data", data: new TextEncoder().encode(`${nonce}`) });
export const txIdOf = (tx: Uint8Array) => blake3(tx).toHex();

/** xorshift32: a failure names its seed. */
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/**
 * Records the acceptance of a stored vertex and its transactions, as
 * DagWriter.accept does but without a storage transaction: MemoryStorage
 * copies its whole state for each one, which is quadratic over 70,000
 * vertices. Returns what consensus reports to the ledger.
 */
export function accept(storage: Storage, vertex: string, txIds: readonly string[]): LedgerDecisionInput[] {
  for (const id of txIds) storage.putDecision({ id, subject: "tx", status: "accepted", decidedAtMs: 0 });
  storage.putDecision({ id: vertex, subject: "vertex", status: "accepted", decidedAtMs: 0 });
  return [{ id: vertex, kind: "vertex", status: "accepted" }];
}

/** Fails with the halt's code and message unless the ledger is in step with consensus. */
export function assertInStep(ledger: LedgerService): void {
  const halt = ledger.halted;
  assert.equal(halt, null, `the ledger halted: ${halt?.code}: ${halt?.message}`);
}

export const vertexDecision = (id: string): LedgerDecisionInput => ({ id, kind: "vertex", status: "accepted" });

/**
 * What a node's consensus records of each closed cut (src/node/consensus.ts
 * recordCut, before the ledger folds it) and the statement its checkpoint
 * service stores once the ledger folded it: restore() checks every cut it
 * folds again against that statement (a mismatch halts it).
 */
export class CutBook {
  #frontier = new Set<string>();
  #prevDigest: Uint8Array = ZERO_HASH;

  record(
    storage: Storage,
    cut: LedgerCut,
    vertices: readonly { readonly id: string; readonly parents: readonly string[] }[],
  ): StoredCut {
    for (const v of vertices) this.#frontier.add(v.id);
    for (const v of vertices) for (const p of v.parents) this.#frontier.delete(p);
    const stored: StoredCut = {
      seq: cut.seq,
      boundaryMs: cut.boundaryMs,
      prevBoundaryMs: cut.prevBoundaryMs,
      frontier: [...this.#frontier].sort(),
      vertexCount: vertices.length,
      snapshotSafe: cut.snapshotSafe,
      statement: null,
      digest: null,
      signature: null,
    };
    storage.putCut(stored);
    return stored;
  }

  state(storage: Storage, cut: StoredCut, hashes: { stateHash: Uint8Array; journalHash: Uint8Array }): void {
    const statement = {
      chainId: CHAIN,
      seq: cut.seq,
      boundaryMs: cut.boundaryMs,
      prevBoundaryMs: cut.prevBoundaryMs,
      vertexCount: cut.vertexCount,
      frontier: cut.frontier,
      txAccumulator: ZERO_HASH,
      stateHash: hashes.stateHash,
      journalHash: hashes.journalHash,
      prevDigest: this.#prevDigest,
    };
    const digest = statementDigest(statement);
    storage.setCutStatement(cut.seq, encodeStatement(statement), digest.toHex(), null);
    this.#prevDigest = digest;
  }

  /** Records the cut, has the ledger fold it, stores the statement. */
  async close(
    storage: Storage,
    ledger: LedgerService,
    cut: LedgerCut,
    vertices: readonly { readonly id: string; readonly parents: readonly string[] }[],
  ): Promise<CutFold | null> {
    const stored = this.record(storage, cut, vertices);
    const fold = await ledger.onCut(stored);
    if (fold !== null) this.state(storage, stored, fold);
    return fold;
  }
}

export const hashesOf = (f: CutFold | null) =>
  f === null ? null : {
    seq: f.seq,
    stateHash: f.stateHash.toHex(),
    journalHash: f.journalHash.toHex(),
    journalVertices: f.journalVertices,
  };

// ------------------------------------------------------------ random DAGs of a few lanes, with cuts

export interface PlannedVertex {
  readonly parents: readonly number[];
  readonly txs: readonly Uint8Array[];
  readonly txIds: readonly string[];
  readonly timestampMs: number;
}

export interface PlannedCut extends LedgerCut {
  /** Indices of the vertices it settles (timestamp in [prevBoundaryMs, boundaryMs)). */
  readonly vertices: readonly number[];
  /** Index of the first vertex accepted after it closed (timestamp >= boundaryMs + lag). */
  readonly closeAt: number;
}

export interface Plan {
  readonly vertices: readonly PlannedVertex[];
  readonly cuts: readonly PlannedCut[];
}

export const LANES = 3;
export const PLAN_INTERVAL_MS = 100;
export const PLAN_LAG_MS = 30;
/** A lane takes up every other lane's newest vertex at least this often: below the interval, so every cut is snapshot-safe. */
export const PLAN_MERGE_MS = 60;

/**
 * `count` vertices on LANES lanes, one vertex at a time on a random lane,
 * timestamps 0..3 ms apart. A vertex names its lane's previous vertex and,
 * at random (and always after PLAN_MERGE_MS), the newest vertex of the other
 * lanes, so vertices just above a cut's boundary are often concurrent to
 * vertices just below it. Each lane has an account (created by its first
 * vertex) that sends data and transfers (some overspend or name an account
 * not yet in its past, refused after the nonce check: facts too); lane 0
 * carries the exchange master's mints; now and then a new account claims one
 * of five names (concurrent claims are both ok, a later one name_taken).
 */
export function lanesPlan(seed: number, count: number): Plan {
  const rand = rng(seed);
  const master = roleKeys().master;
  const keys = Array.from({ length: LANES }, (_, i) => fakeKey(100 + i));
  const nonces = keys.map(() => 0n);
  let masterNonce = 0n;
  let claims = 0;
  const last: (number | undefined)[] = [];
  const made = keys.map(() => 0);
  const refAt = keys.map(() => keys.map(() => -Infinity));
  let clock = T0_MS + 5;
  const vertices: PlannedVertex[] = [];
  for (let n = 0; n < count; n++) {
    clock += rand(4);
    const lane = rand(LANES);
    const parents: number[] = [];
    if (last[lane] !== undefined) parents.push(last[lane]!);
    for (let j = 0; j < LANES; j++) {
      if (j === lane || last[j] === undefined) continue;
      if (rand(3) === 0 || clock - refAt[lane][j] > PLAN_MERGE_MS) {
        parents.push(last[j]!);
        refAt[lane][j] = clock;
      }
    }
    const txs: Uint8Array[] = [];
    const other = () => keys[(lane + 1 + rand(LANES - 1)) % LANES].id;
    const r = rand(10);
    if (made[lane] === 0) {
      txs.push(createTx(keys[lane], `lane-${lane}`));
      nonces[lane] = 1n;
    } else if (lane === 0 && made[0] % 12 === 1) {
      txs.push(fakeTx(master, masterNonce++, { kind: "mint", to: keys[rand(LANES)].id, amount: 100n * RUV }));
    } else if (r < 4) {
      txs.push(dataTx(keys[lane], nonces[lane]++));
    } else if (r < 7) {
      const amount = BigInt(1 + rand(60)) * RUV;
      txs.push(fakeTx(keys[lane], nonces[lane]++, { kind: "transfer", to: other(), amount, memo: new Uint8Array() }));
    } else if (r < 8) {
      txs.push(createTx(fakeKey(100_000 + seed * 1_000 + claims++), `claim-${rand(5)}`));
    }
    vertices.push({ parents, txs, txIds: txs.map(txIdOf), timestampMs: clock });
    last[lane] = n;
    made[lane]++;
  }
  return { vertices, cuts: cutsOf(vertices, PLAN_INTERVAL_MS, PLAN_LAG_MS) };
}

/** Cuts at the multiples of `intervalMs` (empty intervals skipped), each closed `lagMs` after its boundary. */
export function cutsOf(vertices: readonly PlannedVertex[], intervalMs: number, lagMs: number): PlannedCut[] {
  const cuts: PlannedCut[] = [];
  let prev = 0;
  for (let b = (Math.floor(vertices[0].timestampMs / intervalMs) + 1) * intervalMs;; b += intervalMs) {
    const closeAt = vertices.findIndex((v) => v.timestampMs >= b + lagMs);
    if (closeAt < 0) return cuts;
    const inside = [...vertices.keys()].filter((i) => vertices[i].timestampMs >= prev && vertices[i].timestampMs < b);
    if (inside.length === 0) continue;
    cuts.push({
      seq: cuts.length + 1,
      boundaryMs: b,
      prevBoundaryMs: prev,
      snapshotSafe: true,
      vertices: inside,
      closeAt,
    });
    prev = b;
  }
}

export type Step = { readonly vertex: number } | { readonly cut: number };

/** Acceptance in creation order, each cut folded once the first vertex past its lag is accepted. */
export function creationOrder(plan: Plan): Step[] {
  const steps: Step[] = [];
  let c = 0;
  for (let i = 0; i < plan.vertices.length; i++) {
    while (c < plan.cuts.length && plan.cuts[c].closeAt === i) steps.push({ cut: c++ });
    steps.push({ vertex: i });
  }
  return steps;
}

/** The same cuts at the same points, but a random linear extension of the vertices between two of them. */
export function shuffledOrder(plan: Plan, seed: number): Step[] {
  const rand = rng(seed);
  const steps: Step[] = [];
  const ends = [...plan.cuts.map((c) => c.closeAt), plan.vertices.length];
  let lo = 0;
  for (const [c, hi] of ends.entries()) {
    const waiting = new Map<number, number>();
    const children = new Map<number, number[]>();
    const ready: number[] = [];
    for (let i = lo; i < hi; i++) {
      const inside = plan.vertices[i].parents.filter((p) => p >= lo);
      waiting.set(i, inside.length);
      for (const p of inside) children.set(p, [...(children.get(p) ?? []), i]);
      if (inside.length === 0) ready.push(i);
    }
    while (ready.length > 0) {
      const [v] = ready.splice(rand(ready.length), 1);
      steps.push({ vertex: v });
      for (const child of children.get(v) ?? []) {
        const left = waiting.get(child)! - 1;
        waiting.set(child, left);
        if (left === 0) ready.push(child);
      }
    }
    if (c < plan.cuts.length) steps.push({ cut: c });
    lo = hi;
  }
  assert.equal(steps.length, plan.vertices.length + plan.cuts.length);
  return steps;
}

/** Writes the plan's vertices into storage (not yet decided); ids are the same in every storage. */
export function writePlan(storage: Storage, plan: Plan): string[] {
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const ids: string[] = [];
  for (const v of plan.vertices) {
    ids.push(writer.vertex(v.parents.map((p) => ids[p]), [...v.txs], BigInt(v.timestampMs)));
  }
  return ids;
}

/** The ancestors of every planned vertex (indices). */
export function ancestorsOf(plan: Plan): Set<number>[] {
  const out: Set<number>[] = [];
  for (const v of plan.vertices) {
    const anc = new Set<number>();
    for (const p of v.parents) {
      anc.add(p);
      for (const a of out[p]) anc.add(a);
    }
    out.push(anc);
  }
  return out;
}

/**
 * The core alone, without LedgerService's concurrency records and folds: a
 * ledger that applied exactly `vertices` (plan indices, parents first) with
 * brute-force concurrent sets (every applied vertex that is not an
 * ancestor), then settled `settled`. A `true` verdict for every signature is
 * what the yes-verifier gives (a transaction without a key is refused before
 * the signature is looked at).
 */
export function coreLedger(
  plan: Plan,
  ids: readonly string[],
  ancestors: readonly Set<number>[],
  vertices: readonly number[],
  settled: readonly number[],
): Ledger {
  const ledger = Ledger.genesis(seedGenesis());
  const applied: number[] = [];
  for (const i of vertices) {
    const concurrent = applied.filter((a) => !ancestors[i].has(a)).map((a) => Uint8Array.fromHex(ids[a]));
    const context = { vertex: Uint8Array.fromHex(ids[i]), timeMs: BigInt(plan.vertices[i].timestampMs), concurrent };
    for (const tx of plan.vertices[i].txs) ledger.apply(tx, context, true);
    applied.push(i);
  }
  ledger.settle(settled.map((i) => Uint8Array.fromHex(ids[i])));
  return ledger;
}

/** A node: its storage, its ledger, its cut records; driven by steps. */
export class SimNode {
  storage: Storage;
  ledger: LedgerService;
  readonly ids: readonly string[];
  readonly folds: (CutFold | null)[] = [];
  /** The ledger's whole state hash when it folded each cut (vertices above the boundary included). */
  readonly liveHashAtFold: string[] = [];
  readonly plan: Plan;
  readonly snapshotEvery: number;
  readonly #book = new CutBook();

  constructor(plan: Plan, storage: Storage, snapshotEvery: number) {
    this.plan = plan;
    this.storage = storage;
    this.snapshotEvery = snapshotEvery;
    this.ids = writePlan(storage, plan);
    this.ledger = ledgerService(storage, { snapshotEvery });
  }

  async run(steps: readonly Step[]): Promise<void> {
    for (const step of steps) {
      if ("vertex" in step) {
        const v = this.plan.vertices[step.vertex];
        await this.ledger.onDecisions(accept(this.storage, this.ids[step.vertex], v.txIds));
        continue;
      }
      const cut = this.plan.cuts[step.cut];
      const vertices = cut.vertices.map((i) => ({
        id: this.ids[i],
        parents: this.plan.vertices[i].parents.map((p) => this.ids[p]),
      }));
      this.folds.push(await this.#book.close(this.storage, this.ledger, cut, vertices));
      this.liveHashAtFold.push(this.ledger.stateHash().toHex());
    }
  }

  /** A new ledger service on `storage` (the same one, or the store reopened), restored. */
  async restart(storage: Storage = this.storage) {
    this.ledger.close();
    this.storage = storage;
    this.ledger = ledgerService(storage, { snapshotEvery: this.snapshotEvery });
    return await this.ledger.restore();
  }

  /** Receipts of every transaction of the plan (undefined: not applied here). */
  receipts() {
    return this.plan.vertices.flatMap((v) => v.txIds.map((id) => this.ledger.receipt(id)));
  }

  close(): void {
    this.ledger.close();
  }
}
