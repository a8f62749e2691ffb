//! QuDAG core: the deterministic, consensus-critical rules every node, the
//! edge replica and a browser must compute identically. Pure modules (no
//! clock, no randomness, no I/O) under a thin export layer (`ffi`). The
//! format is described in ../FORMAT.md.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod amount;
pub mod blake3;
pub mod codec;
pub mod error;
pub mod fee;
pub mod ffi;
pub mod frame;
pub mod ledger;
pub mod limits;
pub mod tx;
pub mod vertex;

#[cfg(test)]
mod canonical_tests;
#[cfg(test)]
mod fee_reference_tests;
#[cfg(test)]
mod testutil;
