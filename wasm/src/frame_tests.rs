//! The field frame: transactions cross it unchanged, parsing is strict, and
//! a concurrent set is one packed field.

use super::*;
use crate::error::Code;
use crate::tx::tests::every_kind;

fn tx_frame(tx: &Transaction) -> Vec<u8> {
    // A tx info frame minus the three info fields is a valid input frame.
    let info = tx::inspect(&tx.encode().unwrap()).unwrap();
    let full = write_tx_info(&info);
    let mut f = Fields::parse(&full).unwrap();
    let mut o = Out::new();
    for item in f.items.iter_mut() {
        if item.0 < tag::ID {
            o.bytes(item.0, item.1);
        }
    }
    o.into_bytes()
}

#[test]
fn transactions_cross_the_frame_unchanged() {
    for tx in every_kind() {
        assert_eq!(read_transaction(&tx_frame(&tx)).unwrap(), tx);
    }
}

#[test]
fn strict_frames() {
    let tx = &every_kind()[1];
    let good = tx_frame(tx);
    let mut extra = good.clone();
    extra.extend_from_slice(&[tag::NAME, 1, 0, 0, 0, b'x']);
    assert_eq!(read_transaction(&extra).unwrap_err().code, Code::InvalidInput);
    let mut twice = good.clone();
    twice.extend_from_slice(&[tag::NONCE, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(read_transaction(&twice).unwrap_err().code, Code::InvalidInput);
    assert_eq!(read_transaction(&good[..good.len() - 1]).unwrap_err().code, Code::InvalidInput);
    let mut o = Out::new();
    o.bytes(tag::KIND, b"teleport");
    assert_eq!(read_transaction(&o.into_bytes()).unwrap_err().code, Code::UnknownKind);
    let mut o = Out::new();
    o.bytes(tag::KIND, b"burn");
    assert_eq!(read_transaction(&o.into_bytes()).unwrap_err().code, Code::InvalidInput);
}

mod packed_concurrent {
    use super::*;
    use crate::ledger::testkit::*;
    use crate::ledger::{apply, Context, CONCURRENT_VERTICES_MAX};

    fn request(tx: &[u8], concurrent: &[&[u8]]) -> Vec<u8> {
        let mut o = Out::new();
        o.bytes(tag::TX, tx);
        o.bytes(tag::SIGNATURE_OK, &[1]);
        o.bytes(tag::VERTEX, &[1; 32]);
        o.u64(tag::LEDGER_TIME_MS, T0 + 1);
        for c in concurrent {
            o.bytes(tag::CONCURRENT, c);
        }
        o.into_bytes()
    }

    /// `count` concurrent ids, the last one a vertex that minted alice's funds.
    fn packed(count: usize, minted_in: &Hash) -> Vec<u8> {
        let mut out: Vec<u8> = (0..count as u64 - 1).flat_map(|n| vertex_id(n << 32)).collect();
        out.extend_from_slice(minted_in);
        out
    }

    #[test]
    fn a_concurrent_set_of_any_size_up_to_the_journal_limit_parses_and_applies() {
        let mut s = genesis(0);
        ok(&mut s, &create(10, "alice"), T0);
        ok(&mut s, &create(11, "bob"), T0);
        let minted_in = [0xaa; 32];
        let mint = tx(MASTER, 0, 0, Payload::Mint { to: id(10), amount: 10 * RUV });
        apply(&mut s, &mint, true, &Context { vertex: minted_in, time_ms: T0, concurrent: &[] }).unwrap();
        let spend = transfer(10, 1, id(11), 5 * RUV).tx.encode().unwrap();
        // Without the minting vertex in its concurrent set, the spend is covered.
        let covered = read_apply_request(&request(&spend, &[&packed(2, &[0xbb; 32])])).unwrap();
        let ctx = Context { vertex: covered.vertex, time_ms: covered.time_ms, concurrent: &covered.concurrent };
        let info = tx::inspect(&covered.tx).unwrap();
        assert_eq!(apply(&mut s.clone(), &info, true, &ctx).unwrap().receipt.code, 0);
        for count in [4_096, CONCURRENT_VERTICES_MAX] {
            let req = read_apply_request(&request(&spend, &[&packed(count, &minted_in)])).unwrap();
            assert_eq!(req.concurrent.len(), count);
            let ctx = Context { vertex: req.vertex, time_ms: req.time_ms, concurrent: &req.concurrent };
            let out = apply(&mut s.clone(), &info, req.signature_ok, &ctx).unwrap();
            // The last id of the packed set is read: its mint is not in the spend's past.
            assert_eq!(out.receipt.code, Code::InsufficientFunds as u32, "{}", out.message);
        }
        let req = read_apply_request(&request(&spend, &[&packed(CONCURRENT_VERTICES_MAX + 1, &minted_in)])).unwrap();
        let ctx = Context { vertex: req.vertex, time_ms: req.time_ms, concurrent: &req.concurrent };
        assert_eq!(apply(&mut s, &info, true, &ctx).unwrap_err().code, Code::InvalidInput);
    }

    #[test]
    fn a_concurrent_set_is_one_field_of_whole_ids() {
        let spend = transfer(10, 1, id(11), RUV).tx.encode().unwrap();
        assert!(read_apply_request(&request(&spend, &[])).unwrap().concurrent.is_empty());
        assert!(read_apply_request(&request(&spend, &[&[]])).unwrap().concurrent.is_empty());
        let err = read_apply_request(&request(&spend, &[&[1; 32], &[2; 32]])).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains("one field of packed 32-byte vertex ids, got 2 fields"), "{}", err.message);
        let err = read_apply_request(&request(&spend, &[&[1; 33]])).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains("33 bytes, not a whole number of 32-byte vertex ids"), "{}", err.message);
    }
}

