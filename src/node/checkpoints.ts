/**
 * Checkpoints in the node (src/checkpoint, wasm/LEDGER.md "Settlement"): for
 * every cut consensus closes, this node states it (chain, sequence, boundary,
 * frontier, the accepted-transaction accumulator, the ledger's state and
 * journal hashes at the cut, the previous statement's digest), signs the
 * statement with its validator key, and gossips the signature. Signatures of
 * the other validators over the same statement are verified and collected;
 * more than two thirds make a certificate, which is stored and served
 * (`getCheckpoint`, `/api/v1/checkpoints`). A certificate learned from a peer
 * (verified against the genesis) lets a lagging node abandon what it holds
 * below the certified cut; one that contradicts this node's own statement is
 * counted (qudag_checkpoint_mismatches_total) and logged as an error: this
 * node diverged, and `onDiverged` has it sync from the certified state
 * (src/cli/start.ts starts it again).
 *
 * An honest validator signs at most one statement per sequence, so two
 * certificates for one sequence would need a third of the validators to sign
 * twice: the safety of checkpoints rests on that, not on timing.
 */
import {
  type CheckpointCertificate,
  type CheckpointStatement,
  decodeStatement,
  encodeStatement,
  nextTxAccumulator,
  quorum,
  SignatureCollector,
  statementDigest,
  verifyCertificate,
  ZERO_HASH,
} from "../checkpoint/mod.ts";
import type { Cut } from "../consensus/mod.ts";
import type { CryptoBackend } from "../crypto/backend.ts";
import type { CutPosition } from "../dag/coverage.ts";
import type { LedgerService } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";
import { type ProtocolMessage, SNAPSHOT_CHUNK_BYTES_MAX } from "../net/protocol.ts";
import type { Storage, StoredCertificate } from "../storage/mod.ts";
import type { Genesis } from "./genesis.ts";
import type { SyncSigner } from "./sync_signer.ts";
import type { ValidatorSet } from "./validators.ts";

/** Sequences ahead of this node's own whose signatures are held until it states them. */
const PENDING_WINDOW = 64;

export interface CheckpointServiceOptions {
  genesis: Genesis;
  validators: ValidatorSet;
  validatorId: string;
  signer: SyncSigner | null;
  backend: CryptoBackend;
  storage: Storage;
  ledger: LedgerService | null;
  registry: Registry;
  logger: Logger;
  /** Sends a protocol message to one peer (false when it could not be queued). */
  send: (to: string, m: ProtocolMessage) => boolean;
  /** Connected peers. */
  peers: () => readonly string[];
  /** A certified cut this node had not closed yet (the engine abandons what it does not hold). */
  onCertified: (position: CutPosition, from: string | undefined) => void;
  /** A certificate contradicts this node's own statement of `seq`: it diverged and must sync again. */
  onDiverged?: (seq: number) => void;
}

export class CheckpointService {
  readonly #o: CheckpointServiceOptions;
  readonly #collector: SignatureCollector;
  /** Signatures whose statement this node does not hold (yet): seq -> digest -> validator -> signature. */
  readonly #unverified = new Map<number, Map<string, Map<string, Uint8Array>>>();
  /** Sequences whose certificate was requested from a peer. */
  readonly #requested = new Set<number>();
  #served: { seq: number; bytes: Uint8Array } | null = null;
  /** The last checkpoint this node stated (0: none since it started or synced). */
  #stated: number;
  /** The newest certified checkpoint this node holds. */
  #certified: number;
  /** Peers asked for their newest certificate so far (askNewest takes them in turn). */
  #asked = 0;
  /** Serialises statements: each needs the previous one's digest. */
  #queue: Promise<void> = Promise.resolve();
  readonly #m: { sequence: Gauge; certified: Gauge; signatures: Counter; mismatches: Counter };

