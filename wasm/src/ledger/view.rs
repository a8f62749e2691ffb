//! The causal view: the state as the causal past of a transaction's carrier
//! vertex saw it. The global state holds the effects of every applied
//! vertex; the host names the applied vertices that are *not* ancestors of
//! the carrier (its concurrent set), and the view subtracts their effects,
//! which the journal keeps per unsettled vertex as `Fact`s.
//!
//! Why a fact is enough to undo each effect in the view:
//! - balances, minted, burned are sums: subtract the deltas;
//! - accounts, names and nonces only grow: drop what concurrent vertices added;
//! - fee parameters, attestations and the lock are each written by one
//!   authority's nonce chain, so concurrent writes are a suffix of that
//!   chain: the view's value is the `previous` of the earliest one.
//!
//! The facts also undo everything else the state hash covers (an account's
//! `last_ms` and volume window, the audit list), which the view never needs
//! but a cut does (`cut.rs`). Each chain-owned value (an account's last_ms
//! and window, the fee parameters, an attestation, the lock and audit) is
//! written by one nonce chain, and a transaction with nonce n + 1 is only
//! applied (ok or consumed) if n is in its carrier's causal past. So for any
//! set of vertices whose complement is downward closed in the DAG (the
//! concurrent set of a carrier, or the excluded vertices of a cut), the
//! entries of each chain among them are a suffix of that chain, and the
//! `previous` of the one with the smallest nonce is the value without them.
//! The same argument makes the facts identical on every node: every
//! `previous` is the value after the chain's nonce n - 1, whatever else a
//! node had applied.

use std::collections::{BTreeMap, BTreeSet};

use super::{Account, Attestation, Lock, State};
use crate::fee::FeeParams;
use crate::tx::Hash;

/// One effect of one applied transaction, kept while its vertex is unsettled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A balance changed by `delta` (credit > 0, debit < 0).
    Balance {
        account: Hash,
        delta: i128,
    },
    /// create_account created `account`.
    Created {
        account: Hash,
    },
    /// `account` claimed `name`.
    NameClaim {
        name: Vec<u8>,
        account: Hash,
    },
    /// `account` used `nonce`; its `last_ms` was `previous_last_ms` before
    /// (for a create_account, the new account's own creation time).
    Nonce {
        account: Hash,
        nonce: u64,
        previous_last_ms: u64,
    },
    /// A transfer with `account`'s nonce `nonce` replaced its volume window `previous`.
    Volume {
        account: Hash,
        nonce: u64,
        previous: Vec<(u64, u64)>,
    },
    Minted {
        amount: u64,
    },
    Burned {
        amount: u64,
    },
    /// configure_fees with fee-admin nonce `nonce` replaced `previous`.
    FeeParams {
        nonce: u64,
        previous: FeeParams,
    },
    /// attest/revoke of `agent` with verifier nonce `nonce` replaced `previous`.
    Attestation {
        agent: Hash,
        nonce: u64,
        previous: Option<Attestation>,
    },
    /// lock/override with governance nonce `nonce` replaced `previous` and
    /// pushed an audit record onto an audit list of `audit_len` records.
    Lock {
        nonce: u64,
        previous: Option<Lock>,
        audit_len: u64,
    },
}

#[derive(Default)]
pub struct View {
    balance_delta: BTreeMap<Hash, i128>,
    created: BTreeSet<Hash>,
    names: BTreeSet<(Vec<u8>, Hash)>,
    min_nonce: BTreeMap<Hash, u64>,
    minted: u64,
    burned: u64,
    fee_params: Option<(u64, FeeParams)>,
    attestations: BTreeMap<Hash, (u64, Option<Attestation>)>,
    lock: Option<(u64, Option<Lock>)>,
}

/// Keeps in `slot` the `previous` of the chain entry with the smallest nonce.
pub(super) fn earliest<T: Clone>(slot: &mut Option<(u64, T)>, nonce: u64, previous: &T) {
    match slot {
        Some((n, _)) if *n <= nonce => {}
        _ => *slot = Some((nonce, previous.clone())),
    }
}

