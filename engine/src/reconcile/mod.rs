//! Reconciliation and reports: what the gateway's records say happened, checked against what
//! the chains say did, and the per-merchant reports built from the ledger and the chain
//! records.
//!
//! # Layout
//! - [`engine`]: the pure matcher (expected vs observed transfers, ledger checks).
//! - [`keys`]: transactions and accounts per chain family (EVM hex, Solana base58).
//! - [`collect`]: reads the store and the chains into the engine and stores the run.
//! - [`reports`]: the report rows (payments, fees, settlements, refunds, exceptions), CSV.
//! - [`time`]: UTC dates for periods and columns.

mod arrivals;
pub mod collect;
pub mod engine;
pub mod keys;
pub mod reports;
pub mod time;
