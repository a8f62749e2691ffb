/**
 * `qudag exchange`: the seeds' 15 exchange commands, plus governance-override,
 * against a running node's exchange API (/api/v1/exchange, port 8081 by
 * default). Reads are plain GETs.
 * Writes are built by the WASM core, signed here with ML-DSA-87 (noble) by a
 * key from the key store (accounts, labelled with their name) or a role key
 * (EXCHANGE_MASTER_KEY, FEE_ADMIN_KEY, AGENT_VERIFICATION_KEY,
 * IMMUTABLE_GOVERNANCE_KEY, or --key-path FILE), submitted, then awaited until
 * the ledger's receipt (--no-wait returns at once).
 *
 * Exit codes: 0 done; 1 a failure (refusal receipt, node error, missing key or
 * secret), with `error: <message> [<code>]`; 2 a usage error, including a
 * malformed amount, rate, duration or name (the message names the value and
 * the core's code).
 *
 * Agent proof documents (`verify-agent --proof-path FILE`), JSON:
 *
 *   {
 *     "format": "qudag-agent-proof/1",
 *     "account": "alice",                  // the account's name or 64-hex id; must be the --account
 *     "issuedAt": "2026-11-21T12:00:00Z",  // ISO 8601, not in the future
 *     "issuer": "kyc-provider-x",          // optional string
 *     "evidence": { ... }                  // a non-empty JSON object: what was checked
 *   }
 *
 * The attestation on the ledger carries BLAKE3-256 of the file's exact bytes
 * (keep the file: it is the proof) and an expiry (--expiry-days, default 365).
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  CORE_CONSTANTS,
  CoreError,
  encodeTransaction,
  feeFor,
  type FeeParams,
  feeRate,
  formatAmount,
  formatRatePercent,
  parseAmount,
  transactionId,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
  validateFeeParams,
} from "../core/mod.ts";
import type { Config } from "../config/mod.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import { fromHex, type KeyInfo, KeyStore, parseSeedSecret, toHex } from "../keys/mod.ts";
import { keyStoreDir } from "../node/identity.ts";
import { type FlagSpec, type Parsed, UsageError } from "./_args.ts";
import { callNode, type ClientOptions, NODE_FLAGS } from "./_client.ts";
import type { Command, Group, Io } from "./_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "./_config.ts";
import { CliError } from "./_errors.ts";
import { passphrase } from "./_passphrase.ts";

const BASE = "/api/v1/exchange";
/** The exchange API's own port on this machine, when neither --node nor QUDAG_NODE_URL says otherwise. */
export const DEFAULT_EXCHANGE_URL = "http://127.0.0.1:8081";
/** How long a write waits for the ledger's receipt. */
export const WAIT_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const DAY_MS = 86_400_000n;
const HOUR_MS = 3_600_000n;
const NAME_RE = /^[a-z0-9_-]{1,64}$/;
const PROOF_FORMAT = "qudag-agent-proof/1";
const PROOF_BYTES_MAX = 1 << 20;

// ---------------------------------------------------------------- flags

const READ_FLAGS: FlagSpec[] = [
  CONFIG_FLAG,
  ...NODE_FLAGS.map((f) =>
    f.name === "--node"
      ? { ...f, value: "URL", help: `the node's exchange API (default ${DEFAULT_EXCHANGE_URL}; QUDAG_NODE_URL)` }
      : f
  ),
];
const STORE_FLAGS: FlagSpec[] = configFlagSpecs(["node.data_dir"]);
const WRITE_FLAGS: FlagSpec[] = [
  { name: "--no-wait", kind: "bool", help: "return once the node took the transaction, without its receipt" },
  { name: "--max-fee", kind: "string", value: "RUV", help: "most fee to pay (default: twice the node's quote)" },
  ...READ_FLAGS,
];
const KEY_PATH_FLAG: FlagSpec = {
  name: "--key-path",
  kind: "string",
  value: "FILE",
  help: "sign with this key file (passphrase-sealed) or 64-hex-digit seed file instead of the secret",
};