impl View {
    /// The view of `state` without the effects of the `concurrent` vertices.
    /// A vertex the journal does not hold (settled, or it applied nothing)
    /// contributes nothing.
    pub fn build(state: &State, concurrent: &[Hash]) -> View {
        let mut v = View::default();
        let mut seen: BTreeSet<&Hash> = BTreeSet::new();
        for vertex in concurrent {
            if !seen.insert(vertex) {
                continue;
            }
            let facts = match state.journal.get(vertex) {
                Some(f) => f,
                None => continue,
            };
            for fact in facts {
                match fact {
                    Fact::Balance { account, delta } => *v.balance_delta.entry(*account).or_insert(0) += *delta,
                    Fact::Created { account } => {
                        v.created.insert(*account);
                    }
                    Fact::NameClaim { name, account } => {
                        v.names.insert((name.clone(), *account));
                    }
                    Fact::Nonce { account, nonce, .. } => {
                        let e = v.min_nonce.entry(*account).or_insert(*nonce);
                        *e = (*e).min(*nonce);
                    }
                    Fact::Minted { amount } => v.minted += *amount,
                    Fact::Burned { amount } => v.burned += *amount,
                    Fact::FeeParams { nonce, previous } => earliest(&mut v.fee_params, *nonce, previous),
                    Fact::Attestation { agent, nonce, previous } => {
                        let mut slot = v.attestations.get(agent).cloned();
                        earliest(&mut slot, *nonce, previous);
                        if let Some(s) = slot {
                            v.attestations.insert(*agent, s);
                        }
                    }
                    Fact::Lock { nonce, previous, .. } => earliest(&mut v.lock, *nonce, previous),
                    // Only the account's own chain writes its window, and a
                    // transaction whose chain has concurrent entries fails the
                    // nonce check before reading it (see `account`).
                    Fact::Volume { .. } => {}
                }
            }
        }
        v
    }

    /// The account as the causal past saw it (None if created concurrently).
    /// Only balance, next_nonce and attestation can differ from the global
    /// record: the other fields are written by the account's own chain, and
    /// a transaction whose account has concurrent chain entries fails the
    /// nonce check before any of them is read.
    pub fn account(&self, state: &State, id: &Hash) -> Option<Account> {
        if self.created.contains(id) {
            return None;
        }
        let mut a = state.accounts.get(id)?.clone();
        if let Some(delta) = self.balance_delta.get(id) {
            // The global balance includes these deltas; the result is the
            // balance at the causal past, which was non-negative.
            a.balance = (i128::from(a.balance) - *delta).clamp(0, i128::from(u64::MAX)) as u64;
        }
        if let Some(n) = self.min_nonce.get(id) {
            a.next_nonce = a.next_nonce.min(*n);
        }
        if let Some((_, previous)) = self.attestations.get(id) {
            a.attestation = *previous;
        }
        Some(a)
    }

    pub fn exists(&self, state: &State, id: &Hash) -> bool {
        !self.created.contains(id) && state.accounts.contains_key(id)
    }

    pub fn name_taken(&self, state: &State, name: &[u8]) -> bool {
        match state.names.get(name) {
            Some(claimants) => claimants.iter().any(|id| !self.names.contains(&(name.to_vec(), *id))),
            None => false,
        }
    }

    pub fn fee_params(&self, state: &State) -> FeeParams {
        match &self.fee_params {
            Some((_, previous)) => *previous,
            None => state.fee_params,
        }
    }

    pub fn lock(&self, state: &State) -> Option<Lock> {
        match &self.lock {
            Some((_, previous)) => *previous,
            None => state.lock,
        }
    }

    pub fn minted(&self, state: &State) -> u64 {
        state.minted - self.minted
    }

    pub fn burned(&self, state: &State) -> u64 {
        state.burned - self.burned
    }
}
