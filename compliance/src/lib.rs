//! Compliance: every transfer is screened before money moves.
//!
//! # Layout
//! - (being written)
