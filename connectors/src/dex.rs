//! The DEX role: swapping one token for another on one chain, from Rialto's address there.
//!
//! A [`Dex`] reads what the router's market needs (each pool's reserves) and what a swap leg
//! checks before and after it sends (allowance, the pool's output for an input), and encodes
//! the two transactions of a swap as rail legs ([`PlannedLeg`]): an exact approval and the swap with
//! its minimum output and deadline. The engine's route executor sends them as rail legs, so
//! they are recorded before they are sent like every other leg. `rialto-evm` implements it for
//! Uniswap V2 (`UniswapV2`).

use std::fmt;

use async_trait::async_trait;
use rialto_core::address::Address;

use crate::chain::ChainError;
use crate::rail::PlannedLeg;

/// One pool and its reserves now, in base units, in the order the pool is named (`A/B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolReserves {
    /// `A/B`, by token symbol.
    pub name: String,
    pub symbol_a: String,
    pub symbol_b: String,
    pub reserve_a: u128,
    pub reserve_b: u128,
    /// The pool's fee, basis points.
    pub fee_bps: u32,
}

/// A pool that could not be read, with why.
#[derive(Debug)]
pub struct PoolUnreadable {
    pub name: String,
    pub error: ChainError,
}

/// One DEX on one chain (see the module docs).
#[async_trait]
pub trait Dex: Send + Sync + fmt::Debug {
    /// The chain, CAIP-2.
    fn chain_id(&self) -> &str;

    /// The contract swaps go through: the spender approvals name.
    fn router(&self) -> &Address;

    /// Every pool the DEX offers here, with its reserves as of now; a pool that cannot be read
    /// is reported, not hidden.
    async fn pools(&self) -> Vec<Result<PoolReserves, PoolUnreadable>>;

    /// How much of `token` `owner` lets the router spend.
    async fn allowance(&self, token: &Address, owner: &Address) -> Result<u128, ChainError>;

    /// What the pool would give now for exactly `amount_in` of `token_in`, in `token_out`.
    async fn amount_out(
        &self,
        token_in: &Address,
        token_out: &Address,
        amount_in: u128,
    ) -> Result<u128, ChainError>;

    /// The call that lets the router spend exactly `units` of `token` (zero revokes).
    fn approve(&self, token: &Address, units: u128) -> Result<PlannedLeg, ChainError>;

    /// The call that swaps exactly `amount_in` of `token_in` for at least `min_out` of
    /// `token_out` (`tokens` = `(token_in, token_out)`, `amounts` = `(amount_in, min_out)`),
    /// paid to `to`, valid until `deadline` (Unix seconds).
    fn swap(
        &self,
        tokens: (&Address, &Address),
        amounts: (u128, u128),
        to: &Address,
        deadline: u64,
    ) -> Result<PlannedLeg, ChainError>;
}
