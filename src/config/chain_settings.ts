/**
 * Settings the seeds put in a node's environment that are really chain state:
 * fee parameters (FEE_*), the immutable lock (IMMUTABLE_DEPLOYMENT), the
 * exchange genesis (EXCHANGE_GENESIS) and a node's role (EXCHANGE_NODE_TYPE).
 * Every node of a chain must agree on them, so a node's environment cannot set
 * them; instead `qudag genesis init` reads the FEE_* values into a new genesis,
 * and `qudag start` checks that each one explicitly set matches the chain it
 * joins, or refuses to start with a message saying where the setting lives.
 * Names that mean nothing here (MOVED_ENV) are refused the same way.
 */
import { CORE_CONSTANTS, type FeeParams, formatAmount, formatRatePercent } from "../core/mod.ts";
import { type Config, ConfigError } from "./mod.ts";
import { decimalText, scaleDecimal } from "./decimal.ts";

const PPB = 1_000_000_000n;
const DAY_MS = 86_400_000n;

/** What `start` knows about the chain once the genesis is read. */
export interface ChainFacts {
  /** The genesis file, for messages. */
  readonly genesisPath: string;
  /** This node's key is one of the genesis validators. */
  readonly isValidator: boolean;
  /** Fee parameters of the genesis' exchange section; null when the chain has no exchange. */
  readonly exchangeFees: FeeParams | null;
}

type FeeKey = "f_min" | "f_max" | "f_min_verified" | "f_max_verified" | "time_constant_days" | "usage_threshold";

const FEE_FIELDS: readonly { key: FeeKey; param: keyof FeeParams; env: string; flag: string }[] = [
  { key: "f_min", param: "fMinPpb", env: "FEE_F_MIN", flag: "--f-min" },
  { key: "f_max", param: "fMaxPpb", env: "FEE_F_MAX", flag: "--f-max" },
  { key: "f_min_verified", param: "fMinVerifiedPpb", env: "FEE_F_MIN_VERIFIED", flag: "--f-min-verified" },
  { key: "f_max_verified", param: "fMaxVerifiedPpb", env: "FEE_F_MAX_VERIFIED", flag: "--f-max-verified" },
  { key: "time_constant_days", param: "timeConstantMs", env: "FEE_TIME_CONSTANT_DAYS", flag: "--time-constant-days" },
  { key: "usage_threshold", param: "usageThreshold", env: "FEE_USAGE_THRESHOLD", flag: "--usage-threshold" },
];

/** The configuration's fee values ([fees], FEE_*) as the core's exact fee parameters. */
export function feeParamsFromConfig(fees: Config["fees"], unitsPerRuv = CORE_CONSTANTS.unitsPerRuv): FeeParams {
  const rate = (v: number, name: string): number => {
    const ppb = scaleDecimal(decimalText(v), PPB, 9);
    if (ppb === null) throw new ConfigError(`fees.${name} = ${v} has more than 9 decimals`);
    return Number(ppb);
  };
  const zeroRates = !fees.enabled;
  const days = scaleDecimal(decimalText(fees.timeConstantDays), DAY_MS, 3);
  if (days === null) {
    throw new ConfigError(`fees.time_constant_days = ${fees.timeConstantDays} has more than 3 decimals`);
  }
  const usage = scaleDecimal(decimalText(fees.usageThreshold), unitsPerRuv, 6);
  if (usage === null) throw new ConfigError(`fees.usage_threshold = ${fees.usageThreshold} has more than 6 decimals`);
  return {
    // FEE_MODEL_ENABLED=false: a chain whose rates are all zero.
    fMinPpb: zeroRates ? 0 : rate(fees.fMin, "f_min"),
    fMaxPpb: zeroRates ? 0 : rate(fees.fMax, "f_max"),
    fMinVerifiedPpb: zeroRates ? 0 : rate(fees.fMinVerified, "f_min_verified"),
    fMaxVerifiedPpb: zeroRates ? 0 : rate(fees.fMaxVerified, "f_max_verified"),
    timeConstantMs: days,
    usageThreshold: usage,
  };
}

function feeText(param: keyof FeeParams, v: number | bigint): string {
  if (param === "timeConstantMs") return `${decimalText(Number(v) / Number(DAY_MS))} days`;
  if (param === "usageThreshold") return `${formatAmount(v as bigint)} rUv`;
  return formatRatePercent(v as number, 4);
}

const WHERE_FEES = "fee parameters are chain state, the same on every node: `qudag genesis init --exchange` writes " +
  "them into a new genesis (from FEE_* or its flags), and `qudag exchange configure-fees` changes them (fee admin key)";

