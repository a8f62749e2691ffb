/**
 * Replays the exchange ledger from verified vertices, cut by cut, with the
 * WASM core (wasm/LEDGER.md), and folds each certified checkpoint in only if
 * what it states is what the replay computed: the cut's vertex count and
 * boundaries, its frontier, the accumulator of accepted transaction ids and
 * the ledger's state hash. Only then is the state "verified" and handed out
 * (`commit`) for reads and for storage.
 *
 * Each transaction is applied as a node applies it (src/ledger/service.ts):
 * against the view of its carrier's causal past, with the concurrent set from
 * src/ledger/concurrency.ts and the signature checked with the account's key.
 * The feed's order is a causal order, and the outcome of the ledger does not
 * depend on which causal order (wasm/LEDGER.md, "Order independence"), so the
 * replica reaches the nodes' state hash at every cut.
 *
 * Settlement: at checkpoint s the replica settles the vertices of the cuts
 * before s − 1, one cut later than a node does. A node settles cut s − 1 when
 * it closes s, relying on every vertex it applies afterwards descending from
 * all of cut s − 1; a vertex of cut s + 1 it applied before that moment had
 * cut s − 1 still in its journal. Keeping one cut more makes every concurrent
 * set here exact whatever the node saw first. The statement's journal hash is
 * therefore not compared (it vouches for a snapshot's journal, which the
 * replica never imports); the state hash, the accumulator and the frontier are.
 *
 * Not pure in one respect only: receipts of settled transactions are looked up
 * through a function the caller passes (they live in Deno KV).
 */
import { Ledger, type LedgerGenesis } from "../src/core/ledger.ts";
import { ML_DSA_87_SIGNATURE_BYTES } from "../src/core/constants.ts";
import {
  type CheckpointCertificate,
  nextTxAccumulator,
  type SignatureCheck,
  statementDigest,
  ZERO_HASH,
} from "../src/checkpoint/mod.ts";
import { ConcurrencyIndex } from "../src/ledger/concurrency.ts";
import { EdgeError, type VerifiedVertex } from "./verify.ts";

/** Most vertices held between two certified checkpoints; more and the upstream is refused. */
export const PENDING_VERTICES_MAX = 50_000;

/** A receipt as the replica keeps it (JSON-able). */
export interface EdgeReceipt {
  readonly txId: string;
  readonly code: string;
  /** Smallest units, decimal. */
  readonly fee: string;
  readonly ratePpb: number;
  readonly vertex: string;
  readonly timeMs: number;
  /** The cut whose certificate covers it. */
  readonly cut: number;
}

/** One applied vertex's concurrency record (src/ledger/concurrency.ts), kept to rebuild the index. */
export interface HeldRecord {
  readonly id: string;
  readonly concurrent: readonly string[];
  readonly facts: boolean;
  readonly timestampMs: number;
}

/** Everything needed to continue from a verified checkpoint (persisted in KV, see store.ts). */
export interface VerifiedState {
  /** The certificate (its statement is the last verified checkpoint); null before the first. */
  readonly certificate: CheckpointCertificate | null;
  /** The feed cursor just after it. */
  readonly cursor: string;
  /** ledger.export() at that checkpoint; null for a chain without the exchange. */
  readonly ledger: Uint8Array | null;
  readonly held: readonly HeldRecord[];
  /** Verified vertices a later vertex may still name as parent (the held ones and the frontier), id -> timestamp. */
  readonly recent: readonly (readonly [string, number])[];
}

export interface CommitResult {
  readonly state: VerifiedState;
  /** Receipts of this commit's transactions. */
  readonly receipts: readonly EdgeReceipt[];
  /** Ids and timestamps of this commit's vertices. */
  readonly vertices: readonly (readonly [string, number])[];
}

export interface ReplayerOptions {
  readonly chainId: Uint8Array;
  readonly ledgerGenesis: LedgerGenesis | null;
  /** ML-DSA-87 check of transaction signatures. */
  readonly verify: SignatureCheck;
  /** A receipt committed earlier (settled), or null. */
  readonly committedReceipt: (txId: string) => Promise<EdgeReceipt | null>;
  /** Whether a vertex was verified in an earlier commit (those not in `recent`). */
  readonly committedVertex: (id: string) => Promise<boolean>;
}

const bytesOf = (ids: readonly string[]) => ids.map((h) => Uint8Array.fromHex(h));

export class Replayer {
  readonly #o: ReplayerOptions;
  #ledger: Ledger | null = null;
  #index = new ConcurrencyIndex();
  #held: HeldRecord[] = [];
  #recent = new Map<string, number>();
  #verified: VerifiedState;
  /** Vertices applied since the last commit, in feed order. */
  #pending: VerifiedVertex[] = [];
  #pendingReceipts = new Map<string, EdgeReceipt>();

  constructor(o: ReplayerOptions, from: VerifiedState) {
    this.#o = o;
    this.#verified = from;
    this.reset();
  }

