//! The export layer: the only code that touches raw pointers. Every export
//! takes its input as (ptr, len) in memory the host got from `qudag_alloc`
//! (and frees with `qudag_free`), returns a `Code` as u32 (0 = ok), and
//! leaves its output in the result buffer (`qudag_result_ptr` /
//! `qudag_result_len`): the output bytes on success, the UTF-8 error message
//! on failure. The result buffer is valid until the next call. No export
//! reads a clock, a random source or any I/O.

use std::alloc::{alloc, dealloc, Layout};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{fail, Code, Error, Result};
use crate::fee::{self, FeeParams};
use crate::frame::{self, tag, Out};
use crate::ledger::{self, State};
use crate::limits::*;
use crate::tx::{self, Transaction};
use crate::vertex;
use crate::{amount, blake3};

/// Bumped on any change to exports, the frame tags or the result convention.
/// 2: the ledger exports (`qudag_ledger_*`).
/// 3: a packed concurrent set, `qudag_ledger_cut_hashes` / `_cut_snapshot`,
///    export v2, settling drops receipts.
/// 4: `qudag_vertex_decode` gives places in its input (transaction spans, the
///    unsigned length, the signing domains) and each transaction's decoded
///    account, nonce, kind and key, instead of copies of the bytes.
/// 5: `qudag_ledger_prepare` takes a frame; it and the apply request take the
///    transaction's id when the host has it from the core (`TX_ID`).
/// 6: vertex version 2, signed over the digest of its body: vertex frames
///    carry `VERSION`, `qudag_vertex_decode` gives `BODY_DIGEST` and
///    `qudag_vertex_signing_message` a frame with the message and the body.
pub const ABI_VERSION: u32 = 6;

thread_local! {
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Open ledgers by handle (index + 1); a freed slot is None and reused.
    static LEDGERS: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// An open ledger and the view its last apply used (speed only; see ledger::ViewCache).
struct Slot {
    state: State,
    cache: ledger::ViewCache,
}

/// Most ledgers open at once in one module instance.
const LEDGERS_MAX: usize = 1_024;

fn ledger_open(state: State) -> Result<Vec<u8>> {
    LEDGERS.with(|l| {
        let mut l = l.borrow_mut();
        let slot = match l.iter().position(|s| s.is_none()) {
            Some(i) => i,
            None if l.len() < LEDGERS_MAX => {
                l.push(None);
                l.len() - 1
            }
            None => fail!(InvalidInput, "Cannot open a ledger: {} are open, the limit", LEDGERS_MAX),
        };
        l[slot] = Some(Slot { state, cache: None });
        Ok(((slot + 1) as u32).to_le_bytes().to_vec())
    })
}

/// Runs `f` on the open ledger `handle`.
fn with_slot<T>(handle: u32, f: impl FnOnce(&mut Slot) -> Result<T>) -> Result<T> {
    LEDGERS.with(|l| {
        let mut l = l.borrow_mut();
        match (handle as usize).checked_sub(1).and_then(|i| l.get_mut(i)).and_then(|s| s.as_mut()) {
            Some(slot) => f(slot),
            None => fail!(InvalidInput, "{} is not an open ledger handle", handle),
        }
    })
}

/// Runs `f` on the state of the open ledger `handle`.
fn with_ledger<T>(handle: u32, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    with_slot(handle, |slot| f(&mut slot.state))
}

fn set_result(bytes: Vec<u8>) {
    RESULT.with(|r| *r.borrow_mut() = bytes);
}

/// Run `f` on the input slice, store its output or error message, return the code.
fn run(ptr: *const u8, len: usize, f: impl FnOnce(&[u8]) -> Result<Vec<u8>>) -> u32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if len == 0 {
            return f(&[]);
        }
        if ptr.is_null() {
            fail!(InvalidInput, "Null input pointer with length {}", len);
        }
        // Safety: the host passes a buffer it allocated with qudag_alloc(len)
        // and does not touch it during the call.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        f(input)
    }));
    let result = outcome.unwrap_or_else(|_| Err(Error::new(Code::Internal, "internal error: the core panicked")));
    match result {
        Ok(out) => {
            set_result(out);
            0
        }
        Err(e) => {
            let code = e.code as u32;
            set_result(e.message.into_bytes());
            code
        }
    }
}

#[no_mangle]
pub extern "C" fn qudag_abi_version() -> u32 {
    ABI_VERSION
}

