import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { blake3 } from "@noble/hashes/blake3.js";
import type { CryptoBackend } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import { loadBackend } from "../crypto/select.ts";
import { createWebCryptoBackend } from "../crypto/webcrypto.ts";
import {
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_OVERHEAD_BYTES,
  EnvelopeError,
  type EnvelopeErrorCode,
  openEnvelope,
  parseEnvelope,
  sealEnvelope,
} from "./envelope.ts";

const enc = new TextEncoder();
const seq = (start: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

/** The inputs and outputs of ENVELOPE.md's test vector. */
const VECTOR = {
  seed: seq(0, 64),
  m: seq(0x40, 32),
  plaintext: enc.encode("qudag envelope test vector"),
  aad: enc.encode("aad"),
  keyId: "cc4b207d7b69fc89154fcfc6f0b96f989939873391969bc1fe2eea03e6f389aa",
  ekSha256: "0b7934c83125c788995e2ba6bd761e33046b3e40571be53e023309a29f398cc9",
  ss: "9cddd089ffe70e3996e76f7c8d06746df34d07e8657bc0fcf2bb0e1c3084aea1",
  kemCtSha256: "dbf4e9aa48b078ad46ec1c9c47bda8c2d2fec9d0e7a21bd48d2238a2abedb856",
  okm: "f5c7ee12c457dda44458a0a401bc893463a09ea45046563021055d6ba009b81a84bcb00915a2237cadd8d570",
  body: "f33048a41738c16f900c3624241bf48e7ea51c864746438b9b98c59b1272a902336c55758681387765fc",
  length: 1168,
  envelopeSha256: "9efc9db569880d244f69f2d3242339d9b4a440ee32515ddaf3df119f9d59522a",
};

/** The envelope of the vector, computed without src/keys: noble's ML-KEM and HKDF, node:crypto's AES-256-GCM. */
function independentEnvelope() {
  const { publicKey } = ml_kem768.keygen(VECTOR.seed);
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, VECTOR.m);
  const header = new Uint8Array([0x51, 0x45, 0x4e, 0x56, 1, 1, ...blake3(publicKey), ...cipherText]);
  const okm = hkdf(
    sha256,
    sharedSecret,
    new Uint8Array(0),
    new Uint8Array([...enc.encode("qudag/envelope/v1"), ...header]),
    44,
  );
  const aes = createCipheriv("aes-256-gcm", okm.slice(0, 32), okm.slice(32));
  aes.setAAD(new Uint8Array([...header, ...VECTOR.aad]));
  const body = new Uint8Array([...aes.update(VECTOR.plaintext), ...aes.final(), ...aes.getAuthTag()]);
  return { publicKey, cipherText, sharedSecret, okm, body, envelope: new Uint8Array([...header, ...body]) };
}

Deno.test("envelope test vector: an independent implementation gives every value ENVELOPE.md lists", () => {
  const v = independentEnvelope();
  assert.equal(blake3(v.publicKey).toHex(), VECTOR.keyId);
  assert.equal(sha256(v.publicKey).toHex(), VECTOR.ekSha256);
  assert.equal(v.sharedSecret.toHex(), VECTOR.ss);
  assert.equal(sha256(v.cipherText).toHex(), VECTOR.kemCtSha256);
  assert.equal(v.okm.toHex(), VECTOR.okm);
  assert.equal(v.body.toHex(), VECTOR.body);
  assert.equal(v.envelope.length, VECTOR.length);
  assert.equal(sha256(v.envelope).toHex(), VECTOR.envelopeSha256);
});

Deno.test("sealEnvelope() makes the test vector's envelope byte for byte (deterministic KEM randomness)", async () => {
  const noble = createNobleBackend();
  const { publicKey } = ml_kem768.keygen(VECTOR.seed);
  const mine = await sealEnvelope(noble, publicKey, VECTOR.plaintext, {
    kemRandomness: VECTOR.m,
    associatedData: VECTOR.aad,
  });
  assert.equal(sha256(mine).toHex(), VECTOR.envelopeSha256);
  assert.equal(mine.slice(ENVELOPE_HEADER_BYTES).toHex(), VECTOR.body);
  const parsed = parseEnvelope(mine);
  assert.equal(parsed.keyId, VECTOR.keyId);
  assert.equal(sha256(parsed.kemCiphertext).toHex(), VECTOR.kemCtSha256);
});

const native: CryptoBackend | null = await loadBackend("native").catch(() => null);
const BACKENDS: [string, CryptoBackend | null][] = [
  ["noble", createNobleBackend()],
  ["webcrypto", createWebCryptoBackend()],
  ["native", native],
];

for (const [name, backend] of BACKENDS) {
  Deno.test({
    name: `openEnvelope() on ${name} opens the test vector and its own envelopes; every change is decrypt_failed`,
    ignore: backend === null,
    async fn() {
      const b = backend!;
      const kp = await b.mlKemKeygen(768, VECTOR.seed.slice(0, 32), VECTOR.seed.slice(32));
      const vector = independentEnvelope().envelope;
      assert.deepEqual(await openEnvelope(b, kp.decapsulationKey, vector, VECTOR.aad), VECTOR.plaintext);

      const plaintext = seq(7, 1000);
      const sealed = await sealEnvelope(b, kp.encapsulationKey, plaintext, { associatedData: enc.encode("ctx") });
      assert.equal(sealed.length, plaintext.length + ENVELOPE_OVERHEAD_BYTES);
      assert.deepEqual(await openEnvelope(b, kp.decapsulationKey, sealed, enc.encode("ctx")), plaintext);
      const empty = await sealEnvelope(b, kp.encapsulationKey, new Uint8Array(0));
      assert.deepEqual(await openEnvelope(b, kp.decapsulationKey, empty), new Uint8Array(0));

      const fails = async (
        bytes: Uint8Array,
        code: EnvelopeErrorCode,
        aad = enc.encode("ctx"),
        dk = kp.decapsulationKey,
      ) => {
        await assert.rejects(openEnvelope(b, dk, bytes, aad), (e: unknown) => {
          assert.ok(e instanceof EnvelopeError, String(e));
          assert.equal(e.code, code, e.message);
          return true;
        });
      };
      // A flipped bit anywhere past the version bytes: the key id, the KEM ciphertext, the body, the tag.
      for (const at of [6, 37, 38, 600, ENVELOPE_HEADER_BYTES - 1, ENVELOPE_HEADER_BYTES, sealed.length - 1]) {
        const changed = sealed.slice();
        changed[at] ^= 1;
        await fails(changed, "decrypt_failed");
      }
      await fails(sealed, "decrypt_failed", enc.encode("other"));
      await fails(sealed, "decrypt_failed", new Uint8Array(0));
      const other = await b.mlKemKeygen(768, seq(100, 32), seq(200, 32));
      await fails(sealed, "decrypt_failed", enc.encode("ctx"), other.decapsulationKey);
      await fails(sealed.slice(0, ENVELOPE_OVERHEAD_BYTES - 1), "envelope_invalid");
      const badMagic = sealed.slice();
      badMagic[0] = 0x58;
      await fails(badMagic, "envelope_invalid");
      const badVersion = sealed.slice();
      badVersion[4] = 2;
      await fails(badVersion, "envelope_invalid");
    },
  });
}
