/** /api/v1/dag: add, fetch and validate vertices; children; stats. */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { DagService, SubmitResult } from "../node/dag_service.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { cacheHeader, DEFAULT_CACHE } from "./cache.ts";
import { defineRoute } from "./_route.ts";
import { signedBody, signedBytes } from "./_body.ts";
import { Hex64, json } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

const Submitted = z.object({
  status: z.enum(["admitted", "duplicate", "waiting"]),
  id: Hex64.optional(),
  missing: z.array(Hex64).optional().openapi({ description: "waiting: the parents this node still needs" }),
}).openapi("VertexSubmitted");

const Vertex = z.object({
  id: Hex64,
  chainId: Hex64,
  author: Hex64,
  authorName: z.string().nullable(),
  round: z.string(),
  timestampMs: z.string(),
  parents: z.array(Hex64),
  transactions: z.array(z.object({ id: Hex64, kind: z.string(), account: Hex64, nonce: z.string() })),
  status: z.enum(["accepted", "rejected", "processing"]),
  receivedAtMs: z.number(),
  bytes: z.number().int().openapi({ description: "size of the signed vertex" }),
}).openapi("Vertex");

const Validation = z.union([
  z.object({ valid: z.literal(true), id: Hex64.optional(), missingParents: z.array(Hex64) }),
  z.object({
    valid: z.literal(false),
    id: Hex64.nullable(),
    code: z.string().optional(),
    message: z.string().optional(),
  }),
]).openapi("VertexValidation");

const Stats = z.object({
  vertices: z.number().int().min(0),
  tips: z.array(Hex64),
  orphans: z.number().int().min(0),
  orphanBytes: z.number().int().min(0),
  validators: z.number().int().min(0),
}).openapi("DagStats");

const Hash = z.object({ hash: Hex64 });

function answer(c: Context<Env>, r: SubmitResult) {
  if (r.status === "rejected") {
    throw new ApiError(422, r.code ?? "rejected", r.message ?? "vertex rejected", { id: r.id, status: "rejected" });
  }
  const body = { status: r.status, id: r.id, ...(r.missing ? { missing: [...r.missing] } : {}) };
  return r.status === "admitted" ? c.json(body, 201) : r.status === "waiting" ? c.json(body, 202) : c.json(body, 200);
}

export interface DagApiOptions {
  apiKey: string | null;
}

export function createDagApi(dag: DagService, o: DagApiOptions): OpenAPIHono<Env> {
  const api = createArea();
  const writes = apiKeyPolicy(o.apiKey, "writes");
  const tags = ["dag"];

  api.openapi(
    defineRoute({
      method: "post",
      path: "/nodes",
      operationId: "dagAddVertex",
      tags,
      summary: "Add a signed vertex",
      request: { body: signedBody("vertex", "vertex") },
      responses: {
        201: json(Submitted, "admitted"),
        200: json(Submitted, "already stored"),
        202: json(Submitted, "held until its parents arrive"),
      },
    }, { auth: writes, errors: [422] }),
    async (c) => answer(c, await dag.submit(await signedBytes(c, "vertex"), "api")),
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/nodes/children/{hash}",
      operationId: "dagChildren",
      tags,
      summary: "The stored vertices that name this one as a parent",
      request: { params: Hash },
      responses: { 200: json(z.object({ id: Hex64, children: z.array(Hex64) }).openapi("VertexChildren"), "children") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const id = c.req.valid("param").hash.toLowerCase();
      const children = dag.children(id);
      if (children === null) throw new ApiError(404, "not_found", `no vertex ${id}`);
      return c.json({ id, children }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/nodes/{hash}",
      operationId: "dagGetVertex",
      tags,
      summary: "A vertex: JSON, or its signed bytes with `accept: application/octet-stream`",
      request: { params: Hash },
      responses: {
        200: {
          description: "the vertex (the bytes never change: they are cached as immutable)",
          content: {
            "application/json": { schema: Vertex },
            "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
          },
        },
      },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const id = c.req.valid("param").hash.toLowerCase();
      c.header("vary", "accept");
      if ((c.req.header("accept") ?? "").includes("application/octet-stream")) {
        const bytes = dag.bytesOf(id);
        if (!bytes) throw new ApiError(404, "not_found", `no vertex ${id}`);
        c.header("cache-control", cacheHeader("immutable", c.get("cacheConfig") ?? DEFAULT_CACHE));
        return c.body(bytes.slice().buffer, 200, { "content-type": "application/octet-stream" });
      }
      const v = dag.get(id);
      if (!v) throw new ApiError(404, "not_found", `no vertex ${id}`);
      return c.json(v, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/validate",
      operationId: "dagValidate",
      tags,
      summary: "Check a signed vertex without storing it",
      request: { body: signedBody("vertex", "vertex") },
      responses: { 200: json(Validation, "the verdict") },
    }),
    async (c) => {
      const r = await dag.validate(await signedBytes(c, "vertex"));
      return c.json(
        r.status === "rejected"
          ? { valid: false as const, id: r.id ?? null, code: r.code, message: r.message }
          : { valid: true as const, id: r.id, missingParents: [...(r.missing ?? [])] },
        200,
      );
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/stats",
      operationId: "dagStats",
      tags,
      summary: "Size, tips and vertices waiting for parents",
      responses: { 200: json(Stats, "the DAG") },
    }, { cache: "short" }),
    (c) => c.json(dag.stats(), 200),
  );

  return api;
}
