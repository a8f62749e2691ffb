//! rUv amounts: integers of the smallest unit, 1 rUv = 10^6 units, u64.
//! The largest amount is 18,446,744,073,709.551615 rUv, ample for a supply
//! cap, and the minimum fee of 1 unit is a millionth of a rUv.
//!
//! Decimal text form (CLI, API, browser all use these two functions):
//! `digits` or `digits.fraction`, ASCII only, no sign, no exponent, no
//! separators, no surrounding space, no leading zeros (except a lone 0
//! before the point), 1..=6 fraction digits. Formatting prints the shortest
//! such form: no trailing fraction zeros and no point for whole amounts.

use crate::error::{fail, Result};
use crate::limits::AMOUNT_STRING_BYTES_MAX;

pub const DECIMALS: u32 = 6;
pub const UNITS_PER_RUV: u64 = 1_000_000;

pub fn parse(text: &[u8]) -> Result<u64> {
    if text.len() > AMOUNT_STRING_BYTES_MAX {
        fail!(AmountInvalid, "Invalid amount: {} characters, the limit is {}", text.len(), AMOUNT_STRING_BYTES_MAX);
    }
    let shown = String::from_utf8_lossy(text);
    if text.first() == Some(&b'-') {
        fail!(AmountInvalid, "Invalid amount {:?}: amounts cannot be negative", shown);
    }
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(|b| b.is_ascii_digit());
    if !all_digits(whole) {
        fail!(
            AmountInvalid,
            "Invalid amount {:?}: expected digits, optionally followed by '.' and up to {} digits",
            shown,
            DECIMALS
        );
    }
    if whole.len() > 1 && whole[0] == b'0' {
        fail!(AmountInvalid, "Invalid amount {:?}: leading zeros are not allowed", shown);
    }
    let mut units: u64 = 0;
    for &d in whole {
        units = match units.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))) {
            Some(v) => v,
            None => fail!(AmountOverflow, "Invalid amount {:?}: larger than the maximum 18446744073709.551615", shown),
        };
    }
    let mut frac_units: u64 = 0;
    if let Some(fraction) = fraction {
        if !all_digits(fraction) {
            fail!(AmountInvalid, "Invalid amount {:?}: expected digits after '.'", shown);
        }
        if fraction.len() > DECIMALS as usize {
            fail!(
                AmountTooManyDecimals,
                "Invalid amount {:?}: {} decimals, at most {} allowed",
                shown,
                fraction.len(),
                DECIMALS
            );
        }
        for i in 0..DECIMALS as usize {
            let digit = fraction.get(i).map_or(0, |d| u64::from(d - b'0'));
            frac_units = frac_units * 10 + digit;
        }
    }
    match units.checked_mul(UNITS_PER_RUV).and_then(|v| v.checked_add(frac_units)) {
        Some(v) => Ok(v),
        None => fail!(AmountOverflow, "Invalid amount {:?}: larger than the maximum 18446744073709.551615", shown),
    }
}

pub fn format(units: u64) -> String {
    let whole = units / UNITS_PER_RUV;
    let frac = units % UNITS_PER_RUV;
    if frac == 0 {
        return format!("{}", whole);
    }
    let digits = format!("{:06}", frac);
    format!("{}.{}", whole, digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn parses_whole_and_fractional() {
        assert_eq!(parse(b"50000").unwrap(), 50_000_000_000);
        assert_eq!(parse(b"0.5").unwrap(), 500_000);
        assert_eq!(parse(b"0").unwrap(), 0);
        assert_eq!(parse(b"0.000001").unwrap(), 1);
        assert_eq!(parse(b"1.50").unwrap(), 1_500_000);
        assert_eq!(parse(b"18446744073709.551615").unwrap(), u64::MAX);
    }

    #[test]
    fn rejects_bad_text_with_stable_codes() {
        let cases: [(&[u8], Code); 16] = [
            (b"", Code::AmountInvalid),
            (b"-1", Code::AmountInvalid),
            (b"+1", Code::AmountInvalid),
            (b" 1", Code::AmountInvalid),
            (b"1 ", Code::AmountInvalid),
            (b"1.", Code::AmountInvalid),
            (b".5", Code::AmountInvalid),
            (b"1e5", Code::AmountInvalid),
            (b"1,000", Code::AmountInvalid),
            (b"01", Code::AmountInvalid),
            (b"1.2.3", Code::AmountInvalid),
            (b"0x10", Code::AmountInvalid),
            (b"0.0000001", Code::AmountTooManyDecimals),
            (b"18446744073709.551616", Code::AmountOverflow),
            (b"99999999999999999999999", Code::AmountOverflow),
            (b"11111111111111111111111111111111111111111111111111111111111111111", Code::AmountInvalid),
        ];
        for (text, code) in cases.iter() {
            let err = parse(text).unwrap_err();
            assert_eq!(err.code, *code, "{:?}: {}", String::from_utf8_lossy(text), err);
        }
    }

    #[test]
    fn formats_shortest_and_round_trips() {
        assert_eq!(format(50_000_000_000), "50000");
        assert_eq!(format(500_000), "0.5");
        assert_eq!(format(1), "0.000001");
        assert_eq!(format(0), "0");
        assert_eq!(format(u64::MAX), "18446744073709.551615");
        for v in [0u64, 1, 10, 999_999, 1_000_000, 1_234_567, u64::MAX - 1, u64::MAX] {
            assert_eq!(parse(format(v).as_bytes()).unwrap(), v);
        }
    }
}
