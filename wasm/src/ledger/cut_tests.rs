//! Settlement and cuts: settling drops receipts; the state at a
//! downward-closed cut equals a ledger that applied only the cut's vertices;
//! export v2 round-trips.

use std::collections::{BTreeMap, BTreeSet};

use super::encode::{export, import, journal_hash, state_hash};
use super::testkit::*;
use super::*;
use crate::error::Code;
use crate::fee::{FeeParams, MS_PER_DAY};
use crate::tx::Payload;

/// Applies `order` (a causal order of a downward-closed set of the DAG's
/// vertices) to a fresh ledger. After each vertex, settles every applied
/// vertex for which `may_settle(vertex, not yet applied)` holds. Returns the
/// state and the settled vertices.
fn apply_order(dag: &Dag, order: &[usize], may_settle: &dyn Fn(usize, &[usize]) -> bool) -> (State, BTreeSet<usize>) {
    let mut s = genesis(50_000_000 * RUV);
    let mut done: Vec<usize> = Vec::new();
    let mut settled = BTreeSet::new();
    for (i, &v) in order.iter().enumerate() {
        let concurrent: Vec<Hash> =
            done.iter().filter(|d| !dag.ancestors[v].contains(d)).map(|d| dag.ids[*d]).collect();
        for (info, sig_ok) in &dag.txs[v] {
            let ctx = Context { vertex: dag.ids[v], time_ms: dag.times[v], concurrent: &concurrent };
            apply(&mut s, info, *sig_ok, &ctx).unwrap();
        }
        done.push(v);
        let remaining = &order[i + 1..];
        for &d in &done {
            if !settled.contains(&d) && may_settle(d, remaining) {
                s.settle(&dag.ids[d]);
                settled.insert(d);
            }
        }
    }
    (s, settled)
}

fn fact_kind(f: &Fact) -> &'static str {
    match f {
        Fact::Balance { .. } => "balance",
        Fact::Created { .. } => "created",
        Fact::NameClaim { .. } => "name",
        Fact::Nonce { .. } => "nonce",
        Fact::Volume { .. } => "volume",
        Fact::Minted { .. } => "minted",
        Fact::Burned { .. } => "burned",
        Fact::FeeParams { .. } => "fee_params",
        Fact::Attestation { .. } => "attestation",
        Fact::Lock { .. } => "lock",
    }
}

#[test]
fn the_state_at_a_downward_closed_cut_is_the_state_of_its_vertices_alone() {
    let mut rng = Rng(0xc0_7c07);
    let mut undone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut settled_total = 0usize;
    for case in 0..300 {
        let size = 10 + rng.below(30) as usize;
        let dag = random_dag(&mut rng, size);
        let all: BTreeSet<usize> = (0..size).collect();
        let order = random_order(&dag, &all, &mut rng);
        // K: a prefix of another causal order, so downward closed.
        let kept: BTreeSet<usize> =
            random_order(&dag, &all, &mut rng).into_iter().take(rng.below(size as u64 + 1) as usize).collect();
        // Half the cases settle as they go: only kept vertices (an excluded one must keep its facts).
        let settling = rng.below(2) == 0;
        let may_settle =
            |d: usize, remaining: &[usize]| settling && kept.contains(&d) && settleable(&dag, d, remaining);
        let (full, settled) = apply_order(&dag, &order, &may_settle);
        settled_total += settled.len();
        let mut excluded: Vec<Hash> = all.difference(&kept).map(|v| dag.ids[*v]).collect();
        for v in &excluded {
            for f in full.journal.get(v).into_iter().flatten() {
                *undone.entry(fact_kind(f)).or_insert(0) += 1;
            }
        }
        excluded.push([0xee; 32]); // never applied: ignored
        let at_cut = cut(&full, &excluded);

        let (mut alone, _) = apply_order(&dag, &random_order(&dag, &kept, &mut rng), &|_, _| false);
        for d in &settled {
            alone.settle(&dag.ids[*d]);
        }
        assert_eq!(state_hash(&at_cut), state_hash(&alone), "case {}: the cut's state hash", case);
        assert_eq!(journal_hash(&at_cut), journal_hash(&alone), "case {}: the cut's journal hash", case);
        alone.results.clear();
        alone.applied.clear();
        assert_eq!(at_cut, alone, "case {}", case);
        assert_eq!(import(&export(&at_cut)).unwrap(), at_cut, "case {}", case);
        // Cutting changes nothing in the ledger it reads.
        assert_eq!(cut(&full, &[]).journal, full.journal);
    }
    // Every fact kind was undone many times; settling happened.
    for kind in
        ["balance", "created", "name", "nonce", "volume", "minted", "burned", "fee_params", "attestation", "lock"]
    {
        assert!(undone.get(kind).copied().unwrap_or(0) >= 5, "{} undone only {:?} times", kind, undone.get(kind));
    }
    assert!(settled_total > 500, "only {} vertices settled", settled_total);
}

#[test]
fn the_journal_hash_does_not_depend_on_the_order() {
    let mut rng = Rng(0x10_2a1);
    for case in 0..50 {
        let size = 10 + rng.below(30) as usize;
        let dag = random_dag(&mut rng, size);
        let all: BTreeSet<usize> = (0..size).collect();
        let (a, _) = apply_order(&dag, &random_order(&dag, &all, &mut rng), &|_, _| false);
        let (b, _) = apply_order(&dag, &random_order(&dag, &all, &mut rng), &|_, _| false);
        assert_eq!(journal_hash(&a), journal_hash(&b), "case {}", case);
    }
}