/** Throws ConfigError naming every explicitly set setting that disagrees with the chain, and where it lives. */
export function checkChainSettings(c: Config, chain: ChainFacts): void {
  const problems: string[] = [];
  for (const m of c.moved) problems.push(`${m.name} is set, but qudag does not read it: ${m.message}; unset it`);
  const explicit = (key: string) => c.sources[key] !== undefined && c.sources[key] !== "default";
  const from = (key: string) => c.sources[key];

  const feeKeys = FEE_FIELDS.filter((f) => explicit(`fees.${f.key}`));
  if ((feeKeys.length > 0 || explicit("fees.enabled")) && chain.exchangeFees === null) {
    const names = [
      ...feeKeys.map((f) => from(`fees.${f.key}`)),
      ...(explicit("fees.enabled") ? [from("fees.enabled")] : []),
    ];
    problems.push(`${names.join(", ")} set, but ${chain.genesisPath} has no exchange section: ${WHERE_FEES}`);
  } else if (chain.exchangeFees !== null) {
    const wanted = feeParamsFromConfig({ ...c.fees, enabled: true });
    for (const f of feeKeys) {
      const have = chain.exchangeFees[f.param];
      if (wanted[f.param] !== have) {
        problems.push(
          `fees.${f.key} = ${feeText(f.param, wanted[f.param])} (${from(`fees.${f.key}`)}) differs from this chain's ` +
            `genesis value ${feeText(f.param, have)}: ${WHERE_FEES}`,
        );
      }
    }
    if (explicit("fees.enabled")) {
      const g = chain.exchangeFees;
      const charges = g.fMinPpb + g.fMaxPpb + g.fMinVerifiedPpb + g.fMaxVerifiedPpb > 0;
      if (charges !== c.fees.enabled) {
        problems.push(
          `fees.enabled = ${c.fees.enabled} (${from("fees.enabled")}) but this chain's genesis ${
            charges ? "charges fees" : "has every rate at zero"
          }: ${WHERE_FEES}`,
        );
      }
    }
  }

  if (c.immutable.enabled) {
    problems.push(
      `immutable.enabled = true (${from("immutable.enabled")}) cannot lock a chain from one node's environment: ` +
        "the lock is a ledger transaction signed with the governance key, `qudag exchange deploy-immutable " +
        "--grace-period HOURS` (IMMUTABLE_GRACE_PERIOD_HOURS is its default); set IMMUTABLE_DEPLOYMENT=false or unset it",
    );
  }
  if (c.exchange.genesis && chain.exchangeFees === null) {
    problems.push(
      `exchange.genesis = true (${from("exchange.genesis")}) but ${chain.genesisPath} has no exchange section: make ` +
        "the genesis with `qudag genesis init --exchange` and give the same file to every node",
    );
  }
  if (explicit("exchange.node_type")) {
    const served = c.exchange.enabled && chain.exchangeFees !== null;
    const t = c.exchange.nodeType;
    const role = `EXCHANGE_NODE_TYPE=${t} (${from("exchange.node_type")})`;
    const validatorWhere = "a node validates when its key is in the genesis (`qudag genesis init --validators`)";
    const servedWhere = "it serves the exchange with QUDAG_EXCHANGE_ENABLED=true on a chain whose genesis has one";
    if (t === "light") {
      problems.push(
        `${role}: there are no light nodes: every node keeps the whole DAG and ledger. A node that is not a validator ` +
          "and serves the exchange is EXCHANGE_NODE_TYPE=exchange-only",
      );
    } else {
      const needValidator = t === "full" || t === "validator";
      const needServed = t === "full" || t === "exchange-only";
      if (needValidator !== chain.isValidator) {
        problems.push(
          `${role} but this node's key is ${chain.isValidator ? "" : "not "}a validator of ${chain.genesisPath}: ` +
            validatorWhere,
        );
      }
      if (needServed !== served) {
        problems.push(
          `${role} but this node ${served ? "serves" : "does not serve"} the exchange API: ${servedWhere}` +
            (t === "validator" ? " (set QUDAG_EXCHANGE_ENABLED=false, or EXCHANGE_NODE_TYPE=full)" : ""),
        );
      }
    }
  }
  if (problems.length === 1) throw new ConfigError(problems[0]);
  if (problems.length > 1) {
    throw new ConfigError(`${problems.length} settings disagree:\n  - ${problems.join("\n  - ")}`);
  }
}

/** The flag of `qudag genesis init` for each fee key, with its environment name. */
export const GENESIS_FEE_FLAGS = FEE_FIELDS.map((f) => ({ key: f.key, env: f.env, flag: f.flag }));
