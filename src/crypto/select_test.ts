import assert from "node:assert/strict";
import { shake128 } from "@noble/hashes/sha3.js";
import { type CryptoBackend, CryptoError, type VerifyItem } from "./backend.ts";
import { createNobleBackend } from "./noble.ts";
import { createRoutedBackend, isBackendRequest, loadBackend, selectCryptoBackend } from "./select.ts";
import { createWebCryptoBackend } from "./webcrypto.ts";

function bytes(label: string, length: number): Uint8Array {
  return shake128(new TextEncoder().encode(label), { dkLen: length });
}

const nativeLoads = await loadBackend("native").then(() => true, () => false);

/** Wraps a backend so tests can see which operations reached it. */
function recording(backend: CryptoBackend): {
  backend: CryptoBackend;
  calls: string[];
} {
  const calls: string[] = [];
  const wrapped: CryptoBackend = {
    name: backend.name,
    capabilities: backend.capabilities,
    async mlDsaSigner(seed) {
      const signer = await backend.mlDsaSigner(seed);
      return {
        publicKey: signer.publicKey,
        sign(message, options) {
          calls.push("sign");
          return signer.sign(message, options);
        },
      };
    },
    async mlDsaVerifier(publicKey) {
      const verifier = await backend.mlDsaVerifier(publicKey);
      return {
        publicKey: verifier.publicKey,
        verify(message, signature, context) {
          calls.push("verify");
          return verifier.verify(message, signature, context);
        },
      };
    },
    mlDsaVerifyBatch(items, threads) {
      calls.push(`batch:${items.length}`);
      return backend.mlDsaVerifyBatch(items, threads);
    },
    mlKemKeygen(level, d, z) {
      calls.push("keygen");
      return backend.mlKemKeygen(level, d, z);
    },
    mlKemEncaps(level, ek, m) {
      calls.push("encaps");
      return backend.mlKemEncaps(level, ek, m);
    },
    mlKemDecaps(level, dk, ct) {
      calls.push("decaps");
      return backend.mlKemDecaps(level, dk, ct);
    },
  };
  if (backend.blake3 !== undefined) {
    const blake3 = backend.blake3.bind(backend);
    wrapped.blake3 = (data, outBytes) => {
      calls.push("blake3");
      return blake3(data, outBytes);
    };
  }
  return { backend: wrapped, calls };
}

Deno.test("isBackendRequest() accepts the four names and nothing else", () => {
  for (const name of ["auto", "native", "webcrypto", "noble"]) {
    assert.ok(isBackendRequest(name), name);
  }
  for (const value of ["", "Native", "wasm", undefined, 1]) {
    assert.equal(isBackendRequest(value), false, String(value));
  }
});

Deno.test("selectCryptoBackend() picks the fastest available backend and says why", async () => {
  const selected = await selectCryptoBackend();
  assert.equal(selected.name, nativeLoads ? "native" : "webcrypto");
  assert.equal(selected.backend.name, selected.name);
  assert.match(selected.reason, /^auto: /);
  assert.equal(selected.probes[0].name, "native");
  assert.equal(selected.probes[0].available, nativeLoads);
  assert.ok(selected.probes[0].reason.length > 0);
  // Whatever was picked, every operation works through the router.
  assert.ok(selected.backend.capabilities.context);
  assert.ok(selected.backend.capabilities.callerRandomness);
  assert.ok(selected.backend.capabilities.kemDeterministic);
  assert.ok(selected.backend.capabilities.blake3);
  // Only the native library can give the C heap's free memory back; the router keeps it.
  assert.equal(selected.backend.releaseFreeMemory !== undefined, nativeLoads);
});

Deno.test("selectCryptoBackend() returns noble bare because it needs no routing", async () => {
  const selected = await selectCryptoBackend({ requested: "noble" });
  assert.equal(selected.name, "noble");
  assert.equal(selected.fallback, null);
  assert.equal(selected.reason, "requested: noble");
});

Deno.test("selectCryptoBackend() routes webcrypto to noble unless route is false", async () => {
  const routed = await selectCryptoBackend({ requested: "webcrypto" });
  assert.equal(routed.name, "webcrypto");
  assert.equal(routed.fallback, "noble");
  const signer = await routed.backend.mlDsaSigner(bytes("seed", 32));
  const context = new Uint8Array([1, 2, 3]);
  const signature = await signer.sign(new Uint8Array(0), { context });
  const verifier = await routed.backend.mlDsaVerifier(signer.publicKey);
  assert.ok(await verifier.verify(new Uint8Array(0), signature, context));

  const bare = await selectCryptoBackend({
    requested: "webcrypto",
    route: false,
  });
  assert.equal(bare.fallback, null);
  const bareSigner = await bare.backend.mlDsaSigner(bytes("seed", 32));
  await assert.rejects(
    () => bareSigner.sign(new Uint8Array(0), { context }),
    (error: unknown) => error instanceof CryptoError && error.code === "crypto_unsupported",
  );
});

Deno.test("selectCryptoBackend() rejects an unknown backend name with crypto_backend_unavailable", async () => {
  await assert.rejects(
    () => selectCryptoBackend({ requested: "fast" as "auto" }),
    (error: unknown) =>
      error instanceof CryptoError &&
      error.code === "crypto_backend_unavailable" &&
      error.message.includes('"fast"') &&
      error.message.includes("auto, native, webcrypto, noble"),
  );
});

