/**
 * The backends against each other: the same seed gives the same keys everywhere,
 * deterministic outputs are byte-identical, each backend accepts what the others
 * produce, and every backend rejects tampered inputs and wrong lengths the same
 * way (false for a signature that does not verify, CryptoError for bad input).
 *
 * Native is included when its library is built; its steps are ignored otherwise.
 */

import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import {
  type CryptoBackend,
  CryptoError,
  type CryptoErrorCode,
  type Encapsulation,
  ML_DSA_87,
  ML_KEM,
  type MlKemLevel,
} from "../src/crypto/backend.ts";
import { createNobleBackend } from "../src/crypto/noble.ts";
import { createRoutedBackend, loadBackend } from "../src/crypto/select.ts";
import { createWebCryptoBackend } from "../src/crypto/webcrypto.ts";

const noble = createNobleBackend();
const webcrypto = createWebCryptoBackend();
const native: CryptoBackend | null = await loadBackend("native").catch(() => null);
const routed = createRoutedBackend(webcrypto, createNobleBackend());

/** [label, backend]; native is null when its library is not built. */
const BACKENDS: readonly (readonly [string, CryptoBackend | null])[] = [
  ["noble", noble],
  ["webcrypto", webcrypto],
  ["native", native],
  ["webcrypto routed to noble", routed],
];

const LEVELS: readonly MlKemLevel[] = [768, 1024];

/** Deterministic test bytes: SHAKE128 over a label. */
function bytes(label: string, length: number): Uint8Array {
  return shake128(new TextEncoder().encode(label), { dkLen: length });
}

function hex(value: Uint8Array): string {
  return value.toHex();
}

function flipBit(value: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(value);
  copy[index] ^= 0x01;
  return copy;
}

/** Runs `fn` once per backend as a step; native is ignored when unavailable. */
async function onEveryBackend(
  t: Deno.TestContext,
  fn: (backend: CryptoBackend, label: string) => Promise<void>,
  backends: readonly (readonly [string, CryptoBackend | null])[] = BACKENDS,
): Promise<void> {
  for (const [label, backend] of backends) {
    await t.step({
      name: label,
      ignore: backend === null,
      fn: () => fn(backend as CryptoBackend, label),
    });
  }
}

async function assertCryptoError(
  action: () => unknown,
  code: CryptoErrorCode,
  mentions?: string,
): Promise<void> {
  await assert.rejects(
    async () => await action(),
    (error: unknown) => {
      assert.ok(
        error instanceof CryptoError,
        `expected a CryptoError, got ${String(error)}`,
      );
      assert.equal(error.code, code, error.message);
      if (mentions !== undefined) {
        assert.ok(
          error.message.includes(mentions),
          `message "${error.message}" does not mention ${mentions}`,
        );
      }
      return true;
    },
  );
}

const SEEDS = [0, 1, 2, 3].map((i) => bytes(`ml-dsa seed ${i}`, 32));
const MESSAGES = [0, 1, 33, 1000].map((n) => bytes(`message ${n}`, n));
const ZERO_RND = new Uint8Array(32);

// --- same seed, same keys ---------------------------------------------------

Deno.test("mlDsaSigner() derives the same public key from the same seed on every backend", async (t) => {
  const expected = await Promise.all(
    SEEDS.map(async (seed) => hex((await noble.mlDsaSigner(seed)).publicKey)),
  );
  await onEveryBackend(t, async (backend) => {
    for (const [i, seed] of SEEDS.entries()) {
      const signer = await backend.mlDsaSigner(seed);
      assert.equal(signer.publicKey.length, ML_DSA_87.publicKeyBytes);
      assert.equal(hex(signer.publicKey), expected[i], `seed ${i}`);
    }
  });
});

Deno.test("mlKemKeygen() derives the same keys from the same d and z on every backend", async (t) => {
  await onEveryBackend(t, async (backend) => {
    for (const level of LEVELS) {
      for (let i = 0; i < 3; i++) {
        const d = bytes(`d ${i}`, 32);
        const z = bytes(`z ${i}`, 32);
        const expected = await noble.mlKemKeygen(level, d, z);
        const actual = await backend.mlKemKeygen(level, d, z);
        assert.equal(
          hex(actual.encapsulationKey),
          hex(expected.encapsulationKey),
        );
        assert.equal(
          hex(actual.decapsulationKey),
          hex(expected.decapsulationKey),
        );
      }
    }
  });
});

