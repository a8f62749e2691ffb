/**
 * The exchange commands that sign and submit a transaction: account holders'
 * (create-account, transfer, burn) and the authorities' (mint, configure-fees,
 * verify-agent, deploy-immutable, governance-override).
 */
import { blake3, CORE_CONSTANTS, type FeeParams, formatAmount, validateFeeParams } from "../../core/mod.ts";
import { fromHex, type KeyInfo, toHex } from "../../keys/mod.ts";
import { UsageError } from "../_args.ts";
import type { Command } from "../_command.ts";
import { CliError } from "../_errors.ts";
import { passphrase } from "../_passphrase.ts";
import {
  context,
  get,
  getOrNull,
  iso,
  type Json,
  json,
  KEY_PATH_FLAG,
  print,
  short,
  STORE_FLAGS,
  str,
  who,
  WRITE_FLAGS,
} from "./context.ts";
import { checkProof, PROOF_FORMAT } from "./proof.ts";
import { accountSigner, checkRole, ROLES, roleSigner, type Signer, signerFromSeed, store } from "./signers.ts";
import { quote } from "./reads.ts";
import { ledgerAccount, maxFeeArg, report, send, signerNotOnLedger } from "./submit.ts";
import {
  accountRefArg,
  amountArg,
  daysArg,
  durationText,
  feeLines,
  feesFromJson,
  hoursArg,
  nameArg,
  quoted,
  rateArg,
  reasonArg,
} from "./values.ts";

