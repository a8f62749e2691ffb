/**
 * Fixed-point fee math (wasm/src/fee.rs): the default parameters, their
 * validation, the rate and fee of a transfer, and the display of a rate.
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError } from "./_error.ts";

/** Fee parameters; rates in parts per billion (1e9 = 100%). */
export interface FeeParams {
  fMinPpb: number;
  fMaxPpb: number;
  fMinVerifiedPpb: number;
  fMaxVerifiedPpb: number;
  /** T, in milliseconds. */
  timeConstantMs: bigint;
  /** U, in smallest units. */
  usageThreshold: bigint;
}

export interface FeeInput {
  verified: boolean;
  /** t: milliseconds since the account's first transaction. */
  tMs: bigint;
  /** u: the account's volume over the last 30 days, in smallest units. */
  usage: bigint;
}

export interface FeeQuote {
  ratePpb: number;
  fee: bigint;
}

/** Writes fee parameters into a frame (shared by transactions and the ledger genesis). */
export function writeFees(w: FrameWriter, p: FeeParams): FrameWriter {
  return w
    .u32(Tag.fMinPpb, p.fMinPpb, "fMinPpb")
    .u32(Tag.fMaxPpb, p.fMaxPpb, "fMaxPpb")
    .u32(Tag.fMinVerifiedPpb, p.fMinVerifiedPpb, "fMinVerifiedPpb")
    .u32(Tag.fMaxVerifiedPpb, p.fMaxVerifiedPpb, "fMaxVerifiedPpb")
    .u64(Tag.timeConstantMs, p.timeConstantMs, "timeConstantMs")
    .u64(Tag.usageThreshold, p.usageThreshold, "usageThreshold");
}

/** Reads fee parameters from a frame written by the core. */
export function readFees(r: FrameReader): FeeParams {
  return {
    fMinPpb: r.u32(Tag.fMinPpb),
    fMaxPpb: r.u32(Tag.fMaxPpb),
    fMinVerifiedPpb: r.u32(Tag.fMinVerifiedPpb),
    fMaxVerifiedPpb: r.u32(Tag.fMaxVerifiedPpb),
    timeConstantMs: r.u64(Tag.timeConstantMs),
    usageThreshold: r.u64(Tag.usageThreshold),
  };
}

/** SPEC.md defaults: 0.1%..1.0%, verified 0.25%..0.50%, T 90 days, U 10,000 rUv. */
export function defaultFeeParams(): FeeParams {
  return readFees(new FrameReader(core.feeDefaults()));
}

/** Throws `invalid_fee_params` unless f_min <= f_max <= 100% (both curves), T > 0, U > 0. */
export function validateFeeParams(params: FeeParams): void {
  core.feeParamsValidate(writeFees(new FrameWriter(), params).finish());
}

function feeFrame(
  params: FeeParams,
  input: FeeInput,
  amount?: bigint,
): Uint8Array {
  const w = writeFees(new FrameWriter(), params)
    .bool(Tag.verified, input.verified, "verified")
    .u64(Tag.ageMs, input.tMs, "tMs")
    .u64(Tag.usage, input.usage, "usage");
  if (amount !== undefined) w.u64(Tag.amount, amount, "amount");
  return w.finish();
}

/** The fee rate in parts per billion, in deterministic fixed point. */
export function feeRate(params: FeeParams, input: FeeInput): number {
  const r = new FrameReader(core.feeCompute(feeFrame(params, input)));
  return Number(r.u64(Tag.ratePpb));
}

/** Rate and fee for `amount` smallest units: ceil(amount * rate), at least 1 if amount > 0. */
export function feeFor(
  params: FeeParams,
  input: FeeInput,
  amount: bigint,
): FeeQuote {
  const r = new FrameReader(core.feeCompute(feeFrame(params, input, amount)));
  return { ratePpb: Number(r.u64(Tag.ratePpb)), fee: r.u64(Tag.fee) };
}

/**
 * A ppb rate as a percent string with `decimals` places, rounded half up
 * (display only: 3,238,480 ppb -> "0.324%").
 */
export function formatRatePercent(ratePpb: number, decimals = 3): string {
  if (!Number.isInteger(ratePpb) || ratePpb < 0) {
    throw new CoreError("invalid_input", `Rate ${ratePpb} is not a ppb rate`);
  }
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 7) {
    throw new CoreError("invalid_input", `decimals must be 0..7`);
  }
  // 1% = 10^7 ppb; keep `decimals` digits after the percent's point.
  const step = 10n ** BigInt(7 - decimals);
  const units = (BigInt(ratePpb) + step / 2n) / step;
  const scale = 10n ** BigInt(decimals);
  const whole = units / scale;
  const frac = (units % scale).toString().padStart(decimals, "0");
  return decimals === 0 ? `${whole}%` : `${whole}.${frac}%`;
}
