//! The transition: `prepare` (what must have signed it), then `apply`
//! (decide against the causal view, then commit). Refusals are results, not
//! errors: they are recorded by transaction id and change nothing else.
//! `Err` from these functions means the host broke the calling contract.

use super::view::{Fact, View};
use super::{config_hash_of, Account, Attestation, AuditRecord, Lock, Receipt, State, AUDIT_LOCK, AUDIT_OVERRIDE};
use super::{CONCURRENT_VERTICES_MAX, JOURNAL_VERTICES_MAX};
use crate::codec::hex;
use crate::error::{fail, Code, Error, Result};
use crate::fee::{self, FeeInput, FeeParams};
use crate::tx::{Hash, Payload, TxInfo};

/// Where and when a transaction is applied: its carrier vertex, the ledger
/// time (the carrier's timestamp), and the applied vertices that are not
/// ancestors of the carrier.
pub struct Context<'a> {
    pub vertex: Hash,
    pub time_ms: u64,
    pub concurrent: &'a [Hash],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub receipt: Receipt,
    /// Empty when applied; otherwise what was refused and why.
    pub message: String,
    /// The id was already applied (or refused): nothing changed, same receipt.
    pub duplicate: bool,
    /// A duplicate whose first carrier is concurrent to this one: the host's
    /// DAG carried one transaction in two concurrent vertices (LEDGER.md).
    pub concurrent_duplicate: bool,
    /// Accounts whose records changed, ascending (empty unless applied): what
    /// a host persisting per account must write.
    pub touched: Vec<Hash>,
}

/// What the host needs before `apply`: the key that must have signed it.
#[derive(Debug)]
pub struct Prepared {
    pub id: Hash,
    pub account: Hash,
    pub nonce: u64,
    pub kind: &'static str,
    /// The account's registered key (the payload's for create_account);
    /// None if the account does not exist, so no signature can be valid.
    pub public_key: Option<Vec<u8>>,
    /// An earlier result for this id, if any (apply will return it again).
    pub receipt: Option<Receipt>,
}

pub fn prepare(state: &State, info: &TxInfo) -> Prepared {
    let tx = &info.tx;
    let public_key = match &tx.payload {
        Payload::CreateAccount { public_key, .. } => Some(public_key.clone()),
        _ => state.accounts.get(&tx.account).map(|a| a.public_key.clone()),
    };
    Prepared {
        id: info.id,
        account: tx.account,
        nonce: tx.nonce,
        kind: tx.payload.kind_name(),
        public_key,
        receipt: state.results.get(&info.id).copied(),
    }
}

/// What evaluation decided; commit carries it out.
enum Plan {
    Create {
        name: Vec<u8>,
        public_key: Vec<u8>,
    },
    Transfer {
        to: Hash,
        amount: u64,
        fee: u64,
    },
    Mint {
        to: Hash,
        amount: u64,
    },
    Burn {
        amount: u64,
    },
    ConfigureFees {
        params: FeeParams,
    },
    Attest {
        agent: Hash,
        attestation: Attestation,
    },
    Revoke {
        agent: Hash,
    },
    Lock {
        lock: Lock,
    },
    Override {
        config_hash: Hash,
        reason: Vec<u8>,
    },
    Data,
    /// A refusal after the nonce check: the nonce advances, nothing else.
    Consume,
}

fn refuse<T>(code: Code, message: String) -> Result<T> {
    Err(Error::new(code, message))
}

fn authorized(signer: &Hash, role: &Hash, kind: &str, role_name: &str) -> Result<()> {
    if signer != role {
        return refuse(
            Code::NotAuthorized,
            format!("Refused {}: only the {} account may sign it, not {}", kind, role_name, hex(signer)),
        );
    }
    Ok(())
}

/// A refusal, and whether it consumes the transaction's nonce: it does once
/// the nonce was the account's next one in the view (the rules from
/// `time_regressed` on), because consensus has then spent the account's
/// conflict key (account, nonce) on this transaction and no other transaction
/// with that nonce can ever be accepted. A `create_account` never consumes
/// (there is no account to advance).
struct Refusal {
    error: Error,
    consumes: bool,
}

