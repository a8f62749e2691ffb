/**
 * Known-answer conformance of every crypto backend (see tests/fixtures/README.md):
 * - accumulated ML-DSA-87 (C2SP/CCTV procedure): N = 100 normally, 10,000 when
 *   QUDAG_CONFORMANCE_FULL=1;
 * - accumulated ML-KEM-768/1024: 10,000 iterations when QUDAG_CONFORMANCE_FULL=1,
 *   else the first 100 (see ML_KEM_DIGESTS for the digests and why they differ
 *   from testdata/README.md);
 * - CCTV ML-KEM strcmp, unlucky-sample and modulus vectors;
 * - official BLAKE3 vectors.
 *
 * Backends: noble always, native when its library is built (else those tests are
 * ignored). WebCrypto cannot sign or encapsulate deterministically, so in the
 * accumulated runs it works alongside noble: its keygen must give noble's keys,
 * and it must verify noble's signatures and decapsulate noble's ciphertexts
 * (honest and random) to the same keys.
 */

import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import { type CryptoBackend, CryptoError, ML_DSA_87, ML_KEM, type MlKemLevel } from "../src/crypto/backend.ts";
import { createNobleBackend } from "../src/crypto/noble.ts";
import { loadBackend } from "../src/crypto/select.ts";
import { createWebCryptoBackend } from "../src/crypto/webcrypto.ts";

const FULL = Deno.env.get("QUDAG_CONFORMANCE_FULL") === "1";
const FIXTURES = new URL("./fixtures/", import.meta.url);

const noble = createNobleBackend();
const webcrypto = createWebCryptoBackend();
const native: CryptoBackend | null = await loadBackend("native").catch(() => null);
const nativeIgnored = native === null;
/** Decapsulates for WebCrypto in the unlucky-sample test. */
const reference: CryptoBackend = native ?? noble;

type Accumulated = Record<number, string>;

const ML_DSA_87_DIGESTS: Accumulated = {
  100: "8c3ad714777622b8f21ce31bb35f71394f23bc0fcf3c78ace5d608990f3b061b",
  10000: "80a8cf39317f7d0be0e24972c51ac152bd2a3e09bc0c32ce29dd82c4e7385e60",
};

/**
 * ML-KEM accumulated digests for final FIPS 203, where K-PKE.KeyGen hashes
 * G(d || k). The digests in testdata/README.md (f7db260e..., 47ac888f...) are
 * C2SP/CCTV's, computed for the FIPS 203 draft, whose KeyGen hashes G(d); no
 * final-standard implementation can reproduce them. The 10,000 values below are
 * the ones OpenBSD's LibreSSL regress test (regress/lib/libcrypto/mlkem/
 * mlkem_iteration_tests.c) expects for the same procedure on final ML-KEM, and
 * noble reproduces them exactly.
 *
 * The 100-iteration values were recorded from those noble runs: a backend that
 * matches them agrees with that reference on the first 100 iterations (keygen,
 * encaps, decaps and implicit rejection each time), which keeps the normal suite
 * fast; QUDAG_CONFORMANCE_FULL=1 runs all 10,000.
 */
const ML_KEM_DIGESTS: Record<MlKemLevel, Accumulated> = {
  768: {
    100: "8d65b902f28edc683cebee2872962fd165a4d197c9e24ec74caa4470270df0b7",
    10000: "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1",
  },
  1024: {
    100: "c3ffe9ebecfa479c142656cbfbc6417efa05b77e994fe538eef4daed166363df",
    10000: "e3bf82b013307b2e9d47dde791ff6dfc82e694e6382404abdb948b908b75bad5",
  },
};

const ML_DSA_ITERATIONS = FULL ? 10000 : 100;
const ML_KEM_ITERATIONS = FULL ? 10000 : 100;
const ZERO_RND = new Uint8Array(ML_DSA_87.rndBytes);
const EMPTY = new Uint8Array(0);

function hex(bytes: Uint8Array): string {
  return bytes.toHex();
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.fromHex(text);
}

/**
 * Accumulated ML-DSA-87 on `main`: keygen, deterministic sign, verify. Each
 * backend in `alongside` must derive the same public key and verify the same
 * signature (WebCrypto cannot sign deterministically, so it joins this way and
 * costs no extra signing). Resolves to the hex digest.
 */
