/**
 * What a node checks before a submitted transaction enters its mempool: the
 * checks every carrier of it must pass at DAG admission (src/dag/carried.ts)
 * and, with the exchange, the ledger's dry run. A transaction that would be
 * refused later never spends its account's nonce in consensus, and the client
 * gets the refusal code at once. Cheap checks first; the signature is checked
 * once per transaction (src/node/verified_txs.ts), however long it waits for
 * its previous nonce.
 */
import type { TransactionInfo } from "../core/mod.ts";
import { toHex } from "../keys/mod.ts";
import type { LedgerService } from "../ledger/mod.ts";
import type { Storage } from "../storage/mod.ts";
import type { AccountKeys } from "./account_keys.ts";
import { SubmitError } from "./mempool.ts";
import type { VerifiedTxs } from "./verified_txs.ts";

/**
 * How long a submission whose nonce is ahead waits for its predecessor to
 * reach this node (from a client that sends a chain to several nodes, the
 * predecessor arrives by gossip within a batch delay and a hop).
 */
export const PREDECESSOR_WAIT_MS = 1_000;
/** Pause between looks while a submission waits for its predecessor. */
const PREDECESSOR_POLL_MS = 25;

export interface AdmitContext {
  /** Whether the account's previous nonce is in this node's mempool, or undecided or accepted in consensus. */
  predecessorPending(): boolean;
  /** The key of a create_account of this account waiting in this node's mempool, if any. */
  pendingKey(accountHex: string): Uint8Array | null;
}

export type Admit = (bytes: Uint8Array, info: TransactionInfo, o: AdmitContext) => Promise<void>;

interface Clock {
  nowMs: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The exchange ledger's dry run, waiting (without verifying again) for a
 * predecessor on its way. `keys` names the signer's key where this node knows
 * it (then the ledger is not asked for it: LedgerService.check's `signer`).
 */
export function ledgerAdmission(ledger: LedgerService, clock: Clock, keys?: AccountKeys): Admit {
  const sleep = clock.sleep ?? defaultSleep;
  return async (bytes, info, o) => {
    const started = clock.nowMs();
    const { tx } = info;
    const key = tx.kind === "create_account" ? tx.publicKey : keys?.keyOf(toHex(tx.account)) ?? null;
    const signer = key === null ? undefined : { publicKey: key, signingMessage: info.signingMessage };
    for (;;) {
      const out = await ledger.check(bytes, clock.nowMs(), info.id, signer);
      if (out.duplicate || out.code === "ok") return;
      // Too early for the ledger: the previous nonce (or the account's creation) may still be on its
      // way, submitted here or to another node a moment ago. Taken once it is in this node's mempool
      // or consensus (then judged when applied); waited for at most PREDECESSOR_WAIT_MS.
      const early = out.code === "nonce_too_high" || out.code === "unknown_account";
      if (early && o.predecessorPending()) return;
      const waited = clock.nowMs() - started;
      if (!early || waited >= PREDECESSOR_WAIT_MS) {
        const note = early
          ? `; nonce ${info.tx.nonce - 1n} of this account did not reach this node within ${waited} ms`
          : "";
        throw new SubmitError(out.code, out.message + note);
      }
      await sleep(PREDECESSOR_POLL_MS);
    }
  };
}

export interface PlainAdmissionOptions extends Clock {
  keys: AccountKeys;
  verified: VerifiedTxs;
  storage: Storage;
}

/**
 * A chain without the exchange: the account's key is known (its
 * create_account stored or waiting here, or a genesis account), the signature
 * verifies, the nonce is not spent, and its predecessor is accepted or on its
 * way (as for the ledger, waited for at most PREDECESSOR_WAIT_MS).
 */
export function plainAdmission(o: PlainAdmissionOptions): Admit {
  const sleep = o.sleep ?? defaultSleep;
  return async (_bytes, info, ctx) => {
    const { tx } = info;
    const id = toHex(info.id);
    const account = toHex(tx.account);
    if (tx.kind === "create_account" && tx.nonce !== 0n) {
      throw new SubmitError("nonce_too_high", `a create_account has nonce 0, not ${tx.nonce}`);
    }
    if (o.storage.acceptedOfConflict(info.conflictKey) !== null) {
      throw new SubmitError("nonce_too_low", `nonce ${tx.nonce} of this account is spent: another transaction has it`);
    }
    const started = o.nowMs();
    let verified = false;
    for (;;) {
      const key = tx.kind === "create_account" ? tx.publicKey : o.keys.keyOf(account) ?? ctx.pendingKey(account);
      // Without the exchange a nonce n > 0 needs only the account's creation (src/dag/carried.ts): stored, or
      // waiting in the mempool, with the key.
      const predecessorHere = tx.nonce === 0n
        ? tx.kind === "create_account" || o.keys.isGenesisAccount(account)
        : key !== null;
      if (key !== null && !verified) {
        if (!await o.verified.verify(id, key, info.signingMessage, tx.signature)) {
          throw new SubmitError(
            "bad_signature",
            "the transaction's ML-DSA-87 signature does not verify under its account's key",
          );
        }
        verified = true;
      }
      if (key !== null && predecessorHere) return;
      const waited = o.nowMs() - started;
      if (waited >= PREDECESSOR_WAIT_MS || (tx.nonce === 0n && !predecessorHere)) {
        if (key === null) {
          throw new SubmitError(
            "unknown_account",
            `account ${
              account.slice(0, 16)
            }… has no create_account on this node; submit its create_account (nonce 0) first`,
          );
        }
        throw new SubmitError(
          tx.nonce === 0n ? "unknown_account" : "nonce_too_high",
          tx.nonce === 0n
            ? `nonce 0 of account ${account.slice(0, 16)}… must be its create_account`
            : `the account's create_account did not reach this node within ${waited} ms`,
        );
      }
      await sleep(PREDECESSOR_POLL_MS);
    }
  };
}