/// Decides validity and fee against the view, in the precedence of LEDGER.md.
/// Returns the plan and the (rate, fee) charged.
fn evaluate(
    state: &State,
    view: &View,
    info: &TxInfo,
    signature_ok: bool,
    time: u64,
) -> std::result::Result<(Plan, u64, u64), Refusal> {
    let creating = matches!(info.tx.payload, Payload::CreateAccount { .. });
    let signer = precheck(state, view, info, signature_ok).map_err(|error| Refusal { error, consumes: false })?;
    decide(state, view, info, signer, time).map_err(|error| Refusal { error, consumes: !creating })
}

/// The rules up to and including the nonce: the signer's account in the view
/// (None for a create_account).
fn precheck(state: &State, view: &View, info: &TxInfo, signature_ok: bool) -> Result<Option<Account>> {
    let tx = &info.tx;
    let kind = tx.payload.kind_name();
    if tx.chain_id != state.chain_id {
        return refuse(
            Code::WrongChain,
            format!("Refused {}: chain id {} is not this ledger's {}", kind, hex(&tx.chain_id), hex(&state.chain_id)),
        );
    }
    let creating = matches!(tx.payload, Payload::CreateAccount { .. });
    let signer: Option<Account> = view.account(state, &tx.account);
    if !creating && signer.is_none() {
        return refuse(Code::UnknownAccount, format!("Refused {}: account {} does not exist", kind, hex(&tx.account)));
    }
    if !signature_ok {
        return refuse(
            Code::BadSignature,
            format!("Refused {}: the signature does not verify with the key of account {}", kind, hex(&tx.account)),
        );
    }
    if creating && signer.is_some() {
        return refuse(
            Code::AccountExists,
            format!("Refused create_account: account {} already exists", hex(&tx.account)),
        );
    }
    let next_nonce = signer.as_ref().map_or(0, |a| a.next_nonce);
    if tx.nonce < next_nonce {
        return refuse(
            Code::NonceTooLow,
            format!(
                "Refused {}: nonce {} was already used; the account's next nonce is {}",
                kind, tx.nonce, next_nonce
            ),
        );
    }
    if tx.nonce > next_nonce {
        return refuse(
            Code::NonceTooHigh,
            format!(
                "Refused {}: nonce {} is ahead of the account's next nonce {} (in this transaction's causal past)",
                kind, tx.nonce, next_nonce
            ),
        );
    }
    Ok(signer)
}

