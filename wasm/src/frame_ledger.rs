//! The ledger's field frames (ABI 2 and later): genesis, apply requests,
//! receipts and outcomes, accounts, status, cut hashes and fee quotes. Part of
//! `frame` (re-exported there), split out to keep each file to one concern.

use super::{read_fee_params, tag, to_hash, write_fee_params, Fields, Out};
use crate::error::{fail, Result};
use crate::ledger::{self, Account, Genesis, GenesisAccount, Outcome, Prepared, Quote, Receipt, Roles, State};
use crate::tx::Hash;

pub fn read_genesis(buf: &[u8]) -> Result<Genesis> {
    let mut f = Fields::parse(buf)?;
    let chain_id = f.hash(tag::CHAIN_ID, "chain_id")?;
    let time_ms = f.u64(tag::GENESIS_TIME_MS, "genesis_time_ms")?;
    let fee_params = read_fee_params(&mut f)?;
    let supply_cap = f.u64(tag::SUPPLY_CAP, "supply_cap")?;
    let roles = Roles {
        fee_account: f.hash(tag::FEE_ACCOUNT, "fee_account")?,
        exchange_master: f.hash(tag::EXCHANGE_MASTER, "exchange_master")?,
        fee_admin: f.hash(tag::FEE_ADMIN, "fee_admin")?,
        agent_verifier: f.hash(tag::AGENT_VERIFIER, "agent_verifier")?,
        governance: f.hash(tag::GOVERNANCE, "governance")?,
    };
    let names = f.take_all(tag::NAME);
    let keys = f.take_all(tag::PUBLIC_KEY);
    if names.len() != keys.len() {
        fail!(InvalidInput, "Bad field frame: {} genesis names but {} public keys", names.len(), keys.len());
    }
    let accounts = names
        .iter()
        .zip(keys.iter())
        .map(|(n, k)| GenesisAccount { name: n.to_vec(), public_key: k.to_vec() })
        .collect();
    f.finish()?;
    Ok(Genesis { chain_id, time_ms, fee_params, supply_cap, accounts, roles })
}

/// Apply request: signed tx bytes, whether its signature verified, the
/// carrier vertex, the ledger time and the concurrent vertices (one
/// `CONCURRENT` field of concatenated 32-byte ids; absent or empty = none).
/// An optional `TX_ID` is the transaction's id as the core gave it to the
/// host for these bytes (`tx::inspect_as`).
#[derive(Debug)]
pub struct ApplyRequest {
    pub tx: Vec<u8>,
    pub tx_id: Option<Hash>,
    pub signature_ok: bool,
    pub vertex: Hash,
    pub time_ms: u64,
    pub concurrent: Vec<Hash>,
}

pub fn read_apply_request(buf: &[u8]) -> Result<ApplyRequest> {
    let mut f = Fields::parse(buf)?;
    let tx = f.bytes(tag::TX, "tx")?;
    let tx_id = read_tx_id(&mut f)?;
    let signature_ok = f.bool(tag::SIGNATURE_OK, "signature_ok")?;
    let vertex = f.hash(tag::VERTEX, "vertex")?;
    let time_ms = f.u64(tag::LEDGER_TIME_MS, "ledger_time_ms")?;
    let concurrent = match f.take_all(tag::CONCURRENT).as_slice() {
        [] => Vec::new(),
        [packed] if packed.len() % 32 == 0 => packed_hashes(packed, "concurrent")?,
        [packed] => fail!(
            InvalidInput,
            "Bad field frame: concurrent is {} bytes, not a whole number of 32-byte vertex ids",
            packed.len()
        ),
        more => fail!(
            InvalidInput,
            "Bad field frame: concurrent is one field of packed 32-byte vertex ids, got {} fields",
            more.len()
        ),
    };
    f.finish()?;
    Ok(ApplyRequest { tx, tx_id, signature_ok, vertex, time_ms, concurrent })
}

/// Prepare request: signed tx bytes and, optionally, their id as the core
/// gave it to the host (`TX_ID`, as in an apply request).
pub fn read_prepare_request(buf: &[u8]) -> Result<(Vec<u8>, Option<Hash>)> {
    let mut f = Fields::parse(buf)?;
    let tx = f.bytes(tag::TX, "tx")?;
    let tx_id = read_tx_id(&mut f)?;
    f.finish()?;
    Ok((tx, tx_id))
}

fn read_tx_id(f: &mut Fields) -> Result<Option<Hash>> {
    f.opt_bytes(tag::TX_ID, "tx_id")?.map(|v| to_hash(&v, "tx_id")).transpose()
}

/// Concatenated 32-byte ids, e.g. a concurrent set or vertices to settle.
pub fn packed_hashes(v: &[u8], name: &str) -> Result<Vec<Hash>> {
    if v.len() % 32 != 0 {
        fail!(InvalidInput, "{} must be whole 32-byte ids, got {} bytes", name, v.len());
    }
    v.chunks(32).map(|c| to_hash(c, name)).collect()
}

fn write_receipt(o: &mut Out, r: &Receipt) {
    o.u32(tag::RESULT_CODE, r.code);
    o.u64(tag::FEE, r.fee);
    o.u64(tag::RATE_PPB, r.rate_ppb);
    o.bytes(tag::VERTEX, &r.vertex);
    o.u64(tag::LEDGER_TIME_MS, r.time_ms);
}

