/**
 * /api/v1/crypto: the node's own keys and operations with them. Generated
 * secret keys stay in the node's key store (src/keys/keyring.ts): answers
 * carry ids and public keys only. encrypt seals to any ML-KEM-768 public key
 * (or a stored key's) in the envelope of src/keys/ENVELOPE.md; decrypt opens
 * an envelope with the stored key it names; sign and verify use ML-DSA-87
 * (FIPS 204, empty context). Every call needs the API key; the area is closed
 * while the node has none. Inputs are bounded (CRYPTO_DATA_BYTES_MAX).
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type CryptoBackend, ML_DSA_87, ML_KEM } from "../crypto/backend.ts";
import { ENVELOPE_OVERHEAD_BYTES, openEnvelope, parseEnvelope, sealEnvelope } from "../keys/envelope.ts";
import { type Keyring, KEYRING_ALGORITHMS, type KeyringAlgorithm, type KeyringKey } from "../keys/keyring.ts";
import { KEY_LABEL_RE } from "../keys/mod.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { base64, base64Exact, Cursor, Hex64, json, NextCursor, pageLimit } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

export const CRYPTO_API_BASE = "/api/v1/crypto";

/** Most bytes of a plaintext to encrypt or a message to sign or verify. */
export const CRYPTO_DATA_BYTES_MAX = 64 * 1024;
/** Most bytes of associated data. */
export const CRYPTO_AAD_BYTES_MAX = 1024;
const KEYS_PAGE_MAX = 1000;

const Algorithm = z.enum(KEYRING_ALGORITHMS).openapi({ description: "ml-kem-768 (encrypt) or ml-dsa-87 (sign)" });
const Key = z.object({
  id: Hex64.openapi({ description: "BLAKE3-256 of the public key" }),
  algorithm: Algorithm,
  publicKey: base64("the public key: 1,184 bytes (ML-KEM-768) or 2,592 bytes (ML-DSA-87)"),
  label: z.string().nullable(),
  createdAt: z.string(),
}).openapi("CryptoKey");

const data = (what: string) => base64(`${what}, at most ${CRYPTO_DATA_BYTES_MAX} bytes`, CRYPTO_DATA_BYTES_MAX);
const aad = base64(
  `associated data, authenticated and not stored, at most ${CRYPTO_AAD_BYTES_MAX} bytes`,
  CRYPTO_AAD_BYTES_MAX,
);
const KemPublicKey = base64Exact("an ML-KEM-768 encapsulation key (1,184 bytes)", ML_KEM[768].encapsulationKeyBytes);
const DsaPublicKey = base64Exact("an ML-DSA-87 public key (2,592 bytes)", ML_DSA_87.publicKeyBytes);

const EncryptBody = z.object({
  plaintext: data("the bytes to seal"),
  publicKey: KemPublicKey.optional(),
  keyId: Hex64.optional().openapi({ description: "a stored ml-kem-768 key (instead of publicKey)" }),
  associatedData: aad.optional(),
}).openapi("EncryptRequest", { description: "exactly one of publicKey and keyId" });
const DecryptBody = z.object({
  envelope: base64(
    "an envelope (src/keys/ENVELOPE.md)",
    CRYPTO_DATA_BYTES_MAX + ENVELOPE_OVERHEAD_BYTES,
    ENVELOPE_OVERHEAD_BYTES,
  ),
  associatedData: aad.optional(),
}).openapi("DecryptRequest");
const SignBody = z.object({ keyId: Hex64, message: data("the message") }).openapi("SignRequest");
const VerifyBody = z.object({
  message: data("the message"),
  signature: base64Exact("an ML-DSA-87 signature (4,627 bytes)", ML_DSA_87.signatureBytes),
  publicKey: DsaPublicKey.optional(),
  keyId: Hex64.optional().openapi({ description: "a stored ml-dsa-87 key (instead of publicKey)" }),
}).openapi("VerifyRequest", { description: "exactly one of publicKey and keyId" });

const keyView = (k: KeyringKey) => ({
  id: k.id,
  algorithm: k.algorithm,
  publicKey: k.publicKey.toBase64(),
  label: k.label,
  createdAt: k.createdAt,
});

const bytes = (b64: string) => Uint8Array.fromBase64(b64);
const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/**
 * The public key a request names: exactly one of its own (`publicKey`) and a
 * stored key's (`keyId`), which must be an `algorithm` key.
 */
function requestedPublicKey(
  keyring: Keyring,
  b: { readonly publicKey?: string; readonly keyId?: string },
  algorithm: KeyringAlgorithm,
): Uint8Array {
  if ((b.publicKey === undefined) === (b.keyId === undefined)) {
    throw new ApiError(400, "invalid_request", "give exactly one of publicKey and keyId");
  }
  if (b.keyId === undefined) return bytes(b.publicKey!);
  const key = keyring.get(b.keyId);
  if (key.algorithm !== algorithm) {
    throw new ApiError(422, "key_wrong_algorithm", `key ${key.id.slice(0, 16)}… is ${key.algorithm}, not ${algorithm}`);
  }
  return key.publicKey;
}

export interface CryptoApiOptions {
  apiKey: string | null;
}

