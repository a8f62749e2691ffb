/**
 * The native backend: ML-DSA-87, ML-KEM-768/1024 and BLAKE3 from libqudag_native
 * (Rust, libcrux + blake3, see native/README.md) through `ffi.ts`. It can do every
 * operation of the interface: FIPS 204 contexts, caller-supplied signing
 * randomness, deterministic ML-KEM, batch verification over threads, BLAKE3.
 *
 * Every length is checked here first, so a caller gets a CryptoError naming the
 * value ("ML-DSA-87 public key is 2591 bytes, expected 2592"); the library checks
 * again and its result code is mapped to a CryptoError should anything slip by.
 * Randomness (`rnd`, ML-KEM `m`) is drawn here with crypto.getRandomValues when
 * the caller gives none: the library only ever takes it as an argument.
 *
 * The signer keeps the expanded secret key (computed once from the seed), so a
 * signature costs one Sign, not KeyGen + Sign.
 */

import {
  type BackendCapabilities,
  checkLength,
  type CryptoBackend,
  CryptoError,
  type CryptoErrorCode,
  type Encapsulation,
  type KemKeyPair,
  ML_DSA_87,
  ML_KEM,
  type MlDsaSigner,
  type MlDsaSyncSigner,
  type MlDsaVerifier,
  type MlKemLevel,
  type SignOptions,
  type SyncAes256Gcm,
  type VerifyItem,
} from "./backend.ts";
import {
  describeNativeResult,
  type NativeLibrary,
  NativeResult,
  type NativeSymbols,
  openFastestNative,
} from "./ffi.ts";

/** Largest BLAKE3 extended output one call produces (OUT_BYTES_MAX in native/src/blake3_hash.rs). */
export const NATIVE_BLAKE3_OUT_BYTES_MAX = 1 << 20;
/** Upper bound on worker threads for one batch (THREADS_MAX in native/src/batch.rs). */
export const NATIVE_BATCH_THREADS_MAX = 64;
/** Upper bound on items in one native batch call (ITEMS_MAX in native/src/batch.rs). */
export const NATIVE_BATCH_ITEMS_MAX = 1 << 20;
const ML_DSA_87_SECRET_KEY_BYTES = ML_DSA_87.secretKeyBytes;
/** Bytes before context and message in one packed batch item. */
const BATCH_ITEM_HEADER_BYTES = 4 + 1 + ML_DSA_87.publicKeyBytes + ML_DSA_87.signatureBytes;
const MESSAGE_BYTES_MAX = 0xffff_ffff;

const CAPABILITIES: BackendCapabilities = Object.freeze({
  context: true,
  callerRandomness: true,
  batchThreads: true,
  kemDeterministic: true,
  blake3: true,
});

export interface NativeBackendOptions {
  /** Path of libqudag_native; default `./native/target/release/libqudag_native.so` (its AVX-512 build beside it first). */
  libraryPath?: string;
}

const EMPTY = new Uint8Array(0);

function codeFor(result: number): CryptoErrorCode {
  switch (result) {
    case NativeResult.nullPointer:
    case NativeResult.badLength:
      return "crypto_bad_length";
    case NativeResult.badKey:
      return "crypto_bad_key";
    case NativeResult.cpuUnsupported:
      return "crypto_backend_unavailable";
    default:
      return "crypto_internal";
  }
}

/** Throws unless `result` is ok. */
function check(what: string, result: number): void {
  if (result === NativeResult.ok) return;
  throw new CryptoError(
    codeFor(result),
    `${what} failed in the native library: ${describeNativeResult(result)}`,
  );
}

function checkMessage(what: string, message: Uint8Array): void {
  if (!(message instanceof Uint8Array)) {
    throw new CryptoError("crypto_bad_length", `${what} must be a Uint8Array`);
  }
  if (message.length > MESSAGE_BYTES_MAX) {
    throw new CryptoError(
      "crypto_bad_length",
      `${what} is ${message.length} bytes, at most ${MESSAGE_BYTES_MAX} allowed`,
    );
  }
}