  /** The empty state of a chain: before the first checkpoint. */
  static genesisState(): VerifiedState {
    return { certificate: null, cursor: "0.0", ledger: null, held: [], recent: [] };
  }

  /** The last verified state. */
  get verified(): VerifiedState {
    return this.#verified;
  }

  get pendingVertices(): number {
    return this.#pending.length;
  }

  /** Drops everything since the last commit (a lying upstream's data) and starts again from it. */
  reset(): void {
    const from = this.#verified;
    this.#ledger?.free();
    this.#ledger = this.#o.ledgerGenesis === null
      ? null
      : from.ledger === null
      ? Ledger.genesis(this.#o.ledgerGenesis)
      : Ledger.import(from.ledger);
    this.#index = new ConcurrencyIndex();
    for (const r of from.held) this.#index.add(r.id, r.concurrent, r.facts, r.timestampMs);
    this.#held = [...from.held];
    this.#recent = new Map(from.recent);
    this.#pending = [];
    this.#pendingReceipts = new Map();
  }

  /** True when `id` is a verified vertex (pending or committed). */
  async knows(id: string): Promise<boolean> {
    return this.#recent.has(id) || await this.#o.committedVertex(id);
  }

  /** A verified vertex's timestamp, if it is held in memory. */
  #timestampOf(id: string): number | undefined {
    return this.#recent.get(id);
  }

  /** Applies one verified vertex (its parents verified before it). */
  async apply(v: VerifiedVertex): Promise<void> {
    const last = this.#pending.at(-1);
    const lastSeq = this.#verified.certificate?.statement.seq ?? 0;
    if (v.cut <= lastSeq || (last !== undefined && v.cut < last.cut)) {
      throw new EdgeError(
        "edge_feed_out_of_order",
        `vertex ${v.id} of cut ${v.cut} comes after cut ${last?.cut ?? lastSeq}`,
      );
    }
    if (this.#recent.has(v.id)) throw new EdgeError("edge_feed_out_of_order", `vertex ${v.id} is sent twice`);
    if (this.#pending.length >= PENDING_VERTICES_MAX) {
      throw new EdgeError(
        "edge_cut_mismatch",
        `more than ${PENDING_VERTICES_MAX} vertices without a certified checkpoint`,
      );
    }
    const droppedBelow = this.#droppedBelowMs();
    let facts = false;
    let concurrent: string[] = [];
    if (this.#ledger !== null) {
      concurrent = this.#index.concurrentTo(v.parents, (p) => (this.#timestampOf(p) ?? -1) < droppedBelow);
      facts = await this.#applyTransactions(v, concurrent);
    }
    this.#index.add(v.id, concurrent, facts, v.timestampMs);
    this.#held.push({ id: v.id, concurrent, facts, timestampMs: v.timestampMs });
    this.#recent.set(v.id, v.timestampMs);
    this.#pending.push(v);
  }

  /** The timestamp below which vertices are settled (their records dropped). */
  #droppedBelowMs(): number {
    return this.#verified.certificate?.statement.prevBoundaryMs ?? 0;
  }

