//! Ledger rules: the seed flow to the unit, every refusal, and properties
//! over random DAGs applied in random causal orders.

use std::collections::BTreeSet;

use super::encode::{export, import, state_hash};
use super::testkit::*;
use super::*;
use crate::error::Code;
use crate::fee::{FeeParams, MS_PER_DAY};
use crate::tx::{Payload, TxInfo};
#[test]
fn seed_flow_balances_to_the_unit() {
    let mut s = genesis(0);
    let mut t = T0 + MINUTE;
    let mut step = || {
        t += MINUTE;
        t
    };
    const TREASURY: u32 = 10;
    const ALICE: u32 = 11;
    const BOB: u32 = 12;
    ok(&mut s, &create(TREASURY, "genesis-treasury"), step());
    ok(&mut s, &tx(MASTER, 0, 0, Payload::Mint { to: id(TREASURY), amount: 10_000_000 * RUV }), step());
    ok(&mut s, &create(ALICE, "alice"), step());
    ok(&mut s, &create(BOB, "bob"), step());
    let t1 = step();
    let a = ok(&mut s, &transfer(TREASURY, 1, id(ALICE), 50_000 * RUV), t1);
    let t2 = step();
    let b = ok(&mut s, &transfer(TREASURY, 2, id(BOB), 30_000 * RUV), t2);

    // First transfer: age 4 minutes, no usage yet: beta = 0, so exactly F_min (0.1%).
    assert_eq!((a.receipt.rate_ppb, a.receipt.fee), (1_000_000, 50 * RUV));
    let mut touched = vec![id(TREASURY), id(ALICE), id(FEES)];
    touched.sort();
    assert_eq!(a.touched, touched);
    // Second: age 5 minutes, usage 50,000 rUv: alpha ~ 3.86e-5, beta ~ 0.99326,
    // rate = 1e6 + floor(alpha*beta*9e6) ppb. Cross-checked with f64 below.
    let age = (t2 - (T0 + 2 * MINUTE)) as f64;
    let alpha = 1.0 - (-age / (90.0 * MS_PER_DAY as f64)).exp();
    let beta = 1.0 - (-5.0f64).exp();
    let want = 1_000_000.0 + alpha * beta * 9_000_000.0;
    assert!((b.receipt.rate_ppb as f64 - want).abs() < 1.0, "{} vs {}", b.receipt.rate_ppb, want);
    assert_eq!(b.receipt.rate_ppb, 1_000_344);
    assert_eq!(b.receipt.fee, 30_010_320); // ceil(30,000e6 * 1,000,344 / 1e9)

    let bal = |s: &State, k: u32| s.accounts[&id(k)].balance;
    assert_eq!(bal(&s, ALICE), 50_000 * RUV);
    assert_eq!(bal(&s, BOB), 30_000 * RUV);
    assert_eq!(bal(&s, FEES), 50 * RUV + 30_010_320);
    assert_eq!(bal(&s, TREASURY), 10_000_000 * RUV - 80_000 * RUV - 50 * RUV - 30_010_320);
    assert_eq!(s.supply(), 10_000_000 * RUV);
    check_invariants(&s);

    // configure-fees with the guide's values (the defaults), verify alice, deploy immutable.
    ok(&mut s, &tx(FEE_ADMIN, 0, 0, Payload::ConfigureFees { params: FeeParams::DEFAULT }), step());
    let year = 365 * MS_PER_DAY;
    let attest = Payload::AttestAgent { agent: id(ALICE), proof_digest: [9; 32], expiry_ms: t2 + year };
    ok(&mut s, &tx(VERIFIER, 0, 0, attest), step());
    assert!(s.accounts[&id(ALICE)].verified_at(t2 + MINUTE * 10));
    let lock_time = step();
    let lock = Payload::ImmutableLock { config_hash: s.config_hash(), grace_period_ms: MS_PER_DAY };
    ok(&mut s, &tx(GOVERNANCE, 0, 0, lock), lock_time);
    let l = s.lock.unwrap();
    assert_eq!((l.locked_ms, l.grace_end_ms), (lock_time, lock_time + MS_PER_DAY));
    assert_eq!(s.audit.len(), 1);

    // Alice, verified, 7 minutes old with no usage: just above the verified floor 0.25%:
    // 2.5e6 + floor(alpha * 2.5e6) ppb with alpha = 1 - e^(-7 min / 90 d) ~ 5.4e-5.
    let c = ok(&mut s, &transfer(ALICE, 1, id(BOB), 1_000 * RUV), step());
    let alpha = 1.0 - (-(7.0 * MINUTE as f64) / (90.0 * MS_PER_DAY as f64)).exp();
    assert!((c.receipt.rate_ppb as f64 - (2_500_000.0 + alpha * 2_500_000.0)).abs() < 1.0);
    assert_eq!((c.receipt.rate_ppb, c.receipt.fee), (2_500_135, 2_500_135));

    // During the grace period a fee change is accepted; after it, refused.
    let p2 = FeeParams { f_min_ppb: 2_000_000, ..FeeParams::DEFAULT };
    ok(&mut s, &tx(FEE_ADMIN, 1, 0, Payload::ConfigureFees { params: p2 }), lock_time + MS_PER_DAY - 1);
    let before = s.clone();
    let late = run(
        &mut s,
        &tx(FEE_ADMIN, 2, 0, Payload::ConfigureFees { params: FeeParams::DEFAULT }),
        lock_time + MS_PER_DAY,
    );
    assert_eq!(late.receipt.code, Code::ConfigLocked as u32, "{}", late.message);
    // Refused after its nonce check: only the fee admin's nonce moved.
    assert_only_nonce_moved(&before, &s, &id(FEE_ADMIN), 3);
    // An audited override lifts the lock; the change then goes through.
    let reason = b"incident 7: restore default fees".to_vec();
    ok(
        &mut s,
        &tx(GOVERNANCE, 1, 0, Payload::GovernanceOverride { config_hash: [1; 32], reason }),
        lock_time + MS_PER_DAY + 1,
    );
    assert!(s.lock.is_none());
    assert_eq!(s.audit.len(), 2);
    assert_eq!(s.audit[1].action, AUDIT_OVERRIDE);
    // The refused transaction keeps its result; the next nonce goes through.
    ok(&mut s, &tx(FEE_ADMIN, 3, 1, Payload::ConfigureFees { params: FeeParams::DEFAULT }), lock_time + MS_PER_DAY + 2);
    check_invariants(&s);
    assert_eq!(import(&export(&s)).unwrap(), s);
}

