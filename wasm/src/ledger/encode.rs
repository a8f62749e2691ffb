//! Canonical serialization of the ledger state (LEDGER.md "State hash and
//! export"). Maps are BTreeMaps, so iteration is sorted by key and the bytes
//! depend on the contents alone, never on insertion order.
//!
//! - state hash = BLAKE3-256 of `STATE_DOMAIN || body(hashed part)`;
//! - export = `EXPORT_DOMAIN || body(everything)`: adds public keys, the
//!   receipts, the journal and the applied map, so `import(export(s)) == s`;
//! - journal hash = BLAKE3-256 of `JOURNAL_DOMAIN || journal`, the facts in
//!   their export encoding (the same on every node: view.rs).

use std::collections::{BTreeMap, BTreeSet};

use super::view::Fact;
use super::{Account, Attestation, AuditRecord, Lock, Receipt, Roles, State, AUDIT_LOCK, AUDIT_OVERRIDE};
use crate::blake3;
use crate::codec::{Reader, Writer};
use crate::error::{fail, Code, Result};
use crate::fee::FeeParams;
use crate::limits::{ML_DSA_87_PUBLIC_KEY_BYTES, NAME_BYTES_MAX, REASON_BYTES_MAX};
use crate::tx::Hash;

pub const STATE_DOMAIN: &[u8] = b"qudag/ledger-state/v1";
/// v2: undo facts (last_ms, volume window, audit length) and the applied map.
pub const EXPORT_DOMAIN: &[u8] = b"qudag/ledger-export/v2";
const EXPORT_DOMAIN_V1: &[u8] = b"qudag/ledger-export/v1";
pub const JOURNAL_DOMAIN: &[u8] = b"qudag/ledger-journal/v1";
/// Bounds for decoding an export (the node's own data, still checked).
const ITEMS_MAX: usize = u32::MAX as usize;

fn opt_lock(w: &mut Writer, lock: &Option<Lock>) {
    match lock {
        None => w.u8(0),
        Some(l) => {
            w.u8(1);
            w.fixed(&l.config_hash);
            w.u64(l.locked_ms);
            w.u64(l.grace_end_ms);
            w.fixed(&l.lock_tx);
        }
    }
}

fn opt_attestation(w: &mut Writer, a: &Option<Attestation>) {
    match a {
        None => w.u8(0),
        Some(a) => {
            w.u8(1);
            w.u64(a.expiry_ms);
            w.fixed(&a.proof_digest);
            w.u64(a.attested_ms);
        }
    }
}

fn volume(w: &mut Writer, days: &[(u64, u64)]) {
    w.u32(days.len() as u32);
    for (day, v) in days {
        w.u64(*day);
        w.u64(*v);
    }
}

fn account(w: &mut Writer, id: &Hash, a: &Account, full: bool) {
    w.fixed(id);
    w.var(&a.name);
    if full {
        w.fixed(&a.public_key);
    }
    w.u64(a.balance);
    w.u64(a.next_nonce);
    w.u64(a.created_ms);
    w.u64(a.last_ms);
    volume(w, &a.volume);
    opt_attestation(w, &a.attestation);
}

fn fact(w: &mut Writer, f: &Fact) {
    match f {
        Fact::Balance { account, delta } => {
            w.u8(1);
            w.fixed(account);
            w.fixed(&delta.to_le_bytes());
        }
        Fact::Created { account } => {
            w.u8(2);
            w.fixed(account);
        }
        Fact::NameClaim { name, account } => {
            w.u8(3);
            w.var(name);
            w.fixed(account);
        }
        Fact::Nonce { account, nonce, previous_last_ms } => {
            w.u8(4);
            w.fixed(account);
            w.u64(*nonce);
            w.u64(*previous_last_ms);
        }
        Fact::Minted { amount } => {
            w.u8(5);
            w.u64(*amount);
        }
        Fact::Burned { amount } => {
            w.u8(6);
            w.u64(*amount);
        }
        Fact::FeeParams { nonce, previous } => {
            w.u8(7);
            w.u64(*nonce);
            previous.write(w);
        }
        Fact::Attestation { agent, nonce, previous } => {
            w.u8(8);
            w.fixed(agent);
            w.u64(*nonce);
            opt_attestation(w, previous);
        }
        Fact::Lock { nonce, previous, audit_len } => {
            w.u8(9);
            w.u64(*nonce);
            opt_lock(w, previous);
            w.u64(*audit_len);
        }
        Fact::Volume { account, nonce, previous } => {
            w.u8(10);
            w.fixed(account);
            w.u64(*nonce);
            volume(w, previous);
        }
    }
}

