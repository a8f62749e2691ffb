/**
 * Choosing a crypto backend, and the router that covers for what it lacks.
 *
 * `selectCryptoBackend({ requested })` resolves to the backend the node uses:
 * - "auto" (default): native when its library loads and its ABI version matches,
 *   else WebCrypto when this runtime has ML-DSA-87 and ML-KEM, else noble.
 * - "native" | "webcrypto" | "noble": exactly that one, or a CryptoError with
 *   code `crypto_backend_unavailable` saying why it cannot be used.
 *
 * Unless `route: false`, the chosen backend is wrapped by `createRoutedBackend`
 * so that every operation of the CryptoBackend interface works: what the primary
 * cannot do (a FIPS 204 context, caller-supplied signing randomness,
 * deterministic ML-KEM, decapsulation with a key it did not generate, BLAKE3)
 * runs on noble, which can do all of it. Everything else stays on the primary.
 *
 * `requested` comes from the config layer (QUDAG_CRYPTO_BACKEND); this module
 * never reads the environment.
 *
 * The native module is imported dynamically, so a missing `native.ts`, a missing
 * library or a load failure only makes native unavailable, with the reason kept.
 * Contract expected from `./native.ts`: it exports
 * `createNativeBackend(options?: { libraryPath?: string }): CryptoBackend | Promise<CryptoBackend>`
 * which throws when the library is missing or its ABI version does not match.
 */

import {
  type BackendCapabilities,
  type BackendName,
  type CryptoBackend,
  CryptoError,
  type Encapsulation,
  type KemKeyPair,
  type MlDsaSigner,
  type MlDsaVerifier,
  type MlKemLevel,
  type SignOptions,
  type VerifyItem,
} from "./backend.ts";
import { createNobleBackend } from "./noble.ts";
import { createWebCryptoBackend, probeWebCrypto } from "./webcrypto.ts";

export type BackendRequest = BackendName | "auto";

export const BACKEND_REQUESTS: readonly BackendRequest[] = Object.freeze([
  "auto",
  "native",
  "webcrypto",
  "noble",
]);

/** Order tried by "auto": fastest first. */
const AUTO_ORDER: readonly BackendName[] = ["native", "webcrypto", "noble"];

export function isBackendRequest(value: unknown): value is BackendRequest {
  return typeof value === "string" &&
    (BACKEND_REQUESTS as readonly string[]).includes(value);
}

export interface SelectOptions {
  /** Which backend to use; "auto" (the default) picks the fastest available. */
  requested?: BackendRequest;
  /** Path of libqudag_native.so, handed to the native module; it has its own default. */
  nativeLibraryPath?: string;
  /** Wrap the choice in the router (default true). false returns the bare backend. */
  route?: boolean;
}

/** Why a backend was or was not used. */
export interface BackendProbe {
  name: BackendName;
  available: boolean;
  reason: string;
}

export interface SelectedBackend {
  /** The backend to use: the router around `name` unless `route` was false. */
  backend: CryptoBackend;
  /** The primary backend: every operation it supports runs there. */
  name: BackendName;
  /** The native library's build (e.g. "x86-64-v4"); null for the other backends. */
  build: string | null;
  /** One line for logs and metrics, e.g. "auto: native library loaded (ABI 1)". */
  reason: string;
  /** Where the router sends what the primary cannot do; null when nothing is routed. */
  fallback: BackendName | null;
  /** Every backend that was tried, in order, with its outcome. */
  probes: BackendProbe[];
}

