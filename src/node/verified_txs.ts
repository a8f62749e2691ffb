/**
 * Verdicts on transactions' ML-DSA-87 signatures under their account's key.
 * A transaction id is the hash of its signed bytes (signature included) and
 * an account is the hash of its one key, so a verdict, valid or not, never
 * goes stale: the submission check, DAG admission and the exchange ledger
 * share it, and a transaction costs one verification however many times it
 * is looked at, sent again, or sent several times at once (callers asking
 * while it is being verified wait for that verification).
 */
import type { CryptoBackend } from "../crypto/backend.ts";

/**
 * Valid verdicts remembered; the oldest are forgotten first (and verified
 * again if they come back). A verdict is wanted from submission until the
 * ledger applies the transaction, seconds later: 32,768 covers half a minute
 * at 1,000 transfers/s, and costs about 5 MiB, not the 20 it did at 131,072.
 */
const VERIFIED_MAX = 32_768;
/**
 * Invalid verdicts remembered, apart from the valid ones so that a flood of
 * forgeries cannot push honest verdicts out.
 */
const REFUSED_MAX = 16_384;

export class VerifiedTxs {
  readonly #backend: CryptoBackend;
  readonly #valid = new Set<string>();
  readonly #invalid = new Set<string>();
  /** Verifications running now, by transaction id: at most one per id. */
  readonly #running = new Map<string, Promise<boolean>>();

  constructor(backend: CryptoBackend) {
    this.#backend = backend;
  }

  has(txId: string): boolean {
    return this.#valid.has(txId);
  }

  /** Verifies (unless `txId` was verified before or is being verified) and remembers the verdict. */
  verify(txId: string, key: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.#valid.has(txId)) return Promise.resolve(true);
    if (this.#invalid.has(txId)) return Promise.resolve(false);
    let running = this.#running.get(txId);
    if (running === undefined) {
      running = this.#verify(txId, key, message, signature).finally(() => this.#running.delete(txId));
      this.#running.set(txId, running);
    }
    return running;
  }

  async #verify(txId: string, key: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    // A verifier that fails to run throws: no verdict is remembered, the caller decides.
    const ok = await (await this.#backend.mlDsaVerifier(key)).verify(message, signature);
    remember(ok ? this.#valid : this.#invalid, ok ? VERIFIED_MAX : REFUSED_MAX, txId);
    return ok;
  }
}

function remember(set: Set<string>, max: number, id: string): void {
  if (set.size >= max) set.delete(set.values().next().value!);
  set.add(id);
}
