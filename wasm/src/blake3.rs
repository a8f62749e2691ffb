//! BLAKE3 (hash, keyed hash, derive key; extendable output), portable and
//! single-threaded. Written for this crate from the BLAKE3 specification
//! (Aumasson, Neves, O'Connor, Wilcox-O'Hearn, 2020) and checked against the
//! official test vectors in /work/shared/testdata/blake3 (see tests below).
//!
//! Why our own code and not the `blake3` crate: the committed .wasm is built
//! with Debian's rustc 1.63 by a plain `rustc` call, offline and byte for
//! byte reproducible. The crate needs cargo, a build script (`cc`) and a
//! registry fetch; a dependency-free module keeps the build a single command.
//!
//! Speed: a node hashes every transaction and vertex it receives here (their
//! ids, which consensus and the ledger key on), about 6 % of its busy time at
//! saturation before this was vectorised (bench/PROFILE_HISTORY.md). The WebAssembly
//! build has simd128 (wasm/build.sh): four whole chunks are compressed side by
//! side, one per vector lane, and a single block keeps its four rows in four
//! vectors. 7.2 KB hash in 6.5 µs instead of 12.1, 400 KB in 0.30 ms instead
//! of 0.64. The host build (cargo test) runs the word-by-word code.

const OUT_LEN: usize = 32;
const BLOCK_LEN: usize = 64;
const CHUNK_LEN: usize = 1024;

const CHUNK_START: u32 = 1 << 0;
const CHUNK_END: u32 = 1 << 1;
const PARENT: u32 = 1 << 2;
const ROOT: u32 = 1 << 3;
const KEYED_HASH: u32 = 1 << 4;
const DERIVE_KEY_CONTEXT: u32 = 1 << 5;
const DERIVE_KEY_MATERIAL: u32 = 1 << 6;

/// The initial chaining value: the same constants as SHA-256's IV.
const IV: [u32; 8] =
    [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19];

/// Message word order for the next round (the spec's permutation).
const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// The message words of the next round (words, or vectors of four lanes' words).
#[inline(always)]
fn permuted<T: Copy>(m: &[T; 16]) -> [T; 16] {
    let mut next = *m;
    for (i, &p) in MSG_PERMUTATION.iter().enumerate() {
        next[i] = m[p];
    }
    next
}

