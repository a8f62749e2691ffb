//! Fixed-point fee math (SPEC.md "Exchange"). Integers only: this module has
//! no floating point, so every node computes the same fee bit for bit.
//!
//!   unverified rate = F_min  + (F_max  - F_min)  * alpha * beta
//!   verified rate   = F_minV + (F_maxV - F_minV) * alpha * (1 - beta)
//!   alpha = 1 - e^(-t/T),  beta = 1 - e^(-u/U)
//!
//! Rates are integers in parts per billion (ppb, 1e9 = 100%): 0.1% is
//! 1,000,000 ppb, so the seed examples' three decimals of a percent are
//! 10,000 ppb steps and ppb leaves four more digits. alpha and beta are
//! fixed point with 18 decimals (`ONE` = 1e18) in u128.
//!
//! Rounding, in this order: x = floor(t * 1e18 / T); e^(-x) as described at
//! `exp_neg`; rate = F_lo + floor(floor(alpha * beta' / 1e18) * dF / 1e18);
//! fee = ceil(amount * rate / 1e9), at least 1 unit for a non-zero amount.

use crate::codec::{Reader, Writer};
use crate::error::{fail, Result};

/// 100% in ppb.
pub const RATE_SCALE_PPB: u64 = 1_000_000_000;
/// Fixed-point one for alpha, beta and exponentials.
pub const ONE: u128 = 1_000_000_000_000_000_000;
/// floor(e^-1 * 1e18); e^-1 = 0.367879441171442321595523770161...
const E_INV: u128 = 367_879_441_171_442_321;
/// e^-n < 1e-18 for n >= 42, so floor(e^-x * 1e18) is 0 from there on.
const EXP_NEG_ZERO_FROM: u128 = 42;
/// Taylor terms of e^f for f in [0, 1): the 25th term is below 1e-25.
const EXP_TERMS_MAX: u128 = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeParams {
    pub f_min_ppb: u32,
    pub f_max_ppb: u32,
    pub f_min_verified_ppb: u32,
    pub f_max_verified_ppb: u32,
    /// T, in milliseconds (> 0).
    pub time_constant_ms: u64,
    /// U, in smallest units (> 0).
    pub usage_threshold: u64,
}

pub const MS_PER_DAY: u64 = 86_400_000;

impl FeeParams {
    /// SPEC.md defaults: 0.1%..1.0% unverified, 0.25%..0.50% verified,
    /// T = 90 days, U = 10,000 rUv.
    pub const DEFAULT: FeeParams = FeeParams {
        f_min_ppb: 1_000_000,
        f_max_ppb: 10_000_000,
        f_min_verified_ppb: 2_500_000,
        f_max_verified_ppb: 5_000_000,
        time_constant_ms: 90 * MS_PER_DAY,
        usage_threshold: 10_000 * crate::amount::UNITS_PER_RUV,
    };

    pub fn validate(&self) -> Result<()> {
        let scale = RATE_SCALE_PPB;
        if !(self.f_min_ppb <= self.f_max_ppb && u64::from(self.f_max_ppb) <= scale) {
            fail!(
                InvalidFeeParams,
                "Invalid fee parameters: need f_min <= f_max <= {} ppb, got f_min {} and f_max {}",
                scale,
                self.f_min_ppb,
                self.f_max_ppb
            );
        }
        if !(self.f_min_verified_ppb <= self.f_max_verified_ppb && u64::from(self.f_max_verified_ppb) <= scale) {
            fail!(
                InvalidFeeParams,
                "Invalid fee parameters: need f_min_verified <= f_max_verified <= {} ppb, got {} and {}",
                scale,
                self.f_min_verified_ppb,
                self.f_max_verified_ppb
            );
        }
        if self.time_constant_ms == 0 {
            fail!(InvalidFeeParams, "Invalid fee parameters: time_constant_ms must be > 0");
        }
        if self.usage_threshold == 0 {
            fail!(InvalidFeeParams, "Invalid fee parameters: usage_threshold must be > 0");
        }
        Ok(())
    }

    /// Canonical encoding inside a configure-fees transaction (32 bytes).
    pub fn write(&self, w: &mut Writer) {
        w.u32(self.f_min_ppb);
        w.u32(self.f_max_ppb);
        w.u32(self.f_min_verified_ppb);
        w.u32(self.f_max_verified_ppb);
        w.u64(self.time_constant_ms);
        w.u64(self.usage_threshold);
    }

