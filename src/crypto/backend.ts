/**
 * The crypto backend interface. Three implementations satisfy it: native (Rust
 * cdylib over FFI), WebCrypto (built into Deno) and noble (pure JS). All of them
 * must agree byte for byte wherever the operation is deterministic; the shared
 * conformance suite in tests/ proves it.
 *
 * Key representation shared by every backend:
 * - ML-DSA-87 secret keys are the 32-byte FIPS 204 seed (xi); the expanded key
 *   never leaves a backend. Public keys are 2,592 bytes, signatures 4,627 bytes.
 * - ML-KEM keys, ciphertexts and decapsulation keys are the FIPS 203 encodings
 *   (the expanded dk, 2,400 / 3,168 bytes). A backend that cannot import an
 *   expanded dk (WebCrypto imports only the 64-byte seed) may keep the keys it
 *   generated itself and must throw crypto_unsupported for any other.
 */

export type BackendName = "native" | "webcrypto" | "noble";

export const ML_DSA_87 = Object.freeze({
  seedBytes: 32,
  publicKeyBytes: 2592,
  secretKeyBytes: 4896,
  signatureBytes: 4627,
  contextBytesMax: 255,
  rndBytes: 32,
});

export type MlKemLevel = 768 | 1024;

export const ML_KEM = Object.freeze({
  768: Object.freeze({
    encapsulationKeyBytes: 1184,
    decapsulationKeyBytes: 2400,
    ciphertextBytes: 1088,
  }),
  1024: Object.freeze({
    encapsulationKeyBytes: 1568,
    decapsulationKeyBytes: 3168,
    ciphertextBytes: 1568,
  }),
  seedBytes: 64,
  messageBytes: 32,
  sharedKeyBytes: 32,
});

/** Stable codes for every crypto failure a caller can cause. */
export type CryptoErrorCode =
  | "crypto_bad_length"
  | "crypto_bad_key"
  | "crypto_unsupported"
  | "crypto_backend_unavailable"
  | "crypto_internal";

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CryptoError";
    this.code = code;
  }
}

/** Throws a CryptoError naming the value when `bytes` does not have `expected` length. */
export function checkLength(
  what: string,
  bytes: Uint8Array,
  expected: number,
): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new CryptoError("crypto_bad_length", `${what} must be a Uint8Array`);
  }
  if (bytes.length !== expected) {
    throw new CryptoError(
      "crypto_bad_length",
      `${what} is ${bytes.length} bytes, expected ${expected}`,
    );
  }
}

export interface SignOptions {
  /** FIPS 204 context string, at most 255 bytes. Empty when omitted. */
  context?: Uint8Array;
  /**
   * 32 bytes of signing randomness (FIPS 204 `rnd`). All zeros gives the
   * deterministic variant. When omitted the backend draws fresh randomness.
   */
  rnd?: Uint8Array;
}

export interface MlDsaSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array, options?: SignOptions): Promise<Uint8Array>;
}

/** A parsed public key; reusing it for many verifications is what pays off. */
/**
 * A signer that answers at once, for callers that cannot await (the
 * consensus engine signs votes and vertices inside its message handlers).
 */
export interface MlDsaSyncSigner {
  readonly publicKey: Uint8Array;
  /** Hedged signing with fresh randomness, empty context. */
  sign(message: Uint8Array): Uint8Array;
}

export interface MlDsaVerifier {
  readonly publicKey: Uint8Array;
  /** false for a signature that does not verify; throws CryptoError for wrong lengths. */
  verify(
    message: Uint8Array,
    signature: Uint8Array,
    context?: Uint8Array,
  ): Promise<boolean>;
}

export interface VerifyItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  context?: Uint8Array;
}

export interface KemKeyPair {
  encapsulationKey: Uint8Array;
  decapsulationKey: Uint8Array;
}

export interface Encapsulation {
  ciphertext: Uint8Array;
  sharedKey: Uint8Array;
}

export interface BackendCapabilities {
  /** Accepts a non-empty FIPS 204 context string. */
  context: boolean;
  /** Accepts caller-supplied `rnd` (so deterministic signing is possible). */
  callerRandomness: boolean;
  /** Batch verification spread over threads. */
  batchThreads: boolean;
  /** Encaps with a caller-supplied message m and keygen from (d, z). */
  kemDeterministic: boolean;
  blake3: boolean;
}

/**
 * AES-256-GCM computed synchronously on the calling thread (the peer channel's frames). The sealed
 * form is ciphertext ‖ 16-byte tag, as WebCrypto produces it, so either side of a channel may use
 * WebCrypto instead.
 */
export interface SyncAes256Gcm {
  /** ciphertext ‖ tag of `plain` under a 32-byte key and a 12-byte nonce, authenticating `aad`. */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array<ArrayBuffer>;
  /** The plaintext of `sealed`, or null when its tag does not match. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null;
  /** Seals in place: `buf` holds the plaintext and 16 spare bytes after it, then ciphertext ‖ tag. */
  sealInPlace(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array): void;
  /**
   * Opens in place: `buf` holds ciphertext ‖ tag; returns the plaintext, a view of `buf`'s start,
   * or null when the tag does not match (those bytes are then zeros).
   */
  openInPlace(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array): Uint8Array | null;
}

export interface CryptoBackend {
  readonly name: BackendName;
  /** The native library's build ("x86-64-v4", "x86-64-v3", …); absent for the other backends. */
  readonly build?: string;
  readonly capabilities: BackendCapabilities;

  mlDsaSigner(seed: Uint8Array): Promise<MlDsaSigner>;
  /** A synchronous signer, where the backend can sign without awaiting (native, noble; not WebCrypto). */
  mlDsaSyncSigner?(seed: Uint8Array): MlDsaSyncSigner;
  mlDsaVerifier(publicKey: Uint8Array): Promise<MlDsaVerifier>;
  /** One result per item, in order. `threads` is a hint; 1 means the calling thread. */
  mlDsaVerifyBatch(items: VerifyItem[], threads?: number): Promise<boolean[]>;

  /** Key pair from the 32-byte d and 32-byte z of FIPS 203. */
  mlKemKeygen(level: MlKemLevel, d: Uint8Array, z: Uint8Array): Promise<KemKeyPair>;
  /** `m` (32 bytes) makes encapsulation deterministic; omitted draws it fresh. */
  mlKemEncaps(
    level: MlKemLevel,
    encapsulationKey: Uint8Array,
    m?: Uint8Array,
  ): Promise<Encapsulation>;
  mlKemDecaps(
    level: MlKemLevel,
    decapsulationKey: Uint8Array,
    ciphertext: Uint8Array,
  ): Promise<Uint8Array>;

  /** BLAKE3-256 (or `outBytes` of extended output). Only when capabilities.blake3. */
  blake3?(data: Uint8Array, outBytes?: number): Uint8Array;
  /** Synchronous AES-256-GCM, where the backend has it (native); callers fall back to WebCrypto. */
  readonly aes256Gcm?: SyncAes256Gcm;
  /**
   * Gives the C heap's free memory back to the OS, where the backend can (native, on glibc):
   * "released", "none" (nothing was free) or "unsupported". See src/node/memory_trim.ts.
   */
  releaseFreeMemory?(): "released" | "none" | "unsupported";
}
