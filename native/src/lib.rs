//! qudag's native crypto library: the C ABI exports and nothing else.
//!
//! Conventions (see `abi.rs`): every export returns a [`abi::QudagResult`] code as `u32`
//! (0 = ok), takes `(pointer, length)` pairs, writes caller-owned output buffers of an exact
//! length only on success, and catches panics. Randomness is always an argument.
//! The TypeScript side (`src/crypto/ffi.ts`) checks [`qudag_native_abi_version`] and
//! [`qudag_native_cpu_supported`] right after loading.

pub mod abi;
pub mod aead;
pub mod batch;
pub mod blake3_hash;
pub mod cpu;
pub mod memory;
pub mod mldsa87;
pub mod mlkem;

use abi::{QudagResult, guard, input, input_array, output, output_any};

/// The ABI version this library implements; see [`abi::ABI_VERSION`].
#[unsafe(no_mangle)]
pub extern "C" fn qudag_native_abi_version() -> u32 {
    abi::ABI_VERSION
}

/// 1 when this CPU can run the library (x86-64-v3 on x86_64), 0 when every other export would
/// return `CpuUnsupported`.
#[unsafe(no_mangle)]
pub extern "C" fn qudag_native_cpu_supported() -> u32 {
    u32::from(cpu::supported())
}

/// The x86-64 level this build was compiled for: 4 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL), 3 (x86-64-v3:
/// AVX2, BMI2, FMA), 1 (baseline x86-64), 0 on other architectures. `deno task build:native` makes a v3
/// build and, on x86_64, a v4 one beside it; the node opens the v4 one where this CPU runs it.
#[unsafe(no_mangle)]
pub extern "C" fn qudag_native_x86_64_level() -> u32 {
    cpu::x86_64_level()
}

/// Gives the C heap's free memory back to the OS (glibc `malloc_trim(0)`; see `memory.rs`):
/// 1 when memory was released, 0 when none was free, 2 where the C library cannot.
#[unsafe(no_mangle)]
pub extern "C" fn qudag_malloc_trim() -> u32 {
    memory::trim()
}

/// ML-DSA-87 KeyGen from a 32-byte seed: public key (2,592 B) and expanded secret key (4,896 B).
///
/// # Safety
/// Each pointer must be valid for its length (inputs readable, outputs writable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mldsa87_keygen(
    seed: *const u8,
    seed_len: usize,
    public_key_out: *mut u8,
    public_key_out_len: usize,
    secret_key_out: *mut u8,
    secret_key_out_len: usize,
) -> u32 {
    guard(|| {
        let seed = unsafe { input_array::<{ mldsa87::SEED_BYTES }>(seed, seed_len) }?;
        let pk_out = output(
            public_key_out,
            public_key_out_len,
            mldsa87::PUBLIC_KEY_BYTES,
        )?;
        let sk_out = output(
            secret_key_out,
            secret_key_out_len,
            mldsa87::SECRET_KEY_BYTES,
        )?;
        let (pk, sk) = mldsa87::keygen(seed);
        unsafe { pk_out.write(&pk[..]) }?;
        unsafe { sk_out.write(&sk[..]) }
    })
}

/// ML-DSA-87 Sign with the expanded secret key, a FIPS 204 context (at most 255 bytes) and the
/// caller's 32-byte `rnd` (all zeros = deterministic). Writes a 4,627-byte signature.
///
/// # Safety
/// Each pointer must be valid for its length (inputs readable, outputs writable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mldsa87_sign(
    secret_key: *const u8,
    secret_key_len: usize,
    message: *const u8,
    message_len: usize,
    context: *const u8,
    context_len: usize,
    rnd: *const u8,
    rnd_len: usize,
    signature_out: *mut u8,
    signature_out_len: usize,
) -> u32 {
    guard(|| {
        let sk =
            unsafe { input_array::<{ mldsa87::SECRET_KEY_BYTES }>(secret_key, secret_key_len) }?;
        let message = unsafe { input(message, message_len) }?;
        let context = unsafe { input(context, context_len) }?;
        let rnd = unsafe { input_array::<{ mldsa87::RND_BYTES }>(rnd, rnd_len) }?;
        let out = output(signature_out, signature_out_len, mldsa87::SIGNATURE_BYTES)?;
        let signature = mldsa87::sign(sk, message, context, rnd)?;
        unsafe { out.write(&signature[..]) }
    })
}