// ---------------------------------------------------------------- context

interface Ctx {
  parsed: Parsed;
  io: Io;
  config: Config;
  client: ClientOptions;
}

/** --node or QUDAG_NODE_URL when given, else the local exchange API (not the public API's 8080). */
export function exchangeNodeUrl(config: Config): string {
  return config.sources["cli.node_url"] === "default" ? DEFAULT_EXCHANGE_URL : config.cli.nodeUrl;
}

function context(parsed: Parsed, io: Io): Ctx {
  const config = loadConfig(parsed, io);
  return { parsed, io, config, client: { nodeUrl: exchangeNodeUrl(config), apiKey: config.secrets.apiKey } };
}

type Json = Record<string, unknown>;

async function get(ctx: Ctx, path: string): Promise<Json> {
  return (await callNode(ctx.client, "GET", `${BASE}${path}`)).json;
}

/** GET, or null on 404. */
async function getOrNull(ctx: Ctx, path: string): Promise<Json | null> {
  try {
    return await get(ctx, path);
  } catch (e) {
    if (e instanceof CliError && e.code === "not_found") return null;
    throw e;
  }
}

function str(flag: string, parsed: Parsed, required: true): string;
function str(flag: string, parsed: Parsed, required: false): string | undefined;
function str(flag: string, parsed: Parsed, required: boolean): string | undefined {
  const v = parsed.flags[flag];
  if (typeof v === "string") return v;
  if (required) throw new UsageError(`${flag} is required`);
  return undefined;
}

function json(ctx: Ctx): boolean {
  return ctx.parsed.flags["--json"] === true;
}

function short(id: unknown): string {
  return `${String(id).slice(0, 16)}…`;
}

function who(a: { name?: unknown; id?: unknown }): string {
  return `${a.name ?? "?"} (${short(a.id)})`;
}

function iso(ms: unknown): string {
  const n = Number(ms);
  return Number.isFinite(n) && Math.abs(n) < 8.64e15 ? new Date(n).toISOString() : String(ms);
}

// ---------------------------------------------------------------- values

/** Decimal rUv, > 0 unless `zeroOk`; malformed values are usage errors naming the value and the core's code. */
export function amountArg(flag: string, text: string, zeroOk = false): bigint {
  let units: bigint;
  try {
    units = parseAmount(text);
  } catch (e) {
    if (e instanceof CoreError) {
      throw new UsageError(`${flag} ${JSON.stringify(text)} is not an amount of rUv: ${e.message} [${e.code}]`);
    }
    throw e;
  }
  if (units === 0n && !zeroOk) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} must be more than 0 [amount_zero]`);
  }
  return units;
}

/**
 * A non-negative decimal `text` times `unit` (an integer), exactly, with at most
 * `decimals` places; the result rounded half up to an integer.
 */
function scaledDecimal(flag: string, text: string, unit: bigint, decimals: number, what: string): bigint {
  const m = /^([0-9]{1,12})(?:\.([0-9]+))?$/.exec(text);
  if (!m || (m[2] ?? "").length > decimals) {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not ${what} (digits, optionally '.' and at most ${decimals} decimals)`,
    );
  }
  const frac = (m[2] ?? "").padEnd(decimals, "0");
  const scale = 10n ** BigInt(decimals);
  const scaled = BigInt(m[1]) * scale + BigInt(frac || "0");
  return (scaled * unit + scale / 2n) / scale;
}

/** A rate as a fraction ("0.001" = 0.1%) to parts per billion, exactly; at most 100%. */
export function rateArg(flag: string, text: string): number {
  const ppb = scaledDecimal(flag, text, 1_000_000_000n, 9, "a fraction such as 0.001 for 0.1%");
  if (ppb > 1_000_000_000n) throw new UsageError(`${flag} ${JSON.stringify(text)} is more than 1 (100%)`);
  return Number(ppb);
}

