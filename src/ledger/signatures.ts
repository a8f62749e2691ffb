import { type Ledger, ML_DSA_87_SIGNATURE_BYTES, type VertexInfo } from "../core/mod.ts";
import type { AsyncSignatureVerifier } from "./types.ts";

/**
 * Signature verdicts for the transactions of `info`. The key comes from
 * `prepare` (the account's registered key) or, for an account created earlier
 * in the same vertex, from that create_account: an account id is the hash of
 * its key, so either is the one key the account can have. No key, an earlier
 * receipt (apply returns the receipt again without looking at the verdict) or
 * a settled one (not applied at all): false.
 *
 * A transaction that `verifiedBefore` names (its id is the hash of its signed
 * bytes, and it verified under its account's one key) is true without
 * `prepare`: where `prepare` would find no key, the core refuses it as an
 * unknown account before it reads the verdict, and it ignores the verdict of
 * one with a receipt, so the outcome is the same on every node whether or not
 * it remembers the verdict.
 */
export async function verifyAll(
  ledger: Ledger,
  verify: AsyncSignatureVerifier,
  info: VertexInfo,
  txIds: readonly string[],
  settled: readonly boolean[],
  verifiedBefore: (txId: string) => boolean = () => false,
): Promise<boolean[]> {
  const created = new Map<string, Uint8Array>();
  const checks = info.vertex.transactions.map((tx, i): Promise<boolean> => {
    if (settled[i]) return Promise.resolve(false);
    const carried = info.txs[i];
    if (carried.createsKey !== null) {
      const account = carried.account.toHex();
      if (!created.has(account)) created.set(account, carried.createsKey);
    }
    if (verifiedBefore(txIds[i])) return Promise.resolve(true);
    const p = ledger.prepare(tx, info.transactionIds[i]);
    const key = p.publicKey ?? created.get(p.account.toHex());
    if (p.receipt !== undefined || key === undefined) return Promise.resolve(false);
    // A verifier that fails to run rejects, and the service halts: recording
    // bad_signature for a backend fault would diverge from the other nodes.
    return verifySignature(verify, tx, key, p.signingMessage, p.id.toHex());
  });
  return await Promise.all(checks);
}

/** The signed encoding ends with the signature (the core's applyVerified reads it the same way). */
export function verifySignature(
  verify: AsyncSignatureVerifier,
  tx: Uint8Array,
  key: Uint8Array,
  signingMessage: Uint8Array,
  txId: string,
): Promise<boolean> {
  return verify(key, signingMessage, tx.subarray(tx.length - ML_DSA_87_SIGNATURE_BYTES), txId);
}
