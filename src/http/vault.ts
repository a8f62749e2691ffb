/**
 * /api/v1/vault: named secrets, encrypted at rest (src/vault). Every call
 * needs the API key, and the area is closed while the node has none; without
 * a vault passphrase the vault stays locked (503 vault_locked). Values and
 * notes leave only in the answer to GET of one secret: never in lists, search,
 * errors or logs.
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type SecretSummary, type Vault, VAULT_LIMITS } from "../vault/mod.ts";
import { VAULT_PAGE_MAX } from "../storage/mod.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { Cursor, json, NextCursor, pageLimit } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

export const VAULT_API_BASE = "/api/v1/vault";

const L = VAULT_LIMITS;
const SecretId = z.string().regex(/^[0-9a-f]{32}$/).openapi({ description: "32 hex digits", example: "0".repeat(32) });
const Label = z.string().min(1).max(L.labelChars);
const Tags = z.array(z.string().min(1).max(L.tagChars)).max(L.tags);

const NewSecret = z.object({
  label: Label.openapi({ description: "the name people search for" }),
  username: z.string().max(L.usernameChars).nullable().optional(),
  url: z.string().max(L.urlChars).nullable().optional(),
  tags: Tags.optional(),
  notes: z.string().max(L.notesChars).nullable().optional().openapi({ description: "encrypted; never searched" }),
  value: z.string().min(1).max(L.valueChars).openapi({ description: "the secret; encrypted; never searched" }),
}).openapi("NewSecret");

const SecretPatch = z.object({
  label: Label.optional(),
  username: z.string().max(L.usernameChars).nullable().optional(),
  url: z.string().max(L.urlChars).nullable().optional(),
  tags: Tags.optional(),
  notes: z.string().max(L.notesChars).nullable().optional(),
  value: z.string().min(1).max(L.valueChars).optional(),
}).openapi("SecretPatch", { description: "omitted fields keep their value; null clears username, url or notes" });

const Summary = z.object({
  id: SecretId,
  label: z.string(),
  username: z.string().nullable(),
  url: z.string().nullable(),
  tags: z.array(z.string()),
  version: z.number().int().min(1),
  createdAtMs: z.number().int(),
  updatedAtMs: z.number().int(),
}).openapi("SecretSummary");

const View = Summary.extend({
  notes: z.string().nullable(),
  value: z.string(),
  versions: z.array(z.number().int().min(1)).openapi({ description: "versions kept, ascending" }),
}).openapi("Secret");

const Page = z.object({ secrets: z.array(Summary), nextCursor: NextCursor }).openapi("SecretPage");
const Deleted = z.object({ id: SecretId, deleted: z.literal(true), versions: z.number().int().min(0) })
  .openapi("SecretDeleted");

const view = (s: SecretSummary) => ({ ...s, tags: [...s.tags] });

export interface VaultApiOptions {
  apiKey: string | null;
}

/** `vault` null: the node has no vault passphrase (every call answers vault_locked). */
export function createVaultApi(vault: Vault | null, o: VaultApiOptions): OpenAPIHono<Env> {
  const api = createArea();
  const auth = apiKeyPolicy(o.apiKey, "always");
  const open = (): Vault => {
    if (vault === null) {
      throw new ApiError(503, "vault_locked", "the vault is locked: set QUDAG_VAULT_PASSPHRASE on the node");
    }
    return vault;
  };
  const params = z.object({ id: SecretId });

  api.openapi(
    defineRoute({
      method: "post",
      path: "/secrets",
      operationId: "vaultCreate",
      tags: ["vault"],
      summary: "Store a new secret (version 1)",
      request: { body: { required: true, content: { "application/json": { schema: NewSecret } } } },
      responses: {
        201: {
          ...json(Summary, "stored; the value is not echoed"),
          links: {
            GetSecret: { operationId: "vaultGet", parameters: { id: "$response.body#/id" } },
            UpdateSecret: { operationId: "vaultUpdate", parameters: { id: "$response.body#/id" } },
            DeleteSecret: { operationId: "vaultDelete", parameters: { id: "$response.body#/id" } },
          },
        },
      },
    }, { auth, errors: [507] }),
    async (c) => {
      const b = c.req.valid("json");
      const made = await open().create({
        label: b.label,
        username: b.username ?? null,
        url: b.url ?? null,
        tags: b.tags ?? [],
        notes: b.notes ?? null,
        value: b.value,
      });
      return c.json(view(made), 201);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/secrets/search",
      operationId: "vaultSearch",
      tags: ["vault"],
      summary: "Secrets whose label, username, URL or tags hold every word of q (all when q is empty), newest first",
      request: {
        query: z.object({
          q: z.string().max(L.queryChars).optional().openapi({ description: `up to ${L.terms} words` }),
          limit: pageLimit(VAULT_PAGE_MAX, 50),
          cursor: Cursor.optional(),
        }),
      },
      responses: { 200: json(Page, "a page of secrets, without values or notes") },
    }, { auth }),
    (c) => {
      const q = c.req.valid("query");
      const page = open().search(q.q ?? "", q.cursor ?? null, q.limit);
      return c.json({ secrets: page.secrets.map(view), nextCursor: page.nextCursor }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/secrets/{id}",
      operationId: "vaultGet",
      tags: ["vault"],
      summary: "One secret with its value: the newest version, or ?version= while it is kept",
      request: {
        params,
        query: z.object({
          version: z.coerce.number().int().min(1).max(2 ** 31).optional().openapi({ type: "integer" }),
        }),
      },
      responses: { 200: json(View, "the secret") },
    }, { auth, errors: [404] }),
    async (c) => {
      const s = await open().get(c.req.valid("param").id, c.req.valid("query").version);
      return c.json({ ...s, tags: [...s.tags], versions: [...s.versions] }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "put",
      path: "/secrets/{id}",
      operationId: "vaultUpdate",
      tags: ["vault"],
      summary: "Update a secret: a new version; the older ones are kept (the newest 20)",
      request: { params, body: { required: true, content: { "application/json": { schema: SecretPatch } } } },
      responses: { 200: json(Summary, "the new version") },
    }, { auth, errors: [404] }),
    async (c) => c.json(view(await open().update(c.req.valid("param").id, c.req.valid("json"))), 200),
  );

  api.openapi(
    defineRoute({
      method: "delete",
      path: "/secrets/{id}",
      operationId: "vaultDelete",
      tags: ["vault"],
      summary: "Delete a secret and every version, for real: nothing of it stays in the database file or its WAL",
      request: { params },
      responses: { 200: json(Deleted, "deleted") },
    }, { auth, errors: [404] }),
    async (c) => {
      const { id, versions } = await open().delete(c.req.valid("param").id);
      return c.json({ id, deleted: true as const, versions }, 200);
    },
  );

  return api;
}
