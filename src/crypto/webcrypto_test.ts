import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import { ml_kem1024, ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { CryptoError, type CryptoErrorCode } from "./backend.ts";
import {
  checkEncapsulationKeyModulus,
  createWebCryptoBackend,
  expandDecapsulationKey,
  probeWebCrypto,
} from "./webcrypto.ts";

function bytes(label: string, length: number): Uint8Array {
  return shake128(new TextEncoder().encode(label), { dkLen: length });
}

async function assertCryptoError(
  action: () => Promise<unknown>,
  code: CryptoErrorCode,
): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof CryptoError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

Deno.test("probeWebCrypto() finds ML-DSA-87 and ML-KEM in this Deno", async () => {
  assert.equal(await probeWebCrypto(), null);
});

Deno.test("createWebCryptoBackend() reports what WebCrypto cannot do", () => {
  assert.deepEqual(createWebCryptoBackend().capabilities, {
    context: false,
    callerRandomness: false,
    batchThreads: false,
    kemDeterministic: false,
    blake3: false,
  });
  assert.equal(createWebCryptoBackend().blake3, undefined);
});

Deno.test("createWebCryptoBackend() rejects a cache of 0 entries", () => {
  assert.throws(
    () => createWebCryptoBackend({ verifierCacheEntriesMax: 0 }),
    RangeError,
  );
});

Deno.test("expandDecapsulationKey() equals the FIPS 203 dk that noble derives", () => {
  for (const [level, kem] of [[768, ml_kem768], [1024, ml_kem1024]] as const) {
    for (let i = 0; i < 20; i++) {
      const seed = bytes(`expand ${level} ${i}`, 64);
      const { publicKey, secretKey } = kem.keygen(seed);
      const dk = expandDecapsulationKey(
        level,
        seed.subarray(0, 32),
        seed.subarray(32),
        publicKey,
      );
      assert.equal(dk.toHex(), secretKey.toHex(), `ML-KEM-${level} seed ${i}`);
    }
  }
});

Deno.test("checkEncapsulationKeyModulus() accepts a real key and rejects a coefficient of q in either slot", () => {
  const { publicKey } = ml_kem768.keygen(bytes("modulus", 64));
  checkEncapsulationKeyModulus(768, publicKey);
  // Bytes 300..302 pack coefficients 200 (low 12 bits) and 201 (high 12 bits).
  const low = new Uint8Array(publicKey);
  low[300] = 0x01;
  low[301] = (low[301] & 0xf0) | 0x0d; // 0xd01 = 3329
  assert.throws(
    () => checkEncapsulationKeyModulus(768, low),
    (error: unknown) =>
      error instanceof CryptoError && error.code === "crypto_bad_key" &&
      error.message.includes("coefficient 200 is 3329"),
  );
  const high = new Uint8Array(publicKey);
  high[301] = (high[301] & 0x0f) | 0xf0;
  high[302] = 0xff; // 0xfff = 4095
  assert.throws(
    () => checkEncapsulationKeyModulus(768, high),
    (error: unknown) =>
      error instanceof CryptoError &&
      error.message.includes("coefficient 201 is 4095"),
  );
});

Deno.test("sign() makes a fresh signature each call that noble verifies", async () => {
  const backend = createWebCryptoBackend();
  const seed = bytes("sign", 32);
  const signer = await backend.mlDsaSigner(seed);
  const message = bytes("message", 50);
  const first = await signer.sign(message);
  const second = await signer.sign(message);
  assert.notEqual(first.toHex(), second.toHex());
  const { publicKey } = ml_dsa87.keygen(seed);
  assert.equal(signer.publicKey.toHex(), publicKey.toHex());
  assert.ok(ml_dsa87.verify(first, message, publicKey));
  assert.ok(ml_dsa87.verify(second, message, publicKey));
});

Deno.test("sign() with a context or rnd throws crypto_unsupported", async () => {
  const signer = await createWebCryptoBackend().mlDsaSigner(bytes("s", 32));
  await assertCryptoError(
    () => signer.sign(new Uint8Array(1), { context: new Uint8Array(1) }),
    "crypto_unsupported",
  );
  await assertCryptoError(
    () => signer.sign(new Uint8Array(1), { rnd: new Uint8Array(32) }),
    "crypto_unsupported",
  );
  // An empty context is the default and therefore fine.
  assert.equal(
    (await signer.sign(new Uint8Array(1), { context: new Uint8Array(0) }))
      .length,
    4627,
  );
});

Deno.test("verify() with a non-empty context throws crypto_unsupported", async () => {
  const backend = createWebCryptoBackend();
  const signer = await backend.mlDsaSigner(bytes("v", 32));
  const verifier = await backend.mlDsaVerifier(signer.publicKey);
  await assertCryptoError(
    () =>
      verifier.verify(
        new Uint8Array(1),
        new Uint8Array(4627),
        new Uint8Array(3),
      ),
    "crypto_unsupported",
  );
});

Deno.test("mlDsaVerifyBatch() stays correct when the verifier cache holds one key", async () => {
  const backend = createWebCryptoBackend({ verifierCacheEntriesMax: 1 });
  const items = [];
  for (let i = 0; i < 6; i++) {
    const signer = await backend.mlDsaSigner(bytes(`batch ${i % 3}`, 32));
    const message = bytes(`batch message ${i}`, i);
    items.push({
      publicKey: signer.publicKey,
      message,
      signature: await signer.sign(message),
    });
  }
  // Item 5 carries item 4's signature: it must fail, the others pass.
  items[5] = { ...items[5], signature: items[4].signature };
  assert.deepEqual(await backend.mlDsaVerifyBatch(items), [
    true,
    true,
    true,
    true,
    true,
    false,
  ]);
  assert.deepEqual(await backend.mlDsaVerifyBatch([]), []);
});

Deno.test("mlKemEncaps() with a caller-supplied m throws crypto_unsupported", async () => {
  const backend = createWebCryptoBackend();
  const keys = await backend.mlKemKeygen(768, bytes("d", 32), bytes("z", 32));
  await assertCryptoError(
    () => backend.mlKemEncaps(768, keys.encapsulationKey, new Uint8Array(32)),
    "crypto_unsupported",
  );
});

Deno.test("mlKemDecaps() decapsulates only keys this backend generated and still holds", async () => {
  const backend = createWebCryptoBackend({ decapsulationKeyEntriesMax: 1 });
  const first = await backend.mlKemKeygen(768, bytes("d1", 32), bytes("z1", 32));
  const { ciphertext, sharedKey } = await backend.mlKemEncaps(
    768,
    first.encapsulationKey,
  );
  assert.equal(
    (await backend.mlKemDecaps(768, first.decapsulationKey, ciphertext))
      .toHex(),
    sharedKey.toHex(),
  );

  // A second key evicts the first (one entry kept).
  await backend.mlKemKeygen(768, bytes("d2", 32), bytes("z2", 32));
  await assertCryptoError(
    () => backend.mlKemDecaps(768, first.decapsulationKey, ciphertext),
    "crypto_unsupported",
  );

  // A key generated elsewhere was never known.
  const foreign = ml_kem768.keygen(bytes("foreign", 64));
  await assertCryptoError(
    () => backend.mlKemDecaps(768, foreign.secretKey, ciphertext),
    "crypto_unsupported",
  );
});

Deno.test("mlKemDecaps() does not mix up the same seed at ML-KEM-768 and ML-KEM-1024", async () => {
  const backend = createWebCryptoBackend();
  const d = bytes("same d", 32);
  const z = bytes("same z", 32);
  const keys768 = await backend.mlKemKeygen(768, d, z);
  const keys1024 = await backend.mlKemKeygen(1024, d, z);
  for (const [level, keys] of [[768, keys768], [1024, keys1024]] as const) {
    const { ciphertext, sharedKey } = await backend.mlKemEncaps(
      level,
      keys.encapsulationKey,
    );
    assert.equal(
      (await backend.mlKemDecaps(level, keys.decapsulationKey, ciphertext))
        .toHex(),
      sharedKey.toHex(),
    );
  }
});

Deno.test("mlKemKeygen() rejects ML-KEM-512 with crypto_unsupported", async () => {
  await assertCryptoError(
    () =>
      createWebCryptoBackend().mlKemKeygen(
        512 as 768,
        new Uint8Array(32),
        new Uint8Array(32),
      ),
    "crypto_unsupported",
  );
});
