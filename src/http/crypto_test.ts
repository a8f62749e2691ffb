import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { createNobleBackend } from "../crypto/noble.ts";
import { Keyring } from "../keys/keyring.ts";
import { KeySession, KeyStore } from "../keys/mod.ts";
import { ENVELOPE_OVERHEAD_BYTES } from "../keys/envelope.ts";
import { errorCode, TEST_API_KEY, testApp } from "./_testing.ts";
import { createCryptoApi, CRYPTO_API_BASE, CRYPTO_DATA_BYTES_MAX } from "./crypto.ts";
import { FAST_KDF } from "../keys/_testing.ts";

const KEY = { "x-api-key": TEST_API_KEY };
const C = CRYPTO_API_BASE;
const b64 = (s: string | Uint8Array) => (typeof s === "string" ? new TextEncoder().encode(s) : s).toBase64();

function setup(apiKey: string | null = TEST_API_KEY, passphrase: string | null = "pp") {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-crypto-api-" });
  const backend = createNobleBackend();
  const store = new KeyStore({ dir, backend, kdf: FAST_KDF });
  const keyring = new Keyring({ store, backend, session: passphrase ? new KeySession(passphrase, FAST_KDF) : null });
  const t = testApp({ [C]: createCryptoApi(keyring, backend, { apiKey }) });
  return { ...t, dir, store, close: () => Deno.removeSync(dir, { recursive: true }) };
}

Deno.test("crypto API: generate keys (public parts only), encrypt/decrypt round trip, sign/verify", async () => {
  const t = setup();
  try {
    const kem = await t.call("POST", `${C}/keys/generate`, { algorithm: "ml-kem-768", label: "inbox" }, KEY);
    assert.equal(kem.status, 201, kem.text);
    assert.equal(Uint8Array.fromBase64(kem.json.publicKey as string).length, 1184);
    assert.deepEqual(Object.keys(kem.json).sort(), ["algorithm", "createdAt", "id", "label", "publicKey"]);
    const dsa = await t.call("POST", `${C}/keys/generate`, { algorithm: "ml-dsa-87" }, KEY);
    assert.equal(dsa.status, 201);
    const kemId = kem.json.id as string;
    const dsaId = dsa.json.id as string;

    // By stored key and by public key: both open with the stored key.
    const plaintext = b64("attack at dawn");
    const sealed = await t.call("POST", `${C}/encrypt`, { keyId: kemId, plaintext, associatedData: b64("ctx") }, KEY);
    assert.equal(sealed.status, 200, sealed.text);
    assert.equal(sealed.json.keyId, kemId);
    assert.equal(Uint8Array.fromBase64(sealed.json.envelope as string).length, 14 + ENVELOPE_OVERHEAD_BYTES);
    const opened = await t.call(
      "POST",
      `${C}/decrypt`,
      { envelope: sealed.json.envelope, associatedData: b64("ctx") },
      KEY,
    );
    assert.equal(opened.status, 200, opened.text);
    assert.deepEqual(opened.json, { plaintext, keyId: kemId });
    const byPk = await t.call("POST", `${C}/encrypt`, { publicKey: kem.json.publicKey, plaintext }, KEY);
    const opened2 = await t.call("POST", `${C}/decrypt`, { envelope: byPk.json.envelope }, KEY);
    assert.equal(opened2.json.plaintext, plaintext);

    const message = b64("pay bob 5");
    const signed = await t.call("POST", `${C}/sign`, { keyId: dsaId, message }, KEY);
    assert.equal(signed.status, 200, signed.text);
    const signature = Uint8Array.fromBase64(signed.json.signature as string);
    assert.equal(signature.length, 4627);
    assert.ok(
      ml_dsa87.verify(
        signature,
        new TextEncoder().encode("pay bob 5"),
        Uint8Array.fromBase64(dsa.json.publicKey as string),
      ),
    );
    const ok = await t.call("POST", `${C}/verify`, { keyId: dsaId, message, signature: signed.json.signature }, KEY);
    assert.deepEqual(ok.json, { valid: true });
    const byKey = await t.call(
      "POST",
      `${C}/verify`,
      { publicKey: dsa.json.publicKey, message: b64("pay bob 6"), signature: signed.json.signature },
      KEY,
    );
    assert.deepEqual(byKey.json, { valid: false });

    // Listing and lookup: public parts, in id order, in pages.
    const all = await t.call("GET", `${C}/keys`, undefined, KEY);
    assert.deepEqual((all.json.keys as { id: string }[]).map((k) => k.id), [kemId, dsaId].sort());
    const first = await t.call("GET", `${C}/keys?limit=1`, undefined, KEY);
    const next = await t.call("GET", `${C}/keys?limit=1&cursor=${first.json.nextCursor}`, undefined, KEY);
    assert.deepEqual(
      [...(first.json.keys as { id: string }[]), ...(next.json.keys as { id: string }[])].map((k) => k.id),
      [kemId, dsaId].sort(),
    );
    assert.equal((await t.call("GET", `${C}/keys/${dsaId}`, undefined, KEY)).json.algorithm, "ml-dsa-87");

    // The secrets are in the key store, sealed; no answer, log line or metric holds them.
    const secrets = await Promise.all(
      t.store.list().keys.map(async (k) => (await t.store.unlock(k.path, "pp")).secret),
    );
    assert.equal(secrets.length, 2);
    const seen = [t.logText(), t.registry.render(), kem.text, dsa.text, all.text].join("\n");
    for (const s of secrets) {
      for (const form of [s.toBase64(), s.toHex(), s.subarray(0, 16).toBase64()]) assert.ok(!seen.includes(form));
    }
  } finally {
    t.close();
  }
});