function checkContext(what: string, context: Uint8Array | undefined): Uint8Array {
  if (context === undefined) return EMPTY;
  if (!(context instanceof Uint8Array)) {
    throw new CryptoError("crypto_bad_length", `${what} must be a Uint8Array`);
  }
  if (context.length > ML_DSA_87.contextBytesMax) {
    throw new CryptoError(
      "crypto_bad_length",
      `${what} is ${context.length} bytes, at most ${ML_DSA_87.contextBytesMax} allowed`,
    );
  }
  return context;
}

function checkLevel(level: MlKemLevel): MlKemLevel {
  if (level !== 768 && level !== 1024) {
    throw new CryptoError(
      "crypto_unsupported",
      `ML-KEM level ${String(level)} is not supported, expected 768 or 1024`,
    );
  }
  return level;
}

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

const AES_KEY_BYTES = 32;
const AES_NONCE_BYTES = 12;
const AES_TAG_BYTES = 16;

/** The peer channel's AES-256-GCM on the calling thread (native/src/aead.rs). */
function nativeAes256Gcm(s: NativeSymbols): SyncAes256Gcm {
  /** One call of seal or open (the same parameters): key, nonce and aad checked, `input` into `out`. */
  function call(
    fn: "qudag_aes256gcm_seal" | "qudag_aes256gcm_open",
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
  ): number {
    checkLength("AES-256-GCM key", key, AES_KEY_BYTES);
    checkLength("AES-256-GCM nonce", nonce, AES_NONCE_BYTES);
    const n = (b: Uint8Array) => BigInt(b.length);
    return s[fn](key, n(key), nonce, n(nonce), aad, n(aad), input, n(input), out, n(out));
  }
  /** Opens `sealed` into `plain` (a new buffer, or the start of `sealed` itself): `plain`, or null for a wrong tag. */
  function open<T extends Uint8Array>(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    plain: (length: number) => T,
  ): T | null {
    if (sealed.length <= AES_TAG_BYTES) {
      throw new CryptoError(
        "crypto_bad_length",
        `sealed AES-256-GCM data is ${sealed.length} bytes; it must be longer than its ${AES_TAG_BYTES}-byte tag`,
      );
    }
    const out = plain(sealed.length - AES_TAG_BYTES);
    const result = call("qudag_aes256gcm_open", key, nonce, aad, sealed, out);
    if (result === NativeResult.authenticationFailed) return null;
    check("AES-256-GCM open", result);
    return out;
  }
  return Object.freeze({
    seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array<ArrayBuffer> {
      const sealed = new Uint8Array(plain.length + AES_TAG_BYTES);
      check("AES-256-GCM seal", call("qudag_aes256gcm_seal", key, nonce, aad, plain, sealed));
      return sealed;
    },
    open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null {
      return open(key, nonce, aad, sealed, (length) => new Uint8Array(length));
    },
    // One buffer as input and output: the library works in it (native/src/lib.rs), no copy, no allocation.
    sealInPlace(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array): void {
      if (buf.length <= AES_TAG_BYTES) {
        throw new CryptoError(
          "crypto_bad_length",
          `an AES-256-GCM buffer sealed in place is ${buf.length} bytes; it needs a plaintext and ${AES_TAG_BYTES} more`,
        );
      }
      const plain = buf.subarray(0, buf.length - AES_TAG_BYTES);
      check("AES-256-GCM seal", call("qudag_aes256gcm_seal", key, nonce, aad, plain, buf));
    },
    openInPlace(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array): Uint8Array | null {
      return open(key, nonce, aad, buf, (length) => buf.subarray(0, length));
    },
  });
}

/** Turns a synchronous throw into a rejected promise, as the async interface promises. */
function attempt<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

function verifyOne(
  symbols: NativeSymbols,
  publicKey: Uint8Array,
  message: Uint8Array,
  context: Uint8Array,
  signature: Uint8Array,
): boolean {
  const result = symbols.qudag_mldsa87_verify(
    publicKey,
    BigInt(publicKey.length),
    message,
    BigInt(message.length),
    context,
    BigInt(context.length),
    signature,
    BigInt(signature.length),
  );
  if (result === NativeResult.ok) return true;
  if (result === NativeResult.invalidSignature) return false;
  check("ML-DSA-87 verify", result);
  return false;
}