/// The rules after the nonce, in precedence order.
fn decide(state: &State, view: &View, info: &TxInfo, signer: Option<Account>, time: u64) -> Result<(Plan, u64, u64)> {
    let tx = &info.tx;
    let kind = tx.payload.kind_name();
    let last_ms = signer.as_ref().map_or(state.genesis_time_ms, |a| a.last_ms);
    if time < last_ms {
        return refuse(
            Code::TimeRegressed,
            format!(
                "Refused {}: ledger time {} ms is before the account's last transaction at {} ms",
                kind, time, last_ms
            ),
        );
    }
    let roles = &state.roles;
    let plan = match &tx.payload {
        Payload::CreateAccount { name, public_key } => {
            if view.name_taken(state, name) {
                return refuse(
                    Code::NameTaken,
                    format!("Refused create_account: the name {:?} is taken", String::from_utf8_lossy(name)),
                );
            }
            Plan::Create { name: name.clone(), public_key: public_key.clone() }
        }
        Payload::Transfer { to, amount, .. } => {
            if !view.exists(state, to) {
                return refuse(
                    Code::UnknownRecipient,
                    format!("Refused transfer: recipient {} does not exist", hex(to)),
                );
            }
            let sender = signer.as_ref().expect("checked above");
            let input = FeeInput {
                verified: sender.verified_at(time),
                age_ms: time.saturating_sub(sender.created_ms),
                usage: sender.usage_at(time),
            };
            let (rate, fee) = fee::fee_for(&view.fee_params(state), &input, *amount)?;
            if fee > tx.max_fee {
                return refuse(
                    Code::FeeExceedsMaxFee,
                    format!(
                        "Refused transfer: the fee is {} units ({} ppb), more than max fee {}",
                        fee, rate, tx.max_fee
                    ),
                );
            }
            let total = amount.checked_add(fee);
            if total.map_or(true, |t| t > sender.balance) {
                return refuse(
                    Code::InsufficientFunds,
                    format!("Refused transfer: amount {} + fee {} exceeds the balance {}", amount, fee, sender.balance),
                );
            }
            return Ok((Plan::Transfer { to: *to, amount: *amount, fee }, rate, fee));
        }
        Payload::Mint { to, amount } => {
            authorized(&tx.account, &roles.exchange_master, kind, "exchange master")?;
            if !view.exists(state, to) {
                return refuse(Code::UnknownRecipient, format!("Refused mint: recipient {} does not exist", hex(to)));
            }
            if state.minted.checked_add(*amount).is_none() {
                return refuse(
                    Code::AmountOverflow,
                    format!("Refused mint: {} more units would overflow the minted total {}", amount, state.minted),
                );
            }
            let circulating = view.minted(state).saturating_sub(view.burned(state));
            if state.supply_cap > 0 && u128::from(circulating) + u128::from(*amount) > u128::from(state.supply_cap) {
                return refuse(
                    Code::SupplyCapExceeded,
                    format!(
                        "Refused mint: {} + {} units would exceed the supply cap {}",
                        circulating, amount, state.supply_cap
                    ),
                );
            }
            Plan::Mint { to: *to, amount: *amount }
        }
        Payload::Burn { amount } => {
            let balance = signer.as_ref().expect("checked above").balance;
            if *amount > balance {
                return refuse(
                    Code::InsufficientFunds,
                    format!("Refused burn: amount {} exceeds the balance {}", amount, balance),
                );
            }
            Plan::Burn { amount: *amount }
        }
        Payload::ConfigureFees { params } => {
            authorized(&tx.account, &roles.fee_admin, kind, "fee admin")?;
            if let Some(lock) = view.lock(state) {
                if time >= lock.grace_end_ms {
                    return refuse(
                        Code::ConfigLocked,
                        format!(
                            "Refused configure_fees: the configuration is locked since {} ms (grace period ended at {} ms)",
                            lock.locked_ms, lock.grace_end_ms
                        ),
                    );
                }
            }
            Plan::ConfigureFees { params: *params }
        }
        Payload::AttestAgent { agent, proof_digest, expiry_ms } => {
            authorized(&tx.account, &roles.agent_verifier, kind, "agent verification")?;
            if !view.exists(state, agent) {
                return refuse(
                    Code::UnknownRecipient,
                    format!("Refused attest_agent: agent {} does not exist", hex(agent)),
                );
            }
            if *expiry_ms <= time {
                return refuse(
                    Code::AttestationExpired,
                    format!(
                        "Refused attest_agent: it expires at {} ms, not after the ledger time {} ms",
                        expiry_ms, time
                    ),
                );
            }
            Plan::Attest {
                agent: *agent,
                attestation: Attestation { expiry_ms: *expiry_ms, proof_digest: *proof_digest, attested_ms: time },
            }
        }
        Payload::RevokeAgent { agent } => {
            authorized(&tx.account, &roles.agent_verifier, kind, "agent verification")?;
            let target = match view.account(state, agent) {
                Some(a) => a,
                None => {
                    return refuse(
                        Code::UnknownRecipient,
                        format!("Refused revoke_agent: agent {} does not exist", hex(agent)),
                    )
                }
            };
            if target.attestation.is_none() {
                return refuse(
                    Code::NotAttested,
                    format!("Refused revoke_agent: agent {} has no attestation", hex(agent)),
                );
            }
            Plan::Revoke { agent: *agent }
        }
        Payload::ImmutableLock { config_hash, grace_period_ms } => {
            authorized(&tx.account, &roles.governance, kind, "governance")?;
            if let Some(lock) = view.lock(state) {
                return refuse(
                    Code::AlreadyLocked,
                    format!(
                        "Refused immutable_lock: already locked at {} ms by {}",
                        lock.locked_ms,
                        hex(&lock.lock_tx)
                    ),
                );
            }
            let current = config_hash_of(&state.chain_id, &view.fee_params(state), state.supply_cap);
            if *config_hash != current {
                return refuse(
                    Code::ConfigHashMismatch,
                    format!(
                        "Refused immutable_lock: it locks configuration {} but the current one is {}",
                        hex(config_hash),
                        hex(&current)
                    ),
                );
            }
            Plan::Lock {
                lock: Lock {
                    config_hash: *config_hash,
                    locked_ms: time,
                    grace_end_ms: time.saturating_add(*grace_period_ms),
                    lock_tx: info.id,
                },
            }
        }
        Payload::GovernanceOverride { config_hash, reason } => {
            authorized(&tx.account, &roles.governance, kind, "governance")?;
            if view.lock(state).is_none() {
                return refuse(Code::NotLocked, "Refused governance_override: the configuration is not locked".into());
            }
            Plan::Override { config_hash: *config_hash, reason: reason.clone() }
        }
        Payload::Data { .. } => Plan::Data,
    };
    Ok((plan, 0, 0))
}