/// Returns a buffer of `len` bytes (alignment 8), or null if out of memory.
/// A zero-length request returns a non-null dangling pointer.
#[no_mangle]
pub extern "C" fn qudag_alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return 8 as *mut u8;
    }
    match Layout::from_size_align(len, 8) {
        // Safety: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees a buffer from `qudag_alloc(len)`; `len` must be the same value.
///
/// # Safety
/// `ptr` must come from `qudag_alloc(len)` and not have been freed already.
#[no_mangle]
pub unsafe extern "C" fn qudag_free(ptr: *mut u8, len: usize) {
    if len == 0 || ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 8) {
        // Safety: the caller guarantees ptr came from qudag_alloc(len).
        unsafe { dealloc(ptr, layout) };
    }
}

#[no_mangle]
pub extern "C" fn qudag_result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

#[no_mangle]
pub extern "C" fn qudag_result_len() -> usize {
    RESULT.with(|r| r.borrow().len())
}

/// The stable name of a result code into the result buffer; returns 0, or
/// `invalid_input` for a number that is not a code.
#[no_mangle]
pub extern "C" fn qudag_error_name(code: u32) -> u32 {
    run(std::ptr::null(), 0, |_| match Code::from_u32(code) {
        Some(c) => Ok(c.name().as_bytes().to_vec()),
        None => fail!(InvalidInput, "{} is not a result code", code),
    })
}

/// `name=value` lines: every limit and constant the host may need.
#[no_mangle]
pub extern "C" fn qudag_constants() -> u32 {
    run(std::ptr::null(), 0, |_| {
        let pairs: [(&str, u64); 15] = [
            ("abi_version", u64::from(ABI_VERSION)),
            ("format_version", u64::from(tx::FORMAT_VERSION)),
            ("vertex_version", u64::from(vertex::VERTEX_VERSION)),
            ("tx_bytes_max", TX_BYTES_MAX as u64),
            ("data_bytes_max", DATA_BYTES_MAX as u64),
            ("memo_bytes_max", MEMO_BYTES_MAX as u64),
            ("name_bytes_max", NAME_BYTES_MAX as u64),
            ("reason_bytes_max", REASON_BYTES_MAX as u64),
            ("parents_max", PARENTS_MAX as u64),
            ("txs_per_vertex_max", TXS_PER_VERTEX_MAX as u64),
            ("vertex_bytes_max", VERTEX_BYTES_MAX as u64),
            ("blake3_output_bytes_max", BLAKE3_OUTPUT_BYTES_MAX as u64),
            ("units_per_ruv", amount::UNITS_PER_RUV),
            ("amount_decimals", u64::from(amount::DECIMALS)),
            ("rate_scale_ppb", fee::RATE_SCALE_PPB),
        ];
        let mut text = String::new();
        for (k, v) in pairs.iter() {
            text.push_str(&format!("{}={}\n", k, v));
        }
        Ok(text.into_bytes())
    })
}

/// BLAKE3 of the input with `out_len` bytes of output (1..=65,536).
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_blake3_hash(ptr: *const u8, len: usize, out_len: usize) -> u32 {
    run(ptr, len, |input| {
        if out_len == 0 || out_len > BLAKE3_OUTPUT_BYTES_MAX {
            fail!(OutputTooLarge, "BLAKE3 output length {} is outside 1..={}", out_len, BLAKE3_OUTPUT_BYTES_MAX);
        }
        let mut out = vec![0u8; out_len];
        blake3::hash_xof(input, &mut out);
        Ok(out)
    })
}

fn tx_from_frame(input: &[u8]) -> Result<Transaction> {
    frame::read_transaction(input)
}

/// Frame (with signature) -> canonical signed transaction bytes.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_tx_encode(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| tx_from_frame(input)?.encode())
}

/// Frame (signature ignored if present) -> "qudag/tx/v1" || unsigned body.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_tx_signing_message(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| tx_from_frame(input)?.signing_message())
}

/// Signed bytes -> frame of the fields plus id, signing message, conflict key.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_tx_decode(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| Ok(frame::write_tx_info(&tx::inspect(input)?)))
}

/// Frame (with signature) -> canonical signed vertex bytes.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_vertex_encode(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| frame::read_vertex(input)?.encode())
}

/// Frame (signature ignored if present) -> frame of the signing message
/// (`SIGNING_MESSAGE`, vertex::signing_message_of) and the bytes before the
/// signature (`TX`), which the signature completes.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_vertex_signing_message(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let (body, message) = frame::read_vertex(input)?.unsigned()?;
        let mut o = Out::new();
        o.bytes(tag::SIGNING_MESSAGE, &message);
        o.bytes(tag::TX, &body);
        Ok(o.into_bytes())
    })
}

/// Signed bytes -> frame of the fields, places in the input and each
/// transaction's id and decoded fields (`frame::write_vertex_info`).
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_vertex_decode(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| Ok(frame::write_vertex_info(&vertex::inspect(input)?)))
}