/// ML-DSA-87 Verify. Returns `Ok` (0) when the signature holds and `InvalidSignature` (1) when
/// it does not; any other code is a bad call.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mldsa87_verify(
    public_key: *const u8,
    public_key_len: usize,
    message: *const u8,
    message_len: usize,
    context: *const u8,
    context_len: usize,
    signature: *const u8,
    signature_len: usize,
) -> u32 {
    guard(|| {
        let pk =
            unsafe { input_array::<{ mldsa87::PUBLIC_KEY_BYTES }>(public_key, public_key_len) }?;
        let message = unsafe { input(message, message_len) }?;
        let context = unsafe { input(context, context_len) }?;
        let sig = unsafe { input_array::<{ mldsa87::SIGNATURE_BYTES }>(signature, signature_len) }?;
        if mldsa87::verify(pk, message, context, sig)? {
            Ok(())
        } else {
            Err(QudagResult::InvalidSignature)
        }
    })
}

/// ML-DSA-87 batch verify of `count` items packed as described in `batch.rs`, over up to
/// `threads` threads (the calling one included). Writes `count` result bytes (1 valid, 0 not).
///
/// # Safety
/// Each pointer must be valid for its length; `packed` must not change during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mldsa87_verify_batch(
    packed: *const u8,
    packed_len: usize,
    count: usize,
    threads: u32,
    results_out: *mut u8,
    results_out_len: usize,
) -> u32 {
    guard(|| {
        let packed = unsafe { input(packed, packed_len) }?;
        if count == 0 {
            return if results_out_len == 0 && packed.is_empty() {
                Ok(())
            } else {
                Err(QudagResult::BadLength)
            };
        }
        let out = output(results_out, results_out_len, count)?;
        let items = batch::parse(packed, count)?;
        let results = batch::verify(&items, threads as usize);
        unsafe { out.write(&results) }
    })
}

/// ML-KEM KeyGen(d, z) for `level` 768 or 1024: writes ek and the expanded dk.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mlkem_keygen(
    level: u32,
    d: *const u8,
    d_len: usize,
    z: *const u8,
    z_len: usize,
    encapsulation_key_out: *mut u8,
    encapsulation_key_out_len: usize,
    decapsulation_key_out: *mut u8,
    decapsulation_key_out_len: usize,
) -> u32 {
    guard(|| {
        let level = mlkem::Level::from_number(level)?;
        let d = unsafe { input_array::<{ mlkem::SEED_PART_BYTES }>(d, d_len) }?;
        let z = unsafe { input_array::<{ mlkem::SEED_PART_BYTES }>(z, z_len) }?;
        let ek_out = output(
            encapsulation_key_out,
            encapsulation_key_out_len,
            level.encapsulation_key_bytes(),
        )?;
        let dk_out = output(
            decapsulation_key_out,
            decapsulation_key_out_len,
            level.decapsulation_key_bytes(),
        )?;
        let pair = mlkem::keygen(level, d, z);
        unsafe { ek_out.write(&pair.encapsulation_key) }?;
        unsafe { dk_out.write(&pair.decapsulation_key) }
    })
}

