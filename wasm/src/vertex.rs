//! Vertices of the DAG. Layout (all integers little-endian):
//!
//!   u8 version (2; 1 still decodes) | u8 object type (2 = vertex) | [32] chain id
//!   [32] author | u64 round | u64 timestamp ms
//!   u32 parent count | count x [32] parent id (strictly ascending bytes)
//!   u32 tx count | count x (u32 length | signed transaction bytes)
//!   [4627] ML-DSA-87 signature
//!
//! The signature of a version 2 vertex covers "qudag/vertex/v2" || BLAKE3-256
//! of everything before it (47 bytes, whatever the vertex's size); that of a
//! version 1 vertex, "qudag/vertex/v1" || everything before it. ML-DSA reads
//! its whole message with SHAKE256 both to sign and to verify, which cost
//! about 1.4 ms each for a 300 KB vertex against 0.05 ms for BLAKE3.

use crate::blake3;
use crate::codec::{Reader, Writer};
use crate::error::{fail, Code, Result};
use crate::limits::*;
use crate::tx::{self, Hash};

pub const OBJECT_VERTEX: u8 = 2;
/// The version new vertices are encoded with: signed over the digest of their body.
pub const VERTEX_VERSION: u8 = 2;
/// The first version, signed over the whole body: still decodes, so stored vertices stay valid.
pub const VERTEX_VERSION_WHOLE_BODY: u8 = 1;
pub const VERTEX_SIGNING_DOMAIN: &[u8] = b"qudag/vertex/v2";
pub const VERTEX_SIGNING_DOMAIN_WHOLE_BODY: &[u8] = b"qudag/vertex/v1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vertex {
    /// VERTEX_VERSION, or VERTEX_VERSION_WHOLE_BODY for a vertex signed before it.
    pub version: u8,
    pub chain_id: Hash,
    /// Validator id: BLAKE3-256 of the validator's ML-DSA-87 public key.
    pub author: Hash,
    /// 0 for a genesis vertex (no parents); otherwise at least one parent.
    pub round: u64,
    /// Informational only: no rule reads it.
    pub timestamp_ms: u64,
    pub parents: Vec<Hash>,
    /// Full signed transaction bytes, each a valid transaction of this chain.
    pub transactions: Vec<Vec<u8>>,
    /// Empty for an unsigned vertex (see `signing_message`).
    pub signature: Vec<u8>,
}

#[derive(Debug)]
pub struct VertexInfo {
    pub vertex: Vertex,
    pub id: Hash,
    /// Bytes before the signature.
    pub unsigned_len: usize,
    /// BLAKE3-256 of the bytes before the signature (version 2 only; see `signing_message_of`).
    pub body_digest: Option<Hash>,
    /// Each of `vertex.transactions` decoded and checked (with its id), in order.
    pub txs: Vec<tx::TxInfo>,
    /// Where each of `vertex.transactions` lies in the signed bytes: (offset, length).
    pub tx_spans: Vec<(usize, usize)>,
}

impl Vertex {
    /// Rules beyond the byte layout, in precedence order; returns the
    /// transaction ids.
    pub fn validate_fields(&self) -> Result<Vec<Hash>> {
        Ok(self.validate_fields_txs()?.into_iter().map(|t| t.id).collect())
    }

