import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import { CryptoError, type CryptoErrorCode } from "./backend.ts";
import { BLAKE3_OUT_BYTES_MAX, createNobleBackend } from "./noble.ts";

const noble = createNobleBackend();

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

Deno.test("createNobleBackend() can do every operation except threaded batches", () => {
  assert.equal(noble.name, "noble");
  assert.deepEqual(noble.capabilities, {
    context: true,
    callerRandomness: true,
    batchThreads: false,
    kemDeterministic: true,
    blake3: true,
  });
});

Deno.test("sign() with rnd is deterministic and without rnd is not", async () => {
  const signer = await noble.mlDsaSigner(bytes("det", 32));
  const message = bytes("m", 10);
  const rnd = bytes("rnd", 32);
  assert.equal(
    (await signer.sign(message, { rnd })).toHex(),
    (await signer.sign(message, { rnd })).toHex(),
  );
  assert.notEqual(
    (await signer.sign(message, { rnd })).toHex(),
    (await signer.sign(message, { rnd: new Uint8Array(32) })).toHex(),
  );
  assert.notEqual(
    (await signer.sign(message)).toHex(),
    (await signer.sign(message)).toHex(),
  );
});

Deno.test("verify() binds the signature to its context", async () => {
  const signer = await noble.mlDsaSigner(bytes("ctx", 32));
  const verifier = await noble.mlDsaVerifier(signer.publicKey);
  const message = bytes("m", 3);
  const context = bytes("context", 255);
  const signature = await signer.sign(message, { context });
  assert.ok(await verifier.verify(message, signature, context));
  assert.equal(await verifier.verify(message, signature), false);
  assert.equal(
    await verifier.verify(message, signature, context.subarray(1)),
    false,
  );
});

Deno.test("mlDsaVerifier() keeps its own copy of the public key", async () => {
  const signer = await noble.mlDsaSigner(bytes("copy", 32));
  const publicKey = new Uint8Array(signer.publicKey);
  const verifier = await noble.mlDsaVerifier(publicKey);
  const signature = await signer.sign(new Uint8Array(0));
  publicKey.fill(0);
  assert.ok(await verifier.verify(new Uint8Array(0), signature));
});

Deno.test("mlKemDecaps() rejects a dk whose embedded ek does not match H(ek) with crypto_bad_key", async () => {
  const keys = await noble.mlKemKeygen(768, bytes("d", 32), bytes("z", 32));
  const tampered = new Uint8Array(keys.decapsulationKey);
  tampered[1152] ^= 1; // first byte of the embedded ek
  await assertCryptoError(
    () => noble.mlKemDecaps(768, tampered, new Uint8Array(1088)),
    "crypto_bad_key",
  );
});

Deno.test("mlKemEncaps() returns a shared key that owns its buffer", async () => {
  const keys = await noble.mlKemKeygen(1024, bytes("d", 32), bytes("z", 32));
  const { sharedKey } = await noble.mlKemEncaps(
    1024,
    keys.encapsulationKey,
    bytes("m", 32),
  );
  assert.equal(sharedKey.length, 32);
  assert.equal(sharedKey.buffer.byteLength, 32);
});

Deno.test("mlKemKeygen() rejects ML-KEM-512 with crypto_unsupported", async () => {
  await assertCryptoError(
    () => noble.mlKemKeygen(512 as 768, new Uint8Array(32), new Uint8Array(32)),
    "crypto_unsupported",
  );
});

Deno.test("blake3() hashes the empty input to the official digest and bounds its output length", () => {
  assert.equal(
    noble.blake3!(new Uint8Array(0)).toHex(),
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  );
  assert.equal(noble.blake3!(new Uint8Array(0), 7).toHex(), "af1349b9f5f9a1");
  for (const outBytes of [0, -1, 1.5, BLAKE3_OUT_BYTES_MAX + 1]) {
    assert.throws(
      () => noble.blake3!(new Uint8Array(0), outBytes),
      (error: unknown) => error instanceof CryptoError && error.code === "crypto_bad_length",
      `outBytes ${outBytes}`,
    );
  }
});
