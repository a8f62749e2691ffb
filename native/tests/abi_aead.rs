//! AES-256-GCM through the C ABI, as the peer channel calls it (src/net/channel.ts): separate
//! buffers, one buffer in place, and overlapping ones.

use qudag_native::abi::QudagResult;
use qudag_native::*;

/// The signature shared by `qudag_aes256gcm_seal` and `qudag_aes256gcm_open`.
type AeadExport = unsafe extern "C" fn(
    *const u8,
    usize,
    *const u8,
    usize,
    *const u8,
    usize,
    *const u8,
    usize,
    *mut u8,
    usize,
) -> u32;

/// `qudag_aes256gcm_seal`/`_open` through the C ABI: separate buffers, one buffer for input
/// and output (sealed and opened in place), and an output that overlaps the input elsewhere
/// (the copying path) give the same bytes; a modified byte is refused and leaves zeros, never
/// plaintext, in place too.
#[test]
fn aes256gcm_exports_in_place_and_overlapping() {
    let key = [3u8; 32];
    let nonce = [5u8; 12];
    let aad = b"frame header";
    let plain: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    // Both exports take the same arguments: key, nonce, aad, input, output.
    let call = |f: AeadExport, input: *const u8, len: usize, out: *mut u8, out_len: usize| unsafe {
        f(
            key.as_ptr(),
            32,
            nonce.as_ptr(),
            12,
            aad.as_ptr(),
            aad.len(),
            input,
            len,
            out,
            out_len,
        )
    };
    let seal = |input, len, out, out_len| call(qudag_aes256gcm_seal, input, len, out, out_len);
    let open = |input, len, out, out_len| call(qudag_aes256gcm_open, input, len, out, out_len);
    let mut sealed = vec![0u8; plain.len() + 16];
    assert_eq!(
        seal(
            plain.as_ptr(),
            plain.len(),
            sealed.as_mut_ptr(),
            sealed.len()
        ),
        QudagResult::Ok as u32
    );
    assert_eq!(sealed, aead::seal(&key, &nonce, aad, &plain).unwrap());

    // The same buffer holds the input and receives the output.
    let mut shared = plain.clone();
    shared.extend_from_slice(&[0u8; 16]);
    let p = shared.as_mut_ptr();
    assert_eq!(
        seal(p, plain.len(), p, plain.len() + 16),
        QudagResult::Ok as u32
    );
    assert_eq!(shared, sealed);
    assert_eq!(
        open(p, plain.len() + 16, p, plain.len()),
        QudagResult::Ok as u32
    );
    assert_eq!(&shared[..plain.len()], &plain[..]);

    // In place again, then a modified byte: the plaintext's place holds zeros.
    assert_eq!(
        seal(p, plain.len(), p, plain.len() + 16),
        QudagResult::Ok as u32
    );
    shared[77] ^= 1;
    assert_eq!(
        open(p, plain.len() + 16, p, plain.len()),
        QudagResult::AuthenticationFailed as u32
    );
    assert!(shared[..plain.len()].iter().all(|&b| b == 0));

    // The output starts 8 bytes into the input: the copying path, the same bytes.
    let mut shifted = vec![0u8; plain.len() + 24];
    shifted[..plain.len()].copy_from_slice(&plain);
    let q = shifted.as_mut_ptr();
    assert_eq!(
        seal(q, plain.len(), unsafe { q.add(8) }, plain.len() + 16),
        QudagResult::Ok as u32
    );
    assert_eq!(&shifted[8..], &sealed[..]);
    assert_eq!(
        open(unsafe { q.add(8) }, plain.len() + 16, q, plain.len()),
        QudagResult::Ok as u32
    );
    assert_eq!(&shifted[..plain.len()], &plain[..]);

    let mut opened = vec![0u8; plain.len()];
    assert_eq!(
        open(
            sealed.as_ptr(),
            sealed.len(),
            opened.as_mut_ptr(),
            opened.len()
        ),
        QudagResult::Ok as u32
    );
    assert_eq!(opened, plain);
    sealed[123] ^= 1;
    let mut refused = vec![0xaau8; plain.len()];
    assert_eq!(
        open(
            sealed.as_ptr(),
            sealed.len(),
            refused.as_mut_ptr(),
            refused.len()
        ),
        QudagResult::AuthenticationFailed as u32
    );
    assert!(refused.iter().all(|&b| b == 0));
}
