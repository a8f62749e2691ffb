/**
 * The noble backend: pure JavaScript (@noble/post-quantum, @noble/hashes), so it
 * runs anywhere and can do every operation: FIPS 204 contexts, caller-supplied
 * signing randomness, deterministic ML-KEM and BLAKE3. It is the slowest backend
 * (~10x behind WebCrypto) and the fallback for what the others cannot do.
 */

import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem1024, ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { blake3 } from "@noble/hashes/blake3.js";
import {
  type BackendCapabilities,
  checkLength,
  type CryptoBackend,
  CryptoError,
  type Encapsulation,
  type KemKeyPair,
  ML_DSA_87,
  ML_KEM,
  type MlDsaSigner,
  type MlDsaSyncSigner,
  type MlDsaVerifier,
  type MlKemLevel,
  type SignOptions,
  type VerifyItem,
} from "./backend.ts";

/** Largest BLAKE3 extended output this backend produces in one call. */
export const BLAKE3_OUT_BYTES_MAX = 1 << 20;

const CAPABILITIES: BackendCapabilities = Object.freeze({
  context: true,
  callerRandomness: true,
  batchThreads: false,
  kemDeterministic: true,
  blake3: true,
});

function kem(level: MlKemLevel): typeof ml_kem768 {
  if (level === 768) return ml_kem768;
  if (level === 1024) return ml_kem1024;
  throw new CryptoError(
    "crypto_unsupported",
    `ML-KEM level ${String(level)} is not supported, expected 768 or 1024`,
  );
}

function checkMessage(message: Uint8Array): void {
  if (!(message instanceof Uint8Array)) {
    throw new CryptoError("crypto_bad_length", "message must be a Uint8Array");
  }
}

function checkContext(context: Uint8Array | undefined): void {
  if (context === undefined) return;
  if (!(context instanceof Uint8Array)) {
    throw new CryptoError("crypto_bad_length", "context must be a Uint8Array");
  }
  if (context.length > ML_DSA_87.contextBytesMax) {
    throw new CryptoError(
      "crypto_bad_length",
      `context is ${context.length} bytes, at most ${ML_DSA_87.contextBytesMax} allowed`,
    );
  }
}

