//! Compliance in the engine: the OFAC data it loads and reloads, the external screener over
//! HTTP, and the screening points of the payment flow. The screening itself (lists, names,
//! rules, decisions, the audit chain) lives in `rialto-compliance`, which does no IO.
//!
//! # Layout
//! - [`lists`]: the embedded OFAC snapshot, or a folder re-read on change.
//! - [`freshness`]: the lists' age against the configured warn and refuse limits.
//! - [`service`]: [`Compliance`]: current lists, thresholds, rules policy per merchant, and
//!   the external screener built over the outbound-HTTP port it is given.
//! - [`screening`]: ad-hoc screenings: the address to screen and the screening object.
//! - [`flow`]: the screening points (settlement address, received funds, case resolution).
//! - [`external_http`]: a TRM-shaped external address screener, sent through the engine's
//!   outbound-HTTP port ([`crate::outbound::HttpClient`]) and prefetched before the
//!   synchronous screening call.

pub mod external_http;
pub mod flow;
pub mod freshness;
pub mod lists;
pub mod screening;
pub mod service;

pub use service::{validate_config, Compliance, MerchantPolicy, ReloadReport};