/// A compression's starting state: the chaining value, the first four IV
/// words, then counter (low, high), block length and flags.
#[inline(always)]
fn start_state<T: Copy>(cv: &[T; 8], iv: [T; 4], tail: [T; 4]) -> [T; 16] {
    [cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7], iv[0], iv[1], iv[2], iv[3], tail[0], tail[1], tail[2], tail[3]]
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn g(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, mx: u32, my: u32) {
    s[a] = s[a].wrapping_add(s[b]).wrapping_add(mx);
    s[d] = (s[d] ^ s[a]).rotate_right(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_right(12);
    s[a] = s[a].wrapping_add(s[b]).wrapping_add(my);
    s[d] = (s[d] ^ s[a]).rotate_right(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_right(7);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn round(s: &mut [u32; 16], m: &[u32; 16]) {
    // Columns, then diagonals.
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
}

/// The compression function. In the WebAssembly build (simd128) the state's
/// four rows are four vectors, so the four G functions of a column (then of a
/// diagonal) step run at once; elsewhere, one word at a time. Both compute the
/// same function (the official vectors are checked against each: the host's
/// tests below, the module's in src/core/mod_test.ts).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn compress(cv: &[u32; 8], block: &[u32; 16], counter: u64, block_len: u32, flags: u32) -> [u32; 16] {
    let mut s = start_state(cv, [IV[0], IV[1], IV[2], IV[3]], [counter as u32, (counter >> 32) as u32, block_len, flags]);
    let mut m = *block;
    for r in 0..7 {
        round(&mut s, &m);
        if r < 6 {
            m = permuted(&m);
        }
    }
    for i in 0..8 {
        s[i] ^= s[i + 8];
        s[i + 8] ^= cv[i];
    }
    s
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn compress(cv: &[u32; 8], block: &[u32; 16], counter: u64, block_len: u32, flags: u32) -> [u32; 16] {
    simd::compress(cv, block, counter, block_len, flags)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{permuted, start_state, BLOCK_LEN, CHUNK_END, CHUNK_LEN, CHUNK_START, IV};
    use core::arch::wasm32::*;

    #[inline(always)]
    fn rotr<const N: u32, const L: u32>(x: v128) -> v128 {
        v128_or(u32x4_shr(x, N), i32x4_shl(x, L))
    }

    /// Four G functions at once: lane i of each row is the i-th G's (a, b, c, d).
    #[inline(always)]
    fn g4(r: &mut [v128; 4], mx: v128, my: v128) {
        r[0] = i32x4_add(i32x4_add(r[0], r[1]), mx);
        r[3] = rotr::<16, 16>(v128_xor(r[3], r[0]));
        r[2] = i32x4_add(r[2], r[3]);
        r[1] = rotr::<12, 20>(v128_xor(r[1], r[2]));
        r[0] = i32x4_add(i32x4_add(r[0], r[1]), my);
        r[3] = rotr::<8, 24>(v128_xor(r[3], r[0]));
        r[2] = i32x4_add(r[2], r[3]);
        r[1] = rotr::<7, 25>(v128_xor(r[1], r[2]));
    }

    #[inline(always)]
    fn gv(s: &mut [v128; 16], a: usize, b: usize, c: usize, d: usize, mx: v128, my: v128) {
        s[a] = i32x4_add(i32x4_add(s[a], s[b]), mx);
        s[d] = rotr::<16, 16>(v128_xor(s[d], s[a]));
        s[c] = i32x4_add(s[c], s[d]);
        s[b] = rotr::<12, 20>(v128_xor(s[b], s[c]));
        s[a] = i32x4_add(i32x4_add(s[a], s[b]), my);
        s[d] = rotr::<8, 24>(v128_xor(s[d], s[a]));
        s[c] = i32x4_add(s[c], s[d]);
        s[b] = rotr::<7, 25>(v128_xor(s[b], s[c]));
    }

    #[inline(always)]
    fn word(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    /// The chaining values of four whole chunks side by side (each 1024
    /// bytes, numbered from `counter`): lane j of every vector is chunk j's
    /// state, so one vector operation advances all four.
    pub(super) fn chunk_cvs4(key: &[u32; 8], chunks: [&[u8]; 4], counter: u64, flags: u32) -> [[u32; 8]; 4] {
        let mut cv = [u32x4_splat(0); 8];
        for (v, k) in cv.iter_mut().zip(key.iter()) {
            *v = u32x4_splat(*k);
        }
        let c = [counter, counter + 1, counter + 2, counter + 3];
        let counter_lo = u32x4(c[0] as u32, c[1] as u32, c[2] as u32, c[3] as u32);
        let counter_hi = u32x4((c[0] >> 32) as u32, (c[1] >> 32) as u32, (c[2] >> 32) as u32, (c[3] >> 32) as u32);
        for b in 0..CHUNK_LEN / BLOCK_LEN {
            let mut m = [u32x4_splat(0); 16];
            for (w, v) in m.iter_mut().enumerate() {
                let at = b * BLOCK_LEN + 4 * w;
                *v = u32x4(word(chunks[0], at), word(chunks[1], at), word(chunks[2], at), word(chunks[3], at));
            }
            let start = if b == 0 { CHUNK_START } else { 0 };
            let end = if b == CHUNK_LEN / BLOCK_LEN - 1 { CHUNK_END } else { 0 };
            let iv = [u32x4_splat(IV[0]), u32x4_splat(IV[1]), u32x4_splat(IV[2]), u32x4_splat(IV[3])];
            let tail = [counter_lo, counter_hi, u32x4_splat(BLOCK_LEN as u32), u32x4_splat(flags | start | end)];
            let mut s = start_state(&cv, iv, tail);
            for round in 0..7 {
                gv(&mut s, 0, 4, 8, 12, m[0], m[1]);
                gv(&mut s, 1, 5, 9, 13, m[2], m[3]);
                gv(&mut s, 2, 6, 10, 14, m[4], m[5]);
                gv(&mut s, 3, 7, 11, 15, m[6], m[7]);
                gv(&mut s, 0, 5, 10, 15, m[8], m[9]);
                gv(&mut s, 1, 6, 11, 12, m[10], m[11]);
                gv(&mut s, 2, 7, 8, 13, m[12], m[13]);
                gv(&mut s, 3, 4, 9, 14, m[14], m[15]);
                if round < 6 {
                    m = permuted(&m);
                }
            }
            for i in 0..8 {
                cv[i] = v128_xor(s[i], s[i + 8]);
            }
        }
        let mut out = [[0u32; 8]; 4];
        for (i, v) in cv.iter().enumerate() {
            out[0][i] = u32x4_extract_lane::<0>(*v);
            out[1][i] = u32x4_extract_lane::<1>(*v);
            out[2][i] = u32x4_extract_lane::<2>(*v);
            out[3][i] = u32x4_extract_lane::<3>(*v);
        }
        out
    }

    pub(super) fn compress(cv: &[u32; 8], block: &[u32; 16], counter: u64, block_len: u32, flags: u32) -> [u32; 16] {
        let cv0 = u32x4(cv[0], cv[1], cv[2], cv[3]);
        let cv1 = u32x4(cv[4], cv[5], cv[6], cv[7]);
        let mut r = [cv0, cv1, u32x4(IV[0], IV[1], IV[2], IV[3]), u32x4(counter as u32, (counter >> 32) as u32, block_len, flags)];
        let mut m = *block;
        for round in 0..7 {
            // Columns: G(0, 4, 8, 12) .. G(3, 7, 11, 15).
            g4(&mut r, u32x4(m[0], m[2], m[4], m[6]), u32x4(m[1], m[3], m[5], m[7]));
            // Diagonals: rotate rows 1, 2, 3 left by 1, 2, 3 lanes, so lane i holds G(i, 4 + (i + 1) % 4, ..).
            r[1] = i32x4_shuffle::<1, 2, 3, 0>(r[1], r[1]);
            r[2] = i32x4_shuffle::<2, 3, 0, 1>(r[2], r[2]);
            r[3] = i32x4_shuffle::<3, 0, 1, 2>(r[3], r[3]);
            g4(&mut r, u32x4(m[8], m[10], m[12], m[14]), u32x4(m[9], m[11], m[13], m[15]));
            r[1] = i32x4_shuffle::<3, 0, 1, 2>(r[1], r[1]);
            r[2] = i32x4_shuffle::<2, 3, 0, 1>(r[2], r[2]);
            r[3] = i32x4_shuffle::<1, 2, 3, 0>(r[3], r[3]);
            if round < 6 {
                m = permuted(&m);
            }
        }
        let rows = [v128_xor(r[0], r[2]), v128_xor(r[1], r[3]), v128_xor(r[2], cv0), v128_xor(r[3], cv1)];
        let mut out = [0u32; 16];
        for (i, row) in rows.iter().enumerate() {
            out[4 * i] = u32x4_extract_lane::<0>(*row);
            out[4 * i + 1] = u32x4_extract_lane::<1>(*row);
            out[4 * i + 2] = u32x4_extract_lane::<2>(*row);
            out[4 * i + 3] = u32x4_extract_lane::<3>(*row);
        }
        out
    }
}

fn first_8(words: &[u32; 16]) -> [u32; 8] {
    let mut out = [0u32; 8];
    out.copy_from_slice(&words[..8]);
    out
}

/// Little-endian words of a block of at most 64 bytes, zero padded.
fn block_words(bytes: &[u8]) -> [u32; 16] {
    let mut padded = [0u8; BLOCK_LEN];
    padded[..bytes.len()].copy_from_slice(bytes);
    let mut words = [0u32; 16];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u32::from_le_bytes([padded[4 * i], padded[4 * i + 1], padded[4 * i + 2], padded[4 * i + 3]]);
    }
    words
}

fn key_words(key: &[u8; 32]) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
    }
    words
}

/// The inputs of one compression that has not been run yet: either a chaining
/// value for the node above it, or (with ROOT) the root's output stream.
struct Output {
    input_cv: [u32; 8],
    block: [u32; 16],
    counter: u64,
    block_len: u32,
    flags: u32,
}

impl Output {
    fn chaining_value(&self) -> [u32; 8] {
        first_8(&compress(&self.input_cv, &self.block, self.counter, self.block_len, self.flags))
    }

    fn root_bytes(&self, out: &mut [u8]) {
        // Each compression of the root yields 64 output bytes; the output
        // block counter runs from 0.
        for (block_index, out_block) in out.chunks_mut(BLOCK_LEN).enumerate() {
            let words = compress(&self.input_cv, &self.block, block_index as u64, self.block_len, self.flags | ROOT);
            for (word, dst) in words.iter().zip(out_block.chunks_mut(4)) {
                let le = word.to_le_bytes();
                dst.copy_from_slice(&le[..dst.len()]);
            }
        }
    }
}

/// Compress all but the last block of one chunk (at most 1024 bytes, may be
/// empty only for an empty message) and return the last block's Output.
fn chunk_output(key: &[u32; 8], chunk: &[u8], chunk_counter: u64, flags: u32) -> Output {
    let mut cv = *key;
    let block_count = if chunk.is_empty() { 1 } else { (chunk.len() + BLOCK_LEN - 1) / BLOCK_LEN };
    for i in 0..block_count - 1 {
        let start_flag = if i == 0 { CHUNK_START } else { 0 };
        let block = block_words(&chunk[i * BLOCK_LEN..(i + 1) * BLOCK_LEN]);
        cv = first_8(&compress(&cv, &block, chunk_counter, BLOCK_LEN as u32, flags | start_flag));
    }
    let last = &chunk[(block_count - 1) * BLOCK_LEN..];
    let start_flag = if block_count == 1 { CHUNK_START } else { 0 };
    Output {
        input_cv: cv,
        block: block_words(last),
        counter: chunk_counter,
        block_len: last.len() as u32,
        flags: flags | start_flag | CHUNK_END,
    }
}

fn parent_output(key: &[u32; 8], left: &[u32; 8], right: &[u32; 8], flags: u32) -> Output {
    let mut block = [0u32; 16];
    block[..8].copy_from_slice(left);
    block[8..].copy_from_slice(right);
    Output { input_cv: *key, block, counter: 0, block_len: BLOCK_LEN as u32, flags: flags | PARENT }
}

/// Chunks of `len` input bytes: at least one, since an empty input is one empty chunk.
fn chunk_count(len: usize) -> usize {
    if len == 0 {
        1
    } else {
        (len + CHUNK_LEN - 1) / CHUNK_LEN
    }
}

/// The root Output of `input` under `key` and mode `flags`.
///
/// The tree is the spec's left-complete binary tree over 1024-byte chunks,
/// built with a stack of subtree chaining values: after the n-th chunk (n
/// counted from 1) one merge happens for every trailing zero bit of n. The
/// last chunk is kept back so that whatever ends up at the top is finalised
/// with ROOT. The stack holds at most 54 entries (2^54 chunks cover 2^64 bytes).
fn root_output(key: &[u32; 8], input: &[u8], flags: u32) -> Output {
    let mut stack: Vec<[u32; 8]> = Vec::new();
    push_whole_chunks(key, &mut stack, input, 0, chunk_count(input.len()) - 1, flags);
    finish(key, stack, input, flags)
}

/// Pushes chunks `from..to` of `input` (each a whole 1024 bytes) onto the stack.
fn push_whole_chunks(key: &[u32; 8], stack: &mut Vec<[u32; 8]>, input: &[u8], from: usize, to: usize, flags: u32) {
    let mut index = from;
    while index < to {
        let group = (to - index).min(4);
        let cvs = whole_chunk_cvs(key, &input[index * CHUNK_LEN..(index + group) * CHUNK_LEN], index as u64, flags);
        for cv in cvs.into_iter().take(group) {
            push_chunk_cv(key, stack, cv, index, flags);
            index += 1;
        }
    }
}

/// The root Output of `input` once the stack holds every chunk of it but the
/// last: the last chunk, then one merge per subtree waiting on the stack.
fn finish(key: &[u32; 8], mut stack: Vec<[u32; 8]>, input: &[u8], flags: u32) -> Output {
    let last_index = chunk_count(input.len()) - 1;
    let mut output = chunk_output(key, &input[last_index * CHUNK_LEN..], last_index as u64, flags);
    while let Some(left) = stack.pop() {
        output = parent_output(key, &left, &output.chaining_value(), flags);
    }
    output
}

/// The chaining values of up to four whole chunks (`chunks`, numbered from
/// `counter`): side by side in one pass when the build has simd128 and there
/// are two or more (the lanes past them repeat the first chunk, and their
/// values are dropped), else one by one. Entries past the chunks given are
/// unused.
fn whole_chunk_cvs(key: &[u32; 8], chunks: &[u8], counter: u64, flags: u32) -> [[u32; 8]; 4] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if chunks.len() >= 2 * CHUNK_LEN {
        let lane = |j: usize| {
            let at = if (j + 1) * CHUNK_LEN <= chunks.len() { j * CHUNK_LEN } else { 0 };
            &chunks[at..at + CHUNK_LEN]
        };
        return simd::chunk_cvs4(key, [lane(0), lane(1), lane(2), lane(3)], counter, flags);
    }
    let mut out = [[0u32; 8]; 4];
    for (j, chunk) in chunks.chunks(CHUNK_LEN).enumerate() {
        out[j] = chunk_output(key, chunk, counter + j as u64, flags).chaining_value();
    }
    out
}

