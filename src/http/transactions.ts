/** /api/v1/transactions: submit signed transactions and follow them to a decision. */
import { Hono } from "hono";
import type { ConsensusService } from "../node/consensus.ts";
import type { Storage } from "../storage/mod.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";
import { signedBytes } from "./_body.ts";

export function createTransactionsApi(consensus: ConsensusService, storage: Storage): Hono<Env> {
  const api = new Hono<Env>();
  api.post("/", async (c) => {
    const r = await consensus.submit(await signedBytes(c, "transaction"));
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
