/** /api/v1/transactions: submit signed transactions and follow them to a decision. */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ConsensusService } from "../node/consensus.ts";
import type { Storage } from "../storage/mod.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { signedBody, signedBytes } from "./_body.ts";
import { Hex64, json } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

/** Most ids one POST /status asks about. */
const STATUS_IDS_MAX = 1000;

const State = z.enum(["processing", "accepted", "rejected", "pending", "unknown"]);
const Submitted = z.object({ id: Hex64, state: State }).openapi("TransactionSubmitted");
const Transaction = z.object({
  id: Hex64,
  state: State,
  vertex: Hex64.nullable().openapi({ description: "the first vertex it was seen in" }),
  conflictKey: z.string().nullable(),
  decidedAtMs: z.number().nullable(),
}).openapi("Transaction");

export interface TransactionsApiOptions {
  apiKey: string | null;
}

export function createTransactionsApi(
  consensus: Pick<ConsensusService, "submit" | "txState">,
  storage: Pick<Storage, "getTransaction" | "getDecision">,
  o: TransactionsApiOptions,
): OpenAPIHono<Env> {
  const api = createArea();
  const writes = apiKeyPolicy(o.apiKey, "writes");
  const tags = ["transactions"];

  api.openapi(
    defineRoute({
      method: "post",
      path: "/",
      operationId: "txSubmit",
      tags,
      summary: "Submit a signed transaction into consensus",
      request: { body: signedBody("transaction", "transaction") },
      responses: {
        202: json(Submitted, "taken: pending until consensus decides"),
        200: json(Submitted, "known already: its state"),
      },
    }, { auth: writes, errors: [422] }),
    async (c) => {
      const r = await consensus.submit(await signedBytes(c, "transaction"));
      return r.state === "pending" ? c.json(r, 202) : c.json(r, 200);
    },
  );

  /** Many states at once, for clients following a batch. */
  api.openapi(
    defineRoute({
      method: "post",
      path: "/status",
      operationId: "txStates",
      tags,
      summary: `States of up to ${STATUS_IDS_MAX} transactions`,
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: z.object({ ids: z.array(Hex64).max(STATUS_IDS_MAX) }) } },
        },
      },
      responses: {
        200: json(z.object({ states: z.record(z.string(), State) }).openapi("TransactionStates"), "state by id"),
      },
    }),
    (c) => {
      const ids = c.req.valid("json").ids.map((id) => id.toLowerCase());
      return c.json({ states: Object.fromEntries(ids.map((id) => [id, consensus.txState(id)])) }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/{id}",
      operationId: "txGet",
      tags,
      summary: "A transaction's consensus state",
      request: { params: z.object({ id: Hex64 }) },
      responses: { 200: json(Transaction, "the transaction") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      const state = consensus.txState(id);
      if (state === "unknown") throw new ApiError(404, "not_found", `no transaction ${id}`);
      const stored = storage.getTransaction(id);
      const decision = storage.getDecision(id);
      return c.json({
        id,
        state,
        vertex: stored?.vertex ?? null,
        conflictKey: stored?.conflictKey ?? null,
        // A decision stored but not yet synced is not told (state says pending): src/node/decision_log.ts.
        decidedAtMs: state === "pending" ? null : decision?.decidedAtMs ?? null,
      }, 200);
    },
  );

  return api;
}