/// The default fee parameters as a frame.
#[no_mangle]
pub extern "C" fn qudag_fee_defaults() -> u32 {
    run(std::ptr::null(), 0, |_| {
        let mut o = Out::new();
        frame::write_fee_params(&mut o, &FeeParams::DEFAULT);
        Ok(o.into_bytes())
    })
}

/// Fee parameters frame -> ok or `invalid_fee_params`.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_fee_params_validate(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        frame::read_fee_params_only(input)?.validate()?;
        Ok(Vec::new())
    })
}

/// Fee request frame -> frame with the rate (ppb) and, if an amount was
/// given, the fee.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_fee_compute(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let (params, fee_input, amount) = frame::read_fee_request(input)?;
        let rate = fee::rate_ppb(&params, &fee_input)?;
        let mut o = Out::new();
        o.u64(tag::RATE_PPB, rate);
        if let Some(amount) = amount {
            o.u64(tag::FEE, fee::fee_for_rate(amount, rate));
        }
        Ok(o.into_bytes())
    })
}

/// Decimal rUv text -> 8 bytes LE smallest units.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_amount_parse(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| Ok(amount::parse(input)?.to_le_bytes().to_vec()))
}

/// 8 bytes LE smallest units -> decimal rUv text.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_amount_format(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        if input.len() != 8 {
            fail!(InvalidInput, "An amount is 8 bytes, got {}", input.len());
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(input);
        Ok(amount::format(u64::from_le_bytes(a)).into_bytes())
    })
}

// ---------------------------------------------------------------- ledger

/// Genesis frame -> a new ledger; the result is its handle (u32 LE).
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_genesis(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| ledger_open(State::genesis(&frame::read_genesis(input)?)?))
}

/// Export bytes -> a ledger; the result is its handle (u32 LE).
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_import(ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| ledger_open(ledger::encode::import(input)?))
}

/// Closes a ledger and frees its memory.
#[no_mangle]
pub extern "C" fn qudag_ledger_free(handle: u32) -> u32 {
    run(std::ptr::null(), 0, |_| {
        with_ledger(handle, |_| Ok(()))?;
        LEDGERS.with(|l| l.borrow_mut()[handle as usize - 1] = None);
        Ok(Vec::new())
    })
}

/// The whole state (receipts and journal included) for persistence.
#[no_mangle]
pub extern "C" fn qudag_ledger_export(handle: u32) -> u32 {
    run(std::ptr::null(), 0, |_| with_ledger(handle, |s| Ok(ledger::encode::export(s))))
}

/// BLAKE3-256 of the canonical state: a function of the accepted set.
#[no_mangle]
pub extern "C" fn qudag_ledger_state_hash(handle: u32) -> u32 {
    run(std::ptr::null(), 0, |_| with_ledger(handle, |s| Ok(ledger::encode::state_hash(s).to_vec())))
}

/// Prepare request frame (signed tx bytes, optionally their id) -> id,
/// account, nonce, kind, signing message, the key that must have signed it
/// (absent if the account is unknown) and any earlier receipt.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_prepare(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let (bytes, known_id) = frame::read_prepare_request(input)?;
        let info = tx::inspect_as(&bytes, known_id)?;
        with_ledger(handle, |s| Ok(frame::write_prepared(&ledger::prepare(s, &info), &info.signing_message)))
    })
}

/// Apply request frame -> outcome frame (refusals are outcomes, code 0 here).
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_apply(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let req = frame::read_apply_request(input)?;
        let info = tx::inspect_as(&req.tx, req.tx_id)?;
        with_slot(handle, |slot| {
            let ctx = ledger::Context { vertex: req.vertex, time_ms: req.time_ms, concurrent: &req.concurrent };
            let out = ledger::apply_cached(&mut slot.state, &mut slot.cache, &info, req.signature_ok, &ctx)?;
            Ok(frame::write_outcome(&info.id, &out))
        })
    })
}

/// Apply request frame -> outcome frame of a dry run (`ledger::check`): the
/// state does not change; `vertex` and `concurrent` are ignored.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_check(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let req = frame::read_apply_request(input)?;
        let info = tx::inspect_as(&req.tx, req.tx_id)?;
        with_ledger(handle, |s| {
            Ok(frame::write_outcome(&info.id, &ledger::check(s, &info, req.signature_ok, req.time_ms)))
        })
    })
}

/// 32-byte account id -> account frame; `unknown_account` if absent.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_account(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let id = frame::to_hash(input, "account")?;
        with_ledger(handle, |s| match s.accounts.get(&id) {
            Some(a) => Ok(frame::write_account(s, &id, a)),
            None => fail!(UnknownAccount, "Account {} does not exist", crate::codec::hex(&id)),
        })
    })
}

/// Name -> the owning account id (32 bytes); `unknown_account` if unclaimed.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_lookup_name(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        with_ledger(handle, |s| match s.account_by_name(input) {
            Some(id) => Ok(id.to_vec()),
            None => fail!(UnknownAccount, "No account is named {:?}", String::from_utf8_lossy(input)),
        })
    })
}

