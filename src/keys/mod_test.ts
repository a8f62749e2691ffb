import assert from "node:assert/strict";
import { blake3 } from "@noble/hashes/blake3.js";
import { createNobleBackend } from "../crypto/noble.ts";
import { KEY_FILE_FORMAT, KeyError, keyIdOf, KeyStore, parseSeedSecret, toHex } from "./mod.ts";
import { FAST_KDF, rejectsWith, withDir } from "./_testing.ts";

const PASS = "correct horse battery staple";
const backend = createNobleBackend();

function store(dir: string): KeyStore {
  return new KeyStore({ dir: `${dir}/keys`, backend, kdf: FAST_KDF, now: () => new Date("2026-03-04T05:06:07.000Z") });
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

function editJson(path: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(Deno.readTextFileSync(path));
  edit(j);
  Deno.writeTextFileSync(path, JSON.stringify(j, null, 2));
}

Deno.test("KeyStore generate() and unlock() round-trip an ML-DSA-87 key", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    assert.equal(info.algorithm, "ml-dsa");
    assert.equal(info.purpose, "node");
    assert.equal(info.publicKey.length, 2592);
    assert.equal(info.keyId, toHex(blake3(info.publicKey)));
    assert.equal(info.keyId, keyIdOf(info.publicKey));
    assert.equal(info.createdAt, "2026-03-04T05:06:07.000Z");
    assert.equal(info.path, `${dir}/keys/node-${info.keyId.slice(0, 16)}.key.json`);
    const unlocked = await s.unlock(info.path, PASS);
    assert.equal(unlocked.secret.length, 32);
    assert.deepEqual(unlocked.publicKey, info.publicKey);
    const signer = await backend.mlDsaSigner(unlocked.secret);
    assert.deepEqual(signer.publicKey, info.publicKey);
  }));

Deno.test("KeyStore generate() and unlock() round-trip an ML-KEM-768 key", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-kem", "exchange-master", PASS);
    assert.equal(info.publicKey.length, 1184);
    assert.equal(info.keyId, toHex(blake3(info.publicKey)));
    const unlocked = await s.unlock(info.path, PASS);
    assert.equal(unlocked.secret.length, 64);
    assert.equal(unlocked.keyId, info.keyId);
  }));

Deno.test("KeyStore import() writes a file without the secret in plaintext, mode 0600", () =>
  withDir(async (dir) => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const info = await store(dir).import("ml-dsa", "node", secret, PASS);
    const text = Deno.readTextFileSync(info.path);
    const j = JSON.parse(text);
    assert.equal(j.format, KEY_FILE_FORMAT);
    assert.equal(j.kdf.name, "scrypt");
    assert.equal(j.kdf.log2N, 10);
    for (const form of [toHex(secret), toHex(secret).toUpperCase(), b64(secret), b64(secret).replace(/=+$/, "")]) {
      assert.ok(!text.includes(form), "the secret appears in the key file");
    }
    assert.ok(!text.includes(PASS));
    if (Deno.build.os !== "windows") assert.equal(Deno.statSync(info.path).mode! & 0o777, 0o600);
    assert.deepEqual((await store(dir).unlock(info.path, PASS)).secret, secret);
  }));

Deno.test("KeyStore import() refuses to overwrite an existing key file", () =>
  withDir(async (dir) => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const s = store(dir);
    const info = await s.import("ml-dsa", "node", secret, PASS);
    const before = Deno.readTextFileSync(info.path);
    const e = await rejectsWith(s.import("ml-dsa", "node", secret, "other passphrase"), "key_exists");
    assert.match(e.message, /already exists/);
    assert.equal(Deno.readTextFileSync(info.path), before);
    const out = `${dir}/out.key.json`;
    await s.generate("ml-kem", "node", PASS, out);
    await rejectsWith(s.generate("ml-kem", "node", PASS, out), "key_exists");
  }));

Deno.test("KeyStore unlock() with a wrong passphrase throws key_passphrase_wrong", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    const e = await rejectsWith(s.unlock(info.path, "Tr0ub4dor&3"), "key_passphrase_wrong");
    assert.ok(!e.message.includes("Tr0ub4dor&3"), "the tried passphrase is echoed");
  }));

Deno.test("KeyStore unlock() without a passphrase throws key_passphrase_missing", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    await rejectsWith(s.unlock(info.path, null), "key_passphrase_missing");
    await rejectsWith(s.unlock(info.path, ""), "key_passphrase_missing");
    await rejectsWith(s.generate("ml-dsa", "node", ""), "key_passphrase_missing");
  }));

