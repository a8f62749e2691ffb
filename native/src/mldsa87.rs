//! ML-DSA-87 (FIPS 204) on top of libcrux-ml-dsa.
//!
//! The secret key handed around is the expanded FIPS 204 encoding (4,896 bytes) produced by
//! [`keygen`] from the 32-byte seed, so signing does not redo key generation each time.
//! Randomness is always an argument (`rnd`); all zeros gives deterministic signing.

use crate::abi::{Outcome, QudagResult};
use libcrux_ml_dsa::ml_dsa_87;

pub const SEED_BYTES: usize = 32;
pub const PUBLIC_KEY_BYTES: usize = 2592;
pub const SECRET_KEY_BYTES: usize = 4896;
pub const SIGNATURE_BYTES: usize = 4627;
pub const CONTEXT_BYTES_MAX: usize = 255;
pub const RND_BYTES: usize = 32;

/// ML-DSA.KeyGen_internal(seed): (public key, expanded secret key).
pub fn keygen(
    seed: &[u8; SEED_BYTES],
) -> (Box<[u8; PUBLIC_KEY_BYTES]>, Box<[u8; SECRET_KEY_BYTES]>) {
    let pair = ml_dsa_87::generate_key_pair(*seed);
    (
        Box::new(*pair.verification_key.as_ref()),
        Box::new(*pair.signing_key.as_ref()),
    )
}

/// ML-DSA.Sign with the caller's `rnd` (FIPS 204 hedged signing; zeros = deterministic).
pub fn sign(
    secret_key: &[u8; SECRET_KEY_BYTES],
    message: &[u8],
    context: &[u8],
    rnd: &[u8; RND_BYTES],
) -> Outcome<Box<[u8; SIGNATURE_BYTES]>> {
    if context.len() > CONTEXT_BYTES_MAX {
        return Err(QudagResult::BadArgument);
    }
    let key = ml_dsa_87::MLDSA87SigningKey::new(*secret_key);
    match ml_dsa_87::sign(&key, message, context, *rnd) {
        Ok(signature) => Ok(Box::new(*signature.as_ref())),
        Err(libcrux_ml_dsa::SigningError::ContextTooLongError) => Err(QudagResult::BadArgument),
        Err(libcrux_ml_dsa::SigningError::RejectionSamplingError) => Err(QudagResult::Internal),
    }
}

/// ML-DSA.Verify: Ok(true) when the signature holds, Ok(false) when it does not.
pub fn verify(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    message: &[u8],
    context: &[u8],
    signature: &[u8; SIGNATURE_BYTES],
) -> Outcome<bool> {
    if context.len() > CONTEXT_BYTES_MAX {
        return Err(QudagResult::BadArgument);
    }
    let key = ml_dsa_87::MLDSA87VerificationKey::new(*public_key);
    let signature = ml_dsa_87::MLDSA87Signature::new(*signature);
    match ml_dsa_87::verify(&key, message, context, &signature) {
        Ok(()) => Ok(true),
        Err(libcrux_ml_dsa::VerificationError::VerificationContextTooLongError) => {
            Err(QudagResult::BadArgument)
        }
        Err(_) => Ok(false),
    }
}
