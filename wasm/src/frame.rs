//! The field frame: how structured values cross the wasm boundary. It is
//! ABI, not consensus: a flat list of (u8 tag, u32 LE length, bytes) with
//! u64 as 8 bytes LE, u32 as 4 bytes LE, bool as 1 byte (0/1), names and
//! strings as UTF-8. Repeated tags form lists, in order. The host only packs
//! and unpacks fields; every rule (layout, order, limits) stays in Rust.
//! Parsing is strict: an unknown, repeated (where single) or leftover tag,
//! or a value of the wrong width, is `invalid_input`. A list that may be
//! longer than the field limit (a concurrent set) is one field of packed
//! 32-byte ids instead.

use crate::error::{fail, Result};
use crate::fee::{FeeInput, FeeParams};
use crate::tx::{self, Hash, Payload, Transaction, TxInfo};
use crate::vertex::{Vertex, VertexInfo, VERTEX_SIGNING_DOMAIN, VERTEX_SIGNING_DOMAIN_WHOLE_BODY, VERTEX_VERSION};

pub mod tag {
    pub const KIND: u8 = 1;
    pub const CHAIN_ID: u8 = 2;
    pub const ACCOUNT: u8 = 3;
    pub const NONCE: u8 = 4;
    pub const TIMESTAMP_MS: u8 = 5;
    pub const MAX_FEE: u8 = 6;
    pub const SIGNATURE: u8 = 7;
    pub const NAME: u8 = 8;
    pub const PUBLIC_KEY: u8 = 9;
    pub const TO: u8 = 10;
    pub const AMOUNT: u8 = 11;
    pub const MEMO: u8 = 12;
    pub const F_MIN_PPB: u8 = 13;
    pub const F_MAX_PPB: u8 = 14;
    pub const F_MIN_VERIFIED_PPB: u8 = 15;
    pub const F_MAX_VERIFIED_PPB: u8 = 16;
    pub const TIME_CONSTANT_MS: u8 = 17;
    pub const USAGE_THRESHOLD: u8 = 18;
    pub const AGENT: u8 = 19;
    pub const PROOF_DIGEST: u8 = 20;
    pub const EXPIRY_MS: u8 = 21;
    pub const CONFIG_HASH: u8 = 22;
    pub const GRACE_PERIOD_MS: u8 = 23;
    pub const REASON: u8 = 24;
    pub const DATA: u8 = 25;
    pub const AUTHOR: u8 = 40;
    pub const ROUND: u8 = 41;
    pub const PARENT: u8 = 42;
    pub const TX: u8 = 43;
    pub const VERIFIED: u8 = 50;
    pub const AGE_MS: u8 = 51;
    pub const USAGE: u8 = 52;
    pub const RATE_PPB: u8 = 53;
    pub const FEE: u8 = 54;
    pub const ID: u8 = 60;
    pub const SIGNING_MESSAGE: u8 = 61;
    pub const CONFLICT_KEY: u8 = 62;
    pub const TX_ID: u8 = 63;
    // Vertex decode (ABI 4): where things lie in the input instead of copies of them.
    pub const TX_AT: u8 = 64;
    pub const UNSIGNED_LEN: u8 = 65;
    pub const SIGNING_DOMAIN: u8 = 66;
    pub const TX_SIGNING_DOMAIN: u8 = 67;
    /// A vertex's version (u64): absent in a vertex frame from the host means the current one.
    pub const VERSION: u8 = 68;
    /// BLAKE3-256 of a vertex's bytes before the signature (version 2).
    pub const BODY_DIGEST: u8 = 69;
    // Ledger (ABI 2).
    pub const RESULT_CODE: u8 = 70;
    pub const DUPLICATE: u8 = 71;
    pub const MESSAGE: u8 = 72;
    pub const VERTEX: u8 = 73;
    pub const CONCURRENT: u8 = 74;
    pub const SIGNATURE_OK: u8 = 75;
    pub const LEDGER_TIME_MS: u8 = 76;
    pub const BALANCE: u8 = 77;
    pub const NEXT_NONCE: u8 = 78;
    pub const CREATED_MS: u8 = 79;
    pub const LAST_MS: u8 = 80;
    pub const MINTED: u8 = 81;
    pub const BURNED: u8 = 82;
    pub const SUPPLY_CAP: u8 = 83;
    pub const FEE_ACCOUNT: u8 = 84;
    pub const EXCHANGE_MASTER: u8 = 85;
    pub const FEE_ADMIN: u8 = 86;
    pub const AGENT_VERIFIER: u8 = 87;
    pub const GOVERNANCE: u8 = 88;
    pub const GENESIS_TIME_MS: u8 = 89;
    pub const LOCKED_MS: u8 = 90;
    pub const GRACE_END_MS: u8 = 91;
    pub const AUDIT: u8 = 92;
    pub const ACCOUNT_COUNT: u8 = 93;
    pub const STATE_HASH: u8 = 94;
    pub const CONCURRENT_DUPLICATE: u8 = 95;
    pub const ATTESTED_MS: u8 = 96;
    pub const LOCK_TX: u8 = 97;
    pub const NAME_OWNER: u8 = 98;
    pub const ACTION: u8 = 99;
    pub const JOURNAL_VERTICES: u8 = 100;
    pub const RESULT_COUNT: u8 = 101;
    pub const CURRENT_CONFIG_HASH: u8 = 102;
    pub const TOUCHED: u8 = 103;
    // ABI 3.
    pub const JOURNAL_HASH: u8 = 104;
    pub const APPLIED_VERTICES: u8 = 105;
}

