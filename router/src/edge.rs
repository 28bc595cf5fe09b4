//! How each kind of edge prices itself, both ways: `forward` (what comes out of an input) and
//! `inverse` (what must go in for a required output).
//!
//! All math is exact `Decimal`. Rounding always favours the merchant: an output is rounded
//! down to the output asset's decimals, a required input is rounded up to the input asset's.
//! So `forward(inverse(out)) >= out` holds up to the 28-digit precision of a `Decimal`
//! division; the quote step checks it on every route and nudges the input up when it fails.

use rialto_connectors::exchange::{BookLevel, Side};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::graph::Location;
use crate::RouterError;

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// A spot market on an exchange account, from the taker's side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookTrade {
    /// `Buy`: the edge spends the quote asset for the base asset, walking `levels` as asks.
    /// `Sell`: spends base for quote, walking `levels` as bids. Best level first.
    pub side: Side,
    pub levels: Vec<BookLevel>,
    /// Charged on the quote amount, as the connectors' `walk_book` does.
    pub taker_fee_rate: Decimal,
}

/// A constant-product pool (Uniswap v2 style): `reserve_in * reserve_out` is kept, after a fee
/// taken from the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub reserve_in: Decimal,
    pub reserve_out: Decimal,
    pub fee_bps: u32,
}

/// The kinds of edges. Each says which input/output relation it keeps (see [`EdgeKind::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum EdgeKind {
    /// Exchange trade: same venue, two assets.
    Trade(BookTrade),
    /// Exchange withdrawal to a network: same asset, venue to chain; `fee` in the asset is
    /// deducted from the amount, which must be at least `minimum`.
    Withdrawal { fee: Decimal, minimum: Decimal },
    /// DEX swap: same chain, two assets.
    Dex(Pool),
    /// Chainlink CCIP: the same asset across chains, arriving whole; the sender pays the
    /// router's fee in native coin, valued here in USD (`network_fee_usd`) like gas.
    Ccip { network_fee_usd: Decimal },
    /// A generic bridge: same asset across chains, `fee_bps` of the amount plus `fixed`.
    Bridge { fee_bps: u32, fixed: Decimal },
    /// On-chain transfer from Rialto's address to an exchange deposit address on that chain:
    /// the amount arrives whole, Rialto pays `gas_usd`.
    Transfer { gas_usd: Decimal },
}

/// The short name of an edge kind, as legs and the health snapshot show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    Trade,
    Withdrawal,
    DexSwap,
    Ccip,
    Bridge,
    Transfer,
}

/// Why an edge cannot carry an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeRefusal {
    /// The book or pool is too thin for the amount.
    InsufficientLiquidity,
    /// The amount is under the venue's withdrawal minimum or does not cover the fee.
    BelowMinimum,
}

/// One edge priced for one amount, in the edge's own assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    pub input: Decimal,
    pub output: Decimal,
    /// The fee, in the input asset when `fee_in_output` is false, else in the output asset.
    pub fee: Decimal,
    pub fee_in_output: bool,
}

/// Rounds up to `dp` places: for amounts the payer must put in.
pub fn round_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::ToPositiveInfinity)
}

/// Rounds down to `dp` places: for amounts anyone receives.
pub fn round_down(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::ToNegativeInfinity)
}

fn bps(value: u32) -> Decimal {
    Decimal::from(value) / BPS
}

impl EdgeKind {
    pub fn leg_kind(&self) -> LegKind {
        match self {
            Self::Trade(_) => LegKind::Trade,
            Self::Withdrawal { .. } => LegKind::Withdrawal,
            Self::Dex(_) => LegKind::DexSwap,
            Self::Ccip { .. } => LegKind::Ccip,
            Self::Bridge { .. } => LegKind::Bridge,
            Self::Transfer { .. } => LegKind::Transfer,
        }
    }

    /// Whether the edge turns one asset into another (and so needs oracle prices for both).
    pub fn converts(&self) -> bool {
        match self {
            Self::Trade(_) | Self::Dex(_) => true,
            Self::Withdrawal { .. }
            | Self::Ccip { .. }
            | Self::Bridge { .. }
            | Self::Transfer { .. } => false,
        }
    }