Deno.test({
  name: "selectCryptoBackend() fails with crypto_backend_unavailable when native is requested and cannot load",
  ignore: nativeLoads,
  async fn() {
    await assert.rejects(
      () => selectCryptoBackend({ requested: "native" }),
      (error: unknown) =>
        error instanceof CryptoError &&
        error.code === "crypto_backend_unavailable" &&
        error.message.startsWith(
          'Crypto backend "native" was requested but is unavailable: ',
        ),
    );
  },
});

Deno.test("selectCryptoBackend() fails with crypto_backend_unavailable when native is requested from a missing library path", async () => {
  await assert.rejects(
    () =>
      selectCryptoBackend({
        requested: "native",
        nativeLibraryPath: "/nonexistent/libqudag_native.so",
      }),
    (error: unknown) =>
      error instanceof CryptoError &&
      error.code === "crypto_backend_unavailable",
  );
});

Deno.test("the router sends context and rnd signing to the fallback and the rest to the primary", async () => {
  const primary = recording(createWebCryptoBackend());
  const fallback = recording(createNobleBackend());
  const routed = createRoutedBackend(primary.backend, fallback.backend);
  const signer = await routed.mlDsaSigner(bytes("router", 32));
  await signer.sign(new Uint8Array(1));
  await signer.sign(new Uint8Array(1), { context: new Uint8Array(0) });
  assert.deepEqual(primary.calls, ["sign", "sign"]);
  assert.deepEqual(fallback.calls, []);
  await signer.sign(new Uint8Array(1), { context: new Uint8Array(1) });
  await signer.sign(new Uint8Array(1), { rnd: new Uint8Array(32) });
  assert.deepEqual(fallback.calls, ["sign", "sign"]);
  assert.deepEqual(primary.calls, ["sign", "sign"]);
});

Deno.test("the router splits a batch by context and keeps the callers' order", async () => {
  const primary = recording(createWebCryptoBackend());
  const fallback = recording(createNobleBackend());
  const routed = createRoutedBackend(primary.backend, fallback.backend);
  const signer = await createNobleBackend().mlDsaSigner(bytes("batch", 32));
  const message = bytes("message", 8);
  const context = bytes("context", 4);
  const plain = await signer.sign(message);
  const withContext = await signer.sign(message, { context });
  const publicKey = signer.publicKey;
  const items: VerifyItem[] = [
    { publicKey, message, signature: withContext, context },
    { publicKey, message, signature: plain },
    { publicKey, message, signature: plain, context }, // wrong: signed without
    { publicKey, message, signature: withContext }, // wrong: signed with
    { publicKey, message, signature: plain, context: new Uint8Array(0) },
  ];
  assert.deepEqual(await routed.mlDsaVerifyBatch(items), [
    true,
    true,
    false,
    false,
    true,
  ]);
  assert.deepEqual(primary.calls, ["batch:3"]);
  assert.deepEqual(fallback.calls, ["batch:2"]);
});

Deno.test("the router retries decapsulation on the fallback when the primary does not know the key", async () => {
  const primary = recording(createWebCryptoBackend());
  const fallback = recording(createNobleBackend());
  const routed = createRoutedBackend(primary.backend, fallback.backend);
  const noble = createNobleBackend();
  const keys = await noble.mlKemKeygen(768, bytes("d", 32), bytes("z", 32));
  const { ciphertext, sharedKey } = await routed.mlKemEncaps(
    768,
    keys.encapsulationKey,
  );
  assert.deepEqual(primary.calls, ["encaps"]);
  const key = await routed.mlKemDecaps(768, keys.decapsulationKey, ciphertext);
  assert.equal(key.toHex(), sharedKey.toHex());
  assert.deepEqual(primary.calls, ["encaps", "decaps"]);
  assert.deepEqual(fallback.calls, ["decaps"]);

  // Once the primary has generated the key itself, it decapsulates alone.
  await routed.mlKemKeygen(768, bytes("d", 32), bytes("z", 32));
  await routed.mlKemDecaps(768, keys.decapsulationKey, ciphertext);
  assert.deepEqual(fallback.calls, ["decaps"]);

  // Deterministic encapsulation goes straight to the fallback.
  await routed.mlKemEncaps(768, keys.encapsulationKey, new Uint8Array(32));
  assert.deepEqual(fallback.calls, ["decaps", "encaps"]);
});

Deno.test("the router takes blake3 from the fallback when the primary has none", () => {
  const fallback = recording(createNobleBackend());
  const routed = createRoutedBackend(createWebCryptoBackend(), fallback.backend);
  assert.ok(routed.capabilities.blake3);
  assert.equal(routed.blake3?.(new Uint8Array(0), 4).toHex(), "af1349b9");
  assert.deepEqual(fallback.calls, ["blake3"]);
});

Deno.test("the router does not turn a bad-length error into a fallback call", async () => {
  const fallback = recording(createNobleBackend());
  const routed = createRoutedBackend(createWebCryptoBackend(), fallback.backend);
  await assert.rejects(
    () => routed.mlKemDecaps(768, new Uint8Array(10), new Uint8Array(1088)),
    (error: unknown) => error instanceof CryptoError && error.code === "crypto_bad_length",
  );
  assert.deepEqual(fallback.calls, []);
});