// --- deterministic outputs are identical ------------------------------------

Deno.test({
  name: "deterministic ML-DSA-87 signatures are byte-identical on noble and native",
  ignore: native === null,
  async fn() {
    assert.ok(native !== null);
    const rnds = [ZERO_RND, bytes("rnd", 32)];
    const contexts = [undefined, new Uint8Array(0), bytes("context", 255)];
    for (const seed of SEEDS.slice(0, 2)) {
      const a = await noble.mlDsaSigner(seed);
      const b = await native.mlDsaSigner(seed);
      for (const message of MESSAGES) {
        for (const rnd of rnds) {
          for (const context of contexts) {
            assert.equal(
              hex(await b.sign(message, { rnd, context })),
              hex(await a.sign(message, { rnd, context })),
            );
          }
        }
      }
    }
  },
});

Deno.test({
  name: "deterministic ML-KEM encapsulation is byte-identical on noble and native",
  ignore: native === null,
  async fn() {
    assert.ok(native !== null);
    for (const level of LEVELS) {
      const keys = await noble.mlKemKeygen(level, bytes("d", 32), bytes("z", 32));
      for (let i = 0; i < 3; i++) {
        const m = bytes(`m ${i}`, 32);
        const a = await noble.mlKemEncaps(level, keys.encapsulationKey, m);
        const b: Encapsulation = await native.mlKemEncaps(
          level,
          keys.encapsulationKey,
          m,
        );
        assert.equal(hex(b.ciphertext), hex(a.ciphertext));
        assert.equal(hex(b.sharedKey), hex(a.sharedKey));
      }
    }
  },
});

Deno.test({
  name: "blake3() is byte-identical on noble and native",
  ignore: native === null,
  fn() {
    assert.ok(native?.blake3 !== undefined);
    for (const length of [0, 1, 64, 1024, 1025, 100_000]) {
      const data = bytes(`blake3 ${length}`, length);
      for (const outBytes of [undefined, 1, 32, 64, 200]) {
        assert.equal(
          hex(native.blake3(data, outBytes)),
          hex(noble.blake3!(data, outBytes)),
        );
      }
    }
  },
});

// --- interoperability --------------------------------------------------------

Deno.test("every backend verifies every other backend's ML-DSA-87 signatures", async (t) => {
  const seed = SEEDS[0];
  const message = MESSAGES[2];
  const signatures: [string, Uint8Array][] = [];
  for (const [label, backend] of BACKENDS) {
    if (backend === null) continue;
    const signer = await backend.mlDsaSigner(seed);
    signatures.push([label, await signer.sign(message)]);
  }
  const publicKey = (await noble.mlDsaSigner(seed)).publicKey;
  await onEveryBackend(t, async (backend) => {
    const verifier = await backend.mlDsaVerifier(publicKey);
    for (const [label, signature] of signatures) {
      assert.equal(
        signature.length,
        ML_DSA_87.signatureBytes,
        `${label} signature length`,
      );
      assert.ok(
        await verifier.verify(message, signature),
        `signature from ${label}`,
      );
    }
    const batch = await backend.mlDsaVerifyBatch(
      signatures.map(([, signature]) => ({ publicKey, message, signature })),
      2,
    );
    assert.deepEqual(batch, signatures.map(() => true));
  });
});

