/**
 * Settlement end to end through LedgerService (wasm/LEDGER.md, "What the host
 * must do"; src/consensus/cut.ts): vertices arrive through onDecisions, cuts
 * are recorded in storage (as a node's consensus does) and then folded with
 * onCut, snapshots are taken, and restore() restarts from them. Transactions
 * carry zero signatures and a verifier that accepts everything (the service's
 * signature path is covered in service_test.ts); vertices carry zero
 * signatures (the service never checks them).
 */
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
import { MemoryStorage, SqliteStorage, type Storage, type StoredCut } from "../storage/mod.ts";
import { CHAIN, DagWriter, roleKeys, RUV, seedGenesis, T0 } from "./_testing.ts";
import {
  type AsyncSignatureVerifier,
  type CutFold,
  type LedgerCut,
  type LedgerDecisionInput,
  LedgerService,
} from "./mod.ts";

const T0_MS = Number(T0);
const yes: AsyncSignatureVerifier = () => Promise.resolve(true);

function ledgerService(storage: Storage, o: { snapshotEvery?: number; registry?: Registry } = {}): LedgerService {
  return new LedgerService({
    genesis: seedGenesis(),
    storage,
    verify: yes,
    logger: silentLogger,
    registry: o.registry ?? new Registry(),
    snapshotEvery: o.snapshotEvery ?? 0,
  });
}

interface FakeKey {
  readonly publicKey: Uint8Array;
  readonly id: Uint8Array;
}

/** A key with a random-looking public key and no secret: only the yes-verifier accepts its transactions. */
function fakeKey(n: number): FakeKey {
  const publicKey = blake3(new TextEncoder().encode(`fake key ${n}`), ML_DSA_87_PUBLIC_KEY_BYTES);
  return { publicKey, id: blake3(publicKey) };
}