function internalError(what: string, cause: unknown): CryptoError {
  if (cause instanceof CryptoError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CryptoError("crypto_internal", `${what} failed: ${detail}`, {
    cause,
  });
}

function verifyOne(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  context: Uint8Array | undefined,
): boolean {
  try {
    return ml_dsa87.verify(signature, message, publicKey, {
      context: context ?? new Uint8Array(0),
    });
  } catch (cause) {
    throw internalError("noble ML-DSA-87 verify", cause);
  }
}

function checkVerifyInputs(
  prefix: string,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  context: Uint8Array | undefined,
): void {
  checkLength(
    `${prefix}ML-DSA-87 public key`,
    publicKey,
    ML_DSA_87.publicKeyBytes,
  );
  checkLength(
    `${prefix}ML-DSA-87 signature`,
    signature,
    ML_DSA_87.signatureBytes,
  );
  checkMessage(message);
  checkContext(context);
}

export function createNobleBackend(): CryptoBackend {
  return Object.freeze({
    name: "noble",
    capabilities: CAPABILITIES,

    mlDsaSyncSigner(seed: Uint8Array): MlDsaSyncSigner {
      checkLength("ML-DSA-87 seed", seed, ML_DSA_87.seedBytes);
      const { publicKey, secretKey } = ml_dsa87.keygen(seed);
      return Object.freeze({ publicKey, sign: (message: Uint8Array) => ml_dsa87.sign(message, secretKey) });
    },

    mlDsaSigner(seed: Uint8Array): Promise<MlDsaSigner> {
      try {
        checkLength("ML-DSA-87 seed", seed, ML_DSA_87.seedBytes);
        let keys: { publicKey: Uint8Array; secretKey: Uint8Array };
        try {
          keys = ml_dsa87.keygen(seed);
        } catch (cause) {
          throw internalError("noble ML-DSA-87 keygen", cause);
        }
        const { publicKey, secretKey } = keys;
        return Promise.resolve(Object.freeze({
          publicKey,
          sign(
            message: Uint8Array,
            options: SignOptions = {},
          ): Promise<Uint8Array> {
            try {
              checkMessage(message);
              checkContext(options.context);
              if (options.rnd !== undefined) {
                checkLength("ML-DSA-87 rnd", options.rnd, ML_DSA_87.rndBytes);
              }
              return Promise.resolve(
                ml_dsa87.sign(message, secretKey, {
                  context: options.context ?? new Uint8Array(0),
                  // undefined draws fresh randomness; 32 zero bytes is the deterministic variant.
                  extraEntropy: options.rnd,
                }),
              );
            } catch (cause) {
              return Promise.reject(
                internalError("noble ML-DSA-87 sign", cause),
              );
            }
          },
        }));
      } catch (error) {
        return Promise.reject(error);
      }
    },

    mlDsaVerifier(publicKey: Uint8Array): Promise<MlDsaVerifier> {
      try {
        checkLength(
          "ML-DSA-87 public key",
          publicKey,
          ML_DSA_87.publicKeyBytes,
        );
      } catch (error) {
        return Promise.reject(error);
      }
      const ownPublicKey = new Uint8Array(publicKey);
      return Promise.resolve(Object.freeze({
        publicKey: ownPublicKey,
        verify(
          message: Uint8Array,
          signature: Uint8Array,
          context?: Uint8Array,
        ): Promise<boolean> {
          try {
            checkVerifyInputs("", ownPublicKey, message, signature, context);
            return Promise.resolve(
              verifyOne(ownPublicKey, message, signature, context),
            );
          } catch (error) {
            return Promise.reject(error);
          }
        },
      }));
    },

    mlDsaVerifyBatch(
      items: VerifyItem[],
      _threads?: number,
    ): Promise<boolean[]> {
      try {
        // Validate everything first so a bad item fails the batch before any work.
        items.forEach((item, index) =>
          checkVerifyInputs(
            `item ${index}: `,
            item.publicKey,
            item.message,
            item.signature,
            item.context,
          )
        );
        return Promise.resolve(
          items.map((item) =>
            verifyOne(
              item.publicKey,
              item.message,
              item.signature,
              item.context,
            )
          ),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    },

    mlKemKeygen(
      level: MlKemLevel,
      d: Uint8Array,
      z: Uint8Array,
    ): Promise<KemKeyPair> {
      try {
        const impl = kem(level);
        checkLength("ML-KEM d", d, 32);
        checkLength("ML-KEM z", z, 32);
        const seed = new Uint8Array(ML_KEM.seedBytes);
        seed.set(d);
        seed.set(z, 32);
        try {
          const { publicKey, secretKey } = impl.keygen(seed);
          return Promise.resolve({
            encapsulationKey: publicKey,
            decapsulationKey: secretKey,
          });
        } catch (cause) {
          throw internalError(`noble ML-KEM-${level} keygen`, cause);
        } finally {
          seed.fill(0);
        }
      } catch (error) {
        return Promise.reject(error);
      }
    },

    mlKemEncaps(
      level: MlKemLevel,
      encapsulationKey: Uint8Array,
      m?: Uint8Array,
    ): Promise<Encapsulation> {
      try {
        const impl = kem(level);
        checkLength(
          `ML-KEM-${level} encapsulation key`,
          encapsulationKey,
          ML_KEM[level].encapsulationKeyBytes,
        );
        if (m !== undefined) checkLength("ML-KEM m", m, ML_KEM.messageBytes);
        let result: { cipherText: Uint8Array; sharedSecret: Uint8Array };
        try {
          result = impl.encapsulate(encapsulationKey, m);
        } catch (cause) {
          const message = cause instanceof Error ? cause.message : String(cause);
          if (message.includes("modulus")) {
            throw new CryptoError(
              "crypto_bad_key",
              `ML-KEM-${level} encapsulation key fails the FIPS 203 modulus check`,
              { cause },
            );
          }
          throw internalError(`noble ML-KEM-${level} encapsulate`, cause);
        }
        return Promise.resolve({
          ciphertext: result.cipherText,
          // sharedSecret is a view into a 64-byte buffer whose tail noble wiped; copy it out.
          sharedKey: result.sharedSecret.slice(),
        });
      } catch (error) {
        return Promise.reject(error);
      }
    },

    mlKemDecaps(
      level: MlKemLevel,
      decapsulationKey: Uint8Array,
      ciphertext: Uint8Array,
    ): Promise<Uint8Array> {
      try {
        const impl = kem(level);
        checkLength(
          `ML-KEM-${level} decapsulation key`,
          decapsulationKey,
          ML_KEM[level].decapsulationKeyBytes,
        );
        checkLength(
          `ML-KEM-${level} ciphertext`,
          ciphertext,
          ML_KEM[level].ciphertextBytes,
        );
        try {
          return Promise.resolve(
            impl.decapsulate(ciphertext, decapsulationKey).slice(),
          );
        } catch (cause) {
          const message = cause instanceof Error ? cause.message : String(cause);
          if (message.includes("hash check")) {
            throw new CryptoError(
              "crypto_bad_key",
              `ML-KEM-${level} decapsulation key fails the FIPS 203 hash check: H(ek) does not match the embedded ek`,
              { cause },
            );
          }
          throw internalError(`noble ML-KEM-${level} decapsulate`, cause);
        }
      } catch (error) {
        return Promise.reject(error);
      }
    },

    blake3(data: Uint8Array, outBytes = 32): Uint8Array {
      if (!(data instanceof Uint8Array)) {
        throw new CryptoError("crypto_bad_length", "data must be a Uint8Array");
      }
      if (
        !Number.isInteger(outBytes) || outBytes < 1 ||
        outBytes > BLAKE3_OUT_BYTES_MAX
      ) {
        throw new CryptoError(
          "crypto_bad_length",
          `BLAKE3 output length is ${outBytes}, expected an integer from 1 to ${BLAKE3_OUT_BYTES_MAX}`,
        );
      }
      return blake3(data, { dkLen: outBytes });
    },
  });
}