#[test]
fn every_refusal_has_its_code_and_changes_nothing() {
    let mut s = genesis(1_000 * RUV);
    let t = T0 + MINUTE;
    ok(&mut s, &create(10, "alice"), t);
    ok(&mut s, &create(11, "bob"), t);
    ok(&mut s, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 100 * RUV }), t);
    let config_hash = s.config_hash();
    ok(&mut s, &tx(GOVERNANCE, 0, 0, Payload::ImmutableLock { config_hash, grace_period_ms: 10 }), t);
    let later = t + 10;
    let wrong_chain = {
        let mut info = transfer(10, 1, id(11), 1);
        info.tx.chain_id = [8; 32];
        info.id = [0xee; 32];
        info
    };
    let cases: Vec<(TxInfo, bool, u64, Code)> = vec![
        (wrong_chain, true, t, Code::WrongChain),
        (transfer(99, 0, id(11), 1), true, t, Code::UnknownAccount),
        (transfer(10, 1, id(11), 2), false, t, Code::BadSignature),
        (create(11, "carol"), true, t, Code::AccountExists),
        (transfer(10, 0, id(11), 4), true, t, Code::NonceTooLow),
        (transfer(10, 2, id(11), 5), true, t, Code::NonceTooHigh),
        (transfer(10, 1, id(11), 3), true, t - 1, Code::TimeRegressed),
        (tx(10, 1, 0, Payload::Mint { to: id(10), amount: 1 }), true, t, Code::NotAuthorized),
        (tx(10, 1, 0, Payload::ConfigureFees { params: FeeParams::DEFAULT }), true, t, Code::NotAuthorized),
        (
            tx(10, 1, 0, Payload::AttestAgent { agent: id(10), proof_digest: [0; 32], expiry_ms: u64::MAX }),
            true,
            t,
            Code::NotAuthorized,
        ),
        (
            tx(10, 1, 0, Payload::ImmutableLock { config_hash: [0; 32], grace_period_ms: 0 }),
            true,
            t,
            Code::NotAuthorized,
        ),
        (tx(FEE_ADMIN, 0, 0, Payload::ConfigureFees { params: FeeParams::DEFAULT }), true, later, Code::ConfigLocked),
        (
            tx(GOVERNANCE, 1, 0, Payload::ImmutableLock { config_hash: s.config_hash(), grace_period_ms: 0 }),
            true,
            t,
            Code::AlreadyLocked,
        ),
        (create(12, "alice"), true, t, Code::NameTaken),
        (transfer(10, 1, id(98), 1), true, t, Code::UnknownRecipient),
        (tx(MASTER, 1, 0, Payload::Mint { to: id(98), amount: 1 }), true, t, Code::UnknownRecipient),
        (
            tx(VERIFIER, 0, 0, Payload::AttestAgent { agent: id(10), proof_digest: [0; 32], expiry_ms: t }),
            true,
            t,
            Code::AttestationExpired,
        ),
        (tx(VERIFIER, 0, 0, Payload::RevokeAgent { agent: id(10) }), true, t, Code::NotAttested),
        (tx(MASTER, 1, 0, Payload::Mint { to: id(10), amount: 901 * RUV }), true, t, Code::SupplyCapExceeded),
        (tx(MASTER, 1, 0, Payload::Mint { to: id(10), amount: u64::MAX }), true, t, Code::AmountOverflow),
        (
            tx(10, 1, 99_999, Payload::Transfer { to: id(11), amount: 100 * RUV, memo: vec![] }),
            true,
            t,
            Code::FeeExceedsMaxFee,
        ),
        (transfer(10, 1, id(11), 100 * RUV), true, t, Code::InsufficientFunds),
        (tx(10, 1, 0, Payload::Burn { amount: 100 * RUV + 1 }), true, t, Code::InsufficientFunds),
    ];
    for (info, sig_ok, time, code) in cases {
        // Each case on its own copy: a refusal after the nonce check consumes the nonce.
        let base = s.clone();
        let mut c = s.clone();
        let out =
            apply(&mut c, &info, sig_ok, &Context { vertex: vertex_id(1), time_ms: time, concurrent: &[] }).unwrap();
        assert_eq!(Code::from_u32(out.receipt.code), Some(code), "{}", out.message);
        assert!(!out.message.is_empty());
        let creating = matches!(info.tx.payload, Payload::CreateAccount { .. });
        let consumes = !creating && (code as u32 >= Code::TimeRegressed as u32 || code == Code::AmountOverflow);
        if consumes {
            assert!(out.message.ends_with("is consumed"), "{}", out.message);
            assert_eq!(out.touched, vec![info.tx.account]);
            assert_only_nonce_moved(&base, &c, &info.tx.account, info.tx.nonce + 1);
        } else {
            assert_eq!(state_hash(&c), state_hash(&base), "{:?} changed the state", code);
            assert!(out.touched.is_empty());
        }
        // A replay returns the same refusal and changes nothing more.
        let after = state_hash(&c);
        let again =
            apply(&mut c, &info, true, &Context { vertex: vertex_id(2), time_ms: time, concurrent: &[] }).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.receipt, out.receipt);
        assert_eq!(state_hash(&c), after);
    }
    // Not locked: override refused. Unlocked first by an override.
    ok(&mut s, &tx(GOVERNANCE, 1, 0, Payload::GovernanceOverride { config_hash: [0; 32], reason: b"x".to_vec() }), t);
    let out = run(
        &mut s,
        &tx(GOVERNANCE, 2, 0, Payload::GovernanceOverride { config_hash: [0; 32], reason: b"y".to_vec() }),
        t,
    );
    assert_eq!(out.receipt.code, Code::NotLocked as u32);
    let out =
        run(&mut s, &tx(GOVERNANCE, 3, 0, Payload::ImmutableLock { config_hash: [3; 32], grace_period_ms: 0 }), t);
    assert_eq!(out.receipt.code, Code::ConfigHashMismatch as u32);
    check_invariants(&s);
}