function fakeTx(key: { readonly id: Uint8Array }, nonce: bigint, payload: TransactionPayload): Uint8Array {
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

const createTx = (key: FakeKey, name: string) =>
  fakeTx(key, 0n, { kind: "create_account", name, publicKey: key.publicKey });
const dataTx = (key: FakeKey, nonce: bigint) =>
  fakeTx(key, nonce, { kind: "data", data: new TextEncoder().encode(`${nonce}`) });
const txIdOf = (tx: Uint8Array) => blake3(tx).toHex();

/** xorshift32: a failure names its seed. */
function rng(seed: number) {
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
function accept(storage: Storage, vertex: string, txIds: readonly string[]): LedgerDecisionInput[] {
  for (const id of txIds) storage.putDecision({ id, subject: "tx", status: "accepted", decidedAtMs: 0 });
  storage.putDecision({ id: vertex, subject: "vertex", status: "accepted", decidedAtMs: 0 });
  return [{ id: vertex, kind: "vertex", status: "accepted" }];
}

/** Fails with the halt's code and message unless the ledger is in step with consensus. */
function assertInStep(ledger: LedgerService): void {
  const halt = ledger.halted;
  assert.equal(halt, null, `the ledger halted: ${halt?.code}: ${halt?.message}`);
}

const vertexDecision = (id: string): LedgerDecisionInput => ({ id, kind: "vertex", status: "accepted" });

/**
 * What a node's consensus records of each closed cut (src/node/consensus.ts
 * recordCut, before the ledger folds it) and the statement its checkpoint
 * service stores once the ledger folded it: restore() checks every cut it
 * folds again against that statement (a mismatch halts it).
 */
class CutBook {
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

const hashesOf = (f: CutFold | null) =>
  f === null ? null : {
    seq: f.seq,
    stateHash: f.stateHash.toHex(),
    journalHash: f.journalHash.toHex(),
    journalVertices: f.journalVertices,
  };

// ------------------------------------------------------------ random DAGs of a few lanes, with cuts

interface PlannedVertex {
  readonly parents: readonly number[];
  readonly txs: readonly Uint8Array[];
  readonly txIds: readonly string[];
  readonly timestampMs: number;
}

interface PlannedCut extends LedgerCut {
  /** Indices of the vertices it settles (timestamp in [prevBoundaryMs, boundaryMs)). */
  readonly vertices: readonly number[];
  /** Index of the first vertex accepted after it closed (timestamp >= boundaryMs + lag). */
  readonly closeAt: number;
}

interface Plan {
  readonly vertices: readonly PlannedVertex[];
  readonly cuts: readonly PlannedCut[];
}

const LANES = 3;
const PLAN_INTERVAL_MS = 100;
const PLAN_LAG_MS = 30;
/** A lane takes up every other lane's newest vertex at least this often: below the interval, so every cut is snapshot-safe. */
const PLAN_MERGE_MS = 60;

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
function lanesPlan(seed: number, count: number): Plan {
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
function cutsOf(vertices: readonly PlannedVertex[], intervalMs: number, lagMs: number): PlannedCut[] {
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

type Step = { readonly vertex: number } | { readonly cut: number };

/** Acceptance in creation order, each cut folded once the first vertex past its lag is accepted. */
function creationOrder(plan: Plan): Step[] {
  const steps: Step[] = [];
  let c = 0;
  for (let i = 0; i < plan.vertices.length; i++) {
    while (c < plan.cuts.length && plan.cuts[c].closeAt === i) steps.push({ cut: c++ });
    steps.push({ vertex: i });
  }
  return steps;
}

/** The same cuts at the same points, but a random linear extension of the vertices between two of them. */
function shuffledOrder(plan: Plan, seed: number): Step[] {
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
function writePlan(storage: Storage, plan: Plan): string[] {
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const ids: string[] = [];
  for (const v of plan.vertices) {
    ids.push(writer.vertex(v.parents.map((p) => ids[p]), [...v.txs], BigInt(v.timestampMs)));
  }
  return ids;
}

/** The ancestors of every planned vertex (indices). */
function ancestorsOf(plan: Plan): Set<number>[] {
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
function coreLedger(
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
class SimNode {
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

// ------------------------------------------------------------ 1. wide concurrency

Deno.test("LedgerService: a vertex concurrent to 4,096 state-changing vertices applies, and two services that applied them in different orders agree", async () => {
  const n = 4_096;
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const txs: Uint8Array[] = [];
  const ids: string[] = [];
  const keys: FakeKey[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(fakeKey(10_000 + i));
    txs.push(createTx(keys[i], `user-${i}`));
    ids.push(writer.vertex([], [txs[i]], T0 + BigInt(i)));
    accept(storage, ids[i], [txIdOf(txs[i])]);
  }
  // Concurrent to all of them: it must not see their claims, so its claim of user-17's name is ok (both own it
  // then; the smaller id is the owner), as a core's concurrent name claims are.
  const rivalKey = fakeKey(20_000);
  const rivalTx = createTx(rivalKey, "user-17");
  const rival = writer.vertex([], [rivalTx], T0 + BigInt(n));
  accept(storage, rival, [txIdOf(rivalTx)]);
  const allTxs = [...txs, rivalTx];

  const run = async (order: readonly string[]) => {
    const s = ledgerService(storage);
    await s.onDecisions(order.map(vertexDecision));
    return s;
  };
  const a = await run([...ids, rival]);
  const b = await run([rival, ...ids.toReversed()]);
  try {
    assertInStep(a);
    assertInStep(b);
    assert.equal(a.concurrentOf(rival)?.length, n, "the last vertex saw every other one as concurrent");
    assert.equal(b.concurrentOf(ids[0])?.length, n, "in the reversed order the first genesis vertex is the last");
    const receiptsA = allTxs.map((tx) => a.receipt(txIdOf(tx)));
    const receiptsB = allTxs.map((tx) => b.receipt(txIdOf(tx)));
    assert.deepEqual(receiptsA.map((r) => r?.code), allTxs.map(() => "ok"));
    assert.deepEqual(receiptsB, receiptsA);
    assert.equal(a.status().accountCount, 5 + n + 1);
    assert.equal(b.stateHash().toHex(), a.stateHash().toHex());
    // Both claims stand; the name belongs to the smaller id, in either order.
    const owner = keys[17].id.toHex() < rivalKey.id.toHex() ? keys[17].id : rivalKey.id;
    for (const s of [a, b]) {
      assert.equal(s.account("user-17")?.id.toHex(), owner.toHex());
      assert.equal(s.account(rivalKey.id.toHex())?.name, "user-17");
      assert.equal(s.account(keys[17].id.toHex())?.name, "user-17");
    }
  } finally {
    a.close();
    b.close();
  }
});

// ------------------------------------------------------------ 2. bounded over a long chain, restart from a snapshot

const LONG_VERTICES = 70_000;
const LONG_WIDTH = 4;
const LONG_LAYER_MS = 4;
const LONG_INTERVAL_MS = 1_000;
const LONG_LAG_MS = 250;
const LONG_SNAPSHOT_EVERY = 8;
/** Bound on the journal, the concurrency records and the core's receipts: about two cuts and a lag of vertices. */
const LONG_HELD_MAX = 2_500;

async function longRun(storage: Storage) {
  const layers = LONG_VERTICES / LONG_WIDTH;
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const live = ledgerService(storage, { snapshotEvery: LONG_SNAPSHOT_EVERY });
  const book = new CutBook();
  const keys = Array.from({ length: LONG_WIDTH }, (_, i) => fakeKey(1_000 + i));
  const nonces = keys.map(() => 1n);
  const master = roleKeys().master;
  const startMs = T0_MS + 500;
  /** Transactions of the first layers, of layer 50 and of the last one: their receipts are checked after the restart. */
  const watched: { txId: string; vertex: string }[] = [];
  const txOf = (layer: number, lane: number): Uint8Array => {
    if (layer === 0) return createTx(keys[lane], `lane-${lane}`);
    if (lane === 0 && layer <= LONG_WIDTH) {
      return fakeTx(master, BigInt(layer - 1), { kind: "mint", to: keys[layer - 1].id, amount: 1_000_000n * RUV });
    }
    if (layer % 100 === 50) {
      const to = keys[(lane + 1) % LONG_WIDTH].id;
      return fakeTx(keys[lane], nonces[lane]++, { kind: "transfer", to, amount: RUV, memo: new Uint8Array() });
    }
    return dataTx(keys[lane], nonces[lane]++);
  };

  let prevLayer: string[] = [];
  let pending: { id: string; parents: string[]; timestampMs: number }[] = [];
  let decisions: LedgerDecisionInput[] = [];
  let boundaryMs = T0_MS + LONG_INTERVAL_MS;
  let prevBoundaryMs = 0;
  let seq = 0;
  const folds: CutFold[] = [];
  const held = { journal: 0, vertices: 0, receipts: 0, afterFold: 0 };
  const note = () => {
    const s = live.status();
    held.journal = Math.max(held.journal, s.journalVertices);
    held.vertices = Math.max(held.vertices, live.verticesHeld);
    held.receipts = Math.max(held.receipts, s.resultCount);
  };
  const flush = async () => {
    await live.onDecisions(decisions);
    decisions = [];
    note();
  };
  const closeCut = async () => {
    await flush();
    const inside = pending.filter((v) => v.timestampMs < boundaryMs);
    pending = pending.filter((v) => v.timestampMs >= boundaryMs);
    const cut = { seq: ++seq, boundaryMs, prevBoundaryMs, snapshotSafe: true };
    const fold = await book.close(storage, live, cut, inside);
    assert.ok(fold !== null, `cut ${seq}: ${live.halted?.message}`);
    assert.equal(fold.snapshot, seq % LONG_SNAPSHOT_EVERY === 0, `cut ${seq}`);
    folds.push(fold);
    note();
    held.afterFold = Math.max(held.afterFold, live.verticesHeld);
    assert.ok(live.verticesHeld <= LONG_HELD_MAX, `cut ${seq}: ${live.verticesHeld} vertices held`);
    assert.ok(live.status().journalVertices <= LONG_HELD_MAX, `cut ${seq}: journal ${live.status().journalVertices}`);
    if (fold.snapshot) {
      // As a node prunes behind its checkpoints: a restore must never need a body below the oldest snapshot's cut.
      const oldest = storage.getCut(storage.snapshotSeqs().at(-1)!)!;
      storage.pruneVertexBodies(oldest.prevBoundaryMs);
    }
    prevBoundaryMs = boundaryMs;
    boundaryMs += LONG_INTERVAL_MS;
  };

  for (let layer = 0; layer < layers; layer++) {
    const timestampMs = startMs + layer * LONG_LAYER_MS;
    while (timestampMs >= boundaryMs + LONG_LAG_MS) await closeCut();
    const ids: string[] = [];
    for (let lane = 0; lane < LONG_WIDTH; lane++) {
      const tx = txOf(layer, lane);
      const id = writer.vertex(prevLayer, [tx], BigInt(timestampMs));
      decisions.push(...accept(storage, id, [txIdOf(tx)]));
      pending.push({ id, parents: prevLayer, timestampMs });
      ids.push(id);
      if (layer <= LONG_WIDTH || layer === 50 || layer === layers - 1) watched.push({ txId: txIdOf(tx), vertex: id });
    }
    prevLayer = ids;
    if (decisions.length >= 1_000) await flush();
  }
  await flush();
  return { live, folds, held, watched };
}

async function longRestart(storage: Storage, reopen: () => Storage): Promise<void> {
  const { live, folds, held, watched } = await longRun(storage);
  let restarted: LedgerService | null = null;
  try {
    assertInStep(live);
    assert.equal(live.appliedVertices, LONG_VERTICES);
    assert.equal(folds.length, 70);
    assert.equal(storage.latestCut()?.seq, 70);
    // Bounded by settlement, whatever the chain's age: about two cuts (2 × 1,000 vertices) and the lag.
    assert.ok(held.vertices <= LONG_HELD_MAX, `at most ${held.vertices} vertices held`);
    assert.ok(held.journal <= LONG_HELD_MAX, `at most ${held.journal} journal vertices`);
    assert.ok(held.receipts <= LONG_HELD_MAX, `at most ${held.receipts} receipts in the core`);
    assert.ok(held.afterFold <= 1_300, `at most ${held.afterFold} vertices held after a fold`);
    assert.ok(held.journal >= 1_000, "the journal did hold the unsettled vertices");
    assert.deepEqual(storage.snapshotSeqs(), [64, 56]);

    const liveHash = live.stateHash().toHex();
    const liveStatus = live.status();
    const liveReceipts = watched.map((w) => live.receipt(w.txId));
    const liveHeld = live.verticesHeld;
    live.close();
    const reopened = reopen();
    restarted = ledgerService(reopened, { snapshotEvery: LONG_SNAPSHOT_EVERY });
    const summary = await restarted.restore();
    assertInStep(restarted);
    const snapshotCut = reopened.getCut(64)!;
    const above = reopened.acceptedVerticesFrom(snapshotCut.boundaryMs).length;
    assert.equal(summary.fromSeq, 64);
    assert.equal(summary.cuts, 6, "cuts 65..70 folded again (and checked against their statements)");
    assert.equal(summary.vertices, above);
    assert.equal(above, LONG_VERTICES - (snapshotCut.boundaryMs - T0_MS - 500) / LONG_LAYER_MS * LONG_WIDTH);
    assert.ok(summary.vertices < 7_000, `${summary.vertices} vertices replayed`);
    assert.equal(restarted.stateHash().toHex(), liveHash);
    assert.equal(restarted.status().journalVertices, liveStatus.journalVertices);
    assert.equal(restarted.verticesHeld, liveHeld);
    // The first layers' transactions were settled long ago (their receipts come from storage, on both sides of
    // the restart); the last layer's are held by the core (live) or replayed (restarted).
    const restartedReceipts = watched.map((w) => restarted!.receipt(w.txId));
    assert.deepEqual(restartedReceipts, liveReceipts);
    for (const [i, w] of watched.entries()) {
      assert.equal(restartedReceipts[i]?.code, "ok", `watched transaction ${i}`);
      assert.equal(restartedReceipts[i]?.vertex.toHex(), w.vertex);
    }
  } finally {
    live.close();
    restarted?.close();
  }
}

Deno.test("LedgerService: 70,000 state-changing vertices with settlement: the journal and the records stay bounded, and a restart replays only the vertices above the last snapshot", async () => {
  const storage = new MemoryStorage();
  await longRestart(storage, () => storage);
});

// ------------------------------------------------------------ 3. cut hashes

Deno.test("LedgerService: a cut's hashes equal those of a fresh ledger that applied only the cut's vertices, and do not depend on the acceptance order", async () => {
  const plan = lanesPlan(7, 700);
  assert.ok(plan.cuts.length >= 8, `${plan.cuts.length} cuts`);
  const a = new SimNode(plan, new MemoryStorage(), 0);
  const b = new SimNode(plan, new MemoryStorage(), 0);
  // Every vertex accepted up front: fresh services are fed exactly the vertices of a cut.
  const reference = new MemoryStorage();
  const ids = writePlan(reference, plan);
  plan.vertices.forEach((v, i) => accept(reference, ids[i], v.txIds));
  const ancestors = ancestorsOf(plan);
  try {
    await a.run(creationOrder(plan));
    await b.run(shuffledOrder(plan, 99));
    assertInStep(a.ledger);
    assertInStep(b.ledger);
    let excludedFacts = 0;
    for (const [c, cut] of plan.cuts.entries()) {
      const fold = hashesOf(a.folds[c])!;
      assert.notEqual(fold, null);
      if (fold.stateHash !== a.liveHashAtFold[c]) excludedFacts++;
      const below = plan.vertices.keys().filter((i) => plan.vertices[i].timestampMs < cut.boundaryMs).toArray();

      // The core alone applied the vertices below the boundary and settled those below the previous one.
      const settled = below.filter((i) => plan.vertices[i].timestampMs < cut.prevBoundaryMs);
      using core = coreLedger(plan, ids, ancestors, below, settled);
      const { stateHash, journalHash, journalVertices } = core.cutHashes([]);
      assert.deepEqual(
        { seq: cut.seq, stateHash: stateHash.toHex(), journalHash: journalHash.toHex(), journalVertices },
        fold,
        `cut ${cut.seq}: the core alone`,
      );
      assert.ok(journalVertices > 0 && journalVertices <= cut.vertices.length, `cut ${cut.seq}: ${journalVertices}`);

      // A ledger that applied only the vertices below the boundary, never settling: the same state hash.
      const plain = ledgerService(reference);
      await plain.onDecisions(below.map((i) => vertexDecision(ids[i])));
      assert.equal(plain.stateHash().toHex(), fold.stateHash, `cut ${cut.seq}: state hash`);
      plain.close();

      // One that applied them cut by cut, folding the same cuts (so it settled the same vertices): the same journal.
      const folded = ledgerService(reference);
      let last: CutFold | null = null;
      for (const earlier of plan.cuts.slice(0, c + 1)) {
        await folded.onDecisions(earlier.vertices.map((i) => vertexDecision(ids[i])));
        last = await folded.onCut(earlier);
      }
      assert.deepEqual(hashesOf(last), fold, `cut ${cut.seq}: a ledger that held only the cut`);
      assert.equal(folded.stateHash().toHex(), fold.stateHash);
      folded.close();

      // Another acceptance order, the same cuts: the same statement.
      assert.deepEqual(hashesOf(b.folds[c]), fold, `cut ${cut.seq}: the shuffled order`);
    }
    // The cuts left out vertices whose effects had to be undone, and the orders really differed.
    assert.ok(excludedFacts >= plan.cuts.length / 2, `only ${excludedFacts} cuts excluded state changes`);
    assert.equal(b.ledger.stateHash().toHex(), a.ledger.stateHash().toHex());
    const receipts = a.receipts();
    assert.deepEqual(b.receipts(), receipts);
    const codes = new Set(receipts.map((r) => r?.code));
    for (const code of ["ok", "name_taken", "insufficient_funds"]) assert.ok(codes.has(code as never), code);
  } finally {
    a.close();
    b.close();
  }
});

// ------------------------------------------------------------ 4. restore from snapshots

async function restoreScenario(storage: Storage, reopen: (s: Storage) => Storage) {
  const plan = lanesPlan(11, 800);
  const steps = creationOrder(plan);
  // A node that restarts after cut 5 (and some vertices above it), and one that never does.
  const restartAt = steps.findIndex((s) => "cut" in s && s.cut === 4) + 40;
  const node = new SimNode(plan, storage, 2);
  const reference = new SimNode(plan, new MemoryStorage(), 2);
  try {
    await node.run(steps.slice(0, restartAt));
    await reference.run(steps.slice(0, restartAt));
    assert.deepEqual(node.storage.snapshotSeqs(), [4, 2]);
    const applied = steps.slice(0, restartAt).filter((s) => "vertex" in s).map((s) => (s as { vertex: number }).vertex);
    const snapshotBoundaryMs = plan.cuts[3].boundaryMs;

    const summary = await node.restart(reopen(node.storage));
    assertInStep(node.ledger);
    assert.equal(summary.fromSeq, 4);
    assert.equal(summary.cuts, 1);
    assert.equal(summary.vertices, applied.filter((i) => plan.vertices[i].timestampMs >= snapshotBoundaryMs).length);
    assert.ok(summary.vertices < applied.length / 2, `${summary.vertices} of ${applied.length} replayed`);
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.equal(node.ledger.status().journalVertices, reference.ledger.status().journalVertices);
    assert.equal(node.ledger.verticesHeld, reference.ledger.verticesHeld);
    assert.deepEqual(node.receipts(), reference.receipts());

    // The vertices above, some concurrent to the snapshot's own vertices, and the cuts after: still in step.
    await node.run(steps.slice(restartAt));
    await reference.run(steps.slice(restartAt));
    assertInStep(node.ledger);
    assert.deepEqual(node.folds.map(hashesOf), reference.folds.map(hashesOf));
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.deepEqual(node.receipts(), reference.receipts());

    // An unreadable newest snapshot: the restore takes the one before and gets there too.
    const [newest, older] = node.storage.snapshotSeqs();
    node.storage.putSnapshot(newest, new TextEncoder().encode("not a snapshot"), 2);
    const again = await node.restart();
    assertInStep(node.ledger);
    assert.equal(again.fromSeq, older);
    assert.equal(node.ledger.stateHash().toHex(), reference.ledger.stateHash().toHex());
    assert.deepEqual(node.receipts(), reference.receipts());
  } finally {
    node.close();
    reference.close();
  }
}

Deno.test("LedgerService.restore() from a snapshot, then the vertices above it, reaches the live state (memory)", async () => {
  await restoreScenario(new MemoryStorage(), (s) => s);
});

Deno.test("LedgerService.restore() from a snapshot, then the vertices above it, reaches the live state (SQLite, reopened)", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "qudag-settlement-" });
  let current: Storage = SqliteStorage.open({ dataDir });
  try {
    await restoreScenario(current, (s) => {
      s.close();
      current = SqliteStorage.open({ dataDir });
      return current;
    });
  } finally {
    current.close();
    Deno.removeSync(dataDir, { recursive: true });
  }
});

/**
 * Two lanes, cuts every 100 ms. X (above cut 4's boundary) does not descend
 * from Y (cut 3) and claims Y's name: live, X was applied before cut 4 closed
 * and saw Y as concurrent (ok). A restore from a snapshot at cut 4 would hold
 * Y settled and refuse X (name_taken), so cut 4 is not snapshot-safe.
 */
async function unsafeCutScenario(lie: boolean) {
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const live = ledgerService(storage, { snapshotEvery: 2 });
  const book = new CutBook();
  const [ka, kb, ky, kx] = [fakeKey(40), fakeKey(41), fakeKey(42), fakeKey(43)];
  const txs = new Map<string, Uint8Array>();
  const vertex = async (parents: string[], tx: Uint8Array, ms: number) => {
    const id = writer.vertex(parents, [tx], BigInt(T0_MS + ms));
    txs.set(id, tx);
    await live.onDecisions(accept(storage, id, [txIdOf(tx)]));
    return id;
  };
  const cut = (seq: number, boundary: number, prev: number, vertices: string[], snapshotSafe = true) =>
    book.close(storage, live, {
      seq,
      boundaryMs: T0_MS + boundary,
      prevBoundaryMs: prev === 0 ? 0 : T0_MS + prev,
      snapshotSafe,
    }, vertices.map((id) => ({ id, parents: storage.getVertex(id)!.parents })));

  const a0 = await vertex([], createTx(ka, "lane-a"), 10);
  const b0 = await vertex([a0], createTx(kb, "lane-b"), 20);
  await cut(1, 100, 0, [a0, b0]);
  const a1 = await vertex([b0], dataTx(ka, 1n), 110);
  const b1 = await vertex([a1], dataTx(kb, 1n), 120);
  const fold2 = await cut(2, 200, 100, [a1, b1]);
  const y = await vertex([b1], createTx(ky, "dup"), 250);
  const a2 = await vertex([b1], dataTx(ka, 2n), 260);
  await cut(3, 300, 200, [y, a2]);
  const a3 = await vertex([a2], dataTx(ka, 3n), 350);
  const x = await vertex([a3], createTx(kx, "dup"), 410);
  const fold4 = await cut(4, 400, 300, [a3], lie);
  const b2 = await vertex([x, y], dataTx(kb, 2n), 420);
  await cut(5, 500, 400, [x, b2]);
  return { storage, writer, live, txs, ids: { a0, b0, a1, b1, y, a2, a3, x, b2 }, ka, fold2, fold4, cut };
}

Deno.test("LedgerService: a cut that was not snapshotSafe is not used as a snapshot; restore() folds across it", async () => {
  const s = await unsafeCutScenario(false);
  const restarted = ledgerService(s.storage, { snapshotEvery: 2 });
  try {
    assertInStep(s.live);
    assert.equal(s.live.receipt(txIdOf(s.txs.get(s.ids.x)!))?.code, "ok", "X did not see Y's claim");
    assert.equal(s.fold2?.snapshot, true);
    assert.equal(s.fold4?.snapshot, false, "cut 4 is a snapshot cut (4 % 2) but not snapshot-safe");
    assert.deepEqual(s.storage.snapshotSeqs(), [2]);

    const summary = await restarted.restore();
    assertInStep(restarted);
    assert.deepEqual([summary.fromSeq, summary.cuts, summary.vertices], [2, 3, 5]);
    assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    for (const [name, id] of Object.entries(s.ids)) {
      const tx = txIdOf(s.txs.get(id)!);
      assert.deepEqual(restarted.receipt(tx), s.live.receipt(tx), name);
    }

    // Both go on alike; the next snapshot cut is safe and stored.
    const c = s.writer.vertex([s.ids.b2], [dataTx(s.ka, 4n)], BigInt(T0_MS + 510));
    const decisions = accept(s.storage, c, [txIdOf(dataTx(s.ka, 4n))]);
    await s.live.onDecisions(decisions);
    await restarted.onDecisions(decisions);
    const fold6 = await s.cut(6, 600, 500, [c]);
    const stored6 = s.storage.getCut(6)!;
    assert.deepEqual(hashesOf(await restarted.onCut(stored6)), hashesOf(fold6));
    assert.equal(fold6?.snapshot, true);
    assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    const third = ledgerService(s.storage, { snapshotEvery: 2 });
    const from6 = await third.restore();
    assert.deepEqual([from6.fromSeq, from6.vertices], [6, 0]);
    assert.equal(third.stateHash().toHex(), s.live.stateHash().toHex());
    third.close();
  } finally {
    s.live.close();
    restarted.close();
  }
});

Deno.test("LedgerService: the same DAG with cut 4 recorded as snapshotSafe restores to another state (the control)", async () => {
  const s = await unsafeCutScenario(true);
  const restarted = ledgerService(s.storage, { snapshotEvery: 2 });
  try {
    assert.equal(s.fold4?.snapshot, true);
    const summary = await restarted.restore();
    assert.equal(summary.fromSeq, 4);
    // Y is settled in that snapshot, so X, replayed above it, sees Y's claim: another state. The receipt stored
    // first (X "ok", by the live service on the same storage) is the one kept and served.
    assert.notEqual(restarted.stateHash().toHex(), s.live.stateHash().toHex());
    assert.equal(restarted.receipt(txIdOf(s.txs.get(s.ids.x)!))?.code, "ok");
    // Folding cut 5 again, the restore meets the statement this node made of it live, and stops.
    assert.equal(restarted.halted?.code, "checkpoint_mismatch");
  } finally {
    s.live.close();
    restarted.close();
  }
});

// ------------------------------------------------------------ 5. halts

Deno.test("LedgerService: a node whose ledger halted restores without throwing and reports the halt code", async (t) => {
  await t.step("two accepted transactions of one conflict key above the snapshot: ledger_core_fault", async () => {
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage, { fakeSignatures: true });
    const live = ledgerService(storage, { snapshotEvery: 1 });
    const carol = fakeKey(50);
    const s = writer.vertex([], [createTx(carol, "carol")], T0 + 10n);
    await live.onDecisions(writer.accept(s));
    const fold = await new CutBook().close(storage, live, {
      seq: 1,
      boundaryMs: T0_MS + 100,
      prevBoundaryMs: 0,
      snapshotSafe: true,
    }, [{ id: s, parents: [] }]);
    assert.equal(fold?.snapshot, true);
    live.close();
    // Then the node stored two concurrent vertices with carol's nonce 1 as accepted (consensus must never) and stopped.
    const x = writer.vertex([s], [fakeTx(carol, 1n, { kind: "data", data: new Uint8Array([1]) })], T0 + 110n);
    const y = writer.vertex([s], [fakeTx(carol, 1n, { kind: "data", data: new Uint8Array([2]) })], T0 + 120n);
    const z = writer.vertex([x, y], [], T0 + 130n);
    for (const v of [x, y, z]) writer.accept(v);

    const registry = new Registry();
    const restarted = ledgerService(storage, { snapshotEvery: 1, registry });
    try {
      const summary = await restarted.restore();
      assert.equal(restarted.halted?.code, "ledger_core_fault");
      assert.match(restarted.halted?.message ?? "", /conflict key/);
      assert.equal(summary.fromSeq, 1);
      assert.equal(summary.vertices, 1, "x applied, y not");
      assert.match(registry.render(), /qudag_ledger_halted 1/);
      // Halted: no statement, no dry run, nothing more applied.
      assert.equal(
        await restarted.onCut({ seq: 2, boundaryMs: T0_MS + 200, prevBoundaryMs: T0_MS + 100, snapshotSafe: true }),
        null,
      );
      await assert.rejects(
        restarted.check(dataTx(carol, 2n), T0_MS + 200),
        (e: Error & { code?: string }) => e.code === "ledger_halted",
      );
      const applied = restarted.appliedVertices;
      await restarted.onDecisions([vertexDecision(z)]);
      assert.equal(restarted.appliedVertices, applied);
    } finally {
      restarted.close();
    }
  });

  await t.step("an accepted vertex whose parent was never accepted: ledger_out_of_step", async () => {
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage, { fakeSignatures: true });
    const p = writer.vertex([], [createTx(fakeKey(51), "dan")], T0 + 10n);
    const c = writer.vertex([p], [createTx(fakeKey(52), "erin")], T0 + 20n);
    writer.accept(c);
    const restarted = ledgerService(storage);
    try {
      const summary = await restarted.restore();
      assert.equal(restarted.halted?.code, "ledger_out_of_step");
      assert.match(restarted.halted?.message ?? "", new RegExp(`parent ${p}, never applied`));
      assert.equal(summary.vertices, 0);
    } finally {
      restarted.close();
    }
  });

  await t.step(
    "a replayed cut whose hashes differ from the statement this node stored: checkpoint_mismatch",
    async () => {
      const storage = new MemoryStorage();
      const writer = new DagWriter(storage, { fakeSignatures: true });
      const live = ledgerService(storage);
      const book = new CutBook();
      const v1 = writer.vertex([], [createTx(fakeKey(53), "fay")], T0 + 10n);
      await live.onDecisions(writer.accept(v1));
      await book.close(storage, live, { seq: 1, boundaryMs: T0_MS + 100, prevBoundaryMs: 0, snapshotSafe: true }, [
        { id: v1, parents: [] },
      ]);
      const v2 = writer.vertex([v1], [createTx(fakeKey(54), "gus")], T0 + 110n);
      await live.onDecisions(writer.accept(v2));
      const cut2 = book.record(storage, {
        seq: 2,
        boundaryMs: T0_MS + 200,
        prevBoundaryMs: T0_MS + 100,
        snapshotSafe: true,
      }, [{ id: v2, parents: [v1] }]);
      const fold = (await live.onCut(cut2))!;
      // The statement this node stored says another state.
      book.state(storage, cut2, { stateHash: new Uint8Array(32).fill(1), journalHash: fold.journalHash });
      live.close();
      const restarted = ledgerService(storage);
      try {
        await restarted.restore();
        assert.equal(restarted.halted?.code, "checkpoint_mismatch");
        assert.match(restarted.halted?.message ?? "", /replaying cut 2/);
      } finally {
        restarted.close();
      }
    },
  );
});

// ------------------------------------------------------------ 6. a transaction carried again

/**
 * V1 carries carol's create_account and her data nonce 1; V2 her nonce 2.
 * Cuts every 100 ms; cut 2 settles V1 (its receipts leave the core).
 */
async function carriedAgainScenario(snapshotEvery: number) {
  const storage = new MemoryStorage();
  const writer = new DagWriter(storage, { fakeSignatures: true });
  const registry = new Registry();
  const live = ledgerService(storage, { snapshotEvery, registry });
  const book = new CutBook();
  const carol = fakeKey(60);
  const first = [createTx(carol, "carol"), dataTx(carol, 1n)];
  const cut = (seq: number, boundary: number, prev: number, vertices: string[]) =>
    book.close(storage, live, {
      seq,
      boundaryMs: T0_MS + boundary,
      prevBoundaryMs: prev === 0 ? 0 : T0_MS + prev,
      snapshotSafe: true,
    }, vertices.map((id) => ({ id, parents: storage.getVertex(id)!.parents })));
  const v1 = writer.vertex([], first, T0 + 10n);
  await live.onDecisions(writer.accept(v1));
  return { storage, writer, registry, live, carol, first, v1, cut };
}

Deno.test("LedgerService: a transaction carried again after its vertex settled is not applied twice", async (t) => {
  await t.step("live, after the cut that settled its vertex", async () => {
    const s = await carriedAgainScenario(0);
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const v2 = s.writer.vertex([s.v1], [dataTx(s.carol, 2n)], T0 + 110n);
      await s.live.onDecisions(s.writer.accept(v2));
      await s.cut(2, 200, 100, [v2]);
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));
      assert.deepEqual(firstReceipts.map((r) => [r?.code, r?.vertex.toHex()]), [["ok", s.v1], ["ok", s.v1]]);
      assert.equal(s.live.status().resultCount, 1, "V1's receipts left the core: only V2's is held");
      const hash = s.live.stateHash().toHex();

      const v3 = s.writer.vertex([v2], [...s.first], T0 + 210n);
      await s.live.onDecisions(s.writer.accept(v3));
      assertInStep(s.live);
      assert.equal(s.live.stateHash().toHex(), hash);
      assert.equal(s.live.account(s.carol.id.toHex())?.nextNonce, 3n);
      assert.deepEqual(s.first.map((tx) => s.live.receipt(txIdOf(tx))), firstReceipts);
      const text = s.registry.render();
      assert.match(text, /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
      assert.match(text, /qudag_ledger_transactions_total\{result="ok"\} 3/);
    } finally {
      s.live.close();
    }
  });

  await t.step("replayed by a restore from a snapshot above the settled vertex", async () => {
    const s = await carriedAgainScenario(1);
    const registry = new Registry();
    const restarted = ledgerService(s.storage, { snapshotEvery: 1, registry });
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const v2 = s.writer.vertex([s.v1], [dataTx(s.carol, 2n)], T0 + 110n);
      await s.live.onDecisions(s.writer.accept(v2));
      await s.cut(2, 200, 100, [v2]);
      const v3 = s.writer.vertex([v2], [...s.first], T0 + 210n);
      await s.live.onDecisions(s.writer.accept(v3));
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));

      const summary = await restarted.restore();
      assert.deepEqual([summary.fromSeq, summary.vertices], [2, 1], "V3 replayed above snapshot 2");
      assertInStep(restarted);
      assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);
      assert.match(registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
    } finally {
      s.live.close();
      restarted.close();
    }
  });

  await t.step("after a restore from the snapshot of the cut that holds its vertex", async () => {
    // Regression (fixed after 9bc9abb): The snapshot of cut 1 holds V1 in its journal but no receipts (a
    // cut snapshot carries none), and V1 is not below the dropped boundary (#droppedBelowMs = cut 1's
    // prevBoundaryMs), so #applyVertex's `settled` test (storage receipt from another vertex whose timestamp
    // is below #droppedBelowMs) is false while the core holds no receipt either: the re-carried transactions
    // are applied afresh. Here they are refused without effect (account_exists, nonce_too_low), so the state
    // hash agrees, but the core now holds those refusals: receipt() answers account_exists / nonce_too_low
    // (carrier V2, time +110) where the node that did not restart answers ok (V1), and they are counted as
    // refused transactions, not duplicates. The next step shows a re-carry that changes the state. One fix:
    // count as a replay any transaction with a stored receipt from another vertex that the core holds no
    // receipt for (prepare(tx).receipt === undefined), whatever the carrier's timestamp.
    const s = await carriedAgainScenario(1);
    const registry = new Registry();
    const restarted = ledgerService(s.storage, { snapshotEvery: 1, registry });
    try {
      await s.cut(1, 100, 0, [s.v1]);
      const firstReceipts = s.first.map((tx) => s.live.receipt(txIdOf(tx)));
      const summary = await restarted.restore();
      assert.deepEqual([summary.fromSeq, summary.vertices], [1, 0]);
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);

      const v2 = s.writer.vertex([s.v1], [...s.first], T0 + 110n);
      const decisions = s.writer.accept(v2);
      await s.live.onDecisions(decisions);
      await restarted.onDecisions(decisions);
      assertInStep(restarted);
      assert.equal(restarted.stateHash().toHex(), s.live.stateHash().toHex());
      // The node that did not restart: a duplicate, the first receipts.
      assert.deepEqual(s.first.map((tx) => s.live.receipt(txIdOf(tx))), firstReceipts);
      assert.match(s.registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
      // The restarted one must answer the same.
      assert.deepEqual(s.first.map((tx) => restarted.receipt(txIdOf(tx))), firstReceipts);
      assert.match(registry.render(), /qudag_ledger_duplicate_transactions_total\{kind="duplicate"\} 2/);
    } finally {
      s.live.close();
      restarted.close();
    }
  });

  await t.step(
    "a refused transaction carried again after a restore from the snapshot that holds its first carrier",
    async () => {
      // Regression (fixed after 9bc9abb), as the step before, with a state change. V1 carries carol's nonce
      // 2 before her nonce 1 (nonce_too_high: refused, nothing consumed, receipt kept); V2 carries nonce 1. The
      // snapshot of cut 1 holds neither receipt. V3, after V2, carries V1's transaction again: the node that
      // did not restart finds its receipt (a duplicate, nothing changes); the restored node applies it, now
      // with nonce 1 in its past: ok, carol's next nonce becomes 3 and the state hashes differ.
      const storage = new MemoryStorage();
      const writer = new DagWriter(storage, { fakeSignatures: true });
      const live = ledgerService(storage, { snapshotEvery: 1 });
      const restarted = ledgerService(storage, { snapshotEvery: 1 });
      const carol = fakeKey(61);
      const early = dataTx(carol, 2n);
      try {
        const v0 = writer.vertex([], [createTx(carol, "carol")], T0 + 5n);
        const v1 = writer.vertex([v0], [early], T0 + 10n);
        const v2 = writer.vertex([v1], [dataTx(carol, 1n)], T0 + 20n);
        for (const v of [v0, v1, v2]) await live.onDecisions(writer.accept(v));
        const first = live.receipt(txIdOf(early));
        assert.equal(first?.code, "nonce_too_high");
        await new CutBook().close(storage, live, {
          seq: 1,
          boundaryMs: T0_MS + 100,
          prevBoundaryMs: 0,
          snapshotSafe: true,
        }, [
          { id: v0, parents: [] },
          { id: v1, parents: [v0] },
          { id: v2, parents: [v1] },
        ]);
        const summary = await restarted.restore();
        assert.deepEqual([summary.fromSeq, summary.vertices], [1, 0]);
        assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());

        const v3 = writer.vertex([v2], [early], T0 + 110n);
        const decisions = writer.accept(v3);
        await live.onDecisions(decisions);
        await restarted.onDecisions(decisions);
        assert.equal(live.account(carol.id.toHex())?.nextNonce, 2n);
        assert.deepEqual(live.receipt(txIdOf(early)), first);
        assertInStep(restarted);
        assert.equal(restarted.account(carol.id.toHex())?.nextNonce, 2n, "the restored node applied it again, now ok");
        assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());
        assert.deepEqual(restarted.receipt(txIdOf(early)), first);
      } finally {
        live.close();
        restarted.close();
      }
    },
  );
});
