//! The SmartFunding router: from where the payer's money is to the merchant's stablecoin on
//! the merchant's chain, through exchange trades, withdrawals, DEX swaps and bridges.
//!
//! Nothing is implemented here yet; the router issue fills it. Its execute step will only take
//! plans cleared by `rialto_compliance`.
//!
//! # Layout
//! - (empty until the router issue lands)