mod known_ids {
    use super::*;

    fn with_id(tx: &[u8], id: Option<&[u8]>) -> Out {
        let mut o = Out::new();
        o.bytes(tag::TX, tx);
        if let Some(id) = id {
            o.bytes(tag::TX_ID, id);
        }
        o
    }

    #[test]
    fn a_request_may_name_the_transactions_id_and_the_core_then_takes_it() {
        let bytes = every_kind()[1].encode().unwrap();
        let id = crate::blake3::hash(&bytes);
        let mut o = with_id(&bytes, Some(&id));
        o.bytes(tag::SIGNATURE_OK, &[1]);
        o.bytes(tag::VERTEX, &[1; 32]);
        o.u64(tag::LEDGER_TIME_MS, 1);
        let req = read_apply_request(&o.into_bytes()).unwrap();
        assert_eq!(req.tx_id, Some(id));
        let (given, hashed) = (tx::inspect_as(&req.tx, req.tx_id).unwrap(), tx::inspect(&bytes).unwrap());
        assert_eq!((given.id, given.tx, given.signing_message), (hashed.id, hashed.tx, hashed.signing_message));
        assert_eq!(read_prepare_request(&with_id(&bytes, Some(&id)).into_bytes()).unwrap(), (bytes.clone(), Some(id)));
        assert_eq!(read_prepare_request(&with_id(&bytes, None).into_bytes()).unwrap(), (bytes.clone(), None));
        // The id given is the one used: the host answers for it (the bytes are not hashed again).
        assert_eq!(tx::inspect_as(&bytes, Some([7; 32])).unwrap().id, [7; 32]);
    }

    #[test]
    fn a_named_id_is_32_bytes_once() {
        let bytes = every_kind()[1].encode().unwrap();
        let err = read_prepare_request(&with_id(&bytes, Some(&[1; 31])).into_bytes()).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        let mut twice = with_id(&bytes, Some(&[1; 32]));
        twice.bytes(tag::TX_ID, &[1; 32]);
        assert_eq!(read_prepare_request(&twice.into_bytes()).unwrap_err().code, Code::InvalidInput);
        assert_eq!(read_prepare_request(&[]).unwrap_err().code, Code::InvalidInput);
    }
}
