import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { blake3 } from "@noble/hashes/blake3.js";
import {
  type CryptoBackend,
  CryptoError,
  type CryptoErrorCode,
  ML_DSA_87,
  ML_KEM,
  type VerifyItem,
} from "./backend.ts";
import { DEFAULT_NATIVE_LIBRARY_PATH, NATIVE_ABI_VERSION, openNative } from "./ffi.ts";
import { createNativeBackend, createNativeBackendFrom } from "./native.ts";
import { ML_DSA_87_ACCUMULATED_100, mlDsaAccumulatedDigest } from "./_native_testing.ts";

const opened = openNative();
const ignore = !opened.ok;
if (!opened.ok) {
  console.warn(`native_test.ts: skipping native tests: ${opened.reason}`);
}
/** Shared for the whole file; the library stays open until the process exits. */
const native: CryptoBackend | null = opened.ok ? createNativeBackendFrom(opened.library) : null;

function backend(): CryptoBackend {
  if (native === null) throw new Error("native library not loaded");
  return native;
}

// The repository's own copies of shared/testdata (tests/fixtures/README.md says where each came from).
const TESTDATA = new URL("../../tests/fixtures/", import.meta.url);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

async function rejectsWith(
  promise: Promise<unknown> | (() => unknown),
  code: CryptoErrorCode,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(
    async () => typeof promise === "function" ? await promise() : await promise,
    (error: unknown) => {
      assert.ok(error instanceof CryptoError, `expected a CryptoError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** Deterministic garbage (xorshift32) so failures are reproducible. */
function garbage(seed: number): (length: number) => Uint8Array {
  let state = seed >>> 0 || 1;
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      out[i] = state & 0xff;
    }
    return out;
  };
}

Deno.test("openNative() loads the library and checks its ABI version", { ignore }, () => {
  assert.ok(opened.ok);
  if (!opened.ok) return;
  assert.equal(opened.library.abiVersion, NATIVE_ABI_VERSION);
  assert.equal(opened.library.path, DEFAULT_NATIVE_LIBRARY_PATH);
  assert.equal(opened.library.symbols.qudag_native_cpu_supported(), 1);
});

Deno.test("the native backend gives the C heap's free memory back (malloc_trim on glibc)", { ignore }, () => {
  if (native === null) return;
  const backend = native;
  // Free a few megabytes under live buffers, then trim.
  const blocks = Array.from({ length: 64 }, () => new Uint8Array(64 * 1024).fill(1));
  const keep = new Uint8Array(1024).fill(2);
  blocks.length = 0;
  const result = backend.releaseFreeMemory!();
  assert.ok(result === "released" || result === "none", result);
  assert.equal(keep[0], 2);
});

Deno.test("openNative() says why a missing library cannot be used", () => {
  const missing = openNative("./native/target/release/no_such_library.so");
  assert.equal(missing.ok, false);
  if (missing.ok) return;
  assert.match(missing.reason, /no_such_library\.so could not be loaded/);
  // Without FFI permission for that path the reason says so; with it, how to build the library.
  assert.match(missing.reason, /deno task build:native|--allow-ffi=/);
  assert.throws(
    () => createNativeBackend({ libraryPath: "./native/target/release/no_such_library.so" }),
    (error: unknown) => error instanceof CryptoError && error.code === "crypto_backend_unavailable",
  );
});

Deno.test("native backend: name and capabilities", { ignore }, () => {
  const b = backend();
  assert.equal(b.name, "native");
  assert.deepEqual({ ...b.capabilities }, {
    context: true,
    callerRandomness: true,
    batchThreads: true,
    kemDeterministic: true,
    blake3: true,
  });
});

Deno.test("ML-DSA-87 accumulated test N=100 gives the published digest", { ignore }, async () => {
  assert.equal(await mlDsaAccumulatedDigest(backend(), 100), ML_DSA_87_ACCUMULATED_100);
});

// shared/testdata/README.md gives f7db260e... for this procedure: that is the FIPS 203 draft's
// digest (key generation with G(d)); FIPS 203 final (G(d || k)) gives f959d18d..., which noble
// reproduces as well. See native/README.md.
Deno.test("ML-KEM-768 accumulated test N=10000 gives the FIPS 203 final digest", { ignore }, async () => {
  const b = backend();
  const src = shake128.create({});
  const acc = shake128.create({});
  for (let i = 0; i < 10_000; i++) {
    const d = src.xof(32), z = src.xof(32), m = src.xof(32), bad = src.xof(ML_KEM[768].ciphertextBytes);
    const { encapsulationKey, decapsulationKey } = await b.mlKemKeygen(768, d, z);
    const { ciphertext, sharedKey } = await b.mlKemEncaps(768, encapsulationKey, m);
    acc.update(encapsulationKey).update(decapsulationKey).update(ciphertext).update(sharedKey);
    acc.update(await b.mlKemDecaps(768, decapsulationKey, bad));
    if (i % 1000 === 0) assert.deepEqual(await b.mlKemDecaps(768, decapsulationKey, ciphertext), sharedKey);
  }
  assert.equal(hex(acc.xof(32)), "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1");
});

Deno.test("ML-DSA-87 agrees with noble: keys, deterministic signatures with context, cross-verify", {
  ignore,
}, async () => {
  const b = backend();
  const seed = new Uint8Array(32).fill(7);
  const message = new TextEncoder().encode("vertex bytes");
  const context = new TextEncoder().encode("qudag/vertex/v1");
  const signer = await b.mlDsaSigner(seed);
  const keys = ml_dsa87.keygen(seed);
  assert.deepEqual(signer.publicKey, keys.publicKey);
  const rnd = new Uint8Array(32);
  const ours = await signer.sign(message, { context, rnd });
  const theirs = ml_dsa87.sign(message, keys.secretKey, { context, extraEntropy: rnd });
  assert.deepEqual(ours, theirs);
  const hedged = await signer.sign(message, { context });
  assert.notDeepEqual(hedged, ours);
  assert.equal(ml_dsa87.verify(hedged, message, keys.publicKey, { context }), true);
  const verifier = await b.mlDsaVerifier(keys.publicKey);
  assert.equal(await verifier.verify(message, theirs, context), true);
  assert.equal(await verifier.verify(message, theirs), false, "context is bound");
  // Views at an offset into a larger buffer are read from their own start.
  const padded = new Uint8Array(theirs.length + 3);
  padded.set(theirs, 3);
  assert.equal(await verifier.verify(message, padded.subarray(3), context), true);
  assert.equal(await verifier.verify(message.subarray(1), theirs, context), false);
});

Deno.test("ML-KEM keygen and encaps agree with noble", { ignore }, async () => {
  const b = backend();
  const d = new Uint8Array(32).fill(1), z = new Uint8Array(32).fill(2), m = new Uint8Array(32).fill(3);
  const seed = new Uint8Array(64);
  seed.set(d);
  seed.set(z, 32);
  const pair = await b.mlKemKeygen(768, d, z);
  const keys = ml_kem768.keygen(seed);
  assert.deepEqual(pair.encapsulationKey, keys.publicKey);
  assert.deepEqual(pair.decapsulationKey, keys.secretKey);
  const enc = await b.mlKemEncaps(768, pair.encapsulationKey, m);
  const theirs = ml_kem768.encapsulate(keys.publicKey, m);
  assert.deepEqual(enc.ciphertext, theirs.cipherText);
  assert.deepEqual(enc.sharedKey, theirs.sharedSecret.slice());
  const random = await b.mlKemEncaps(768, pair.encapsulationKey);
  assert.deepEqual(await b.mlKemDecaps(768, pair.decapsulationKey, random.ciphertext), random.sharedKey);
  const pair1024 = await b.mlKemKeygen(1024, d, z);
  assert.equal(pair1024.encapsulationKey.length, ML_KEM[1024].encapsulationKeyBytes);
  const enc1024 = await b.mlKemEncaps(1024, pair1024.encapsulationKey);
  assert.deepEqual(await b.mlKemDecaps(1024, pair1024.decapsulationKey, enc1024.ciphertext), enc1024.sharedKey);
});

Deno.test("ML-KEM Encaps rejects every CCTV modulus-check key", { ignore }, async () => {
  const b = backend();
  for (const level of [768, 1024] as const) {
    const gz = await Deno.readFile(new URL(`ml-kem/modulus-ML-KEM-${level}.txt.gz`, TESTDATA));
    const text = await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    const keys = text.split("\n").filter((line) => line.trim() !== "");
    assert.ok(keys.length > 100);
    for (const line of keys) {
      await rejectsWith(b.mlKemEncaps(level, unhex(line.trim())), "crypto_bad_key", /modulus check/);
    }
  }
});

Deno.test("BLAKE3 matches the official vectors and noble", { ignore }, async () => {
  const b = backend();
  const json = JSON.parse(await Deno.readTextFile(new URL("blake3/test_vectors.json", TESTDATA))) as {
    cases: { input_len: number; hash: string }[];
  };
  const hash = b.blake3;
  assert.ok(hash !== undefined);
  for (const testCase of json.cases) {
    const input = Uint8Array.from({ length: testCase.input_len }, (_, i) => i % 251);
    const expected = unhex(testCase.hash);
    assert.deepEqual(hash(input, expected.length), expected, `len ${testCase.input_len}`);
    assert.deepEqual(hash(input), expected.subarray(0, 32));
  }
  const big = garbage(3)(1 << 20);
  assert.deepEqual(hash(big), blake3(big));
});

Deno.test("mlDsaVerifyBatch() matches single verification on 1, 2 and default threads", { ignore }, async () => {
  const b = backend();
  const items: VerifyItem[] = [];
  const expected: boolean[] = [];
  for (let i = 0; i < 12; i++) {
    const signer = await b.mlDsaSigner(new Uint8Array(32).fill(i));
    const message = new Uint8Array(i * 13).fill(i);
    const context = i % 3 === 0 ? new Uint8Array(i) : undefined;
    const signature = await signer.sign(message, { context });
    const valid = i % 4 !== 1;
    if (!valid) signature[i] ^= 1;
    items.push({ publicKey: signer.publicKey, message, signature, context });
    expected.push(valid);
  }
  for (const threads of [1, 2, undefined, 0, 1000]) {
    assert.deepEqual(await b.mlDsaVerifyBatch(items, threads), expected, `threads ${threads}`);
  }
  assert.deepEqual(await b.mlDsaVerifyBatch([], 2), []);
  const bad = [...items, { ...items[0], publicKey: items[0].publicKey.subarray(1) }];
  await rejectsWith(
    b.mlDsaVerifyBatch(bad, 2),
    "crypto_bad_length",
    /item 12: ML-DSA-87 public key is 2591 bytes, expected 2592/,
  );
});

Deno.test("every wrong length is rejected with a CryptoError naming it", { ignore }, async () => {
  const b = backend();
  const signer = await b.mlDsaSigner(new Uint8Array(32));
  const signature = await signer.sign(new Uint8Array(1));
  const verifier = await b.mlDsaVerifier(signer.publicKey);
  const pair = await b.mlKemKeygen(768, new Uint8Array(32), new Uint8Array(32));
  const enc = await b.mlKemEncaps(768, pair.encapsulationKey);

  for (const length of [0, 31, 33, 64]) {
    await rejectsWith(
      b.mlDsaSigner(new Uint8Array(length)),
      "crypto_bad_length",
      new RegExp(`ML-DSA-87 seed is ${length} bytes, expected 32`),
    );
    await rejectsWith(
      signer.sign(new Uint8Array(1), { rnd: new Uint8Array(length) }),
      "crypto_bad_length",
      new RegExp(`rnd is ${length} bytes, expected 32`),
    );
    await rejectsWith(
      b.mlKemKeygen(768, new Uint8Array(length), new Uint8Array(32)),
      "crypto_bad_length",
      /ML-KEM d is/,
    );
    await rejectsWith(
      b.mlKemKeygen(1024, new Uint8Array(32), new Uint8Array(length)),
      "crypto_bad_length",
      /ML-KEM z is/,
    );
    await rejectsWith(
      b.mlKemEncaps(768, pair.encapsulationKey, new Uint8Array(length)),
      "crypto_bad_length",
      /ML-KEM m is/,
    );
  }
  for (const length of [0, 2591, 2593]) {
    await rejectsWith(
      b.mlDsaVerifier(new Uint8Array(length)),
      "crypto_bad_length",
      new RegExp(`public key is ${length} bytes, expected 2592`),
    );
  }
  for (const length of [0, 4626, 4628]) {
    await rejectsWith(
      verifier.verify(new Uint8Array(1), new Uint8Array(length)),
      "crypto_bad_length",
      new RegExp(`signature is ${length} bytes, expected 4627`),
    );
  }
  await rejectsWith(
    signer.sign(new Uint8Array(1), { context: new Uint8Array(256) }),
    "crypto_bad_length",
    /context is 256 bytes, at most 255/,
  );
  await rejectsWith(
    verifier.verify(new Uint8Array(1), signature, new Uint8Array(256)),
    "crypto_bad_length",
    /context is 256 bytes, at most 255/,
  );
  for (const level of [768, 1024] as const) {
    const sizes = ML_KEM[level];
    const other = level === 768 ? ML_KEM[1024] : ML_KEM[768];
    await rejectsWith(
      b.mlKemEncaps(level, new Uint8Array(other.encapsulationKeyBytes)),
      "crypto_bad_length",
      new RegExp(`encapsulation key is ${other.encapsulationKeyBytes} bytes, expected ${sizes.encapsulationKeyBytes}`),
    );
    await rejectsWith(
      b.mlKemDecaps(level, new Uint8Array(sizes.decapsulationKeyBytes - 1), new Uint8Array(sizes.ciphertextBytes)),
      "crypto_bad_length",
      /decapsulation key is/,
    );
    await rejectsWith(
      b.mlKemDecaps(level, new Uint8Array(sizes.decapsulationKeyBytes), new Uint8Array(sizes.ciphertextBytes + 1)),
      "crypto_bad_length",
      /ciphertext is/,
    );
  }
  await rejectsWith(
    b.mlKemDecaps(768, pair.decapsulationKey, enc.ciphertext.subarray(1)),
    "crypto_bad_length",
    /ciphertext is 1087 bytes, expected 1088/,
  );
  // @ts-expect-error: an unsupported level from untyped input
  await rejectsWith(b.mlKemKeygen(512, new Uint8Array(32), new Uint8Array(32)), "crypto_unsupported", /level 512/);
  const hash = b.blake3;
  assert.ok(hash !== undefined);
  for (const outBytes of [0, -1, 1.5, (1 << 20) + 1]) {
    await rejectsWith(() => hash(new Uint8Array(1), outBytes), "crypto_bad_length", /BLAKE3 output length/);
  }
  // Not a Uint8Array at all.
  const notBytes = "not bytes" as unknown as Uint8Array;
  await rejectsWith(b.mlDsaSigner(notBytes), "crypto_bad_length", /must be a Uint8Array/);
  await rejectsWith(verifier.verify(notBytes, signature), "crypto_bad_length", /must be a Uint8Array/);
  await rejectsWith(() => hash(notBytes), "crypto_bad_length", /must be a Uint8Array/);
});

Deno.test("garbage keys, signatures and ciphertexts never crash the process", { ignore }, async () => {
  const b = backend();
  const noise = garbage(0x5eed);
  const signer = await b.mlDsaSigner(new Uint8Array(32).fill(9));
  const message = new Uint8Array([1, 2, 3]);
  const signature = await signer.sign(message);
  for (let round = 0; round < 30; round++) {
    const randomKey = await b.mlDsaVerifier(noise(ML_DSA_87.publicKeyBytes));
    assert.equal(await randomKey.verify(message, signature), false);
    const verifier = await b.mlDsaVerifier(signer.publicKey);
    assert.equal(await verifier.verify(message, noise(ML_DSA_87.signatureBytes)), false);
    for (const level of [768, 1024] as const) {
      const sizes = ML_KEM[level];
      await rejectsWith(b.mlKemEncaps(level, noise(sizes.encapsulationKeyBytes)), "crypto_bad_key", /modulus check/);
      await rejectsWith(
        b.mlKemDecaps(level, noise(sizes.decapsulationKeyBytes), noise(sizes.ciphertextBytes)),
        "crypto_bad_key",
        /hash check/,
      );
    }
  }
  for (const fill of [0x00, 0xff]) {
    const verifier = await b.mlDsaVerifier(new Uint8Array(ML_DSA_87.publicKeyBytes).fill(fill));
    assert.equal(await verifier.verify(message, new Uint8Array(ML_DSA_87.signatureBytes).fill(fill)), false);
  }
  const pair = await b.mlKemKeygen(768, noise(32), noise(32));
  const rejected = await b.mlKemDecaps(768, pair.decapsulationKey, noise(ML_KEM[768].ciphertextBytes));
  assert.equal(rejected.length, 32, "a garbage ciphertext yields the implicit-rejection key");
  const batch = Array.from({ length: 6 }, () => ({
    publicKey: noise(ML_DSA_87.publicKeyBytes),
    message: noise(40),
    signature: noise(ML_DSA_87.signatureBytes),
    context: noise(10),
  }));
  assert.deepEqual(await b.mlDsaVerifyBatch(batch, 2), batch.map(() => false));
});

Deno.test({
  name: "mlDsaSyncSigner() signs on the calling thread; its signatures verify on noble",
  ignore: !nativeAvailableForSyncTest(),
  fn() {
    const backend = createNativeBackend();
    const seed = new Uint8Array(32).fill(5);
    const signer = backend.mlDsaSyncSigner!(seed);
    const msg = new TextEncoder().encode("sync");
    const sig = signer.sign(msg);
    assert.equal(sig.length, 4627);
    assert.ok(ml_dsa87.verify(sig, msg, signer.publicKey));
    assert.deepEqual(signer.publicKey, ml_dsa87.keygen(seed).publicKey);
    assert.throws(() => backend.mlDsaSyncSigner!(new Uint8Array(31)), /31 bytes, expected 32/);
  },
});

function nativeAvailableForSyncTest(): boolean {
  try {
    createNativeBackend();
    return true;
  } catch {
    return false;
  }
}
