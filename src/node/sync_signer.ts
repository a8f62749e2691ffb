/**
 * The consensus engine signs votes and vertices inside its message handlers
 * and owns no promises, so it needs a synchronous ML-DSA-87 signer: the
 * native library's (~0.3 ms) when it is loaded, else the pure-JS one (~10 ms).
 */
import type { CryptoBackend, MlDsaSyncSigner } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble.ts";

export type SyncSigner = MlDsaSyncSigner;

export function createSyncSigner(backend: CryptoBackend, seed: Uint8Array): SyncSigner {
  return (backend.mlDsaSyncSigner ? backend : createNobleBackend()).mlDsaSyncSigner!(seed);
}