fn journal(w: &mut Writer, s: &State) {
    w.u32(s.journal.len() as u32);
    for (vertex, facts) in &s.journal {
        w.fixed(vertex);
        w.u32(facts.len() as u32);
        for f in facts {
            fact(w, f);
        }
    }
}

fn body(s: &State, full: bool) -> Vec<u8> {
    let mut w = Writer::new();
    w.fixed(if full { EXPORT_DOMAIN } else { STATE_DOMAIN });
    w.fixed(&s.chain_id);
    w.u64(s.genesis_time_ms);
    w.u64(s.supply_cap);
    for id in [
        &s.roles.fee_account,
        &s.roles.exchange_master,
        &s.roles.fee_admin,
        &s.roles.agent_verifier,
        &s.roles.governance,
    ] {
        w.fixed(id);
    }
    s.fee_params.write(&mut w);
    w.u64(s.minted);
    w.u64(s.burned);
    opt_lock(&mut w, &s.lock);
    w.u32(s.audit.len() as u32);
    for r in &s.audit {
        w.fixed(&r.tx_id);
        w.u64(r.time_ms);
        w.u8(r.action);
        w.fixed(&r.config_hash);
        w.var(&r.reason);
    }
    // Names are not written: they are the accounts' names, rebuilt on import.
    w.u32(s.accounts.len() as u32);
    for (id, a) in &s.accounts {
        account(&mut w, id, a, full);
    }
    if full {
        w.u32(s.results.len() as u32);
        for (id, r) in &s.results {
            w.fixed(id);
            w.u32(r.code);
            w.u64(r.fee);
            w.u64(r.rate_ppb);
            w.fixed(&r.vertex);
            w.u64(r.time_ms);
        }
        journal(&mut w, s);
        w.u32(s.applied.len() as u32);
        for (vertex, txs) in &s.applied {
            w.fixed(vertex);
            w.u32(txs.len() as u32);
            for tx in txs {
                w.fixed(tx);
            }
        }
    }
    w.into_bytes()
}

/// BLAKE3-256 over the canonical hashed part: a function of the accepted set.
pub fn state_hash(s: &State) -> Hash {
    blake3::hash(&body(s, false))
}

/// Everything, for persistence; `import` reads it back.
pub fn export(s: &State) -> Vec<u8> {
    body(s, true)
}

/// BLAKE3-256 of the journal: `JOURNAL_DOMAIN || u32 vertex count ||` per
/// vertex, ascending by id, `id || u32 fact count || facts` (export
/// encoding). Equal on two nodes holding the same unsettled vertices, since
/// a vertex's facts are written by its own transactions and every
/// `previous` belongs to a nonce chain ordered by causality (view.rs).
pub fn journal_hash(s: &State) -> Hash {
    let mut w = Writer::new();
    w.fixed(JOURNAL_DOMAIN);
    journal(&mut w, s);
    blake3::hash(&w.into_bytes())
}

fn read_lock(r: &mut Reader) -> Result<Option<Lock>> {
    Ok(match r.u8("lock")? {
        0 => None,
        1 => Some(Lock {
            config_hash: r.hash("config_hash")?,
            locked_ms: r.u64("locked_ms")?,
            grace_end_ms: r.u64("grace_end_ms")?,
            lock_tx: r.hash("lock_tx")?,
        }),
        other => fail!(InvalidInput, "Cannot import ledger: lock flag {}", other),
    })
}

fn read_attestation(r: &mut Reader) -> Result<Option<Attestation>> {
    Ok(match r.u8("attestation")? {
        0 => None,
        1 => Some(Attestation {
            expiry_ms: r.u64("expiry_ms")?,
            proof_digest: r.hash("proof_digest")?,
            attested_ms: r.u64("attested_ms")?,
        }),
        other => fail!(InvalidInput, "Cannot import ledger: attestation flag {}", other),
    })
}

fn read_volume(r: &mut Reader) -> Result<Vec<(u64, u64)>> {
    let days = r.count("volume", super::VOLUME_WINDOW_DAYS as usize, Code::InvalidInput)?;
    let mut volume = Vec::new();
    for _ in 0..days {
        volume.push((r.u64("day")?, r.u64("volume")?));
    }
    Ok(volume)
}

