//! Whether this CPU can run the code in this library.
//!
//! On x86_64 the crate graph is compiled for x86-64-v3 (see `.cargo/config.toml`) or, with
//! `RUSTFLAGS="-C target-cpu=x86-64-v4"`, for AVX-512 as well. Running such code on a CPU without
//! those instructions dies with SIGILL, so every export checks first. The check asks CPUID
//! directly, not `is_x86_feature_detected!`: that macro answers `true` at compile time for any
//! feature the build enables, which is exactly the case to catch. The features required are
//! those the build was compiled with (`cfg!(target_feature = ...)`), so the check follows the
//! build flags automatically.

use std::sync::OnceLock;

static SUPPORTED: OnceLock<bool> = OnceLock::new();

pub fn supported() -> bool {
    *SUPPORTED.get_or_init(detect)
}

/// The x86-64 level the build was compiled for (see `qudag_native_x86_64_level`).
pub fn x86_64_level() -> u32 {
    if !cfg!(target_arch = "x86_64") {
        0
    } else if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512cd",
        target_feature = "avx512dq",
        target_feature = "avx512vl"
    )) {
        4
    } else if cfg!(all(
        target_feature = "avx2",
        target_feature = "bmi2",
        target_feature = "fma"
    )) {
        3
    } else {
        1
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // CPUID became a safe function in Rust 1.87; the crate allows 1.85.
fn detect() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};

    let bit = |word: u32, n: u32| word & (1 << n) != 0;
    // SAFETY: CPUID exists on every x86_64 CPU; leaves above the maximum return zeros.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    let leaf1 = unsafe { __cpuid(1) };
    let max_extended = unsafe { __cpuid(0x8000_0000) }.eax;
    let extended1 = if max_extended >= 0x8000_0001 {
        unsafe { __cpuid(0x8000_0001) }.ecx
    } else {
        0
    };
    let ecx1 = leaf1.ecx;
    let ebx7 = if max_leaf >= 7 {
        unsafe { __cpuid_count(7, 0) }.ebx
    } else {
        0
    };

    // The OS must save the wide registers on context switches (XCR0), or the instructions fault.
    let osxsave = bit(ecx1, 27);
    // SAFETY: XGETBV is available when CPUID reports OSXSAVE, checked first.
    let xcr0 = if osxsave { unsafe { xgetbv0() } } else { 0 };
    let os_ymm = xcr0 & 0b110 == 0b110;
    let os_zmm = xcr0 & 0b1110_0110 == 0b1110_0110;

    let features: [(bool, bool); 17] = [
        (cfg!(target_feature = "ssse3"), bit(ecx1, 9)),
        (cfg!(target_feature = "fma"), bit(ecx1, 12) && os_ymm),
        (cfg!(target_feature = "sse4.1"), bit(ecx1, 19)),
        (cfg!(target_feature = "sse4.2"), bit(ecx1, 20)),
        (cfg!(target_feature = "movbe"), bit(ecx1, 22)),
        (cfg!(target_feature = "popcnt"), bit(ecx1, 23)),
        (cfg!(target_feature = "avx"), bit(ecx1, 28) && os_ymm),
        (cfg!(target_feature = "f16c"), bit(ecx1, 29) && os_ymm),
        (cfg!(target_feature = "bmi1"), bit(ebx7, 3)),
        (cfg!(target_feature = "avx2"), bit(ebx7, 5) && os_ymm),
        (cfg!(target_feature = "bmi2"), bit(ebx7, 8)),
        (cfg!(target_feature = "avx512f"), bit(ebx7, 16) && os_zmm),
        (cfg!(target_feature = "avx512dq"), bit(ebx7, 17) && os_zmm),
        (cfg!(target_feature = "avx512cd"), bit(ebx7, 28) && os_zmm),
        (cfg!(target_feature = "avx512bw"), bit(ebx7, 30) && os_zmm),
        (cfg!(target_feature = "avx512vl"), bit(ebx7, 31) && os_zmm),
        (cfg!(target_feature = "lzcnt"), bit(extended1, 5)),
    ];
    features
        .iter()
        .all(|&(required, present)| !required || present)
}

/// XGETBV with ECX = 0 (the XCR0 register), without needing the `xsave` target feature.
#[cfg(target_arch = "x86_64")]
unsafe fn xgetbv0() -> u64 {
    let (eax, edx): (u32, u32);
    // SAFETY: the caller checked CPUID.1:ECX.OSXSAVE, so XGETBV does not fault.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") eax, out("edx") edx, options(nomem, nostack, preserves_flags));
    }
    (u64::from(edx) << 32) | u64::from(eax)
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> bool {
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_runs_the_build() {
        assert!(super::supported());
    }
}