function describe(error: unknown): string {
  if (error instanceof CryptoError) return error.message;
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

async function loadNative(
  libraryPath: string | undefined,
): Promise<CryptoBackend> {
  let nativeModule: Record<string, unknown>;
  try {
    nativeModule = await import("./native.ts");
  } catch (cause) {
    throw new CryptoError(
      "crypto_backend_unavailable",
      `native backend module could not be loaded: ${describe(cause)}`,
      { cause },
    );
  }
  const factory = nativeModule.createNativeBackend;
  if (typeof factory !== "function") {
    throw new CryptoError(
      "crypto_backend_unavailable",
      "native backend module does not export createNativeBackend()",
    );
  }
  let backend: unknown;
  try {
    backend = await factory(
      libraryPath === undefined ? undefined : { libraryPath },
    );
  } catch (cause) {
    throw new CryptoError(
      "crypto_backend_unavailable",
      `native backend is unavailable: ${describe(cause)}`,
      { cause },
    );
  }
  if (
    typeof backend !== "object" || backend === null ||
    (backend as { name?: unknown }).name !== "native"
  ) {
    throw new CryptoError(
      "crypto_backend_unavailable",
      "createNativeBackend() did not return a backend named native",
    );
  }
  return backend as CryptoBackend;
}

/**
 * Creates one backend by name, or throws `crypto_backend_unavailable` with the
 * reason it cannot be used here.
 */
export async function loadBackend(
  name: BackendName,
  options: { nativeLibraryPath?: string } = {},
): Promise<CryptoBackend> {
  switch (name) {
    case "native":
      return await loadNative(options.nativeLibraryPath);
    case "webcrypto": {
      const missing = await probeWebCrypto();
      if (missing !== null) {
        throw new CryptoError(
          "crypto_backend_unavailable",
          `webcrypto backend is unavailable: ${missing}`,
        );
      }
      return createWebCryptoBackend();
    }
    case "noble":
      return createNobleBackend();
    default:
      throw unknownRequest(name);
  }
}

function unknownRequest(value: unknown): CryptoError {
  return new CryptoError(
    "crypto_backend_unavailable",
    `Unknown crypto backend ${JSON.stringify(value)}, expected one of ${BACKEND_REQUESTS.join(", ")}`,
  );
}

function needsRouting(capabilities: BackendCapabilities): boolean {
  return !capabilities.context || !capabilities.callerRandomness ||
    !capabilities.kemDeterministic || !capabilities.blake3;
}

/** Picks, creates and (by default) routes the crypto backend. See the module doc. */
export async function selectCryptoBackend(
  options: SelectOptions = {},
): Promise<SelectedBackend> {
  const requested = options.requested ?? "auto";
  if (!isBackendRequest(requested)) throw unknownRequest(requested);
  const probes: BackendProbe[] = [];
  let primary: CryptoBackend | undefined;
  let reason = "";

  if (requested === "auto") {
    for (const name of AUTO_ORDER) {
      try {
        primary = await loadBackend(name, options);
        const why = name === "native"
          ? `native library loaded (${primary.build ?? "?"} build) and its ABI matches`
          : name === "webcrypto"
          ? "native unavailable; WebCrypto has ML-DSA-87 and ML-KEM"
          : "native and WebCrypto unavailable; pure-JS noble";
        probes.push({ name, available: true, reason: why });
        reason = `auto: ${why}`;
        break;
      } catch (error) {
        probes.push({ name, available: false, reason: describe(error) });
      }
    }
    if (primary === undefined) {
      // Unreachable while noble is pure JS, kept so a future change cannot return nothing.
      throw new CryptoError(
        "crypto_backend_unavailable",
        `No crypto backend is available: ${probes.map((p) => `${p.name}: ${p.reason}`).join("; ")}`,
      );
    }
  } else {
    try {
      primary = await loadBackend(requested, options);
    } catch (error) {
      const message = describe(error);
      throw new CryptoError(
        "crypto_backend_unavailable",
        `Crypto backend "${requested}" was requested but is unavailable: ${message}`,
        { cause: error },
      );
    }
    reason = `requested: ${requested}`;
    probes.push({ name: requested, available: true, reason });
  }

  if (options.route === false || !needsRouting(primary.capabilities)) {
    return {
      backend: primary,
      name: primary.name,
      build: primary.build ?? null,
      reason,
      fallback: null,
      probes,
    };
  }
  return {
    backend: createRoutedBackend(primary, createNobleBackend()),
    name: primary.name,
    build: primary.build ?? null,
    reason,
    fallback: "noble",
    probes,
  };
}

// ---------------------------------------------------------------------------
// Router

function hasContext(context: Uint8Array | undefined): boolean {
  return context !== undefined && context.length > 0;
}

function isUnsupported(error: unknown): boolean {
  return error instanceof CryptoError && error.code === "crypto_unsupported";
}

/**
 * A backend that runs each operation on `primary` when its capabilities allow,
 * else on `fallback`; an operation the primary rejects with `crypto_unsupported`
 * (e.g. WebCrypto decapsulating a key it did not generate) is retried on the
 * fallback. Its name is the primary's; its capabilities are the union.
 */
export function createRoutedBackend(
  primary: CryptoBackend,
  fallback: CryptoBackend,
): CryptoBackend {
  const p = primary.capabilities;
  const f = fallback.capabilities;
  const capabilities: BackendCapabilities = Object.freeze({
    context: p.context || f.context,
    callerRandomness: p.callerRandomness || f.callerRandomness,
    batchThreads: p.batchThreads,
    kemDeterministic: p.kemDeterministic || f.kemDeterministic,
    blake3: p.blake3 || f.blake3,
  });

  async function orFallback<T>(
    onPrimary: () => Promise<T>,
    onFallback: () => Promise<T>,
  ): Promise<T> {
    try {
      return await onPrimary();
    } catch (error) {
      if (!isUnsupported(error)) throw error;
      return await onFallback();
    }
  }

  const blake3Impl = p.blake3 && primary.blake3 ? primary.blake3.bind(primary) : fallback.blake3?.bind(fallback);

  const syncSignerOwner = primary.mlDsaSyncSigner ? primary : fallback.mlDsaSyncSigner ? fallback : undefined;
  const routed: CryptoBackend = {
    name: primary.name,
    capabilities,
    ...(syncSignerOwner ? { mlDsaSyncSigner: (seed: Uint8Array) => syncSignerOwner.mlDsaSyncSigner!(seed) } : {}),

    async mlDsaSigner(seed: Uint8Array): Promise<MlDsaSigner> {
      const main = await primary.mlDsaSigner(seed);
      // The fallback signer is built on first use from a private copy of the seed.
      const seedCopy = new Uint8Array(seed);
      let other: Promise<MlDsaSigner> | undefined;
      const otherSigner = () => other ??= fallback.mlDsaSigner(seedCopy);
      return Object.freeze({
        publicKey: main.publicKey,
        async sign(
          message: Uint8Array,
          options: SignOptions = {},
        ): Promise<Uint8Array> {
          const needsFallback = (hasContext(options.context) && !p.context) ||
            (options.rnd !== undefined && !p.callerRandomness);
          if (needsFallback) {
            return (await otherSigner()).sign(message, options);
          }
          return await orFallback(
            () => main.sign(message, options),
            async () => (await otherSigner()).sign(message, options),
          );
        },
      });
    },

    async mlDsaVerifier(publicKey: Uint8Array): Promise<MlDsaVerifier> {
      const main = await primary.mlDsaVerifier(publicKey);
      let other: Promise<MlDsaVerifier> | undefined;
      const otherVerifier = () => other ??= fallback.mlDsaVerifier(main.publicKey);
      return Object.freeze({
        publicKey: main.publicKey,
        async verify(
          message: Uint8Array,
          signature: Uint8Array,
          context?: Uint8Array,
        ): Promise<boolean> {
          if (hasContext(context) && !p.context) {
            return (await otherVerifier()).verify(message, signature, context);
          }
          return await orFallback(
            () => main.verify(message, signature, context),
            async () => (await otherVerifier()).verify(message, signature, context),
          );
        },
      });
    },

    async mlDsaVerifyBatch(
      items: VerifyItem[],
      threads?: number,
    ): Promise<boolean[]> {
      if (p.context || !items.some((item) => hasContext(item.context))) {
        return await primary.mlDsaVerifyBatch(items, threads);
      }
      // Split by who can verify, then put the answers back in the callers' order.
      const mainIndexes: number[] = [];
      const otherIndexes: number[] = [];
      items.forEach((item, index) => (hasContext(item.context) ? otherIndexes : mainIndexes).push(index));
      const [mainResults, otherResults] = await Promise.all([
        primary.mlDsaVerifyBatch(mainIndexes.map((i) => items[i]), threads),
        fallback.mlDsaVerifyBatch(otherIndexes.map((i) => items[i]), threads),
      ]);
      const results = new Array<boolean>(items.length);
      mainIndexes.forEach((index, i) => results[index] = mainResults[i]);
      otherIndexes.forEach((index, i) => results[index] = otherResults[i]);
      return results;
    },

    mlKemKeygen(
      level: MlKemLevel,
      d: Uint8Array,
      z: Uint8Array,
    ): Promise<KemKeyPair> {
      return orFallback(
        () => primary.mlKemKeygen(level, d, z),
        () => fallback.mlKemKeygen(level, d, z),
      );
    },

    mlKemEncaps(
      level: MlKemLevel,
      encapsulationKey: Uint8Array,
      m?: Uint8Array,
    ): Promise<Encapsulation> {
      if (m !== undefined && !p.kemDeterministic) {
        return fallback.mlKemEncaps(level, encapsulationKey, m);
      }
      return orFallback(
        () => primary.mlKemEncaps(level, encapsulationKey, m),
        () => fallback.mlKemEncaps(level, encapsulationKey, m),
      );
    },

    mlKemDecaps(
      level: MlKemLevel,
      decapsulationKey: Uint8Array,
      ciphertext: Uint8Array,
    ): Promise<Uint8Array> {
      return orFallback(
        () => primary.mlKemDecaps(level, decapsulationKey, ciphertext),
        () => fallback.mlKemDecaps(level, decapsulationKey, ciphertext),
      );
    },
  };
  if (blake3Impl !== undefined) routed.blake3 = blake3Impl;
  const aes = primary.aes256Gcm ?? fallback.aes256Gcm;
  if (aes !== undefined) Object.assign(routed, { aes256Gcm: aes });
  const release = primary.releaseFreeMemory ?? fallback.releaseFreeMemory;
  if (release !== undefined) routed.releaseFreeMemory = release;
  return Object.freeze(routed);
}
