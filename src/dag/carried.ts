/**
 * The rules a vertex's transactions must keep before the vertex may enter
 * consensus, in every chain (with or without the exchange ledger):
 *
 * - keys: a transaction's account is the BLAKE3-256 of one ML-DSA-87 key; that
 *   key comes from the account's `create_account` (earlier in the same vertex,
 *   or stored here) or from the genesis. No key: `tx_unknown_account`.
 * - signatures: each verifies under that key (`tx_bad_signature`).
 * - order: nonce 0 is the account's `create_account`, or any transaction of a
 *   genesis account; a nonce n > 0 needs, earlier in the same vertex or in the
 *   vertex's causal past, the account's nonce n − 1 where the exchange ledger
 *   runs ("sequential": its nonces are a chain), else its nonce 0 (the
 *   account's creation, which holds its key) (`tx_out_of_order`).
 *
 * Without them a Byzantine validator could carry a forged or out-of-order
 * transaction, let it win its (account, nonce) conflict set, and leave the
 * account stuck: every ledger refuses that transaction without consuming the
 * nonce, while consensus has spent the nonce's conflict key for good; and in
 * a chain without the exchange anyone could spend other accounts' nonces.
 *
 * Pure: lookups, the causal-past question and verification are passed in.
 * The order rule reads only the vertex and its causal past, so every honest
 * node reaches the same verdict on the same vertex.
 */
import type { VertexInfo } from "../core/mod.ts";
import { toHex } from "../keys/mod.ts";
import { conflictKeyOf } from "./conflict_key.ts";

/** What the rules read of one carried transaction (the core decoded and checked its structure). */
export interface CarriedTx {
  readonly id: string;
  /** Hex account id. */
  readonly account: string;
  readonly nonce: bigint;
  /** Its conflict key (account, nonce): stored with it, and asked of consensus, once per vertex each. */
  readonly conflictKey: string;
  /** The account's key when the transaction is its `create_account` (the core checked the id is its hash). */
  readonly createsKey: Uint8Array | null;
  readonly signingMessage: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The carried transactions of a decoded vertex, as these rules read them: the
 * core decoded each with its vertex (no second decode). A signing message is
 * built only when a signature is checked (it was not verified before).
 */
export function decodeCarried(info: VertexInfo): CarriedTx[] {
  return info.txs.map((tx, i) => {
    const account = toHex(tx.account);
    return {
      id: toHex(info.transactionIds[i]),
      account,
      nonce: tx.nonce,
      conflictKey: conflictKeyOf(account, tx.nonce),
      createsKey: tx.createsKey,
      get signingMessage() {
        return tx.signingMessage;
      },
      signature: tx.signature,
    };
  });
}

/** Each is also a vertex refusal reason of src/dag/admission.ts. */
export type CarriedRefusalReason = "tx_unknown_account" | "tx_bad_signature" | "tx_out_of_order";

export interface CarriedRefusal {
  readonly reason: CarriedRefusalReason;
  readonly txId: string;
  readonly message: string;
}

/** Where a transaction's key was found; null for none known here. */
export type KeyLookup = (accountHex: string) => Uint8Array | null;

/**
 * The key of each transaction: its own (create_account), an earlier
 * create_account of the same vertex, or `lookup`. An entry is null where no
 * key is known yet (the create_account may be in a parent still missing).
 */
export function carriedKeys(txs: readonly CarriedTx[], lookup: KeyLookup): (Uint8Array | null)[] {
  const created = new Map<string, Uint8Array>();
  return txs.map((tx) => {
    if (tx.createsKey !== null) {
      if (!created.has(tx.account)) created.set(tx.account, tx.createsKey);
      return tx.createsKey;
    }
    return created.get(tx.account) ?? lookup(tx.account);
  });
}

/** The refusal for the first transaction without a key, or null when every one has one. */
export function firstUnknownAccount(
  txs: readonly CarriedTx[],
  keys: readonly (Uint8Array | null)[],
): CarriedRefusal | null {
  const i = keys.findIndex((k) => k === null);
  if (i < 0) return null;
  return {
    reason: "tx_unknown_account",
    txId: txs[i].id,
    message: `transaction ${txs[i].id} is from account ${txs[i].account.slice(0, 16)}…, ` +
      "which no create_account in its causal past and no genesis account holds",
  };
}

/**
 * Verifies every signature whose key is known (all at once; the verifier may
 * batch them). The refusal for the first that fails, or null.
 */
export async function firstBadSignature(
  txs: readonly CarriedTx[],
  keys: readonly (Uint8Array | null)[],
  verify: (tx: CarriedTx, key: Uint8Array) => Promise<boolean>,
): Promise<CarriedRefusal | null> {
  const verdicts = await Promise.all(
    txs.map((tx, i) => keys[i] === null ? Promise.resolve(true) : verify(tx, keys[i]!)),
  );
  const i = verdicts.findIndex((ok) => !ok);
  if (i < 0) return null;
  return {
    reason: "tx_bad_signature",
    txId: txs[i].id,
    message: `transaction ${txs[i].id}'s ML-DSA-87 signature does not verify under its account's key`,
  };
}

export interface OrderContext {
  /** Nonces form a chain (n needs n − 1), as the exchange ledger applies them; else n > 0 needs nonce 0. */
  readonly sequential: boolean;
  /** Accounts the genesis creates (their nonce 0 may be any transaction). */
  readonly isGenesisAccount: (accountHex: string) => boolean;
  /** Whether a transaction with this conflict key is carried in the vertex's causal past. */
  readonly carriedInPast: (conflictKey: string) => boolean;
}

/** The refusal for the first transaction whose nonce's predecessor is not before it, or null. */
export function firstOutOfOrder(txs: readonly CarriedTx[], ctx: OrderContext): CarriedRefusal | null {
  const earlier = new Set<string>();
  for (const tx of txs) {
    const refusal = (why: string): CarriedRefusal => ({
      reason: "tx_out_of_order",
      txId: tx.id,
      message: `transaction ${tx.id} (account ${tx.account.slice(0, 16)}…, nonce ${tx.nonce}) ${why}`,
    });
    if (tx.createsKey !== null && tx.nonce !== 0n) return refusal("creates an account, which only nonce 0 may do");
    if (tx.nonce === 0n) {
      if (tx.createsKey === null && !ctx.isGenesisAccount(tx.account)) {
        return refusal("is not the account's create_account, which nonce 0 must be");
      }
    } else {
      const needed = requiredNonce(tx.nonce, ctx.sequential);
      const genesisAccount = !ctx.sequential && ctx.isGenesisAccount(tx.account);
      if (
        !genesisAccount && !earlier.has(`${tx.account}:${needed}`) &&
        !ctx.carriedInPast(conflictKeyOf(tx.account, needed))
      ) {
        return refusal(`needs nonce ${needed} earlier in its vertex or in the vertex's causal past`);
      }
    }
    earlier.add(`${tx.account}:${tx.nonce}`);
  }
  return null;
}

/** The nonce a transaction with nonce `nonce` > 0 needs before it (see the module comment). */
export function requiredNonce(nonce: bigint, sequential: boolean): bigint {
  return sequential ? nonce - 1n : 0n;
}
