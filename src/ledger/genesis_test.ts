import assert from "node:assert/strict";
import { defaultFeeParams, Ledger } from "../core/mod.ts";
import { CHAIN, roleKeys, seedGenesis, T0 } from "./_testing.ts";
import { ExchangeGenesisError, makeExchangeGenesis, parseExchangeGenesis } from "./genesis.ts";

function doc() {
  const k = roleKeys();
  return makeExchangeGenesis({
    timeMs: T0,
    supplyCap: 21_000_000n * 1_000_000n,
    fees: { ...defaultFeeParams(), fMinPpb: 2_000_000 },
    accounts: [
      { name: "fees", publicKey: k.fees.publicKey },
      { name: "master", publicKey: k.master.publicKey },
      { name: "ops", publicKey: k.feeAdmin.publicKey },
    ],
    roles: { feeAccount: "fees", exchangeMaster: "master", feeAdmin: "ops", agentVerifier: "ops", governance: "ops" },
  });
}

Deno.test("makeExchangeGenesis() output parses back into a LedgerGenesis the core accepts", () => {
  const json = JSON.parse(JSON.stringify(doc()));
  assert.equal(json.supplyCap, "21000000");
  const g = parseExchangeGenesis(json, CHAIN);
  const k = roleKeys();
  assert.equal(g.timeMs, T0);
  assert.equal(g.supplyCap, 21_000_000_000_000n);
  assert.equal(g.fees.fMinPpb, 2_000_000);
  assert.deepEqual(g.roles.feeAdmin, k.feeAdmin.id);
  assert.deepEqual(g.roles.governance, k.feeAdmin.id);
  using ledger = Ledger.genesis(g);
  assert.equal(ledger.status().accountCount, 3);
  assert.deepEqual(ledger.status().chainId, CHAIN);
  // Without fees: the SPEC.md defaults.
  assert.deepEqual(seedGenesis().fees, defaultFeeParams());
});

Deno.test("parseExchangeGenesis() names the field it refuses", () => {
  const base = () => JSON.parse(JSON.stringify(doc()));
  const cases: [string, (d: Record<string, unknown> & { accounts: Record<string, unknown>[] }) => void][] = [
    ["timeMs", (d) => (d.timeMs = -1)],
    ["supplyCap", (d) => (d.supplyCap = "1.0000001")],
    ["fees.fMinPpb", (d) => (d.fees = { fMinPpb: 1.5 })],
    ["fees.speed", (d) => (d.fees = { speed: 1 })],
    ["fees", (d) => (d.fees = { fMinPpb: 20_000_000 })],
    ["accounts", (d) => (d.accounts = [])],
    ["accounts[1].name", (d) => (d.accounts[1].name = "Master")],
    ["accounts[2].name", (d) => (d.accounts[2].name = "fees")],
    ["accounts[0].publicKey", (d) => (d.accounts[0].publicKey = "AAAA")],
    ["accounts[2].publicKey", (d) => (d.accounts[2].publicKey = d.accounts[0].publicKey)],
    ["roles.governance", (d) => delete (d.roles as Record<string, unknown>).governance],
    ["roles.feeAdmin", (d) => ((d.roles as Record<string, unknown>).feeAdmin = "nobody")],
    ["roles.janitor", (d) => ((d.roles as Record<string, unknown>).janitor = "ops")],
  ];
  for (const [field, mutate] of cases) {
    const d = base();
    mutate(d);
    assert.throws(
      () => parseExchangeGenesis(d, CHAIN),
      (e: unknown) => e instanceof ExchangeGenesisError && e.field === field && e.message.includes(field),
      field,
    );
  }
  assert.throws(() => parseExchangeGenesis([], CHAIN), ExchangeGenesisError);
});