    /// `validate_fields`, returning each transaction decoded and checked.
    fn validate_fields_txs(&self) -> Result<Vec<tx::TxInfo>> {
        if self.parents.len() > PARENTS_MAX {
            fail!(TooManyParents, "Invalid vertex: {} parents, the limit is {}", self.parents.len(), PARENTS_MAX);
        }
        for (i, pair) in self.parents.windows(2).enumerate() {
            if pair[0] == pair[1] {
                fail!(ParentsDuplicate, "Invalid vertex: parent {} repeats parent {}", i + 1, i);
            }
            if pair[0] > pair[1] {
                fail!(
                    ParentsUnsorted,
                    "Invalid vertex: parent {} sorts before parent {}; parents must be in ascending byte order",
                    i + 1,
                    i
                );
            }
        }
        if self.round == 0 && !self.parents.is_empty() {
            fail!(
                GenesisHasParents,
                "Invalid vertex: round 0 (genesis) must have no parents, it has {}",
                self.parents.len()
            );
        }
        if self.round > 0 && self.parents.is_empty() {
            fail!(ParentsMissing, "Invalid vertex: round {} needs at least one parent", self.round);
        }
        if self.transactions.len() > TXS_PER_VERTEX_MAX {
            fail!(
                TooManyTransactions,
                "Invalid vertex: {} transactions, the limit is {}",
                self.transactions.len(),
                TXS_PER_VERTEX_MAX
            );
        }
        let mut keys: Vec<[u8; 40]> = Vec::with_capacity(self.transactions.len());
        let mut infos: Vec<tx::TxInfo> = Vec::with_capacity(self.transactions.len());
        for (i, bytes) in self.transactions.iter().enumerate() {
            let info = tx::inspect(bytes).map_err(|mut e| {
                e.message = format!("Invalid vertex: transaction {}: {}", i, e.message);
                e
            })?;
            if info.tx.chain_id != self.chain_id {
                fail!(ChainIdMismatch, "Invalid vertex: transaction {} belongs to another chain", i);
            }
            keys.push(info.conflict_key);
            infos.push(info);
        }
        let mut sorted_ids: Vec<Hash> = infos.iter().map(|t| t.id).collect();
        sorted_ids.sort_unstable();
        if sorted_ids.windows(2).any(|p| p[0] == p[1]) {
            fail!(DuplicateTransaction, "Invalid vertex: a transaction appears twice");
        }
        keys.sort_unstable();
        if keys.windows(2).any(|p| p[0] == p[1]) {
            fail!(ConflictingTransactions, "Invalid vertex: two transactions share an account and nonce");
        }
        Ok(infos)
    }

    fn body_with_ids(&self) -> Result<(Vec<u8>, Vec<Hash>)> {
        check_version(self.version, "encode")?;
        let ids = self.validate_fields()?;
        let mut w = Writer::new();
        w.u8(self.version);
        w.u8(OBJECT_VERTEX);
        w.fixed(&self.chain_id);
        w.fixed(&self.author);
        w.u64(self.round);
        w.u64(self.timestamp_ms);
        w.u32(self.parents.len() as u32);
        for p in &self.parents {
            w.fixed(p);
        }
        w.u32(self.transactions.len() as u32);
        for t in &self.transactions {
            w.var(t);
        }
        let total = w.len() + ML_DSA_87_SIGNATURE_BYTES;
        if total > VERTEX_BYTES_MAX {
            fail!(VertexTooLarge, "Invalid vertex: {} bytes signed, the limit is {}", total, VERTEX_BYTES_MAX);
        }
        Ok((w.into_bytes(), ids))
    }

    pub fn body(&self) -> Result<Vec<u8>> {
        Ok(self.body_with_ids()?.0)
    }

    pub fn signing_message(&self) -> Result<Vec<u8>> {
        Ok(self.unsigned()?.1)
    }

    /// The bytes before the signature and the message the author signs.
    pub fn unsigned(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let body = self.body()?;
        let message = signing_message_of(self.version, &body);
        Ok((body, message))
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut bytes = self.body()?;
        if self.signature.len() != ML_DSA_87_SIGNATURE_BYTES {
            fail!(
                InvalidInput,
                "Cannot encode vertex: signature is {} bytes, expected {}",
                self.signature.len(),
                ML_DSA_87_SIGNATURE_BYTES
            );
        }
        bytes.extend_from_slice(&self.signature);
        Ok(bytes)
    }