/// Every account id, ascending, concatenated (32 bytes each).
#[no_mangle]
pub extern "C" fn qudag_ledger_accounts(handle: u32) -> u32 {
    run(std::ptr::null(), 0, |_| {
        with_ledger(handle, |s| Ok(s.accounts.keys().flat_map(|k| k.iter().copied()).collect()))
    })
}

/// Supply, roles, fee parameters, lock, audit log, counts and state hash.
#[no_mangle]
pub extern "C" fn qudag_ledger_status(handle: u32) -> u32 {
    run(std::ptr::null(), 0, |_| with_ledger(handle, |s| Ok(frame::write_status(s))))
}

/// {account, amount, ledger time} -> the rate and fee it would pay.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_fee_quote(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let (account, amount, time) = frame::read_fee_quote_request(input)?;
        with_ledger(handle, |s| Ok(frame::write_quote(&ledger::fee_quote(s, &account, amount, time)?)))
    })
}

/// Vertex ids (32 bytes each) that no later vertex can be concurrent to:
/// their journal entries and the receipts of the transactions they carried
/// first are dropped.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_settle(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let ids = frame::packed_hashes(input, "vertex ids")?;
        with_slot(handle, |slot| {
            for id in &ids {
                slot.state.settle(id);
            }
            slot.cache = None;
            Ok(Vec::new())
        })
    })
}

/// Excluded vertex ids (32 bytes each) -> frame with the state hash, the
/// journal hash and the journal size of the state without them
/// (`ledger::cut`): a checkpoint's hashes. The ledger does not change.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_cut_hashes(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let excluded = frame::packed_hashes(input, "excluded vertex ids")?;
        with_ledger(handle, |s| Ok(frame::write_cut_hashes(&ledger::cut(s, &excluded))))
    })
}

/// Excluded vertex ids (32 bytes each) -> the export of the state without
/// them (`ledger::cut`; no receipts): a checkpoint's snapshot, read back by
/// `qudag_ledger_import`. The ledger does not change.
///
/// # Safety
/// (`ptr`, `len`) must be a live buffer from `qudag_alloc`.
#[no_mangle]
pub unsafe extern "C" fn qudag_ledger_cut_snapshot(handle: u32, ptr: *const u8, len: usize) -> u32 {
    run(ptr, len, |input| {
        let excluded = frame::packed_hashes(input, "excluded vertex ids")?;
        with_ledger(handle, |s| Ok(ledger::encode::export(&ledger::cut(s, &excluded))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> Vec<u8> {
        RESULT.with(|r| r.borrow().clone())
    }

    fn call(f: unsafe extern "C" fn(*const u8, usize) -> u32, input: &[u8]) -> (u32, Vec<u8>) {
        let ptr = qudag_alloc(input.len());
        unsafe {
            std::ptr::copy_nonoverlapping(input.as_ptr(), ptr, input.len());
            let code = f(ptr, input.len());
            qudag_free(ptr, input.len());
            (code, result())
        }
    }

    #[test]
    fn result_convention() {
        let (code, out) = call(qudag_amount_parse, b"0.5");
        assert_eq!(code, 0);
        assert_eq!(out, 500_000u64.to_le_bytes());
        let (code, out) = call(qudag_amount_parse, b"-1");
        assert_eq!(code, Code::AmountInvalid as u32);
        assert!(String::from_utf8(out).unwrap().contains("negative"));
        assert_eq!(qudag_error_name(Code::TrailingBytes as u32), 0);
        assert_eq!(result(), b"trailing_bytes");
        assert_eq!(qudag_error_name(12345), Code::InvalidInput as u32);
        let (code, out) = call(qudag_amount_format, &u64::MAX.to_le_bytes());
        assert_eq!((code, out), (0, b"18446744073709.551615".to_vec()));
    }

    #[test]
    fn blake3_export_checks_output_length() {
        let ptr = qudag_alloc(3);
        unsafe {
            std::ptr::copy_nonoverlapping(b"abc".as_ptr(), ptr, 3);
            assert_eq!(qudag_blake3_hash(ptr, 3, 32), 0);
            assert_eq!(result(), blake3::hash(b"abc"));
            assert_eq!(qudag_blake3_hash(ptr, 3, 0), Code::OutputTooLarge as u32);
            assert_eq!(qudag_blake3_hash(ptr, 3, BLAKE3_OUTPUT_BYTES_MAX + 1), Code::OutputTooLarge as u32);
            qudag_free(ptr, 3);
        }
        assert_eq!(unsafe { qudag_blake3_hash(std::ptr::null(), 5, 32) }, Code::InvalidInput as u32);
    }
}
