//! Stable result codes. The numbers and names are part of the ABI: never
//! renumber or rename one; add new codes at the end. Ordered within each
//! group by the precedence in which decoding reports them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    // 1..: framing and input from the host.
    InvalidInput = 1,
    Truncated = 2,
    TrailingBytes = 3,
    UnknownVersion = 4,
    UnknownObjectType = 5,
    UnknownKind = 6,
    // 10..: size limits.
    TxTooLarge = 10,
    VertexTooLarge = 11,
    MemoTooLarge = 12,
    DataTooLarge = 13,
    NameTooLarge = 14,
    ReasonTooLarge = 15,
    TooManyParents = 16,
    TooManyTransactions = 17,
    OutputTooLarge = 18,
    // 30..: structural rules.
    NameInvalid = 30,
    ReasonInvalid = 31,
    AmountZero = 32,
    AccountKeyMismatch = 33,
    InvalidFeeParams = 34,
    ParentsUnsorted = 35,
    ParentsDuplicate = 36,
    GenesisHasParents = 37,
    ParentsMissing = 38,
    ChainIdMismatch = 39,
    DuplicateTransaction = 40,
    ConflictingTransactions = 41,
    // 60..: amounts and fees.
    AmountInvalid = 60,
    AmountTooManyDecimals = 61,
    AmountOverflow = 62,
    // 70..: ledger refusals (ledger/), in the precedence the rules check them
    // (LEDGER.md). A refused transaction changes nothing.
    WrongChain = 70,
    UnknownAccount = 71,
    BadSignature = 72,
    AccountExists = 73,
    NonceTooLow = 74,
    NonceTooHigh = 75,
    TimeRegressed = 76,
    NotAuthorized = 77,
    ConfigLocked = 78,
    AlreadyLocked = 79,
    NotLocked = 80,
    ConfigHashMismatch = 81,
    NameTaken = 82,
    UnknownRecipient = 83,
    AttestationExpired = 84,
    NotAttested = 85,
    SupplyCapExceeded = 86,
    FeeExceedsMaxFee = 87,
    InsufficientFunds = 88,
    // 99: a bug in the core (a caught panic); never a rule.
    Internal = 99,
}

pub const ALL_CODES: [Code; 50] = [
    Code::InvalidInput,
    Code::Truncated,
    Code::TrailingBytes,
    Code::UnknownVersion,
    Code::UnknownObjectType,
    Code::UnknownKind,
    Code::TxTooLarge,
    Code::VertexTooLarge,
    Code::MemoTooLarge,
    Code::DataTooLarge,
    Code::NameTooLarge,
    Code::ReasonTooLarge,
    Code::TooManyParents,
    Code::TooManyTransactions,
    Code::OutputTooLarge,
    Code::NameInvalid,
    Code::ReasonInvalid,
    Code::AmountZero,
    Code::AccountKeyMismatch,
    Code::InvalidFeeParams,
    Code::ParentsUnsorted,
    Code::ParentsDuplicate,
    Code::GenesisHasParents,
    Code::ParentsMissing,
    Code::ChainIdMismatch,
    Code::DuplicateTransaction,
    Code::ConflictingTransactions,
    Code::AmountInvalid,
    Code::AmountTooManyDecimals,
    Code::AmountOverflow,
    Code::WrongChain,
    Code::UnknownAccount,
    Code::BadSignature,
    Code::AccountExists,
    Code::NonceTooLow,
    Code::NonceTooHigh,
    Code::TimeRegressed,
    Code::NotAuthorized,
    Code::ConfigLocked,
    Code::AlreadyLocked,
    Code::NotLocked,
    Code::ConfigHashMismatch,
    Code::NameTaken,
    Code::UnknownRecipient,
    Code::AttestationExpired,
    Code::NotAttested,
    Code::SupplyCapExceeded,
    Code::FeeExceedsMaxFee,
    Code::InsufficientFunds,
    Code::Internal,
];

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Code::InvalidInput => "invalid_input",
            Code::Truncated => "truncated",
            Code::TrailingBytes => "trailing_bytes",
            Code::UnknownVersion => "unknown_version",
            Code::UnknownObjectType => "unknown_object_type",
            Code::UnknownKind => "unknown_kind",
            Code::TxTooLarge => "tx_too_large",
            Code::VertexTooLarge => "vertex_too_large",
            Code::MemoTooLarge => "memo_too_large",
            Code::DataTooLarge => "data_too_large",
            Code::NameTooLarge => "name_too_large",
            Code::ReasonTooLarge => "reason_too_large",
            Code::TooManyParents => "too_many_parents",
            Code::TooManyTransactions => "too_many_transactions",
            Code::OutputTooLarge => "output_too_large",
            Code::NameInvalid => "name_invalid",
            Code::ReasonInvalid => "reason_invalid",
            Code::AmountZero => "amount_zero",
            Code::AccountKeyMismatch => "account_key_mismatch",
            Code::InvalidFeeParams => "invalid_fee_params",
            Code::ParentsUnsorted => "parents_unsorted",
            Code::ParentsDuplicate => "parents_duplicate",
            Code::GenesisHasParents => "genesis_has_parents",
            Code::ParentsMissing => "parents_missing",
            Code::ChainIdMismatch => "chain_id_mismatch",
            Code::DuplicateTransaction => "duplicate_transaction",
            Code::ConflictingTransactions => "conflicting_transactions",
            Code::AmountInvalid => "amount_invalid",
            Code::AmountTooManyDecimals => "amount_too_many_decimals",
            Code::AmountOverflow => "amount_overflow",
            Code::WrongChain => "wrong_chain",
            Code::UnknownAccount => "unknown_account",
            Code::BadSignature => "bad_signature",
            Code::AccountExists => "account_exists",
            Code::NonceTooLow => "nonce_too_low",
            Code::NonceTooHigh => "nonce_too_high",
            Code::TimeRegressed => "time_regressed",
            Code::NotAuthorized => "not_authorized",
            Code::ConfigLocked => "config_locked",
            Code::AlreadyLocked => "already_locked",
            Code::NotLocked => "not_locked",
            Code::ConfigHashMismatch => "config_hash_mismatch",
            Code::NameTaken => "name_taken",
            Code::UnknownRecipient => "unknown_recipient",
            Code::AttestationExpired => "attestation_expired",
            Code::NotAttested => "not_attested",
            Code::SupplyCapExceeded => "supply_cap_exceeded",
            Code::FeeExceedsMaxFee => "fee_exceeds_max_fee",
            Code::InsufficientFunds => "insufficient_funds",
            Code::Internal => "internal",
        }
    }

    pub fn from_u32(value: u32) -> Option<Code> {
        ALL_CODES.iter().copied().find(|c| *c as u32 == value)
    }
}

/// A rejection: a stable code plus a message that says what failed and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for `Err(Error::new(code, format!(...)))`.
macro_rules! fail {
    ($code:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::new($crate::error::Code::$code, format!($($arg)*)))
    };
}
pub(crate) use fail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_names_are_unique_snake_case() {
        let mut seen: Vec<&str> = Vec::new();
        for code in ALL_CODES.iter().copied() {
            assert_eq!(Code::from_u32(code as u32), Some(code));
            let name = code.name();
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", name);
            assert!(!seen.contains(&name), "duplicate {}", name);
            seen.push(name);
        }
        assert_eq!(Code::from_u32(0), None);
        assert_eq!(Code::from_u32(7), None);
    }
}
