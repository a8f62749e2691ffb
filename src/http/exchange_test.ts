import assert from "node:assert/strict";
import { blake3, Ledger, validateTransaction } from "../core/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage } from "../storage/mod.ts";
import {
  DagWriter,
  MINUTE_MS,
  realKey,
  RUV,
  seedFlowTransactions,
  seedGenesis,
  signTx,
  T0,
  verifyAsync,
  writeChain,
} from "../ledger/_testing.ts";
import { LedgerService } from "../ledger/service.ts";
import { createApp } from "./app.ts";
import { ApiError } from "./errors.ts";
import { createExchangeApi, EXCHANGE_API_BASE } from "./exchange.ts";
import { BATCH_TXS_MAX } from "./exchange_batch.ts";

const LOCK_TIME_MS = T0 + 10n * MINUTE_MS;
type Submitted = { id: string; state: string };
const HOUR_MS = 3_600_000;

/** The seed flow accepted and applied, served by the exchange API behind the node's app middleware. */
async function setup(
  wrapSubmit: (submit: (bytes: Uint8Array) => Promise<Submitted>) => (bytes: Uint8Array) => Promise<Submitted> = (
    submit,
  ) => submit,
) {
  const storage = new MemoryStorage();
  const registry = new Registry();
  const ledger = new LedgerService({
    genesis: seedGenesis(),
    storage,
    verify: verifyAsync,
    logger: silentLogger,
    registry,
  });
  using scratch = Ledger.genesis(seedGenesis());
  const steps = seedFlowTransactions(scratch.status().configHash);
  writeChain(new DagWriter(storage), steps.map((s) => s.tx));
  await ledger.restore();
  const submitted = new Map<string, Uint8Array>();
  const submit = (bytes: Uint8Array): Promise<Submitted> => {
    // As ConsensusService.submit: validate (CoreError on malformed bytes), then queue.
    const id = validateTransaction(bytes).id.toHex();
    const state = storage.getDecision(id)?.status ?? (submitted.has(id) ? "pending" : "unknown");
    if (state !== "unknown") return Promise.resolve({ id, state });
    submitted.set(id, bytes);
    return Promise.resolve({ id, state: "pending" });
  };
  const txState = (id: string) => storage.getDecision(id)?.status ?? (submitted.has(id) ? "pending" : "unknown");
  const api = createExchangeApi(ledger, wrapSubmit(submit), txState, {
    nowMs: () => Number(LOCK_TIME_MS) + HOUR_MS,
    storage,
  });
  const app = createApp({
    logger: silentLogger,
    requestDuration: registry.histogram("http_request_duration_seconds", "Duration.", ["method", "route", "status"]),
    bodyLimitBytes: 64 * 1024,
    nowMs: () => 0,
    checkReady: () => {},
    status: () => ({}),
    areas: { [EXCHANGE_API_BASE]: api },
  });
  const get = async (path: string) => {
    const res = await app.request(`${EXCHANGE_API_BASE}${path}`);
    return { status: res.status, body: await res.json() };
  };
  return { app, ledger, storage, steps, submitted, get };
}