#[test]
fn precedence_reports_the_first_failing_rule() {
    let mut s = genesis(0);
    ok(&mut s, &create(10, "alice"), T0);
    // Unknown signer and bad signature: unknown_account first.
    let out =
        apply(&mut s, &transfer(99, 5, id(98), 1), false, &Context { vertex: [1; 32], time_ms: 0, concurrent: &[] });
    assert_eq!(out.unwrap().receipt.code, Code::UnknownAccount as u32);
    // Bad signature beats a stale nonce, which beats insufficient funds.
    let out =
        apply(&mut s, &transfer(10, 0, id(98), 1), false, &Context { vertex: [1; 32], time_ms: 0, concurrent: &[] });
    assert_eq!(out.unwrap().receipt.code, Code::BadSignature as u32);
    let out = run(&mut s, &transfer(10, 0, id(98), u64::MAX), T0);
    assert_eq!(out.receipt.code, Code::NonceTooLow as u32);
    // Not authorized beats an unknown recipient.
    let out = run(&mut s, &tx(10, 1, 0, Payload::Mint { to: id(98), amount: 1 }), T0);
    assert_eq!(out.receipt.code, Code::NotAuthorized as u32);
}

#[test]
fn fee_window_counts_thirty_days_of_sent_volume() {
    let mut s = genesis(0);
    ok(&mut s, &create(10, "alice"), T0);
    ok(&mut s, &create(11, "bob"), T0);
    ok(&mut s, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 1_000_000 * RUV }), T0);
    let day = MS_PER_DAY;
    ok(&mut s, &transfer(10, 1, id(11), 5_000 * RUV), T0 + day);
    assert_eq!(s.accounts[&id(10)].usage_at(T0 + 29 * day), 5_000 * RUV);
    assert_eq!(s.accounts[&id(10)].usage_at(T0 + 31 * day), 0);
    // 90 days old with 5,000 rUv sent in the window: the seed example 0.324%.
    let t90 = T0 + 90 * day;
    let mut s2 = genesis(0);
    ok(&mut s2, &create(10, "alice"), T0);
    ok(&mut s2, &create(11, "bob"), T0);
    ok(&mut s2, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 1_000_000 * RUV }), T0);
    ok(&mut s2, &transfer(10, 1, id(11), 5_000 * RUV), t90 - day);
    let q = fee_quote(&s2, &id(10), 1_000 * RUV, t90).unwrap();
    assert_eq!((q.rate_ppb, q.age_ms, q.usage, q.verified), (3_238_480, 90 * day, 5_000 * RUV, false));
    let out = ok(&mut s2, &transfer(10, 2, id(11), 1_000 * RUV), t90);
    assert_eq!((out.receipt.rate_ppb, out.receipt.fee), (3_238_480, q.fee));
    // The window stays bounded.
    let mut s3 = genesis(0);
    ok(&mut s3, &create(10, "alice"), T0);
    ok(&mut s3, &create(11, "bob"), T0);
    ok(&mut s3, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 1_000_000 * RUV }), T0);
    for n in 1..100u64 {
        ok(&mut s3, &transfer(10, n, id(11), RUV), T0 + n * day / 2);
    }
    assert!(s3.accounts[&id(10)].volume.len() <= VOLUME_WINDOW_DAYS as usize);
}

