//! BLAKE3 (hash, keyed hash, derive-key), each with extended output of the caller's length.

use crate::abi::{Outcome, QudagResult};

pub const KEY_BYTES: usize = 32;
/// Largest extended output one call produces; bounds the work a caller can ask for.
pub const OUT_BYTES_MAX: usize = 1 << 20;

/// Checked before anything is allocated, so a caller cannot make the library allocate
/// without limit.
pub fn check_out_len(out_len: usize) -> Outcome<()> {
    if out_len == 0 || out_len > OUT_BYTES_MAX {
        return Err(QudagResult::BadLength);
    }
    Ok(())
}

fn finish(hasher: &blake3::Hasher, out_len: usize) -> Outcome<Vec<u8>> {
    check_out_len(out_len)?;
    let mut out = vec![0u8; out_len];
    hasher.finalize_xof().fill(&mut out);
    Ok(out)
}

pub fn hash(data: &[u8], out_len: usize) -> Outcome<Vec<u8>> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(data);
    finish(&hasher, out_len)
}

pub fn keyed_hash(key: &[u8; KEY_BYTES], data: &[u8], out_len: usize) -> Outcome<Vec<u8>> {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(data);
    finish(&hasher, out_len)
}

/// The context must be UTF-8: the blake3 crate takes it as `&str` (its documented contract is a
/// hard-coded, globally unique string).
pub fn derive_key(context: &[u8], material: &[u8], out_len: usize) -> Outcome<Vec<u8>> {
    let context = std::str::from_utf8(context).map_err(|_| QudagResult::BadArgument)?;
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(material);
    finish(&hasher, out_len)
}
