/**
 * Command-line values of the exchange commands, exact: amounts, rates, hours
 * and days as integers of their smallest unit (no floating point touches
 * money); names and references; and how values print.
 */
import {
  CORE_CONSTANTS,
  CoreError,
  type FeeParams,
  formatAmount,
  formatRatePercent,
  parseAmount,
} from "../../core/mod.ts";
import { scaleDecimal } from "../../config/decimal.ts";
import { type Parsed, UsageError } from "../_args.ts";
import { type Json, NAME_RE, str } from "./context.ts";

const DAY_MS = 86_400_000n;
const HOUR_MS = 3_600_000n;

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
export function scaledDecimal(flag: string, text: string, unit: bigint, decimals: number, what: string): bigint {
  const scaled = scaleDecimal(text, unit, decimals);
  if (scaled === null) {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not ${what} (digits, optionally '.' and at most ${decimals} decimals)`,
    );
  }
  return scaled;
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

export function daysArg(flag: string, text: string, maxDays: bigint): bigint {
  const ms = scaledDecimal(flag, text, DAY_MS, 3, "a number of days");
  if (ms === 0n) throw new UsageError(`${flag} ${JSON.stringify(text)} must be more than 0 days`);
  if (ms > maxDays * DAY_MS) throw new UsageError(`${flag} ${JSON.stringify(text)} is more than ${maxDays} days`);
  return ms;
}

export function nameArg(flag: string, text: string): string {
  if (!NAME_RE.test(text)) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not an account name (1..64 of a-z, 0-9, _ and -)`);
  }
  return text;
}

export function accountRefArg(flag: string, parsed: Parsed): string {
  const ref = str(flag, parsed, true);
  if (!NAME_RE.test(ref) && !/^[0-9a-fA-F]{64}$/.test(ref)) {
    throw new UsageError(`${flag} ${JSON.stringify(ref)} is neither an account name nor a 64-hex-digit account id`);
  }
  return ref.toLowerCase();
}

export function feesFromJson(f: Json): FeeParams {
  return {
    fMinPpb: Number(f.fMinPpb),
    fMaxPpb: Number(f.fMaxPpb),
    fMinVerifiedPpb: Number(f.fMinVerifiedPpb),
    fMaxVerifiedPpb: Number(f.fMaxVerifiedPpb),
    timeConstantMs: BigInt(String(f.timeConstantMs)),
    usageThreshold: BigInt(String(f.usageThresholdUnits)),
  };
}

export function daysText(ms: bigint): string {
  const whole = ms / DAY_MS;
  const hundredths = (ms % DAY_MS) * 100n / DAY_MS;
  return hundredths === 0n ? `${whole}` : `${whole}.${hundredths.toString().padStart(2, "0")}`;
}

export function durationText(ms: bigint): string {
  const s = ms / 1000n;
  const h = s / 3600n;
  const m = (s % 3600n) / 60n;
  return `${h}h ${m}m ${s % 60n}s`;
}

export function feeLines(f: FeeParams): string[] {
  return [
    `unverified       ${formatRatePercent(f.fMinPpb)} .. ${formatRatePercent(f.fMaxPpb)}`,
    `verified         ${formatRatePercent(f.fMinVerifiedPpb)} .. ${formatRatePercent(f.fMaxVerifiedPpb)}`,
    `time constant    ${daysText(f.timeConstantMs)} days (T)`,
    `usage threshold  ${formatAmount(f.usageThreshold)} rUv (U, sent over 30 days)`,
  ];
}

/**
 * A governance override's reason: what the CLI accepts is stricter than the core (1..reasonBytesMax bytes of
 * UTF-8): it must also say something (not only spaces) and hold no control characters, because every node
 * shows it on its audit trail for good.
 */
export function reasonArg(flag: string, text: string): string {
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
export function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
