/**
 * /api/v1/exchange (port 8081): the rUv exchange ledger, read from the
 * LedgerService, an account's history from the storage index, and
 * transaction submission into consensus. Views and their schemas are in
 * exchange_views.ts.
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { CoreError, formatAmount, type LedgerAccount, type LedgerFeeQuote, parseAmount } from "../core/mod.ts";
import { ACCOUNTS_PAGE_MAX, type LedgerService } from "../ledger/mod.ts";
import { HISTORY_PAGE_MAX, type Storage } from "../storage/mod.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { signedBody, signedBytes } from "./_body.ts";
import { addBatchLookupRoute, addBatchSubmitRoute } from "./exchange_batch.ts";
import { Cursor, Hex64, json, pageLimit } from "./_schemas.ts";
import { ApiError } from "./errors.ts";
import {
  Account,
  AccountPage,
  accountView,
  Balance,
  ExchangeStatus,
  Fees,
  feesView,
  History,
  historyItem,
  Immutable,
  Quote,
  quotePriceView,
  receiptView,
  Submitted,
  TransactionState,
} from "./exchange_views.ts";

/** Where the node mounts this sub-app (createApp's `areas`). */
export const EXCHANGE_API_BASE = "/api/v1/exchange";

export interface ExchangeApiOptions {
  /** Wall clock in ms, for fee quotes and the time left in a lock's grace period. */
  nowMs?: () => number;
  /** Account histories and the transaction bytes they show. */
  storage: Pick<Storage, "accountHistory" | "getTransaction">;
  /** x-api-key of writes (submissions); null: writes are open. */
  apiKey?: string | null;
  /**
   * Only the reads, under operation ids with this suffix: the public port
   * serves them too (/exchange/status, /exchange/accounts: what a seed's curl
   * through Fly's proxy reaches), writes stay on the exchange port.
   */
  readsOnlySuffix?: string;
}

/** The core's amount and lookup codes are the client's fault here: 400 with the core's code. */
function badInput(error: unknown, field: string): never {
  if (error instanceof CoreError) throw new ApiError(400, error.code, `${field}: ${error.message}`);
  throw error;
}

const IdOrName = z.object({
  idOrName: z.string().min(1).max(64).openapi({ description: "account id (64 hex digits) or name" }),
});
const SEQ_CURSOR_RE = /^[0-9]{1,16}$/;

