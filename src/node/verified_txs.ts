/**
 * Transactions whose ML-DSA-87 signature verified under their account's key.
 * A transaction id is the hash of its signed bytes (signature included) and
 * an account's key never changes, so a verdict of "valid" never goes stale:
 * the submission check, DAG admission and the exchange ledger share it, and a
 * transaction costs one verification however many times it is looked at.
 */
import type { CryptoBackend } from "../crypto/backend.ts";

/** Ids remembered; the oldest are forgotten first (and verified again if they come back). */
const VERIFIED_MAX = 131_072;

export class VerifiedTxs {
  readonly #backend: CryptoBackend;
  readonly #ids = new Set<string>();

  constructor(backend: CryptoBackend) {
    this.#backend = backend;
  }

  has(txId: string): boolean {
    return this.#ids.has(txId);
  }

  /** Verifies (unless `txId` verified before) and remembers a success. */
  async verify(txId: string, key: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.#ids.has(txId)) return true;
    const ok = await (await this.#backend.mlDsaVerifier(key)).verify(message, signature);
    if (ok) {
      if (this.#ids.size >= VERIFIED_MAX) this.#ids.delete(this.#ids.values().next().value!);
      this.#ids.add(txId);
    }
    return ok;
  }
}