/// Adds the chaining value of chunk `index` to the stack, merging the
/// subtrees it completes.
fn push_chunk_cv(key: &[u32; 8], stack: &mut Vec<[u32; 8]>, chunk_cv: [u32; 8], index: usize, flags: u32) {
    let mut cv = chunk_cv;
    {
        let mut total = (index + 1) as u64;
        while total & 1 == 0 {
            // The stack is never empty here: `total` has a trailing zero only
            // when an earlier subtree of the same size is waiting on it.
            let left = stack.pop().unwrap_or(*key);
            cv = parent_output(key, &left, &cv, flags).chaining_value();
            total >>= 1;
        }
        stack.push(cv);
    }
}

/// BLAKE3-256 of `input`.
pub fn hash(input: &[u8]) -> [u8; OUT_LEN] {
    let mut out = [0u8; OUT_LEN];
    root_output(&IV, input, 0).root_bytes(&mut out);
    out
}

/// BLAKE3-256 of `input[..prefix_len]` and of `input` (a vertex's body and its
/// signed bytes), in about the time of the second alone: a chunk of the
/// prefix has the same chaining value in both trees (it depends only on its
/// bytes and its index), so the whole chunks they share are hashed once.
/// `prefix_len` past the end of `input` is taken as its length.
pub fn hash_prefix_and_whole(input: &[u8], prefix_len: usize) -> ([u8; OUT_LEN], [u8; OUT_LEN]) {
    let prefix = &input[..prefix_len.min(input.len())];
    let shared = chunk_count(prefix.len()) - 1;
    let mut stack: Vec<[u32; 8]> = Vec::new();
    push_whole_chunks(&IV, &mut stack, input, 0, shared, 0);
    let mut of_prefix = [0u8; OUT_LEN];
    finish(&IV, stack.clone(), prefix, 0).root_bytes(&mut of_prefix);
    push_whole_chunks(&IV, &mut stack, input, shared, chunk_count(input.len()) - 1, 0);
    let mut of_input = [0u8; OUT_LEN];
    finish(&IV, stack, input, 0).root_bytes(&mut of_input);
    (of_prefix, of_input)
}