/// ML-KEM Encaps(ek, m) with the caller's 32-byte `m`: writes the ciphertext and the 32-byte
/// shared key. An `ek` that fails the FIPS 203 modulus check gives `BadKey`.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mlkem_encaps(
    level: u32,
    encapsulation_key: *const u8,
    encapsulation_key_len: usize,
    m: *const u8,
    m_len: usize,
    ciphertext_out: *mut u8,
    ciphertext_out_len: usize,
    shared_key_out: *mut u8,
    shared_key_out_len: usize,
) -> u32 {
    guard(|| {
        let level = mlkem::Level::from_number(level)?;
        let ek = unsafe { input(encapsulation_key, encapsulation_key_len) }?;
        if ek.len() != level.encapsulation_key_bytes() {
            return Err(QudagResult::BadLength);
        }
        let m = unsafe { input_array::<{ mlkem::MESSAGE_BYTES }>(m, m_len) }?;
        let ct_out = output(ciphertext_out, ciphertext_out_len, level.ciphertext_bytes())?;
        let key_out = output(shared_key_out, shared_key_out_len, mlkem::SHARED_KEY_BYTES)?;
        let encapsulation = mlkem::encaps(level, ek, m)?;
        unsafe { ct_out.write(&encapsulation.ciphertext) }?;
        unsafe { key_out.write(&encapsulation.shared_key) }
    })
}

/// ML-KEM Decaps(dk, c): writes the 32-byte shared key (the implicit-rejection key for a
/// ciphertext that does not decrypt). A `dk` that fails the FIPS 203 hash check gives `BadKey`.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_mlkem_decaps(
    level: u32,
    decapsulation_key: *const u8,
    decapsulation_key_len: usize,
    ciphertext: *const u8,
    ciphertext_len: usize,
    shared_key_out: *mut u8,
    shared_key_out_len: usize,
) -> u32 {
    guard(|| {
        let level = mlkem::Level::from_number(level)?;
        let dk = unsafe { input(decapsulation_key, decapsulation_key_len) }?;
        let ct = unsafe { input(ciphertext, ciphertext_len) }?;
        let key_out = output(shared_key_out, shared_key_out_len, mlkem::SHARED_KEY_BYTES)?;
        let key = mlkem::decaps(level, dk, ct)?;
        unsafe { key_out.write(&key) }
    })
}

/// BLAKE3 hash of `data` with `out_len` bytes of output (1 ..= 1 MiB; 32 is the default digest).
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_blake3_hash(
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_len: usize,
) -> u32 {
    guard(|| {
        let data = unsafe { input(data, data_len) }?;
        blake3_hash::check_out_len(out_len)?;
        let out = output_any(out, out_len)?;
        let digest = blake3_hash::hash(data, out.len())?;
        unsafe { out.write(&digest) }
    })
}

/// BLAKE3 keyed hash (32-byte key) of `data` with `out_len` bytes of output.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_blake3_keyed_hash(
    key: *const u8,
    key_len: usize,
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_len: usize,
) -> u32 {
    guard(|| {
        let key = unsafe { input_array::<{ blake3_hash::KEY_BYTES }>(key, key_len) }?;
        let data = unsafe { input(data, data_len) }?;
        blake3_hash::check_out_len(out_len)?;
        let out = output_any(out, out_len)?;
        let digest = blake3_hash::keyed_hash(key, data, out.len())?;
        unsafe { out.write(&digest) }
    })
}

/// BLAKE3 derive-key: `context` (UTF-8) and key material, `out_len` bytes of output.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_blake3_derive_key(
    context: *const u8,
    context_len: usize,
    material: *const u8,
    material_len: usize,
    out: *mut u8,
    out_len: usize,
) -> u32 {
    guard(|| {
        let context = unsafe { input(context, context_len) }?;
        let material = unsafe { input(material, material_len) }?;
        blake3_hash::check_out_len(out_len)?;
        let out = output_any(out, out_len)?;
        let digest = blake3_hash::derive_key(context, material, out.len())?;
        unsafe { out.write(&digest) }
    })
}

/// The key, nonce and associated data every AES-256-GCM export takes first.
///
/// # Safety
/// Each pointer must be valid for its length.
unsafe fn aead_inputs<'a>(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
) -> abi::Outcome<(
    &'a [u8; aead::KEY_BYTES],
    &'a [u8; aead::NONCE_BYTES],
    &'a [u8],
)> {
    let key = unsafe { input_array::<{ aead::KEY_BYTES }>(key, key_len) }?;
    let nonce = unsafe { input_array::<{ aead::NONCE_BYTES }>(nonce, nonce_len) }?;
    let aad = unsafe { input(aad, aad_len) }?;
    Ok((key, nonce, aad))
}