Deno.test("crypto API: an envelope made by an independent ML-KEM opens; the test vector's key schedule is the node's", async () => {
  const t = setup();
  try {
    const kem = await t.call("POST", `${C}/keys/generate`, { algorithm: "ml-kem-768" }, KEY);
    // Sealed by the node to its own key; opened again after a round trip through base64.
    const sealed = await t.call(
      "POST",
      `${C}/encrypt`,
      { publicKey: kem.json.publicKey, plaintext: b64(new Uint8Array(CRYPTO_DATA_BYTES_MAX)) },
      KEY,
    );
    assert.equal(sealed.status, 200, "the largest plaintext is accepted");
    assert.equal((await t.call("POST", `${C}/decrypt`, { envelope: sealed.json.envelope }, KEY)).status, 200);
    // An envelope to a key this node does not hold: key_not_found, naming nothing secret.
    const { publicKey } = ml_kem768.keygen(new Uint8Array(64).fill(9));
    const foreign = await t.call("POST", `${C}/encrypt`, { publicKey: publicKey.toBase64(), plaintext: b64("x") }, KEY);
    const r = await t.call("POST", `${C}/decrypt`, { envelope: foreign.json.envelope }, KEY);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), "key_not_found");
  } finally {
    t.close();
  }
});

Deno.test("crypto API refusals, each with its stable code", async () => {
  const t = setup();
  try {
    const kem = await t.call("POST", `${C}/keys/generate`, { algorithm: "ml-kem-768" }, KEY);
    const dsa = await t.call("POST", `${C}/keys/generate`, { algorithm: "ml-dsa-87" }, KEY);
    const env = (await t.call("POST", `${C}/encrypt`, { keyId: kem.json.id, plaintext: b64("hi") }, KEY)).json
      .envelope as string;
    const tampered = Uint8Array.fromBase64(env);
    tampered[tampered.length - 1] ^= 1;
    const unknown = "ab".repeat(32);
    const tooBig = b64(new Uint8Array(CRYPTO_DATA_BYTES_MAX + 1));
    const cases: [string, unknown, Record<string, string>, number, string][] = [
      ["/keys/generate", { algorithm: "ml-kem-768" }, {}, 401, "unauthorized"],
      ["/keys/generate", { algorithm: "rsa" }, KEY, 400, "invalid_request"],
      ["/keys/generate", { algorithm: "ml-kem-768", label: "No Spaces" }, KEY, 400, "invalid_request"],
      ["/encrypt", { plaintext: b64("x") }, KEY, 400, "invalid_request"],
      [
        "/encrypt",
        { plaintext: b64("x"), keyId: kem.json.id, publicKey: kem.json.publicKey },
        KEY,
        400,
        "invalid_request",
      ],
      ["/encrypt", { plaintext: "not base64!", keyId: kem.json.id }, KEY, 400, "invalid_request"],
      ["/encrypt", { plaintext: tooBig, keyId: kem.json.id }, KEY, 400, "invalid_request"],
      ["/encrypt", { plaintext: b64("x"), publicKey: b64(new Uint8Array(100)) }, KEY, 400, "invalid_request"],
      ["/encrypt", { plaintext: b64("x"), publicKey: b64(new Uint8Array(1183)) }, KEY, 400, "invalid_request"],
      ["/encrypt", { plaintext: b64("x"), publicKey: b64(new Uint8Array(1184).fill(255)) }, KEY, 400, "crypto_bad_key"],
      ["/encrypt", { plaintext: b64("x"), keyId: unknown }, KEY, 404, "key_not_found"],
      ["/encrypt", { plaintext: b64("x"), keyId: dsa.json.id }, KEY, 422, "key_wrong_algorithm"],
      ["/decrypt", { envelope: tampered.toBase64() }, KEY, 422, "decrypt_failed"],
      ["/decrypt", { envelope: env, associatedData: b64("other") }, KEY, 422, "decrypt_failed"],
      ["/decrypt", { envelope: b64("short") }, KEY, 400, "invalid_request"],
      ["/decrypt", { envelope: b64(new Uint8Array(ENVELOPE_OVERHEAD_BYTES)) }, KEY, 400, "envelope_invalid"],
      ["/sign", { keyId: kem.json.id, message: b64("m") }, KEY, 422, "key_wrong_algorithm"],
      ["/sign", { keyId: unknown, message: b64("m") }, KEY, 404, "key_not_found"],
      ["/sign", { keyId: dsa.json.id, message: tooBig }, KEY, 400, "invalid_request"],
      ["/verify", { keyId: dsa.json.id, message: b64("m"), signature: b64("short") }, KEY, 400, "invalid_request"],
      [
        "/verify",
        { keyId: kem.json.id, message: b64("m"), signature: b64(new Uint8Array(4627)) },
        KEY,
        422,
        "key_wrong_algorithm",
      ],
    ];
    for (const [path, body, headers, status, code] of cases) {
      const r = await t.call("POST", `${C}${path}`, body, headers);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${r.text.slice(0, 300)}`);
      assert.equal(errorCode(r), code, path);
    }
    assert.equal(errorCode(await t.call("GET", `${C}/keys/${unknown}`, undefined, KEY)), "key_not_found");
    assert.equal(errorCode(await t.call("GET", `${C}/keys/xyz`, undefined, KEY)), "invalid_request");
    assert.equal(errorCode(await t.call("GET", `${C}/keys?cursor=zz`, undefined, KEY)), "invalid_request");
  } finally {
    t.close();
  }
});

Deno.test("crypto API is closed without an API key (403) and cannot make or use keys without the passphrase (503)", async () => {
  const closed = setup(null);
  try {
    for (const path of ["/keys/generate", "/encrypt", "/decrypt", "/sign", "/verify"]) {
      const r = await closed.call("POST", `${C}${path}`, {}, KEY);
      assert.equal(r.status, 403, path);
      assert.equal(errorCode(r), "api_key_required");
    }
    assert.equal(errorCode(await closed.call("GET", `${C}/keys`, undefined, KEY)), "api_key_required");
  } finally {
    closed.close();
  }
  const locked = setup(TEST_API_KEY, null);
  try {
    const r = await locked.call("POST", `${C}/keys/generate`, { algorithm: "ml-dsa-87" }, KEY);
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), "key_passphrase_missing");
    assert.equal((await locked.call("GET", `${C}/keys`, undefined, KEY)).status, 200, "public parts are listed");
  } finally {
    locked.close();
  }
});