pub fn write_outcome(id: &Hash, out: &Outcome) -> Vec<u8> {
    let mut o = Out::new();
    o.bytes(tag::ID, id);
    write_receipt(&mut o, &out.receipt);
    o.bytes(tag::MESSAGE, out.message.as_bytes());
    o.bytes(tag::DUPLICATE, &[out.duplicate as u8]);
    o.bytes(tag::CONCURRENT_DUPLICATE, &[out.concurrent_duplicate as u8]);
    for id in &out.touched {
        o.bytes(tag::TOUCHED, id);
    }
    o.into_bytes()
}

pub fn write_prepared(p: &Prepared, signing_message: &[u8]) -> Vec<u8> {
    let mut o = Out::new();
    o.bytes(tag::ID, &p.id);
    o.bytes(tag::ACCOUNT, &p.account);
    o.u64(tag::NONCE, p.nonce);
    o.bytes(tag::KIND, p.kind.as_bytes());
    o.bytes(tag::SIGNING_MESSAGE, signing_message);
    if let Some(pk) = &p.public_key {
        o.bytes(tag::PUBLIC_KEY, pk);
    }
    if let Some(r) = &p.receipt {
        write_receipt(&mut o, r);
    }
    o.into_bytes()
}

pub fn write_account(state: &State, id: &Hash, a: &Account) -> Vec<u8> {
    let mut o = Out::new();
    o.bytes(tag::ID, id);
    o.bytes(tag::NAME, &a.name);
    o.bytes(tag::NAME_OWNER, &[(state.account_by_name(&a.name) == Some(*id)) as u8]);
    o.bytes(tag::PUBLIC_KEY, &a.public_key);
    o.u64(tag::BALANCE, a.balance);
    o.u64(tag::NEXT_NONCE, a.next_nonce);
    o.u64(tag::CREATED_MS, a.created_ms);
    o.u64(tag::LAST_MS, a.last_ms);
    if let Some(att) = &a.attestation {
        o.u64(tag::EXPIRY_MS, att.expiry_ms);
        o.bytes(tag::PROOF_DIGEST, &att.proof_digest);
        o.u64(tag::ATTESTED_MS, att.attested_ms);
    }
    o.into_bytes()
}

pub fn write_status(s: &State) -> Vec<u8> {
    let mut o = Out::new();
    o.bytes(tag::CHAIN_ID, &s.chain_id);
    o.u64(tag::GENESIS_TIME_MS, s.genesis_time_ms);
    o.u64(tag::SUPPLY_CAP, s.supply_cap);
    o.u64(tag::MINTED, s.minted);
    o.u64(tag::BURNED, s.burned);
    write_fee_params(&mut o, &s.fee_params);
    o.bytes(tag::FEE_ACCOUNT, &s.roles.fee_account);
    o.bytes(tag::EXCHANGE_MASTER, &s.roles.exchange_master);
    o.bytes(tag::FEE_ADMIN, &s.roles.fee_admin);
    o.bytes(tag::AGENT_VERIFIER, &s.roles.agent_verifier);
    o.bytes(tag::GOVERNANCE, &s.roles.governance);
    o.bytes(tag::CURRENT_CONFIG_HASH, &s.config_hash());
    if let Some(l) = &s.lock {
        o.bytes(tag::CONFIG_HASH, &l.config_hash);
        o.u64(tag::LOCKED_MS, l.locked_ms);
        o.u64(tag::GRACE_END_MS, l.grace_end_ms);
        o.bytes(tag::LOCK_TX, &l.lock_tx);
    }
    for r in &s.audit {
        let mut a = Out::new();
        a.bytes(tag::TX_ID, &r.tx_id);
        a.u64(tag::LEDGER_TIME_MS, r.time_ms);
        a.bytes(tag::ACTION, if r.action == ledger::AUDIT_LOCK { b"lock" } else { b"override" });
        a.bytes(tag::CONFIG_HASH, &r.config_hash);
        a.bytes(tag::REASON, &r.reason);
        o.bytes(tag::AUDIT, &a.into_bytes());
    }
    o.u64(tag::ACCOUNT_COUNT, s.accounts.len() as u64);
    o.u64(tag::RESULT_COUNT, s.results.len() as u64);
    o.u64(tag::JOURNAL_VERTICES, s.journal.len() as u64);
    o.u64(tag::APPLIED_VERTICES, s.applied.len() as u64);
    o.bytes(tag::STATE_HASH, &ledger::encode::state_hash(s));
    o.into_bytes()
}

/// The hashes of a cut state (`ledger::cut`): what a checkpoint signs.
pub fn write_cut_hashes(s: &State) -> Vec<u8> {
    let mut o = Out::new();
    o.bytes(tag::STATE_HASH, &ledger::encode::state_hash(s));
    o.bytes(tag::JOURNAL_HASH, &ledger::encode::journal_hash(s));
    o.u64(tag::JOURNAL_VERTICES, s.journal.len() as u64);
    o.into_bytes()
}

pub fn read_fee_quote_request(buf: &[u8]) -> Result<(Hash, u64, u64)> {
    let mut f = Fields::parse(buf)?;
    let account = f.hash(tag::ACCOUNT, "account")?;
    let amount = f.u64(tag::AMOUNT, "amount")?;
    let time = f.u64(tag::LEDGER_TIME_MS, "ledger_time_ms")?;
    f.finish()?;
    Ok((account, amount, time))
}

pub fn write_quote(q: &Quote) -> Vec<u8> {
    let mut o = Out::new();
    o.u64(tag::RATE_PPB, q.rate_ppb);
    o.u64(tag::FEE, q.fee);
    o.bytes(tag::VERIFIED, &[q.verified as u8]);
    o.u64(tag::AGE_MS, q.age_ms);
    o.u64(tag::USAGE, q.usage);
    o.into_bytes()
}
