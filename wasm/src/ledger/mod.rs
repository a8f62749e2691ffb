//! The exchange ledger: a pure, deterministic state transition over accepted
//! transactions (../LEDGER.md). No clock, no randomness, no I/O: the ledger
//! time and the causal context of every transaction are inputs.
//!
//! Order independence (LEDGER.md "Order independence"): a transaction's
//! validity and fee are decided against its causal past, the view
//! (`view.rs`), which is the state minus the effects of the vertices the host
//! names as concurrent; every effect on the global state commutes (sums,
//! set unions, and values owned by one account's nonce chain). So the state
//! is a function of the accepted set, whatever order a node accepted it in.
//! The same journal facts undo whole vertices: `cut.rs` gives the state at a
//! downward-closed cut of the DAG (a checkpoint).

pub mod apply;
pub mod cut;
pub mod encode;
pub mod view;

#[cfg(test)]
mod cut_tests;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::blake3;
use crate::error::{fail, Result};
use crate::fee::{FeeParams, MS_PER_DAY};
use crate::limits::ML_DSA_87_PUBLIC_KEY_BYTES;
use crate::tx::{check_name, Hash};

pub use apply::{apply, apply_cached, check, fee_quote, prepare, Context, Outcome, Prepared, Quote, ViewCache};
pub use cut::cut;
pub use view::Fact;

/// u (fee usage) is the account's transfer volume on the current UTC day and
/// the 29 days before it: day buckets, so the window is bounded (30 entries).
pub const VOLUME_WINDOW_DAYS: u64 = 30;
/// Most unsettled vertices the journal keeps; the host settles older ones.
pub const JOURNAL_VERTICES_MAX: usize = 65_536;
/// Most vertices one apply may name as concurrent to its carrier: only
/// journal vertices contribute, so a larger set is never useful.
pub const CONCURRENT_VERTICES_MAX: usize = JOURNAL_VERTICES_MAX;
/// Most accounts a genesis configuration may create.
pub const GENESIS_ACCOUNTS_MAX: usize = 16;
/// Domain tag of the configuration hash (immutable deployment).
pub const CONFIG_HASH_DOMAIN: &[u8] = b"qudag/config/v1";

pub const MS_PER_DAY_LEDGER: u64 = MS_PER_DAY;

/// The accounts that hold each authority, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    /// Receives every fee.
    pub fee_account: Hash,
    /// The only signer of `mint`.
    pub exchange_master: Hash,
    /// The only signer of `configure_fees`.
    pub fee_admin: Hash,
    /// The only signer of `attest_agent` / `revoke_agent`.
    pub agent_verifier: Hash,
    /// The only signer of `immutable_lock` / `governance_override`.
    pub governance: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisAccount {
    pub name: Vec<u8>,
    pub public_key: Vec<u8>,
}

/// Everything a chain's ledger starts from; every node must use the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    pub chain_id: Hash,
    /// Ledger time of the genesis accounts' "first transaction" (fee age t).
    pub time_ms: u64,
    pub fee_params: FeeParams,
    /// Most rUv (smallest units) in circulation (minted - burned); 0 = no cap.
    pub supply_cap: u64,
    pub accounts: Vec<GenesisAccount>,
    pub roles: Roles,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub expiry_ms: u64,
    pub proof_digest: Hash,
    /// Ledger time of the attest_agent transaction.
    pub attested_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The name this account claimed (unique unless two claims were concurrent; see `State::names`).
    pub name: Vec<u8>,
    pub public_key: Vec<u8>,
    /// Invariant: the sum over all accounts equals minted - burned.
    pub balance: u64,
    /// The nonce its next transaction must carry.
    pub next_nonce: u64,
    /// Ledger time of its first accepted transaction (create_account), or genesis time.
    pub created_ms: u64,
    /// Ledger time of its latest accepted transaction; never decreases.
    pub last_ms: u64,
    /// (day index, transfer volume sent that day), ascending days, at most VOLUME_WINDOW_DAYS entries.
    pub volume: Vec<(u64, u64)>,
    pub attestation: Option<Attestation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    pub config_hash: Hash,
    pub locked_ms: u64,
    /// Configuration changes with ledger time >= this are refused (config_locked).
    pub grace_end_ms: u64,
    pub lock_tx: Hash,
}