export function createExchangeApi(
  ledger: LedgerService,
  submit: (bytes: Uint8Array) => Promise<{ id: string; state: string }>,
  txState: (id: string) => string,
  options: ExchangeApiOptions,
): OpenAPIHono<Env> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const writes = apiKeyPolicy(options.apiKey ?? null, "writes");
  const op = (id: string) => id + (options.readsOnlySuffix ?? "");
  const api = createArea();
  const tags = ["exchange"];

  const findAccount = (key: string): LedgerAccount => {
    const a = ledger.account(key);
    if (a === undefined) {
      throw new ApiError(404, "not_found", `no exchange account ${JSON.stringify(key.slice(0, 80))} (id or name)`);
    }
    return a;
  };

  api.openapi(
    defineRoute({
      method: "get",
      path: "/status",
      operationId: op("exchangeStatus"),
      tags,
      summary: "Supply, roles, fees, lock and state hash of the ledger",
      responses: { 200: json(ExchangeStatus, "the ledger") },
    }, { cache: "short" }),
    (c) => {
      const s = ledger.status();
      const roleView = (id: Uint8Array) => ({ id: id.toHex(), name: ledger.account(id.toHex())?.name ?? null });
      return c.json({
        chainId: s.chainId.toHex(),
        genesisTimeMs: s.genesisTimeMs.toString(),
        supply: formatAmount(s.supply),
        supplyUnits: s.supply.toString(),
        minted: formatAmount(s.minted),
        mintedUnits: s.minted.toString(),
        burned: formatAmount(s.burned),
        burnedUnits: s.burned.toString(),
        supplyCap: s.supplyCap === 0n ? null : formatAmount(s.supplyCap),
        supplyCapUnits: s.supplyCap.toString(),
        fees: feesView(s.fees),
        roles: {
          feeAccount: roleView(s.roles.feeAccount),
          exchangeMaster: roleView(s.roles.exchangeMaster),
          feeAdmin: roleView(s.roles.feeAdmin),
          agentVerifier: roleView(s.roles.agentVerifier),
          governance: roleView(s.roles.governance),
        },
        configHash: s.configHash.toHex(),
        locked: s.lock !== undefined,
        lock: s.lock === undefined ? null : {
          configHash: s.lock.configHash.toHex(),
          lockedMs: s.lock.lockedMs.toString(),
          graceEndMs: s.lock.graceEndMs.toString(),
          lockTx: s.lock.lockTx.toHex(),
        },
        stateHash: s.stateHash.toHex(),
        accountCount: s.accountCount,
        appliedVertices: ledger.appliedVertices,
        journalVertices: s.journalVertices,
        cut: ledger.cut?.seq ?? 0,
        // Non-null when the ledger stopped following consensus (the node log has why).
        halted: ledger.halted === null ? null : ledger.halted.message,
        haltCode: ledger.halted?.code ?? null,
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/accounts",
      operationId: op("exchangeAccounts"),
      tags,
      summary: "Accounts in ascending id order, in pages",
      request: {
        query: z.object({
          limit: pageLimit(ACCOUNTS_PAGE_MAX, ACCOUNTS_PAGE_MAX),
          cursor: Hex64.optional().openapi({ description: "the nextCursor of the previous page" }),
          after: Hex64.optional().openapi({ description: "deprecated: the same as cursor", deprecated: true }),
        }),
      },
      responses: { 200: json(AccountPage, "a page of accounts (without public keys)") },
    }, { cache: "short" }),
    (c) => {
      const q = c.req.valid("query");
      const after = (q.cursor ?? q.after)?.toLowerCase();
      const accounts = ledger.accounts({ after, limit: q.limit });
      const next = accounts.length === q.limit ? accounts[accounts.length - 1].id.toHex() : null;
      return c.json({ accounts: accounts.map(accountView), nextCursor: next, next }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/accounts/{idOrName}/balance",
      operationId: op("exchangeBalance"),
      tags,
      summary: "An account's balance",
      request: { params: IdOrName },
      responses: { 200: json(Balance, "the balance") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const a = findAccount(c.req.valid("param").idOrName);
      return c.json({
        id: a.id.toHex(),
        name: a.name,
        balance: formatAmount(a.balance),
        balanceUnits: a.balance.toString(),
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/accounts/{idOrName}/transactions",
      operationId: op("exchangeAccountHistory"),
      tags,
      summary: "The transactions that changed an account, newest first, with receipts and fees",
      description:
        "Every transaction consensus accepted that changed this account (applied, or refused by the ledger " +
        "after consuming the nonce): sent, received, minted to it, and for the fee account every fee. Indexed: a " +
        "page costs the same at any depth. A node that started from a state sync lists what it applied since.",
      request: {
        params: IdOrName,
        query: z.object({
          limit: pageLimit(HISTORY_PAGE_MAX, 50),
          cursor: Cursor.optional(),
        }),
      },
      responses: { 200: json(History, "a page of the account's history") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const a = findAccount(c.req.valid("param").idOrName);
      const { limit, cursor } = c.req.valid("query");
      if (cursor !== undefined && !SEQ_CURSOR_RE.test(cursor)) {
        throw new ApiError(400, "invalid_request", "cursor: not a cursor this API gave (use nextCursor as it is)");
      }
      const page = options.storage.accountHistory(a.id.toHex(), cursor === undefined ? null : Number(cursor), limit);
      const last = page.at(-1);
      return c.json({
        account: a.id.toHex(),
        name: a.name,
        transactions: page.map((e) =>
          historyItem(e.receipt, options.storage.getTransaction(e.receipt.txId)?.bytes ?? null)
        ),
        nextCursor: page.length === limit && last ? String(last.seq) : null,
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/accounts/{idOrName}",
      operationId: op("exchangeAccount"),
      tags,
      summary: "An account, with its public key",
      request: { params: IdOrName },
      responses: { 200: json(Account, "the account") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const a = findAccount(c.req.valid("param").idOrName);
      return c.json({ ...accountView(a), publicKey: a.publicKey.toBase64() }, 200);
    },
  );

  if (options.readsOnlySuffix === undefined) {
    api.openapi(
      defineRoute({
        method: "post",
        path: "/transactions",
        operationId: op("exchangeSubmit"),
        tags,
        summary: "Submit a signed transaction: dry-run against the ledger, then into consensus",
        request: { body: signedBody("transaction", "transaction") },
        responses: {
          200: json(Submitted, "known already: its state"),
          202: json(Submitted, "taken: pending until consensus decides"),
        },
      }, { auth: writes, errors: [422] }),
      async (c) => {
        const r = await submit(await signedBytes(c, "transaction"));
        return r.state === "pending"
          ? c.json({ id: r.id, state: r.state }, 202)
          : c.json({ id: r.id, state: r.state }, 200);
      },
    );
    addBatchSubmitRoute(api, submit, writes, op("exchangeSubmitBatch"));
  }

  /** A transaction's state and receipt; null when this node knows neither. */
  const transactionView = (id: string) => {
    const state = txState(id);
    const receipt = ledger.receipt(id);
    if (state === "unknown" && receipt === undefined) return null;
    return { id, state, receipt: receipt === undefined ? null : receiptView(receipt) };
  };

  api.openapi(
    defineRoute({
      method: "get",
      path: "/transactions/{id}",
      operationId: op("exchangeTransaction"),
      tags,
      summary: "A transaction's consensus state and ledger receipt",
      request: { params: z.object({ id: Hex64 }) },
      responses: { 200: json(TransactionState, "the transaction") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      const view = transactionView(id);
      if (view === null) throw new ApiError(404, "not_found", `no transaction ${id}`);
      return c.json(view, 200);
    },
  );
  // On the exchange port only, beside the submissions it follows: on the public port a path that takes GET would
  // answer a POST there with 405 instead of the hint to send it to the exchange port.
  if (options.readsOnlySuffix === undefined) addBatchLookupRoute(api, transactionView, op("exchangeTransactions"));

  api.openapi(
    defineRoute({
      method: "get",
      path: "/fees",
      operationId: op("exchangeFees"),
      tags,
      summary: "The fee parameters in force",
      responses: { 200: json(Fees, "the fee curve") },
    }, { cache: "short" }),
    (c) => c.json(feesView(ledger.status().fees), 200),
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/fees/quote",
      operationId: op("exchangeFeeQuote"),
      tags,
      summary: "Rate and fee of a transfer by an account, now or at timeMs",
      request: {
        query: z.object({
          account: z.string().min(1).max(64).openapi({ description: "account id or name" }),
          amount: z.string().min(1).max(64).openapi({ description: "decimal rUv" }),
          timeMs: z.string().regex(/^[0-9]{1,19}$/).optional().openapi({ description: "ledger time; default now" }),
        }),
      },
      responses: { 200: json(Quote, "the quote") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const q = c.req.valid("query");
      let units: bigint;
      try {
        units = parseAmount(q.amount);
      } catch (error) {
        badInput(error, "amount");
      }
      const a = ledger.account(q.account);
      if (a === undefined) throw new ApiError(404, "not_found", `no exchange account ${JSON.stringify(q.account)}`);
      const timeMs = q.timeMs === undefined ? BigInt(Math.floor(nowMs())) : BigInt(q.timeMs);
      if (timeMs >= 2n ** 64n) throw new ApiError(400, "invalid_request", "timeMs must fit in 64 bits");
      let fq: LedgerFeeQuote;
      try {
        fq = ledger.feeQuote(a.id, units, timeMs);
      } catch (error) {
        badInput(error, "quote");
      }
      return c.json({
        account: a.id.toHex(),
        name: a.name,
        ...quotePriceView(units, timeMs, fq),
        tMs: fq.tMs.toString(),
        usage: formatAmount(fq.usage),
        usageUnits: fq.usage.toString(),
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/immutable",
      operationId: op("exchangeImmutable"),
      tags,
      summary: "The configuration lock, the grace time left by this node's clock, and the audit trail",
      responses: { 200: json(Immutable, "the lock") },
    }, { cache: "short" }),
    (c) => {
      const s = ledger.status();
      const now = BigInt(Math.floor(nowMs()));
      const lock = s.lock;
      return c.json({
        locked: lock !== undefined,
        configHash: s.configHash.toHex(),
        nowMs: now.toString(),
        lock: lock === undefined ? null : {
          configHash: lock.configHash.toHex(),
          lockedMs: lock.lockedMs.toString(),
          graceEndMs: lock.graceEndMs.toString(),
          lockTx: lock.lockTx.toHex(),
          // By this node's clock; the ledger itself decides by the carrier vertex's timestamp.
          inGracePeriod: now < lock.graceEndMs,
          graceRemainingMs: (lock.graceEndMs > now ? lock.graceEndMs - now : 0n).toString(),
        },
        audit: s.audit.map((a) => ({
          txId: a.txId.toHex(),
          timeMs: a.timeMs.toString(),
          action: a.action,
          configHash: a.configHash.toHex(),
          reason: a.reason,
        })),
      }, 200);
    },
  );

  return api;
}
