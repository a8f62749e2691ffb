//! Shared by the ledger's tests (and the frame tests): keys, a genesis, a
//! transaction builder, and the random DAG generator of the property tests.

use std::collections::BTreeSet;

use super::encode::state_hash;
use super::*;
use crate::fee::{FeeParams, MS_PER_DAY};
use crate::limits::{ML_DSA_87_PUBLIC_KEY_BYTES, ML_DSA_87_SIGNATURE_BYTES};
use crate::tx::{self, Payload, Transaction, TxInfo};

pub(crate) const RUV: u64 = crate::amount::UNITS_PER_RUV;
pub(crate) const CHAIN: Hash = [7; 32];
pub(crate) const T0: u64 = 1_750_000_000_000;
pub(crate) const MINUTE: u64 = 60_000;

pub(crate) fn key(seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(ML_DSA_87_PUBLIC_KEY_BYTES);
    let mut x = seed.wrapping_mul(0x9E37_79B9).wrapping_add(1);
    for _ in 0..ML_DSA_87_PUBLIC_KEY_BYTES {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
    out
}

pub(crate) fn id(seed: u32) -> Hash {
    crate::blake3::hash(&key(seed))
}

// Key seeds of the genesis roles.
pub(crate) const FEES: u32 = 1;
pub(crate) const MASTER: u32 = 2;
pub(crate) const FEE_ADMIN: u32 = 3;
pub(crate) const VERIFIER: u32 = 4;
pub(crate) const GOVERNANCE: u32 = 5;

/// `after` is `before` with only `account`'s next nonce moved to `next` (and
/// its last time not going back): what a refusal after the nonce check does.
pub(crate) fn assert_only_nonce_moved(before: &State, after: &State, account: &Hash, next: u64) {
    let (b, a) = (&before.accounts[account], &after.accounts[account]);
    assert_eq!(a.next_nonce, next);
    assert!(a.last_ms >= b.last_ms);
    let mut undone = after.clone();
    let u = undone.accounts.get_mut(account).unwrap();
    u.next_nonce = b.next_nonce;
    u.last_ms = b.last_ms;
    assert_eq!(state_hash(&undone), state_hash(before), "a refusal changed more than the nonce");
}

pub(crate) fn genesis(supply_cap: u64) -> State {
    let names = [
        (FEES, "fees"),
        (MASTER, "exchange-master"),
        (FEE_ADMIN, "fee-admin"),
        (VERIFIER, "agent-verifier"),
        (GOVERNANCE, "governance"),
    ];
    State::genesis(&Genesis {
        chain_id: CHAIN,
        time_ms: T0,
        fee_params: FeeParams::DEFAULT,
        supply_cap,
        accounts: names
            .iter()
            .map(|(s, n)| GenesisAccount { name: n.as_bytes().to_vec(), public_key: key(*s) })
            .collect(),
        roles: Roles {
            fee_account: id(FEES),
            exchange_master: id(MASTER),
            fee_admin: id(FEE_ADMIN),
            agent_verifier: id(VERIFIER),
            governance: id(GOVERNANCE),
        },
    })
    .unwrap()
}

pub(crate) fn tx(signer: u32, nonce: u64, max_fee: u64, payload: Payload) -> TxInfo {
    let t = Transaction {
        chain_id: CHAIN,
        account: id(signer),
        nonce,
        timestamp_ms: 0,
        max_fee,
        payload,
        signature: vec![signer as u8; ML_DSA_87_SIGNATURE_BYTES],
    };
    tx::inspect(&t.encode().unwrap()).unwrap()
}

pub(crate) fn create(seed: u32, name: &str) -> TxInfo {
    tx(seed, 0, 0, Payload::CreateAccount { name: name.as_bytes().to_vec(), public_key: key(seed) })
}

pub(crate) fn transfer(from: u32, nonce: u64, to: Hash, amount: u64) -> TxInfo {
    tx(from, nonce, u64::MAX, Payload::Transfer { to, amount, memo: vec![] })
}

pub(crate) fn vertex_id(n: u64) -> Hash {
    crate::blake3::hash(&n.to_le_bytes())
}

/// Applies in a single-vertex-chain context (vertex n, nothing concurrent).
pub(crate) fn run(s: &mut State, info: &TxInfo, time: u64) -> Outcome {
    let v = vertex_id(time);
    apply(s, info, true, &Context { vertex: v, time_ms: time, concurrent: &[] }).unwrap()
}

pub(crate) fn ok(s: &mut State, info: &TxInfo, time: u64) -> Outcome {
    let out = run(s, info, time);
    assert_eq!(out.receipt.code, 0, "{}: {}", info.tx.payload.kind_name(), out.message);
    out
}

pub(crate) fn sum_balances(s: &State) -> u128 {
    s.accounts.values().map(|a| u128::from(a.balance)).sum()
}

pub(crate) fn check_invariants(s: &State) {
    assert_eq!(sum_balances(s), u128::from(s.minted - s.burned));
}

// ------------------------------------------------------------------ properties

/// xorshift64*: a fixed, seedable source for the generators (tests only).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(crate) struct Dag {
    pub ids: Vec<Hash>,
    pub times: Vec<u64>,
    pub ancestors: Vec<BTreeSet<usize>>,
    pub txs: Vec<Vec<(TxInfo, bool)>>,
}