function checkVerifyInputs(
  prefix: string,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  context: Uint8Array | undefined,
): Uint8Array {
  checkLength(`${prefix}ML-DSA-87 public key`, publicKey, ML_DSA_87.publicKeyBytes);
  checkLength(`${prefix}ML-DSA-87 signature`, signature, ML_DSA_87.signatureBytes);
  checkMessage(`${prefix}message`, message);
  return checkContext(`${prefix}context`, context);
}

/** Packs a batch in the layout `qudag_mldsa87_verify_batch` reads (see native/src/batch.rs). */
function packBatch(items: VerifyItem[], contexts: Uint8Array[]): Uint8Array {
  let total = 0;
  items.forEach((item, i) => total += BATCH_ITEM_HEADER_BYTES + contexts[i].length + item.message.length);
  const packed = new Uint8Array(total);
  const view = new DataView(packed.buffer);
  let offset = 0;
  items.forEach((item, i) => {
    const context = contexts[i];
    view.setUint32(offset, item.message.length, true);
    packed[offset + 4] = context.length;
    offset += 5;
    packed.set(item.publicKey, offset);
    offset += ML_DSA_87.publicKeyBytes;
    packed.set(item.signature, offset);
    offset += ML_DSA_87.signatureBytes;
    packed.set(context, offset);
    offset += context.length;
    packed.set(item.message, offset);
    offset += item.message.length;
  });
  return packed;
}

/**
 * Touches buffers after an awaited nonblocking call. Deno hands a nonblocking
 * call raw pointers to them and does not keep them alive itself, so each must
 * stay reachable until the native thread is done with it.
 */
function keepAlive(...buffers: Uint8Array[]): void {
  for (const buffer of buffers) {
    if (buffer.byteLength < 0) throw new Error("unreachable");
  }
}

function defaultThreads(): number {
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 1;
  return Number.isInteger(cores) && cores > 0 ? cores : 1;
}