/// Most fields one frame may carry (a vertex: 64 parents + 1,024
/// transactions + a few scalars). Bounds the parser's work.
const FIELDS_MAX: usize = 2_048;

pub struct Fields<'a> {
    items: Vec<(u8, &'a [u8], bool)>,
}

impl<'a> Fields<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Fields<'a>> {
        let mut items = Vec::new();
        let mut pos = 0usize;
        while pos < buf.len() {
            if items.len() == FIELDS_MAX {
                fail!(InvalidInput, "Bad field frame: more than {} fields", FIELDS_MAX);
            }
            if buf.len() - pos < 5 {
                fail!(InvalidInput, "Bad field frame: truncated field header at offset {}", pos);
            }
            let t = buf[pos];
            let len = u32::from_le_bytes([buf[pos + 1], buf[pos + 2], buf[pos + 3], buf[pos + 4]]) as usize;
            pos += 5;
            if len > buf.len() - pos {
                fail!(InvalidInput, "Bad field frame: field {} claims {} bytes, {} remain", t, len, buf.len() - pos);
            }
            items.push((t, &buf[pos..pos + len], false));
            pos += len;
        }
        Ok(Fields { items })
    }

    fn take_opt(&mut self, t: u8, name: &str) -> Result<Option<&'a [u8]>> {
        let mut found: Option<&'a [u8]> = None;
        for item in self.items.iter_mut() {
            if item.0 == t && !item.2 {
                if found.is_some() {
                    fail!(InvalidInput, "Bad field frame: field {} ({}) given twice", name, t);
                }
                item.2 = true;
                found = Some(item.1);
            }
        }
        Ok(found)
    }

    fn take(&mut self, t: u8, name: &str) -> Result<&'a [u8]> {
        match self.take_opt(t, name)? {
            Some(v) => Ok(v),
            None => fail!(InvalidInput, "Bad field frame: missing field {}", name),
        }
    }

    pub fn take_all(&mut self, t: u8) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        for item in self.items.iter_mut() {
            if item.0 == t && !item.2 {
                item.2 = true;
                out.push(item.1);
            }
        }
        out
    }

    pub fn bytes(&mut self, t: u8, name: &str) -> Result<Vec<u8>> {
        Ok(self.take(t, name)?.to_vec())
    }

    pub fn opt_bytes(&mut self, t: u8, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.take_opt(t, name)?.map(|v| v.to_vec()))
    }

    pub fn hash(&mut self, t: u8, name: &str) -> Result<Hash> {
        to_hash(self.take(t, name)?, name)
    }

    pub fn u64(&mut self, t: u8, name: &str) -> Result<u64> {
        let v = self.take(t, name)?;
        if v.len() != 8 {
            fail!(InvalidInput, "Bad field frame: {} is {} bytes, expected 8", name, v.len());
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(v);
        Ok(u64::from_le_bytes(a))
    }

    pub fn opt_u64(&mut self, t: u8, name: &str) -> Result<Option<u64>> {
        if self.items.iter().any(|i| i.0 == t && !i.2) {
            Ok(Some(self.u64(t, name)?))
        } else {
            Ok(None)
        }
    }

    pub fn u32(&mut self, t: u8, name: &str) -> Result<u32> {
        let v = self.take(t, name)?;
        if v.len() != 4 {
            fail!(InvalidInput, "Bad field frame: {} is {} bytes, expected 4", name, v.len());
        }
        Ok(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    }

    pub fn bool(&mut self, t: u8, name: &str) -> Result<bool> {
        match self.take(t, name)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => fail!(InvalidInput, "Bad field frame: {} must be one byte, 0 or 1", name),
        }
    }

    /// Every field must have been used: a leftover means the host sent a
    /// field this kind does not have, which is a bug worth reporting.
    pub fn finish(&self) -> Result<()> {
        if let Some(item) = self.items.iter().find(|i| !i.2) {
            fail!(InvalidInput, "Bad field frame: unexpected field tag {}", item.0);
        }
        Ok(())
    }
}

