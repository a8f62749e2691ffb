import { type Ledger, ML_DSA_87_SIGNATURE_BYTES } from "../core/mod.ts";
import type { AsyncSignatureVerifier } from "./types.ts";

/**
 * Signature verdicts for `txs`. The key comes from `prepare` (the account's
 * registered key) or, for an account created earlier in the same vertex,
 * from that create_account: an account id is the hash of its key, so either
 * is the one key the account can have. No key, an earlier receipt (apply
 * returns the receipt again without looking at the verdict) or a settled
 * one (not applied at all): false.
 */
export async function verifyAll(
  ledger: Ledger,
  verify: AsyncSignatureVerifier,
  txs: readonly Uint8Array[],
  settled: readonly boolean[],
): Promise<boolean[]> {
  const created = new Map<string, Uint8Array>();
  const checks = txs.map((tx, i): Promise<boolean> => {
    if (settled[i]) return Promise.resolve(false);
    const p = ledger.prepare(tx);
    const account = p.account.toHex();
    if (p.kind === "create_account" && p.publicKey !== undefined && !created.has(account)) {
      created.set(account, p.publicKey);
    }
    const key = p.publicKey ?? created.get(account);
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