pub const AUDIT_LOCK: u8 = 1;
pub const AUDIT_OVERRIDE: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub tx_id: Hash,
    pub time_ms: u64,
    /// AUDIT_LOCK or AUDIT_OVERRIDE.
    pub action: u8,
    pub config_hash: Hash,
    /// Empty for a lock.
    pub reason: Vec<u8>,
}

/// The result of one transaction, kept by id so a replay returns it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// 0 = applied; otherwise the refusal's Code number.
    pub code: u32,
    pub fee: u64,
    pub rate_ppb: u64,
    /// The vertex that carried it when it was applied.
    pub vertex: Hash,
    pub time_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub chain_id: Hash,
    pub genesis_time_ms: u64,
    pub supply_cap: u64,
    pub roles: Roles,
    pub fee_params: FeeParams,
    pub accounts: BTreeMap<Hash, Account>,
    /// name -> every account that claimed it. One claimant unless two
    /// create_account transactions were concurrent; the owner is the smallest id.
    pub names: BTreeMap<Vec<u8>, BTreeSet<Hash>>,
    pub lock: Option<Lock>,
    /// Locks and overrides, in governance nonce order.
    pub audit: Vec<AuditRecord>,
    pub minted: u64,
    pub burned: u64,
    // Below: not part of the state hash (bookkeeping, see LEDGER.md).
    /// tx id -> result; applied and refused transactions alike, until the
    /// carrier is settled.
    pub results: BTreeMap<Hash, Receipt>,
    /// Unsettled vertex -> the effects its transactions had (view.rs).
    pub journal: BTreeMap<Hash, Vec<Fact>>,
    /// Unsettled vertex -> the transactions first applied (or refused) with
    /// it as carrier, in order; duplicates are not listed. Invariant: the ids
    /// listed are exactly the keys of `results`, each under its receipt's vertex.
    pub applied: BTreeMap<Hash, Vec<Hash>>,
}

pub fn config_hash_of(chain_id: &Hash, params: &FeeParams, supply_cap: u64) -> Hash {
    let mut w = crate::codec::Writer::new();
    w.fixed(CONFIG_HASH_DOMAIN);
    w.fixed(chain_id);
    params.write(&mut w);
    w.u64(supply_cap);
    blake3::hash(&w.into_bytes())
}

pub fn day_of(time_ms: u64) -> u64 {
    time_ms / MS_PER_DAY
}

impl Account {
    fn new(name: Vec<u8>, public_key: Vec<u8>, created_ms: u64) -> Account {
        Account {
            name,
            public_key,
            balance: 0,
            next_nonce: 0,
            created_ms,
            last_ms: created_ms,
            volume: Vec::new(),
            attestation: None,
        }
    }

    /// u: transfer volume sent on day(time) and the 29 days before.
    pub fn usage_at(&self, time_ms: u64) -> u64 {
        let today = day_of(time_ms);
        self.volume
            .iter()
            .filter(|(day, _)| *day <= today && *day + VOLUME_WINDOW_DAYS > today)
            .fold(0u64, |sum, (_, v)| sum.saturating_add(*v))
    }

    /// Adds a sent transfer to the window and drops days that left it.
    fn record_volume(&mut self, time_ms: u64, amount: u64) {
        let today = day_of(time_ms);
        self.volume.retain(|(day, _)| *day + VOLUME_WINDOW_DAYS > today);
        match self.volume.last_mut() {
            Some((day, v)) if *day == today => *v = v.saturating_add(amount),
            _ => self.volume.push((today, amount)),
        }
    }