fn credit(state: &mut State, facts: &mut Vec<Fact>, id: &Hash, amount: u64) {
    let a = state.accounts.get_mut(id).expect("credited accounts exist");
    // Cannot overflow: the sum of balances is minted - burned <= u64::MAX.
    a.balance = a.balance.checked_add(amount).expect("balance overflow breaks the supply invariant");
    facts.push(Fact::Balance { account: *id, delta: i128::from(amount) });
}

fn debit(state: &mut State, facts: &mut Vec<Fact>, id: &Hash, amount: u64) {
    let a = state.accounts.get_mut(id).expect("debited accounts exist");
    // Cannot underflow: checked against the view, whose balance is <= this one.
    a.balance = a.balance.checked_sub(amount).expect("debit beyond the balance");
    facts.push(Fact::Balance { account: *id, delta: -i128::from(amount) });
}

fn commit(state: &mut State, info: &TxInfo, plan: Plan, time: u64) -> Vec<Fact> {
    let tx = &info.tx;
    let signer = tx.account;
    let mut facts = Vec::new();
    if let Plan::Create { name, public_key } = &plan {
        state.accounts.insert(signer, Account::new(name.clone(), public_key.clone(), time));
        state.names.entry(name.clone()).or_default().insert(signer);
        facts.push(Fact::Created { account: signer });
        facts.push(Fact::NameClaim { name: name.clone(), account: signer });
    }
    {
        let a = state.accounts.get_mut(&signer).expect("signer exists");
        let previous_last_ms = a.last_ms;
        a.next_nonce = tx.nonce + 1;
        // A consumed refusal may be time_regressed: last_ms only grows.
        a.last_ms = a.last_ms.max(time);
        facts.push(Fact::Nonce { account: signer, nonce: tx.nonce, previous_last_ms });
    }
    match plan {
        Plan::Create { .. } | Plan::Data | Plan::Consume => {}
        Plan::Transfer { to, amount, fee } => {
            debit(state, &mut facts, &signer, amount + fee);
            credit(state, &mut facts, &to, amount);
            let fee_account = state.roles.fee_account;
            if fee > 0 {
                credit(state, &mut facts, &fee_account, fee);
            }
            let a = state.accounts.get_mut(&signer).expect("signer exists");
            facts.push(Fact::Volume { account: signer, nonce: tx.nonce, previous: a.volume.clone() });
            a.record_volume(time, amount);
        }
        Plan::Mint { to, amount } => {
            state.minted += amount;
            credit(state, &mut facts, &to, amount);
            facts.push(Fact::Minted { amount });
        }
        Plan::Burn { amount } => {
            debit(state, &mut facts, &signer, amount);
            state.burned += amount;
            facts.push(Fact::Burned { amount });
        }
        Plan::ConfigureFees { params } => {
            facts.push(Fact::FeeParams { nonce: tx.nonce, previous: state.fee_params });
            state.fee_params = params;
        }
        Plan::Attest { agent, attestation } => {
            let a = state.accounts.get_mut(&agent).expect("agent exists");
            facts.push(Fact::Attestation { agent, nonce: tx.nonce, previous: a.attestation });
            a.attestation = Some(attestation);
        }
        Plan::Revoke { agent } => {
            let a = state.accounts.get_mut(&agent).expect("agent exists");
            facts.push(Fact::Attestation { agent, nonce: tx.nonce, previous: a.attestation });
            a.attestation = None;
        }
        Plan::Lock { lock } => {
            facts.push(Fact::Lock { nonce: tx.nonce, previous: state.lock, audit_len: state.audit.len() as u64 });
            state.audit.push(AuditRecord {
                tx_id: info.id,
                time_ms: time,
                action: AUDIT_LOCK,
                config_hash: lock.config_hash,
                reason: Vec::new(),
            });
            state.lock = Some(lock);
        }
        Plan::Override { config_hash, reason } => {
            facts.push(Fact::Lock { nonce: tx.nonce, previous: state.lock, audit_len: state.audit.len() as u64 });
            state.audit.push(AuditRecord {
                tx_id: info.id,
                time_ms: time,
                action: AUDIT_OVERRIDE,
                config_hash,
                reason,
            });
            state.lock = None;
        }
    }
    facts
}

