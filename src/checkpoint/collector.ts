/**
 * Collects validators' signatures on checkpoint statements until one forms a
 * certificate. It does NOT verify signatures: the caller verifies each one over
 * the statement whose digest it files it under, before {@linkcode SignatureCollector.add}.
 * A signature added here is trusted to be valid.
 *
 * Memory is bounded: only seqs in the window [lowestOpen, lowestOpen + windowMax)
 * are kept, and each validator holds at most {@linkcode DIGESTS_PER_VALIDATOR_MAX}
 * digests per seq (two already prove equivocation). So at most
 * windowMax × validators × DIGESTS_PER_VALIDATOR_MAX signatures are held.
 *
 * An equivocator's signatures still count towards each digest it signed: a
 * signature is a signature, and two conflicting quorums of more than 2/3 would
 * need more than 1/3 of the validators to equivocate, which the model excludes.
 */
import { type CheckpointSignature, quorum } from "./certificate.ts";
import { CheckpointError, HEX_ID_RE } from "./statement.ts";

/** Digests one validator may have signed for one seq before further ones are refused. */
export const DIGESTS_PER_VALIDATOR_MAX = 2;
export const COLLECTOR_WINDOW_DEFAULT = 64;

/**
 * - new: kept;
 * - duplicate: this validator's signature on this (seq, digest) is already kept;
 * - unknown_validator: not a genesis validator;
 * - out_of_window: seq is below lowestOpen (forgotten) or at/after lowestOpen + windowMax;
 * - over_limit: the validator already signed DIGESTS_PER_VALIDATOR_MAX other digests at this seq.
 */
export type AddOutcome = "new" | "duplicate" | "unknown_validator" | "out_of_window" | "over_limit";

export interface CollectorOptions {
  /** Hex ids of the genesis validators. */
  readonly validators: readonly string[];
  /** Seqs kept at once, from lowestOpen on (default 64). */
  readonly windowMax?: number;
}

interface SeqEntry {
  /** digest -> validator -> signature. */
  readonly byDigest: Map<string, Map<string, Uint8Array>>;
  /** validator -> digests it signed, in arrival order (at most DIGESTS_PER_VALIDATOR_MAX). */
  readonly byValidator: Map<string, string[]>;
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new CheckpointError("checkpoint_malformed", `checkpoint seq ${seq} is not a safe integer >= 1`);
  }
}

function checkDigest(digestHex: string): void {
  if (typeof digestHex !== "string" || !HEX_ID_RE.test(digestHex)) {
    throw new CheckpointError("checkpoint_malformed", "a checkpoint digest must be 64 lowercase hex digits");
  }
}

export class SignatureCollector {
  readonly #validators: ReadonlySet<string>;
  readonly #quorum: number;
  readonly windowMax: number;
  /** Invariant: every key k of #seqs has lowestOpen <= k < lowestOpen + windowMax. */
  readonly #seqs = new Map<number, SeqEntry>();
  #lowestOpen = 1;
  #size = 0;

  constructor(options: CollectorOptions) {
    const windowMax = options.windowMax ?? COLLECTOR_WINDOW_DEFAULT;
    if (!Number.isSafeInteger(windowMax) || windowMax < 1) {
      throw new RangeError(`windowMax ${windowMax} is not a positive integer`);
    }
    for (const v of options.validators) {
      if (!HEX_ID_RE.test(v)) throw new RangeError(`validator id ${JSON.stringify(v)} is not 64 lowercase hex digits`);
    }
    this.#validators = new Set(options.validators);
    if (this.#validators.size !== options.validators.length) throw new RangeError("a validator id is listed twice");
    this.#quorum = quorum(this.#validators.size);
    this.windowMax = windowMax;
  }

  /** The lowest seq still collected; everything below was forgotten. */
  get lowestOpen(): number {
    return this.#lowestOpen;
  }

  /** Signatures held, over every seq and digest. */
  get size(): number {
    return this.#size;
  }

  /** Files a signature the caller has already verified over the statement with this digest. */
  add(seq: number, digestHex: string, validator: string, signature: Uint8Array): AddOutcome {
    checkSeq(seq);
    checkDigest(digestHex);
    if (!this.#validators.has(validator)) return "unknown_validator";
    if (seq < this.#lowestOpen || seq >= this.#lowestOpen + this.windowMax) return "out_of_window";
    let entry = this.#seqs.get(seq);
    if (entry === undefined) {
      entry = { byDigest: new Map(), byValidator: new Map() };
      this.#seqs.set(seq, entry);
    }
    const signed = entry.byValidator.get(validator) ?? [];
    if (signed.includes(digestHex)) return "duplicate";
    if (signed.length >= DIGESTS_PER_VALIDATOR_MAX) return "over_limit";
    entry.byValidator.set(validator, [...signed, digestHex]);
    let sigs = entry.byDigest.get(digestHex);
    if (sigs === undefined) {
      sigs = new Map();
      entry.byDigest.set(digestHex, sigs);
    }
    sigs.set(validator, signature);
    this.#size++;
    return "new";
  }

  /** The signatures for (seq, digest), sorted by validator, once at least quorum(n) validators signed it; else null. */
  certifiable(seq: number, digestHex: string): CheckpointSignature[] | null {
    const sigs = this.#seqs.get(seq)?.byDigest.get(digestHex);
    if (sigs === undefined || sigs.size < this.#quorum) return null;
    return [...sigs.keys()].sort().map((validator) => ({ validator, signature: sigs.get(validator)! }));
  }

  /** Digests signed for `seq`, with how many validators signed each, most signed first (then by digest). */
  digests(seq: number): { digest: string; signers: number }[] {
    const entry = this.#seqs.get(seq);
    if (entry === undefined) return [];
    return [...entry.byDigest].map(([digest, sigs]) => ({ digest, signers: sigs.size }))
      .sort((a, b) => b.signers - a.signers || (a.digest < b.digest ? -1 : 1));
  }

  /** Validators that signed two different digests for `seq`, sorted. */
  equivocators(seq: number): string[] {
    const entry = this.#seqs.get(seq);
    if (entry === undefined) return [];
    return [...entry.byValidator].filter(([, digests]) => digests.length > 1).map(([v]) => v).sort();
  }

  /** Drops every seq below `seq` and moves the window up to start there; a lower `seq` changes nothing. */
  forgetBelow(seq: number): void {
    checkSeq(seq);
    if (seq <= this.#lowestOpen) return;
    this.#lowestOpen = seq;
    for (const [s, entry] of this.#seqs) {
      if (s >= seq) continue;
      for (const sigs of entry.byDigest.values()) this.#size -= sigs.size;
      this.#seqs.delete(s);
    }
  }
}