#[test]
fn genesis_is_checked() {
    let g = |f: &dyn Fn(&mut Genesis)| {
        let mut g = Genesis {
            chain_id: CHAIN,
            time_ms: T0,
            fee_params: FeeParams::DEFAULT,
            supply_cap: 0,
            accounts: vec![GenesisAccount { name: b"root".to_vec(), public_key: key(1) }],
            roles: Roles {
                fee_account: id(1),
                exchange_master: id(1),
                fee_admin: id(1),
                agent_verifier: id(1),
                governance: id(1),
            },
        };
        f(&mut g);
        State::genesis(&g).map(|_| ()).map_err(|e| e.code)
    };
    assert_eq!(g(&|_| {}), Ok(()));
    assert_eq!(g(&|g| g.roles.governance = id(2)), Err(Code::InvalidInput));
    assert_eq!(
        g(&|g| g.accounts.push(GenesisAccount { name: b"root".to_vec(), public_key: key(2) })),
        Err(Code::InvalidInput)
    );
    assert_eq!(g(&|g| g.accounts[0].name = b"Root".to_vec()), Err(Code::NameInvalid));
    assert_eq!(g(&|g| g.fee_params.time_constant_ms = 0), Err(Code::InvalidFeeParams));
    assert_eq!(g(&|g| g.accounts[0].public_key.pop().map(|_| ()).unwrap()), Err(Code::InvalidInput));
}