/// Applies one transaction in its causal context. `signature_ok` says the
/// host verified `tx.signature` over the signing message with the key
/// `prepare` returned; false refuses it (bad_signature), changing nothing.
pub fn apply(state: &mut State, info: &TxInfo, signature_ok: bool, ctx: &Context) -> Result<Outcome> {
    apply_cached(state, &mut None, info, signature_ok, ctx)
}

/// A view kept between calls with the same concurrent set (a vertex's
/// transactions all share one). Valid while none of those vertices' journal
/// entries change; drop it on `settle`.
pub type ViewCache = Option<(Vec<Hash>, View)>;

/// `apply`, reusing `cache` when the concurrent set is the same as last time.
pub fn apply_cached(
    state: &mut State,
    cache: &mut ViewCache,
    info: &TxInfo,
    signature_ok: bool,
    ctx: &Context,
) -> Result<Outcome> {
    if let Some(receipt) = state.results.get(&info.id) {
        let code_name = Code::from_u32(receipt.code).map_or("ok", |c| c.name());
        return Ok(Outcome {
            receipt: *receipt,
            message: format!("Already applied in vertex {}: {}", hex(&receipt.vertex), code_name),
            duplicate: true,
            concurrent_duplicate: receipt.vertex != ctx.vertex && ctx.concurrent.contains(&receipt.vertex),
            touched: Vec::new(),
        });
    }
    if ctx.concurrent.len() > CONCURRENT_VERTICES_MAX {
        fail!(
            InvalidInput,
            "Cannot apply: {} concurrent vertices named, the limit is {}",
            ctx.concurrent.len(),
            CONCURRENT_VERTICES_MAX
        );
    }
    if ctx.concurrent.contains(&ctx.vertex) {
        fail!(InvalidInput, "Cannot apply: the carrier vertex is named as concurrent to itself");
    }
    if state.journal.len() >= JOURNAL_VERTICES_MAX && !state.journal.contains_key(&ctx.vertex) {
        fail!(
            InvalidInput,
            "Cannot apply: {} unsettled vertices in the journal (the limit); settle vertices every later vertex descends from",
            JOURNAL_VERTICES_MAX
        );
    }
    let reusable = match cache {
        // Applying with carrier V changes V's journal: a cached view that subtracts V is stale.
        Some((key, _)) => key.as_slice() == ctx.concurrent && !key.contains(&ctx.vertex),
        None => false,
    };
    if !reusable {
        *cache = Some((ctx.concurrent.to_vec(), View::build(state, ctx.concurrent)));
    }
    let view = &cache.as_ref().expect("just filled").1;
    let mut receipt = Receipt { code: 0, fee: 0, rate_ppb: 0, vertex: ctx.vertex, time_ms: ctx.time_ms };
    let mut touched = std::collections::BTreeSet::new();
    let (plan, message) = match evaluate(state, view, info, signature_ok, ctx.time_ms) {
        Ok((plan, rate, fee)) => {
            receipt.fee = fee;
            receipt.rate_ppb = rate;
            (Some(plan), String::new())
        }
        Err(Refusal { error, consumes }) => {
            receipt.code = error.code as u32;
            if consumes {
                let message = format!("{}; nonce {} is consumed", error.message, info.tx.nonce);
                (Some(Plan::Consume), message)
            } else {
                (None, error.message)
            }
        }
    };
    if let Some(plan) = plan {
        // The view passed the nonce check, so the global record must agree
        // unless two accepted transactions share account and nonce, which
        // consensus (one conflict set per account and nonce) rules out.
        let global_next = state.accounts.get(&info.tx.account).map(|a| a.next_nonce);
        let consistent = match &info.tx.payload {
            Payload::CreateAccount { .. } => global_next.is_none(),
            _ => global_next == Some(info.tx.nonce),
        };
        if !consistent {
            fail!(
                InvalidInput,
                "Cannot apply: another accepted transaction already used account {} nonce {}; consensus must accept one per conflict key",
                hex(&info.tx.account),
                info.tx.nonce
            );
        }
        let facts = commit(state, info, plan, ctx.time_ms);
        for fact in &facts {
            match fact {
                Fact::Balance { account, .. } | Fact::Created { account } | Fact::Nonce { account, .. } => {
                    touched.insert(*account);
                }
                Fact::Attestation { agent, .. } => {
                    touched.insert(*agent);
                }
                _ => {}
            }
        }
        state.journal.entry(ctx.vertex).or_default().extend(facts);
    }
    state.results.insert(info.id, receipt);
    state.applied.entry(ctx.vertex).or_default().push(info.id);
    Ok(Outcome {
        receipt,
        message,
        duplicate: false,
        concurrent_duplicate: false,
        touched: touched.into_iter().collect(),
    })
}