fn read_fact(r: &mut Reader) -> Result<Fact> {
    Ok(match r.u8("fact")? {
        1 => {
            let account = r.hash("account")?;
            let mut d = [0u8; 16];
            d.copy_from_slice(r.fixed(16, "delta")?);
            Fact::Balance { account, delta: i128::from_le_bytes(d) }
        }
        2 => Fact::Created { account: r.hash("account")? },
        3 => Fact::NameClaim {
            name: r.var("name", NAME_BYTES_MAX, Code::NameTooLarge)?.to_vec(),
            account: r.hash("account")?,
        },
        4 => Fact::Nonce {
            account: r.hash("account")?,
            nonce: r.u64("nonce")?,
            previous_last_ms: r.u64("previous_last_ms")?,
        },
        5 => Fact::Minted { amount: r.u64("amount")? },
        6 => Fact::Burned { amount: r.u64("amount")? },
        7 => Fact::FeeParams { nonce: r.u64("nonce")?, previous: FeeParams::read(r)? },
        8 => Fact::Attestation { agent: r.hash("agent")?, nonce: r.u64("nonce")?, previous: read_attestation(r)? },
        9 => Fact::Lock { nonce: r.u64("nonce")?, previous: read_lock(r)?, audit_len: r.u64("audit_len")? },
        10 => Fact::Volume { account: r.hash("account")?, nonce: r.u64("nonce")?, previous: read_volume(r)? },
        other => fail!(InvalidInput, "Cannot import ledger: unknown fact {}", other),
    })
}

fn ascending<T: Ord>(prev: &mut Option<T>, next: T, what: &str) -> Result<()> {
    if let Some(p) = prev {
        if *p >= next {
            fail!(InvalidInput, "Cannot import ledger: {} are not in strictly ascending order", what);
        }
    }
    *prev = Some(next);
    Ok(())
}

/// Reads an export back, checking the supply invariant. Every decoding
/// error is `invalid_input`: an export is the node's own data.
pub fn import(bytes: &[u8]) -> Result<State> {
    import_inner(bytes).map_err(|e| {
        if e.code == Code::InvalidInput {
            e
        } else {
            crate::error::Error::new(Code::InvalidInput, format!("Cannot import ledger: {}", e.message))
        }
    })
}