    pub fn read(r: &mut Reader) -> Result<FeeParams> {
        Ok(FeeParams {
            f_min_ppb: r.u32("f_min_ppb")?,
            f_max_ppb: r.u32("f_max_ppb")?,
            f_min_verified_ppb: r.u32("f_min_verified_ppb")?,
            f_max_verified_ppb: r.u32("f_max_verified_ppb")?,
            time_constant_ms: r.u64("time_constant_ms")?,
            usage_threshold: r.u64("usage_threshold")?,
        })
    }
}

/// floor(num * ONE / den) for den > 0; num * ONE fits in u128 for any u64 num.
fn ratio(num: u64, den: u64) -> u128 {
    u128::from(num) * ONE / u128::from(den)
}

/// e^(-x) for x >= 0, both fixed point (1e18).
///
/// x = n + f with integer n and f in [0, 1). e^f is its Taylor series with
/// every term floored (at most 25 terms, each off by < 1e-18, so e^f is low
/// by < 2.5e-17); e^-f = floor(1e36 / e^f); then n multiplications by
/// floor(e^-1), each floored. The result is within 1e-16 (as a fraction) of
/// the exact value, i.e. < 1e-7 ppb on any rate; fee_reference_tests.rs
/// checks it against f64.
pub fn exp_neg(x: u128) -> u128 {
    let n = x / ONE;
    if n >= EXP_NEG_ZERO_FROM {
        return 0;
    }
    let f = x % ONE;
    let mut sum = ONE;
    let mut term = ONE;
    let mut k = 1;
    while k <= EXP_TERMS_MAX {
        // term < 1e18 and f < 1e18, so term * f < 1e36 fits in u128.
        term = term * f / ONE / k;
        if term == 0 {
            break;
        }
        sum += term;
        k += 1;
    }
    let mut r = ONE * ONE / sum;
    let mut i = 0;
    while i < n {
        r = r * E_INV / ONE;
        i += 1;
    }
    r
}

/// 1 - e^(-num/den), fixed point.
fn saturation(num: u64, den: u64) -> u128 {
    ONE - exp_neg(ratio(num, den))
}

/// What the fee depends on, all read from ledger state by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeInput {
    pub verified: bool,
    /// t: milliseconds since the account's first transaction.
    pub age_ms: u64,
    /// u: the account's volume over the last 30 days, in smallest units.
    pub usage: u64,
}

/// The fee rate in ppb. Rejects invalid parameters.
pub fn rate_ppb(params: &FeeParams, input: &FeeInput) -> Result<u64> {
    params.validate()?;
    let alpha = saturation(input.age_ms, params.time_constant_ms);
    let beta = saturation(input.usage, params.usage_threshold);
    let (lo, hi, weight) = if input.verified {
        (params.f_min_verified_ppb, params.f_max_verified_ppb, alpha * (ONE - beta) / ONE)
    } else {
        (params.f_min_ppb, params.f_max_ppb, alpha * beta / ONE)
    };
    // weight <= 1e18 and hi - lo <= 1e9: the product fits easily.
    let span = u128::from(hi - lo);
    let extra = weight * span / ONE;
    Ok(u64::from(lo) + extra as u64)
}

/// fee = ceil(amount * rate / 1e9), at least 1 for a non-zero amount, and
/// never more than the amount (rate <= 100%).
pub fn fee_for_rate(amount: u64, rate_ppb: u64) -> u64 {
    if amount == 0 {
        return 0;
    }
    let scale = u128::from(RATE_SCALE_PPB);
    let rate = u128::from(rate_ppb.min(RATE_SCALE_PPB));
    let fee = (u128::from(amount) * rate + scale - 1) / scale;
    // fee <= amount because rate <= scale, so it fits in u64.
    (fee as u64).max(1)
}

