/**
 * The DAG as this node keeps it: every vertex is decoded and checked by the
 * WASM core, admitted by the pure rules in src/dag, signature-checked against
 * the genesis validator set, persisted, and only then handed on. A vertex
 * whose parents are missing waits in a bounded buffer; every refusal is
 * counted by reason and logged, never dropped silently.
 */
import {
  CoreError,
  type CoreErrorCode,
  encodeVertex,
  validateVertex,
  type VertexInfo,
  vertexSigningMessage,
} from "../core/mod.ts";
import type { CryptoBackend, MlDsaSigner, MlDsaVerifier } from "../crypto/backend.ts";
import { type AdmissionLimits, admit, DEFAULT_ADMISSION_LIMITS, type RejectReason } from "../dag/admission.ts";
import {
  carriedKeys,
  type CarriedTx,
  decodeCarried,
  firstBadSignature,
  firstOutOfOrder,
  firstUnknownAccount,
} from "../dag/carried.ts";
import { CoverageIndex, type CutPosition } from "../dag/coverage.ts";
import { VERTEX_RELAY_BYTES_MAX } from "../net/protocol.ts";
import { DEFAULT_ORPHAN_LIMITS, type OrphanLimits } from "../dag/orphans.ts";
import { OrphanBuffer } from "../dag/orphans.ts";
import { fromHex, keyIdOf, toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { carriedOffsets, type Storage } from "../storage/mod.ts";
import type { Genesis } from "./genesis.ts";
import { AccountKeys } from "./account_keys.ts";
import { CausalPast } from "./causal_past.ts";
import { DagMetrics } from "./dag_metrics.ts";
import { RecentVertices } from "./recent_vertices.ts";
import { VerifiedTxs } from "./verified_txs.ts";
import { backfillTimestamps, VertexTimes } from "./vertex_times.ts";
import { type VertexView, vertexView } from "./vertex_view.ts";

export type { VertexView } from "./vertex_view.ts";

export type SubmitStatus = "admitted" | "duplicate" | "waiting" | "rejected";

export interface SubmitResult {
  readonly status: SubmitStatus;
  /** Hex vertex id; absent when the bytes could not be decoded at all. */
  readonly id?: string;
  /** For "rejected": an admission reason or the core's error code. */
  readonly code?: RejectReason | CoreErrorCode;
  readonly message?: string;
  /** For "waiting": the parents being waited for. */
  readonly missing?: readonly string[];
}

export type Origin = "api" | "peer" | "local";

export interface DagServiceOptions {
  /** On a node whose history starts at a synced checkpoint: see CausalPastOptions.settledBeforeHistory. */
  settledBeforeHistory?: (conflictKey: string) => boolean;
  storage: Storage;
  genesis: Genesis;
  backend: CryptoBackend;
  registry: Registry;
  logger: Logger;
  nowMs: () => number;
  /** This node's validator signer, when it is a validator. */
  signer?: MlDsaSigner;
  admissionLimits?: AdmissionLimits;
  orphanLimits?: OrphanLimits;
  /** The last closed cut and the one before it (src/dag/coverage.ts): what new vertices must descend from. */
  cut?: { current: CutPosition; previous: CutPosition };
  /** The DAG's tips as consensus sees them (accepted and preferred), for stats and the first vertex. */
  tips?: () => string[];
  /** Where carried transactions' keys come from; by default the stored create_accounts only (no genesis accounts). */
  accountKeys?: AccountKeys;
  /** Signature verdicts shared with the submission check and the ledger (by default this service's own). */
  verifiedTxs?: VerifiedTxs;
}

/** Bound on orphans released by one arrival, so one vertex cannot stall the event loop. */
const RELEASE_PER_ARRIVAL_MAX = 10_000;
/** Waiting vertices whose transactions' keys were not known on arrival (see #keyless). */
const KEYLESS_MAX = 16_384;

export class DagService {
  readonly #o: DagServiceOptions;
  readonly #verifiers = new Map<string, Promise<MlDsaVerifier>>();
  readonly #names = new Map<string, string>();
  readonly #orphans: OrphanBuffer;
  readonly #recent = new RecentVertices();
  readonly #listeners: ((info: VertexInfo, bytes: Uint8Array, origin: Origin, from?: string) => void)[] = [];
  /** See hideDecisionsWhile. */
  #notDurable: (id: string) => boolean = () => false;
  /** Rounds and timestamps of recent vertices (new ones name recent parents); bounded, older ones are read back. */
  readonly #times: VertexTimes;
  readonly #metrics: DagMetrics;
  readonly #coverage: CoverageIndex;
  /** Answers the carried-transaction order rule (src/dag/carried.ts) from the stored links. */
  readonly causalPast: CausalPast;
  readonly accountKeys: AccountKeys;
  readonly #verifiedTxs: VerifiedTxs;
  /**
   * Waiting vertices some of whose transactions' keys were unknown when they
   * arrived (the create_account is in a missing parent): once their parents
   * are here they are checked again, signatures included, before placing.
   */
  readonly #keyless = new Set<string>();
  /** Each decoded vertex's carried transactions (see #carriedOf), for as long as its VertexInfo lives. */
  readonly #carried = new WeakMap<VertexInfo, CarriedTx[]>();

  constructor(o: DagServiceOptions) {
    this.#o = o;
    this.accountKeys = o.accountKeys ?? new AccountKeys({ storage: o.storage });
    this.#verifiedTxs = o.verifiedTxs ?? new VerifiedTxs(o.backend);
    backfillTimestamps(o.storage, o.logger);
    this.#times = new VertexTimes(o.storage);
    this.#coverage = new CoverageIndex(o.cut?.current, o.cut?.previous);
    // The vertices above the required cut, parents first: what a new vertex may name and must descend from.
    for (const id of o.storage.verticesFrom(this.#coverage.required.boundaryMs)) {
      const v = o.storage.getVertex(id)!;
      this.#coverage.add(id, v.parents, v.timestampMs);
    }
    this.causalPast = new CausalPast({
      storage: o.storage,
      requiredBoundaryMs: () => this.#coverage.required.boundaryMs,
      isAccepted: (v) => {
        const d = o.storage.getDecision(v);
        return d?.subject === "vertex" && d.status === "accepted";
      },
      settledBeforeHistory: o.settledBeforeHistory,
    });
    // Each genesis validator gets an equal share: one sending vertices whose parents never exist evicts only its own.
    this.#orphans = new OrphanBuffer(o.orphanLimits ?? DEFAULT_ORPHAN_LIMITS, o.genesis.validators.length);
    for (const v of o.genesis.validators) this.#names.set(v.id, v.name);
    this.#metrics = new DagMetrics(o.registry, () => this.#coverage.size);
  }

  /** Called after a vertex is stored (its parents are always stored before it). */
  /** `from` is the peer that sent it, when a peer did. */
  onAdmitted(fn: (info: VertexInfo, bytes: Uint8Array, origin: Origin, from?: string) => void): void {
    this.#listeners.push(fn);
  }

  /** The boundary of the last closed cut: every vertex accepted below it is settled here. */
  get settledBoundaryMs(): number {
    return this.#coverage.position.boundaryMs;
  }

  get orphanCount(): number {
    return this.#orphans.size;
  }
  /** Parents some waiting vertex needs: what to ask peers for. */
  wanted(): string[] {
    return this.#orphans.wanted();
  }

  #verifier(authorHex: string): Promise<MlDsaVerifier> | null {
    let v = this.#verifiers.get(authorHex);
    if (!v) {
      const validator = this.#o.genesis.validators.find((x) => x.id === authorHex);
      if (!validator) return null;
      v = this.#o.backend.mlDsaVerifier(validator.publicKey);
      // A failed import is not kept: a passing error must not disable a validator.
      v.catch(() => this.#verifiers.delete(authorHex));
      this.#verifiers.set(authorHex, v);
    }
    return v;
  }

  /** Consensus closed a cut: from now on new vertices must descend from the frontier of the one before. */
  advanceCut(position: CutPosition): void {
    this.#coverage.advance(position);
    // What the caches hold below the required cut is asked about rarely, and then read from storage: dropping it
    // here keeps them at about a cut's worth of vertices however long the chain runs (their caps are the fallback).
    // One cut of margin below the required one: its frontier's vertices are still named as parents.
    const required = this.#coverage.required.boundaryMs;
    const boundary = required - Math.max(0, position.boundaryMs - required);
    this.causalPast.forgetBelow(boundary);
    this.#recent.forgetBelow(boundary);
    this.#times.forgetBelow(boundary);
  }

  /** Entries in the DAG service's caches (links, timestamps, rounds, decoded vertices), for tests and status. */
  cacheSizes(): { links: number; timestamps: number; rounds: number; decoded: number } {
    return {
      links: this.causalPast.cached,
      ...this.#times.sizes,
      decoded: this.#recent.size,
    };
  }

  /** Counts and logs a refusal; a dry run (validate) only reports it. */
  #reject(
    origin: Origin | "validate",
    id: string | undefined,
    code: RejectReason | CoreErrorCode,
    message: string,
  ): SubmitResult {
    if (origin !== "validate") {
      this.#metrics.received(origin, "rejected");
      this.#metrics.rejected(code);
      this.#o.logger.info("vertex rejected", { id, origin, reason: code, detail: message });
    }
    return { status: "rejected", id, code, message };
  }

  /** Size and structure (the core decodes it and computes its id): the cheap checks, before any lookup. */
  #decode(
    bytes: Uint8Array,
    origin: Origin | "validate",
  ): { ok: true; info: VertexInfo; id: string } | { ok: false; result: SubmitResult } {
    if (bytes.length > VERTEX_RELAY_BYTES_MAX) {
      const message = `the vertex is ${bytes.length} bytes; peers relay at most ${VERTEX_RELAY_BYTES_MAX}`;
      return { ok: false, result: this.#reject(origin, undefined, "vertex_too_large", message) };
    }
    try {
      const info = validateVertex(bytes);
      return { ok: true, info, id: toHex(info.id) };
    } catch (e) {
      if (e instanceof CoreError) return { ok: false, result: this.#reject(origin, undefined, e.code, e.message) };
      throw e;
    }
  }

  /** Checks everything but parents and storage: chain, author, clock, then the signature (the costly one). */
  async #check(
    info: VertexInfo,
    id: string,
    origin: Origin | "validate",
  ): Promise<{ ok: true; info: VertexInfo; id: string } | { ok: false; result: SubmitResult }> {
    const v = info.vertex;
    const verdict = admit(
      {
        chainIdHex: toHex(v.chainId),
        authorHex: toHex(v.author),
        round: v.round,
        timestampMs: v.timestampMs,
        parentIds: v.parents.map(toHex),
        txCount: v.transactions.length,
      },
      {
        chainIdHex: this.#o.genesis.chainIdHex,
        isValidator: (a) => this.#names.has(a),
        // Only what needs no parents is decided here; the parents are looked at when the vertex is placed.
        roundOf: () => null,
        timestampOf: () => 0n,
        nowMs: this.#o.nowMs(),
        limits: this.#limitsFor(origin),
      },
    );
    if (verdict.kind === "reject") {
      return { ok: false, result: this.#reject(origin, id, verdict.reason, verdict.message) };
    }
    const verifier = await this.#verifier(toHex(v.author))!;
    if (!await verifier.verify(info.signingMessage, v.signature)) {
      return {
        ok: false,
        result: this.#reject(origin, id, "bad_signature", "the author's ML-DSA-87 signature does not verify"),
      };
    }
    return { ok: true, info, id };
  }

  /**
   * The past-drift bound holds for new vertices submitted here; a peer's
   * vertex may be old (this node catching up), and what it may be is bounded
   * by the settled cut instead (below_settled_cut, stale_parents).
   */
  #limitsFor(origin: Origin | "validate"): AdmissionLimits {
    const limits = this.#o.admissionLimits ?? DEFAULT_ADMISSION_LIMITS;
    return origin === "peer" ? { ...limits, pastDriftMaxMs: Number.POSITIVE_INFINITY } : limits;
  }

  /** Round of a stored vertex, or null when it is not stored here. */
  roundOf(idHex: string): bigint | null {
    return this.#times.roundOf(idHex);
  }

  /**
   * Stores a vertex this node has just signed itself: no signature check, no
   * waiting (its parents are stored). Synchronous, so the engine can issue
   * and store in one step.
   */
  admitOwn(bytes: Uint8Array): SubmitResult {
    if (bytes.length > VERTEX_RELAY_BYTES_MAX) {
      throw new Error(
        `this node built a vertex of ${bytes.length} bytes; peers relay at most ${VERTEX_RELAY_BYTES_MAX}`,
      );
    }
    const info = validateVertex(bytes);
    const id = toHex(info.id);
    if (this.#times.roundOf(id) !== null) return { status: "duplicate", id };
    return this.#place(info, id, bytes, "local");
  }

  /** Validates without storing: what POST /api/v1/dag/validate answers. */
  async validate(bytes: Uint8Array): Promise<SubmitResult> {
    const d = this.#decode(bytes, "validate");
    if (!d.ok) return d.result;
    const c = await this.#check(d.info, d.id, "validate");
    if (!c.ok) return c.result;
    const carried = await this.#checkCarried(d.info, d.id, "validate");
    if (carried !== null) return carried;
    const parents = c.info.vertex.parents.map(toHex);
    const missing = parents.filter((p) => this.#times.roundOf(p) === null);
    if (missing.length) return { status: "waiting", id: c.id, missing };
    const order = this.#checkOrder(d.info, parents);
    if (order !== null) return this.#reject("validate", d.id, order.reason, order.message);
    return { status: "admitted", id: c.id };
  }

  /**
   * The carried transactions as the rules of src/dag/carried.ts read them,
   * decoded once per decoded vertex (every check and the store share them:
   * each decode hashes the transaction's ~4.8 KB again in the core).
   */
  #carriedOf(info: VertexInfo): CarriedTx[] {
    let carried = this.#carried.get(info);
    if (carried === undefined) this.#carried.set(info, carried = decodeCarried(info));
    return carried;
  }

  /**
   * Keys and signatures of the carried transactions; null when they pass.
   * A key not known yet is no refusal while parents are missing (the
   * create_account may be in one): the vertex is checked again when they are
   * here (#keyless).
   */
  async #checkCarried(info: VertexInfo, id: string, origin: Origin | "validate"): Promise<SubmitResult | null> {
    const txs = this.#carriedOf(info);
    if (txs.length === 0) return null;
    const keys = carriedKeys(txs, (a) => this.accountKeys.keyOf(a));
    // Verified before (another carrier of the same transaction, whose id covers its signature): no second check.
    const bad = await firstBadSignature(
      txs,
      keys,
      (tx, key) => this.#verifiedTxs.verify(tx.id, key, tx.signingMessage, tx.signature),
    );
    if (bad !== null) return this.#reject(origin, id, bad.reason, bad.message);
    const unknown = firstUnknownAccount(txs, keys);
    if (unknown === null) return null;
    const parentsHere = info.vertex.parents.every((p) => this.#times.roundOf(toHex(p)) !== null);
    if (parentsHere) return this.#reject(origin, id, unknown.reason, unknown.message);
    if (origin !== "validate") {
      if (this.#keyless.size >= KEYLESS_MAX) this.#keyless.delete(this.#keyless.values().next().value!);
      this.#keyless.add(id);
    }
    return null;
  }

  /** The order rule for a vertex whose parents are stored; null when it passes. */
  #checkOrder(info: VertexInfo, parents: readonly string[]) {
    if (info.vertex.transactions.length === 0) return null;
    const past = this.causalPast.of(parents);
    return firstOutOfOrder(this.#carriedOf(info), {
      sequential: this.#o.genesis.exchange !== null,
      isGenesisAccount: (a) => this.accountKeys.isGenesisAccount(a),
      carriedInPast: (key) => past.carriedInPast(key),
    });
  }

  /**
   * Cheap checks first: size and structure, then whether it is known (a
   * known id is the same signed bytes, so a duplicate costs no signature
   * check), then the rules, then the signature.
   */
  async submit(bytes: Uint8Array, origin: Origin, from?: string): Promise<SubmitResult> {
    const d = this.#decode(bytes, origin);
    if (!d.ok) return d.result;
    const { info, id } = d;
    if (this.#times.roundOf(id) !== null) {
      this.#metrics.received(origin, "duplicate");
      return { status: "duplicate", id };
    }
    if (this.#orphans.has(id)) {
      this.#metrics.received(origin, "duplicate");
      return { status: "waiting", id, missing: [] };
    }
    const c = await this.#check(info, id, origin);
    if (!c.ok) return c.result;
    const carried = await this.#checkCarried(info, id, origin);
    if (carried !== null) return carried;
    // Another arrival of the same vertex may have been placed while the signatures were checked.
    if (this.#times.roundOf(id) !== null || this.#orphans.has(id)) {
      this.#metrics.received(origin, "duplicate");
      return this.#times.roundOf(id) !== null ? { status: "duplicate", id } : { status: "waiting", id, missing: [] };
    }
    return this.#place(info, id, bytes, origin, from);
  }

  /** Stores a checked vertex if its parents are here, else buffers it; then releases waiting children. */
  #place(info: VertexInfo, id: string, bytes: Uint8Array, origin: Origin, from?: string): SubmitResult {
    const parents = info.vertex.parents.map(toHex);
    const verdict = admit(
      {
        chainIdHex: toHex(info.vertex.chainId),
        authorHex: toHex(info.vertex.author),
        round: info.vertex.round,
        timestampMs: info.vertex.timestampMs,
        parentIds: parents,
        txCount: info.vertex.transactions.length,
      },
      {
        chainIdHex: this.#o.genesis.chainIdHex,
        isValidator: (a) => this.#names.has(a),
        roundOf: this.#times.roundOf,
        timestampOf: this.#times.timestampOf,
        // The clock was checked on arrival; a released orphan must not fail it for having waited.
        nowMs: Number(info.vertex.timestampMs),
        limits: this.#o.admissionLimits ?? DEFAULT_ADMISSION_LIMITS,
      },
    );
    if (verdict.kind === "reject") {
      // What waits on a refused vertex can never enter: drop it now, counted, rather than at expiry.
      for (const child of this.#orphans.discardDependents(id)) {
        this.#metrics.rejected("parent_rejected");
        this.#o.logger.info("waiting vertex dropped: a parent was refused", { id: child, parent: id });
      }
      this.#metrics.waiting(this.#orphans.size);
      return this.#reject(origin, id, verdict.reason, verdict.message);
    }
    if (verdict.kind === "admit" && origin !== "local") {
      if (this.#keyless.delete(id)) {
        // Its parents are here now, and with them the keys its transactions need: check it all again.
        this.#submitLater(bytes, origin, from);
        return { status: "waiting", id, missing: [] };
      }
      const covered = this.#coverage.check(parents, Number(info.vertex.timestampMs));
      const refusal = covered.ok ? this.#checkOrder(info, parents) : covered;
      if (refusal !== null) {
        for (const child of this.#orphans.discardDependents(id)) {
          this.#metrics.rejected("parent_rejected");
          this.#o.logger.info("waiting vertex dropped: a parent was refused", { id: child, parent: id });
        }
        this.#metrics.waiting(this.#orphans.size);
        return this.#reject(origin, id, refusal.reason, refusal.message);
      }
    }
    if (verdict.kind === "wait") {
      for (const d of this.#orphans.add(id, bytes, verdict.missing, this.#o.nowMs(), toHex(info.vertex.author))) {
        this.#metrics.rejected(d.reason);
        this.#o.logger.warn("waiting vertex dropped", { id: d.id, reason: d.reason });
      }
      this.#metrics.waiting(this.#orphans.size);
      this.#metrics.received(origin, "waiting");
      return { status: "waiting", id, missing: verdict.missing };
    }
    this.#store(info, id, bytes, origin, from);
    this.#metrics.received(origin, "admitted");
    this.#releaseAfter(id, origin);
    return { status: "admitted", id };
  }

  #submitLater(bytes: Uint8Array, origin: Origin, from?: string): void {
    this.submit(bytes, origin, from).catch((err) => {
      this.#o.logger.error("checking a released vertex again failed", { err });
    });
  }

  #store(info: VertexInfo, id: string, bytes: Uint8Array, origin: Origin, from?: string): void {
    const now = this.#o.nowMs();
    const storage = this.#o.storage;
    // A peer's vertex joins this burst's group commit (peers send it again if lost); our own commits it now.
    storage.transaction(() => {
      storage.putVertex({
        id,
        bytes,
        author: toHex(info.vertex.author),
        round: info.vertex.round,
        parents: info.vertex.parents.map(toHex),
        receivedAtMs: now,
        timestampMs: Number(info.vertex.timestampMs),
      });
      const carried = this.#carriedOf(info);
      const offsets = carriedOffsets(bytes, info.vertex.transactions);
      info.vertex.transactions.forEach((txBytes, i) => {
        storage.putTransaction({
          id: carried[i].id,
          bytes: txBytes,
          conflictKey: carried[i].conflictKey,
          vertex: id,
          receivedAtMs: now,
          inVertexAt: offsets[i],
        });
      });
    }, origin === "peer" ? { grouped: true } : { withGroup: true });
    this.#times.remember(id, info.vertex.round, info.vertex.timestampMs);
    this.#coverage.add(id, info.vertex.parents.map(toHex), Number(info.vertex.timestampMs));
    this.causalPast.remember(id, info.vertex.parents.map(toHex), Number(info.vertex.timestampMs));
    this.#recent.put(id, info, bytes.length);
    for (const fn of this.#listeners) fn(info, bytes, origin, from);
  }

  /** The decoded form of a vertex admitted recently, if still kept (see RecentVertices). */
  decoded(id: string): VertexInfo | undefined {
    return this.#recent.get(id);
  }

  /** As `decoded`, and forgets it: for the exchange ledger, a vertex's last reader (when it is applied). */
  takeDecoded(id: string): VertexInfo | undefined {
    return this.#recent.take(id);
  }

  /** The conflict keys of a decoded vertex's transactions, in order (decoded once per VertexInfo). */
  conflictKeysOf(info: VertexInfo): string[] {
    return this.#carriedOf(info).map((c) => c.conflictKey);
  }

  #releaseAfter(firstId: string, origin: Origin): void {
    const queue = [firstId];
    let released = 0;
    while (queue.length > 0 && released < RELEASE_PER_ARRIVAL_MAX) {
      const parent = queue.shift()!;
      for (const o of this.#orphans.arrived(parent)) {
        released++;
        // Its signature and clock were checked when it arrived.
        const info = validateVertex(o.bytes);
        const r = this.#place(info, o.id, o.bytes, origin);
        if (r.status === "admitted") queue.push(o.id);
      }
    }
    this.#metrics.waiting(this.#orphans.size);
  }

  /** Decisions stored but not yet durable (src/node/decision_log.ts): `get` shows such a vertex as undecided. */
  hideDecisionsWhile(notDurable: (id: string) => boolean): void {
    this.#notDurable = notDurable;
  }

  get(idHex: string): VertexView | null {
    const v = this.#o.storage.getVertex(idHex);
    const decision = this.#notDurable(idHex) ? null : this.#o.storage.getDecision(idHex);
    return v && vertexView(v, decision, this.#names.get(v.author) ?? null);
  }

  /** The raw signed bytes of a stored vertex. */
  bytesOf(idHex: string): Uint8Array | null {
    return this.#o.storage.getVertex(idHex)?.bytes ?? null;
  }

  children(idHex: string): string[] | null {
    if (this.#times.roundOf(idHex) === null) return null;
    return this.#o.storage.children(idHex);
  }

  stats(): { vertices: number; tips: string[]; orphans: number; orphanBytes: number; validators: number } {
    return {
      vertices: this.#o.storage.vertexCount(),
      tips: this.#o.tips?.() ?? [],
      orphans: this.#orphans.size,
      orphanBytes: this.#orphans.bytes,
      validators: this.#o.genesis.validators.length,
    };
  }

  /**
   * Authors a vertex as this node: the given signed transactions on top of the
   * current tips, at one round past the highest parent.
   */
  async author(transactions: Uint8Array[], parentsMax = 16): Promise<SubmitResult> {
    const signer = this.#o.signer;
    if (!signer) throw new Error("this node has no validator key to author vertices with");
    const authorId = keyIdOf(signer.publicKey);
    if (!this.#names.has(authorId)) throw new Error("this node's key is not in the genesis validator set");
    const tips = (this.#o.tips?.() ?? []).slice(0, parentsMax).sort();
    const round = tips.reduce((m, t) => {
      const r = this.#times.roundOf(t)!;
      return r + 1n > m ? r + 1n : m;
    }, 0n);
    const unsigned = {
      chainId: this.#o.genesis.chainId,
      author: fromHex(authorId),
      round,
      timestampMs: BigInt(this.#o.nowMs()),
      parents: tips.map(fromHex),
      transactions,
    };
    const signature = await signer.sign(vertexSigningMessage(unsigned));
    return this.submit(encodeVertex({ ...unsigned, signature }), "local");
  }
}
