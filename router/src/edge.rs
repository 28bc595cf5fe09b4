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
    /// An issuing bank mints its USD deposit token (JPMD-DEV on the devnet) on the chain where
    /// Rialto holds the input stablecoin, paid from Rialto's USD float at the bank: the token
    /// arrives one for one with the USD, less the bank's fee (see [`IssuerFees`]). Valued at
    /// par, not at an oracle price: the bank's own 1:1 is the rate.
    IssuerMint(IssuerFees),
    /// The reverse: the token is burned and the bank credits Rialto's USD float there (the
    /// `to` node is the bank, a venue), less its fee.
    IssuerRedeem(IssuerFees),
}

/// An issuing bank's fee and minimum for a mint or a redemption: `fixed + amount × rate`, the
/// rate's part rounded up to the cent, on the token amount; amounts are whole cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerFees {
    pub fixed: Decimal,
    pub rate: Decimal,
    pub minimum: Decimal,
}

/// Issuers' amounts are whole cents.
const CENT_DP: u32 = 2;
const CENT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

impl IssuerFees {
    /// The bank's fee on `amount` tokens.
    pub fn fee(&self, amount: Decimal) -> Decimal {
        self.fixed + round_up(amount * self.rate, CENT_DP)
    }

    /// Mint: the whole-cent tokens the USD `input` pays for with the fee, and what is spent.
    fn mint_forward(&self, input: Decimal, out_dp: u32) -> Result<Priced, EdgeRefusal> {
        if self.rate <= -Decimal::ONE {
            return Err(EdgeRefusal::BelowMinimum);
        }
        let mut minted = round_down((input - self.fixed) / (Decimal::ONE + self.rate), CENT_DP);
        // The rate's rounding can put one cent too many: step down until it fits.
        while minted > Decimal::ZERO && minted + self.fee(minted) > input {
            minted -= CENT;
        }
        let minted = round_down(minted, out_dp);
        if minted <= Decimal::ZERO || minted < self.minimum {
            return Err(EdgeRefusal::BelowMinimum);
        }
        Ok(same_asset(input, minted, input - minted))
    }

    /// Mint: the USD to put in for at least `output` tokens (rounded up to the cent).
    fn mint_inverse(&self, output: Decimal, in_dp: u32) -> Result<Priced, EdgeRefusal> {
        let minted = round_up(output, CENT_DP).max(self.minimum);
        let input = round_up(minted + self.fee(minted), in_dp);
        Ok(same_asset(input, minted, input - minted))
    }

    /// Redemption: the USD credited for `input` tokens (whole cents only).
    fn redeem_forward(&self, input: Decimal, out_dp: u32) -> Result<Priced, EdgeRefusal> {
        if round_down(input, CENT_DP) != input || input < self.minimum {
            return Err(EdgeRefusal::BelowMinimum);
        }
        let output = round_down(input - self.fee(input), out_dp);
        if output <= Decimal::ZERO {
            return Err(EdgeRefusal::BelowMinimum);
        }
        Ok(same_asset(input, output, input - output))
    }

    /// Redemption: the whole-cent tokens to burn for at least `output` USD.
    fn redeem_inverse(&self, output: Decimal, in_dp: u32) -> Result<Priced, EdgeRefusal> {
        if self.rate >= Decimal::ONE {
            return Err(EdgeRefusal::InsufficientLiquidity);
        }
        let mut burned =
            round_up((output + self.fixed) / (Decimal::ONE - self.rate), CENT_DP).max(self.minimum);
        while burned - self.fee(burned) < output {
            burned += CENT;
        }
        let burned = round_up(burned, in_dp);
        Ok(same_asset(burned, output, burned - output))
    }
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
    IssuerMint,
    IssuerRedeem,
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
            Self::IssuerMint(_) => LegKind::IssuerMint,
            Self::IssuerRedeem(_) => LegKind::IssuerRedeem,
        }
    }

    /// Whether the edge turns one asset into another (and so needs oracle prices for both).
    pub fn converts(&self) -> bool {
        match self {
            Self::Trade(_) | Self::Dex(_) => true,
            Self::Withdrawal { .. }
            | Self::Ccip { .. }
            | Self::Bridge { .. }
            | Self::Transfer { .. }
            // At the bank's par: its fee is the only cost, priced in `forward`/`inverse`.
            | Self::IssuerMint(_)
            | Self::IssuerRedeem(_) => false,
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
            Self::IssuerMint(_) => !same_asset && same_location && to_chain,
            Self::IssuerRedeem(_) => !same_asset && !same_location && !to_chain,
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
            Self::IssuerMint(fees) => fees.mint_forward(input, out_dp),
            Self::IssuerRedeem(fees) => fees.redeem_forward(input, out_dp),
        }
    }

    /// Network fees Rialto pays for the edge in native coin, in USD (a transfer's gas, CCIP's
    /// router fee; an issuer's mint is the bank's own transaction).
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
            Self::IssuerMint(fees) => fees.mint_inverse(output, in_dp),
            Self::IssuerRedeem(fees) => fees.redeem_inverse(output, in_dp),
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

