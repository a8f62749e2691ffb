import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { createNobleBackend } from "../crypto/noble.ts";
import { Keyring } from "./keyring.ts";
import { KeySession, KeyStore, openKeyText, sealKeyText } from "./mod.ts";
import { FAST_KDF, rejectsWith, withDir } from "./_testing.ts";

const backend = createNobleBackend();

Deno.test("KeySession seals many keys with one scrypt run; another process opens them with the passphrase", () =>
  withDir(async (dir) => {
    const session = new KeySession("pass phrase", FAST_KDF);
    const store = new KeyStore({ dir, backend, kdf: FAST_KDF });
    const a = await store.generate("ml-dsa", "api", session);
    const b = await store.generate("ml-kem", "api", session);
    await store.unlock(a.path, session);
    assert.equal(session.derivations, 1);
    // A plain passphrase (a fresh process) opens them too; a wrong one is refused.
    const fresh = new KeyStore({ dir, backend, kdf: FAST_KDF });
    assert.equal((await fresh.unlock(b.path, "pass phrase")).secret.length, 64);
    await rejectsWith(fresh.unlock(a.path, "wrong"), "key_passphrase_wrong");
    await rejectsWith(() => new KeySession(""), "key_passphrase_missing");
  }));

Deno.test("sealKeyText() and openKeyText() round-trip a key outside the store; a wrong passphrase is refused", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(64));
  const pair = await backend.mlKemKeygen(768, secret.subarray(0, 32), secret.subarray(32));
  const text = await sealKeyText(
    {
      algorithm: "ml-kem",
      purpose: "vault",
      secret,
      publicKey: pair.encapsulationKey,
      createdAt: "2026-01-01T00:00:00Z",
    },
    "vault pass",
    FAST_KDF,
  );
  assert.ok(!text.includes(secret.toBase64()));
  const opened = await openKeyText(text, "vault pass", "the vault key");
  assert.deepEqual(opened.secret, secret);
  assert.deepEqual(opened.publicKey, pair.encapsulationKey);
  await rejectsWith(openKeyText(text, "other", "the vault key"), "key_passphrase_wrong");
  await rejectsWith(openKeyText("{}", "vault pass", "the vault key"), "key_file_corrupt");
});

Deno.test("Keyring generate() keeps the secret in the store and returns the public key; sign and KEM work by id", () =>
  withDir(async (dir) => {
    const session = new KeySession("pp", FAST_KDF);
    const ring = new Keyring({ store: new KeyStore({ dir, backend, kdf: FAST_KDF }), backend, session });
    const dsa = await ring.generate("ml-dsa-87", "signing");
    const kem = await ring.generate("ml-kem-768");
    assert.equal(dsa.publicKey.length, 2592);
    assert.equal(kem.publicKey.length, 1184);
    assert.equal(dsa.label, "signing");
    assert.equal(kem.label, null);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 2);
    assert.ok(files.every((f) => f.startsWith("api-")));
    const signature = await (await ring.signer(dsa.id)).sign(new TextEncoder().encode("m"));
    assert.ok(ml_dsa87.verify(signature, new TextEncoder().encode("m"), dsa.publicKey));
    assert.deepEqual((await ring.kem(kem.id)).encapsulationKey, kem.publicKey);
    await rejectsWith(ring.signer(kem.id), "key_wrong_algorithm");
    await rejectsWith(ring.kem(dsa.id), "key_wrong_algorithm");
    await rejectsWith(() => ring.get("00".repeat(32)), "key_not_found");
    // Another keyring on the same store (a restart) lists both, in id order, in pages.
    const again = new Keyring({ store: new KeyStore({ dir, backend, kdf: FAST_KDF }), backend, session: null });
    const ids = [dsa.id, kem.id].sort();
    assert.deepEqual(again.list(null, 10).map((k) => k.id), ids);
    assert.deepEqual(again.list(null, 1).map((k) => k.id), [ids[0]]);
    assert.deepEqual(again.list(ids[0], 1).map((k) => k.id), [ids[1]]);
    assert.deepEqual(again.list(ids[1], 1), []);
    // Without the passphrase: listed, not used, not made.
    await rejectsWith(again.signer(dsa.id), "key_passphrase_missing");
    await rejectsWith(again.generate("ml-dsa-87"), "key_passphrase_missing");
  }));

Deno.test("Keyring refuses keys past its limit with key_store_full and labels outside [a-z0-9_-] with key_invalid", () =>
  withDir(async (dir) => {
    const ring = new Keyring({
      store: new KeyStore({ dir, backend, kdf: FAST_KDF }),
      backend,
      session: new KeySession("pp", FAST_KDF),
      keysMax: 1,
    });
    await rejectsWith(ring.generate("ml-kem-768", "Not Valid"), "key_invalid");
    await ring.generate("ml-kem-768");
    await rejectsWith(ring.generate("ml-kem-768"), "key_store_full");
    assert.equal(ring.size, 1);
  }));
