/**
 * The only `Deno.dlopen` in qudag: the symbol table of libqudag_native (the Rust
 * cdylib in `native/`), with each export's C signature beside it, and the checks
 * made right after loading (ABI version, then CPU support).
 *
 * Conventions of the C ABI (see `native/src/abi.rs`): every function returns a
 * `NativeResult` code (0 = ok), takes `(pointer, length)` pairs, and writes
 * caller-owned output buffers of an exact length only on success. Buffers are
 * passed as Uint8Array ("buffer" parameters), which works with a narrow
 * `--allow-ffi=<path>`; `Deno.UnsafePointer.of()` would not.
 *
 * `openNative()` never throws: it returns the library, or the reason it cannot be
 * used (missing file, no FFI permission, other ABI version, CPU too old).
 * `openFastestNative()` prefers the AVX-512 build beside it where this CPU runs it.
 */

/** The ABI version this module was written against (`ABI_VERSION` in native/src/abi.rs). */
export const NATIVE_ABI_VERSION = 4;

/** Where `deno task build:native` puts the library, relative to the project root. */
export const DEFAULT_NATIVE_LIBRARY_PATH = `./native/target/release/${libraryFileName()}`;

function libraryFileName(): string {
  switch (Deno.build.os) {
    case "darwin":
      return "libqudag_native.dylib";
    case "windows":
      return "qudag_native.dll";
    default:
      return "libqudag_native.so";
  }
}

/** Result codes of every export (`QudagResult` in native/src/abi.rs). */
export const NativeResult = Object.freeze({
  ok: 0,
  /** The signature does not verify; not a failure of the call. */
  invalidSignature: 1,
  nullPointer: 2,
  badLength: 3,
  /** A key fails the FIPS 203 checks (modulus check of ek, hash check of dk). */
  badKey: 4,
  badArgument: 5,
  panic: 6,
  internal: 7,
  cpuUnsupported: 8,
  /** AES-GCM: the tag does not match; not a failure of the call. */
  authenticationFailed: 9,
});

const RESULT_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: "ok",
  1: "invalid signature",
  2: "null pointer",
  3: "bad length",
  4: "bad key",
  5: "bad argument",
  6: "panic caught in the native library",
  7: "internal failure",
  8: "CPU not supported",
  9: "authentication failed",
});

/** "bad length (3)" for logs and error messages. */
export function describeNativeResult(code: number): string {
  return `${RESULT_NAMES[code] ?? "unknown result"} (${code})`;
}

const VERSION_SYMBOLS = {
  // uint32_t qudag_native_abi_version(void);
  qudag_native_abi_version: { parameters: [], result: "u32" },
} as const;