Deno.test("KeyStore unlock() of a file with a flipped ciphertext bit throws key_file_corrupt", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    editJson(info.path, (j) => {
      const ct = Uint8Array.from(atob(j.ciphertext as string), (c) => c.charCodeAt(0));
      ct[3] ^= 0x01;
      j.ciphertext = b64(ct);
    });
    await rejectsWith(s.unlock(info.path, PASS), "key_file_corrupt");
  }));

Deno.test("KeyStore unlock() of a file with an edited header throws key_file_corrupt", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const a = await s.generate("ml-dsa", "node", PASS);
    editJson(a.path, (j) => j.purpose = "fee-configuration");
    await rejectsWith(s.unlock(a.path, PASS), "key_file_corrupt");

    const b = await s.generate("ml-dsa", "agent-verification", PASS);
    editJson(b.path, (j) => j.createdAt = "2020-01-01T00:00:00.000Z");
    await rejectsWith(s.unlock(b.path, PASS), "key_file_corrupt");

    // Swapping in another key's public part (with its matching keyId) must not pass either.
    const c = await s.generate("ml-dsa", "immutable-governance", PASS);
    const other = JSON.parse(Deno.readTextFileSync(b.path));
    editJson(c.path, (j) => {
      j.publicKey = other.publicKey;
      j.keyId = other.keyId;
    });
    await rejectsWith(s.unlock(c.path, PASS), "key_file_corrupt");
  }));

Deno.test("KeyStore read() refuses malformed files with key_file_corrupt", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    const good = Deno.readTextFileSync(info.path);
    const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
      ["wrong format", (j) => j.format = "qudag-key/0", /format is "qudag-key\/0"/],
      ["unknown algorithm", (j) => j.algorithm = "rsa", /unknown algorithm "rsa"/],
      ["unknown purpose", (j) => j.purpose = "fun", /unknown purpose/],
      ["keyId mismatch", (j) => j.keyId = "00".repeat(32), /keyId does not match the public key/],
      ["missing ciphertext", (j) => delete j.ciphertext, /ciphertext is missing/],
      ["kdf out of range", (j) => (j.kdf as Record<string, unknown>).log2N = 40, /kdf parameters/],
      ["other cipher", (j) => (j.cipher as Record<string, unknown>).name = "chacha20", /aes-256-gcm/],
      ["bad base64", (j) => j.publicKey = "!!!not base64!!!", /base64/],
    ];
    const path = `${dir}/case.key.json`;
    for (const [name, edit, re] of cases) {
      const j = JSON.parse(good);
      edit(j);
      Deno.writeTextFileSync(path, JSON.stringify(j));
      const e = await rejectsWith(() => s.read(path), "key_file_corrupt");
      assert.match(e.message, re, name);
      assert.ok(e.message.includes(path), name);
    }
    for (const text of ["{not json", "null", "[]", '"a string"']) {
      Deno.writeTextFileSync(path, text);
      await rejectsWith(() => s.read(path), "key_file_corrupt");
    }
    await rejectsWith(s.unlock(path, PASS), "key_file_corrupt");
  }));

Deno.test("KeyStore read() of a missing file throws key_not_found", () =>
  withDir(async (dir) => {
    await rejectsWith(() => store(dir).read(`${dir}/nope.key.json`), "key_not_found");
  }));

Deno.test("KeyStore list() returns keys and reports corrupt files in errors", () =>
  withDir(async (dir) => {
    const s = store(dir);
    assert.deepEqual(s.list(), { keys: [], errors: [] });
    const a = await s.generate("ml-dsa", "node", PASS);
    const b = await s.generate("ml-kem", "exchange-master", PASS);
    Deno.writeTextFileSync(`${dir}/keys/broken.key.json`, "{");
    Deno.writeTextFileSync(`${dir}/keys/notes.txt`, "not a key");
    const { keys, errors } = s.list();
    assert.deepEqual(keys.map((k) => k.keyId).sort(), [a.keyId, b.keyId].sort());
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "key_file_corrupt");
    assert.match(errors[0].message, /broken\.key\.json/);
    // Listing needs no backend and no passphrase.
    assert.equal(new KeyStore({ dir: `${dir}/keys` }).list().keys.length, 2);
  }));

