//! Transactions: canonical encoding, decoding, structural validation, id,
//! signing message and conflict key. Layout (all integers little-endian):
//!
//!   u8 version (1) | u8 object type (1 = transaction) | u8 kind
//!   [32] chain id | [32] account | u64 nonce | u64 timestamp ms | u64 max fee
//!   payload (by kind, see FORMAT.md) | [4627] ML-DSA-87 signature
//!
//! The signature covers "qudag/tx/v1" || everything before the signature.

use crate::blake3;
use crate::codec::{Reader, Writer};
use crate::error::{fail, Code, Result};
use crate::fee::FeeParams;
use crate::limits::*;

pub const FORMAT_VERSION: u8 = 1;
pub const OBJECT_TRANSACTION: u8 = 1;
pub const TX_SIGNING_DOMAIN: &[u8] = b"qudag/tx/v1";

pub type Hash = [u8; 32];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    CreateAccount { name: Vec<u8>, public_key: Vec<u8> },
    Transfer { to: Hash, amount: u64, memo: Vec<u8> },
    Mint { to: Hash, amount: u64 },
    Burn { amount: u64 },
    ConfigureFees { params: FeeParams },
    AttestAgent { agent: Hash, proof_digest: Hash, expiry_ms: u64 },
    RevokeAgent { agent: Hash },
    ImmutableLock { config_hash: Hash, grace_period_ms: u64 },
    GovernanceOverride { config_hash: Hash, reason: Vec<u8> },
    Data { data: Vec<u8> },
}

/// Kind bytes and names; both are part of the format. Never reuse a byte.
pub const KINDS: [(u8, &str); 10] = [
    (1, "create_account"),
    (2, "transfer"),
    (3, "mint"),
    (4, "burn"),
    (5, "configure_fees"),
    (6, "attest_agent"),
    (7, "revoke_agent"),
    (8, "immutable_lock"),
    (9, "governance_override"),
    (10, "data"),
];

pub fn kind_by_name(name: &[u8]) -> Option<u8> {
    KINDS.iter().find(|(_, n)| n.as_bytes() == name).map(|(k, _)| *k)
}