Deno.test("every backend with contexts verifies the others' context signatures", async (t) => {
  const contextBackends = BACKENDS.filter(([, backend]) => backend === null || backend.capabilities.context);
  const seed = SEEDS[1];
  const message = MESSAGES[1];
  const context = bytes("ctx", 17);
  const publicKey = (await noble.mlDsaSigner(seed)).publicKey;
  const signatures: Uint8Array[] = [];
  for (const [, backend] of contextBackends) {
    if (backend === null) continue;
    signatures.push(await (await backend.mlDsaSigner(seed)).sign(message, { context }));
  }
  await onEveryBackend(t, async (backend) => {
    const verifier = await backend.mlDsaVerifier(publicKey);
    for (const signature of signatures) {
      assert.ok(await verifier.verify(message, signature, context));
      assert.equal(
        await verifier.verify(message, signature, bytes("other ctx", 17)),
        false,
      );
      assert.equal(await verifier.verify(message, signature), false);
    }
  }, contextBackends);
});

Deno.test("a ciphertext from any backend decapsulates to the same shared key on every backend", async (t) => {
  for (const level of LEVELS) {
    const d = bytes(`kem d ${level}`, 32);
    const z = bytes(`kem z ${level}`, 32);
    const { encapsulationKey, decapsulationKey } = await noble.mlKemKeygen(
      level,
      d,
      z,
    );
    const encapsulations: Encapsulation[] = [];
    for (const [, backend] of BACKENDS) {
      if (backend === null) continue;
      encapsulations.push(await backend.mlKemEncaps(level, encapsulationKey));
    }
    await t.step(`ML-KEM-${level}`, async (t) => {
      await onEveryBackend(t, async (backend) => {
        // WebCrypto decapsulates only keys it generated: let it generate this one.
        await backend.mlKemKeygen(level, d, z);
        for (const { ciphertext, sharedKey } of encapsulations) {
          assert.equal(ciphertext.length, ML_KEM[level].ciphertextBytes);
          assert.equal(
            hex(await backend.mlKemDecaps(level, decapsulationKey, ciphertext)),
            hex(sharedKey),
          );
        }
        // Implicit rejection must be the same pseudorandom key everywhere.
        const tampered = flipBit(encapsulations[0].ciphertext, 100);
        assert.equal(
          hex(await backend.mlKemDecaps(level, decapsulationKey, tampered)),
          hex(await noble.mlKemDecaps(level, decapsulationKey, tampered)),
        );
      });
    });
  }
});

// --- tampering -----------------------------------------------------------------

Deno.test("mlDsaVerify() returns false for a tampered message, signature or public key on every backend", async (t) => {
  const signer = await noble.mlDsaSigner(SEEDS[2]);
  const other = await noble.mlDsaSigner(SEEDS[3]);
  const message = MESSAGES[3];
  const signature = await signer.sign(message);
  await onEveryBackend(t, async (backend) => {
    const verifier = await backend.mlDsaVerifier(signer.publicKey);
    assert.ok(await verifier.verify(message, signature));
    assert.equal(await verifier.verify(flipBit(message, 0), signature), false);
    assert.equal(await verifier.verify(message.subarray(1), signature), false);
    for (const index of [0, 100, 2000, ML_DSA_87.signatureBytes - 1]) {
      assert.equal(
        await verifier.verify(message, flipBit(signature, index)),
        false,
        `signature bit flipped at byte ${index}`,
      );
    }
    for (const index of [0, 40, ML_DSA_87.publicKeyBytes - 1]) {
      const tamperedKey = await backend.mlDsaVerifier(
        flipBit(signer.publicKey, index),
      );
      assert.equal(
        await tamperedKey.verify(message, signature),
        false,
        `public key bit flipped at byte ${index}`,
      );
    }
    const wrongKey = await backend.mlDsaVerifier(other.publicKey);
    assert.equal(await wrongKey.verify(message, signature), false);
    assert.deepEqual(
      await backend.mlDsaVerifyBatch([
        { publicKey: signer.publicKey, message, signature },
        { publicKey: other.publicKey, message, signature },
        { publicKey: signer.publicKey, message: flipBit(message, 5), signature },
        { publicKey: signer.publicKey, message, signature: flipBit(signature, 9) },
      ]),
      [true, false, false, false],
    );
  });
});