/// Applies the DAG in a random causal order (each vertex after its
/// ancestors), settling vertices every remaining vertex descends from (and
/// whose transactions no remaining vertex carries again: consensus rejects a
/// second carrier of a settled transaction). Checks the invariants after
/// every transaction.
fn apply_in_random_order(dag: &Dag, rng: &mut Rng) -> (State, Vec<Vec<Receipt>>) {
    let mut s = genesis(50_000_000 * RUV);
    let n = dag.ids.len();
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut settled: BTreeSet<usize> = BTreeSet::new();
    let mut receipts = vec![Vec::new(); n];
    // Half the runs reuse views between calls, as the export layer does.
    let use_cache = rng.below(2) == 0;
    let mut cache: ViewCache = None;
    while done.len() < n {
        let ready: Vec<usize> = (0..n).filter(|v| !done.contains(v) && dag.ancestors[*v].is_subset(&done)).collect();
        let v = ready[rng.below(ready.len() as u64) as usize];
        let concurrent: Vec<Hash> =
            done.iter().filter(|d| !dag.ancestors[v].contains(d)).map(|d| dag.ids[*d]).collect();
        for (info, sig_ok) in &dag.txs[v] {
            let before = s.clone();
            let ctx = Context { vertex: dag.ids[v], time_ms: dag.times[v], concurrent: &concurrent };
            let out = if use_cache {
                apply_cached(&mut s, &mut cache, info, *sig_ok, &ctx).unwrap()
            } else {
                apply(&mut s, info, *sig_ok, &ctx).unwrap()
            };
            if out.duplicate || (out.receipt.code != 0 && out.touched.is_empty()) {
                assert_eq!(state_hash(&s), state_hash(&before), "a refusal or replay changed the state");
            } else if out.receipt.code != 0 {
                assert_only_nonce_moved(&before, &s, &info.tx.account, info.tx.nonce + 1);
            }
            assert!(!out.concurrent_duplicate, "the generator only replays ancestors");
            check_invariants(&s);
            receipts[v].push(out.receipt);
        }
        done.insert(v);
        // Settle what every unapplied vertex descends from (nothing after
        // the last vertex: the receipts left are compared between orders).
        let remaining: Vec<usize> = (0..n).filter(|x| !done.contains(x)).collect();
        for &d in done.iter().filter(|_| !remaining.is_empty()) {
            if !settled.contains(&d) && settleable(dag, d, &remaining) {
                s.settle(&dag.ids[d]);
                cache = None;
                settled.insert(d);
            }
        }
    }
    (s, receipts)
}

/// Receipts are kept exactly until their first carrier is settled.
fn check_receipts_follow_applied(s: &State) {
    let listed: usize = s.applied.values().map(|txs| txs.len()).sum();
    assert_eq!(listed, s.results.len());
    for (vertex, txs) in &s.applied {
        for tx in txs {
            assert_eq!(s.results[tx].vertex, *vertex);
        }
    }
}