/** Builds the backend on an already opened library (tests and the bench use this). */
export function createNativeBackendFrom(library: NativeLibrary): CryptoBackend {
  const s = library.symbols;

  function kemSizes(level: MlKemLevel) {
    return ML_KEM[checkLevel(level)];
  }

  /** Public key and expanded secret key from a seed; the secret stays in the caller's closure. */
  function keygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
    checkLength("ML-DSA-87 seed", seed, ML_DSA_87.seedBytes);
    const publicKey = new Uint8Array(ML_DSA_87.publicKeyBytes);
    const secretKey = new Uint8Array(ML_DSA_87_SECRET_KEY_BYTES);
    check(
      "ML-DSA-87 keygen",
      s.qudag_mldsa87_keygen(
        seed,
        BigInt(seed.length),
        publicKey,
        BigInt(publicKey.length),
        secretKey,
        BigInt(secretKey.length),
      ),
    );
    return { publicKey, secretKey };
  }

  const backend: CryptoBackend = {
    name: "native",
    build: library.build,
    capabilities: CAPABILITIES,
    aes256Gcm: nativeAes256Gcm(s),

    mlDsaSigner(seed: Uint8Array): Promise<MlDsaSigner> {
      return attempt(() => {
        const { publicKey, secretKey } = keygen(seed);
        return Object.freeze({
          publicKey,
          sign(message: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
            return attempt(async () => {
              checkMessage("message", message);
              // Copies: the call runs on another thread while the caller may reuse its buffers.
              const context = checkContext("context", options.context).slice();
              let rnd: Uint8Array;
              if (options.rnd === undefined) {
                rnd = randomBytes(ML_DSA_87.rndBytes);
              } else {
                checkLength("ML-DSA-87 rnd", options.rnd, ML_DSA_87.rndBytes);
                rnd = options.rnd.slice();
              }
              const ownMessage = message.slice();
              const signature = new Uint8Array(ML_DSA_87.signatureBytes);
              const result = await s.qudag_mldsa87_sign(
                secretKey,
                BigInt(secretKey.length),
                ownMessage,
                BigInt(ownMessage.length),
                context,
                BigInt(context.length),
                rnd,
                BigInt(rnd.length),
                signature,
                BigInt(signature.length),
              );
              keepAlive(secretKey, ownMessage, context, rnd, signature);
              check("ML-DSA-87 sign", result);
              return signature;
            });
          },
        });
      });
    },

    mlDsaSyncSigner(seed: Uint8Array): MlDsaSyncSigner {
      const { publicKey, secretKey } = keygen(seed);
      const noContext = new Uint8Array(0);
      return Object.freeze({
        publicKey,
        sign(message: Uint8Array): Uint8Array {
          checkMessage("message", message);
          const rnd = randomBytes(ML_DSA_87.rndBytes);
          const signature = new Uint8Array(ML_DSA_87.signatureBytes);
          check(
            "ML-DSA-87 sign",
            s.qudag_mldsa87_sign_sync(
              secretKey,
              BigInt(secretKey.length),
              message,
              BigInt(message.length),
              noContext,
              0n,
              rnd,
              BigInt(rnd.length),
              signature,
              BigInt(signature.length),
            ),
          );
          return signature;
        },
      });
    },

    mlDsaVerifier(publicKey: Uint8Array): Promise<MlDsaVerifier> {
      return attempt(() => {
        checkLength("ML-DSA-87 public key", publicKey, ML_DSA_87.publicKeyBytes);
        const ownPublicKey = new Uint8Array(publicKey);
        return Object.freeze({
          publicKey: ownPublicKey,
          verify(message: Uint8Array, signature: Uint8Array, context?: Uint8Array): Promise<boolean> {
            return attempt(() => {
              const ctx = checkVerifyInputs("", ownPublicKey, message, signature, context);
              return verifyOne(s, ownPublicKey, message, ctx, signature);
            });
          },
        });
      });
    },

    mlDsaVerifyBatch(items: VerifyItem[], threads?: number): Promise<boolean[]> {
      return attempt(async () => {
        if (!Array.isArray(items)) {
          throw new CryptoError("crypto_bad_length", "batch items must be an array");
        }
        if (items.length > NATIVE_BATCH_ITEMS_MAX) {
          throw new CryptoError(
            "crypto_bad_length",
            `batch has ${items.length} items, at most ${NATIVE_BATCH_ITEMS_MAX} allowed per call`,
          );
        }
        // Validate everything first so a bad item fails the batch before any work.
        const contexts = items.map((item, index) =>
          checkVerifyInputs(`item ${index}: `, item.publicKey, item.message, item.signature, item.context)
        );
        if (items.length === 0) return [];
        const threadCount = Math.min(
          NATIVE_BATCH_THREADS_MAX,
          Math.max(1, Math.floor(threads ?? defaultThreads()) || 1),
        );
        const packed = packBatch(items, contexts);
        const results = new Uint8Array(items.length);
        const result = await s.qudag_mldsa87_verify_batch(
          packed,
          BigInt(packed.length),
          BigInt(items.length),
          threadCount,
          results,
          BigInt(results.length),
        );
        keepAlive(packed, results);
        check("ML-DSA-87 batch verify", result);
        return Array.from(results, (r) => r === 1);
      });
    },

    mlKemKeygen(level: MlKemLevel, d: Uint8Array, z: Uint8Array): Promise<KemKeyPair> {
      return attempt(() => {
        const sizes = kemSizes(level);
        checkLength("ML-KEM d", d, 32);
        checkLength("ML-KEM z", z, 32);
        const encapsulationKey = new Uint8Array(sizes.encapsulationKeyBytes);
        const decapsulationKey = new Uint8Array(sizes.decapsulationKeyBytes);
        check(
          `ML-KEM-${level} keygen`,
          s.qudag_mlkem_keygen(
            level,
            d,
            BigInt(d.length),
            z,
            BigInt(z.length),
            encapsulationKey,
            BigInt(encapsulationKey.length),
            decapsulationKey,
            BigInt(decapsulationKey.length),
          ),
        );
        return { encapsulationKey, decapsulationKey };
      });
    },

    mlKemEncaps(level: MlKemLevel, encapsulationKey: Uint8Array, m?: Uint8Array): Promise<Encapsulation> {
      return attempt(() => {
        const sizes = kemSizes(level);
        checkLength(`ML-KEM-${level} encapsulation key`, encapsulationKey, sizes.encapsulationKeyBytes);
        if (m !== undefined) checkLength("ML-KEM m", m, ML_KEM.messageBytes);
        const message = m ?? randomBytes(ML_KEM.messageBytes);
        const ciphertext = new Uint8Array(sizes.ciphertextBytes);
        const sharedKey = new Uint8Array(ML_KEM.sharedKeyBytes);
        const result = s.qudag_mlkem_encaps(
          level,
          encapsulationKey,
          BigInt(encapsulationKey.length),
          message,
          BigInt(message.length),
          ciphertext,
          BigInt(ciphertext.length),
          sharedKey,
          BigInt(sharedKey.length),
        );
        if (result === NativeResult.badKey) {
          throw new CryptoError(
            "crypto_bad_key",
            `ML-KEM-${level} encapsulation key fails the FIPS 203 modulus check`,
          );
        }
        check(`ML-KEM-${level} encapsulate`, result);
        return { ciphertext, sharedKey };
      });
    },

    mlKemDecaps(level: MlKemLevel, decapsulationKey: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
      return attempt(() => {
        const sizes = kemSizes(level);
        checkLength(`ML-KEM-${level} decapsulation key`, decapsulationKey, sizes.decapsulationKeyBytes);
        checkLength(`ML-KEM-${level} ciphertext`, ciphertext, sizes.ciphertextBytes);
        const sharedKey = new Uint8Array(ML_KEM.sharedKeyBytes);
        const result = s.qudag_mlkem_decaps(
          level,
          decapsulationKey,
          BigInt(decapsulationKey.length),
          ciphertext,
          BigInt(ciphertext.length),
          sharedKey,
          BigInt(sharedKey.length),
        );
        if (result === NativeResult.badKey) {
          throw new CryptoError(
            "crypto_bad_key",
            `ML-KEM-${level} decapsulation key fails the FIPS 203 hash check: H(ek) does not match the embedded ek`,
          );
        }
        check(`ML-KEM-${level} decapsulate`, result);
        return sharedKey;
      });
    },

    blake3(data: Uint8Array, outBytes = 32): Uint8Array {
      if (!(data instanceof Uint8Array)) {
        throw new CryptoError("crypto_bad_length", "data must be a Uint8Array");
      }
      if (!Number.isInteger(outBytes) || outBytes < 1 || outBytes > NATIVE_BLAKE3_OUT_BYTES_MAX) {
        throw new CryptoError(
          "crypto_bad_length",
          `BLAKE3 output length is ${outBytes}, expected an integer from 1 to ${NATIVE_BLAKE3_OUT_BYTES_MAX}`,
        );
      }
      const out = new Uint8Array(outBytes);
      check("BLAKE3", s.qudag_blake3_hash(data, BigInt(data.length), out, BigInt(out.length)));
      return out;
    },

    releaseFreeMemory() {
      const r = s.qudag_malloc_trim();
      return r === 1 ? "released" : r === 0 ? "none" : "unsupported";
    },
  };
  return Object.freeze(backend);
}

/**
 * Opens libqudag_native (its fastest build that runs here) and returns the native backend. Throws a CryptoError with
 * code `crypto_backend_unavailable` (and the loader's error as `cause`) saying why
 * when the library is missing, not permitted, of another ABI version or unable to
 * run on this CPU. This is the contract `select.ts` relies on.
 */
export function createNativeBackend(options: NativeBackendOptions = {}): CryptoBackend {
  const opened = openFastestNative(options.libraryPath);
  if (!opened.ok) {
    throw new CryptoError("crypto_backend_unavailable", opened.reason, { cause: opened.cause });
  }
  return createNativeBackendFrom(opened.library);
}
