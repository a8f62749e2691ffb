/**
 * /api/v1/checkpoints: certified checkpoints (src/checkpoint), as the JSON
 * document `qudag checkpoint verify` checks offline against the genesis.
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { certificateToJson, decodeStatement } from "../checkpoint/mod.ts";
import type { Storage, StoredCertificate } from "../storage/mod.ts";
import { createArea, type Env } from "./app.ts";
import { defineRoute } from "./_route.ts";
import { json } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

const Hex = z.string().regex(/^[0-9a-f]{64}$/);
const Certificate = z.object({
  format: z.string(),
  digest: Hex,
  statement: z.object({
    chainId: Hex,
    seq: z.string(),
    boundaryMs: z.string(),
    prevBoundaryMs: z.string(),
    vertexCount: z.string(),
    frontier: z.array(Hex),
    txAccumulator: Hex,
    stateHash: Hex,
    journalHash: Hex,
    prevDigest: Hex,
  }),
  signatures: z.array(z.object({ validator: Hex, signature: z.string().openapi({ format: "byte" }) })),
}).openapi("CheckpointCertificate", {
  description: "a statement signed by more than two thirds of the genesis validators (qudag checkpoint verify)",
});

function toJson(c: StoredCertificate) {
  return certificateToJson({ statement: decodeStatement(c.statement), signatures: c.signatures });
}

export function createCheckpointsApi(storage: Pick<Storage, "latestCertificate" | "getCertificate">): OpenAPIHono<Env> {
  const api = createArea();
  const tags = ["checkpoints"];

  api.openapi(
    defineRoute({
      method: "get",
      path: "/latest",
      operationId: "checkpointLatest",
      tags,
      summary: "The newest certified checkpoint",
      responses: { 200: json(Certificate, "the certificate") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const cert = storage.latestCertificate();
      if (cert === null) throw new ApiError(404, "not_found", "no checkpoint is certified yet");
      return c.json(toJson(cert), 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/{seq}",
      operationId: "checkpointGet",
      tags,
      summary: "A certified checkpoint by sequence number (never changes once certified)",
      request: { params: z.object({ seq: z.string().regex(/^[1-9][0-9]{0,15}$/).openapi({ example: "1" }) }) },
      responses: { 200: json(Certificate, "the certificate") },
    }, { cache: "immutable", errors: [404] }),
    (c) => {
      const seq = c.req.valid("param").seq;
      const cert = storage.getCertificate(Number(seq));
      if (cert === null) throw new ApiError(404, "not_found", `checkpoint ${seq} is not certified here`);
      return c.json(toJson(cert), 200);
    },
  );

  return api;
}
