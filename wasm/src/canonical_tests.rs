//! Property: any bytes that decode re-encode to exactly themselves (one
//! encoding per value), and any bytes that do not decode are rejected with
//! a code, never a panic. Inputs are seeded mutations of valid encodings.

use crate::tx::tests::{every_kind, transfer};
use crate::tx::{self, Transaction};
use crate::vertex::{self, Vertex};

/// xorshift64*: a fixed, seedable byte source (tests only; the core has no RNG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    match rng.below(6) {
        0 => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 => {
            // Hit the header and length prefixes more often than chance would.
            let i = rng.below(b.len().min(200));
            b[i] = rng.next() as u8;
        }
        2 => b.truncate(rng.below(b.len())),
        3 => {
            let i = rng.below(b.len() + 1);
            b.insert(i, rng.next() as u8);
        }
        4 => {
            let i = rng.below(b.len());
            b.remove(i);
        }
        _ => {
            let i = rng.below(b.len().saturating_sub(4).max(1));
            let v = (rng.next() % 300) as u32;
            let end = (i + 4).min(b.len());
            b[i..end].copy_from_slice(&v.to_le_bytes()[..end - i]);
        }
    }
    b
}

#[test]
fn mutated_transactions_are_rejected_or_canonical() {
    let seeds: Vec<Vec<u8>> = every_kind().iter().map(|t| t.encode().unwrap()).collect();
    let mut rng = Rng(0x5eed_0001);
    let mut accepted = 0;
    for round in 0..10_000 {
        let base = &seeds[round % seeds.len()];
        let bytes = mutate(&mut rng, base);
        if let Ok(tx) = Transaction::decode(&bytes) {
            accepted += 1;
            assert_eq!(tx.encode().unwrap(), bytes, "round {}", round);
            assert_eq!(tx::inspect(&bytes).unwrap().id, crate::blake3::hash(&bytes));
        }
    }
    // Flips inside ids, amounts and signatures stay valid: the test must
    // have exercised the accept path too.
    assert!(accepted > 500, "only {} accepted", accepted);
}

#[test]
fn mutated_vertices_are_rejected_or_canonical() {
    let v = Vertex {
        version: crate::vertex::VERTEX_VERSION,
        chain_id: [7; 32],
        author: [9; 32],
        round: 2,
        timestamp_ms: 1,
        parents: vec![[1; 32], [2; 32]],
        transactions: vec![transfer(1).encode().unwrap(), transfer(2).encode().unwrap()],
        signature: vec![3; crate::limits::ML_DSA_87_SIGNATURE_BYTES],
    };
    let base = v.encode().unwrap();
    let mut rng = Rng(0x5eed_0002);
    let mut accepted = 0;
    for round in 0..5_000 {
        let bytes = mutate(&mut rng, &base);
        if let Ok(info) = vertex::inspect(&bytes) {
            accepted += 1;
            assert_eq!(info.vertex.encode().unwrap(), bytes, "round {}", round);
        }
    }
    assert!(accepted > 100, "only {} accepted", accepted);
}
