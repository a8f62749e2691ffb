//! The C ABI as a foreign caller sees it: result codes, length and pointer checks, outputs
//! untouched on failure, garbage inputs that never crash, and the batch layout.

use qudag_native::abi::{ABI_VERSION, QudagResult};
use qudag_native::*;
use std::ptr::{null, null_mut};

const OK: u32 = QudagResult::Ok as u32;
const INVALID: u32 = QudagResult::InvalidSignature as u32;
const NULL: u32 = QudagResult::NullPointer as u32;
const BAD_LENGTH: u32 = QudagResult::BadLength as u32;
const BAD_KEY: u32 = QudagResult::BadKey as u32;
const BAD_ARGUMENT: u32 = QudagResult::BadArgument as u32;

/// Deterministic filler so the garbage tests are reproducible (xorshift64*).
struct Garbage(u64);

impl Garbage {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }
}

fn keygen(seed: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    let (mut pk, mut sk) = (vec![0u8; 2592], vec![0u8; 4896]);
    let code = unsafe {
        qudag_mldsa87_keygen(
            seed.as_ptr(),
            32,
            pk.as_mut_ptr(),
            pk.len(),
            sk.as_mut_ptr(),
            sk.len(),
        )
    };
    assert_eq!(code, OK);
    (pk, sk)
}

fn sign(sk: &[u8], msg: &[u8], ctx: &[u8], rnd: &[u8]) -> (u32, Vec<u8>) {
    let mut sig = vec![0xAAu8; 4627];
    let code = unsafe {
        qudag_mldsa87_sign(
            sk.as_ptr(),
            sk.len(),
            msg.as_ptr(),
            msg.len(),
            ctx.as_ptr(),
            ctx.len(),
            rnd.as_ptr(),
            rnd.len(),
            sig.as_mut_ptr(),
            sig.len(),
        )
    };
    (code, sig)
}

