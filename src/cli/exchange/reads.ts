/**
 * The exchange commands that only read: balances, accounts, supply, the
 * ledger's status, fees and quotes, and the immutable lock with its audit trail.
 */
import { feeFor, feeRate, formatAmount, formatRatePercent } from "../../core/mod.ts";
import { UsageError } from "../_args.ts";
import type { Command } from "../_command.ts";
import { CliError } from "../_errors.ts";
import { context, type Ctx, get, getOrNull, iso, type Json, print, READ_FLAGS, str, who } from "./context.ts";
import { accountRefArg, amountArg, daysText, durationText, feeLines, feesFromJson, quoted } from "./values.ts";

const DAY_MS = 86_400_000n;

export const balance: Command = {
  name: "balance",
  summary: "an account's balance",
  usage: "qudag exchange balance --account ACCOUNT [--node URL] [--json]",
  flags: [{ name: "--account", kind: "string", value: "ACCOUNT", help: "account name or id" }, ...READ_FLAGS],
  async run(parsed, io) {
    const ref = accountRefArg("--account", parsed);
    const ctx = context(parsed, io);
    const a = await getOrNull(ctx, `/accounts/${ref}/balance`);
    if (a === null) throw new CliError("unknown_account", `no account "${ref}" on the ledger`);
    return print(ctx, a, () => `${who(a)}  ${a.balance} rUv`);
  },
};

export async function allAccounts(ctx: Ctx): Promise<Json[]> {
  const out: Json[] = [];
  let after: string | null = null;
  do {
    const page: Json = await get(ctx, `/accounts${after ? `?after=${after}` : ""}`);
    out.push(...(page.accounts as Json[]));
    after = page.next as string | null;
  } while (after);
  return out;
}