  async #applyTransactions(v: VerifiedVertex, concurrent: string[]): Promise<boolean> {
    const ledger = this.#ledger!;
    const txs = v.info.vertex.transactions;
    // Applied in another vertex before (settled): a replay of it, never applied twice (as a node does).
    const settled = await Promise.all(v.txIds.map(async (t) => {
      const kept = this.#pendingReceipts.get(t) ?? await this.#o.committedReceipt(t);
      return kept !== null && kept.vertex !== v.id;
    }));
    const created = new Map<string, Uint8Array>();
    const verdicts = await Promise.all(txs.map((tx, i) => {
      if (settled[i]) return false;
      const p = ledger.prepare(tx);
      const account = p.account.toHex();
      if (p.kind === "create_account" && p.publicKey !== undefined && !created.has(account)) {
        created.set(account, p.publicKey);
      }
      const key = p.publicKey ?? created.get(account);
      if (p.receipt !== undefined || key === undefined) return false;
      return this.#o.verify(key, p.signingMessage, tx.subarray(tx.length - ML_DSA_87_SIGNATURE_BYTES));
    }));
    const context = { vertex: v.info.id, timeMs: v.info.vertex.timestampMs, concurrent: bytesOf(concurrent) };
    let facts = false;
    for (let i = 0; i < txs.length; i++) {
      if (settled[i]) continue;
      const out = ledger.apply(txs[i], context, verdicts[i] === true);
      if (out.duplicate) continue;
      this.#pendingReceipts.set(v.txIds[i], {
        txId: v.txIds[i],
        code: out.code,
        fee: String(out.fee),
        ratePpb: out.ratePpb,
        vertex: v.id,
        timeMs: Number(out.timeMs),
        cut: v.cut,
      });
      if (out.code === "ok" || out.touched.length > 0) facts = true;
    }
    return facts;
  }

  /**
   * Folds a verified certificate in: every vertex since the last commit must
   * be exactly what it states. On success the new verified state is returned
   * (and kept); on a mismatch EdgeError is thrown and nothing changes (call
   * `reset` to drop the pending vertices).
   */
  commit(cert: CheckpointCertificate): CommitResult {
    const s = cert.statement;
    const prev = this.#verified.certificate?.statement ?? null;
    const prevSeq = prev?.seq ?? 0;
    const mismatch = (why: string) => new EdgeError("edge_cut_mismatch", `checkpoint ${s.seq}: ${why}`);
    if (s.seq <= prevSeq) throw new EdgeError("edge_feed_out_of_order", `checkpoint ${s.seq} after ${prevSeq}`);
    const lastBoundary = prev?.boundaryMs ?? 0;
    if (s.prevBoundaryMs < lastBoundary) {
      throw mismatch(`its previous boundary ${s.prevBoundaryMs} is before checkpoint ${prevSeq}'s ${lastBoundary}`);
    }
    if (s.seq === prevSeq + 1 && s.prevBoundaryMs !== lastBoundary) {
      throw mismatch(`its previous boundary ${s.prevBoundaryMs} is not checkpoint ${prevSeq}'s ${lastBoundary}`);
    }
    if (s.seq === prevSeq + 1 && prev !== null && statementDigest(prev).toHex() !== s.prevDigest.toHex()) {
      throw mismatch(`its previous digest is not checkpoint ${prevSeq}'s`);
    }
    const own = this.#pending.filter((v) => v.cut === s.seq);
    if (own.length !== s.vertexCount) {
      throw mismatch(`it settles ${s.vertexCount} vertices, the feed sent ${own.length}`);
    }
    for (const v of this.#pending) {
      const [lo, hi] = v.cut === s.seq ? [s.prevBoundaryMs, s.boundaryMs] : [lastBoundary, s.prevBoundaryMs];
      if (v.cut > s.seq) throw mismatch(`vertex ${v.id} of cut ${v.cut} came before it`);
      if (v.timestampMs < lo || v.timestampMs >= hi) {
        throw mismatch(`vertex ${v.id} (cut ${v.cut}, timestamp ${v.timestampMs}) is outside [${lo}, ${hi})`);
      }
    }
    // Frontier: the maximal vertices of everything settled so far.
    const frontier = new Set(prev?.frontier ?? []);
    for (const v of this.#pending) frontier.add(v.id);
    for (const v of this.#pending) for (const p of v.parents) frontier.delete(p);
    const computed = [...frontier].sort();
    if (computed.join() !== s.frontier.join()) {
      throw mismatch(`its frontier is not the maximal vertices of the feed (${computed.length} computed)`);
    }
    // Accumulator: cut by cut over the transaction ids the feed's vertices carry.
    let acc = prev?.txAccumulator ?? ZERO_HASH;
    const cuts = [...new Set(this.#pending.map((v) => v.cut))].sort((a, b) => a - b);
    // Every cut holds a vertex, so the feed must have sent each cut since the last checkpoint.
    if (cuts.length !== s.seq - prevSeq) throw mismatch(`the feed sent ${cuts.length} of its ${s.seq - prevSeq} cuts`);
    for (const c of cuts) {
      acc = nextTxAccumulator(
        acc,
        this.#pending.filter((v) => v.cut === c).flatMap((v) => v.txIds),
      );
    }
    if (acc.toHex() !== s.txAccumulator.toHex()) throw mismatch("its transaction accumulator is not the feed's");
    const stateHash = this.#ledger?.stateHash() ?? ZERO_HASH;
    if (stateHash.toHex() !== s.stateHash.toHex()) {
      throw new EdgeError(
        "edge_state_mismatch",
        `checkpoint ${s.seq} states ledger state ${s.stateHash.toHex()}, the replay of the feed gives ${stateHash.toHex()}`,
      );
    }
    return this.#advance(cert);
  }

  #advance(cert: CheckpointCertificate): CommitResult {
    const s = cert.statement;
    const receipts = [...this.#pendingReceipts.values()];
    const vertices = this.#pending.map((v) => [v.id, v.timestampMs] as const);
    // Settle the cuts before the previous one (see the module comment).
    const dropBelow = this.#verified.certificate?.statement.prevBoundaryMs ?? 0;
    const dropped = this.#index.dropBelow(dropBelow);
    if (dropped.length > 0) this.#ledger?.settle(bytesOf(dropped));
    const gone = new Set(dropped);
    this.#held = this.#held.filter((r) => !gone.has(r.id));
    const keep = new Set([...this.#held.map((r) => r.id), ...s.frontier]);
    for (const id of [...this.#recent.keys()]) if (!keep.has(id)) this.#recent.delete(id);
    this.#verified = {
      certificate: cert,
      cursor: `${s.seq}.${s.vertexCount + 1}`,
      ledger: this.#ledger?.export() ?? null,
      held: [...this.#held],
      recent: [...this.#recent],
    };
    this.#pending = [];
    this.#pendingReceipts = new Map();
    return { state: this.#verified, receipts, vertices };
  }

  /** Releases the core's memory. */
  close(): void {
    this.#ledger?.free();
    this.#ledger = null;
  }
}