fn verify(pk: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> u32 {
    unsafe {
        qudag_mldsa87_verify(
            pk.as_ptr(),
            pk.len(),
            msg.as_ptr(),
            msg.len(),
            ctx.as_ptr(),
            ctx.len(),
            sig.as_ptr(),
            sig.len(),
        )
    }
}

#[test]
fn abi_version_and_cpu() {
    assert_eq!(qudag_native_abi_version(), ABI_VERSION);
    assert_eq!(qudag_native_cpu_supported(), 1);
}

#[test]
fn built_for_x86_64_v3_at_least() {
    // native/.cargo/config.toml compiles for x86-64-v3; a build without it (cargo run from elsewhere, an image
    // that did not copy it) is the baseline one, with ML-DSA-87 verify about 60 % slower.
    if cfg!(target_arch = "x86_64") {
        assert!(
            qudag_native_x86_64_level() >= 3,
            "level {}",
            qudag_native_x86_64_level()
        );
    } else {
        assert_eq!(qudag_native_x86_64_level(), 0);
    }
}

#[test]
fn mldsa87_sign_verify_with_context_and_rnd() {
    let (pk, sk) = keygen(&[9u8; 32]);
    let (code, sig) = sign(&sk, b"vertex", b"qudag/v1", &[0u8; 32]);
    assert_eq!(code, OK);
    assert_eq!(verify(&pk, b"vertex", b"qudag/v1", &sig), OK);
    assert_eq!(
        verify(&pk, b"vertex", b"", &sig),
        INVALID,
        "context is bound"
    );
    assert_eq!(
        verify(&pk, b"vertez", b"qudag/v1", &sig),
        INVALID,
        "message is bound"
    );
    let (_, again) = sign(&sk, b"vertex", b"qudag/v1", &[0u8; 32]);
    assert_eq!(sig, again, "zero rnd is deterministic");
    let (_, hedged) = sign(&sk, b"vertex", b"qudag/v1", &[1u8; 32]);
    assert_ne!(sig, hedged, "rnd changes the signature");
    assert_eq!(verify(&pk, b"vertex", b"qudag/v1", &hedged), OK);
    let mut flipped = sig.clone();
    flipped[100] ^= 1;
    assert_eq!(verify(&pk, b"vertex", b"qudag/v1", &flipped), INVALID);
}

#[test]
fn mldsa87_wrong_lengths_and_nulls_are_rejected_and_outputs_untouched() {
    let (pk, sk) = keygen(&[1u8; 32]);
    let (_, sig) = sign(&sk, b"m", b"", &[0u8; 32]);
    // Seed of every wrong length.
    for len in [0usize, 31, 33, 64] {
        let seed = vec![0u8; len];
        let (mut pk_out, mut sk_out) = (vec![7u8; 2592], vec![7u8; 4896]);
        let code = unsafe {
            qudag_mldsa87_keygen(
                seed.as_ptr(),
                len,
                pk_out.as_mut_ptr(),
                2592,
                sk_out.as_mut_ptr(),
                4896,
            )
        };
        assert_eq!(code, BAD_LENGTH, "seed {len}");
        assert!(pk_out.iter().all(|&b| b == 7) && sk_out.iter().all(|&b| b == 7));
    }
    // Output buffers of the wrong length.
    let seed = [0u8; 32];
    let (mut pk_out, mut sk_out) = (vec![7u8; 2593], vec![7u8; 4896]);
    let code = unsafe {
        qudag_mldsa87_keygen(
            seed.as_ptr(),
            32,
            pk_out.as_mut_ptr(),
            2591,
            sk_out.as_mut_ptr(),
            4896,
        )
    };
    assert_eq!(code, BAD_LENGTH);
    assert!(pk_out.iter().all(|&b| b == 7) && sk_out.iter().all(|&b| b == 7));
    // Null pointers with non-zero lengths.
    let code = unsafe {
        qudag_mldsa87_keygen(
            null(),
            32,
            pk_out.as_mut_ptr(),
            2592,
            sk_out.as_mut_ptr(),
            4896,
        )
    };
    assert_eq!(code, NULL);
    let code = unsafe {
        qudag_mldsa87_keygen(
            seed.as_ptr(),
            32,
            null_mut(),
            2592,
            sk_out.as_mut_ptr(),
            4896,
        )
    };
    assert_eq!(code, NULL);
    // Sign: secret key, rnd, signature buffer of wrong lengths; context too long.
    assert_eq!(sign(&sk[..4895], b"m", b"", &[0u8; 32]).0, BAD_LENGTH);
    assert_eq!(sign(&sk, b"m", b"", &[0u8; 31]).0, BAD_LENGTH);
    assert_eq!(sign(&sk, b"m", &[0u8; 256], &[0u8; 32]).0, BAD_ARGUMENT);
    assert_eq!(sign(&sk, b"m", &[0u8; 255], &[0u8; 32]).0, OK);
    let (code, untouched) = sign(&sk, b"m", &[0u8; 256], &[0u8; 32]);
    assert_eq!(code, BAD_ARGUMENT);
    assert!(untouched.iter().all(|&b| b == 0xAA));
    // Verify: public key and signature of wrong lengths, context too long, null message.
    assert_eq!(verify(&pk[..2591], b"m", b"", &sig), BAD_LENGTH);
    assert_eq!(verify(&pk, b"m", b"", &sig[..4626]), BAD_LENGTH);
    assert_eq!(verify(&pk, b"m", &[0u8; 256], &sig), BAD_ARGUMENT);
    let code = unsafe {
        qudag_mldsa87_verify(pk.as_ptr(), 2592, null(), 1, null(), 0, sig.as_ptr(), 4627)
    };
    assert_eq!(code, NULL);
    // An empty message may come with a null pointer.
    let (_, empty_sig) = sign(&sk, b"", b"", &[0u8; 32]);
    let code = unsafe {
        qudag_mldsa87_verify(
            pk.as_ptr(),
            2592,
            null(),
            0,
            null(),
            0,
            empty_sig.as_ptr(),
            4627,
        )
    };
    assert_eq!(code, OK);
}

#[test]
fn mldsa87_garbage_never_crashes() {
    let mut garbage = Garbage(0x5eed);
    let (pk, sk) = keygen(&[2u8; 32]);
    let (_, sig) = sign(&sk, b"m", b"", &[0u8; 32]);
    for round in 0..40 {
        let bad_pk = garbage.bytes(2592);
        let bad_sig = garbage.bytes(4627);
        assert_eq!(verify(&bad_pk, b"m", b"", &sig), INVALID, "round {round}");
        assert_eq!(verify(&pk, b"m", b"", &bad_sig), INVALID, "round {round}");
        // A garbage secret key must not crash or hang; any defined code is acceptable.
        let bad_sk = garbage.bytes(4896);
        let (code, _) = sign(&bad_sk, b"m", b"", &[0u8; 32]);
        assert!(
            code == OK || code == QudagResult::Internal as u32,
            "round {round}: {code}"
        );
    }
    // Structured garbage: all-0xFF and all-zero keys and signatures.
    for fill in [0x00u8, 0xFF] {
        assert_eq!(verify(&vec![fill; 2592], b"m", b"", &sig), INVALID);
        assert_eq!(verify(&pk, b"m", b"", &vec![fill; 4627]), INVALID);
        let (code, _) = sign(&vec![fill; 4896], b"m", b"", &[0u8; 32]);
        assert!(
            code == OK || code == QudagResult::Internal as u32,
            "fill {fill}: {code}"
        );
    }
}

/// (public key, message, context, signature)
type BatchItem<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

fn pack(items: &[BatchItem<'_>]) -> Vec<u8> {
    let mut packed = vec![];
    for (pk, msg, ctx, sig) in items {
        packed.extend_from_slice(&(msg.len() as u32).to_le_bytes());
        packed.push(ctx.len() as u8);
        packed.extend_from_slice(pk);
        packed.extend_from_slice(sig);
        packed.extend_from_slice(ctx);
        packed.extend_from_slice(msg);
    }
    packed
}

fn verify_batch(packed: &[u8], count: usize, threads: u32) -> (u32, Vec<u8>) {
    let mut results = vec![9u8; count];
    let code = unsafe {
        qudag_mldsa87_verify_batch(
            packed.as_ptr(),
            packed.len(),
            count,
            threads,
            results.as_mut_ptr(),
            results.len(),
        )
    };
    (code, results)
}

#[test]
fn mldsa87_batch_matches_single_verification_on_any_thread_count() {
    let mut owned = vec![];
    for i in 0..24u8 {
        let (pk, sk) = keygen(&[i; 32]);
        let msg = vec![i; i as usize * 7];
        let ctx = vec![i; (i % 4) as usize];
        let (_, mut sig) = sign(&sk, &msg, &ctx, &[i; 32]);
        if i % 5 == 0 {
            sig[i as usize] ^= 0x40;
        }
        owned.push((pk, msg, ctx, sig));
    }
    let items: Vec<BatchItem<'_>> = owned
        .iter()
        .map(|(a, b, c, d)| (&a[..], &b[..], &c[..], &d[..]))
        .collect();
    let expected: Vec<u8> = owned
        .iter()
        .map(|(pk, msg, ctx, sig)| u8::from(verify(pk, msg, ctx, sig) == OK))
        .collect();
    assert!(expected.contains(&0) && expected.contains(&1));
    let packed = pack(&items);
    for threads in [0, 1, 2, 3, 8, 1000] {
        let (code, results) = verify_batch(&packed, items.len(), threads);
        assert_eq!(code, OK, "threads {threads}");
        assert_eq!(results, expected, "threads {threads}");
    }
    // Malformed batches: wrong count, truncated, trailing bytes, results buffer of wrong length.
    assert_eq!(verify_batch(&packed, items.len() + 1, 2).0, BAD_ARGUMENT);
    assert_eq!(verify_batch(&packed, items.len() - 1, 2).0, BAD_ARGUMENT);
    assert_eq!(
        verify_batch(&packed[..packed.len() - 1], items.len(), 2).0,
        BAD_ARGUMENT
    );
    let mut longer = packed.clone();
    longer.push(0);
    assert_eq!(verify_batch(&longer, items.len(), 2).0, BAD_ARGUMENT);
    let mut results = vec![9u8; 3];
    let code = unsafe {
        qudag_mldsa87_verify_batch(
            packed.as_ptr(),
            packed.len(),
            items.len(),
            2,
            results.as_mut_ptr(),
            3,
        )
    };
    assert_eq!(code, BAD_LENGTH);
    assert_eq!(results, vec![9u8; 3]);
    // Empty batch.
    assert_eq!(verify_batch(&[], 0, 2), (OK, vec![]));
    // A huge count with a small buffer is refused before anything is allocated.
    let mut results = vec![0u8; 8];
    let code = unsafe {
        qudag_mldsa87_verify_batch(
            packed.as_ptr(),
            packed.len(),
            usize::MAX / 2,
            2,
            results.as_mut_ptr(),
            8,
        )
    };
    assert_eq!(code, BAD_LENGTH);
}

#[test]
fn mldsa87_batch_garbage_never_crashes() {
    let mut garbage = Garbage(42);
    for round in 0..50 {
        let len = (round * 997) % 20_000;
        let packed = garbage.bytes(len);
        let count = (round % 4) + 1;
        let (code, results) = verify_batch(&packed, count, 2);
        if code == OK {
            assert!(results.iter().all(|&r| r <= 1));
        } else {
            assert_eq!(code, BAD_ARGUMENT, "round {round}");
        }
    }
}

fn kem_keygen(level: u32, ek_len: usize, dk_len: usize) -> (Vec<u8>, Vec<u8>) {
    let (d, z) = ([1u8; 32], [2u8; 32]);
    let (mut ek, mut dk) = (vec![0u8; ek_len], vec![0u8; dk_len]);
    let code = unsafe {
        qudag_mlkem_keygen(
            level,
            d.as_ptr(),
            32,
            z.as_ptr(),
            32,
            ek.as_mut_ptr(),
            ek_len,
            dk.as_mut_ptr(),
            dk_len,
        )
    };
    assert_eq!(code, OK);
    (ek, dk)
}

fn encaps(level: u32, ek: &[u8], m: &[u8], ct_len: usize) -> (u32, Vec<u8>, Vec<u8>) {
    let (mut ct, mut key) = (vec![0xAAu8; ct_len], vec![0xAAu8; 32]);
    let code = unsafe {
        qudag_mlkem_encaps(
            level,
            ek.as_ptr(),
            ek.len(),
            m.as_ptr(),
            m.len(),
            ct.as_mut_ptr(),
            ct_len,
            key.as_mut_ptr(),
            32,
        )
    };
    (code, ct, key)
}

fn decaps(level: u32, dk: &[u8], ct: &[u8]) -> (u32, Vec<u8>) {
    let mut key = vec![0xAAu8; 32];
    let code = unsafe {
        qudag_mlkem_decaps(
            level,
            dk.as_ptr(),
            dk.len(),
            ct.as_ptr(),
            ct.len(),
            key.as_mut_ptr(),
            32,
        )
    };
    (code, key)
}

#[test]
fn mlkem_round_trip_lengths_and_garbage() {
    let mut garbage = Garbage(7);
    for (level, ek_len, dk_len, ct_len) in [
        (768u32, 1184usize, 2400usize, 1088usize),
        (1024, 1568, 3168, 1568),
    ] {
        let (ek, dk) = kem_keygen(level, ek_len, dk_len);
        let (code, ct, key) = encaps(level, &ek, &[3u8; 32], ct_len);
        assert_eq!(code, OK);
        assert_eq!(decaps(level, &dk, &ct), (OK, key.clone()));
        // Wrong lengths of every input and output.
        assert_eq!(encaps(level, &ek[1..], &[3u8; 32], ct_len).0, BAD_LENGTH);
        assert_eq!(encaps(level, &ek, &[3u8; 31], ct_len).0, BAD_LENGTH);
        let (code, ct_untouched, key_untouched) = encaps(level, &ek, &[3u8; 32], ct_len + 1);
        assert_eq!(code, BAD_LENGTH);
        assert!(
            ct_untouched
                .iter()
                .chain(&key_untouched)
                .all(|&b| b == 0xAA)
        );
        assert_eq!(decaps(level, &dk[1..], &ct).0, BAD_LENGTH);
        assert_eq!(decaps(level, &dk, &ct[1..]).0, BAD_LENGTH);
        // Unknown level.
        assert_eq!(encaps(512, &ek, &[3u8; 32], ct_len).0, BAD_ARGUMENT);
        assert_eq!(decaps(0, &dk, &ct).0, BAD_ARGUMENT);
        // Garbage keys are refused by the FIPS 203 checks; garbage ciphertexts give the
        // implicit-rejection key.
        for _ in 0..20 {
            assert_eq!(
                encaps(level, &garbage.bytes(ek_len), &[3u8; 32], ct_len).0,
                BAD_KEY
            );
            assert_eq!(decaps(level, &garbage.bytes(dk_len), &ct).0, BAD_KEY);
            let (code, rejected) = decaps(level, &dk, &garbage.bytes(ct_len));
            assert_eq!(code, OK);
            assert_ne!(rejected, key);
        }
        let mut tampered = dk.clone();
        tampered[dk_len - 40] ^= 1; // inside H(ek)
        assert_eq!(decaps(level, &tampered, &ct).0, BAD_KEY);
    }
}

#[test]
fn blake3_lengths() {
    let data = b"abc";
    let mut out = vec![0u8; 32];
    let code = unsafe { qudag_blake3_hash(data.as_ptr(), 3, out.as_mut_ptr(), 32) };
    assert_eq!(code, OK);
    assert_eq!(out, blake3::hash(b"abc").as_bytes());
    let code = unsafe { qudag_blake3_hash(null(), 0, out.as_mut_ptr(), 32) };
    assert_eq!(code, OK);
    assert_eq!(out, blake3::hash(b"").as_bytes());
    assert_eq!(
        unsafe { qudag_blake3_hash(data.as_ptr(), 3, out.as_mut_ptr(), 0) },
        BAD_LENGTH
    );
    assert_eq!(
        unsafe { qudag_blake3_hash(data.as_ptr(), 3, out.as_mut_ptr(), usize::MAX) },
        BAD_LENGTH
    );
    assert_eq!(
        unsafe { qudag_blake3_hash(data.as_ptr(), 3, null_mut(), 32) },
        NULL
    );
    let key = [0u8; 31];
    assert_eq!(
        unsafe {
            qudag_blake3_keyed_hash(key.as_ptr(), 31, data.as_ptr(), 3, out.as_mut_ptr(), 32)
        },
        BAD_LENGTH
    );
    let not_utf8 = [0xFFu8, 0xFE];
    assert_eq!(
        unsafe {
            qudag_blake3_derive_key(not_utf8.as_ptr(), 2, data.as_ptr(), 3, out.as_mut_ptr(), 32)
        },
        BAD_ARGUMENT
    );
}
