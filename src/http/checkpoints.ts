/**
 * /api/v1/checkpoints: certified checkpoints (src/checkpoint), as the JSON
 * document `qudag checkpoint verify` checks offline against the genesis.
 */
import { Hono } from "hono";
import { certificateToJson, decodeStatement } from "../checkpoint/mod.ts";
import type { Storage, StoredCertificate } from "../storage/mod.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";

const SEQ_RE = /^[1-9][0-9]{0,15}$/;

function toJson(c: StoredCertificate) {
  return certificateToJson({ statement: decodeStatement(c.statement), signatures: c.signatures });
}

export function createCheckpointsApi(storage: Storage): Hono<Env> {
  const api = new Hono<Env>();
  api.get("/latest", (c) => {
    const cert = storage.latestCertificate();
    if (cert === null) throw new ApiError(404, "not_found", "no checkpoint is certified yet");
    return c.json(toJson(cert));
  });
  api.get("/:seq", (c) => {
    const text = c.req.param("seq");
    if (!SEQ_RE.test(text)) throw new ApiError(400, "invalid_request", "the sequence must be a positive integer");
    const cert = storage.getCertificate(Number(text));
    if (cert === null) throw new ApiError(404, "not_found", `checkpoint ${text} is not certified here`);
    return c.json(toJson(cert));
  });
  return api;
}
