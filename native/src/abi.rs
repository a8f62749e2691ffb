//! The C ABI conventions every export follows (STYLE item 10):
//! - the return value is a [`QudagResult`] code, `0` for success;
//! - inputs are `(pointer, length)` pairs; a null pointer is accepted only with length 0;
//! - outputs are caller-owned buffers of an exact length, written only on success
//!   (results are computed into Rust-owned memory first, then copied with `ptr::copy`,
//!   which also makes an output that overlaps an input harmless);
//! - every export runs inside [`guard`], so a panic becomes [`QudagResult::Panic`] and never
//!   unwinds into the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bumped whenever a signature, a result code or a buffer layout of an export changes.
/// `src/crypto/ffi.ts` refuses a library whose version differs from the one it was written for.
pub const ABI_VERSION: u32 = 4;

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QudagResult {
    Ok = 0,
    /// The signature does not verify. Not a failure of the call itself.
    InvalidSignature = 1,
    /// A pointer was null while its length was not 0.
    NullPointer = 2,
    /// A buffer does not have the length the operation requires.
    BadLength = 3,
    /// A key failed the FIPS 203 input checks (modulus check of ek, hash check of dk).
    BadKey = 4,
    /// An argument is out of range: unknown ML-KEM level, context over 255 bytes,
    /// BLAKE3 derive-key context that is not UTF-8, a malformed batch buffer.
    BadArgument = 5,
    /// A panic was caught at the boundary; the process keeps running.
    Panic = 6,
    /// The primitive failed internally (e.g. ML-DSA rejection sampling gave up).
    Internal = 7,
    /// This CPU lacks the instruction set the library was compiled for (x86-64-v3).
    CpuUnsupported = 8,
    /// AES-GCM: the tag does not match (wrong key, nonce or associated data, or modified bytes).
    /// Not a failure of the call itself.
    AuthenticationFailed = 9,
}

pub type Outcome<T> = Result<T, QudagResult>;

/// Runs `body` with panics caught and the CPU checked; returns the code as `u32`.
pub fn guard<F: FnOnce() -> Outcome<()>>(body: F) -> u32 {
    if !crate::cpu::supported() {
        return QudagResult::CpuUnsupported as u32;
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => QudagResult::Ok as u32,
        Ok(Err(code)) => code as u32,
        Err(_) => QudagResult::Panic as u32,
    }
}

/// Borrows an input buffer.
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` readable bytes that stay valid and unmodified
/// for the duration of the call.
pub unsafe fn input<'a>(ptr: *const u8, len: usize) -> Outcome<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(QudagResult::NullPointer);
    }
    if len > isize::MAX as usize {
        return Err(QudagResult::BadLength);
    }
    // SAFETY: non-null, length within isize::MAX, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows an input buffer that must be exactly `N` bytes.
///
/// # Safety
/// Same as [`input`].
pub unsafe fn input_array<'a, const N: usize>(ptr: *const u8, len: usize) -> Outcome<&'a [u8; N]> {
    if len != N {
        return Err(QudagResult::BadLength);
    }
    let bytes = unsafe { input(ptr, len) }?;
    bytes.try_into().map_err(|_| QudagResult::BadLength)
}

/// An output buffer that has been checked but not yet written.
pub struct Output {
    ptr: *mut u8,
    len: usize,
}

/// Checks an output buffer: non-null and exactly `expected` bytes.
pub fn output(ptr: *mut u8, len: usize, expected: usize) -> Outcome<Output> {
    if len != expected {
        return Err(QudagResult::BadLength);
    }
    output_any(ptr, len)
}

/// Checks an output buffer of a caller-chosen length (at least 1 byte).
pub fn output_any(ptr: *mut u8, len: usize) -> Outcome<Output> {
    if len == 0 || len > isize::MAX as usize {
        return Err(QudagResult::BadLength);
    }
    if ptr.is_null() {
        return Err(QudagResult::NullPointer);
    }
    Ok(Output { ptr, len })
}

impl Output {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the caller's buffer shares a byte with `data` (an input of the same call).
    pub fn overlaps(&self, data: &[u8]) -> bool {
        let (a, b) = (self.ptr as usize, data.as_ptr() as usize);
        !data.is_empty() && a < b + data.len() && b < a + self.len
    }

    /// The caller's buffer, to write in place.
    ///
    /// # Safety
    /// The pointer given to [`output`] must be valid for `len` writable bytes, and no slice of
    /// the call's inputs may overlap it while the returned slice lives (see [`Output::overlaps`]).
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the caller upholds validity and exclusivity (above).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Copies `data` (exactly `len` bytes) into the caller's buffer.
    ///
    /// # Safety
    /// The pointer given to [`output`] must be valid for `len` writable bytes.
    pub unsafe fn write(self, data: &[u8]) -> Outcome<()> {
        if data.len() != self.len {
            return Err(QudagResult::Internal);
        }
        // SAFETY: both regions are `len` bytes; `copy` tolerates overlap with an input.
        unsafe { std::ptr::copy(data.as_ptr(), self.ptr, self.len) };
        Ok(())
    }
}
