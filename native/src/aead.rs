//! AES-256-GCM for the peer channel (`src/net/channel.ts`), with RustCrypto's `aes-gcm`:
//! AES-NI and CLMUL are chosen at run time. The sealed form is the ciphertext followed by the
//! 16-byte tag, exactly what WebCrypto's AES-GCM produces, so a node on either side of a channel
//! may use either implementation.
//!
//! Stateless: every call takes the 32-byte key (the key schedule costs well under a microsecond
//! beside a frame), so the caller holds no native handle that would need freeing.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use crate::abi::{Outcome, QudagResult};

pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 12;
pub const TAG_BYTES: usize = 16;

fn cipher(key: &[u8; KEY_BYTES]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// `plain` sealed under `key` and `nonce`, authenticating `aad`: ciphertext ‖ tag.
pub fn seal(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    aad: &[u8],
    plain: &[u8],
) -> Outcome<Vec<u8>> {
    let mut out = Vec::with_capacity(plain.len() + TAG_BYTES);
    out.extend_from_slice(plain);
    let tag = cipher(key)
        .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut out)
        .map_err(|_| QudagResult::BadLength)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The plaintext of `sealed` (ciphertext ‖ tag), or `AuthenticationFailed` when the tag does
/// not match (wrong key, nonce, associated data, or modified bytes).
pub fn open(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    aad: &[u8],
    sealed: &[u8],
) -> Outcome<Vec<u8>> {
    if sealed.len() < TAG_BYTES {
        return Err(QudagResult::BadLength);
    }
    let (body, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
    let mut out = body.to_vec();
    cipher(key)
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            aad,
            &mut out,
            Tag::from_slice(tag),
        )
        .map_err(|_| QudagResult::AuthenticationFailed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_tampering_is_refused() {
        let key = [7u8; KEY_BYTES];
        let nonce = [1u8; NONCE_BYTES];
        let sealed = seal(&key, &nonce, b"header", b"payload").unwrap();
        assert_eq!(sealed.len(), 7 + TAG_BYTES);
        assert_eq!(open(&key, &nonce, b"header", &sealed).unwrap(), b"payload");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(
                open(&key, &nonce, b"header", &bad),
                Err(QudagResult::AuthenticationFailed)
            );
        }
        assert_eq!(
            open(&key, &nonce, b"headeR", &sealed),
            Err(QudagResult::AuthenticationFailed)
        );
        assert_eq!(
            open(&key, &[2u8; NONCE_BYTES], b"header", &sealed),
            Err(QudagResult::AuthenticationFailed)
        );
        assert_eq!(
            open(&[8u8; KEY_BYTES], &nonce, b"header", &sealed),
            Err(QudagResult::AuthenticationFailed)
        );
        assert_eq!(
            open(&key, &nonce, b"header", &sealed[..TAG_BYTES - 1]),
            Err(QudagResult::BadLength)
        );
    }

    #[test]
    fn empty_plaintext_seals_to_a_bare_tag() {
        let sealed = seal(&[0u8; KEY_BYTES], &[0u8; NONCE_BYTES], b"", b"").unwrap();
        assert_eq!(sealed.len(), TAG_BYTES);
        // NIST SP 800-38D test case 13 (AES-256, zero key and IV, empty P and A).
        assert_eq!(hex::encode(&sealed), "530f8afbc74536b9a963b4f1c4cb738b");
        assert!(
            open(&[0u8; KEY_BYTES], &[0u8; NONCE_BYTES], b"", &sealed)
                .unwrap()
                .is_empty()
        );
    }
}