fn import_inner(bytes: &[u8]) -> Result<State> {
    let mut r = Reader::new(bytes, "ledger export");
    let domain = r.fixed(EXPORT_DOMAIN.len(), "domain")?;
    if domain == EXPORT_DOMAIN_V1 {
        fail!(
            InvalidInput,
            "Cannot import ledger: this is a v1 export, whose journal cannot undo a vertex fully; \
             rebuild the ledger by replaying the accepted vertices"
        );
    }
    if domain != EXPORT_DOMAIN {
        fail!(InvalidInput, "Cannot import ledger: not a qudag ledger export (v2)");
    }
    let chain_id = r.hash("chain_id")?;
    let genesis_time_ms = r.u64("genesis_time_ms")?;
    let supply_cap = r.u64("supply_cap")?;
    let roles = Roles {
        fee_account: r.hash("fee_account")?,
        exchange_master: r.hash("exchange_master")?,
        fee_admin: r.hash("fee_admin")?,
        agent_verifier: r.hash("agent_verifier")?,
        governance: r.hash("governance")?,
    };
    let fee_params = FeeParams::read(&mut r)?;
    fee_params.validate()?;
    let minted = r.u64("minted")?;
    let burned = r.u64("burned")?;
    let lock = read_lock(&mut r)?;
    let n = r.count("audit", ITEMS_MAX, Code::InvalidInput)?;
    let mut audit = Vec::new();
    for _ in 0..n {
        let rec = AuditRecord {
            tx_id: r.hash("tx_id")?,
            time_ms: r.u64("time_ms")?,
            action: r.u8("action")?,
            config_hash: r.hash("config_hash")?,
            reason: r.var("reason", REASON_BYTES_MAX, Code::ReasonTooLarge)?.to_vec(),
        };
        if rec.action != AUDIT_LOCK && rec.action != AUDIT_OVERRIDE {
            fail!(InvalidInput, "Cannot import ledger: audit action {}", rec.action);
        }
        audit.push(rec);
    }
    let n = r.count("accounts", ITEMS_MAX, Code::InvalidInput)?;
    let mut accounts = BTreeMap::new();
    let mut names: BTreeMap<Vec<u8>, std::collections::BTreeSet<Hash>> = BTreeMap::new();
    let mut prev = None;
    let mut total: u128 = 0;
    for _ in 0..n {
        let id = r.hash("account")?;
        ascending(&mut prev, id, "accounts")?;
        let name = r.var("name", NAME_BYTES_MAX, Code::NameTooLarge)?.to_vec();
        let public_key = r.fixed(ML_DSA_87_PUBLIC_KEY_BYTES, "public_key")?.to_vec();
        if blake3::hash(&public_key) != id {
            fail!(InvalidInput, "Cannot import ledger: an account id is not the hash of its public key");
        }
        let balance = r.u64("balance")?;
        let next_nonce = r.u64("next_nonce")?;
        let created_ms = r.u64("created_ms")?;
        let last_ms = r.u64("last_ms")?;
        let volume = read_volume(&mut r)?;
        let attestation = read_attestation(&mut r)?;
        total += u128::from(balance);
        names.entry(name.clone()).or_default().insert(id);
        accounts
            .insert(id, Account { name, public_key, balance, next_nonce, created_ms, last_ms, volume, attestation });
    }
    if minted < burned || total != u128::from(minted - burned) {
        fail!(
            InvalidInput,
            "Cannot import ledger: balances sum to {} but minted - burned is {} - {}",
            total,
            minted,
            burned
        );
    }
    let n = r.count("results", ITEMS_MAX, Code::InvalidInput)?;
    let mut results = BTreeMap::new();
    let mut prev = None;
    for _ in 0..n {
        let id = r.hash("tx_id")?;
        ascending(&mut prev, id, "results")?;
        let receipt = Receipt {
            code: r.u32("code")?,
            fee: r.u64("fee")?,
            rate_ppb: r.u64("rate_ppb")?,
            vertex: r.hash("vertex")?,
            time_ms: r.u64("time_ms")?,
        };
        results.insert(id, receipt);
    }
    let n = r.count("journal", super::JOURNAL_VERTICES_MAX, Code::InvalidInput)?;
    let mut journal = BTreeMap::new();
    let mut prev = None;
    for _ in 0..n {
        let vertex = r.hash("vertex")?;
        ascending(&mut prev, vertex, "journal vertices")?;
        let k = r.count("facts", ITEMS_MAX, Code::InvalidInput)?;
        let mut facts = Vec::new();
        for _ in 0..k {
            facts.push(read_fact(&mut r)?);
        }
        journal.insert(vertex, facts);
    }
    let applied = read_applied(&mut r, &results)?;
    r.finish()?;
    for (role, id) in
        [&roles.fee_account, &roles.exchange_master, &roles.fee_admin, &roles.agent_verifier, &roles.governance]
            .iter()
            .enumerate()
    {
        if !accounts.contains_key(*id) {
            fail!(InvalidInput, "Cannot import ledger: role {} names a missing account", role);
        }
    }
    Ok(State {
        chain_id,
        genesis_time_ms,
        supply_cap,
        roles,
        fee_params,
        accounts,
        names,
        lock,
        audit,
        minted,
        burned,
        results,
        journal,
        applied,
    })
}

/// The applied map, checked against the receipts: every receipt is listed
/// once, under its own carrier, and nothing else is.
fn read_applied(r: &mut Reader, results: &BTreeMap<Hash, Receipt>) -> Result<BTreeMap<Hash, Vec<Hash>>> {
    let n = r.count("applied", ITEMS_MAX, Code::InvalidInput)?;
    let mut applied = BTreeMap::new();
    let mut listed: BTreeSet<Hash> = BTreeSet::new();
    let mut prev = None;
    for _ in 0..n {
        let vertex = r.hash("vertex")?;
        ascending(&mut prev, vertex, "applied vertices")?;
        let k = r.count("applied transactions", ITEMS_MAX, Code::InvalidInput)?;
        let mut txs = Vec::new();
        for _ in 0..k {
            let tx = r.hash("tx_id")?;
            if results.get(&tx).map(|receipt| receipt.vertex) != Some(vertex) || !listed.insert(tx) {
                fail!(
                    InvalidInput,
                    "Cannot import ledger: transaction {} is listed under vertex {} without being its first carrier",
                    crate::codec::hex(&tx),
                    crate::codec::hex(&vertex)
                );
            }
            txs.push(tx);
        }
        applied.insert(vertex, txs);
    }
    if listed.len() != results.len() {
        fail!(
            InvalidInput,
            "Cannot import ledger: {} receipts but {} transactions listed under their carriers",
            results.len(),
            listed.len()
        );
    }
    Ok(applied)
}
