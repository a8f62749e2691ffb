/**
 * The exchange section of the chain genesis: which accounts exist from the
 * start, who holds each authority (by account name), the supply cap and the
 * fee parameters. Every node must read the same section, because the ledger
 * built from it is consensus state (wasm/LEDGER.md "Genesis").
 *
 * JSON shape (u64 values as decimal strings or safe integers; amounts in
 * decimal rUv, as `parseAmount` reads them):
 *
 * ```json
 * {
 *   "timeMs": "1750000000000",
 *   "supplyCap": "21000000",
 *   "fees": { "fMinPpb": 1000000, "timeConstantMs": "7776000000" },
 *   "accounts": [{ "name": "fees", "publicKey": "<base64 ML-DSA-87 key>" }],
 *   "roles": { "feeAccount": "fees", "exchangeMaster": "...", "feeAdmin": "...",
 *              "agentVerifier": "...", "governance": "..." }
 * }
 * ```
 *
 * `supplyCap` "0" means no cap. `fees` is optional; absent fields keep the
 * SPEC.md defaults (`defaultFeeParams()`).
 */
import {
  blake3,
  CoreError,
  defaultFeeParams,
  type FeeParams,
  formatAmount,
  type LedgerGenesis,
  type LedgerRoles,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  parseAmount,
  validateFeeParams,
} from "../core/mod.ts";

/** The five authorities, in the order LedgerRoles lists them. */
export const ROLE_NAMES = ["feeAccount", "exchangeMaster", "feeAdmin", "agentVerifier", "governance"] as const;
export type RoleName = typeof ROLE_NAMES[number];

/** The core's own limit on genesis accounts (wasm/LEDGER.md). */
export const GENESIS_ACCOUNTS_MAX = 16;

const U32_FEE_FIELDS = ["fMinPpb", "fMaxPpb", "fMinVerifiedPpb", "fMaxVerifiedPpb"] as const;
const U64_FEE_FIELDS = ["timeConstantMs", "usageThreshold"] as const;
const U64_MAX = (1n << 64n) - 1n;

/** The exchange genesis as JSON carries it. */
export interface ExchangeGenesisJson {
  timeMs: string;
  /** Decimal rUv; "0" = no cap. */
  supplyCap: string;
  /** Rates in ppb (numbers); `timeConstantMs` and `usageThreshold` (smallest units) as decimal strings. */
  fees?: {
    fMinPpb?: number;
    fMaxPpb?: number;
    fMinVerifiedPpb?: number;
    fMaxVerifiedPpb?: number;
    timeConstantMs?: string;
    usageThreshold?: string;
  };
  accounts: { name: string; publicKey: string }[];
  /** Account names. */
  roles: Record<RoleName, string>;
}

export class ExchangeGenesisError extends Error {
  readonly code = "exchange_genesis_invalid";
  /** The JSON path of the offending field, e.g. "accounts[2].publicKey". */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`exchange genesis: ${field} ${message}`, options);
    this.name = "ExchangeGenesisError";
    this.field = field;
  }
}

function u64Field(value: unknown, field: string): bigint {
  let n: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) n = BigInt(value);
  else if (typeof value === "string" && /^(0|[1-9][0-9]{0,19})$/.test(value)) n = BigInt(value);
  else throw new ExchangeGenesisError(field, `is ${JSON.stringify(value)}, expected a non-negative integer`);
  if (n > U64_MAX) throw new ExchangeGenesisError(field, `is ${n}, more than 2^64-1`);
  return n;
}

function parseFees(value: unknown): FeeParams {
  const fees = defaultFeeParams();
  if (value === undefined) return fees;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ExchangeGenesisError("fees", "must be an object of fee parameters");
  }
  const given = value as Record<string, unknown>;
  const known = new Set<string>([...U32_FEE_FIELDS, ...U64_FEE_FIELDS]);
  for (const key of Object.keys(given)) {
    if (!known.has(key)) throw new ExchangeGenesisError(`fees.${key}`, `is not a fee parameter (${[...known]})`);
  }
  for (const key of U32_FEE_FIELDS) {
    const v = given[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new ExchangeGenesisError(`fees.${key}`, `is ${JSON.stringify(v)}, expected an integer rate in ppb`);
    }
    fees[key] = v;
  }
  for (const key of U64_FEE_FIELDS) {
    if (given[key] !== undefined) fees[key] = u64Field(given[key], `fees.${key}`);
  }
  try {
    validateFeeParams(fees);
  } catch (cause) {
    if (cause instanceof CoreError) throw new ExchangeGenesisError("fees", `are invalid: ${cause.message}`, { cause });
    throw cause;
  }
  return fees;
}

/**
 * The exchange section of a chain genesis as a `LedgerGenesis` for `chainId`
 * (the chain genesis' id, so the ledger refuses other chains' transactions).
 * Throws ExchangeGenesisError naming the field. The core checks the result
 * again when the ledger is made (`Ledger.genesis`).
 */