    /// Decodes the layout only; `inspect` adds the field rules. Also returns
    /// where each transaction lies in `bytes`.
    fn decode_layout(bytes: &[u8]) -> Result<(Vertex, Vec<(usize, usize)>)> {
        if bytes.len() > VERTEX_BYTES_MAX {
            fail!(VertexTooLarge, "Cannot decode vertex: {} bytes, the limit is {}", bytes.len(), VERTEX_BYTES_MAX);
        }
        let mut r = Reader::new(bytes, "vertex");
        let version = r.u8("version")?;
        check_version(version, "decode")?;
        let object = r.u8("object_type")?;
        if object != OBJECT_VERTEX {
            fail!(
                UnknownObjectType,
                "Cannot decode vertex: object type {}, expected {} (vertex)",
                object,
                OBJECT_VERTEX
            );
        }
        let chain_id = r.hash("chain_id")?;
        let author = r.hash("author")?;
        let round = r.u64("round")?;
        let timestamp_ms = r.u64("timestamp_ms")?;
        let parent_count = r.count("parents", PARENTS_MAX, Code::TooManyParents)?;
        let mut parents = Vec::with_capacity(parent_count);
        for _ in 0..parent_count {
            parents.push(r.hash("parent")?);
        }
        let tx_count = r.count("transactions", TXS_PER_VERTEX_MAX, Code::TooManyTransactions)?;
        // Every transaction takes at least 4 bytes, so a bogus count cannot
        // make us reserve more than the input's size.
        let mut transactions = Vec::with_capacity(tx_count.min(bytes.len() / 4));
        let mut spans = Vec::with_capacity(tx_count.min(bytes.len() / 4));
        for _ in 0..tx_count {
            let t = r.var("transaction", TX_BYTES_MAX, Code::TxTooLarge)?;
            spans.push((t.as_ptr() as usize - bytes.as_ptr() as usize, t.len()));
            transactions.push(t.to_vec());
        }
        let signature = r.fixed(ML_DSA_87_SIGNATURE_BYTES, "signature")?.to_vec();
        r.finish()?;
        Ok((Vertex { version, chain_id, author, round, timestamp_ms, parents, transactions, signature }, spans))
    }

    pub fn decode(bytes: &[u8]) -> Result<Vertex> {
        Ok(inspect(bytes)?.vertex)
    }
}

pub fn inspect(bytes: &[u8]) -> Result<VertexInfo> {
    let (vertex, tx_spans) = Vertex::decode_layout(bytes)?;
    let txs = vertex.validate_fields_txs()?;
    let unsigned_len = bytes.len() - ML_DSA_87_SIGNATURE_BYTES;
    let (id, body_digest) = if vertex.version == VERTEX_VERSION {
        let (digest, id) = blake3::hash_prefix_and_whole(bytes, unsigned_len);
        (id, Some(digest))
    } else {
        (blake3::hash(bytes), None)
    };
    Ok(VertexInfo { id, unsigned_len, body_digest, txs, tx_spans, vertex })
}

fn check_version(version: u8, what: &str) -> Result<()> {
    if version != VERTEX_VERSION && version != VERTEX_VERSION_WHOLE_BODY {
        fail!(
            UnknownVersion,
            "Cannot {} vertex: version {}, expected {} (or {})",
            what,
            version,
            VERTEX_VERSION,
            VERTEX_VERSION_WHOLE_BODY
        );
    }
    Ok(())
}