/// BLAKE3 extendable output: fills `out` (any length) with the output stream.
pub fn hash_xof(input: &[u8], out: &mut [u8]) {
    root_output(&IV, input, 0).root_bytes(out);
}

/// BLAKE3 keyed hash, extendable output.
pub fn keyed_hash_xof(key: &[u8; 32], input: &[u8], out: &mut [u8]) {
    root_output(&key_words(key), input, KEYED_HASH).root_bytes(out);
}

/// BLAKE3 derive-key mode, extendable output.
pub fn derive_key_xof(context: &str, material: &[u8], out: &mut [u8]) {
    let mut context_key = [0u8; 32];
    root_output(&IV, context.as_bytes(), DERIVE_KEY_CONTEXT).root_bytes(&mut context_key);
    root_output(&key_words(&context_key), material, DERIVE_KEY_MATERIAL).root_bytes(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{hex, json_cases};

    const VECTORS: &str = include_str!("../testdata/blake3_test_vectors.json");

    fn input_of(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn official_vectors_all_modes() {
        let cases = json_cases(VECTORS);
        assert!(cases.len() >= 35, "expected the full vector file, got {} cases", cases.len());
        let key: [u8; 32] = *b"whats the Elvish word for friend";
        let context = "BLAKE3 2019-12-27 16:29:52 test vectors context";
        for case in &cases {
            let input = input_of(case.input_len);
            let expected_len = case.hash.len() / 2;

            let mut out = vec![0u8; expected_len];
            hash_xof(&input, &mut out);
            assert_eq!(hex(&out), case.hash, "hash, input_len {}", case.input_len);
            assert_eq!(hex(&hash(&input)), case.hash[..64], "hash/32, input_len {}", case.input_len);

            keyed_hash_xof(&key, &input, &mut out);
            assert_eq!(hex(&out), case.keyed_hash, "keyed_hash, input_len {}", case.input_len);

            derive_key_xof(context, &input, &mut out);
            assert_eq!(hex(&out), case.derive_key, "derive_key, input_len {}", case.input_len);
        }
    }

    #[test]
    fn prefix_and_whole_equal_two_hashes() {
        // Around chunk edges, the four-chunk groups and the tree's merges; the whole input a signature longer.
        let lens = [0usize, 1, 63, 64, 1023, 1024, 1025, 2048, 3071, 4096, 4097, 5120, 8192, 9000, 16_385, 70_000];
        for &prefix_len in &lens {
            for extra in [0usize, 1, 1024, 4627, 9000] {
                let input = input_of(prefix_len + extra);
                let (p, w) = hash_prefix_and_whole(&input, prefix_len);
                assert_eq!(p, hash(&input[..prefix_len]), "prefix {} of {}", prefix_len, input.len());
                assert_eq!(w, hash(&input), "whole {} (prefix {})", input.len(), prefix_len);
            }
        }
        let input = input_of(100);
        assert_eq!(hash_prefix_and_whole(&input, 500), (hash(&input), hash(&input)));
    }

    #[test]
    fn prefix_of_extended_output_is_shorter_output() {
        let input = input_of(3000);
        let mut long = [0u8; 200];
        hash_xof(&input, &mut long);
        for len in [0usize, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129] {
            let mut short = vec![0u8; len];
            hash_xof(&input, &mut short);
            assert_eq!(&short[..], &long[..len]);
        }
    }
}