Deno.test("exchange API GET /status reports supply, roles, lock and state hash as strings", async () => {
  const { get, ledger } = await setup();
  try {
    const { status, body } = await get("/status");
    assert.equal(status, 200);
    assert.equal(body.supply, "10000000");
    assert.equal(body.supplyUnits, "10000000000000");
    assert.equal(body.minted, "10000000");
    assert.equal(body.burned, "0");
    assert.equal(body.supplyCap, null);
    assert.equal(body.roles.exchangeMaster.name, "exchange-master");
    assert.equal(body.roles.feeAccount.id, realKey(1).id.toHex());
    assert.equal(body.locked, true);
    assert.equal(body.lock.graceEndMs, (LOCK_TIME_MS + 86_400_000n).toString());
    assert.equal(body.configHash, body.lock.configHash);
    assert.equal(body.stateHash, ledger.stateHash().toHex());
    assert.equal(body.accountCount, 8);
    assert.equal(body.appliedVertices, 9);
    assert.equal(body.fees.fMin, "0.100%");
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /accounts lists accounts in pages", async () => {
  const { get, ledger } = await setup();
  try {
    const all = await get("/accounts");
    assert.equal(all.status, 200);
    assert.equal(all.body.accounts.length, 8);
    assert.equal(all.body.next, null);
    assert.equal(all.body.accounts[0].publicKey, undefined);
    const names = all.body.accounts.map((a: { name: string }) => a.name).sort();
    assert.deepEqual(names, [
      "agent-verifier",
      "alice",
      "bob",
      "exchange-master",
      "fee-admin",
      "fees",
      "genesis-treasury",
      "governance",
    ]);
    const first = await get("/accounts?limit=5");
    assert.equal(first.body.accounts.length, 5);
    const rest = await get(`/accounts?after=${first.body.next}`);
    assert.equal(rest.body.accounts.length, 3);
    assert.deepEqual([...first.body.accounts, ...rest.body.accounts], all.body.accounts);
    assert.equal((await get("/accounts?limit=0")).status, 400);
    assert.equal((await get("/accounts?after=xyz")).status, 400);
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /accounts/:idOrName and /balance, by name and by id; 404 for unknown accounts", async () => {
  const { get, ledger } = await setup();
  try {
    const alice = await get("/accounts/alice");
    assert.equal(alice.status, 200);
    assert.equal(alice.body.id, realKey(11).id.toHex());
    assert.equal(alice.body.balance, "50000");
    assert.equal(alice.body.balanceUnits, "50000000000");
    assert.equal(alice.body.nextNonce, "1");
    assert.equal(alice.body.attestation.expiryMs, (T0 + 365n * 86_400_000n).toString());
    assert.equal(Uint8Array.fromBase64(alice.body.publicKey).length, 2592);
    const treasuryId = realKey(10).id.toHex();
    const byId = await get(`/accounts/${treasuryId}/balance`);
    assert.deepEqual(byId.body, {
      id: treasuryId,
      name: "genesis-treasury",
      balance: "9919919.98968",
      balanceUnits: "9919919989680",
    });
    assert.equal((await get("/accounts/fees/balance")).body.balanceUnits, "80010320");
    for (const path of ["/accounts/nobody", "/accounts/nobody/balance", `/accounts/${"ab".repeat(32)}`]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.error.code, "not_found");
    }
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API transactions: submit (JSON or bytes) and look up state and ledger receipt", async () => {
  const { app, get, ledger, steps, submitted } = await setup();
  try {
    const transferBob = blake3(steps[5].tx).toHex();
    const looked = await get(`/transactions/${transferBob}`);
    assert.equal(looked.status, 200);
    assert.equal(looked.body.state, "accepted");
    assert.equal(looked.body.receipt.code, "ok");
    assert.equal(looked.body.receipt.fee, "30.01032");
    assert.equal(looked.body.receipt.feeUnits, "30010320");
    assert.equal(looked.body.receipt.ratePpb, 1_000_344);
    assert.equal(looked.body.receipt.timeMs, (T0 + 7n * MINUTE_MS).toString());

    const tx = signTx(realKey(11), 1n, { kind: "transfer", to: realKey(12).id, amount: RUV, memo: new Uint8Array() });
    const post = (body: BodyInit, type: string) =>
      app.request(`${EXCHANGE_API_BASE}/transactions`, { method: "POST", body, headers: { "content-type": type } });
    const res = await post(JSON.stringify({ transaction: tx.toBase64() }), "application/json");
    assert.equal(res.status, 202);
    const id = blake3(tx).toHex();
    assert.deepEqual(await res.json(), { id, state: "pending" });
    assert.ok(submitted.has(id));
    const again = await post(tx.slice(), "application/octet-stream");
    assert.equal(again.status, 202); // still pending: the same answer as the first time
    assert.deepEqual(await again.json(), { id, state: "pending" });
    const pending = await get(`/transactions/${id}`);
    assert.deepEqual(pending.body, { id, state: "pending", receipt: null });

    const garbage = await post(new Uint8Array([1, 2, 3]), "application/octet-stream");
    assert.equal(garbage.status, 422);
    assert.equal((await post(JSON.stringify({ tx: "x" }), "application/json")).status, 400);
    assert.equal((await get(`/transactions/${"00".repeat(32)}`)).status, 404);
    assert.equal((await get("/transactions/nothex")).status, 400);
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /transactions?ids=: each transaction as GET /transactions/{id} answers it, unknown ones too", async () => {
  const { app, get, ledger, steps } = await setup();
  try {
    const known = [steps[5].tx, steps[4].tx].map((tx) => blake3(tx).toHex());
    const unknown = "00".repeat(32);
    const ids = [known[0], unknown, known[1].toUpperCase()];
    const res = await get(`/transactions?ids=${ids.join(",")}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.transactions[0], (await get(`/transactions/${known[0]}`)).body);
    assert.deepEqual(res.body.transactions[1], { id: unknown, state: "unknown", receipt: null });
    assert.deepEqual(res.body.transactions[2], (await get(`/transactions/${known[1]}`)).body, "ids in any case");
    assert.equal(res.body.transactions.length, 3);
    // 64 ids at most, each 64 hex digits; the list is required.
    const many = Array.from({ length: 64 }, () => unknown);
    assert.equal((await get(`/transactions?ids=${many.join(",")}`)).body.transactions.length, 64);
    for (const bad of [[...many, unknown].join(","), "nothex", `${known[0]},`, ""]) {
      const r = await get(`/transactions?ids=${bad}`);
      assert.equal(r.status, 400, bad.slice(0, 80));
    }
    assert.equal((await app.request(`${EXCHANGE_API_BASE}/transactions`)).status, 400);
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API POST /transactions/batch: each transaction in order with its own result; a bad batch is 400", async () => {
  const busy = new Set<string>();
  const order: string[] = [];
  const { app, ledger, steps, submitted } = await setup((submit) => (bytes) => {
    const id = blake3(bytes).toHex();
    order.push(id);
    if (busy.has(id)) {
      return Promise.reject(new ApiError(503, "node_busy", "too many pending transactions", { retryAfterS: 1 }));
    }
    return submit(bytes);
  });
  const post = (body: unknown) =>
    app.request(`${EXCHANGE_API_BASE}/transactions/batch`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  try {
    const transfer = (nonce: bigint) =>
      signTx(realKey(11), nonce, { kind: "transfer", to: realKey(12).id, amount: RUV, memo: new Uint8Array() });
    const [first, second, third] = [transfer(1n), transfer(2n), transfer(3n)];
    busy.add(blake3(third).toHex());
    const items = [first, new Uint8Array([1, 2, 3]), steps[5].tx, second, third];
    const res = await post({ transactions: items.map((b) => b.toBase64()) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.taken, 3);
    assert.deepEqual(body.results[0], { id: blake3(first).toHex(), state: "pending" });
    assert.equal(body.results[1].error.status, 422); // the core's code for malformed bytes, as POST /transactions
    assert.equal(typeof body.results[1].error.code, "string");
    assert.deepEqual(body.results[2], { id: blake3(steps[5].tx).toHex(), state: "accepted" });
    assert.deepEqual(body.results[3], { id: blake3(second).toHex(), state: "pending" });
    assert.deepEqual(body.results[4].error, {
      status: 503,
      code: "node_busy",
      message: "too many pending transactions",
      details: { retryAfterS: 1 },
    });
    // In the order sent; a refused item does not stop the next.
    assert.deepEqual(order.filter((id) => id !== blake3(items[1]).toHex()), [
      blake3(first).toHex(),
      blake3(steps[5].tx).toHex(),
      blake3(second).toHex(),
      blake3(third).toHex(),
    ]);
    assert.ok(submitted.has(blake3(second).toHex()) && !submitted.has(blake3(third).toHex()));

    for (
      const bad of [
        {},
        { transactions: [] },
        { transactions: ["not base64!"] },
        { transactions: Array(BATCH_TXS_MAX + 1).fill("AQID") },
      ]
    ) {
      const refused = await post(bad);
      assert.equal(refused.status, 400, JSON.stringify(bad).slice(0, 60));
      assert.equal((await refused.json()).error.code, "invalid_request");
    }
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /fees and /fees/quote; malformed amounts are 400 with the core's code", async () => {
  const { get, ledger } = await setup();
  try {
    const fees = await get("/fees");
    assert.equal(fees.status, 200);
    assert.deepEqual(
      [fees.body.fMin, fees.body.fMax, fees.body.fMinVerified, fees.body.fMaxVerified],
      ["0.100%", "1.000%", "0.250%", "0.500%"],
    );
    assert.equal(fees.body.usageThreshold, "10000");
    assert.equal(fees.body.timeConstantMs, String(90 * 86_400_000));

    // The same figure as the core's seed-flow test: verified alice, one minute after the lock.
    const q = await get(`/fees/quote?account=alice&amount=1000&timeMs=${LOCK_TIME_MS + MINUTE_MS}`);
    assert.equal(q.status, 200);
    assert.equal(q.body.ratePpb, 2_500_135);
    assert.equal(q.body.verified, true);
    assert.equal(q.body.amountUnits, "1000000000");
    assert.equal(q.body.feeUnits, "2500135");
    assert.equal(q.body.fee, "2.500135");
    // Without timeMs: the injected clock.
    const now = await get(`/fees/quote?account=${realKey(10).id.toHex()}&amount=0.5`);
    assert.equal(now.body.timeMs, (LOCK_TIME_MS + BigInt(HOUR_MS)).toString());
    assert.equal(now.body.verified, false);

    for (
      const [amount, code] of [
        ["abc", "amount_invalid"],
        ["-1", "amount_invalid"],
        ["1.0000001", "amount_too_many_decimals"],
        ["99999999999999999999", "amount_overflow"],
      ]
    ) {
      const r = await get(`/fees/quote?account=alice&amount=${encodeURIComponent(amount)}`);
      assert.equal(r.status, 400, amount);
      assert.equal(r.body.error.code, code, amount);
    }
    assert.equal((await get("/fees/quote?account=nobody&amount=1")).status, 404);
    assert.equal((await get("/fees/quote?amount=1")).status, 400);
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /immutable reports the lock, grace time left by the injected clock, and audit", async () => {
  const { get, ledger, steps } = await setup();
  try {
    const { status, body } = await get("/immutable");
    assert.equal(status, 200);
    assert.equal(body.locked, true);
    assert.equal(body.lock.inGracePeriod, true);
    assert.equal(body.lock.graceRemainingMs, String(23 * HOUR_MS));
    assert.equal(body.lock.lockTx, blake3(steps[8].tx).toHex());
    assert.equal(body.audit.length, 1);
    assert.equal(body.audit[0].action, "lock");
    assert.equal(body.audit[0].timeMs, LOCK_TIME_MS.toString());
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /accounts/:idOrName/transactions: newest first, with receipts, fees and what moved", async () => {
  const { get, ledger, steps } = await setup();
  try {
    const id = (name: string) => blake3(steps.find((s) => s.name === name)!.tx).toHex();
    const alice = await get("/accounts/alice/transactions");
    assert.equal(alice.status, 200);
    assert.equal(alice.body.account, realKey(11).id.toHex());
    assert.equal(alice.body.name, "alice");
    assert.equal(alice.body.nextCursor, null);
    const items = alice.body.transactions as Record<string, unknown>[];
    assert.deepEqual(items.map((t) => t.id), [id("attest alice"), id("transfer alice"), id("create alice")]);
    const transfer = items[1];
    assert.equal(transfer.kind, "transfer");
    assert.equal(transfer.account, realKey(10).id.toHex());
    assert.equal(transfer.to, realKey(11).id.toHex());
    assert.equal(transfer.amount, "50000");
    assert.equal(transfer.amountUnits, "50000000000");
    assert.equal(transfer.nonce, "1");
    assert.equal((transfer.receipt as Record<string, unknown>).code, "ok");
    assert.equal(
      (transfer.receipt as Record<string, unknown>).feeUnits,
      ledger.receipt(id("transfer alice"))!.fee.toString(),
    );
    assert.equal(items[2].kind, "create_account");
    assert.equal(items[2].to, null);

    // The fee account lists every transfer that paid it; by id as by name.
    const fees = await get(`/accounts/${realKey(1).id.toHex()}/transactions`);
    assert.deepEqual(fees.body.transactions.map((t: { id: string }) => t.id), [
      id("transfer bob"),
      id("transfer alice"),
    ]);

    // Pages of one, followed by cursor, give the same list.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: { status: number; body: { transactions: { id: string }[]; nextCursor: string | null } } = await get(
        `/accounts/alice/transactions?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      assert.equal(page.status, 200);
      seen.push(...page.body.transactions.map((t) => t.id));
      cursor = page.body.nextCursor;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, items.map((t) => t.id));

    assert.equal((await get("/accounts/nobody/transactions")).body.error.code, "not_found");
    assert.equal((await get("/accounts/alice/transactions?cursor=abc")).body.error.code, "invalid_request");
    assert.equal((await get("/accounts/alice/transactions?limit=0")).status, 400);
    assert.equal((await get("/accounts/alice/transactions?limit=1001")).status, 400);
  } finally {
    ledger.close();
  }
});

Deno.test("exchange API GET /accounts pages by cursor (after and next stay as deprecated aliases)", async () => {
  const { get, ledger } = await setup();
  try {
    const first = await get("/accounts?limit=3");
    assert.equal(first.body.nextCursor, first.body.next);
    const byCursor = await get(`/accounts?limit=3&cursor=${first.body.nextCursor}`);
    const byAfter = await get(`/accounts?limit=3&after=${first.body.next}`);
    assert.deepEqual(byCursor.body, byAfter.body);
    assert.equal((await get("/accounts?cursor=nothex")).body.error.code, "invalid_request");
  } finally {
    ledger.close();
  }
});