async function accumulateMlDsa(
  iterations: number,
  main: CryptoBackend,
  alongside: readonly CryptoBackend[],
): Promise<string> {
  const src = shake128.create();
  const acc = shake128.create();
  for (let i = 0; i < iterations; i++) {
    const seed = src.xof(ML_DSA_87.seedBytes);
    const signer = await main.mlDsaSigner(seed);
    acc.update(signer.publicKey);
    const signature = await signer.sign(EMPTY, { rnd: ZERO_RND });
    acc.update(signature);
    for (const backend of [main, ...alongside]) {
      if (backend !== main) {
        const other = await backend.mlDsaSigner(seed);
        assert.equal(
          hex(other.publicKey),
          hex(signer.publicKey),
          `iteration ${i}: ${backend.name} derives another public key`,
        );
      }
      const verifier = await backend.mlDsaVerifier(signer.publicKey);
      assert.ok(
        await verifier.verify(EMPTY, signature),
        `iteration ${i}: ${backend.name} rejects the signature`,
      );
    }
  }
  return hex(acc.xof(32));
}

/**
 * Accumulated ML-KEM on `main`: keygen, deterministic encaps, decaps and
 * implicit rejection. Each backend in `alongside` must derive the same keys and
 * decapsulate both ciphertexts to the same keys. Resolves to the hex digest.
 */
async function accumulateMlKem(
  level: MlKemLevel,
  iterations: number,
  main: CryptoBackend,
  alongside: readonly CryptoBackend[],
): Promise<string> {
  const src = shake128.create();
  const acc = shake128.create();
  const ciphertextBytes = ML_KEM[level].ciphertextBytes;
  for (let i = 0; i < iterations; i++) {
    const d = src.xof(32);
    const z = src.xof(32);
    const m = src.xof(32);
    const badCiphertext = src.xof(ciphertextBytes);
    const keys = await main.mlKemKeygen(level, d, z);
    const { ciphertext, sharedKey } = await main.mlKemEncaps(
      level,
      keys.encapsulationKey,
      m,
    );
    const rejectionKey = await main.mlKemDecaps(
      level,
      keys.decapsulationKey,
      badCiphertext,
    );
    acc.update(keys.encapsulationKey);
    acc.update(keys.decapsulationKey);
    acc.update(ciphertext);
    acc.update(sharedKey);
    acc.update(rejectionKey);
    for (const backend of [main, ...alongside]) {
      const where = `iteration ${i} on ${backend.name}`;
      if (backend !== main) {
        const other = await backend.mlKemKeygen(level, d, z);
        assert.equal(
          hex(other.encapsulationKey),
          hex(keys.encapsulationKey),
          `${where}: another ek`,
        );
        assert.equal(
          hex(other.decapsulationKey),
          hex(keys.decapsulationKey),
          `${where}: another dk`,
        );
        assert.equal(
          hex(
            await backend.mlKemDecaps(
              level,
              keys.decapsulationKey,
              badCiphertext,
            ),
          ),
          hex(rejectionKey),
          `${where}: another implicit-rejection key`,
        );
      }
      assert.equal(
        hex(await backend.mlKemDecaps(level, keys.decapsulationKey, ciphertext)),
        hex(sharedKey),
        `${where}: decapsulation does not recover the shared key`,
      );
    }
  }
  return hex(acc.xof(32));
}

// WebCrypto runs alongside noble only, so its keygen is checked once per run.
const ACCUMULATED_RUNS = [
  ["noble, with WebCrypto alongside", noble, [webcrypto], false],
  ["native", native, [], nativeIgnored],
] as const;

// --- accumulated ML-DSA-87 --------------------------------------------------

for (const [label, backend, alongside, ignore] of ACCUMULATED_RUNS) {
  Deno.test({
    name:
      `ML-DSA-87 keygen, deterministic sign and verify match the accumulated digest over ${ML_DSA_ITERATIONS} seeds on ${label}`,
    ignore,
    async fn() {
      assert.ok(backend !== null);
      assert.equal(
        await accumulateMlDsa(ML_DSA_ITERATIONS, backend, alongside),
        ML_DSA_87_DIGESTS[ML_DSA_ITERATIONS],
      );
    },
  });
}

// --- accumulated ML-KEM -----------------------------------------------------

for (const level of [768, 1024] as const) {
  for (const [label, backend, alongside, ignore] of ACCUMULATED_RUNS) {
    Deno.test({
      name:
        `ML-KEM-${level} keygen, encaps, decaps and implicit rejection match the accumulated digest over ${ML_KEM_ITERATIONS} iterations on ${label}`,
      ignore,
      async fn() {
        assert.ok(backend !== null);
        assert.equal(
          await accumulateMlKem(level, ML_KEM_ITERATIONS, backend, alongside),
          ML_KEM_DIGESTS[level][ML_KEM_ITERATIONS],
        );
      },
    });
  }
}

// --- CCTV ML-KEM vectors ----------------------------------------------------

/** Parses the CCTV "name = hex" format into one record of byte fields. */
async function readKemVector(
  file: string,
): Promise<Record<string, Uint8Array>> {
  const text = await Deno.readTextFile(new URL(`ml-kem/${file}`, FIXTURES));
  const fields: Record<string, Uint8Array> = {};
  for (const line of text.split("\n")) {
    const match = /^(\w+) = ([0-9a-f]*)$/.exec(line.trim());
    if (match !== null) fields[match[1]] = fromHex(match[2]);
  }
  return fields;
}