#[test]
fn a_cut_undoes_every_chain_owned_value() {
    let mut s = genesis(0);
    ok(&mut s, &create(10, "alice"), T0);
    ok(&mut s, &create(11, "bob"), T0);
    ok(&mut s, &tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 100 * RUV }), T0);
    ok(&mut s, &transfer(10, 1, id(11), RUV), T0 + MINUTE);
    let base = s.clone();
    // One later vertex writes each chain-owned value once more.
    let later = [0x11; 32];
    let t = T0 + 2 * MS_PER_DAY;
    let params = FeeParams { f_min_ppb: 2_000_000, ..FeeParams::DEFAULT };
    let hash = config_hash_of(&s.chain_id, &params, s.supply_cap);
    let writes = [
        transfer(10, 2, id(11), 2 * RUV),
        tx(FEE_ADMIN, 0, 0, Payload::ConfigureFees { params }),
        tx(VERIFIER, 0, 0, Payload::AttestAgent { agent: id(11), proof_digest: [1; 32], expiry_ms: t + 1 }),
        tx(GOVERNANCE, 0, 0, Payload::ImmutableLock { config_hash: hash, grace_period_ms: 1 }),
        create(12, "carol"),
        tx(11, 1, 0, Payload::Burn { amount: RUV / 2 }),
    ];
    for w in &writes {
        let out = apply(&mut s, w, true, &Context { vertex: later, time_ms: t, concurrent: &[] }).unwrap();
        assert_eq!(out.receipt.code, 0, "{}", out.message);
    }
    assert_ne!(s.accounts[&id(10)].volume, base.accounts[&id(10)].volume);
    let at_cut = cut(&s, &[later]);
    assert_eq!(state_hash(&at_cut), state_hash(&base));
    let mut expected = base.clone();
    expected.results.clear();
    expected.applied.clear();
    assert_eq!(at_cut, expected);
}

#[test]
fn settling_drops_the_receipts_of_the_transactions_a_vertex_carried_first() {
    let mut s = genesis(0);
    let (a, b) = ([0xaa; 32], [0xbb; 32]);
    let alice = create(10, "alice");
    let bob = create(11, "bob");
    let forged = transfer(10, 1, id(11), 1);
    let at = |v: Hash| Context { vertex: v, time_ms: T0, concurrent: &[] };
    apply(&mut s, &alice, true, &at(a)).unwrap();
    apply(&mut s, &bob, true, &at(a)).unwrap();
    assert!(apply(&mut s, &alice, true, &at(b)).unwrap().duplicate);
    assert_eq!(apply(&mut s, &forged, false, &at(b)).unwrap().receipt.code, Code::BadSignature as u32);
    assert_eq!(s.applied[&a], vec![alice.id, bob.id]);
    assert_eq!(s.applied[&b], vec![forged.id], "a duplicate is not a first application");
    assert!(prepare(&s, &alice).receipt.is_some());
    let hash = state_hash(&s);

    s.settle(&a);
    assert!(!s.applied.contains_key(&a) && !s.journal.contains_key(&a));
    assert!(!s.results.contains_key(&alice.id) && !s.results.contains_key(&bob.id));
    assert!(prepare(&s, &alice).receipt.is_none());
    assert_eq!(s.results[&forged.id].code, Code::BadSignature as u32);
    assert_eq!(state_hash(&s), hash);
    assert_eq!(import(&export(&s)).unwrap(), s);
    // A second carrier of a settled transaction (consensus rejects one) would be refused, changing nothing.
    let again = apply(&mut s, &alice, true, &at([0xcc; 32])).unwrap();
    assert_eq!((again.duplicate, again.receipt.code), (false, Code::AccountExists as u32));
    assert_eq!(state_hash(&s), hash);
    s.settle(&b);
    assert_eq!(s.applied.len(), 1);
    assert_eq!(s.results.len(), 1);
}

#[test]
fn import_refuses_a_v1_export_and_receipts_without_their_carrier() {
    let mut s = genesis(0);
    ok(&mut s, &create(10, "alice"), T0);
    let bytes = export(&s);
    assert!(bytes.starts_with(b"qudag/ledger-export/v2"));
    let mut v1 = bytes.clone();
    v1[..22].copy_from_slice(b"qudag/ledger-export/v1");
    let err = import(&v1).unwrap_err();
    assert_eq!(err.code, Code::InvalidInput);
    assert!(err.message.contains("v1 export"), "{}", err.message);
    // The applied map must list every receipt under its carrier.
    let mut orphan = s.clone();
    orphan.applied.clear();
    let err = import(&export(&orphan)).unwrap_err();
    assert!(err.message.contains("1 receipts but 0 transactions"), "{}", err.message);
    let mut moved = s.clone();
    let txs = moved.applied.remove(&vertex_id(T0)).unwrap();
    moved.applied.insert([9; 32], txs);
    let err = import(&export(&moved)).unwrap_err();
    assert!(err.message.contains("without being its first carrier"), "{}", err.message);
}