/// AES-256-GCM seal: `plain` under a 32-byte key and 12-byte nonce, authenticating `aad`;
/// writes ciphertext ‖ 16-byte tag (`plain_len + 16` bytes).
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_aes256gcm_seal(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    plain: *const u8,
    plain_len: usize,
    sealed_out: *mut u8,
    sealed_out_len: usize,
) -> u32 {
    guard(|| {
        let (key, nonce, aad) =
            unsafe { aead_inputs(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        if plain_len > 0 && std::ptr::eq(plain, sealed_out) {
            // In place: the caller's buffer holds the plaintext and room for the tag after it.
            let mut out = output(
                sealed_out,
                sealed_out_len,
                plain_len
                    .checked_add(aead::TAG_BYTES)
                    .ok_or(QudagResult::BadLength)?,
            )?;
            if !(out.overlaps(key) || out.overlaps(nonce) || out.overlaps(aad)) {
                // SAFETY: the one buffer is valid for its length (the caller's promise) and no
                // other slice of it exists: the other inputs were checked apart from it.
                return aead::seal_in_place(key, nonce, aad, unsafe { out.as_mut_slice() });
            }
        }
        let plain = unsafe { input(plain, plain_len) }?;
        let mut out = output(sealed_out, sealed_out_len, plain.len() + aead::TAG_BYTES)?;
        if out.overlaps(plain) {
            let sealed = aead::seal(key, nonce, aad, plain)?;
            return unsafe { out.write(&sealed) };
        }
        // SAFETY: checked just above that no input shares a byte with the output.
        aead::seal_into(key, nonce, aad, plain, unsafe { out.as_mut_slice() })
    })
}

/// AES-256-GCM open: checks the tag of `sealed` (ciphertext ‖ tag) and writes the plaintext
/// (`sealed_len - 16` bytes, at least 1: the channel never seals an empty frame), or returns
/// `AuthenticationFailed`; `plain_out` then holds zeros, never unauthenticated plaintext.
///
/// # Safety
/// Each pointer must be valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qudag_aes256gcm_open(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    sealed: *const u8,
    sealed_len: usize,
    plain_out: *mut u8,
    plain_out_len: usize,
) -> u32 {
    guard(|| {
        let (key, nonce, aad) =
            unsafe { aead_inputs(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        if sealed_len > aead::TAG_BYTES && std::ptr::eq(sealed, plain_out) {
            // In place: the plaintext replaces the ciphertext at the start of the caller's buffer.
            let plain_len = sealed_len - aead::TAG_BYTES;
            let mut out = output(plain_out, plain_out_len, plain_len)?;
            // SAFETY: the tag follows the plaintext's bytes in the sealed input: no byte in common.
            let tag = unsafe { input(sealed.add(plain_len), aead::TAG_BYTES) }?;
            if !(out.overlaps(key) || out.overlaps(nonce) || out.overlaps(aad)) {
                // SAFETY: as in the seal above; the tag was checked apart from the output too.
                return aead::open_in_place(key, nonce, aad, unsafe { out.as_mut_slice() }, tag);
            }
        }
        let sealed = unsafe { input(sealed, sealed_len) }?;
        if sealed.len() < aead::TAG_BYTES {
            return Err(QudagResult::BadLength);
        }
        let mut out = output(plain_out, plain_out_len, sealed.len() - aead::TAG_BYTES)?;
        if out.overlaps(sealed) {
            let plain = aead::open(key, nonce, aad, sealed)?;
            return unsafe { out.write(&plain) };
        }
        // SAFETY: checked just above that no input shares a byte with the output.
        aead::open_into(key, nonce, aad, sealed, unsafe { out.as_mut_slice() })
    })
}