/// What the author of a vertex of `version` signs: "qudag/vertex/v2" ||
/// BLAKE3-256 of `body`, or for version 1 "qudag/vertex/v1" || `body`. (A
/// decoded vertex gives its digest with its id, from one pass: `inspect`.)
pub fn signing_message_of(version: u8, body: &[u8]) -> Vec<u8> {
    if version == VERTEX_VERSION_WHOLE_BODY {
        return [VERTEX_SIGNING_DOMAIN_WHOLE_BODY, body].concat();
    }
    [VERTEX_SIGNING_DOMAIN, &blake3::hash(body)[..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::tests::{h, sig, transfer};
    use crate::tx::Transaction;

    fn vertex(round: u64, parents: Vec<Hash>, txs: Vec<Transaction>) -> Vertex {
        Vertex {
            version: VERTEX_VERSION,
            chain_id: h(7),
            author: h(9),
            round,
            timestamp_ms: 1_700_000_000_123,
            parents,
            transactions: txs.iter().map(|t| t.encode().unwrap()).collect(),
            signature: sig(200),
        }
    }

    #[test]
    fn round_trips_both_ways_with_ids() {
        let v = vertex(3, vec![h(1), h(2), h(3)], vec![transfer(1), transfer(2)]);
        let bytes = v.encode().unwrap();
        let info = inspect(&bytes).unwrap();
        assert_eq!(info.vertex, v);
        assert_eq!(info.vertex.encode().unwrap(), bytes);
        assert_eq!(info.id, blake3::hash(&bytes));
        let ids: Vec<Hash> = info.txs.iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![blake3::hash(&v.transactions[0]), blake3::hash(&v.transactions[1])]);
        let digest = blake3::hash(&bytes[..info.unsigned_len]);
        assert_eq!(info.body_digest, Some(digest));
        let signed: Vec<u8> = [&b"qudag/vertex/v2"[..], &digest[..]].concat();
        assert_eq!(signed, v.signing_message().unwrap());
        assert_eq!(v.unsigned().unwrap(), (bytes[..info.unsigned_len].to_vec(), signed));
        assert_eq!(&bytes[..2], &[2, 2]);
        // Genesis with no transactions is fine too.
        let g = vertex(0, vec![], vec![]);
        assert_eq!(Vertex::decode(&g.encode().unwrap()).unwrap(), g);
        // Exactly PARENTS_MAX parents is fine.
        let many: Vec<Hash> = (0..PARENTS_MAX).map(|i| [i as u8; 32]).collect();
        vertex(1, many, vec![]).encode().unwrap();
    }

    #[test]
    fn version_1_is_signed_over_the_whole_body_and_keeps_its_bytes() {
        let v = Vertex { version: VERTEX_VERSION_WHOLE_BODY, ..vertex(3, vec![h(1)], vec![transfer(1)]) };
        let bytes = v.encode().unwrap();
        assert_eq!(&bytes[..2], &[1, 2]);
        let info = inspect(&bytes).unwrap();
        assert_eq!(info.vertex, v);
        assert_eq!(info.vertex.encode().unwrap(), bytes);
        assert_eq!(info.id, blake3::hash(&bytes));
        assert_eq!(info.body_digest, None);
        let signed: Vec<u8> = [&b"qudag/vertex/v1"[..], &bytes[..info.unsigned_len]].concat();
        assert_eq!(v.signing_message().unwrap(), signed);
        // The same content as version 2 is other bytes, so another id, and signed over its digest.
        let v2 = Vertex { version: VERTEX_VERSION, ..v };
        let bytes2 = v2.encode().unwrap();
        assert_eq!(&bytes2[1..], &bytes[1..]);
        assert_ne!(inspect(&bytes2).unwrap().id, info.id);
        assert_eq!(&v2.signing_message().unwrap()[15..], &blake3::hash(&bytes2[..info.unsigned_len])[..]);
    }

    #[test]
    fn field_rules() {
        let other_chain = Transaction { chain_id: h(8), ..transfer(1) };
        let same_key = Transaction { max_fee: 77, ..transfer(1) };
        let too_many: Vec<Hash> = (0..=PARENTS_MAX).map(|i| [i as u8; 32]).collect();
        let cases: Vec<(Vertex, Code)> = vec![
            (vertex(1, vec![h(2), h(1)], vec![]), Code::ParentsUnsorted),
            (vertex(1, vec![h(1), h(1)], vec![]), Code::ParentsDuplicate),
            (vertex(1, too_many, vec![]), Code::TooManyParents),
            (vertex(0, vec![h(1)], vec![]), Code::GenesisHasParents),
            (vertex(1, vec![], vec![]), Code::ParentsMissing),
            (vertex(1, vec![h(1)], vec![other_chain]), Code::ChainIdMismatch),
            (vertex(1, vec![h(1)], vec![transfer(1), transfer(1)]), Code::DuplicateTransaction),
            (vertex(1, vec![h(1)], vec![transfer(1), same_key]), Code::ConflictingTransactions),
        ];
        for (v, code) in cases {
            assert_eq!(v.encode().unwrap_err().code, code);
            assert_eq!(v.signing_message().unwrap_err().code, code);
        }
        let mut v = vertex(1, vec![h(1)], vec![transfer(1)]);
        v.transactions[0].push(0);
        assert_eq!(v.encode().unwrap_err().code, Code::TrailingBytes);
        let v = Vertex { signature: vec![], ..vertex(1, vec![h(1)], vec![]) };
        assert_eq!(v.encode().unwrap_err().code, Code::InvalidInput);
        v.signing_message().unwrap();
    }

    #[test]
    fn size_limits() {
        // Transactions per vertex: the count is checked before the bodies.
        let mut bytes = vertex(1, vec![h(1)], vec![]).encode().unwrap();
        let count_at = 2 + 32 + 32 + 8 + 8 + 4 + 32;
        bytes[count_at..count_at + 4].copy_from_slice(&((TXS_PER_VERTEX_MAX + 1) as u32).to_le_bytes());
        assert_eq!(inspect(&bytes).unwrap_err().code, Code::TooManyTransactions);
        // Parent count prefix over the limit.
        let mut bytes = vertex(1, vec![h(1)], vec![]).encode().unwrap();
        bytes[82..86].copy_from_slice(&((PARENTS_MAX + 1) as u32).to_le_bytes());
        assert_eq!(inspect(&bytes).unwrap_err().code, Code::TooManyParents);
        // Transaction length prefix over the tx limit.
        let mut bytes = vertex(1, vec![h(1)], vec![transfer(1)]).encode().unwrap();
        bytes[count_at + 4..count_at + 8].copy_from_slice(&((TX_BYTES_MAX + 1) as u32).to_le_bytes());
        assert_eq!(inspect(&bytes).unwrap_err().code, Code::TxTooLarge);
        // Whole vertex over the limit, decode and encode.
        assert_eq!(inspect(&vec![1u8; VERTEX_BYTES_MAX + 1]).unwrap_err().code, Code::VertexTooLarge);
        let big: Vec<Transaction> = (0..400u64)
            .map(|n| Transaction {
                payload: crate::tx::Payload::Data { data: vec![n as u8; DATA_BYTES_MAX] },
                ..transfer(n)
            })
            .collect();
        assert_eq!(vertex(1, vec![h(1)], big).encode().unwrap_err().code, Code::VertexTooLarge);
        // Trailing, truncated, version and object type.
        let good = vertex(1, vec![h(1)], vec![transfer(1)]).encode().unwrap();
        let mut b = good.clone();
        b.push(1);
        assert_eq!(inspect(&b).unwrap_err().code, Code::TrailingBytes);
        assert_eq!(inspect(&good[..good.len() - 1]).unwrap_err().code, Code::Truncated);
        for version in [0u8, 3, 255] {
            let mut b = good.clone();
            b[0] = version;
            assert_eq!(inspect(&b).unwrap_err().code, Code::UnknownVersion);
            let v = Vertex { version, ..vertex(1, vec![h(1)], vec![]) };
            assert_eq!(v.encode().unwrap_err().code, Code::UnknownVersion);
            assert_eq!(v.signing_message().unwrap_err().code, Code::UnknownVersion);
        }
        let mut b = good;
        b[1] = 1;
        assert_eq!(inspect(&b).unwrap_err().code, Code::UnknownObjectType);
    }
}
