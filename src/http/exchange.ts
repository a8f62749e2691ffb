/**
 * /api/v1/exchange (port 8081): the rUv exchange ledger, read from the
 * LedgerService, and transaction submission into consensus. Amounts leave as
 * decimal rUv strings with the smallest-unit string beside them (`...Units`);
 * every u64 is a decimal string, never a JSON number.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  CoreError,
  type FeeParams,
  formatAmount,
  formatRatePercent,
  type LedgerAccount,
  type LedgerFeeQuote,
  type LedgerReceipt,
  parseAmount,
} from "../core/mod.ts";
import { ACCOUNTS_PAGE_MAX, type LedgerService } from "../ledger/mod.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";
import { signedBytes } from "./_body.ts";

/** Where the lead mounts this sub-app (createApp's `areas`). */
export const EXCHANGE_API_BASE = "/api/v1/exchange";

const ID_RE = /^[0-9a-f]{64}$/;

export interface ExchangeApiOptions {
  /** Wall clock in ms, for fee quotes and the time left in a lock's grace period. */
  nowMs?: () => number;
}

function feesView(f: FeeParams) {
  return {
    fMinPpb: f.fMinPpb,
    fMaxPpb: f.fMaxPpb,
    fMinVerifiedPpb: f.fMinVerifiedPpb,
    fMaxVerifiedPpb: f.fMaxVerifiedPpb,
    fMin: formatRatePercent(f.fMinPpb),
    fMax: formatRatePercent(f.fMaxPpb),
    fMinVerified: formatRatePercent(f.fMinVerifiedPpb),
    fMaxVerified: formatRatePercent(f.fMaxVerifiedPpb),
    timeConstantMs: f.timeConstantMs.toString(),
    usageThreshold: formatAmount(f.usageThreshold),
    usageThresholdUnits: f.usageThreshold.toString(),
  };
}

function accountView(a: LedgerAccount, withKey: boolean) {
  return {
    id: a.id.toHex(),
    name: a.name,
    nameOwner: a.nameOwner,
    balance: formatAmount(a.balance),
    balanceUnits: a.balance.toString(),
    nextNonce: a.nextNonce.toString(),
    createdMs: a.createdMs.toString(),
    lastMs: a.lastMs.toString(),
    attestation: a.attestation === undefined ? null : {
      expiryMs: a.attestation.expiryMs.toString(),
      proofDigest: a.attestation.proofDigest.toHex(),
      attestedMs: a.attestation.attestedMs.toString(),
    },
    ...(withKey ? { publicKey: a.publicKey.toBase64() } : {}),
  };
}

function receiptView(r: LedgerReceipt) {
  return {
    code: r.code,
    fee: formatAmount(r.fee),
    feeUnits: r.fee.toString(),
    ratePpb: r.ratePpb,
    rate: formatRatePercent(r.ratePpb),
    vertex: r.vertex.toHex(),
    timeMs: r.timeMs.toString(),
  };
}

/** The core's amount and lookup codes are the client's fault here: 400 with the core's code. */
function badInput(error: unknown, field: string): never {
  if (error instanceof CoreError) throw new ApiError(400, error.code, `${field}: ${error.message}`);
  throw error;
}

export function createExchangeApi(
  ledger: LedgerService,
  submit: (bytes: Uint8Array) => Promise<{ id: string; state: string }>,
  txState: (id: string) => string,
  options: ExchangeApiOptions = {},
): Hono<Env> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const api = new Hono<Env>();

  const findAccount = (c: Context<Env>): LedgerAccount => {
    const key = c.req.param("idOrName") ?? "";
    const a = key.length <= 64 ? ledger.account(key) : undefined;
    if (a === undefined) {
      throw new ApiError(404, "not_found", `no exchange account ${JSON.stringify(key.slice(0, 80))} (id or name)`);
    }
    return a;
  };

  api.get("/status", (c) => {
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
    });
  });

  api.get("/accounts", (c) => {
    const after = c.req.query("after")?.toLowerCase();
    if (after !== undefined && !ID_RE.test(after)) {
      throw new ApiError(400, "invalid_request", "after must be an account id of 64 hex digits");
    }
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? ACCOUNTS_PAGE_MAX : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > ACCOUNTS_PAGE_MAX) {
      throw new ApiError(400, "invalid_request", `limit must be an integer 1..${ACCOUNTS_PAGE_MAX}`);
    }
    const accounts = ledger.accounts({ after, limit });
    return c.json({
      accounts: accounts.map((a) => accountView(a, false)),
      next: accounts.length === limit ? accounts[accounts.length - 1].id.toHex() : null,
    });
  });

  api.get("/accounts/:idOrName/balance", (c) => {
    const a = findAccount(c);
    return c.json({
      id: a.id.toHex(),
      name: a.name,
      balance: formatAmount(a.balance),
      balanceUnits: a.balance.toString(),
    });
  });

  api.get("/accounts/:idOrName", (c) => c.json(accountView(findAccount(c), true)));

  api.post("/transactions", async (c) => {
    const r = await submit(await signedBytes(c, "transaction"));
    return c.json({ id: r.id, state: r.state }, r.state === "pending" ? 202 : 200);
  });

  api.get("/transactions/:id", (c) => {
    const id = c.req.param("id").toLowerCase();
    if (!ID_RE.test(id)) throw new ApiError(400, "invalid_request", "id must be 64 hex digits");
    const state = txState(id);
    const receipt = ledger.receipt(id);
    if (state === "unknown" && receipt === undefined) throw new ApiError(404, "not_found", `no transaction ${id}`);
    return c.json({ id, state, receipt: receipt === undefined ? null : receiptView(receipt) });
  });

  api.get("/fees", (c) => c.json(feesView(ledger.status().fees)));

  api.get("/fees/quote", (c) => {
    const accountText = c.req.query("account");
    const amountText = c.req.query("amount");
    if (accountText === undefined || amountText === undefined) {
      throw new ApiError(400, "invalid_request", "expected ?account=<id or name>&amount=<decimal rUv>");
    }
    let units: bigint;
    try {
      units = parseAmount(amountText);
    } catch (error) {
      badInput(error, "amount");
    }
    const a = accountText.length <= 64 ? ledger.account(accountText) : undefined;
    if (a === undefined) throw new ApiError(404, "not_found", `no exchange account ${JSON.stringify(accountText)}`);
    const timeText = c.req.query("timeMs");
    if (timeText !== undefined && !/^[0-9]{1,19}$/.test(timeText)) {
      throw new ApiError(400, "invalid_request", "timeMs must be a non-negative integer");
    }
    const timeMs = timeText === undefined ? BigInt(Math.floor(nowMs())) : BigInt(timeText);
    let q: LedgerFeeQuote;
    try {
      q = ledger.feeQuote(a.id, units, timeMs);
    } catch (error) {
      badInput(error, "quote");
    }
    return c.json({
      account: a.id.toHex(),
      name: a.name,
      amount: formatAmount(units),
      amountUnits: units.toString(),
      timeMs: timeMs.toString(),
      ratePpb: q.ratePpb,
      rate: formatRatePercent(q.ratePpb),
      fee: formatAmount(q.fee),
      feeUnits: q.fee.toString(),
      verified: q.verified,
      tMs: q.tMs.toString(),
      usage: formatAmount(q.usage),
      usageUnits: q.usage.toString(),
    });
  });

  api.get("/immutable", (c) => {
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
    });
  });

  return api;
}