#[test]
fn random_dags_in_random_orders_reach_the_same_state() {
    let mut rng = Rng(0x1ed6_e7a1);
    let mut applied = 0usize;
    let mut refused = 0usize;
    let mut codes: BTreeSet<u32> = BTreeSet::new();
    for case in 0..300 {
        let size = 10 + rng.below(30) as usize;
        let dag = random_dag(&mut rng, size);
        let (first, first_receipts) = apply_in_random_order(&dag, &mut rng);
        let hash = state_hash(&first);
        for r in first_receipts.iter().flatten() {
            codes.insert(r.code);
            if r.code == 0 {
                applied += 1;
            } else {
                refused += 1;
            }
        }
        for _ in 0..4 {
            let (other, receipts) = apply_in_random_order(&dag, &mut rng);
            assert_eq!(state_hash(&other), hash, "case {}: the state hash depends on the order", case);
            // Which receipts are still held depends on when vertices were settled.
            for (id, r) in &first.results {
                if let Some(o) = other.results.get(id) {
                    assert_eq!(o, r, "case {}: a result depends on the order", case);
                }
            }
            check_receipts_follow_applied(&other);
            assert_eq!(receipts, first_receipts, "case {}", case);
        }
        assert_eq!(import(&export(&first)).unwrap(), first);
    }
    // The generator must exercise both paths and many refusal codes.
    assert!(applied > 2_000 && refused > 2_000, "applied {} refused {}", applied, refused);
    assert!(codes.len() >= 15, "only codes {:?}", codes);
}

#[test]
fn a_transaction_is_judged_by_its_causal_past_not_by_arrival() {
    // Vertex A credits bob; vertex B (concurrent to A) spends bob's funds.
    // Whatever order a node applies them in, B is refused: A is not in its past.
    let mut base = genesis(0);
    ok(&mut base, &create(10, "alice"), T0);
    ok(&mut base, &create(11, "bob"), T0);
    ok(&mut base, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 100 * RUV }), T0);
    let credit = transfer(10, 1, id(11), 10 * RUV);
    let spend = transfer(11, 1, id(10), 5 * RUV);
    let (a, b) = ([0xaa; 32], [0xbb; 32]);
    let mut s1 = base.clone();
    apply(&mut s1, &credit, true, &Context { vertex: a, time_ms: T0 + 1, concurrent: &[] }).unwrap();
    let r1 = apply(&mut s1, &spend, true, &Context { vertex: b, time_ms: T0 + 1, concurrent: &[a] }).unwrap();
    let mut s2 = base.clone();
    let r2 = apply(&mut s2, &spend, true, &Context { vertex: b, time_ms: T0 + 1, concurrent: &[] }).unwrap();
    apply(&mut s2, &credit, true, &Context { vertex: a, time_ms: T0 + 1, concurrent: &[b] }).unwrap();
    assert_eq!(r1.receipt.code, Code::InsufficientFunds as u32);
    assert_eq!(r1.receipt, r2.receipt);
    assert_eq!(state_hash(&s1), state_hash(&s2));
    // A descendant of A sees the credit.
    let again =
        apply(&mut s1, &spend, true, &Context { vertex: [0xcc; 32], time_ms: T0 + 2, concurrent: &[] }).unwrap();
    assert!(again.duplicate && !again.concurrent_duplicate);
    assert_eq!(again.receipt, r1.receipt);
    // The refusal consumed bob's nonce 1 (consensus spent that conflict key): he goes on with 2.
    assert_eq!(s1.accounts[&id(11)].next_nonce, 2);
    let fresh = transfer(11, 2, id(10), 4 * RUV);
    let r3 = apply(&mut s1, &fresh, true, &Context { vertex: [0xcc; 32], time_ms: T0 + 2, concurrent: &[] }).unwrap();
    assert_eq!(r3.receipt.code, 0, "{}", r3.message);
}

