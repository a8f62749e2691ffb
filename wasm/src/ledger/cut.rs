//! The state at a cut of the DAG: what a ledger that applied only the kept
//! vertices would hold. A checkpoint names a cut K by the applied vertices
//! outside it (`excluded`); the journal still holds their facts (they are
//! younger than anything settled), and undoing them gives the state at K
//! (LEDGER.md "State hash and export").
//!
//! Precondition: no kept vertex descends from an excluded one, i.e. the kept
//! vertices form a downward-closed set, and no excluded vertex was settled.
//! Then, for each value (view.rs):
//! - balances, minted, burned are sums: subtract the excluded deltas;
//! - accounts created and names claimed by excluded vertices are removed
//!   (no kept transaction can name such an account: it would need the
//!   creation in its causal past);
//! - an account's next nonce, last_ms and volume window, the fee
//!   parameters, an attestation, the lock and the audit list are each
//!   written by one nonce chain, and a transaction with nonce n + 1 is only
//!   applied if n is in its carrier's causal past. So the excluded entries
//!   of each chain are a suffix of it, and the `previous` of the excluded
//!   entry with the smallest nonce is the value at the cut (for the next
//!   nonce: that nonce itself; for the audit list: its length then).
//!
//! If the precondition is broken the result is meaningless (and may not
//! import); `cut` still never panics.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{earliest, Fact};
use super::{Attestation, Lock, State};
use crate::fee::FeeParams;
use crate::tx::Hash;

/// What undoing the excluded vertices' facts changes, per value.
#[derive(Default)]
struct Undo {
    balance_delta: BTreeMap<Hash, i128>,
    created: BTreeSet<Hash>,
    names: BTreeSet<(Vec<u8>, Hash)>,
    /// account -> (smallest excluded nonce, its previous last_ms).
    nonce: BTreeMap<Hash, (u64, u64)>,
    /// account -> (smallest excluded transfer nonce, its previous window).
    volume: BTreeMap<Hash, (u64, Vec<(u64, u64)>)>,
    minted: u64,
    burned: u64,
    fee_params: Option<(u64, FeeParams)>,
    attestations: BTreeMap<Hash, (u64, Option<Attestation>)>,
    /// (smallest excluded governance nonce, (previous lock, audit length then)).
    lock: Option<(u64, (Option<Lock>, u64))>,
}

/// Keeps in `map[key]` the `previous` of the chain entry with the smallest nonce.
fn earliest_in<T: Clone>(map: &mut BTreeMap<Hash, (u64, T)>, key: &Hash, nonce: u64, previous: &T) {
    let mut slot = map.remove(key);
    earliest(&mut slot, nonce, previous);
    if let Some(s) = slot {
        map.insert(*key, s);
    }
}

impl Undo {
    fn add(&mut self, fact: &Fact) {
        match fact {
            Fact::Balance { account, delta } => *self.balance_delta.entry(*account).or_insert(0) += *delta,
            Fact::Created { account } => {
                self.created.insert(*account);
            }
            Fact::NameClaim { name, account } => {
                self.names.insert((name.clone(), *account));
            }
            Fact::Nonce { account, nonce, previous_last_ms } => {
                earliest_in(&mut self.nonce, account, *nonce, previous_last_ms)
            }
            Fact::Volume { account, nonce, previous } => earliest_in(&mut self.volume, account, *nonce, previous),
            Fact::Minted { amount } => self.minted = self.minted.saturating_add(*amount),
            Fact::Burned { amount } => self.burned = self.burned.saturating_add(*amount),
            Fact::FeeParams { nonce, previous } => earliest(&mut self.fee_params, *nonce, previous),
            Fact::Attestation { agent, nonce, previous } => {
                earliest_in(&mut self.attestations, agent, *nonce, previous)
            }
            Fact::Lock { nonce, previous, audit_len } => earliest(&mut self.lock, *nonce, &(*previous, *audit_len)),
        }
    }
}

/// A copy of `state` as if the `excluded` vertices had never been applied:
/// their facts undone and their journal entries gone; the other journal
/// entries are kept as they are. Receipts and the applied map are left
/// empty (a snapshot carries no receipts). Excluded vertices without a
/// journal entry are ignored. See the module comment for the precondition.
pub fn cut(state: &State, excluded: &[Hash]) -> State {
    let excluded: BTreeSet<&Hash> = excluded.iter().filter(|v| state.journal.contains_key(*v)).collect();
    let mut undo = Undo::default();
    for vertex in &excluded {
        for fact in &state.journal[*vertex] {
            undo.add(fact);
        }
    }
    let mut accounts = state.accounts.clone();
    for id in &undo.created {
        accounts.remove(id);
    }
    for (id, delta) in &undo.balance_delta {
        if let Some(a) = accounts.get_mut(id) {
            a.balance = (i128::from(a.balance) - *delta).clamp(0, i128::from(u64::MAX)) as u64;
        }
    }
    for (id, (nonce, previous_last_ms)) in &undo.nonce {
        if let Some(a) = accounts.get_mut(id) {
            a.next_nonce = *nonce;
            a.last_ms = *previous_last_ms;
        }
    }
    for (id, (_, previous)) in &undo.volume {
        if let Some(a) = accounts.get_mut(id) {
            a.volume = previous.clone();
        }
    }
    for (id, (_, previous)) in &undo.attestations {
        if let Some(a) = accounts.get_mut(id) {
            a.attestation = *previous;
        }
    }
    let mut names = state.names.clone();
    for (name, id) in &undo.names {
        if let Some(claimants) = names.get_mut(name) {
            claimants.remove(id);
            if claimants.is_empty() {
                names.remove(name);
            }
        }
    }
    let mut audit = state.audit.clone();
    let lock = match &undo.lock {
        Some((_, (previous, audit_len))) => {
            audit.truncate(usize::try_from(*audit_len).unwrap_or(usize::MAX));
            *previous
        }
        None => state.lock,
    };
    State {
        chain_id: state.chain_id,
        genesis_time_ms: state.genesis_time_ms,
        supply_cap: state.supply_cap,
        roles: state.roles.clone(),
        fee_params: undo.fee_params.map_or(state.fee_params, |(_, previous)| previous),
        accounts,
        names,
        lock,
        audit,
        minted: state.minted.saturating_sub(undo.minted),
        burned: state.burned.saturating_sub(undo.burned),
        results: BTreeMap::new(),
        journal: state
            .journal
            .iter()
            .filter(|(v, _)| !excluded.contains(v))
            .map(|(v, facts)| (*v, facts.clone()))
            .collect(),
        applied: BTreeMap::new(),
    }
}
