//! ML-DSA-87 batch verification spread over threads.
//!
//! The caller packs the batch into one buffer (no pointers cross the boundary), each item as
//!
//! ```text
//! message_len: u32 LE | context_len: u8 | public_key: 2592 | signature: 4627 | context | message
//! ```
//!
//! and gets one byte per item back: 1 = valid, 0 = not valid. The buffer must be consumed exactly.
//! Up to `threads` workers of one lazily started pool (one thread per core, at most
//! THREADS_MAX) pull items from a shared counter, so a slow item or a busy core does not hold
//! the others back, and no call pays for starting threads.

use crate::abi::{Outcome, QudagResult};
use crate::mldsa87::{self, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

pub const ITEM_HEADER_BYTES: usize = 4 + 1 + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
/// Upper bound on items per call, so `count` cannot make the parser allocate without limit.
pub const ITEMS_MAX: usize = 1 << 20;
/// Upper bound on worker threads (the hint is clamped, not rejected, also to the core count).
pub const THREADS_MAX: usize = 64;
/// Stack per worker: libcrux keeps ML-DSA-87 matrices on the stack (~100 KiB at peak).
const WORKER_STACK_BYTES: usize = 1 << 21;

pub struct Item<'a> {
    pub public_key: &'a [u8; PUBLIC_KEY_BYTES],
    pub signature: &'a [u8; SIGNATURE_BYTES],
    pub context: &'a [u8],
    pub message: &'a [u8],
}

fn take<'a>(buffer: &mut &'a [u8], n: usize) -> Outcome<&'a [u8]> {
    if buffer.len() < n {
        return Err(QudagResult::BadArgument);
    }
    let (head, rest) = buffer.split_at(n);
    *buffer = rest;
    Ok(head)
}

/// Splits a packed batch into items; fails unless it holds exactly `count` well-formed items.
pub fn parse(packed: &[u8], count: usize) -> Outcome<Vec<Item<'_>>> {
    if count > ITEMS_MAX || count.saturating_mul(ITEM_HEADER_BYTES) > packed.len() {
        return Err(QudagResult::BadArgument);
    }
    let mut rest = packed;
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let message_len = u32::from_le_bytes(take(&mut rest, 4)?.try_into().unwrap_or([0; 4]));
        let context_len = take(&mut rest, 1)?[0] as usize;
        let public_key = take(&mut rest, PUBLIC_KEY_BYTES)?
            .try_into()
            .map_err(|_| QudagResult::BadArgument)?;
        let signature = take(&mut rest, SIGNATURE_BYTES)?
            .try_into()
            .map_err(|_| QudagResult::BadArgument)?;
        let context = take(&mut rest, context_len)?;
        let message = take(&mut rest, message_len as usize)?;
        items.push(Item {
            public_key,
            signature,
            context,
            message,
        });
    }
    if !rest.is_empty() {
        return Err(QudagResult::BadArgument);
    }
    Ok(items)
}

fn verify_one(item: &Item<'_>) -> u8 {
    // The context is at most 255 bytes by construction (u8 length), so the only outcomes are
    // valid or not valid.
    match mldsa87::verify(item.public_key, item.message, item.context, item.signature) {
        Ok(true) => 1,
        _ => 0,
    }
}

static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, THREADS_MAX)
}

/// The shared worker pool, or None when its threads could not be started (then the calling
/// thread does all the work).
fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores())
            .thread_name(|i| format!("qudag-verify-{i}"))
            .stack_size(WORKER_STACK_BYTES)
            .build()
            .ok()
    })
    .as_ref()
}

/// Verifies every item on up to `threads` threads (clamped to 1..=cores).
pub fn verify(items: &[Item<'_>], threads: usize) -> Vec<u8> {
    let results: Vec<AtomicU8> = items.iter().map(|_| AtomicU8::new(0)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else { break };
            results[index].store(verify_one(item), Ordering::Relaxed);
        }
    };
    let threads = threads
        .clamp(1, THREADS_MAX)
        .min(items.len().max(1))
        .min(cores());
    match pool() {
        Some(pool) if threads > 1 => pool.scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| work());
            }
        }),
        _ => work(),
    }
    results.into_iter().map(AtomicU8::into_inner).collect()
}