/** Hours (fractional allowed, up to 6 decimals) to milliseconds; 0..8,760 h. */
export function hoursArg(flag: string, text: string): bigint {
  const ms = scaledDecimal(flag, text, HOUR_MS, 6, "a number of hours");
  if (ms > 8_760n * HOUR_MS) throw new UsageError(`${flag} ${JSON.stringify(text)} is more than 8760 hours (a year)`);
  return ms;
}

function daysArg(flag: string, text: string, maxDays: bigint): bigint {
  const ms = scaledDecimal(flag, text, DAY_MS, 3, "a number of days");
  if (ms === 0n) throw new UsageError(`${flag} ${JSON.stringify(text)} must be more than 0 days`);
  if (ms > maxDays * DAY_MS) throw new UsageError(`${flag} ${JSON.stringify(text)} is more than ${maxDays} days`);
  return ms;
}

function nameArg(flag: string, text: string): string {
  if (!NAME_RE.test(text)) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not an account name (1..64 of a-z, 0-9, _ and -)`);
  }
  return text;
}

function accountRefArg(flag: string, parsed: Parsed): string {
  const ref = str(flag, parsed, true);
  if (!NAME_RE.test(ref) && !/^[0-9a-fA-F]{64}$/.test(ref)) {
    throw new UsageError(`${flag} ${JSON.stringify(ref)} is neither an account name nor a 64-hex-digit account id`);
  }
  return ref.toLowerCase();
}

function feesFromJson(f: Json): FeeParams {
  return {
    fMinPpb: Number(f.fMinPpb),
    fMaxPpb: Number(f.fMaxPpb),
    fMinVerifiedPpb: Number(f.fMinVerifiedPpb),
    fMaxVerifiedPpb: Number(f.fMaxVerifiedPpb),
    timeConstantMs: BigInt(String(f.timeConstantMs)),
    usageThreshold: BigInt(String(f.usageThresholdUnits)),
  };
}

function daysText(ms: bigint): string {
  const whole = ms / DAY_MS;
  const hundredths = (ms % DAY_MS) * 100n / DAY_MS;
  return hundredths === 0n ? `${whole}` : `${whole}.${hundredths.toString().padStart(2, "0")}`;
}

function durationText(ms: bigint): string {
  const s = ms / 1000n;
  const h = s / 3600n;
  const m = (s % 3600n) / 60n;
  return `${h}h ${m}m ${s % 60n}s`;
}

// ---------------------------------------------------------------- keys

interface Signer {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Where the key came from, for messages. */
  source: string;
}

function signerFromSeed(seed: Uint8Array, source: string): Signer {
  const { publicKey, secretKey } = ml_dsa87.keygen(seed);
  return { id: toHex(blake3(publicKey)), publicKey, secretKey, source };
}

function store(ctx: Ctx): KeyStore {
  return new KeyStore({ dir: keyStoreDir(ctx.config.node.dataDir), backend: createNobleBackend() });
}

/** A key file (sealed; the passphrase is asked for) or a seed file of 64 hex digits. */
async function signerFromKeyPath(ctx: Ctx, path: string): Promise<Signer> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : (cause as Error).message;
    throw new CliError("key_not_found", `cannot read --key-path ${path}: ${why}`, { cause });
  }
  if (/^\s*[0-9a-fA-F]{64}\s*$/.test(text)) return signerFromSeed(parseSeedSecret(`--key-path ${path}`, text), path);
  const s = store(ctx);
  const info = s.read(path);
  if (info.algorithm !== "ml-dsa") {
    throw new CliError("key_invalid", `${path} is an ML-KEM key; transactions are signed with ML-DSA-87 keys`);
  }
  const unlocked = await s.unlock(path, await passphrase(ctx.config, ctx.io, false));
  return signerFromSeed(unlocked.secret, `key file ${path}`);
}

interface Role {
  /** Key of the role in /status roles. */
  key: "exchangeMaster" | "feeAdmin" | "agentVerifier" | "governance";
  what: string;
  secret: string;
  value: (c: Config) => string | null;
}

const ROLES = {
  exchangeMaster: {
    key: "exchangeMaster",
    what: "exchange master key (mint)",
    secret: "EXCHANGE_MASTER_KEY",
    value: (c) => c.secrets.exchangeMasterKey,
  },
  feeAdmin: {
    key: "feeAdmin",
    what: "fee admin key (configure-fees)",
    secret: "FEE_ADMIN_KEY",
    value: (c) => c.secrets.feeAdminKey,
  },
  agentVerifier: {
    key: "agentVerifier",
    what: "agent verification key (verify-agent)",
    secret: "AGENT_VERIFICATION_KEY",
    value: (c) => c.secrets.agentVerificationKey,
  },
  governance: {
    key: "governance",
    what: "immutable governance key (deploy-immutable, governance-override)",
    secret: "IMMUTABLE_GOVERNANCE_KEY",
    value: (c) => c.secrets.immutableGovernanceKey,
  },
} as const satisfies Record<string, Role>;

async function roleSigner(ctx: Ctx, role: Role): Promise<Signer> {
  const path = str("--key-path", ctx.parsed, false);
  if (path !== undefined) return await signerFromKeyPath(ctx, path);
  const value = role.value(ctx.config);
  if (!value) {
    throw new CliError(
      "key_missing",
      `this needs the ${role.what}: set ${role.secret} (the ML-DSA-87 seed, 64 hex digits) or pass --key-path FILE`,
    );
  }
  return signerFromSeed(parseSeedSecret(role.secret, value), role.secret);
}

/** The signer must hold the role on this ledger (checked before submitting, so no nonce is spent on a refusal). */
function checkRole(status: Json, role: Role, signer: Signer): void {
  const holder = (status.roles as Record<string, { id: string; name: string | null }>)[role.key];
  if (holder.id !== signer.id) {
    throw new CliError(
      "not_authorized",
      `${signer.source} is not the ${role.what} of this ledger: it signs for account ${
        short(signer.id)
      }, the role belongs to ${who(holder)}`,
    );
  }
}

/** An account key in the store: by label (the account name), else by key id prefix (8+ hex digits). */
function findAccountKey(ctx: Ctx, ref: string): KeyInfo {
  const s = store(ctx);
  const labelled = s.findLabelled("account", ref);
  if (labelled) return labelled;
  if (/^[0-9a-f]{8,64}$/.test(ref)) {
    const k = s.find(ref);
    if (k.algorithm === "ml-dsa") return k;
  }
  throw new CliError(
    "key_not_found",
    `no account key for "${ref}" in ${s.dir} (by account name or key id prefix); make one with ` +
      `"qudag exchange create-account --name NAME", or point --data-dir / QUDAG_DATA_DIR at the store that has it`,
  );
}

async function accountSigner(ctx: Ctx, ref: string): Promise<Signer> {
  const info = findAccountKey(ctx, ref);
  const unlocked = await store(ctx).unlock(info.path, await passphrase(ctx.config, ctx.io, false));
  return signerFromSeed(unlocked.secret, `account key ${info.label ?? short(info.keyId)}`);
}

// ---------------------------------------------------------------- transactions

/** What each ledger refusal means (wasm/LEDGER.md). */
const REFUSALS: Record<string, string> = {
  wrong_chain: "the transaction is for another chain",
  unknown_account: "the signing account does not exist on the ledger",
  bad_signature: "the signature does not verify with the account's key",
  account_exists: "the account already exists",
  nonce_too_low: "the nonce was already used (another transaction of this account came first)",
  nonce_too_high: "the account's previous transaction is not accepted yet",
  time_regressed: "the ledger time went backwards for this account",
  not_authorized: "the signer does not hold the role this transaction needs",
  config_locked: "the configuration is locked and its grace period is over",
  already_locked: "the configuration is already locked",
  not_locked: "the configuration is not locked",
  config_hash_mismatch: "the configuration changed since its hash was read",
  name_taken: "the account name is taken",
  unknown_recipient: "the recipient account does not exist",
  attestation_expired: "the attestation's expiry is not in the future",
  not_attested: "the account has no attestation",
  amount_overflow: "the amount would overflow the supply counters",
  supply_cap_exceeded: "the mint would exceed the supply cap",
  fee_exceeds_max_fee: "the fee is more than the transaction's max fee (raise --max-fee)",
  insufficient_funds: "the balance is less than the amount plus the fee",
};

interface Sent {
  id: string;
  state: string;
  receipt: Json | null;
}

async function awaitReceipt(ctx: Ctx, id: string): Promise<Sent> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let missing = 0;
  let state = "pending";
  while (true) {
    const view = await getOrNull(ctx, `/transactions/${id}`);
    if (view === null) {
      // The node took it, so "unknown" now means it dropped it (it could not be issued).
      if (++missing >= 5) {
        throw new CliError(
          "tx_dropped",
          `the node dropped transaction ${id}: it could not be issued (another transaction may hold this account's nonce)`,
        );
      }
    } else {
      state = String(view.state);
      if (state === "rejected") {
        throw new CliError(
          "tx_rejected",
          `transaction ${id} was rejected by consensus: another transaction of this account with the same nonce ` +
            `was accepted first (a transaction the ledger refused also holds its nonce)`,
        );
      }
      if (state === "accepted" && view.receipt) return { id, state, receipt: view.receipt as Json };
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        "tx_timeout",
        `transaction ${id} has no receipt after ${WAIT_TIMEOUT_MS / 1000} s (state ${state}); it may still be ` +
          `accepted: GET ${BASE}/transactions/${id}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Signs `payload` as `signer`, submits it and (unless --no-wait) waits for the receipt. */
async function send(
  ctx: Ctx,
  status: Json,
  signer: Signer,
  payload: TransactionPayload,
  maxFee: bigint,
): Promise<Sent> {
  let nonce = 0n;
  if (payload.kind !== "create_account") {
    const account = await getOrNull(ctx, `/accounts/${signer.id}`);
    if (account === null) {
      throw new CliError(
        "unknown_account",
        `${signer.source} signs for account ${signer.id}, which is not on the ledger`,
      );
    }
    nonce = BigInt(String(account.nextNonce));
  }
  const unsigned = {
    chainId: fromHex(String(status.chainId)),
    account: fromHex(signer.id),
    nonce,
    timestampMs: BigInt(Date.now()),
    maxFee,
    ...payload,
  } as UnsignedTransaction;
  const signature = ml_dsa87.sign(transactionSigningMessage(unsigned), signer.secretKey);
  const bytes = encodeTransaction({ ...unsigned, signature });
  const id = toHex(transactionId(bytes));
  const { json: took } = await callNode(ctx.client, "POST", `${BASE}/transactions`, { bytes });
  if (took.id !== id) throw new CliError("node_error", `the node answered transaction id ${took.id}, expected ${id}`);
  if (ctx.parsed.flags["--no-wait"] === true) return { id, state: String(took.state), receipt: null };
  return await awaitReceipt(ctx, id);
}

/** Prints the outcome; a refusal receipt is `error: <message> [<code>]` and exit 1. */
function report(ctx: Ctx, sent: Sent, done: (receipt: Json) => string): number {
  const r = sent.receipt;
  if (json(ctx)) ctx.io.out(JSON.stringify(sent, null, 2));
  if (r === null) {
    if (!json(ctx)) ctx.io.out(`submitted ${sent.id} (${sent.state}); not waiting for its receipt`);
    return 0;
  }
  if (r.code !== "ok") {
    const code = String(r.code);
    ctx.io.err(`error: transaction ${sent.id} refused by the ledger: ${REFUSALS[code] ?? code} [${code}]`);
    return 1;
  }
  if (!json(ctx)) ctx.io.out(`${done(r)}\ntransaction ${sent.id}`);
  return 0;
}

function maxFeeArg(ctx: Ctx): bigint | undefined {
  const v = str("--max-fee", ctx.parsed, false);
  return v === undefined ? undefined : amountArg("--max-fee", v, true);
}

/**
 * How long a command waits for an account it names to reach this node: one
 * created through another node a moment ago is applied here within about a
 * second (consensus and gossip).
 */
const ACCOUNT_WAIT_MS = 3_000;

/** A ledger account by name or id; 404 (after ACCOUNT_WAIT_MS) becomes `code`. */
async function ledgerAccount(ctx: Ctx, ref: string, code: string, role: string): Promise<Json> {
  const until = Date.now() + ACCOUNT_WAIT_MS;
  for (;;) {
    const a = await getOrNull(ctx, `/accounts/${ref}`);
    if (a !== null) return a;
    if (Date.now() >= until) {
      throw new CliError(code, `no account "${ref}" on the ledger (${role}; by name or 64-hex-digit id)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- writes

const createAccount: Command = {
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
      const unlocked = await s.unlock(local.path, await passphrase(ctx.config, io, false));
      signer = signerFromSeed(unlocked.secret, `account key ${name}`);
      if (!json(ctx)) io.out(`using the existing key ${local.keyId} (${local.path})`);
    } else {
      const pass = await passphrase(ctx.config, io, true);
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

const transfer: Command = {
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
    const quote = await getOrNull(ctx, `/fees/quote?account=${signer.id}&amount=${formatAmount(amount)}`);
    if (quote === null) {
      throw new CliError(
        "unknown_account",
        `${signer.source} signs for account ${signer.id}, which is not on the ledger`,
      );
    }
    const sent = await send(ctx, status, signer, {
      kind: "transfer",
      to: fromHex(String(recipient.id)),
      amount,
      memo,
    }, maxFee ?? BigInt(String(quote.feeUnits)) * 2n);
    return report(
      ctx,
      sent,
      (r) =>
        `transferred ${formatAmount(amount)} rUv from ${quote.name} to ${recipient.name}; fee ${r.fee} rUv (${r.rate})`,
    );
  },
};

const mint: Command = {
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

const burn: Command = {
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

const FEE_FLAGS = [
  ["--f-min", "fMinPpb", "unverified minimum rate, a fraction (0.001 = 0.1%)"],
  ["--f-max", "fMaxPpb", "unverified maximum rate"],
  ["--f-min-verified", "fMinVerifiedPpb", "verified minimum rate"],
  ["--f-max-verified", "fMaxVerifiedPpb", "verified maximum rate"],
] as const;

const configureFees: Command = {
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
    "Refused once the configuration is locked and its grace period is over.",
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
    const signer = await roleSigner(ctx, ROLES.feeAdmin);
    const status = await get(ctx, "/status");
    checkRole(status, ROLES.feeAdmin, signer);
    const fees: FeeParams = { ...feesFromJson(status.fees as Json), ...given };
    validateFeeParams(fees);
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

const verifyAgent: Command = {
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

/** Checks a proof document (see the module comment); returns its account reference. */
export function checkProof(bytes: Uint8Array, path: string, nowMs = Date.now()): { account: string } {
  const bad = (what: string) => new CliError("proof_invalid", `${path} is not a valid agent proof: ${what}`);
  if (bytes.length > PROOF_BYTES_MAX) throw bad(`it is ${bytes.length} bytes, at most ${PROOF_BYTES_MAX}`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("not a JSON object");
  const d = doc as Json;
  if (d.format !== PROOF_FORMAT) throw bad(`format is ${JSON.stringify(d.format)}, expected "${PROOF_FORMAT}"`);
  if (typeof d.account !== "string" || !(NAME_RE.test(d.account) || /^[0-9a-fA-F]{64}$/.test(d.account))) {
    throw bad("account must be an account name or a 64-hex-digit id");
  }
  const issued = typeof d.issuedAt === "string" ? Date.parse(d.issuedAt) : NaN;
  if (!Number.isFinite(issued)) throw bad("issuedAt must be an ISO 8601 date");
  if (issued > nowMs + 300_000) throw bad(`issuedAt ${d.issuedAt} is in the future`);
  if (d.issuer !== undefined && typeof d.issuer !== "string") throw bad("issuer must be a string");
  const ev = d.evidence;
  if (typeof ev !== "object" || ev === null || Array.isArray(ev) || Object.keys(ev).length === 0) {
    throw bad("evidence must be a non-empty JSON object");
  }
  return { account: d.account };
}

const deployImmutable: Command = {
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

/**
 * A governance override's reason: what the CLI accepts is stricter than the core (1..reasonBytesMax bytes of
 * UTF-8): it must also say something (not only spaces) and hold no control characters, because every node
 * shows it on its audit trail for good.
 */
function reasonArg(flag: string, text: string): string {
  const bytes = new TextEncoder().encode(text).length;
  if (text.trim() === "") throw new UsageError(`${flag} must say why (it is empty or only spaces) [reason_invalid]`);
  if (bytes > CORE_CONSTANTS.reasonBytesMax) {
    throw new UsageError(
      `${flag} is ${bytes} bytes of UTF-8, at most ${CORE_CONSTANTS.reasonBytesMax} [reason_too_large]`,
    );
  }
  if (/\p{Cc}/u.test(text)) {
    throw new UsageError(`${flag} ${quoted(text)} has control characters (newlines, tabs, escapes) [reason_invalid]`);
  }
  return text;
}

/** A string as a JSON literal, with the C1 controls and bidirectional overrides escaped too: safe on a terminal. */
function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

const governanceOverride: Command = {
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

// ---------------------------------------------------------------- reads

function print(ctx: Ctx, value: unknown, text: () => string): number {
  ctx.io.out(json(ctx) ? JSON.stringify(value, null, 2) : text());
  return 0;
}

const balance: Command = {
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

async function allAccounts(ctx: Ctx): Promise<Json[]> {
  const out: Json[] = [];
  let after: string | null = null;
  do {
    const page: Json = await get(ctx, `/accounts${after ? `?after=${after}` : ""}`);
    out.push(...(page.accounts as Json[]));
    after = page.next as string | null;
  } while (after);
  return out;
}

const accounts: Command = {
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

const supply: Command = {
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

function feeLines(f: FeeParams): string[] {
  return [
    `unverified       ${formatRatePercent(f.fMinPpb)} .. ${formatRatePercent(f.fMaxPpb)}`,
    `verified         ${formatRatePercent(f.fMinVerifiedPpb)} .. ${formatRatePercent(f.fMaxVerifiedPpb)}`,
    `time constant    ${daysText(f.timeConstantMs)} days (T)`,
    `usage threshold  ${formatAmount(f.usageThreshold)} rUv (U, sent over 30 days)`,
  ];
}

const exchangeStatus: Command = {
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
const FEE_EXAMPLES = [
  { label: "unverified, new account (t=0, u=0)", verified: false, tMs: 0n, usage: 0n },
  { label: "unverified, 90 days, 5000 rUv sent in 30 days", verified: false, tMs: 90n * DAY_MS, usage: 5_000_000_000n },
  {
    label: "verified, 180 days, 20000 rUv sent in 30 days",
    verified: true,
    tMs: 180n * DAY_MS,
    usage: 20_000_000_000n,
  },
];
const EXAMPLE_AMOUNT = 1_000_000_000n;

const feeStatus: Command = {
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
function auditLines(audit: Json[]): string[] {
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

const immutableStatus: Command = {
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

function quoteLines(q: Json, amountLine: boolean): string[] {
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

async function quote(ctx: Ctx, ref: string, amount: bigint): Promise<Json> {
  const q = await getOrNull(ctx, `/fees/quote?account=${ref}&amount=${formatAmount(amount)}`);
  if (q === null) throw new CliError("unknown_account", `no account "${ref}" on the ledger`);
  return q;
}

const updateUsage: Command = {
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

const calculateFee: Command = {
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

export const exchange: Group = {
  name: "exchange",
  summary: "rUv exchange: accounts, transfers, mint and burn, fees, agents, immutable deployment",
  commands: [
    createAccount,
    balance,
    transfer,
    mint,
    burn,
    accounts,
    supply,
    exchangeStatus,
    deployImmutable,
    governanceOverride,
    configureFees,
    feeStatus,
    immutableStatus,
    verifyAgent,
    updateUsage,
    calculateFee,
  ],
};
