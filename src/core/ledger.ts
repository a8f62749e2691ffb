/**
 * The exchange ledger, held by the WASM core (wasm/src/ledger/, wasm/LEDGER.md):
 * its types and the {@linkcode Ledger} handle.
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError, type LedgerRefusalCode } from "./_error.ts";
import { HASH_BYTES, ML_DSA_87_SIGNATURE_BYTES } from "./constants.ts";
import { type FeeParams, type FeeQuote, readFees, writeFees } from "./fee.ts";
import type { TransactionKind } from "./tx.ts";

/** A genesis account: created with the ledger, balance 0. */
export interface LedgerGenesisAccount {
  /** 1..64 bytes of [a-z0-9_-]. */
  name: string;
  /** ML-DSA-87 public key (2,592 bytes); the account id is its BLAKE3-256. */
  publicKey: Uint8Array;
}

/** Account ids (BLAKE3-256 of a genesis account's key) holding each authority. */
export interface LedgerRoles {
  /** Receives every fee. */
  feeAccount: Uint8Array;
  /** The only signer of mint. */
  exchangeMaster: Uint8Array;
  /** The only signer of configure_fees. */
  feeAdmin: Uint8Array;
  /** The only signer of attest_agent / revoke_agent. */
  agentVerifier: Uint8Array;
  /** The only signer of immutable_lock / governance_override. */
  governance: Uint8Array;
}

/** Everything a chain's ledger starts from; every node must use the same. */
export interface LedgerGenesis {
  chainId: Uint8Array;
  /** Ledger time of the genesis accounts' creation (their fee age starts here). */
  timeMs: bigint;
  fees: FeeParams;
  /** Most smallest units in circulation (minted - burned); 0n = no cap. */
  supplyCap: bigint;
  /** 1..16 accounts; every role must name one of them. */
  accounts: LedgerGenesisAccount[];
  roles: LedgerRoles;
}

/**
 * Where and when a transaction is applied (wasm/LEDGER.md): the vertex that
 * carries it, the ledger time (that vertex's timestamp) and the already
 * applied vertices that are not ancestors of it. Validity and fee are
 * decided against the state without those concurrent vertices' effects.
 */
export interface LedgerContext {
  vertex: Uint8Array;
  timeMs: bigint;
  /** Applied vertices that are not ancestors of `vertex` (at most 65,536, the journal's limit). */
  concurrent?: Uint8Array[];
}

export type LedgerResultCode = "ok" | LedgerRefusalCode;

/** The result of one transaction, kept by id: a replay returns it again. */
export interface LedgerReceipt {
  code: LedgerResultCode;
  /** Fee charged (transfers only), smallest units. */
  fee: bigint;
  ratePpb: number;
  /** The vertex that carried it when it was first applied. */
  vertex: Uint8Array;
  timeMs: bigint;
}

export interface LedgerOutcome extends LedgerReceipt {
  /** Transaction id. */
  id: Uint8Array;
  /** Empty when applied; otherwise what was refused and why. */
  message: string;
  /** Already applied or refused before: nothing changed, same receipt. */
  duplicate: boolean;
  /** A duplicate whose first carrier is concurrent to this one (a DAG anomaly to report). */
  concurrentDuplicate: boolean;
  /** Accounts whose records changed, ascending; empty unless applied. */
  touched: Uint8Array[];
}

export interface LedgerPrepared {
  id: Uint8Array;
  account: Uint8Array;
  nonce: bigint;
  kind: TransactionKind;
  /** Verify the transaction's signature over exactly these bytes... */
  signingMessage: Uint8Array;
  /** ...with this key; absent when the account does not exist (apply refuses it). */
  publicKey?: Uint8Array;
  /** An earlier result for this id. */
  receipt?: LedgerReceipt;
}

export interface LedgerAttestation {
  expiryMs: bigint;
  proofDigest: Uint8Array;
  attestedMs: bigint;
}

export interface LedgerAccount {
  id: Uint8Array;
  name: string;
  /** False only if a concurrent claim with a smaller id owns the name. */
  nameOwner: boolean;
  publicKey: Uint8Array;
  balance: bigint;
  nextNonce: bigint;
  /** Ledger time of its first transaction (fee age t counts from here). */
  createdMs: bigint;
  lastMs: bigint;
  attestation?: LedgerAttestation;
}

