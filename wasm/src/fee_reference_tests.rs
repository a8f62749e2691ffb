//! Checks the fixed-point exponential against f64. Test-only: f64 never
//! enters fee.rs itself.

use crate::fee::{exp_neg, ONE};

#[test]
fn exp_neg_is_within_bound_of_f64() {
    // x from 0 to 45 in steps of ~0.0137 plus a few awkward points.
    let mut xs: Vec<u128> = (0..3300u128).map(|i| i * ONE / 73).collect();
    xs.extend_from_slice(&[1, ONE - 1, ONE + 1, 41 * ONE + ONE / 2, 42 * ONE - 1]);
    for &x in &xs {
        let got = exp_neg(x) as f64 / 1e18;
        let want = (-(x as f64) / 1e18).exp();
        let err = want - got;
        // f64 itself is only good to ~1e-16 relative, so allow 2e-16 slack.
        assert!(err.abs() < 3e-16, "x={} got={} want={} err={}", x, got, want, err);
    }
}