export function createCryptoApi(keyring: Keyring, backend: CryptoBackend, o: CryptoApiOptions): OpenAPIHono<Env> {
  const api = createArea();
  const auth = apiKeyPolicy(o.apiKey, "always");

  api.openapi(
    defineRoute({
      method: "post",
      path: "/keys/generate",
      operationId: "cryptoGenerateKey",
      tags: ["crypto"],
      summary: "Make a key in the node's key store; the answer has its id and public key, never the secret",
      request: {
        body: body(
          z.object({
            algorithm: Algorithm,
            label: z.string().regex(KEY_LABEL_RE).optional().openapi({ description: "1-64 of [a-z0-9_-]" }),
          }).openapi("GenerateKeyRequest"),
        ),
      },
      responses: {
        201: {
          ...json(Key, "made"),
          links: { GetKey: { operationId: "cryptoGetKey", parameters: { id: "$response.body#/id" } } },
        },
      },
    }, { auth, errors: [507] }),
    async (c) => {
      const b = c.req.valid("json");
      return c.json(keyView(await keyring.generate(b.algorithm, b.label)), 201);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/keys",
      operationId: "cryptoListKeys",
      tags: ["crypto"],
      summary: "The keys made through this API, by id",
      request: { query: z.object({ limit: pageLimit(KEYS_PAGE_MAX, 100), cursor: Cursor.optional() }) },
      responses: {
        200: json(z.object({ keys: z.array(Key), nextCursor: NextCursor }).openapi("CryptoKeyPage"), "a page"),
      },
    }, { auth }),
    (c) => {
      const { limit, cursor } = c.req.valid("query");
      if (cursor !== undefined && !/^[0-9a-f]{64}$/.test(cursor)) {
        throw new ApiError(400, "invalid_request", "cursor: not a cursor this API gave (use nextCursor as it is)");
      }
      const keys = keyring.list(cursor ?? null, limit);
      return c.json({
        keys: keys.map(keyView),
        nextCursor: keys.length === limit ? keys[keys.length - 1].id : null,
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/keys/{id}",
      operationId: "cryptoGetKey",
      tags: ["crypto"],
      summary: "One key: its algorithm and public key",
      request: { params: z.object({ id: Hex64 }) },
      responses: { 200: json(Key, "the key") },
    }, { auth, errors: [404] }),
    (c) => c.json(keyView(keyring.get(c.req.valid("param").id)), 200),
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/encrypt",
      operationId: "cryptoEncrypt",
      tags: ["crypto"],
      summary: "Seal bytes to an ML-KEM-768 public key: KEM, then HKDF-SHA-256, then AES-256-GCM",
      request: { body: body(EncryptBody) },
      responses: {
        200: json(
          z.object({ envelope: base64("the envelope"), keyId: Hex64 }).openapi("EncryptResponse"),
          "the envelope (1,142 bytes more than the plaintext)",
        ),
      },
    }, { auth, errors: [404, 422] }),
    async (c) => {
      const b = c.req.valid("json");
      const publicKey = requestedPublicKey(keyring, b, "ml-kem-768");
      const envelope = await sealEnvelope(backend, publicKey, bytes(b.plaintext), {
        associatedData: b.associatedData === undefined ? undefined : bytes(b.associatedData),
      });
      return c.json({ envelope: envelope.toBase64(), keyId: parseEnvelope(envelope).keyId }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/decrypt",
      operationId: "cryptoDecrypt",
      tags: ["crypto"],
      summary: "Open an envelope with the stored key it was sealed to",
      request: { body: body(DecryptBody) },
      responses: {
        200: json(z.object({ plaintext: base64("the bytes"), keyId: Hex64 }).openapi("DecryptResponse"), "opened"),
      },
    }, { auth, errors: [404, 422] }),
    async (c) => {
      const b = c.req.valid("json");
      const envelope = bytes(b.envelope);
      const { keyId } = parseEnvelope(envelope);
      const pair = await keyring.kem(keyId);
      const plaintext = await openEnvelope(
        backend,
        pair.decapsulationKey,
        envelope,
        b.associatedData === undefined ? undefined : bytes(b.associatedData),
      );
      return c.json({ plaintext: plaintext.toBase64(), keyId }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/sign",
      operationId: "cryptoSign",
      tags: ["crypto"],
      summary: "Sign a message with a stored ML-DSA-87 key (hedged, empty context)",
      request: { body: body(SignBody) },
      responses: {
        200: json(
          z.object({ signature: base64("4,627 bytes"), keyId: Hex64 }).openapi("SignResponse"),
          "the signature",
        ),
      },
    }, { auth, errors: [404, 422] }),
    async (c) => {
      const b = c.req.valid("json");
      const signer = await keyring.signer(b.keyId);
      const signature = await signer.sign(bytes(b.message));
      return c.json({ signature: signature.toBase64(), keyId: keyring.get(b.keyId).id }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/verify",
      operationId: "cryptoVerify",
      tags: ["crypto"],
      summary: "Check an ML-DSA-87 signature against a public key or a stored key",
      request: { body: body(VerifyBody) },
      responses: { 200: json(z.object({ valid: z.boolean() }).openapi("VerifyResponse"), "the verdict") },
    }, { auth, errors: [404, 422] }),
    async (c) => {
      const b = c.req.valid("json");
      const publicKey = requestedPublicKey(keyring, b, "ml-dsa-87");
      const valid = await (await backend.mlDsaVerifier(publicKey)).verify(bytes(b.message), bytes(b.signature));
      return c.json({ valid }, 200);
    },
  );

  return api;
}