Deno.test("mlKemDecaps() rejects a decapsulation key that fails the FIPS 203 hash check with crypto_bad_key", async (t) => {
  for (const level of LEVELS) {
    const keys = await noble.mlKemKeygen(level, bytes("hk d", 32), bytes("hk z", 32));
    const { ciphertext } = await noble.mlKemEncaps(level, keys.encapsulationKey);
    // A byte of the embedded ek changes, so H(ek) no longer matches.
    const tampered = flipBit(keys.decapsulationKey, 384 * (level === 768 ? 3 : 4) + 7);
    await t.step(`ML-KEM-${level}`, async (t) => {
      await onEveryBackend(t, async (backend) => {
        // WebCrypto cannot import an expanded dk at all, so for it this is unsupported.
        const code = backend === webcrypto ? "crypto_unsupported" : "crypto_bad_key";
        await assertCryptoError(
          () => backend.mlKemDecaps(level, tampered, ciphertext),
          code,
        );
      });
    });
  }
});

Deno.test("mlKemEncaps() rejects an encapsulation key with a coefficient of q with crypto_bad_key on every backend", async (t) => {
  for (const level of LEVELS) {
    const keys = await noble.mlKemKeygen(level, bytes("mod d", 32), bytes("mod z", 32));
    const bad = new Uint8Array(keys.encapsulationKey);
    // Coefficient 0 := 3329 (= q), packed little-endian in 12 bits.
    bad[0] = 3329 & 0xff;
    bad[1] = (bad[1] & 0xf0) | (3329 >> 8);
    await onEveryBackend(t, async (backend) => {
      await assertCryptoError(
        () => backend.mlKemEncaps(level, bad),
        "crypto_bad_key",
      );
    });
  }
});

// --- wrong lengths ---------------------------------------------------------------

interface LengthCase {
  name: string;
  mentions: string;
  run(backend: CryptoBackend): Promise<unknown>;
}

const validSeed = SEEDS[0];
const validSigner = await noble.mlDsaSigner(validSeed);
const validSignature = await validSigner.sign(MESSAGES[1]);
const validKem = {
  768: await noble.mlKemKeygen(768, bytes("len d", 32), bytes("len z", 32)),
  1024: await noble.mlKemKeygen(1024, bytes("len d", 32), bytes("len z", 32)),
};

const LENGTH_CASES: LengthCase[] = [];