    /// Refuses an edge whose endpoints do not fit its kind: a trade that changes venue, a
    /// withdrawal that changes asset or does not land on a chain, a bridge that stays put.
    pub fn validate(
        &self,
        same_asset: bool,
        same_location: bool,
        to: &Location,
    ) -> Result<(), RouterError> {
        let to_chain = matches!(to, Location::Chain(_));
        let ok = match self {
            Self::Trade(_) => !same_asset && same_location && !to_chain,
            Self::Dex(_) => !same_asset && same_location && to_chain,
            Self::Withdrawal { .. } => same_asset && !same_location && to_chain,
            Self::Ccip { .. } | Self::Bridge { .. } => same_asset && !same_location && to_chain,
            Self::Transfer { .. } => same_asset && !same_location && !to_chain,
        };
        if ok {
            Ok(())
        } else {
            Err(RouterError::InvalidEdge(format!("{:?}", self.leg_kind())))
        }
    }

    /// What comes out of `input` (in the from-asset), rounded down to `out_dp`.
    pub fn forward(&self, input: Decimal, out_dp: u32) -> Result<Priced, EdgeRefusal> {
        if input <= Decimal::ZERO {
            return Err(EdgeRefusal::BelowMinimum);
        }
        match self {
            Self::Trade(book) => book.forward(input, out_dp),
            Self::Dex(pool) => pool.forward(input, out_dp),
            Self::Withdrawal { fee, minimum } => {
                if input < *minimum || input <= *fee {
                    return Err(EdgeRefusal::BelowMinimum);
                }
                Ok(same_asset(input, input - fee, *fee))
            }
            Self::Ccip { .. } => Ok(same_asset(input, input, Decimal::ZERO)),
            Self::Bridge { fee_bps, fixed } => {
                let output = round_down(input * (Decimal::ONE - bps(*fee_bps)) - fixed, out_dp);
                if output <= Decimal::ZERO {
                    return Err(EdgeRefusal::BelowMinimum);
                }
                Ok(same_asset(input, output, input - output))
            }
            Self::Transfer { .. } => Ok(same_asset(input, input, Decimal::ZERO)),
        }
    }

    /// Network fees Rialto pays for the edge in native coin, in USD (a transfer's gas, CCIP's
    /// router fee).
    pub fn gas_usd(&self) -> Decimal {
        match self {
            Self::Transfer { gas_usd } => *gas_usd,
            Self::Ccip { network_fee_usd } => *network_fee_usd,
            _ => Decimal::ZERO,
        }
    }

    /// What must go in (in the from-asset, rounded up to `in_dp`) for at least `output`.
    pub fn inverse(&self, output: Decimal, in_dp: u32) -> Result<Priced, EdgeRefusal> {
        match self {
            Self::Trade(book) => book.inverse(output, in_dp),
            Self::Dex(pool) => pool.inverse(output, in_dp),
            Self::Withdrawal { fee, minimum } => {
                let input = (output + fee).max(*minimum);
                Ok(same_asset(input, input - fee, *fee))
            }
            Self::Ccip { .. } => Ok(same_asset(output, output, Decimal::ZERO)),
            Self::Bridge { fee_bps, fixed } => {
                let input = round_up((output + fixed) / (Decimal::ONE - bps(*fee_bps)), in_dp);
                Ok(same_asset(input, output, input - output))
            }
            Self::Transfer { .. } => Ok(same_asset(output, output, Decimal::ZERO)),
        }
    }
}

fn same_asset(input: Decimal, output: Decimal, fee: Decimal) -> Priced {
    Priced {
        input,
        output,
        fee,
        fee_in_output: false,
    }
}