    pub fn verified_at(&self, time_ms: u64) -> bool {
        matches!(self.attestation, Some(a) if a.expiry_ms > time_ms)
    }
}

impl State {
    pub fn genesis(g: &Genesis) -> Result<State> {
        g.fee_params.validate()?;
        if g.accounts.is_empty() || g.accounts.len() > GENESIS_ACCOUNTS_MAX {
            fail!(
                InvalidInput,
                "Invalid ledger genesis: {} accounts, expected 1..={}",
                g.accounts.len(),
                GENESIS_ACCOUNTS_MAX
            );
        }
        let mut state = State {
            chain_id: g.chain_id,
            genesis_time_ms: g.time_ms,
            supply_cap: g.supply_cap,
            roles: g.roles.clone(),
            fee_params: g.fee_params,
            accounts: BTreeMap::new(),
            names: BTreeMap::new(),
            lock: None,
            audit: Vec::new(),
            minted: 0,
            burned: 0,
            results: BTreeMap::new(),
            journal: BTreeMap::new(),
            applied: BTreeMap::new(),
        };
        for a in &g.accounts {
            check_name(&a.name)?;
            if a.public_key.len() != ML_DSA_87_PUBLIC_KEY_BYTES {
                fail!(
                    InvalidInput,
                    "Invalid ledger genesis: account {:?} has a {}-byte public key, expected {}",
                    String::from_utf8_lossy(&a.name),
                    a.public_key.len(),
                    ML_DSA_87_PUBLIC_KEY_BYTES
                );
            }
            let id = blake3::hash(&a.public_key);
            if state.accounts.contains_key(&id) {
                fail!(InvalidInput, "Invalid ledger genesis: two accounts have the same public key");
            }
            if state.names.contains_key(&a.name) {
                fail!(
                    InvalidInput,
                    "Invalid ledger genesis: the name {:?} is given twice",
                    String::from_utf8_lossy(&a.name)
                );
            }
            state.accounts.insert(id, Account::new(a.name.clone(), a.public_key.clone(), g.time_ms));
            state.names.entry(a.name.clone()).or_default().insert(id);
        }
        let roles = [
            ("fee_account", g.roles.fee_account),
            ("exchange_master", g.roles.exchange_master),
            ("fee_admin", g.roles.fee_admin),
            ("agent_verifier", g.roles.agent_verifier),
            ("governance", g.roles.governance),
        ];
        for (role, id) in roles.iter() {
            if !state.accounts.contains_key(id) {
                fail!(
                    InvalidInput,
                    "Invalid ledger genesis: the {} role names an account that genesis does not create",
                    role
                );
            }
        }
        Ok(state)
    }

    /// BLAKE3 of chain id, fee parameters and supply cap: what an immutable lock fixes.
    pub fn config_hash(&self) -> Hash {
        config_hash_of(&self.chain_id, &self.fee_params, self.supply_cap)
    }

    /// The owner of a name: its smallest claimant.
    pub fn account_by_name(&self, name: &[u8]) -> Option<Hash> {
        self.names.get(name).and_then(|set| set.iter().next().copied())
    }

    /// minted - burned; equals the sum of all balances.
    pub fn supply(&self) -> u64 {
        self.minted - self.burned
    }

    /// Tells the core a vertex will never again be named as concurrent
    /// (it is in the causal past of every vertex still to be applied), so
    /// its journal entry can go, and with it the receipts of the transactions
    /// it carried first: `prepare` no longer returns them (the host keeps
    /// receipts durably). Settling changes no balance and no hash.
    pub fn settle(&mut self, vertex: &Hash) {
        self.journal.remove(vertex);
        for tx in self.applied.remove(vertex).unwrap_or_default() {
            if self.results.get(&tx).map_or(false, |r| r.vertex == *vertex) {
                self.results.remove(&tx);
            }
        }
    }
}