Deno.test("KeyStore find() matches by purpose and by key id prefix", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const a = await s.generate("ml-dsa", "node", PASS);
    const b = await s.generate("ml-dsa", "fee-configuration", PASS);
    const c = await s.generate("ml-kem", "fee-configuration", PASS);
    assert.equal(s.find("node").keyId, a.keyId);
    assert.equal(s.find(b.keyId.slice(0, 8)).keyId, b.keyId);
    assert.equal(s.find(c.keyId.toUpperCase()).keyId, c.keyId);
    const ambiguous = await rejectsWith(() => s.find("fee-configuration"), "key_invalid");
    assert.match(ambiguous.message, /matches 2 keys/);
    await rejectsWith(() => s.find("agent-verification"), "key_not_found");
    const absent = ["00000000", "ffffffff"].find((p) => ![a, b, c].some((k) => k.keyId.startsWith(p)))!;
    await rejectsWith(() => s.find(absent), "key_not_found");
    // Fewer than 8 hex digits is not an id prefix.
    await rejectsWith(() => s.find(a.keyId.slice(0, 7)), "key_not_found");
  }));

Deno.test("KeyStore find() reports an ambiguous id prefix", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const a = await s.generate("ml-dsa", "node", PASS);
    // A second file with the same key id (a copy) makes any prefix of it ambiguous.
    Deno.copyFileSync(a.path, `${dir}/keys/copy.key.json`);
    const e = await rejectsWith(() => s.find(a.keyId.slice(0, 8)), "key_invalid");
    assert.match(e.message, /give a longer key id/);
  }));

Deno.test("KeyStore keeps an account key's label in the authenticated header and finds keys by it", () =>
  withDir(async (dir) => {
    const s = store(dir);
    const alice = await s.generate("ml-dsa", "account", PASS, undefined, "alice");
    assert.equal(alice.label, "alice");
    assert.equal(s.read(alice.path).label, "alice");
    assert.equal((await s.unlock(alice.path, PASS)).label, "alice");
    const unlabelled = await s.generate("ml-dsa", "account", PASS);
    assert.equal(unlabelled.label, undefined);
    assert.equal(s.read(unlabelled.path).label, undefined);
    assert.equal((await s.unlock(unlabelled.path, PASS)).keyId, unlabelled.keyId);

    assert.equal(s.findLabelled("account", "alice")?.keyId, alice.keyId);
    assert.equal(s.findLabelled("account", "bob"), null);
    assert.equal(s.findLabelled("node", "alice"), null);
    await rejectsWith(s.generate("ml-dsa", "account", PASS, undefined, "Alice!"), "key_invalid");

    // Editing, adding or removing a label breaks decryption.
    const bob = await s.generate("ml-dsa", "account", PASS, undefined, "bob");
    editJson(bob.path, (j) => j.label = "carol");
    await rejectsWith(s.unlock(bob.path, PASS), "key_file_corrupt");
    editJson(bob.path, (j) => delete j.label);
    await rejectsWith(s.unlock(bob.path, PASS), "key_file_corrupt");
    editJson(unlabelled.path, (j) => j.label = "mallory");
    await rejectsWith(s.unlock(unlabelled.path, PASS), "key_file_corrupt");
    editJson(alice.path, (j) => j.label = "Not A Label");
    await rejectsWith(() => s.read(alice.path), "key_file_corrupt");

    // Two keys with one label: ambiguous.
    const again = await s.generate("ml-dsa", "account", PASS, undefined, "dave");
    Deno.copyFileSync(again.path, `${dir}/keys/copy.key.json`);
    const e = await rejectsWith(() => s.findLabelled("account", "dave"), "key_invalid");
    assert.match(e.message, /2 account keys are labelled "dave"/);
  }));

Deno.test("parseSeedSecret() accepts 64 hex digits or base64 of 32 bytes", () => {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  assert.deepEqual(parseSeedSecret("NODE_PRIVATE_KEY", toHex(seed)), seed);
  assert.deepEqual(parseSeedSecret("NODE_PRIVATE_KEY", ` ${toHex(seed).toUpperCase()}\n`), seed);
  assert.deepEqual(parseSeedSecret("NODE_PRIVATE_KEY", b64(seed)), seed);
});

Deno.test("parseSeedSecret() rejects other values without echoing them", () => {
  const secretish = ["deadbeef", "zz".repeat(32), "a".repeat(63), b64(new Uint8Array(31)), "not base64 at all!"];
  for (const v of secretish) {
    let caught: unknown;
    try {
      parseSeedSecret("NODE_PRIVATE_KEY", v);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof KeyError, v);
    assert.equal(caught.code, "key_invalid");
    assert.match(caught.message, /NODE_PRIVATE_KEY must be a 32-byte/);
    assert.ok(!caught.message.includes(v.trim()), `value echoed: ${caught.message}`);
  }
});
