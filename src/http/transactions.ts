/** /api/v1/transactions: submit signed transactions and follow them to a decision. */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ConsensusService } from "../node/consensus.ts";
import type { Storage } from "../storage/mod.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";

async function bodyBytes(c: Context<Env>, field: string): Promise<Uint8Array> {
  if ((c.req.header("content-type") ?? "").startsWith("application/json")) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, "invalid_json", "the body is not valid JSON");
    }
    const b64 = (body as Record<string, unknown>)?.[field];
    if (typeof b64 !== "string") {
      throw new ApiError(400, "invalid_request", `expected { "${field}": "<base64 of the signed bytes>" }`);
    }
    try {
      return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    } catch {
      throw new ApiError(400, "invalid_request", `${field} is not valid base64`);
    }
  }
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new ApiError(400, "invalid_request", "empty body: send the signed transaction bytes");
  return bytes;
}

export function createTransactionsApi(consensus: ConsensusService, storage: Storage): Hono<Env> {
  const api = new Hono<Env>();
  api.post("/", async (c) => {
    const r = consensus.submit(await bodyBytes(c, "transaction"));
    return c.json(r, r.state === "pending" ? 202 : 200);
  });
  /** Many states at once (at most 1,000 ids), for clients following a batch. */
  api.post("/status", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, "invalid_json", "the body is not valid JSON");
    }
    const ids = (body as { ids?: unknown })?.ids;
    if (
      !Array.isArray(ids) || ids.length > 1000 || !ids.every((x) => typeof x === "string" && /^[0-9a-f]{64}$/.test(x))
    ) {
      throw new ApiError(400, "invalid_request", 'expected { "ids": [up to 1000 ids of 64 hex digits] }');
    }
    return c.json({ states: Object.fromEntries(ids.map((id: string) => [id, consensus.txState(id)])) });
  });
  api.get("/:id", (c) => {
    const id = c.req.param("id").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(id)) throw new ApiError(400, "invalid_request", "id must be 64 hex digits");
    const state = consensus.txState(id);
    if (state === "unknown") throw new ApiError(404, "not_found", `no transaction ${id}`);
    const stored = storage.getTransaction(id);
    const decision = storage.getDecision(id);
    return c.json({
      id,
      state,
      vertex: stored?.vertex ?? null,
      conflictKey: stored?.conflictKey ?? null,
      decidedAtMs: decision?.decidedAtMs ?? null,
    });
  });
  return api;
}