export const accounts: Command = {
  name: "accounts",
  summary: "every account with its balance",
  usage: "qudag exchange accounts [--format text|json] [--node URL]",
  flags: [
    { name: "--format", kind: "string", value: "text|json", help: "output format (default text)" },
    ...READ_FLAGS,
  ],
  async run(parsed, io) {
    const format = str("--format", parsed, false) ?? (parsed.flags["--json"] ? "json" : "text");
    if (format !== "text" && format !== "json") {
      throw new UsageError(`--format ${JSON.stringify(format)} is not text|json`);
    }
    if (format === "text" && parsed.flags["--json"]) throw new UsageError("--json and --format text disagree");
    const ctx = context(parsed, io);
    const list = await allAccounts(ctx);
    if (format === "json") {
      io.out(JSON.stringify({ accounts: list }, null, 2));
      return 0;
    }
    const rows = list.map((a) => {
      const att = a.attestation as Json | null;
      return [
        String(a.name) + (a.nameOwner === false ? " (name lost)" : ""),
        String(a.id).slice(0, 16),
        `${a.balance} rUv`,
        String(a.nextNonce),
        att ? `until ${iso(att.expiryMs).slice(0, 10)}` : "-",
      ];
    });
    const head = ["NAME", "ID", "BALANCE", "NONCE", "VERIFIED"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) io.out(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
    return 0;
  },
};

export const supply: Command = {
  name: "supply",
  summary: "rUv in circulation: minted minus burned",
  usage: "qudag exchange supply [--node URL] [--json]",
  flags: READ_FLAGS,
  async run(parsed, io) {
    const ctx = context(parsed, io);
    const s = await get(ctx, "/status");
    const view = {
      supply: s.supply,
      supplyUnits: s.supplyUnits,
      minted: s.minted,
      mintedUnits: s.mintedUnits,
      burned: s.burned,
      burnedUnits: s.burnedUnits,
      supplyCap: s.supplyCap,
      supplyCapUnits: s.supplyCapUnits,
    };
    return print(ctx, view, () =>
      [
        `supply  ${s.supply} rUv`,
        `minted  ${s.minted} rUv`,
        `burned  ${s.burned} rUv`,
        `cap     ${s.supplyCap === null ? "none" : `${s.supplyCap} rUv`}`,
      ].join("\n"));
  },
};

export const exchangeStatus: Command = {
  name: "status",
  summary: "the exchange ledger: chain, supply, fees, roles, lock, state hash",
  usage: "qudag exchange status [--node URL] [--json]",
  flags: READ_FLAGS,
  async run(parsed, io) {
    const ctx = context(parsed, io);
    const s = await get(ctx, "/status");
    const roles = s.roles as Record<string, Json>;
    const lock = s.lock as Json | null;
    print(ctx, s, () =>
      [
        `chain            ${s.chainId}`,
        `supply           ${s.supply} rUv (minted ${s.minted}, burned ${s.burned}, cap ${s.supplyCap ?? "none"})`,
        `accounts         ${s.accountCount}`,
        ...feeLines(feesFromJson(s.fees as Json)),
        `fee account      ${who(roles.feeAccount)}`,
        `exchange master  ${who(roles.exchangeMaster)}`,
        `fee admin        ${who(roles.feeAdmin)}`,
        `agent verifier   ${who(roles.agentVerifier)}`,
        `governance       ${who(roles.governance)}`,
        `config hash      ${s.configHash}`,
        `immutable        ${
          lock ? `locked at ${iso(lock.lockedMs)}, changes until ${iso(lock.graceEndMs)}` : "no (not locked)"
        }`,
        `state hash       ${s.stateHash}`,
      ].join("\n"));
    if (s.halted !== null) {
      io.err(`error: this node's ledger stopped following consensus: ${s.halted} [ledger_halted]`);
      return 1;
    }
    return 0;
  },
};

/** The seeds' three examples (SPEC.md "Exchange"). */
export const FEE_EXAMPLES = [
  { label: "unverified, new account (t=0, u=0)", verified: false, tMs: 0n, usage: 0n },
  { label: "unverified, 90 days, 5000 rUv sent in 30 days", verified: false, tMs: 90n * DAY_MS, usage: 5_000_000_000n },
  {
    label: "verified, 180 days, 20000 rUv sent in 30 days",
    verified: true,
    tMs: 180n * DAY_MS,
    usage: 20_000_000_000n,
  },
];
export const EXAMPLE_AMOUNT = 1_000_000_000n;

export const feeStatus: Command = {
  name: "fee-status",
  summary: "the fee parameters in force; --examples shows what transfers cost",
  usage: "qudag exchange fee-status [--examples] [--node URL] [--json]",
  flags: [
    { name: "--examples", kind: "bool", help: "rates and fees of the seeds' three example accounts" },
    ...READ_FLAGS,
  ],
  details: "Examples are computed by the core's fee function with the node's current parameters, on a " +
    `${formatAmount(EXAMPLE_AMOUNT)} rUv transfer.`,
  async run(parsed, io) {
    const ctx = context(parsed, io);
    const f = await get(ctx, "/fees");
    const fees = feesFromJson(f);
    const examples = parsed.flags["--examples"] === true
      ? FEE_EXAMPLES.map((e) => {
        const input = { verified: e.verified, tMs: e.tMs, usage: e.usage };
        const q = feeFor(fees, input, EXAMPLE_AMOUNT);
        const ratePpb = feeRate(fees, input);
        return {
          example: e.label,
          ratePpb,
          rate: formatRatePercent(ratePpb),
          amount: formatAmount(EXAMPLE_AMOUNT),
          fee: formatAmount(q.fee),
          feeUnits: q.fee.toString(),
        };
      })
      : null;
    return print(ctx, { ...f, ...(examples ? { examples } : {}) }, () => {
      const lines = feeLines(fees);
      if (examples) {
        const w = Math.max(...examples.map((e) => e.example.length));
        lines.push("", `examples (fee on a ${formatAmount(EXAMPLE_AMOUNT)} rUv transfer):`);
        for (const e of examples) lines.push(`  ${e.example.padEnd(w)}  ${e.rate.padStart(7)}  ${e.fee} rUv`);
      }
      return lines.join("\n");
    });
  },
};

/** The audit trail, oldest first: every lock and override with its transaction, config hash and reason. */
export function auditLines(audit: Json[]): string[] {
  if (audit.length === 0) return ["audit        none (never locked)"];
  const lines = [`audit        ${audit.length} record${audit.length === 1 ? "" : "s"}, oldest first`];
  audit.forEach((a, i) => {
    lines.push(
      `  ${i + 1}. ${iso(a.timeMs)}  ${String(a.action).padEnd(8)}  tx ${a.txId}`,
      `     config hash  ${a.configHash}`,
    );
    if (a.reason !== "") lines.push(`     reason       ${quoted(String(a.reason))}`);
  });
  return lines;
}

export const immutableStatus: Command = {
  name: "immutable-status",
  summary: "whether the configuration is locked, by whom, the time left to change it, and the audit trail",
  usage: "qudag exchange immutable-status [--node URL] [--json]",
  flags: READ_FLAGS,
  async run(parsed, io) {
    const ctx = context(parsed, io);
    const [im, s] = await Promise.all([get(ctx, "/immutable"), get(ctx, "/status")]);
    const lock = im.lock as Json | null;
    const signer = (s.roles as Record<string, Json>).governance;
    const audit = im.audit as Json[];
    return print(ctx, { ...im, signer }, () => {
      const state = lock === null
        ? "unlocked: fee parameters can change"
        : lock.inGracePeriod
        ? `locked, in its grace period: changes accepted for ${durationText(BigInt(String(lock.graceRemainingMs)))}`
        : "locked: the grace period is over, the configuration is final";
      const lines = [
        `state        ${state}`,
        `config hash  ${im.configHash}`,
        `signer       ${who(signer)} (governance key)`,
      ];
      if (lock) {
        lines.push(
          `locked hash  ${lock.configHash}${lock.configHash === im.configHash ? "" : " (differs from current)"}`,
          `locked at    ${iso(lock.lockedMs)}`,
          `grace ends   ${iso(lock.graceEndMs)}`,
          `time left    ${durationText(BigInt(String(lock.graceRemainingMs)))}`,
          `lock tx      ${lock.lockTx}`,
        );
      }
      lines.push(...auditLines(audit));
      return lines.join("\n");
    });
  },
};

export function quoteLines(q: Json, amountLine: boolean): string[] {
  return [
    `account       ${who({ name: q.name, id: q.account })}`,
    `verified      ${q.verified ? "yes" : "no"}`,
    `age           ${daysText(BigInt(String(q.tMs)))} days since its first transaction`,
    `30-day usage  ${q.usage} rUv sent`,
    `fee rate      ${q.rate}`,
    ...(amountLine
      ? [
        `amount        ${q.amount} rUv`,
        `fee           ${q.fee} rUv`,
        `total         ${formatAmount(BigInt(String(q.amountUnits)) + BigInt(String(q.feeUnits)))} rUv debited`,
      ]
      : []),
  ];
}

/** The node's fee quote for a transfer of `amount` by account `ref`; `unknown` is thrown when there is no such account. */
export async function quote(
  ctx: Ctx,
  ref: string,
  amount: bigint,
  unknown: () => CliError = () => new CliError("unknown_account", `no account "${ref}" on the ledger`),
): Promise<Json> {
  const q = await getOrNull(ctx, `/fees/quote?account=${ref}&amount=${formatAmount(amount)}`);
  if (q === null) throw unknown();
  return q;
}

export const updateUsage: Command = {
  name: "update-usage",
  summary: "an account's 30-day usage, computed from the ledger, and the fee rate it implies",
  usage: "qudag exchange update-usage --account ACCOUNT [--node URL] [--json]",
  flags: [{ name: "--account", kind: "string", value: "ACCOUNT", help: "account name or id" }, ...READ_FLAGS],
  details: "Usage is what the account sent in transfers over the current UTC day and the 29 before. Every node " +
    "computes it from the ledger, so there is nothing to update by hand: this shows it and the rate it gives now.",
  async run(parsed, io) {
    const ref = accountRefArg("--account", parsed);
    const ctx = context(parsed, io);
    const q = await quote(ctx, ref, 1n);
    const view = {
      account: q.account,
      name: q.name,
      usage: q.usage,
      usageUnits: q.usageUnits,
      tMs: q.tMs,
      verified: q.verified,
      ratePpb: q.ratePpb,
      rate: q.rate,
      timeMs: q.timeMs,
    };
    return print(ctx, view, () => quoteLines(q, false).join("\n"));
  },
};

export const calculateFee: Command = {
  name: "calculate-fee",
  summary: "the fee an account would pay now for a transfer",
  usage: "qudag exchange calculate-fee --account ACCOUNT --amount RUV [--node URL] [--json]",
  flags: [
    { name: "--account", kind: "string", value: "ACCOUNT", help: "sender: account name or id" },
    { name: "--amount", kind: "string", value: "RUV", help: "decimal rUv, up to 6 decimals" },
    ...READ_FLAGS,
  ],
  async run(parsed, io) {
    const ref = accountRefArg("--account", parsed);
    const amount = amountArg("--amount", str("--amount", parsed, true));
    const ctx = context(parsed, io);
    const q = await quote(ctx, ref, amount);
    return print(ctx, q, () => quoteLines(q, true).join("\n"));
  },
};
