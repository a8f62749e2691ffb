/**
 * The crypto layer's face: the backend interface, the three backends and the
 * selection that picks one (see select.ts). Callers normally need only
 * `selectCryptoBackend()` and the types.
 *
 * ```ts
 * const { backend, name, reason } = await selectCryptoBackend({ requested: "auto" });
 * const signer = await backend.mlDsaSigner(seed);
 * const signature = await signer.sign(message);
 * ```
 *
 * The native backend is deliberately not re-exported: it is loaded lazily by
 * selection so that a missing library never breaks an import of this module.
 */

export {
  type BackendCapabilities,
  type BackendName,
  checkLength,
  type CryptoBackend,
  CryptoError,
  type CryptoErrorCode,
  type Encapsulation,
  type KemKeyPair,
  ML_DSA_87,
  ML_KEM,
  type MlDsaSigner,
  type MlDsaVerifier,
  type MlKemLevel,
  type SignOptions,
  type VerifyItem,
} from "./backend.ts";
export { BLAKE3_OUT_BYTES_MAX, createNobleBackend } from "./noble.ts";
export { createWebCryptoBackend, probeWebCrypto, type WebCryptoBackendOptions } from "./webcrypto.ts";
export {
  BACKEND_REQUESTS,
  type BackendProbe,
  type BackendRequest,
  createRoutedBackend,
  isBackendRequest,
  loadBackend,
  selectCryptoBackend,
  type SelectedBackend,
  type SelectOptions,
} from "./select.ts";
