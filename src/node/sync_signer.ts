/**
 * A synchronous ML-DSA-87 signer for the consensus engine, which signs votes
 * and vertices inside its message handlers and owns no promises. It uses the
 * pure-JS implementation over the identity seed (the CryptoBackend interface
 * is asynchronous); the seed stays in this closure and is never exported.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";

export interface SyncSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export function createSyncSigner(seed: Uint8Array): SyncSigner {
  const { publicKey, secretKey } = ml_dsa87.keygen(seed);
  return {
    publicKey,
    // Hedged signing (fresh randomness), as FIPS 204 recommends for a long-lived key.
    sign: (message) => ml_dsa87.sign(message, secretKey),
  };
}
