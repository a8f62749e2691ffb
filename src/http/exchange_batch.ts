/**
 * Many transactions in one request.
 *
 * `POST /api/v1/exchange/transactions/batch`: up to BATCH_TXS_MAX signed
 * transactions in one request, each submitted in order exactly as
 * `POST /transactions` would (dry run against the ledger, then consensus), each
 * with its own result. One request per batch instead of one per transaction
 * takes the HTTP and JSON cost off the per-transaction path (bench/PROFILE.md).
 *
 * In order, so one account's consecutive nonces may travel in one batch. A
 * refused item does not stop the others: its result carries the code, status
 * and message `POST /transactions` would have answered (a `node_busy` one its
 * `retryAfterS`). The rate limiter charges a batch one write per transaction
 * (`rateCharge`), all or nothing, before any is submitted.
 *
 * `GET /api/v1/exchange/transactions?ids=…`: the state and receipt of up to
 * LOOKUP_IDS_MAX transactions, as `GET /transactions/{id}` answers each (one
 * this node does not know is `unknown`, not a 404). A client following its
 * transactions asks once per round, not once per transaction; the rate
 * limiter charges one read per id.
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "./app.ts";
import type { ApiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { base64, Hex64, json } from "./_schemas.ts";
import { toErrorResponse } from "./errors.ts";
import { TransactionState } from "./exchange_views.ts";
import { CORE_CONSTANTS } from "../core/mod.ts";

/** Transactions one batch may carry: 128 transfers in base64 fit the default 1 MiB body limit. */
export const BATCH_TXS_MAX = 128;

const BatchBody = z.object({
  transactions: z.array(base64("a signed transaction", CORE_CONSTANTS.txBytesMax, 1)).min(1).max(BATCH_TXS_MAX)
    .openapi({ description: `1 to ${BATCH_TXS_MAX} signed transactions, submitted in this order` }),
}).openapi("ExchangeBatchSubmission");

const BatchItem = z.object({
  id: Hex64.optional().openapi({ description: "the transaction id, when it was taken or known" }),
  state: z.string().optional().openapi({ description: "pending, processing, accepted or rejected" }),
  error: z.object({
    status: z.number().int().openapi({ description: "the status POST /transactions would have answered" }),
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }).optional().openapi({ description: "why this transaction was refused (the others are not affected)" }),
}).openapi("ExchangeBatchItem");

const BatchResult = z.object({
  results: z.array(BatchItem).openapi({ description: "one per transaction, in the order sent" }),
  taken: z.number().int().openapi({ description: "how many results carry an id and a state" }),
}).openapi("ExchangeBatchResult");

/** Ids one lookup may name: 64 fit well within a URL (about 4 KB). */
export const LOOKUP_IDS_MAX = 64;

const LookupQuery = z.object({
  ids: z.string().regex(new RegExp(`^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64}){0,${LOOKUP_IDS_MAX - 1}}$`)).openapi({
    description: `1 to ${LOOKUP_IDS_MAX} transaction ids (64 hex digits), separated by commas`,
    example: `${"ab".repeat(32)},${"cd".repeat(32)}`,
  }),
});

const LookupResult = z.object({
  transactions: z.array(TransactionState).openapi({
    description: "one per id, in the order asked; state unknown and receipt null for one this node does not know",
  }),
}).openapi("ExchangeTransactions");

export type BatchItemResult =
  | { id: string; state: string }
  | { error: { status: number; code: string; message: string; details?: Record<string, unknown> } };

export function addBatchSubmitRoute(
  api: OpenAPIHono<Env>,
  submit: (bytes: Uint8Array) => Promise<{ id: string; state: string }>,
  writes: ApiKeyPolicy,
  operationId: string,
): void {
  api.openapi(
    defineRoute({
      method: "post",
      path: "/transactions/batch",
      operationId,
      tags: ["exchange"],
      summary: `Submit up to ${BATCH_TXS_MAX} signed transactions in order, each with its own result`,
      request: { body: { required: true, content: { "application/json": { schema: BatchBody } } } },
      responses: { 200: json(BatchResult, "every transaction's result, in order") },
    }, { auth: writes, errors: [400, 413] }),
    async (c) => {
      const { transactions } = c.req.valid("json");
      // One write was charged for the request itself; the rest of the batch now, before anything is submitted.
      c.get("rateCharge")?.(transactions.length - 1);
      const results: BatchItemResult[] = [];
      let taken = 0;
      for (const text of transactions) {
        try {
          results.push(await submit(Uint8Array.fromBase64(text)));
          taken++;
        } catch (error) {
          const { status, body } = toErrorResponse(error);
          if (status === 500) throw error; // a bug: the whole request is answered as one, and logged
          const { code, message, details } = body.error;
          results.push({
            error: details === undefined ? { status, code, message } : { status, code, message, details },
          });
        }
      }
      return c.json({ results, taken }, 200);
    },
  );
}

export function addBatchLookupRoute(
  api: OpenAPIHono<Env>,
  view: (id: string) => z.infer<typeof TransactionState> | null,
  operationId: string,
): void {
  api.openapi(
    defineRoute({
      method: "get",
      path: "/transactions",
      operationId,
      tags: ["exchange"],
      summary: `The state and receipt of up to ${LOOKUP_IDS_MAX} transactions`,
      request: { query: LookupQuery },
      responses: { 200: json(LookupResult, "each transaction, in the order asked") },
    }, { cache: "short", errors: [400] }),
    (c) => {
      const ids = c.req.valid("query").ids.toLowerCase().split(",");
      // One read was charged for the request itself; one more per further id.
      c.get("rateCharge")?.(ids.length - 1);
      return c.json({ transactions: ids.map((id) => view(id) ?? { id, state: "unknown", receipt: null }) }, 200);
    },
  );
}