const SYMBOLS = {
  // uint32_t qudag_native_abi_version(void);
  qudag_native_abi_version: { parameters: [], result: "u32" },
  // uint32_t qudag_native_cpu_supported(void);  /* 1 = this CPU can run the library */
  qudag_native_cpu_supported: { parameters: [], result: "u32" },
  // uint32_t qudag_malloc_trim(void);  /* 1 = released memory, 0 = none free, 2 = not glibc */
  qudag_malloc_trim: { parameters: [], result: "u32" },
  // uint32_t qudag_native_x86_64_level(void);  /* the build's x86-64 level: 4, 3, 1 (baseline); 0 elsewhere */
  qudag_native_x86_64_level: { parameters: [], result: "u32" },

  // uint32_t qudag_mldsa87_keygen(const uint8_t *seed, size_t seed_len,
  //     uint8_t *public_key_out, size_t public_key_out_len,
  //     uint8_t *secret_key_out, size_t secret_key_out_len);
  qudag_mldsa87_keygen: {
    parameters: ["buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },
  // uint32_t qudag_mldsa87_sign(const uint8_t *secret_key, size_t secret_key_len,
  //     const uint8_t *message, size_t message_len,
  //     const uint8_t *context, size_t context_len,
  //     const uint8_t *rnd, size_t rnd_len,
  //     uint8_t *signature_out, size_t signature_out_len);
  // ~230 us: run off the event loop.
  qudag_mldsa87_sign: {
    parameters: [
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
    ],
    result: "u32",
    nonblocking: true,
  },
  // The same export, called on the calling thread: for callers that cannot await (the
  // consensus engine signs inside its handlers); ~230 us.
  qudag_mldsa87_sign_sync: {
    name: "qudag_mldsa87_sign",
    parameters: [
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
    ],
    result: "u32",
  },
  // uint32_t qudag_mldsa87_verify(const uint8_t *public_key, size_t public_key_len,
  //     const uint8_t *message, size_t message_len,
  //     const uint8_t *context, size_t context_len,
  //     const uint8_t *signature, size_t signature_len);  /* 0 valid, 1 invalid */
  // ~80 us: synchronous, because a nonblocking call adds ~13 us to each verification and
  // verification throughput is what the node needs; large volumes go through the batch.
  qudag_mldsa87_verify: {
    parameters: [
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
    ],
    result: "u32",
  },
  // uint32_t qudag_mldsa87_verify_batch(const uint8_t *packed, size_t packed_len,
  //     size_t count, uint32_t threads, uint8_t *results_out, size_t results_out_len);
  // packed item: u32 LE message_len | u8 context_len | public key | signature | context | message
  qudag_mldsa87_verify_batch: {
    parameters: ["buffer", "usize", "usize", "u32", "buffer", "usize"],
    result: "u32",
    nonblocking: true,
  },

  // uint32_t qudag_mlkem_keygen(uint32_t level, const uint8_t *d, size_t d_len,
  //     const uint8_t *z, size_t z_len,
  //     uint8_t *encapsulation_key_out, size_t encapsulation_key_out_len,
  //     uint8_t *decapsulation_key_out, size_t decapsulation_key_out_len);
  qudag_mlkem_keygen: {
    parameters: [
      "u32",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
    ],
    result: "u32",
  },
  // uint32_t qudag_mlkem_encaps(uint32_t level,
  //     const uint8_t *encapsulation_key, size_t encapsulation_key_len,
  //     const uint8_t *m, size_t m_len,
  //     uint8_t *ciphertext_out, size_t ciphertext_out_len,
  //     uint8_t *shared_key_out, size_t shared_key_out_len);
  qudag_mlkem_encaps: {
    parameters: [
      "u32",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
      "usize",
    ],
    result: "u32",
  },
  // uint32_t qudag_mlkem_decaps(uint32_t level,
  //     const uint8_t *decapsulation_key, size_t decapsulation_key_len,
  //     const uint8_t *ciphertext, size_t ciphertext_len,
  //     uint8_t *shared_key_out, size_t shared_key_out_len);
  qudag_mlkem_decaps: {
    parameters: ["u32", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },

  // uint32_t qudag_blake3_hash(const uint8_t *data, size_t data_len,
  //     uint8_t *out, size_t out_len);  /* out_len 1 ..= 1 MiB */
  qudag_blake3_hash: {
    parameters: ["buffer", "usize", "buffer", "usize"],
    result: "u32",
  },
  // uint32_t qudag_blake3_keyed_hash(const uint8_t *key, size_t key_len,
  //     const uint8_t *data, size_t data_len, uint8_t *out, size_t out_len);
  qudag_blake3_keyed_hash: {
    parameters: ["buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },
  // uint32_t qudag_blake3_derive_key(const uint8_t *context, size_t context_len,
  //     const uint8_t *material, size_t material_len, uint8_t *out, size_t out_len);
  qudag_blake3_derive_key: {
    parameters: ["buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },

  // uint32_t qudag_aes256gcm_seal(const uint8_t *key, size_t key_len,
  //     const uint8_t *nonce, size_t nonce_len, const uint8_t *aad, size_t aad_len,
  //     const uint8_t *plain, size_t plain_len,
  //     uint8_t *sealed_out, size_t sealed_out_len);  /* sealed = ciphertext | 16-byte tag */
  // A few microseconds per frame: synchronous (WebCrypto's call costs about 50 us whatever the size).
  qudag_aes256gcm_seal: {
    parameters: ["buffer", "usize", "buffer", "usize", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },
  // uint32_t qudag_aes256gcm_open(const uint8_t *key, size_t key_len,
  //     const uint8_t *nonce, size_t nonce_len, const uint8_t *aad, size_t aad_len,
  //     const uint8_t *sealed, size_t sealed_len,
  //     uint8_t *plain_out, size_t plain_out_len);  /* 9 = tag does not match */
  qudag_aes256gcm_open: {
    parameters: ["buffer", "usize", "buffer", "usize", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "u32",
  },
} as const;

export type NativeSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

export interface NativeLibrary {
  readonly path: string;
  readonly abiVersion: number;
  /** What the library was compiled for: "x86-64-v4" (AVX-512), "x86-64-v3", "x86-64" (baseline) or "portable". */
  readonly build: string;
  readonly symbols: NativeSymbols;
  close(): void;
}

export type NativeOpenResult =
  | { readonly ok: true; readonly library: NativeLibrary }
  | { readonly ok: false; readonly reason: string; readonly cause?: unknown };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens only the version symbol, so a library of another ABI gets a clear message. */
function readAbiVersion(path: string): number {
  const probe = Deno.dlopen(path, VERSION_SYMBOLS);
  try {
    return probe.symbols.qudag_native_abi_version();
  } finally {
    probe.close();
  }
}

/**
 * Loads libqudag_native from `path` and checks it. Returns the library, or why it
 * cannot be used; never throws.
 */
export function openNative(
  path: string = DEFAULT_NATIVE_LIBRARY_PATH,
): NativeOpenResult {
  let abiVersion: number;
  try {
    abiVersion = readAbiVersion(path);
  } catch (cause) {
    const hint = cause instanceof Deno.errors.NotCapable
      ? ` (run with --allow-ffi=${path})`
      : " (build it with `deno task build:native`)";
    return {
      ok: false,
      reason: `native library ${path} could not be loaded: ${message(cause)}${hint}`,
      cause,
    };
  }
  if (abiVersion !== NATIVE_ABI_VERSION) {
    return {
      ok: false,
      reason:
        `native library ${path} has ABI version ${abiVersion}, expected ${NATIVE_ABI_VERSION} (rebuild it with \`deno task build:native\`)`,
    };
  }
  let library: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (cause) {
    return {
      ok: false,
      reason: `native library ${path} (ABI ${abiVersion}) lacks a symbol: ${message(cause)}`,
      cause,
    };
  }
  if (library.symbols.qudag_native_cpu_supported() !== 1) {
    library.close();
    return {
      ok: false,
      reason: `native library ${path} needs an x86-64-v3 CPU (AVX2, BMI2, FMA), which this machine lacks`,
    };
  }
  return {
    ok: true,
    library: Object.freeze({
      path,
      abiVersion,
      build: buildName(library.symbols.qudag_native_x86_64_level()),
      symbols: library.symbols,
      close: () => library.close(),
    }),
  };
}

function buildName(level: number): string {
  return level === 0 ? "portable" : level === 1 ? "x86-64" : `x86-64-v${level}`;
}

/**
 * The AVX-512 (x86-64-v4) build beside a library: `libqudag_native.x86-64-v4.so`
 * for `…/libqudag_native.so` (`deno task build:native` makes both on x86_64).
 */
export function fasterBuildPath(path: string): string {
  const name = path.lastIndexOf("/") + 1;
  const dot = path.indexOf(".", name);
  return dot < 0 ? `${path}.x86-64-v4` : `${path.slice(0, dot)}.x86-64-v4${path.slice(dot)}`;
}

/**
 * Opens the fastest build of the library that runs here: on x86_64 the
 * AVX-512 build beside `path` ({@linkcode fasterBuildPath}; ML-DSA-87 verify
 * about a fifth faster, native/README.md) when it is there, `--allow-ffi`
 * names it (asked first, so nothing prompts), it has this ABI and this CPU
 * has AVX-512; otherwise the library at `path`, as {@linkcode openNative}.
 * Never throws.
 */
export function openFastestNative(path: string = DEFAULT_NATIVE_LIBRARY_PATH): NativeOpenResult {
  if (Deno.build.arch === "x86_64") {
    const faster = fasterBuildPath(path);
    if (Deno.permissions.querySync({ name: "ffi", path: faster }).state === "granted") {
      const opened = openNative(faster);
      if (opened.ok) return opened;
    }
  }
  return openNative(path);
}

/** Like `openNative()`, but throws an Error (with `cause`) carrying the reason. */
export function loadNative(path?: string): NativeLibrary {
  const opened = openNative(path);
  if (!opened.ok) throw new Error(opened.reason, { cause: opened.cause });
  return opened.library;
}