/// A dry run (not consensus): what `apply` would decide for `info` at
/// `time_ms` against the whole current state (no concurrent vertices), without
/// changing anything. A node uses it to refuse a submission before it enters
/// consensus. `receipt.vertex` is zero; `touched` lists the signer when the
/// refusal would consume its nonce.
pub fn check(state: &State, info: &TxInfo, signature_ok: bool, time_ms: u64) -> Outcome {
    if let Some(receipt) = state.results.get(&info.id) {
        let code_name = Code::from_u32(receipt.code).map_or("ok", |c| c.name());
        return Outcome {
            receipt: *receipt,
            message: format!("Already applied in vertex {}: {}", hex(&receipt.vertex), code_name),
            duplicate: true,
            concurrent_duplicate: false,
            touched: Vec::new(),
        };
    }
    let view = View::build(state, &[]);
    let mut receipt = Receipt { code: 0, fee: 0, rate_ppb: 0, vertex: [0; 32], time_ms };
    let (message, touched) = match evaluate(state, &view, info, signature_ok, time_ms) {
        Ok((_, rate, fee)) => {
            receipt.fee = fee;
            receipt.rate_ppb = rate;
            (String::new(), Vec::new())
        }
        Err(Refusal { error, consumes }) => {
            receipt.code = error.code as u32;
            (error.message, if consumes { vec![info.tx.account] } else { Vec::new() })
        }
    };
    Outcome { receipt, message, duplicate: false, concurrent_duplicate: false, touched }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub rate_ppb: u64,
    pub fee: u64,
    pub verified: bool,
    pub age_ms: u64,
    pub usage: u64,
}

/// The fee `account` would pay now (global state) for a transfer of `amount` at `time_ms`.
pub fn fee_quote(state: &State, account: &Hash, amount: u64, time_ms: u64) -> Result<Quote> {
    let a = match state.accounts.get(account) {
        Some(a) => a,
        None => fail!(UnknownAccount, "Cannot quote a fee: account {} does not exist", hex(account)),
    };
    let input = FeeInput {
        verified: a.verified_at(time_ms),
        age_ms: time_ms.saturating_sub(a.created_ms),
        usage: a.usage_at(time_ms),
    };
    let (rate_ppb, fee) = fee::fee_for(&state.fee_params, &input, amount)?;
    Ok(Quote { rate_ppb, fee, verified: input.verified, age_ms: input.age_ms, usage: input.usage })
}