export const createAccount: Command = {
  name: "create-account",
  summary: "make an account key in the key store and create the account on the ledger",
  usage: "qudag exchange create-account --name NAME [--node URL] [--no-wait]",
  flags: [
    { name: "--name", kind: "string", value: "NAME", help: "account name: 1..64 of a-z, 0-9, _ and -" },
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "The key is ML-DSA-87, sealed with QUDAG_KEY_PASSPHRASE (or a passphrase asked twice on a terminal) and " +
    "labelled with the name. If the store already has an unused key with that label, it is used again.",
  async run(parsed, io) {
    const name = nameArg("--name", str("--name", parsed, true));
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const s = store(ctx);
    const local = s.findLabelled("account", name);
    const status = await get(ctx, "/status");
    const existing = await getOrNull(ctx, `/accounts/${name}`);
    if (existing !== null) {
      if (local && existing.id === local.keyId) {
        throw new CliError("account_exists", `account ${who(existing)} already exists, with the key in ${local.path}`);
      }
      throw new CliError("name_taken", `the name "${name}" is taken on the ledger by account ${existing.id}`);
    }
    let signer: Signer;
    let created: KeyInfo | null = null;
    if (local) {
      const unlocked = await s.unlock(local.path, await passphrase(ctx.config, io, false, true));
      signer = signerFromSeed(unlocked.secret, `account key ${name}`);
      if (!json(ctx)) io.out(`using the existing key ${local.keyId} (${local.path})`);
    } else {
      const pass = await passphrase(ctx.config, io, true, true);
      const seed = crypto.getRandomValues(new Uint8Array(32));
      created = await s.import("ml-dsa", "account", seed, pass, undefined, name);
      signer = signerFromSeed(seed, `account key ${name}`);
      if (!json(ctx)) io.out(`generated ML-DSA-87 account key ${created.keyId}\nwritten to ${created.path}`);
    }
    const sent = await send(ctx, status, signer, {
      kind: "create_account",
      name,
      publicKey: signer.publicKey,
    }, maxFee ?? 0n);
    const code = report(ctx, sent, () => `created account ${name} (${signer.id})`);
    if (code !== 0 && created) {
      Deno.removeSync(created.path);
      io.err(`removed the unused key file ${created.path}`);
    }
    return code;
  },
};

export const transfer: Command = {
  name: "transfer",
  summary: "send rUv from an account of the key store to another account",
  usage: "qudag exchange transfer --from ACCOUNT --to ACCOUNT --amount RUV [--memo TEXT] [--node URL] [--no-wait]",
  flags: [
    { name: "--from", kind: "string", value: "ACCOUNT", help: "sender: account name (key label) or key id prefix" },
    { name: "--to", kind: "string", value: "ACCOUNT", help: "recipient: account name or id" },
    { name: "--amount", kind: "string", value: "RUV", help: "decimal rUv, up to 6 decimals" },
    { name: "--memo", kind: "string", value: "TEXT", help: `note kept with the transfer (UTF-8, at most 256 bytes)` },
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "The fee is charged on top of the amount, to the sender. --max-fee defaults to twice the node's quote.",
  async run(parsed, io) {
    const from = str("--from", parsed, true);
    const to = accountRefArg("--to", parsed);
    const amount = amountArg("--amount", str("--amount", parsed, true));
    const memo = new TextEncoder().encode(str("--memo", parsed, false) ?? "");
    if (memo.length > CORE_CONSTANTS.memoBytesMax) {
      throw new UsageError(`--memo is ${memo.length} bytes, at most ${CORE_CONSTANTS.memoBytesMax}`);
    }
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const signer = await accountSigner(ctx, from.toLowerCase());
    const status = await get(ctx, "/status");
    const recipient = await ledgerAccount(ctx, to, "unknown_recipient", "the recipient");
    const q = await quote(ctx, signer.id, amount, () => signerNotOnLedger(signer));
    const sent = await send(ctx, status, signer, {
      kind: "transfer",
      to: fromHex(String(recipient.id)),
      amount,
      memo,
    }, maxFee ?? BigInt(String(q.feeUnits)) * 2n);
    return report(
      ctx,
      sent,
      (r) =>
        `transferred ${formatAmount(amount)} rUv from ${q.name} to ${recipient.name}; fee ${r.fee} rUv (${r.rate})`,
    );
  },
};

export const mint: Command = {
  name: "mint",
  summary: "create rUv in an account (exchange master key)",
  usage: "qudag exchange mint --account ACCOUNT --amount RUV [--key-path FILE] [--node URL] [--no-wait]",
  flags: [
    { name: "--account", kind: "string", value: "ACCOUNT", help: "recipient: account name or id" },
    { name: "--amount", kind: "string", value: "RUV", help: "decimal rUv, up to 6 decimals" },
    KEY_PATH_FLAG,
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "Signed with EXCHANGE_MASTER_KEY (64 hex digits) or --key-path FILE.",
  async run(parsed, io) {
    const ref = accountRefArg("--account", parsed);
    const amount = amountArg("--amount", str("--amount", parsed, true));
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const signer = await roleSigner(ctx, ROLES.exchangeMaster);
    const status = await get(ctx, "/status");
    checkRole(status, ROLES.exchangeMaster, signer);
    const to = await ledgerAccount(ctx, ref, "unknown_recipient", "the recipient");
    const sent = await send(ctx, status, signer, {
      kind: "mint",
      to: fromHex(String(to.id)),
      amount,
    }, maxFee ?? 0n);
    return report(ctx, sent, () => `minted ${formatAmount(amount)} rUv to ${who(to)}`);
  },
};

export const burn: Command = {
  name: "burn",
  summary: "destroy rUv of an account of the key store",
  usage: "qudag exchange burn --account ACCOUNT --amount RUV [--node URL] [--no-wait]",
  flags: [
    { name: "--account", kind: "string", value: "ACCOUNT", help: "account name (key label) or key id prefix" },
    { name: "--amount", kind: "string", value: "RUV", help: "decimal rUv, up to 6 decimals" },
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  async run(parsed, io) {
    const ref = str("--account", parsed, true);
    const amount = amountArg("--amount", str("--amount", parsed, true));
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const signer = await accountSigner(ctx, ref.toLowerCase());
    const status = await get(ctx, "/status");
    const sent = await send(ctx, status, signer, { kind: "burn", amount }, maxFee ?? 0n);
    return report(ctx, sent, () => `burned ${formatAmount(amount)} rUv of ${short(signer.id)}`);
  },
};

export const FEE_FLAGS = [
  ["--f-min", "fMinPpb", "unverified minimum rate, a fraction (0.001 = 0.1%)"],
  ["--f-max", "fMaxPpb", "unverified maximum rate"],
  ["--f-min-verified", "fMinVerifiedPpb", "verified minimum rate"],
  ["--f-max-verified", "fMaxVerifiedPpb", "verified maximum rate"],
] as const;

export const configureFees: Command = {
  name: "configure-fees",
  summary: "change the fee parameters (fee admin key)",
  usage: "qudag exchange configure-fees [--f-min R] [--f-max R] [--f-min-verified R] [--f-max-verified R] " +
    "[--time-constant-days D] [--usage-threshold RUV] [--key-path FILE] [--node URL] [--no-wait]",
  flags: [
    ...FEE_FLAGS.map(([name, , help]) => ({ name, kind: "string" as const, value: "RATE", help })),
    { name: "--time-constant-days", kind: "string", value: "DAYS", help: "T: account age for the fee to settle" },
    { name: "--usage-threshold", kind: "string", value: "RUV", help: "U: 30-day volume scale, in rUv" },
    KEY_PATH_FLAG,
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "Parameters not given keep their current value. Signed with FEE_ADMIN_KEY or --key-path FILE. " +
    "Fee parameters are chain state, the same on every node: when they are already in force nothing is signed " +
    "(exit 0). Refused once the configuration is locked and its grace period is over.",
  async run(parsed, io) {
    const given: Partial<FeeParams> = {};
    for (const [flag, key] of FEE_FLAGS) {
      const v = str(flag, parsed, false);
      if (v !== undefined) given[key] = rateArg(flag, v);
    }
    const t = str("--time-constant-days", parsed, false);
    if (t !== undefined) given.timeConstantMs = daysArg("--time-constant-days", t, 36_500n);
    const u = str("--usage-threshold", parsed, false);
    if (u !== undefined) given.usageThreshold = amountArg("--usage-threshold", u);
    if (Object.keys(given).length === 0) {
      throw new UsageError("give at least one fee parameter to change");
    }
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const status = await get(ctx, "/status");
    const current = feesFromJson(status.fees as Json);
    const fees: FeeParams = { ...current, ...given };
    validateFeeParams(fees);
    // Fees are chain state: asked on every node (as the seed's loop does), only the first change needs a transaction.
    if ((Object.keys(fees) as (keyof FeeParams)[]).every((k) => fees[k] === current[k])) {
      return print(
        ctx,
        { changed: false, fees: status.fees },
        () => `fee parameters already in force on this chain; nothing to change:\n${feeLines(fees).join("\n")}`,
      );
    }
    const signer = await roleSigner(ctx, ROLES.feeAdmin);
    checkRole(status, ROLES.feeAdmin, signer);
    const immutable = await get(ctx, "/immutable");
    const lock = immutable.lock as Json | null;
    if (lock && lock.inGracePeriod === false) {
      throw new CliError(
        "config_locked",
        `the configuration is locked and its grace period ended at ${iso(lock.graceEndMs)}; fees cannot change`,
      );
    }
    const sent = await send(ctx, status, signer, { kind: "configure_fees", fees }, maxFee ?? 0n);
    return report(ctx, sent, () => `fee parameters changed:\n${feeLines(fees).join("\n")}`);
  },
};

export const verifyAgent: Command = {
  name: "verify-agent",
  summary: "attest an account as a verified agent from a proof document (agent verification key)",
  usage: "qudag exchange verify-agent --account ACCOUNT --proof-path FILE [--expiry-days DAYS] [--key-path FILE] " +
    "[--node URL] [--no-wait]",
  flags: [
    { name: "--account", kind: "string", value: "ACCOUNT", help: "the agent's account name or id" },
    { name: "--proof-path", kind: "string", value: "FILE", help: `proof document (JSON, "${PROOF_FORMAT}")` },
    { name: "--expiry-days", kind: "string", value: "DAYS", help: "how long the attestation holds (default 365)" },
    KEY_PATH_FLAG,
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: `The proof is JSON: {"format": "${PROOF_FORMAT}", "account": NAME-OR-ID, "issuedAt": ISO-8601, ` +
    `"issuer"?: TEXT, "evidence": {...}}. The ledger keeps BLAKE3-256 of its exact bytes. ` +
    "Signed with AGENT_VERIFICATION_KEY or --key-path FILE.",
  async run(parsed, io) {
    const ref = accountRefArg("--account", parsed);
    const proofPath = str("--proof-path", parsed, true);
    const expiryMs = daysArg("--expiry-days", str("--expiry-days", parsed, false) ?? "365", 3_650n);
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(proofPath);
    } catch (cause) {
      throw new UsageError(`cannot read --proof-path ${proofPath}: ${(cause as Error).message}`);
    }
    const proof = checkProof(bytes, proofPath);
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const signer = await roleSigner(ctx, ROLES.agentVerifier);
    const status = await get(ctx, "/status");
    checkRole(status, ROLES.agentVerifier, signer);
    const agent = await ledgerAccount(ctx, ref, "unknown_recipient", "the agent");
    if (proof.account !== agent.name && proof.account.toLowerCase() !== agent.id) {
      throw new CliError(
        "proof_invalid",
        `${proofPath} is a proof for "${proof.account}", not for ${who(agent)}`,
      );
    }
    const digest = blake3(bytes);
    const expiry = BigInt(Date.now()) + expiryMs;
    const sent = await send(ctx, status, signer, {
      kind: "attest_agent",
      agent: fromHex(String(agent.id)),
      proofDigest: digest,
      expiryMs: expiry,
    }, maxFee ?? 0n);
    return report(
      ctx,
      sent,
      () =>
        `verified agent ${who(agent)} until ${iso(expiry)}\nproof digest ${toHex(digest)} (BLAKE3-256 of ${proofPath})`,
    );
  },
};

export const deployImmutable: Command = {
  name: "deploy-immutable",
  summary: "lock the configuration after a grace period (governance key)",
  usage: "qudag exchange deploy-immutable [--grace-period HOURS] [--key-path FILE] [--node URL] [--no-wait]",
  flags: [
    {
      name: "--grace-period",
      kind: "string",
      value: "HOURS",
      help: "hours during which fee changes are still accepted; fractions allowed (default 24, " +
        "immutable.grace_period_hours)",
    },
    KEY_PATH_FLAG,
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "The lock carries the configuration hash the node reports (fee parameters, supply cap, chain id). " +
    "Signed with IMMUTABLE_GOVERNANCE_KEY or --key-path FILE.",
  async run(parsed, io) {
    const hoursText = str("--grace-period", parsed, false);
    let graceMs = hoursText === undefined ? null : hoursArg("--grace-period", hoursText);
    const ctx = context(parsed, io);
    graceMs ??= hoursArg("immutable.grace_period_hours", String(ctx.config.immutable.gracePeriodHours));
    const maxFee = maxFeeArg(ctx);
    const signer = await roleSigner(ctx, ROLES.governance);
    const status = await get(ctx, "/status");
    checkRole(status, ROLES.governance, signer);
    if (status.lock) {
      const lock = status.lock as Json;
      throw new CliError("already_locked", `the configuration is already locked (since ${iso(lock.lockedMs)})`);
    }
    const configHash = String(status.configHash);
    const sent = await send(ctx, status, signer, {
      kind: "immutable_lock",
      configHash: fromHex(configHash),
      gracePeriodMs: graceMs,
    }, maxFee ?? 0n);
    return report(
      ctx,
      sent,
      (r) =>
        `locked configuration ${configHash}\nchanges accepted until ${iso(BigInt(String(r.timeMs)) + graceMs)} (grace ${
          durationText(graceMs)
        })`,
    );
  },
};

export const governanceOverride: Command = {
  name: "governance-override",
  summary: "lift the configuration lock, with a reason kept on the audit trail (governance key)",
  usage: "qudag exchange governance-override --reason TEXT [--config-hash HEX] [--key-path FILE] [--node URL] " +
    "[--no-wait]",
  flags: [
    {
      name: "--reason",
      kind: "string",
      value: "TEXT",
      help: `why the lock is lifted, kept on every node's audit trail (UTF-8, 1..${CORE_CONSTANTS.reasonBytesMax} ` +
        "bytes, no control characters)",
    },
    {
      name: "--config-hash",
      kind: "string",
      value: "HEX",
      help: "configuration hash recorded with the override, 64 hex digits (default: the node's current one)",
    },
    KEY_PATH_FLAG,
    ...WRITE_FLAGS,
    ...STORE_FLAGS,
  ],
  details: "Lifts the immutable lock at once, during or after its grace period: fee changes are accepted again and " +
    "a new deploy-immutable is possible. The override, its reason and the lock it lifted stay on the audit trail " +
    "(immutable-status). Signed with IMMUTABLE_GOVERNANCE_KEY or --key-path FILE; refused with not_locked when " +
    "the configuration is not locked.",
  async run(parsed, io) {
    const reason = reasonArg("--reason", str("--reason", parsed, true));
    const hashText = str("--config-hash", parsed, false);
    if (hashText !== undefined && !/^[0-9a-fA-F]{64}$/.test(hashText)) {
      throw new UsageError(`--config-hash ${JSON.stringify(hashText)} is not a configuration hash (64 hex digits)`);
    }
    const ctx = context(parsed, io);
    const maxFee = maxFeeArg(ctx);
    const signer = await roleSigner(ctx, ROLES.governance);
    const status = await get(ctx, "/status");
    checkRole(status, ROLES.governance, signer);
    const lock = status.lock as Json | null;
    // Checked before signing, like the role, so that no transaction the ledger must refuse is sent at all.
    if (!lock) throw new CliError("not_locked", "the configuration is not locked: there is no lock to override");
    const configHash = (hashText ?? String(status.configHash)).toLowerCase();
    const sent = await send(ctx, status, signer, {
      kind: "governance_override",
      configHash: fromHex(configHash),
      reason,
    }, maxFee ?? 0n);
    return report(
      ctx,
      sent,
      (r) =>
        `lifted the lock on configuration ${lock.configHash} (locked at ${iso(lock.lockedMs)}) at ${iso(r.timeMs)}\n` +
        `audit record: override, config hash ${configHash}, reason ${quoted(reason)}`,
    );
  },
};