export interface LedgerAuditRecord {
  txId: Uint8Array;
  timeMs: bigint;
  action: "lock" | "override";
  configHash: Uint8Array;
  reason: string;
}

export interface LedgerLock {
  configHash: Uint8Array;
  lockedMs: bigint;
  /** Configuration changes at or after this ledger time are refused (config_locked). */
  graceEndMs: bigint;
  lockTx: Uint8Array;
}

export interface LedgerStatus {
  chainId: Uint8Array;
  genesisTimeMs: bigint;
  supplyCap: bigint;
  minted: bigint;
  burned: bigint;
  /** minted - burned; always the sum of all balances. */
  supply: bigint;
  fees: FeeParams;
  roles: LedgerRoles;
  /** BLAKE3 of chain id, fee parameters and supply cap (what a lock fixes). */
  configHash: Uint8Array;
  lock?: LedgerLock;
  audit: LedgerAuditRecord[];
  accountCount: number;
  /** Receipts held: those of transactions whose first carrier is not settled yet. */
  resultCount: number;
  /** Unsettled vertices whose transactions changed state (journal entries). */
  journalVertices: number;
  /** Unsettled vertices that carried a first application (each holds receipts until settled). */
  appliedVertices: number;
  stateHash: Uint8Array;
}

/** What a checkpoint signs: the hashes of the state at a cut (see {@linkcode Ledger.cutHashes}). */
export interface LedgerCutHashes {
  /** The state hash of the cut state (what a ledger that applied only the kept vertices has). */
  stateHash: Uint8Array;
  /** BLAKE3-256 of the cut state's journal (the kept unsettled vertices' facts). */
  journalHash: Uint8Array;
  /** Entries left in the cut state's journal. */
  journalVertices: number;
}

export interface LedgerFeeQuote extends FeeQuote {
  verified: boolean;
  /** t, ms since the account's first transaction. */
  tMs: bigint;
  /** u, smallest units sent in the 30-day window. */
  usage: bigint;
}

/** Verifies an ML-DSA-87 signature; supplied by the crypto backends. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

function resultCode(n: number): LedgerResultCode {
  if (n === 0) return "ok";
  const name = core.codeName(n);
  if (name === undefined) throw new CoreError("internal", `The core returned unknown result code ${n}`);
  return name as LedgerRefusalCode;
}

function readReceipt(r: FrameReader): LedgerReceipt {
  return {
    code: resultCode(r.u32(Tag.resultCode)),
    fee: r.u64(Tag.fee),
    ratePpb: Number(r.u64(Tag.ratePpb)),
    vertex: r.bytes(Tag.vertex),
    timeMs: r.u64(Tag.ledgerTimeMs),
  };
}

function readRoles(r: FrameReader): LedgerRoles {
  return {
    feeAccount: r.bytes(Tag.feeAccount),
    exchangeMaster: r.bytes(Tag.exchangeMaster),
    feeAdmin: r.bytes(Tag.feeAdmin),
    agentVerifier: r.bytes(Tag.agentVerifier),
    governance: r.bytes(Tag.governance),
  };
}

const textDecoder = new TextDecoder();

/** Concatenates 32-byte ids, as the core takes a set of vertices. */
function packIds(ids: Uint8Array[], field: string): Uint8Array {
  if (!Array.isArray(ids)) throw new CoreError("invalid_input", `${field} must be an array of 32-byte ids`);
  const out = new Uint8Array(ids.length * HASH_BYTES);
  ids.forEach((id, i) => {
    if (!(id instanceof Uint8Array) || id.length !== HASH_BYTES) {
      throw new CoreError("invalid_input", `${field}[${i}] must be a 32-byte id`);
    }
    out.set(id, i * HASH_BYTES);
  });
  return out;
}

function applyFrame(tx: Uint8Array, context: LedgerContext, signatureOk: boolean, id?: Uint8Array): FrameWriter {
  const w = txFrame(tx, id).bool(Tag.signatureOk, signatureOk, "signatureOk")
    .bytes(Tag.vertex, context.vertex, "context.vertex")
    .u64(Tag.ledgerTimeMs, context.timeMs, "context.timeMs");
  // One field of packed ids: a concurrent set may be longer than a frame's field limit.
  if (context.concurrent !== undefined && context.concurrent.length > 0) {
    w.bytes(Tag.concurrent, packIds(context.concurrent, "context.concurrent"), "context.concurrent");
  }
  return w;
}

