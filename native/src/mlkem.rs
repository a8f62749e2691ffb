//! ML-KEM-768 and ML-KEM-1024 (FIPS 203) on top of libcrux-ml-kem.
//!
//! Keys and ciphertexts are the FIPS 203 encodings; the decapsulation key is the expanded
//! 2,400 / 3,168-byte form. Randomness (`d`, `z`, `m`) is always an argument. Encaps runs the
//! FIPS 203 modulus check on `ek` and Decaps the hash check on `dk`; a key that fails is
//! rejected with [`QudagResult::BadKey`].

use crate::abi::{Outcome, QudagResult};
use libcrux_ml_kem::{mlkem768, mlkem1024};

pub const SEED_PART_BYTES: usize = 32;
pub const MESSAGE_BYTES: usize = 32;
pub const SHARED_KEY_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    MlKem768,
    MlKem1024,
}

impl Level {
    pub fn from_number(level: u32) -> Outcome<Level> {
        match level {
            768 => Ok(Level::MlKem768),
            1024 => Ok(Level::MlKem1024),
            _ => Err(QudagResult::BadArgument),
        }
    }

    pub fn encapsulation_key_bytes(self) -> usize {
        match self {
            Level::MlKem768 => 1184,
            Level::MlKem1024 => 1568,
        }
    }

    pub fn decapsulation_key_bytes(self) -> usize {
        match self {
            Level::MlKem768 => 2400,
            Level::MlKem1024 => 3168,
        }
    }

    pub fn ciphertext_bytes(self) -> usize {
        match self {
            Level::MlKem768 => 1088,
            Level::MlKem1024 => 1568,
        }
    }
}

pub struct KeyPair {
    pub encapsulation_key: Vec<u8>,
    pub decapsulation_key: Vec<u8>,
}

pub struct Encapsulation {
    pub ciphertext: Vec<u8>,
    pub shared_key: [u8; SHARED_KEY_BYTES],
}

fn seed(d: &[u8; SEED_PART_BYTES], z: &[u8; SEED_PART_BYTES]) -> [u8; 64] {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(d);
    seed[32..].copy_from_slice(z);
    seed
}

/// ML-KEM.KeyGen_internal(d, z).
pub fn keygen(level: Level, d: &[u8; SEED_PART_BYTES], z: &[u8; SEED_PART_BYTES]) -> KeyPair {
    let seed = seed(d, z);
    match level {
        Level::MlKem768 => {
            let pair = mlkem768::generate_key_pair(seed);
            KeyPair {
                encapsulation_key: pair.pk().to_vec(),
                decapsulation_key: pair.sk().to_vec(),
            }
        }
        Level::MlKem1024 => {
            let pair = mlkem1024::generate_key_pair(seed);
            KeyPair {
                encapsulation_key: pair.pk().to_vec(),
                decapsulation_key: pair.sk().to_vec(),
            }
        }
    }
}

/// ML-KEM.Encaps_internal(ek, m) after the FIPS 203 input check of `ek`.
pub fn encaps(level: Level, ek: &[u8], m: &[u8; MESSAGE_BYTES]) -> Outcome<Encapsulation> {
    if ek.len() != level.encapsulation_key_bytes() {
        return Err(QudagResult::BadLength);
    }
    match level {
        Level::MlKem768 => {
            let key =
                mlkem768::MlKem768PublicKey::try_from(ek).map_err(|_| QudagResult::BadLength)?;
            if !mlkem768::validate_public_key(&key) {
                return Err(QudagResult::BadKey);
            }
            let (ct, k) = mlkem768::encapsulate(&key, *m);
            Ok(Encapsulation {
                ciphertext: ct.as_slice().to_vec(),
                shared_key: k,
            })
        }
        Level::MlKem1024 => {
            let key =
                mlkem1024::MlKem1024PublicKey::try_from(ek).map_err(|_| QudagResult::BadLength)?;
            if !mlkem1024::validate_public_key(&key) {
                return Err(QudagResult::BadKey);
            }
            let (ct, k) = mlkem1024::encapsulate(&key, *m);
            Ok(Encapsulation {
                ciphertext: ct.as_slice().to_vec(),
                shared_key: k,
            })
        }
    }
}

/// ML-KEM.Decaps_internal(dk, c) after the FIPS 203 input checks. A ciphertext that does not
/// decrypt yields the implicit-rejection key, as the standard requires.
pub fn decaps(level: Level, dk: &[u8], ct: &[u8]) -> Outcome<[u8; SHARED_KEY_BYTES]> {
    if dk.len() != level.decapsulation_key_bytes() || ct.len() != level.ciphertext_bytes() {
        return Err(QudagResult::BadLength);
    }
    match level {
        Level::MlKem768 => {
            let key =
                mlkem768::MlKem768PrivateKey::try_from(dk).map_err(|_| QudagResult::BadLength)?;
            let ct =
                mlkem768::MlKem768Ciphertext::try_from(ct).map_err(|_| QudagResult::BadLength)?;
            if !mlkem768::validate_private_key(&key, &ct) {
                return Err(QudagResult::BadKey);
            }
            Ok(mlkem768::decapsulate(&key, &ct))
        }
        Level::MlKem1024 => {
            let key =
                mlkem1024::MlKem1024PrivateKey::try_from(dk).map_err(|_| QudagResult::BadLength)?;
            let ct =
                mlkem1024::MlKem1024Ciphertext::try_from(ct).map_err(|_| QudagResult::BadLength)?;
            if !mlkem1024::validate_private_key(&key, &ct) {
                return Err(QudagResult::BadKey);
            }
            Ok(mlkem1024::decapsulate(&key, &ct))
        }
    }
}