impl BookTrade {
    fn forward(&self, input: Decimal, out_dp: u32) -> Result<Priced, EdgeRefusal> {
        let rate = self.taker_fee_rate;
        match self.side {
            // Spend `input` quote: the fee comes out of it, the rest buys base up the asks.
            Side::Buy => {
                let budget = input / (Decimal::ONE + rate);
                let base = spend_quote(&self.levels, budget)?;
                Ok(Priced {
                    input,
                    output: round_down(base, out_dp),
                    fee: input - budget,
                    fee_in_output: false,
                })
            }
            // Sell `input` base down the bids; the fee comes out of the quote received.
            Side::Sell => {
                let gross = sell_base(&self.levels, input)?;
                let fee = gross * rate;
                Ok(Priced {
                    input,
                    output: round_down(gross - fee, out_dp),
                    fee,
                    fee_in_output: true,
                })
            }
        }
    }

    fn inverse(&self, output: Decimal, in_dp: u32) -> Result<Priced, EdgeRefusal> {
        let rate = self.taker_fee_rate;
        match self.side {
            Side::Buy => {
                let gross = sell_base(&self.levels, output)?;
                let fee = gross * rate;
                Ok(Priced {
                    input: round_up(gross + fee, in_dp),
                    output,
                    fee,
                    fee_in_output: false,
                })
            }
            Side::Sell => {
                if rate >= Decimal::ONE {
                    return Err(EdgeRefusal::InsufficientLiquidity);
                }
                let gross = output / (Decimal::ONE - rate);
                let base = spend_quote(&self.levels, gross)?;
                Ok(Priced {
                    input: round_up(base, in_dp),
                    output,
                    fee: gross - output,
                    fee_in_output: true,
                })
            }
        }
    }
}

/// Quote obtained for `base` walked down `levels` (a partial last level is taken pro rata).
fn sell_base(levels: &[BookLevel], base: Decimal) -> Result<Decimal, EdgeRefusal> {
    let mut remaining = base;
    let mut quote = Decimal::ZERO;
    for level in levels {
        if remaining.is_zero() {
            break;
        }
        let take = remaining.min(level.size);
        quote += take * level.price;
        remaining -= take;
    }
    if remaining.is_zero() {
        Ok(quote)
    } else {
        Err(EdgeRefusal::InsufficientLiquidity)
    }
}

/// Base obtained for spending exactly `quote` along `levels`.
fn spend_quote(levels: &[BookLevel], quote: Decimal) -> Result<Decimal, EdgeRefusal> {
    let mut remaining = quote;
    let mut base = Decimal::ZERO;
    for level in levels {
        if remaining.is_zero() {
            break;
        }
        let level_quote = level.size * level.price;
        if level_quote <= remaining {
            base += level.size;
            remaining -= level_quote;
        } else {
            base += remaining / level.price;
            remaining = Decimal::ZERO;
        }
    }
    if remaining.is_zero() {
        Ok(base)
    } else {
        Err(EdgeRefusal::InsufficientLiquidity)
    }
}

impl Pool {
    fn fee_factor(&self) -> Decimal {
        Decimal::ONE - bps(self.fee_bps)
    }

    /// `out = in·γ·R_out / (R_in + in·γ)`, rounded down.
    fn forward(&self, input: Decimal, out_dp: u32) -> Result<Priced, EdgeRefusal> {
        let effective = input * self.fee_factor();
        let output = round_down(
            effective * self.reserve_out / (self.reserve_in + effective),
            out_dp,
        );
        if output <= Decimal::ZERO {
            return Err(EdgeRefusal::BelowMinimum);
        }
        Ok(same_asset(input, output, input - effective))
    }

    /// `in = R_in·out / ((R_out − out)·γ)`, rounded up: Uniswap v2's `getAmountIn` in decimals.
    fn inverse(&self, output: Decimal, in_dp: u32) -> Result<Priced, EdgeRefusal> {
        if output >= self.reserve_out || self.fee_bps >= 10_000 {
            return Err(EdgeRefusal::InsufficientLiquidity);
        }
        let gamma = self.fee_factor();
        let input = round_up(
            self.reserve_in * output / ((self.reserve_out - output) * gamma),
            in_dp,
        );
        Ok(same_asset(input, output, input - input * gamma))
    }
}