export function parseExchangeGenesis(json: unknown, chainId: Uint8Array): LedgerGenesis {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ExchangeGenesisError("(root)", "must be a JSON object");
  }
  const doc = json as Record<string, unknown>;
  const timeMs = u64Field(doc.timeMs, "timeMs");
  if (typeof doc.supplyCap !== "string") {
    throw new ExchangeGenesisError("supplyCap", `is ${JSON.stringify(doc.supplyCap)}, expected decimal rUv text`);
  }
  let supplyCap: bigint;
  try {
    supplyCap = parseAmount(doc.supplyCap);
  } catch (cause) {
    const why = cause instanceof CoreError ? `${cause.message} [${cause.code}]` : String(cause);
    throw new ExchangeGenesisError("supplyCap", `is not a rUv amount: ${why}`, { cause });
  }
  const fees = parseFees(doc.fees);

  if (!Array.isArray(doc.accounts) || doc.accounts.length === 0) {
    throw new ExchangeGenesisError("accounts", "must be a non-empty array");
  }
  if (doc.accounts.length > GENESIS_ACCOUNTS_MAX) {
    throw new ExchangeGenesisError("accounts", `has ${doc.accounts.length} entries, at most ${GENESIS_ACCOUNTS_MAX}`);
  }
  const idsByName = new Map<string, Uint8Array>();
  const keys = new Set<string>();
  const accounts = doc.accounts.map((entry: unknown, i: number) => {
    const at = `accounts[${i}]`;
    if (entry === null || typeof entry !== "object") throw new ExchangeGenesisError(at, "must be an object");
    const { name, publicKey } = entry as Record<string, unknown>;
    if (typeof name !== "string" || !/^[a-z0-9_-]{1,64}$/.test(name)) {
      throw new ExchangeGenesisError(`${at}.name`, `is ${JSON.stringify(name)}, expected 1..64 of [a-z0-9_-]`);
    }
    if (idsByName.has(name)) throw new ExchangeGenesisError(`${at}.name`, `repeats the name ${name}`);
    let key: Uint8Array;
    try {
      key = Uint8Array.fromBase64(String(publicKey));
    } catch {
      throw new ExchangeGenesisError(`${at}.publicKey`, "is not base64");
    }
    if (key.length !== ML_DSA_87_PUBLIC_KEY_BYTES) {
      throw new ExchangeGenesisError(
        `${at}.publicKey`,
        `is ${key.length} bytes, expected ${ML_DSA_87_PUBLIC_KEY_BYTES} (ML-DSA-87)`,
      );
    }
    const id = blake3(key);
    if (keys.has(id.toHex())) throw new ExchangeGenesisError(`${at}.publicKey`, "repeats another account's key");
    keys.add(id.toHex());
    idsByName.set(name, id);
    return { name, publicKey: key };
  });

  if (doc.roles === null || typeof doc.roles !== "object" || Array.isArray(doc.roles)) {
    throw new ExchangeGenesisError("roles", `must be an object naming an account for each of ${ROLE_NAMES.join(", ")}`);
  }
  const given = doc.roles as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(ROLE_NAMES as readonly string[]).includes(key)) {
      throw new ExchangeGenesisError(`roles.${key}`, `is not a role (${ROLE_NAMES.join(", ")})`);
    }
  }
  const roleId = (role: RoleName): Uint8Array => {
    const name = given[role];
    if (typeof name !== "string") throw new ExchangeGenesisError(`roles.${role}`, "is missing (an account name)");
    const id = idsByName.get(name);
    if (id === undefined) {
      throw new ExchangeGenesisError(`roles.${role}`, `names ${JSON.stringify(name)}, which is not a genesis account`);
    }
    return id;
  };
  const roles: LedgerRoles = {
    feeAccount: roleId("feeAccount"),
    exchangeMaster: roleId("exchangeMaster"),
    feeAdmin: roleId("feeAdmin"),
    agentVerifier: roleId("agentVerifier"),
    governance: roleId("governance"),
  };
  return { chainId, timeMs, fees, supplyCap, accounts, roles };
}

/** The exchange genesis section for a new chain (testnet script): parseExchangeGenesis reads it back. */
export function makeExchangeGenesis(o: {
  timeMs: bigint;
  /** Smallest units; 0n = no cap. */
  supplyCap: bigint;
  fees?: FeeParams;
  accounts: readonly { name: string; publicKey: Uint8Array }[];
  /** Account names. */
  roles: Record<RoleName, string>;
}): ExchangeGenesisJson {
  const doc: ExchangeGenesisJson = {
    timeMs: o.timeMs.toString(),
    supplyCap: formatAmount(o.supplyCap),
    accounts: o.accounts.map((a) => ({ name: a.name, publicKey: a.publicKey.toBase64() })),
    roles: {
      feeAccount: o.roles.feeAccount,
      exchangeMaster: o.roles.exchangeMaster,
      feeAdmin: o.roles.feeAdmin,
      agentVerifier: o.roles.agentVerifier,
      governance: o.roles.governance,
    },
  };
  if (o.fees !== undefined) {
    doc.fees = {
      fMinPpb: o.fees.fMinPpb,
      fMaxPpb: o.fees.fMaxPpb,
      fMinVerifiedPpb: o.fees.fMinVerifiedPpb,
      fMaxVerifiedPpb: o.fees.fMaxVerifiedPpb,
      timeConstantMs: o.fees.timeConstantMs.toString(),
      usageThreshold: o.fees.usageThreshold.toString(),
    };
  }
  // Checked here so a testnet script cannot write a genesis that nodes refuse.
  parseExchangeGenesis(doc, new Uint8Array(32));
  return doc;
}