/// The rate and the fee for a transfer of `amount`.
pub fn fee_for(params: &FeeParams, input: &FeeInput, amount: u64) -> Result<(u64, u64)> {
    let rate = rate_ppb(params, input)?;
    Ok((rate, fee_for_rate(amount, rate)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    const DAY: u64 = MS_PER_DAY;
    const RUV: u64 = crate::amount::UNITS_PER_RUV;

    fn rate(verified: bool, days: u64, ruv: u64) -> u64 {
        rate_ppb(&FeeParams::DEFAULT, &FeeInput { verified, age_ms: days * DAY, usage: ruv * RUV }).unwrap()
    }

    /// Percent with three decimals, rounded half up, as the seeds print it.
    fn percent_3(ppb: u64) -> String {
        let thousandths = (ppb + 5_000) / 10_000;
        format!("{}.{:03}%", thousandths / 1000, thousandths % 1000)
    }

    #[test]
    fn seed_examples() {
        assert_eq!(rate(false, 0, 0), 1_000_000);
        assert_eq!(percent_3(rate(false, 0, 0)), "0.100%");
        assert_eq!(percent_3(rate(false, 90, 5_000)), "0.324%");
        assert_eq!(percent_3(rate(true, 180, 20_000)), "0.279%");
        // Pinned exact values: a change here is a consensus change.
        assert_eq!(rate(false, 90, 5_000), 3_238_480);
        assert_eq!(rate(true, 180, 20_000), 2_792_549);
    }

    #[test]
    fn limits_of_the_curves() {
        // New verified account: alpha = 0, so the verified minimum.
        assert_eq!(rate(true, 0, 1_000_000), 2_500_000);
        // Very old, very busy unverified account approaches F_max from below.
        let r = rate(false, 100_000, 10_000_000);
        assert!((9_999_999..=10_000_000).contains(&r), "{}", r);
        // Very old, very busy verified account: beta -> 1, rate -> F_minV.
        assert_eq!(rate(true, 100_000, 10_000_000), 2_500_000);
        // Old verified account with no usage approaches F_maxV.
        let r = rate(true, 100_000, 0);
        assert!((4_999_999..=5_000_000).contains(&r), "{}", r);
        // u64 extremes do not overflow.
        let p = FeeParams::DEFAULT;
        let i = FeeInput { verified: false, age_ms: u64::MAX, usage: u64::MAX };
        assert!(rate_ppb(&p, &i).unwrap() <= 10_000_000);
        let p1 = FeeParams { time_constant_ms: 1, usage_threshold: 1, ..p };
        assert!(rate_ppb(&p1, &i).unwrap() <= 10_000_000);
    }

    #[test]
    fn rate_is_monotonic_in_time_and_usage_for_unverified() {
        let mut last = 0;
        for days in (0..400).step_by(7) {
            let r = rate(false, days, 5_000);
            assert!(r >= last);
            last = r;
        }
        let mut last = 0;
        for ruv in (0..100_000).step_by(1_000) {
            let r = rate(false, 90, ruv);
            assert!(r >= last);
            last = r;
        }
    }

    #[test]
    fn exp_neg_fixed_points() {
        assert_eq!(exp_neg(0), ONE);
        // e^-1 and e^-2 to 16 digits.
        assert_eq!(exp_neg(ONE) / 100, 3_678_794_411_714_423);
        assert_eq!(exp_neg(2 * ONE) / 100, 1_353_352_832_366_126);
        assert_eq!(exp_neg(42 * ONE), 0);
        assert_eq!(exp_neg(u128::from(u64::MAX) * ONE), 0);
    }

    #[test]
    fn fee_rounds_up_and_is_never_zero() {
        assert_eq!(fee_for_rate(0, 1_000_000), 0);
        assert_eq!(fee_for_rate(1, 1_000_000), 1);
        assert_eq!(fee_for_rate(1, 0), 1);
        assert_eq!(fee_for_rate(1_000, 1_000_000), 1);
        assert_eq!(fee_for_rate(1_001, 1_000_000), 2);
        assert_eq!(fee_for_rate(1_000_000, 3_238_480), 3_239);
        assert_eq!(fee_for_rate(u64::MAX, RATE_SCALE_PPB), u64::MAX);
        assert_eq!(fee_for_rate(u64::MAX, 10_000_000), 184_467_440_737_095_517);
        let (rate, fee) =
            fee_for(&FeeParams::DEFAULT, &FeeInput { verified: false, age_ms: 0, usage: 0 }, 50_000 * RUV).unwrap();
        assert_eq!((rate, fee), (1_000_000, 50 * RUV));
    }

    #[test]
    fn invalid_params_are_rejected() {
        let d = FeeParams::DEFAULT;
        let bad = [
            FeeParams { f_min_ppb: 11_000_000, ..d },
            FeeParams { f_max_ppb: 1_000_000_001, f_min_ppb: 0, ..d },
            FeeParams { f_min_verified_ppb: 6_000_000, ..d },
            FeeParams { time_constant_ms: 0, ..d },
            FeeParams { usage_threshold: 0, ..d },
        ];
        for p in bad.iter() {
            let input = FeeInput { verified: false, age_ms: 0, usage: 0 };
            assert_eq!(rate_ppb(p, &input).unwrap_err().code, Code::InvalidFeeParams, "{:?}", p);
        }
        d.validate().unwrap();
    }
}