impl Payload {
    pub fn kind(&self) -> u8 {
        match self {
            Payload::CreateAccount { .. } => 1,
            Payload::Transfer { .. } => 2,
            Payload::Mint { .. } => 3,
            Payload::Burn { .. } => 4,
            Payload::ConfigureFees { .. } => 5,
            Payload::AttestAgent { .. } => 6,
            Payload::RevokeAgent { .. } => 7,
            Payload::ImmutableLock { .. } => 8,
            Payload::GovernanceOverride { .. } => 9,
            Payload::Data { .. } => 10,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        let k = self.kind();
        KINDS.iter().find(|(b, _)| *b == k).map(|(_, n)| *n).unwrap_or("unknown")
    }

    fn write(&self, w: &mut Writer) {
        match self {
            Payload::CreateAccount { name, public_key } => {
                w.var(name);
                w.fixed(public_key);
            }
            Payload::Transfer { to, amount, memo } => {
                w.fixed(to);
                w.u64(*amount);
                w.var(memo);
            }
            Payload::Mint { to, amount } => {
                w.fixed(to);
                w.u64(*amount);
            }
            Payload::Burn { amount } => w.u64(*amount),
            Payload::ConfigureFees { params } => params.write(w),
            Payload::AttestAgent { agent, proof_digest, expiry_ms } => {
                w.fixed(agent);
                w.fixed(proof_digest);
                w.u64(*expiry_ms);
            }
            Payload::RevokeAgent { agent } => w.fixed(agent),
            Payload::ImmutableLock { config_hash, grace_period_ms } => {
                w.fixed(config_hash);
                w.u64(*grace_period_ms);
            }
            Payload::GovernanceOverride { config_hash, reason } => {
                w.fixed(config_hash);
                w.var(reason);
            }
            Payload::Data { data } => w.var(data),
        }
    }

    fn read(kind: u8, r: &mut Reader) -> Result<Payload> {
        Ok(match kind {
            1 => Payload::CreateAccount {
                name: r.var("name", NAME_BYTES_MAX, Code::NameTooLarge)?.to_vec(),
                public_key: r.fixed(ML_DSA_87_PUBLIC_KEY_BYTES, "public_key")?.to_vec(),
            },
            2 => Payload::Transfer {
                to: r.hash("to")?,
                amount: r.u64("amount")?,
                memo: r.var("memo", MEMO_BYTES_MAX, Code::MemoTooLarge)?.to_vec(),
            },
            3 => Payload::Mint { to: r.hash("to")?, amount: r.u64("amount")? },
            4 => Payload::Burn { amount: r.u64("amount")? },
            5 => Payload::ConfigureFees { params: FeeParams::read(r)? },
            6 => Payload::AttestAgent {
                agent: r.hash("agent")?,
                proof_digest: r.hash("proof_digest")?,
                expiry_ms: r.u64("expiry_ms")?,
            },
            7 => Payload::RevokeAgent { agent: r.hash("agent")? },
            8 => Payload::ImmutableLock {
                config_hash: r.hash("config_hash")?,
                grace_period_ms: r.u64("grace_period_ms")?,
            },
            9 => Payload::GovernanceOverride {
                config_hash: r.hash("config_hash")?,
                reason: r.var("reason", REASON_BYTES_MAX, Code::ReasonTooLarge)?.to_vec(),
            },
            10 => Payload::Data { data: r.var("data", DATA_BYTES_MAX, Code::DataTooLarge)?.to_vec() },
            other => fail!(UnknownKind, "Cannot decode transaction: unknown kind {}", other),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: Hash,
    pub account: Hash,
    pub nonce: u64,
    /// Informational only: no rule reads it.
    pub timestamp_ms: u64,
    /// The most the signer agrees to pay in fees, in smallest units; the
    /// ledger rejects the transaction if the fee it computes is higher.
    pub max_fee: u64,
    pub payload: Payload,
    /// Empty for an unsigned transaction (see `signing_message`).
    pub signature: Vec<u8>,
}

/// What a node needs after decoding: the id, the exact bytes the signature
/// covers, and the conflict key (account || nonce LE, 40 bytes).
#[derive(Clone, Debug)]
pub struct TxInfo {
    pub tx: Transaction,
    pub id: Hash,
    pub signing_message: Vec<u8>,
    pub conflict_key: [u8; 40],
}

/// Account names: 1..=64 bytes of [a-z0-9_-] (also used by the ledger genesis).
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > NAME_BYTES_MAX {
        fail!(NameTooLarge, "Invalid account name: {} bytes, the limit is {}", name.len(), NAME_BYTES_MAX);
    }
    if name.is_empty() {
        fail!(NameInvalid, "Invalid account name: it is empty");
    }
    if let Some(bad) = name.iter().find(|&&b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'))
    {
        fail!(NameInvalid, "Invalid account name: byte 0x{:02x} is not one of [a-z0-9_-]", bad);
    }
    Ok(())
}

fn amount_nonzero(amount: u64, kind: &str) -> Result<()> {
    if amount == 0 {
        fail!(AmountZero, "Invalid {} transaction: amount must be greater than 0", kind);
    }
    Ok(())
}

impl Transaction {
    /// The structural rules beyond the byte layout. Limits on variable-size
    /// fields are checked here too, so encode and decode agree.
    pub fn validate_fields(&self) -> Result<()> {
        match &self.payload {
            Payload::CreateAccount { name, public_key } => {
                check_name(name)?;
                if public_key.len() != ML_DSA_87_PUBLIC_KEY_BYTES {
                    fail!(
                        InvalidInput,
                        "Invalid create_account: public key is {} bytes, expected {}",
                        public_key.len(),
                        ML_DSA_87_PUBLIC_KEY_BYTES
                    );
                }
                if blake3::hash(public_key) != self.account {
                    fail!(AccountKeyMismatch, "Invalid create_account: account id is not BLAKE3-256 of the public key");
                }
            }
            Payload::Transfer { amount, memo, .. } => {
                if memo.len() > MEMO_BYTES_MAX {
                    fail!(
                        MemoTooLarge,
                        "Invalid transfer: memo is {} bytes, the limit is {}",
                        memo.len(),
                        MEMO_BYTES_MAX
                    );
                }
                amount_nonzero(*amount, "transfer")?;
            }
            Payload::Mint { amount, .. } => amount_nonzero(*amount, "mint")?,
            Payload::Burn { amount } => amount_nonzero(*amount, "burn")?,
            Payload::ConfigureFees { params } => params.validate()?,
            Payload::AttestAgent { .. } | Payload::RevokeAgent { .. } | Payload::ImmutableLock { .. } => {}
            Payload::GovernanceOverride { reason, .. } => {
                if reason.len() > REASON_BYTES_MAX {
                    fail!(
                        ReasonTooLarge,
                        "Invalid governance_override: reason is {} bytes, the limit is {}",
                        reason.len(),
                        REASON_BYTES_MAX
                    );
                }
                if reason.is_empty() {
                    fail!(ReasonInvalid, "Invalid governance_override: the reason is empty");
                }
                if std::str::from_utf8(reason).is_err() {
                    fail!(ReasonInvalid, "Invalid governance_override: the reason is not valid UTF-8");
                }
            }
            Payload::Data { data } => {
                if data.len() > DATA_BYTES_MAX {
                    fail!(
                        DataTooLarge,
                        "Invalid data transaction: {} bytes, the limit is {}",
                        data.len(),
                        DATA_BYTES_MAX
                    );
                }
            }
        }
        Ok(())
    }

    /// The unsigned body (everything the signature covers after the domain
    /// tag), after validation.
    pub fn body(&self) -> Result<Vec<u8>> {
        self.validate_fields()?;
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION);
        w.u8(OBJECT_TRANSACTION);
        w.u8(self.payload.kind());
        w.fixed(&self.chain_id);
        w.fixed(&self.account);
        w.u64(self.nonce);
        w.u64(self.timestamp_ms);
        w.u64(self.max_fee);
        self.payload.write(&mut w);
        let total = w.len() + ML_DSA_87_SIGNATURE_BYTES;
        if total > TX_BYTES_MAX {
            fail!(TxTooLarge, "Invalid transaction: {} bytes signed, the limit is {}", total, TX_BYTES_MAX);
        }
        Ok(w.into_bytes())
    }

    /// "qudag/tx/v1" || body: the exact message the account signs.
    pub fn signing_message(&self) -> Result<Vec<u8>> {
        let body = self.body()?;
        let mut msg = Vec::with_capacity(TX_SIGNING_DOMAIN.len() + body.len());
        msg.extend_from_slice(TX_SIGNING_DOMAIN);
        msg.extend_from_slice(&body);
        Ok(msg)
    }

    /// The canonical signed bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut bytes = self.body()?;
        if self.signature.len() != ML_DSA_87_SIGNATURE_BYTES {
            fail!(
                InvalidInput,
                "Cannot encode transaction: signature is {} bytes, expected {}",
                self.signature.len(),
                ML_DSA_87_SIGNATURE_BYTES
            );
        }
        bytes.extend_from_slice(&self.signature);
        Ok(bytes)
    }

    pub fn decode(bytes: &[u8]) -> Result<Transaction> {
        if bytes.len() > TX_BYTES_MAX {
            fail!(TxTooLarge, "Cannot decode transaction: {} bytes, the limit is {}", bytes.len(), TX_BYTES_MAX);
        }
        let mut r = Reader::new(bytes, "transaction");
        let version = r.u8("version")?;
        if version != FORMAT_VERSION {
            fail!(UnknownVersion, "Cannot decode transaction: version {}, expected {}", version, FORMAT_VERSION);
        }
        let object = r.u8("object_type")?;
        if object != OBJECT_TRANSACTION {
            fail!(
                UnknownObjectType,
                "Cannot decode transaction: object type {}, expected {} (transaction)",
                object,
                OBJECT_TRANSACTION
            );
        }
        let kind = r.u8("kind")?;
        if !KINDS.iter().any(|(k, _)| *k == kind) {
            fail!(UnknownKind, "Cannot decode transaction: unknown kind {}", kind);
        }
        let chain_id = r.hash("chain_id")?;
        let account = r.hash("account")?;
        let nonce = r.u64("nonce")?;
        let timestamp_ms = r.u64("timestamp_ms")?;
        let max_fee = r.u64("max_fee")?;
        let payload = Payload::read(kind, &mut r)?;
        let signature = r.fixed(ML_DSA_87_SIGNATURE_BYTES, "signature")?.to_vec();
        r.finish()?;
        let tx = Transaction { chain_id, account, nonce, timestamp_ms, max_fee, payload, signature };
        tx.validate_fields()?;
        Ok(tx)
    }

    pub fn conflict_key(&self) -> [u8; 40] {
        let mut key = [0u8; 40];
        key[..32].copy_from_slice(&self.account);
        key[32..].copy_from_slice(&self.nonce.to_le_bytes());
        key
    }
}

/// Decode and validate signed bytes; return everything a node needs.
pub fn inspect(bytes: &[u8]) -> Result<TxInfo> {
    inspect_as(bytes, None)
}

/// `inspect`, with the id when the host already has it from the core for
/// these exact bytes (a decoded vertex's transaction ids, a decoded
/// transaction's id): the bytes are not hashed again. The host answers for
/// it as it answers for a signature's verdict (LEDGER.md, "Two steps").
pub fn inspect_as(bytes: &[u8], known_id: Option<Hash>) -> Result<TxInfo> {
    let tx = Transaction::decode(bytes)?;
    let unsigned_len = bytes.len() - ML_DSA_87_SIGNATURE_BYTES;
    let mut signing_message = Vec::with_capacity(TX_SIGNING_DOMAIN.len() + unsigned_len);
    signing_message.extend_from_slice(TX_SIGNING_DOMAIN);
    signing_message.extend_from_slice(&bytes[..unsigned_len]);
    let conflict_key = tx.conflict_key();
    let id = known_id.unwrap_or_else(|| blake3::hash(bytes));
    Ok(TxInfo { id, signing_message, conflict_key, tx })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn h(b: u8) -> Hash {
        [b; 32]
    }

    pub fn sig(seed: u8) -> Vec<u8> {
        (0..ML_DSA_87_SIGNATURE_BYTES).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    pub fn public_key() -> Vec<u8> {
        (0..ML_DSA_87_PUBLIC_KEY_BYTES).map(|i| (i % 251) as u8).collect()
    }

    pub fn transfer(nonce: u64) -> Transaction {
        Transaction {
            chain_id: h(7),
            account: h(1),
            nonce,
            timestamp_ms: 1_700_000_000_000,
            max_fee: 1_000,
            payload: Payload::Transfer { to: h(2), amount: 5_000_000, memo: b"rent".to_vec() },
            signature: sig(nonce as u8),
        }
    }

    pub fn every_kind() -> Vec<Transaction> {
        let pk = public_key();
        let payloads = vec![
            Payload::CreateAccount { name: b"alice_01-x".to_vec(), public_key: pk.clone() },
            Payload::Transfer { to: h(2), amount: 1, memo: vec![] },
            Payload::Mint { to: h(2), amount: u64::MAX },
            Payload::Burn { amount: 3 },
            Payload::ConfigureFees { params: FeeParams::DEFAULT },
            Payload::AttestAgent { agent: h(3), proof_digest: h(4), expiry_ms: 99 },
            Payload::RevokeAgent { agent: h(3) },
            Payload::ImmutableLock { config_hash: h(5), grace_period_ms: 86_400_000 },
            Payload::GovernanceOverride { config_hash: h(6), reason: "audit #12: fee fix ✓".as_bytes().to_vec() },
            Payload::Data { data: vec![0xab; DATA_BYTES_MAX] },
        ];
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                let account = if let Payload::CreateAccount { public_key, .. } = &payload {
                    blake3::hash(public_key)
                } else {
                    h(1)
                };
                Transaction {
                    chain_id: h(7),
                    account,
                    nonce: i as u64,
                    timestamp_ms: 5,
                    max_fee: 0,
                    payload,
                    signature: sig(i as u8),
                }
            })
            .collect()
    }

    #[test]
    fn every_kind_round_trips_both_ways() {
        for tx in every_kind() {
            let bytes = tx.encode().unwrap();
            assert!(bytes.len() <= TX_BYTES_MAX);
            let back = Transaction::decode(&bytes).unwrap();
            assert_eq!(back, tx, "{}", tx.payload.kind_name());
            assert_eq!(back.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let tx = transfer(0x0102);
        let bytes = tx.encode().unwrap();
        assert_eq!(&bytes[..3], &[1, 1, 2]);
        assert_eq!(&bytes[3..35], &h(7));
        assert_eq!(&bytes[35..67], &h(1));
        assert_eq!(&bytes[67..75], &0x0102u64.to_le_bytes());
        // to, amount, memo length prefix, memo, signature.
        assert_eq!(&bytes[91..123], &h(2));
        assert_eq!(&bytes[123..131], &5_000_000u64.to_le_bytes());
        assert_eq!(&bytes[131..135], &[4, 0, 0, 0]);
        assert_eq!(&bytes[135..139], b"rent");
        assert_eq!(bytes.len(), 139 + ML_DSA_87_SIGNATURE_BYTES);
        let info = inspect(&bytes).unwrap();
        assert_eq!(info.id, blake3::hash(&bytes));
        assert_eq!(&info.signing_message[..11], b"qudag/tx/v1");
        assert_eq!(&info.signing_message[11..], &bytes[..139]);
        assert_eq!(info.signing_message, tx.signing_message().unwrap());
        assert_eq!(&info.conflict_key[..32], &h(1));
        assert_eq!(&info.conflict_key[32..], &0x0102u64.to_le_bytes());
    }

    fn code_of(bytes: &[u8]) -> Code {
        Transaction::decode(bytes).unwrap_err().code
    }

    #[test]
    fn decoding_rejections() {
        let good = transfer(1).encode().unwrap();
        let mut b = good.clone();
        b.push(0);
        assert_eq!(code_of(&b), Code::TrailingBytes);
        assert_eq!(code_of(&good[..good.len() - 1]), Code::Truncated);
        assert_eq!(code_of(&[]), Code::Truncated);
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(code_of(&b), Code::UnknownVersion);
        let mut b = good.clone();
        b[1] = 2;
        assert_eq!(code_of(&b), Code::UnknownObjectType);
        for kind in [0u8, 11, 255] {
            let mut b = good.clone();
            b[2] = kind;
            assert_eq!(code_of(&b), Code::UnknownKind);
        }
        assert_eq!(code_of(&vec![1u8; TX_BYTES_MAX + 1]), Code::TxTooLarge);
        // Memo length prefix over the limit.
        let mut b = good.clone();
        b[131..135].copy_from_slice(&257u32.to_le_bytes());
        assert_eq!(code_of(&b), Code::MemoTooLarge);
        // Amount zero.
        let mut b = good.clone();
        b[123..131].copy_from_slice(&[0; 8]);
        assert_eq!(code_of(&b), Code::AmountZero);
    }

    #[test]
    fn field_rules() {
        let base = every_kind();
        let with = |i: usize, payload: Payload| Transaction { payload, ..base[i].clone() };
        let pk = public_key();
        let cases: Vec<(Transaction, Code)> = vec![
            (with(0, Payload::CreateAccount { name: vec![], public_key: pk.clone() }), Code::NameInvalid),
            (with(0, Payload::CreateAccount { name: b"Alice".to_vec(), public_key: pk.clone() }), Code::NameInvalid),
            (with(0, Payload::CreateAccount { name: b"a b".to_vec(), public_key: pk.clone() }), Code::NameInvalid),
            (with(0, Payload::CreateAccount { name: vec![b'a'; 65], public_key: pk.clone() }), Code::NameTooLarge),
            (
                with(0, Payload::CreateAccount { name: b"ok".to_vec(), public_key: vec![1; 2592] }),
                Code::AccountKeyMismatch,
            ),
            (with(0, Payload::CreateAccount { name: b"ok".to_vec(), public_key: vec![1; 2591] }), Code::InvalidInput),
            (with(1, Payload::Transfer { to: h(2), amount: 0, memo: vec![] }), Code::AmountZero),
            (with(1, Payload::Transfer { to: h(2), amount: 1, memo: vec![0; 257] }), Code::MemoTooLarge),
            (with(2, Payload::Mint { to: h(2), amount: 0 }), Code::AmountZero),
            (with(3, Payload::Burn { amount: 0 }), Code::AmountZero),
            (
                with(4, Payload::ConfigureFees { params: FeeParams { usage_threshold: 0, ..FeeParams::DEFAULT } }),
                Code::InvalidFeeParams,
            ),
            (with(8, Payload::GovernanceOverride { config_hash: h(1), reason: vec![] }), Code::ReasonInvalid),
            (with(8, Payload::GovernanceOverride { config_hash: h(1), reason: vec![0xff, 0xfe] }), Code::ReasonInvalid),
            (with(8, Payload::GovernanceOverride { config_hash: h(1), reason: vec![b'a'; 257] }), Code::ReasonTooLarge),
            (with(9, Payload::Data { data: vec![0; DATA_BYTES_MAX + 1] }), Code::DataTooLarge),
        ];
        for (tx, code) in cases {
            assert_eq!(tx.encode().unwrap_err().code, code, "{:?}", tx.payload.kind_name());
            assert_eq!(tx.signing_message().unwrap_err().code, code);
        }
        // Limits that are exactly met are fine.
        with(1, Payload::Transfer { to: h(2), amount: 1, memo: vec![0; 256] }).encode().unwrap();
        with(8, Payload::GovernanceOverride { config_hash: h(1), reason: vec![b'a'; 256] }).encode().unwrap();
        let bad_sig = Transaction { signature: vec![0; 10], ..transfer(1) };
        assert_eq!(bad_sig.encode().unwrap_err().code, Code::InvalidInput);
        // An unsigned transaction still has a signing message.
        let unsigned = Transaction { signature: vec![], ..transfer(1) };
        assert_eq!(unsigned.signing_message().unwrap(), transfer(1).signing_message().unwrap());
    }

    #[test]
    fn every_limit_is_enforced_on_decode_too() {
        // Build over-limit bytes by hand: encode refuses to.
        let tx = &every_kind()[9];
        let mut bytes = tx.encode().unwrap();
        // data length prefix sits right after the 91-byte header.
        bytes[91..95].copy_from_slice(&((DATA_BYTES_MAX + 1) as u32).to_le_bytes());
        assert_eq!(code_of(&bytes), Code::DataTooLarge);
        let ca = &every_kind()[0];
        let mut bytes = ca.encode().unwrap();
        bytes[91..95].copy_from_slice(&65u32.to_le_bytes());
        assert_eq!(code_of(&bytes), Code::NameTooLarge);
        let go = &every_kind()[8];
        let mut bytes = go.encode().unwrap();
        bytes[123..127].copy_from_slice(&257u32.to_le_bytes());
        assert_eq!(code_of(&bytes), Code::ReasonTooLarge);
    }
}