pub(crate) const USERS: [u32; 6] = [20, 21, 22, 23, 24, 25];

/// A random DAG whose transactions respect consensus (no two share an
/// account and nonce) but otherwise include every kind, stale and future
/// nonces, bad signatures, unauthorized signers, concurrent name claims,
/// overspends and replays of ancestor transactions.
pub(crate) fn random_dag(rng: &mut Rng, vertices: usize) -> Dag {
    let mut dag = Dag { ids: vec![], times: vec![], ancestors: vec![], txs: vec![] };
    // Nonces are guessed from a ledger that applies the DAG in creation order,
    // as a wallet would from its node: mostly right, sometimes not.
    let mut gen = genesis(50_000_000 * RUV);
    let mut used: BTreeSet<(u32, u64)> = BTreeSet::new();
    let all: Vec<u32> = [FEES, MASTER, FEE_ADMIN, VERIFIER, GOVERNANCE].iter().chain(USERS.iter()).copied().collect();
    for v in 0..vertices {
        let mut parents = BTreeSet::new();
        if v > 0 {
            for _ in 0..1 + rng.below(3) {
                // Mostly recent parents: a realistic frontier, some stale.
                let back = 1 + rng.below((v as u64).min(6)) as usize;
                parents.insert(v - back);
            }
        }
        let mut anc = BTreeSet::new();
        let mut time = T0 + MINUTE;
        for &p in &parents {
            anc.insert(p);
            anc.extend(dag.ancestors[p].iter().copied());
            time = time.max(dag.times[p]);
        }
        time += rng.below(3 * MS_PER_DAY);
        let mut txs = Vec::new();
        for _ in 0..rng.below(5) {
            if !anc.is_empty() && rng.below(12) == 0 {
                // A replay of a transaction from an ancestor vertex.
                let from: Vec<&usize> = anc.iter().collect();
                let carrier = &dag.txs[*from[rng.below(from.len() as u64) as usize]];
                if !carrier.is_empty() {
                    let pick = carrier[rng.below(carrier.len() as u64) as usize].clone();
                    if !txs.iter().any(|(t, _): &(TxInfo, bool)| t.id == pick.0.id) {
                        txs.push(pick);
                    }
                }
                continue;
            }
            let signer = all[rng.below(all.len() as u64) as usize];
            let base = gen.accounts.get(&id(signer)).map_or(0, |a| a.next_nonce)
                + txs.iter().filter(|(t, _): &&(TxInfo, bool)| t.tx.account == id(signer)).count() as u64;
            let nonce = match rng.below(20) {
                0 => base.saturating_sub(1),
                1 => base + 1,
                _ => base,
            };
            if !used.insert((signer, nonce)) {
                continue;
            }
            let target = id(all[rng.below(all.len() as u64) as usize]);
            let amount = 1 + rng.below(3_000 * RUV);
            // Mostly what the signer's role does; sometimes anything (not_authorized).
            let exists = gen.accounts.contains_key(&id(signer));
            let choice = if rng.below(8) == 0 {
                rng.below(12)
            } else {
                match signer {
                    MASTER => 4,
                    FEE_ADMIN => 6,
                    VERIFIER => 7 + rng.below(2),
                    GOVERNANCE => 9 + rng.below(2),
                    _ if !exists => 12,
                    _ => [0, 1, 2, 3, 5, 11][rng.below(6) as usize],
                }
            };
            let payload = match choice {
                0..=3 => Payload::Transfer { to: target, amount, memo: vec![] },
                4 => Payload::Mint { to: target, amount: amount * 10 },
                5 => Payload::Burn { amount: amount / 10 + 1 },
                6 => Payload::ConfigureFees {
                    params: FeeParams { f_min_ppb: 1_000_000 + rng.below(1_000_000) as u32, ..FeeParams::DEFAULT },
                },
                7 => Payload::AttestAgent {
                    agent: target,
                    proof_digest: [3; 32],
                    expiry_ms: time + rng.below(5 * MS_PER_DAY),
                },
                8 => Payload::RevokeAgent { agent: target },
                9 => Payload::ImmutableLock {
                    config_hash: super::config_hash_of(&CHAIN, &gen.fee_params, 50_000_000 * RUV),
                    grace_period_ms: rng.below(4 * MS_PER_DAY),
                },
                10 => Payload::GovernanceOverride { config_hash: [1; 32], reason: b"test".to_vec() },
                11 => Payload::Data { data: vec![1, 2, 3] },
                _ => {
                    let name = format!("user{}", rng.below(8)); // collisions on purpose
                    Payload::CreateAccount { name: name.into_bytes(), public_key: key(signer) }
                }
            };
            let max_fee = if rng.below(30) == 0 { 0 } else { u64::MAX };
            let info = tx(signer, nonce, max_fee, payload);
            let sig_ok = rng.below(50) != 0;
            txs.push((info, sig_ok));
        }
        let vid = vertex_id(1_000_000 + v as u64 + (rng.next() << 20));
        let concurrent: Vec<Hash> = (0..v).filter(|d| !anc.contains(d)).map(|d| dag.ids[d]).collect();
        for (info, sig_ok) in &txs {
            apply(&mut gen, info, *sig_ok, &Context { vertex: vid, time_ms: time, concurrent: &concurrent }).unwrap();
        }
        dag.ids.push(vid);
        dag.times.push(time);
        dag.ancestors.push(anc);
        dag.txs.push(txs);
    }
    dag
}

/// Whether vertex `d` may be settled while `remaining` are still to be
/// applied: each of them descends from it, and none carries one of its
/// transactions again (consensus rejects a second carrier of a settled
/// transaction).
pub(crate) fn settleable(dag: &Dag, d: usize, remaining: &[usize]) -> bool {
    let carried: BTreeSet<Hash> = dag.txs[d].iter().map(|(info, _)| info.id).collect();
    remaining
        .iter()
        .all(|r| dag.ancestors[*r].contains(&d) && !dag.txs[*r].iter().any(|(t, _)| carried.contains(&t.id)))
}

/// A random causal order (each vertex after its ancestors) of `subset`,
/// which must be downward closed.
pub(crate) fn random_order(dag: &Dag, subset: &BTreeSet<usize>, rng: &mut Rng) -> Vec<usize> {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut order = Vec::new();
    while done.len() < subset.len() {
        let ready: Vec<usize> =
            subset.iter().copied().filter(|v| !done.contains(v) && dag.ancestors[*v].is_subset(&done)).collect();
        let v = ready[rng.below(ready.len() as u64) as usize];
        done.insert(v);
        order.push(v);
    }
    order
}
