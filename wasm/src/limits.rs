//! Every size limit of the canonical formats, in one place. Changing one is
//! a consensus change (a new format version or a new chain).

/// Largest encoded transaction, signature included. The largest non-data
/// transaction (create-account, 64-byte name) is 7,378 bytes.
pub const TX_BYTES_MAX: usize = 16_384;
/// Opaque payload of a `data` transaction.
pub const DATA_BYTES_MAX: usize = 8_192;
/// Memo of a transfer.
pub const MEMO_BYTES_MAX: usize = 256;
/// Account name of create-account (1..=64 bytes of [a-z0-9_-]).
pub const NAME_BYTES_MAX: usize = 64;
/// Reason of a governance override (1..=256 bytes of UTF-8).
pub const REASON_BYTES_MAX: usize = 256;
/// Parents of one vertex.
pub const PARENTS_MAX: usize = 64;
/// Transactions carried by one vertex.
pub const TXS_PER_VERTEX_MAX: usize = 1_024;
/// Largest encoded vertex, its transactions and signature included (4 MiB).
pub const VERTEX_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest BLAKE3 output the export layer hands out in one call.
pub const BLAKE3_OUTPUT_BYTES_MAX: usize = 65_536;
/// Longest decimal amount string accepted by `amount::parse`.
pub const AMOUNT_STRING_BYTES_MAX: usize = 64;

/// Fixed sizes (FIPS 204 ML-DSA-87 and BLAKE3-256).
pub const HASH_BYTES: usize = 32;
pub const ML_DSA_87_PUBLIC_KEY_BYTES: usize = 2_592;
pub const ML_DSA_87_SIGNATURE_BYTES: usize = 4_627;