async function readGzipLines(file: string): Promise<string[]> {
  const compressed = await Deno.readFile(new URL(`ml-kem/${file}`, FIXTURES));
  const stream = new Blob([compressed]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  const text = await new Response(stream).text();
  return text.split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
}

/** Backends that can decapsulate any FIPS 203 dk. */
const decapsulators = [
  ["noble", noble, false],
  ["native", native, nativeIgnored],
] as const;
/** Every backend: all of them must reject a bad encapsulation key. */
const allBackends = [
  ["noble", noble, false],
  ["webcrypto", webcrypto, false],
  ["native", native, nativeIgnored],
] as const;

for (const level of [768, 1024] as const) {
  for (const [label, backend, ignore] of decapsulators) {
    Deno.test({
      name: `mlKemDecaps() implicitly rejects the CCTV strcmp ciphertext for ML-KEM-${level} on ${label}`,
      ignore,
      async fn() {
        assert.ok(backend !== null);
        const vector = await readKemVector(`strcmp-ML-KEM-${level}.txt`);
        const key = await backend.mlKemDecaps(level, vector.dk, vector.c);
        assert.equal(hex(key), hex(vector.K));
      },
    });
  }

  for (const [label, backend, ignore] of allBackends) {
    // The vector's ek and dk come from the FIPS 203 draft's KeyGen (G(d) without
    // k), so final KeyGen cannot reproduce them from d and z. Encaps and Decaps
    // are unchanged in the final standard, and the unlucky matrix sampling
    // depends only on rho inside ek, so those are what this checks.
    Deno.test({
      name: `mlKemEncaps() and mlKemDecaps() handle the CCTV unlucky-sample key for ML-KEM-${level} on ${label}`,
      ignore,
      async fn() {
        assert.ok(backend !== null);
        const vector = await readKemVector(`unluckysample-ML-KEM-${level}.txt`);
        if (backend.capabilities.kemDeterministic) {
          const encapsulation = await backend.mlKemEncaps(
            level,
            vector.ek,
            vector.m,
          );
          assert.equal(hex(encapsulation.ciphertext), hex(vector.c));
          assert.equal(hex(encapsulation.sharedKey), hex(vector.K));
          const key = await backend.mlKemDecaps(level, vector.dk, vector.c);
          assert.equal(hex(key), hex(vector.K));
        } else {
          // Randomized encapsulation: the reference decapsulates what it produced.
          const encapsulation = await backend.mlKemEncaps(level, vector.ek);
          const key = await reference.mlKemDecaps(
            level,
            vector.dk,
            encapsulation.ciphertext,
          );
          assert.equal(hex(key), hex(encapsulation.sharedKey));
        }
      },
    });

    Deno.test({
      name:
        `mlKemEncaps() rejects every CCTV ML-KEM-${level} encapsulation key that fails the modulus check on ${label}`,
      ignore,
      async fn() {
        assert.ok(backend !== null);
        const keys = await readGzipLines(`modulus-ML-KEM-${level}.txt.gz`);
        assert.ok(keys.length > 0, "the modulus vector file is empty");
        for (const [index, line] of keys.entries()) {
          const ek = fromHex(line);
          await assert.rejects(
            () => backend.mlKemEncaps(level, ek),
            (error: unknown) => error instanceof CryptoError && error.code === "crypto_bad_key",
            `line ${index + 1} was accepted`,
          );
        }
      },
    });
  }
}

// --- BLAKE3 -----------------------------------------------------------------

interface Blake3Vectors {
  cases: { input_len: number; hash: string }[];
}

for (const [label, backend, ignore] of decapsulators) {
  Deno.test({
    name: `blake3() matches the official BLAKE3 test vectors on ${label}`,
    ignore,
    async fn() {
      assert.ok(backend !== null);
      const blake3 = backend.blake3?.bind(backend);
      assert.ok(blake3 !== undefined, `${label} has no blake3()`);
      const vectors: Blake3Vectors = JSON.parse(
        await Deno.readTextFile(new URL("blake3/test_vectors.json", FIXTURES)),
      );
      assert.ok(vectors.cases.length > 0);
      for (const vector of vectors.cases) {
        const input = new Uint8Array(vector.input_len).map((_, i) => i % 251);
        const extendedBytes = vector.hash.length / 2;
        assert.equal(
          hex(blake3(input, extendedBytes)),
          vector.hash,
          `input of ${vector.input_len} bytes, ${extendedBytes}-byte output`,
        );
        assert.equal(
          hex(blake3(input)),
          vector.hash.slice(0, 64),
          `input of ${vector.input_len} bytes, default output`,
        );
      }
    },
  });
}