/** The transaction's field, and its id when the caller has it from the core (then not hashed again). */
function txFrame(tx: Uint8Array, id: Uint8Array | undefined): FrameWriter {
  const w = new FrameWriter().bytes(Tag.tx, tx, "tx");
  return id === undefined ? w : w.bytes(Tag.txId, id, "id");
}

/**
 * The exchange ledger, held by the WASM core: a pure, deterministic state
 * transition (wasm/LEDGER.md). Two steps per transaction, so a bad signature
 * can never change state: {@linkcode Ledger.prepare} says which key must have
 * signed it, the caller verifies, {@linkcode Ledger.apply} applies (or
 * refuses with a stable code) given that verdict. {@linkcode Ledger.applyVerified}
 * does all three. {@linkcode Ledger.settle} bounds its memory;
 * {@linkcode Ledger.cutHashes} and {@linkcode Ledger.cutSnapshot} give the
 * state at a cut of the DAG (a checkpoint). Call {@linkcode Ledger.free} when done.
 */
export class Ledger {
  #handle: number;

  private constructor(handle: number) {
    this.#handle = handle;
  }

  static #open(result: Uint8Array): Ledger {
    return new Ledger(new DataView(result.buffer, result.byteOffset, 4).getUint32(0, true));
  }

  /** A new ledger from its genesis configuration (checked: `invalid_input`, `name_invalid`, `invalid_fee_params`). */
  static genesis(g: LedgerGenesis): Ledger {
    if (g === null || typeof g !== "object" || !Array.isArray(g.accounts) || g.roles === undefined) {
      throw new CoreError(
        "invalid_input",
        "A ledger genesis needs chainId, timeMs, fees, supplyCap, accounts and roles",
      );
    }
    const w = writeFees(new FrameWriter(), g.fees)
      .bytes(Tag.chainId, g.chainId, "chainId")
      .u64(Tag.genesisTimeMs, g.timeMs, "timeMs")
      .u64(Tag.supplyCap, g.supplyCap, "supplyCap")
      .bytes(Tag.feeAccount, g.roles.feeAccount, "roles.feeAccount")
      .bytes(Tag.exchangeMaster, g.roles.exchangeMaster, "roles.exchangeMaster")
      .bytes(Tag.feeAdmin, g.roles.feeAdmin, "roles.feeAdmin")
      .bytes(Tag.agentVerifier, g.roles.agentVerifier, "roles.agentVerifier")
      .bytes(Tag.governance, g.roles.governance, "roles.governance");
    g.accounts.forEach((a, i) => {
      w.text(Tag.name, a.name, `accounts[${i}].name`).bytes(Tag.publicKey, a.publicKey, `accounts[${i}].publicKey`);
    });
    return Ledger.#open(core.ledgerGenesis(w.finish()));
  }

  /** A ledger from {@linkcode Ledger.export} bytes (checked; `invalid_input` if damaged). */
  static import(bytes: Uint8Array): Ledger {
    return Ledger.#open(core.ledgerImport(bytes));
  }

  #live(): number {
    if (this.#handle === 0) throw new CoreError("invalid_input", "This ledger was freed");
    return this.#handle;
  }

  /** Releases the core's memory for this ledger; the object is unusable afterwards. */
  free(): void {
    if (this.#handle !== 0) core.ledgerFree(this.#handle);
    this.#handle = 0;
  }

  [Symbol.dispose](): void {
    this.free();
  }

  /**
   * Step 1: decode `tx` (signed bytes) and name the key its signature must
   * verify with. `id`, here and in `apply` and `check`, is optional: the id
   * the core gave for these exact bytes (a decoded vertex's transaction ids,
   * `validateTransaction`'s id), which spares hashing them again. The core
   * trusts it as it trusts a signature's verdict.
   */
  prepare(tx: Uint8Array, id?: Uint8Array): LedgerPrepared {
    const r = new FrameReader(core.ledgerPrepare(this.#live(), txFrame(tx, id)));
    return {
      id: r.bytes(Tag.id),
      account: r.bytes(Tag.account),
      nonce: r.u64(Tag.nonce),
      kind: r.text(Tag.kind) as TransactionKind,
      signingMessage: r.bytes(Tag.signingMessage),
      publicKey: r.has(Tag.publicKey) ? r.bytes(Tag.publicKey) : undefined,
      receipt: r.has(Tag.resultCode) ? readReceipt(r) : undefined,
    };
  }

  /**
   * Step 2: apply `tx` in `context`. `signatureOk` is the caller's verdict on
   * the signature over `prepare(tx).signingMessage` with `prepare(tx).publicKey`;
   * false refuses it (`bad_signature`) and changes nothing. Refusals are
   * returned, not thrown; a `CoreError` means the call itself was wrong.
   */
  apply(tx: Uint8Array, context: LedgerContext, signatureOk: boolean, id?: Uint8Array): LedgerOutcome {
    return this.#outcome(core.ledgerApply(this.#live(), applyFrame(tx, context, signatureOk, id)));
  }

  /**
   * A dry run (not consensus): the receipt `apply` would give `tx` at ledger
   * time `timeMs` against the whole current state, changing nothing. Its
   * `vertex` is zero; `touched` names the signer when the refusal would
   * consume its nonce. A node refuses submissions with it.
   */
  check(tx: Uint8Array, timeMs: bigint, signatureOk: boolean, id?: Uint8Array): LedgerOutcome {
    const context = { vertex: new Uint8Array(32), timeMs };
    return this.#outcome(core.ledgerCheck(this.#live(), applyFrame(tx, context, signatureOk, id)));
  }

  #outcome(bytes: Uint8Array): LedgerOutcome {
    const r = new FrameReader(bytes);
    return {
      id: r.bytes(Tag.id),
      ...readReceipt(r),
      message: r.text(Tag.message),
      duplicate: r.bool(Tag.duplicate),
      concurrentDuplicate: r.bool(Tag.concurrentDuplicate),
      touched: r.all(Tag.touched),
    };
  }

  /** prepare, verify with `verify`, apply: the usual path. */
  applyVerified(tx: Uint8Array, context: LedgerContext, verify: SignatureVerifier): LedgerOutcome {
    const p = this.prepare(tx);
    const signature = tx.subarray(tx.length - ML_DSA_87_SIGNATURE_BYTES);
    const ok = p.receipt === undefined && p.publicKey !== undefined && verify(p.publicKey, p.signingMessage, signature);
    return this.apply(tx, context, ok);
  }

  /** BLAKE3-256 of the canonical state: equal on every node with the same accepted set. */
  stateHash(): Uint8Array {
    return core.ledgerStateHash(this.#live());
  }

  /** Everything (receipts and journal included), for persistence; see {@linkcode Ledger.import}. */
  export(): Uint8Array {
    return core.ledgerExport(this.#live());
  }

  account(id: Uint8Array): LedgerAccount | undefined {
    let frame: Uint8Array;
    try {
      frame = core.ledgerAccount(this.#live(), id);
    } catch (error) {
      if (error instanceof CoreError && error.code === "unknown_account") return undefined;
      throw error;
    }
    const r = new FrameReader(frame);
    return {
      id: r.bytes(Tag.id),
      name: r.text(Tag.name),
      nameOwner: r.bool(Tag.nameOwner),
      publicKey: r.bytes(Tag.publicKey),
      balance: r.u64(Tag.balance),
      nextNonce: r.u64(Tag.nextNonce),
      createdMs: r.u64(Tag.createdMs),
      lastMs: r.u64(Tag.lastMs),
      attestation: r.has(Tag.expiryMs)
        ? { expiryMs: r.u64(Tag.expiryMs), proofDigest: r.bytes(Tag.proofDigest), attestedMs: r.u64(Tag.attestedMs) }
        : undefined,
    };
  }

  /** The account that owns `name`, if any. */
  accountByName(name: string): LedgerAccount | undefined {
    try {
      return this.account(core.ledgerLookupName(this.#live(), new TextEncoder().encode(name)));
    } catch (error) {
      if (error instanceof CoreError && error.code === "unknown_account") return undefined;
      throw error;
    }
  }

  /** Balance in smallest units; 0n for an unknown account. */
  balance(id: Uint8Array): bigint {
    return this.account(id)?.balance ?? 0n;
  }

  /** Every account id, ascending bytewise. */
  accountIds(): Uint8Array[] {
    const all = core.ledgerAccounts(this.#live());
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += HASH_BYTES) out.push(all.slice(i, i + HASH_BYTES));
    return out;
  }

  status(): LedgerStatus {
    const r = new FrameReader(core.ledgerStatus(this.#live()));
    const minted = r.u64(Tag.minted);
    const burned = r.u64(Tag.burned);
    return {
      chainId: r.bytes(Tag.chainId),
      genesisTimeMs: r.u64(Tag.genesisTimeMs),
      supplyCap: r.u64(Tag.supplyCap),
      minted,
      burned,
      supply: minted - burned,
      fees: readFees(r),
      roles: readRoles(r),
      configHash: r.bytes(Tag.currentConfigHash),
      lock: r.has(Tag.lockedMs)
        ? {
          configHash: r.bytes(Tag.configHash),
          lockedMs: r.u64(Tag.lockedMs),
          graceEndMs: r.u64(Tag.graceEndMs),
          lockTx: r.bytes(Tag.lockTx),
        }
        : undefined,
      audit: r.all(Tag.audit).map((frame) => {
        const a = new FrameReader(frame);
        return {
          txId: a.bytes(Tag.txId),
          timeMs: a.u64(Tag.ledgerTimeMs),
          action: a.text(Tag.action) as "lock" | "override",
          configHash: a.bytes(Tag.configHash),
          reason: textDecoder.decode(a.bytes(Tag.reason)),
        };
      }),
      accountCount: Number(r.u64(Tag.accountCount)),
      resultCount: Number(r.u64(Tag.resultCount)),
      journalVertices: Number(r.u64(Tag.journalVertices)),
      appliedVertices: Number(r.u64(Tag.appliedVertices)),
      stateHash: r.bytes(Tag.stateHash),
    };
  }

  /** The rate and fee `account` would pay for a transfer of `amount` at ledger time `timeMs`. */
  feeQuote(account: Uint8Array, amount: bigint, timeMs: bigint): LedgerFeeQuote {
    const w = new FrameWriter()
      .bytes(Tag.account, account, "account")
      .u64(Tag.amount, amount, "amount")
      .u64(Tag.ledgerTimeMs, timeMs, "timeMs");
    const r = new FrameReader(core.ledgerFeeQuote(this.#live(), w.finish()));
    return {
      ratePpb: Number(r.u64(Tag.ratePpb)),
      fee: r.u64(Tag.fee),
      verified: r.bool(Tag.verified),
      tMs: r.u64(Tag.ageMs),
      usage: r.u64(Tag.usage),
    };
  }

  /**
   * Vertices no later vertex can be concurrent to (every vertex still to be
   * applied descends from them): their journal entries are dropped, and so
   * are the receipts of the transactions they carried first (`prepare` no
   * longer returns those: keep receipts durably). Changes no balance and not
   * the state hash.
   */
  settle(vertices: Uint8Array[]): void {
    core.ledgerSettle(this.#live(), packIds(vertices, "vertices"));
  }

  /**
   * The hashes of the state at a cut K of the DAG: this ledger without the
   * effects of the `excluded` applied vertices, as if a ledger had applied
   * only K. Every kept vertex must have no excluded ancestor (K is downward
   * closed) and no excluded vertex may have been settled; excluded vertices
   * without journal entries are ignored. This ledger does not change.
   */
  cutHashes(excluded: Uint8Array[]): LedgerCutHashes {
    const r = new FrameReader(core.ledgerCutHashes(this.#live(), packIds(excluded, "excluded")));
    return {
      stateHash: r.bytes(Tag.stateHash),
      journalHash: r.bytes(Tag.journalHash),
      journalVertices: Number(r.u64(Tag.journalVertices)),
    };
  }

  /**
   * The {@linkcode Ledger.export} of the state at the cut that
   * {@linkcode Ledger.cutHashes} describes, without receipts;
   * {@linkcode Ledger.import} loads it. This ledger does not change.
   */
  cutSnapshot(excluded: Uint8Array[]): Uint8Array {
    return core.ledgerCutSnapshot(this.#live(), packIds(excluded, "excluded"));
  }
}