for (const size of [0, 31, 33]) {
  LENGTH_CASES.push({
    name: `mlDsaSigner() rejects a seed of ${size} bytes`,
    mentions: String(size),
    run: (backend) => backend.mlDsaSigner(new Uint8Array(size)),
  });
}
for (const size of [0, 2591, 2593]) {
  LENGTH_CASES.push({
    name: `mlDsaVerifier() rejects a public key of ${size} bytes`,
    mentions: String(size),
    run: (backend) => backend.mlDsaVerifier(new Uint8Array(size)),
  });
}
for (const size of [0, 4626, 4628]) {
  LENGTH_CASES.push({
    name: `mlDsaVerify() rejects a signature of ${size} bytes`,
    mentions: String(size),
    run: async (backend) =>
      (await backend.mlDsaVerifier(validSigner.publicKey)).verify(
        MESSAGES[1],
        new Uint8Array(size),
      ),
  });
  LENGTH_CASES.push({
    name: `mlDsaVerifyBatch() rejects a batch holding a signature of ${size} bytes`,
    mentions: String(size),
    run: (backend) =>
      backend.mlDsaVerifyBatch([
        {
          publicKey: validSigner.publicKey,
          message: MESSAGES[1],
          signature: validSignature,
        },
        {
          publicKey: validSigner.publicKey,
          message: MESSAGES[1],
          signature: new Uint8Array(size),
        },
      ]),
  });
}
LENGTH_CASES.push({
  name: "mlDsaVerifyBatch() rejects a batch holding a public key of 2591 bytes",
  mentions: "2591",
  run: (backend) =>
    backend.mlDsaVerifyBatch([{
      publicKey: new Uint8Array(2591),
      message: MESSAGES[1],
      signature: validSignature,
    }]),
});
LENGTH_CASES.push({
  name: "sign() rejects a context of 256 bytes",
  mentions: "256",
  run: async (backend) =>
    (await backend.mlDsaSigner(validSeed)).sign(MESSAGES[1], {
      context: new Uint8Array(256),
    }),
});
LENGTH_CASES.push({
  name: "mlDsaVerify() rejects a context of 256 bytes",
  mentions: "256",
  run: async (backend) =>
    (await backend.mlDsaVerifier(validSigner.publicKey)).verify(
      MESSAGES[1],
      validSignature,
      new Uint8Array(256),
    ),
});
for (const size of [0, 31, 33]) {
  LENGTH_CASES.push({
    name: `sign() rejects rnd of ${size} bytes`,
    mentions: String(size),
    run: async (backend) =>
      (await backend.mlDsaSigner(validSeed)).sign(MESSAGES[1], {
        rnd: new Uint8Array(size),
      }),
  });
}
for (const level of LEVELS) {
  const sizes = ML_KEM[level];
  const keys = validKem[level];
  for (const size of [31, 33]) {
    LENGTH_CASES.push({
      name: `mlKemKeygen() rejects an ML-KEM-${level} d of ${size} bytes`,
      mentions: String(size),
      run: (backend) => backend.mlKemKeygen(level, new Uint8Array(size), new Uint8Array(32)),
    });
    LENGTH_CASES.push({
      name: `mlKemKeygen() rejects an ML-KEM-${level} z of ${size} bytes`,
      mentions: String(size),
      run: (backend) => backend.mlKemKeygen(level, new Uint8Array(32), new Uint8Array(size)),
    });
    LENGTH_CASES.push({
      name: `mlKemEncaps() rejects an ML-KEM-${level} m of ${size} bytes`,
      mentions: String(size),
      run: (backend) => backend.mlKemEncaps(level, keys.encapsulationKey, new Uint8Array(size)),
    });
  }
  for (const delta of [-1, 1]) {
    const ekSize = sizes.encapsulationKeyBytes + delta;
    LENGTH_CASES.push({
      name: `mlKemEncaps() rejects an ML-KEM-${level} encapsulation key of ${ekSize} bytes`,
      mentions: String(ekSize),
      run: (backend) => backend.mlKemEncaps(level, new Uint8Array(ekSize)),
    });
    const dkSize = sizes.decapsulationKeyBytes + delta;
    LENGTH_CASES.push({
      name: `mlKemDecaps() rejects an ML-KEM-${level} decapsulation key of ${dkSize} bytes`,
      mentions: String(dkSize),
      run: (backend) =>
        backend.mlKemDecaps(
          level,
          new Uint8Array(dkSize),
          new Uint8Array(sizes.ciphertextBytes),
        ),
    });
    const ctSize = sizes.ciphertextBytes + delta;
    LENGTH_CASES.push({
      name: `mlKemDecaps() rejects an ML-KEM-${level} ciphertext of ${ctSize} bytes`,
      mentions: String(ctSize),
      run: (backend) => backend.mlKemDecaps(level, keys.decapsulationKey, new Uint8Array(ctSize)),
    });
  }
}
// ML-KEM-768 sizes handed to ML-KEM-1024 (and back) are wrong lengths too.
LENGTH_CASES.push({
  name: "mlKemEncaps() rejects an ML-KEM-768 encapsulation key passed as ML-KEM-1024",
  mentions: "1184",
  run: (backend) => backend.mlKemEncaps(1024, validKem[768].encapsulationKey),
});

for (const lengthCase of LENGTH_CASES) {
  Deno.test(`${lengthCase.name} on every backend`, async (t) => {
    await onEveryBackend(t, (backend) =>
      assertCryptoError(
        () => lengthCase.run(backend),
        "crypto_bad_length",
        lengthCase.mentions,
      ));
  });
}

Deno.test("blake3() rejects an output length of 0 on every backend that has BLAKE3", async (t) => {
  await onEveryBackend(
    t,
    async (backend) => {
      assert.ok(backend.blake3 !== undefined);
      await assertCryptoError(
        () => backend.blake3!(new Uint8Array(1), 0),
        "crypto_bad_length",
      );
    },
    BACKENDS.filter(([, backend]) => backend === null || backend.capabilities.blake3),
  );
});