  constructor(o: CheckpointServiceOptions) {
    this.#o = o;
    this.#collector = new SignatureCollector({
      validators: o.genesis.validators.map((v) => v.id),
      windowMax: PENDING_WINDOW,
    });
    const r = o.registry;
    this.#m = {
      sequence: r.gauge("qudag_checkpoint_sequence", "The last checkpoint this node stated (and signed)."),
      certified: r.gauge(
        "qudag_checkpoint_certified_sequence",
        "The newest checkpoint certified by more than two thirds of the genesis validators.",
      ),
      signatures: r.counter("qudag_checkpoint_signatures_total", "Checkpoint signatures received, by outcome.", [
        "result",
      ]),
      mismatches: r.counter(
        "qudag_checkpoint_mismatches_total",
        "Certified checkpoints that contradict this node's own statement of the same sequence.",
      ),
    };
    this.#stated = o.storage.latestCut()?.statement ? o.storage.latestCut()!.seq : 0;
    this.#m.sequence.set({}, this.#stated);
    this.#certified = o.storage.latestCertificate()?.seq ?? 0;
    this.#m.certified.set({}, this.#certified);
    const lowest = (o.storage.latestCut()?.seq ?? 0) + 1;
    if (lowest > 1) this.#collector.forgetBelow(lowest);
  }

  /** The last checkpoint this node stated (0: none). A node whose ledger halted states none. */
  statedSeq(): number {
    return this.#stated;
  }

  /** The sequence of the newest certified checkpoint this node holds (0: none), without reading it. */
  certifiedSeq(): number {
    return this.#certified;
  }

  /**
   * Asks the next connected peer (in turn) for its newest certificate. A node
   * learns of certificates from the signatures gossiped as cuts close; one
   * that was away (stopped to sync, overloaded) missed those of the last
   * cuts, and would not know how far behind it is (the resync watch, the
   * issue hold) until the next cut closes, which may be never if nothing
   * happens.
   */
  askNewest(): void {
    const peers = this.#o.peers();
    if (peers.length === 0) return;
    const peer = peers[this.#asked++ % peers.length];
    this.#o.send(peer, { type: "getCheckpoint", seq: 0, withSnapshot: false });
  }

  /** The newest certificate this node holds. */
  latest(): StoredCertificate | null {
    return this.#o.storage.latestCertificate();
  }

  /**
   * States, signs and gossips a cut consensus closed (after the store
   * recorded it). Resolves when done; never rejects.
   */
  onCut(cut: Cut): Promise<void> {
    const job = this.#queue.then(() => this.#state(cut)).catch((err) =>
      this.#o.logger.error("checkpoint statement failed", { seq: cut.seq, err })
    );
    this.#queue = job;
    return job;
  }

  async #state(cut: Cut): Promise<void> {
    const prev = cut.seq === 1 ? null : this.#statementOf(cut.seq - 1);
    if (cut.seq > 1 && prev === null) {
      this.#o.logger.warn("checkpoint not stated: the previous statement is unknown here", { seq: cut.seq });
      return;
    }
    let stateHash: Uint8Array = ZERO_HASH;
    let journalHash: Uint8Array = ZERO_HASH;
    if (this.#o.ledger !== null) {
      const fold = await this.#o.ledger.onCut(cut);
      if (fold === null) {
        this.#o.logger.warn("checkpoint not stated: the exchange ledger is halted", { seq: cut.seq });
        return;
      }
      stateHash = fold.stateHash;
      journalHash = fold.journalHash;
    }
    const statement: CheckpointStatement = {
      chainId: this.#o.genesis.chainId,
      seq: cut.seq,
      boundaryMs: cut.boundaryMs,
      prevBoundaryMs: cut.prevBoundaryMs,
      vertexCount: cut.vertices.length,
      frontier: cut.frontier,
      txAccumulator: nextTxAccumulator(prev?.txAccumulator ?? ZERO_HASH, cut.txIds),
      stateHash,
      journalHash,
      prevDigest: prev === null ? ZERO_HASH : statementDigest(prev),
    };
    const bytes = encodeStatement(statement);
    const digest = statementDigest(statement).toHex();
    const signature = this.#o.signer === null ? null : this.#o.signer.sign(bytes);
    this.#o.storage.setCutStatement(cut.seq, bytes, digest, signature);
    this.#stated = cut.seq;
    this.#m.sequence.set({}, cut.seq);
    if (signature === null) return;
    this.#collector.add(cut.seq, digest, this.#o.validatorId, signature);
    for (const peer of this.#o.peers()) {
      this.#o.send(peer, { type: "checkpointSignature", seq: cut.seq, digest, signature });
    }
    // Signatures that arrived before this node stated the cut.
    const early = this.#unverified.get(cut.seq)?.get(digest);
    this.#unverified.delete(cut.seq);
    for (const [validator, sig] of early ?? []) await this.#addSignature(cut.seq, digest, validator, sig, bytes);
    this.#maybeCertify(cut.seq, digest);
  }

  /** A peer's signature of its statement of `seq`. */
  async onSignature(from: string, seq: number, digest: string, signature: Uint8Array): Promise<void> {
    const own = this.#o.storage.getCut(seq);
    if (own?.digest === digest && own.statement !== null) {
      await this.#addSignature(seq, digest, from, signature, own.statement);
      this.#maybeCertify(seq, digest);
      return;
    }
    if (this.#o.storage.getCertificate(seq) !== null) return;
    // Not stated here (yet, or ever: a halted ledger states nothing), or stated differently: hold it, bounded,
    // and ask for the certificate once a quorum signed one digest. A node learns so how far behind it is.
    const latest = this.#o.storage.latestCut()?.seq ?? 0;
    if (seq > latest + PENDING_WINDOW || seq + PENDING_WINDOW < latest) {
      this.#m.signatures.inc({ result: "out_of_window" });
      return;
    }
    for (const held of this.#unverified.keys()) if (held + PENDING_WINDOW < latest) this.#unverified.delete(held);
    let bySeq = this.#unverified.get(seq);
    if (bySeq === undefined) this.#unverified.set(seq, bySeq = new Map());
    let byDigest = bySeq.get(digest);
    if (byDigest === undefined) {
      if (bySeq.size >= 2 * this.#o.genesis.validators.length) return;
      bySeq.set(digest, byDigest = new Map());
    }
    byDigest.set(from, signature);
    this.#m.signatures.inc({ result: "held" });
    if (byDigest.size >= quorum(this.#o.genesis.validators.length) && !this.#requested.has(seq)) {
      this.#requested.add(seq);
      this.#o.send(from, { type: "getCheckpoint", seq, withSnapshot: false });
    }
  }

  async #addSignature(
    seq: number,
    digest: string,
    validator: string,
    signature: Uint8Array,
    statement: Uint8Array,
  ): Promise<void> {
    if (!this.#o.validators.has(validator)) {
      this.#m.signatures.inc({ result: "unknown_validator" });
      return;
    }
    if (!await this.#o.validators.verify(validator, statement, signature)) {
      this.#m.signatures.inc({ result: "bad_signature" });
      this.#o.logger.warn("checkpoint signature does not verify", { seq, validator });
      return;
    }
    const outcome = this.#collector.add(seq, digest, validator, signature);
    this.#m.signatures.inc({ result: outcome });
  }

  #maybeCertify(seq: number, digest: string): void {
    if (this.#o.storage.getCertificate(seq) !== null) return;
    const signatures = this.#collector.certifiable(seq, digest);
    const own = this.#o.storage.getCut(seq);
    if (signatures === null || own?.statement == null) return;
    this.#o.storage.putCertificate({ seq, digest, statement: own.statement, signatures });
    this.#certified = Math.max(seq, this.#certified);
    this.#m.certified.set({}, this.#certified);
    this.#collector.forgetBelow(seq);
    this.#o.logger.info("checkpoint certified", { seq, signers: signatures.length });
  }

  /** A certificate from a peer (asked for, or pushed): verified against the genesis, then stored. */
  async onCertificate(
    from: string | undefined,
    statementBytes: Uint8Array,
    signatures: readonly { validator: string; signature: Uint8Array }[],
  ): Promise<CheckpointCertificate | null> {
    let statement: CheckpointStatement;
    try {
      statement = decodeStatement(statementBytes);
    } catch (err) {
      this.#o.logger.warn("malformed checkpoint from a peer", { peer: from, err });
      return null;
    }
    const cert: CheckpointCertificate = { statement, signatures };
    const verdict = await verifyCertificate(
      cert,
      { chainId: this.#o.genesis.chainId, validators: this.#o.genesis.validators },
      async (pk, message, signature) => (await this.#o.backend.mlDsaVerifier(pk)).verify(message, signature),
    );
    if (!verdict.ok) {
      this.#o.logger.warn("checkpoint from a peer refused", { peer: from, code: verdict.code, why: verdict.message });
      this.#m.signatures.inc({ result: verdict.code });
      return null;
    }
    const digest = statementDigest(statement).toHex();
    const stored = this.#o.storage.getCertificate(statement.seq);
    if (stored !== null && stored.digest !== digest) {
      // Two certificates for one sequence: more than a third of the validators signed twice.
      this.#o.logger.error(
        "two certified checkpoints for one sequence: more than a third of the validators equivocated",
        {
          seq: statement.seq,
          stored: stored.digest,
          received: digest,
          peer: from,
        },
      );
      return null;
    }
    if (stored === null) {
      this.#o.storage.putCertificate({ seq: statement.seq, digest, statement: statementBytes, signatures });
    }
    this.#unverified.delete(statement.seq);
    this.#certified = Math.max(statement.seq, this.#certified);
    this.#m.certified.set({}, this.#certified);
    const own = this.#o.storage.getCut(statement.seq);
    if (own?.digest != null && own.digest !== digest) {
      this.#m.mismatches.inc();
      this.#o.logger.error(
        "this node's checkpoint differs from the certified one: its state diverged from the other validators; " +
          "it syncs again from a certified checkpoint",
        { seq: statement.seq, own: own.digest, certified: digest },
      );
      this.#o.onDiverged?.(statement.seq);
    }
    this.#o.onCertified({ boundaryMs: statement.boundaryMs, frontier: statement.frontier }, from);
    return cert;
  }

  /** Checkpoint and snapshot messages from a peer. */
  async onMessage(from: string, m: ProtocolMessage): Promise<void> {
    switch (m.type) {
      case "checkpointSignature":
        await this.onSignature(from, m.seq, m.digest, m.signature);
        break;
      case "getCheckpoint": {
        // An empty statement says "none held", so that a node starting among new peers need not wait them out.
        const c = this.certificateFor(m.seq, m.withSnapshot);
        this.#o.send(from, {
          type: "checkpoint",
          statement: c?.statement ?? new Uint8Array(),
          signatures: c === null ? [] : [...c.signatures],
        });
        break;
      }
      case "checkpoint":
        if (m.statement.length > 0) await this.onCertificate(from, m.statement, m.signatures);
        break;
      case "getSnapshot": {
        const bytes = this.#snapshot(m.seq);
        const chunk = bytes?.subarray(m.offset, m.offset + SNAPSHOT_CHUNK_BYTES_MAX) ?? new Uint8Array();
        this.#o.send(from, {
          type: "snapshotChunk",
          seq: m.seq,
          offset: m.offset,
          total: bytes?.length ?? 0,
          bytes: chunk,
        });
        break;
      }
    }
  }

  /** The snapshot at `seq`, kept in memory while peers fetch it chunk by chunk. */
  #snapshot(seq: number): Uint8Array | null {
    if (this.#served?.seq !== seq) {
      const bytes = this.#o.storage.getSnapshot(seq);
      this.#served = bytes === null ? null : { seq, bytes };
    }
    return this.#served?.bytes ?? null;
  }

  /** What a peer asking for a checkpoint gets (null: none held). */
  certificateFor(seq: number, withSnapshot: boolean): StoredCertificate | null {
    const s = this.#o.storage;
    if (seq > 0) return s.getCertificate(seq);
    if (!withSnapshot) return s.latestCertificate();
    for (const held of s.snapshotSeqs()) {
      const c = s.getCertificate(held);
      if (c !== null) return c;
    }
    return null;
  }

  /** The statement of `seq` this node made, or the certified one it holds. */
  #statementOf(seq: number): CheckpointStatement | null {
    const bytes = this.#o.storage.getCut(seq)?.statement ?? this.#o.storage.getCertificate(seq)?.statement;
    return bytes == null ? null : decodeStatement(bytes);
  }
}