#[cfg(test)]
mod issuer_tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    /// The sandbox bank's terms: 0.05 %, no fixed part, a minimum of one token.
    fn sandbox() -> IssuerFees {
        IssuerFees {
            fixed: Decimal::ZERO,
            rate: d("0.0005"),
            minimum: Decimal::ONE,
        }
    }

    #[test]
    fn a_mint_costs_the_amount_and_the_banks_fee_rounded_up_to_the_cent_both_ways() {
        let mint = EdgeKind::IssuerMint(sandbox());
        // 25.00 × 0.0005 = 0.0125 → 0.02.
        let needed = mint.inverse(d("25.00"), 6).unwrap();
        assert_eq!(
            (needed.input, needed.output, needed.fee),
            (d("25.02"), d("25.00"), d("0.02"))
        );
        let minted = mint.forward(d("25.02"), 6).unwrap();
        assert_eq!((minted.output, minted.fee), (d("25.00"), d("0.02")));
        // A cent short of the fee mints a cent less, never more than the USD covers.
        let short = mint.forward(d("25.019999"), 6).unwrap();
        assert_eq!(short.output, d("24.99"));
        assert!(short.output + sandbox().fee(short.output) <= d("25.019999"));
        // Sub-cent outputs are minted up to the cent.
        assert_eq!(mint.inverse(d("10.001"), 6).unwrap().output, d("10.01"));
        assert_eq!(mint.forward(d("0.50"), 6), Err(EdgeRefusal::BelowMinimum));
    }

    #[test]
    fn a_redemption_credits_the_amount_less_the_fee_and_burns_whole_cents() {
        let redeem = EdgeKind::IssuerRedeem(IssuerFees {
            fixed: d("0.25"),
            rate: d("0.0005"),
            minimum: Decimal::ONE,
        });
        let credited = redeem.forward(d("1000.00"), 2).unwrap();
        assert_eq!((credited.output, credited.fee), (d("999.25"), d("0.75")));
        let burn = redeem.inverse(d("999.25"), 6).unwrap();
        assert_eq!(burn.input, d("1000.00"));
        assert_eq!(
            redeem.forward(d("10.001"), 2),
            Err(EdgeRefusal::BelowMinimum)
        );
    }

    #[test]
    fn issuer_edges_keep_to_their_places() {
        use crate::graph::Location;
        let chain = Location::Chain("eip155:8453".parse().unwrap());
        let bank = Location::Venue(crate::graph::VenueId("sandbox-bank".into()));
        let mint = EdgeKind::IssuerMint(sandbox());
        assert!(mint.validate(false, true, &chain).is_ok());
        assert!(mint.validate(true, true, &chain).is_err());
        assert!(mint.validate(false, false, &chain).is_err());
        let redeem = EdgeKind::IssuerRedeem(sandbox());
        assert!(redeem.validate(false, false, &bank).is_ok());
        assert!(redeem.validate(false, true, &chain).is_err());
        assert!(!mint.converts() && !redeem.converts());
        assert_eq!(mint.leg_kind(), LegKind::IssuerMint);
    }
}