#[test]
fn concurrent_name_claims_keep_both_accounts_and_one_owner() {
    let base = genesis(0);
    let (a, b) = ([0xaa; 32], [0xbb; 32]);
    let mut hashes = Vec::new();
    for first_a in [true, false] {
        let mut s = base.clone();
        let order = if first_a { [(10, a, b), (11, b, a)] } else { [(11, b, a), (10, a, b)] };
        for (seed, v, other) in order {
            let applied = !s.journal.contains_key(&other);
            let concurrent: Vec<Hash> = if applied { vec![] } else { vec![other] };
            let out = apply(
                &mut s,
                &create(seed, "carol"),
                true,
                &Context { vertex: v, time_ms: T0, concurrent: &concurrent },
            );
            assert_eq!(out.unwrap().receipt.code, 0);
        }
        let owner = id(10).min(id(11));
        assert_eq!(s.account_by_name(b"carol"), Some(owner));
        assert_eq!(s.names[&b"carol".to_vec()].len(), 2);
        // A later claim, with both in its past, is refused.
        let out = run(&mut s, &create(12, "carol"), T0 + 1);
        assert_eq!(out.receipt.code, Code::NameTaken as u32);
        hashes.push(state_hash(&s));
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn a_transaction_carried_by_two_concurrent_vertices_is_flagged() {
    let mut s = genesis(0);
    let info = create(10, "alice");
    apply(&mut s, &info, true, &Context { vertex: [1; 32], time_ms: T0, concurrent: &[] }).unwrap();
    let again = apply(&mut s, &info, true, &Context { vertex: [2; 32], time_ms: T0, concurrent: &[[1; 32]] }).unwrap();
    assert!(again.duplicate && again.concurrent_duplicate);
}

#[test]
fn host_contract_violations_are_errors_not_results() {
    let mut s = genesis(0);
    let many = vec![[0u8; 32]; CONCURRENT_VERTICES_MAX + 1];
    let err = apply(&mut s, &create(10, "a"), true, &Context { vertex: [1; 32], time_ms: T0, concurrent: &many });
    assert_eq!(err.unwrap_err().code, Code::InvalidInput);
    let err = apply(&mut s, &create(10, "a"), true, &Context { vertex: [1; 32], time_ms: T0, concurrent: &[[1; 32]] });
    assert_eq!(err.unwrap_err().code, Code::InvalidInput);
    // Two accepted transactions with one account and nonce: consensus broke; refuse to corrupt.
    ok(&mut s, &create(10, "a"), T0);
    let twin =
        apply(&mut s, &create(10, "b"), true, &Context { vertex: [9; 32], time_ms: T0, concurrent: &[vertex_id(T0)] });
    assert_eq!(twin.unwrap_err().code, Code::InvalidInput);
    assert!(s.results.len() == 1);
}

#[test]
fn a_dry_run_decides_like_apply_and_changes_nothing() {
    let mut s = genesis(0);
    ok(&mut s, &create(10, "alice"), T0);
    ok(&mut s, &create(11, "bob"), T0);
    ok(&mut s, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 10 * RUV }), T0);
    let cases = [
        (transfer(10, 1, id(11), RUV), true, 0),
        (transfer(10, 1, id(11), 11 * RUV), true, Code::InsufficientFunds as u32),
        (transfer(10, 2, id(11), RUV), true, Code::NonceTooHigh as u32),
        (transfer(10, 1, id(11), RUV), false, Code::BadSignature as u32),
        (create(12, "alice"), true, Code::NameTaken as u32),
    ];
    for (info, sig_ok, code) in cases {
        let before = s.clone();
        let dry = check(&s, &info, sig_ok, T0 + 1);
        assert_eq!(s, before, "a dry run changed the state");
        assert_eq!(dry.receipt.code, code, "{}", dry.message);
        let consumes = code == Code::InsufficientFunds as u32;
        assert_eq!(dry.touched, if consumes { vec![info.tx.account] } else { vec![] });
        let mut c = s.clone();
        let real =
            apply(&mut c, &info, sig_ok, &Context { vertex: [7; 32], time_ms: T0 + 1, concurrent: &[] }).unwrap();
        assert_eq!(
            (real.receipt.code, real.receipt.fee, real.receipt.rate_ppb),
            (dry.receipt.code, dry.receipt.fee, dry.receipt.rate_ppb)
        );
    }
    // An applied transaction's dry run is its receipt again.
    let info = transfer(10, 1, id(11), RUV);
    let real = ok(&mut s, &info, T0 + 1);
    let dry = check(&s, &info, true, T0 + 5);
    assert!(dry.duplicate);
    assert_eq!(dry.receipt, real.receipt);
}