pub fn to_hash(v: &[u8], name: &str) -> Result<Hash> {
    if v.len() != 32 {
        fail!(InvalidInput, "Bad field frame: {} is {} bytes, expected 32", name, v.len());
    }
    let mut a = [0u8; 32];
    a.copy_from_slice(v);
    Ok(a)
}

#[derive(Default)]
pub struct Out {
    buf: Vec<u8>,
}

impl Out {
    pub fn new() -> Out {
        Out { buf: Vec::new() }
    }
    pub fn bytes(&mut self, t: u8, v: &[u8]) {
        self.buf.push(t);
        self.buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(v);
    }
    pub fn u64(&mut self, t: u8, v: u64) {
        self.bytes(t, &v.to_le_bytes());
    }
    pub fn u32(&mut self, t: u8, v: u32) {
        self.bytes(t, &v.to_le_bytes());
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

pub(crate) fn read_fee_params(f: &mut Fields) -> Result<FeeParams> {
    Ok(FeeParams {
        f_min_ppb: f.u32(tag::F_MIN_PPB, "f_min_ppb")?,
        f_max_ppb: f.u32(tag::F_MAX_PPB, "f_max_ppb")?,
        f_min_verified_ppb: f.u32(tag::F_MIN_VERIFIED_PPB, "f_min_verified_ppb")?,
        f_max_verified_ppb: f.u32(tag::F_MAX_VERIFIED_PPB, "f_max_verified_ppb")?,
        time_constant_ms: f.u64(tag::TIME_CONSTANT_MS, "time_constant_ms")?,
        usage_threshold: f.u64(tag::USAGE_THRESHOLD, "usage_threshold")?,
    })
}

pub fn write_fee_params(o: &mut Out, p: &FeeParams) {
    o.u32(tag::F_MIN_PPB, p.f_min_ppb);
    o.u32(tag::F_MAX_PPB, p.f_max_ppb);
    o.u32(tag::F_MIN_VERIFIED_PPB, p.f_min_verified_ppb);
    o.u32(tag::F_MAX_VERIFIED_PPB, p.f_max_verified_ppb);
    o.u64(tag::TIME_CONSTANT_MS, p.time_constant_ms);
    o.u64(tag::USAGE_THRESHOLD, p.usage_threshold);
}

/// A transaction from a frame; the signature is optional (empty if absent).
pub fn read_transaction(buf: &[u8]) -> Result<Transaction> {
    let mut f = Fields::parse(buf)?;
    let kind_name = f.take(tag::KIND, "kind")?;
    let kind = match tx::kind_by_name(kind_name) {
        Some(k) => k,
        None => fail!(UnknownKind, "Unknown transaction kind {:?}", String::from_utf8_lossy(kind_name)),
    };
    let chain_id = f.hash(tag::CHAIN_ID, "chain_id")?;
    let account = f.hash(tag::ACCOUNT, "account")?;
    let nonce = f.u64(tag::NONCE, "nonce")?;
    let timestamp_ms = f.u64(tag::TIMESTAMP_MS, "timestamp_ms")?;
    let max_fee = f.u64(tag::MAX_FEE, "max_fee")?;
    let signature = f.opt_bytes(tag::SIGNATURE, "signature")?.unwrap_or_default();
    let payload = match kind {
        1 => Payload::CreateAccount {
            name: f.bytes(tag::NAME, "name")?,
            public_key: f.bytes(tag::PUBLIC_KEY, "public_key")?,
        },
        2 => Payload::Transfer {
            to: f.hash(tag::TO, "to")?,
            amount: f.u64(tag::AMOUNT, "amount")?,
            memo: f.opt_bytes(tag::MEMO, "memo")?.unwrap_or_default(),
        },
        3 => Payload::Mint { to: f.hash(tag::TO, "to")?, amount: f.u64(tag::AMOUNT, "amount")? },
        4 => Payload::Burn { amount: f.u64(tag::AMOUNT, "amount")? },
        5 => Payload::ConfigureFees { params: read_fee_params(&mut f)? },
        6 => Payload::AttestAgent {
            agent: f.hash(tag::AGENT, "agent")?,
            proof_digest: f.hash(tag::PROOF_DIGEST, "proof_digest")?,
            expiry_ms: f.u64(tag::EXPIRY_MS, "expiry_ms")?,
        },
        7 => Payload::RevokeAgent { agent: f.hash(tag::AGENT, "agent")? },
        8 => Payload::ImmutableLock {
            config_hash: f.hash(tag::CONFIG_HASH, "config_hash")?,
            grace_period_ms: f.u64(tag::GRACE_PERIOD_MS, "grace_period_ms")?,
        },
        9 => Payload::GovernanceOverride {
            config_hash: f.hash(tag::CONFIG_HASH, "config_hash")?,
            reason: f.bytes(tag::REASON, "reason")?,
        },
        _ => Payload::Data { data: f.bytes(tag::DATA, "data")? },
    };
    f.finish()?;
    Ok(Transaction { chain_id, account, nonce, timestamp_ms, max_fee, payload, signature })
}

fn write_payload(o: &mut Out, p: &Payload) {
    match p {
        Payload::CreateAccount { name, public_key } => {
            o.bytes(tag::NAME, name);
            o.bytes(tag::PUBLIC_KEY, public_key);
        }
        Payload::Transfer { to, amount, memo } => {
            o.bytes(tag::TO, to);
            o.u64(tag::AMOUNT, *amount);
            o.bytes(tag::MEMO, memo);
        }
        Payload::Mint { to, amount } => {
            o.bytes(tag::TO, to);
            o.u64(tag::AMOUNT, *amount);
        }
        Payload::Burn { amount } => o.u64(tag::AMOUNT, *amount),
        Payload::ConfigureFees { params } => write_fee_params(o, params),
        Payload::AttestAgent { agent, proof_digest, expiry_ms } => {
            o.bytes(tag::AGENT, agent);
            o.bytes(tag::PROOF_DIGEST, proof_digest);
            o.u64(tag::EXPIRY_MS, *expiry_ms);
        }
        Payload::RevokeAgent { agent } => o.bytes(tag::AGENT, agent),
        Payload::ImmutableLock { config_hash, grace_period_ms } => {
            o.bytes(tag::CONFIG_HASH, config_hash);
            o.u64(tag::GRACE_PERIOD_MS, *grace_period_ms);
        }
        Payload::GovernanceOverride { config_hash, reason } => {
            o.bytes(tag::CONFIG_HASH, config_hash);
            o.bytes(tag::REASON, reason);
        }
        Payload::Data { data } => o.bytes(tag::DATA, data),
    }
}

pub fn write_tx_info(info: &TxInfo) -> Vec<u8> {
    let tx = &info.tx;
    let mut o = Out::new();
    o.bytes(tag::KIND, tx.payload.kind_name().as_bytes());
    o.bytes(tag::CHAIN_ID, &tx.chain_id);
    o.bytes(tag::ACCOUNT, &tx.account);
    o.u64(tag::NONCE, tx.nonce);
    o.u64(tag::TIMESTAMP_MS, tx.timestamp_ms);
    o.u64(tag::MAX_FEE, tx.max_fee);
    write_payload(&mut o, &tx.payload);
    o.bytes(tag::SIGNATURE, &tx.signature);
    o.bytes(tag::ID, &info.id);
    o.bytes(tag::SIGNING_MESSAGE, &info.signing_message);
    o.bytes(tag::CONFLICT_KEY, &info.conflict_key);
    o.into_bytes()
}

pub fn read_vertex(buf: &[u8]) -> Result<Vertex> {
    let mut f = Fields::parse(buf)?;
    let version = match f.opt_u64(tag::VERSION, "version")? {
        None => VERTEX_VERSION,
        Some(v) => match u8::try_from(v) {
            Ok(v) => v,
            Err(_) => fail!(UnknownVersion, "Cannot read vertex: version {}, expected {} (or 1)", v, VERTEX_VERSION),
        },
    };
    let chain_id = f.hash(tag::CHAIN_ID, "chain_id")?;
    let author = f.hash(tag::AUTHOR, "author")?;
    let round = f.u64(tag::ROUND, "round")?;
    let timestamp_ms = f.u64(tag::TIMESTAMP_MS, "timestamp_ms")?;
    let signature = f.opt_bytes(tag::SIGNATURE, "signature")?.unwrap_or_default();
    let mut parents = Vec::new();
    for p in f.take_all(tag::PARENT) {
        parents.push(to_hash(p, "parent")?);
    }
    let transactions = f.take_all(tag::TX).into_iter().map(|t| t.to_vec()).collect();
    f.finish()?;
    Ok(Vertex { version, chain_id, author, round, timestamp_ms, parents, transactions, signature })
}

/// A decoded vertex as places in its signed bytes (the input), not copies:
/// the host views the transactions and the signature in the bytes it passed
/// and builds the signing messages: a transaction's as its domain || its bytes
/// before the signature; the vertex's as its domain || the body digest, or for
/// version 1 (no digest) domain || the bytes before the signature. Per transaction, in order: its span (offset, length, unsigned
/// length: three u32), id, kind, account, nonce, and its key
/// for a `create_account` (empty otherwise).
pub fn write_vertex_info(info: &VertexInfo) -> Vec<u8> {
    let v = &info.vertex;
    let mut o = Out::new();
    o.u64(tag::VERSION, u64::from(v.version));
    o.bytes(tag::CHAIN_ID, &v.chain_id);
    o.bytes(tag::AUTHOR, &v.author);
    o.u64(tag::ROUND, v.round);
    o.u64(tag::TIMESTAMP_MS, v.timestamp_ms);
    for p in &v.parents {
        o.bytes(tag::PARENT, p);
    }
    for (t, (at, len)) in info.txs.iter().zip(info.tx_spans.iter()) {
        let mut span = [0u8; 12];
        span[..4].copy_from_slice(&(*at as u32).to_le_bytes());
        span[4..8].copy_from_slice(&(*len as u32).to_le_bytes());
        span[8..].copy_from_slice(&((t.signing_message.len() - tx::TX_SIGNING_DOMAIN.len()) as u32).to_le_bytes());
        o.bytes(tag::TX_AT, &span);
        o.bytes(tag::TX_ID, &t.id);
        o.bytes(tag::KIND, t.tx.payload.kind_name().as_bytes());
        o.bytes(tag::ACCOUNT, &t.tx.account);
        o.u64(tag::NONCE, t.tx.nonce);
        match &t.tx.payload {
            Payload::CreateAccount { public_key, .. } => o.bytes(tag::PUBLIC_KEY, public_key),
            _ => o.bytes(tag::PUBLIC_KEY, &[]),
        }
    }
    o.bytes(tag::ID, &info.id);
    o.u32(tag::UNSIGNED_LEN, info.unsigned_len as u32);
    match &info.body_digest {
        Some(digest) => {
            o.bytes(tag::SIGNING_DOMAIN, VERTEX_SIGNING_DOMAIN);
            o.bytes(tag::BODY_DIGEST, digest);
        }
        None => o.bytes(tag::SIGNING_DOMAIN, VERTEX_SIGNING_DOMAIN_WHOLE_BODY),
    }
    o.bytes(tag::TX_SIGNING_DOMAIN, tx::TX_SIGNING_DOMAIN);
    o.into_bytes()
}

/// Fee request: the six parameters, verified, age_ms, usage, optional amount.
pub fn read_fee_request(buf: &[u8]) -> Result<(FeeParams, FeeInput, Option<u64>)> {
    let mut f = Fields::parse(buf)?;
    let params = read_fee_params(&mut f)?;
    let input = FeeInput {
        verified: f.bool(tag::VERIFIED, "verified")?,
        age_ms: f.u64(tag::AGE_MS, "age_ms")?,
        usage: f.u64(tag::USAGE, "usage")?,
    };
    let amount = f.opt_u64(tag::AMOUNT, "amount")?;
    f.finish()?;
    Ok((params, input, amount))
}

pub fn read_fee_params_only(buf: &[u8]) -> Result<FeeParams> {
    let mut f = Fields::parse(buf)?;
    let params = read_fee_params(&mut f)?;
    f.finish()?;
    Ok(params)
}

// The ledger's frames (genesis, apply requests, receipts, accounts, status) are in frame_ledger.rs.
#[path = "frame_ledger.rs"]
mod ledger_frames;
pub use ledger_frames::*;

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
