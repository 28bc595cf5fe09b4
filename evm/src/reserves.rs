//! Proof of Reserve reads: a reserve feed's `latestRoundData` (Chainlink's
//! `AggregatorV3Interface`, `answer` = reserves) turned into a [`ReserveReport`], and the
//! [`PorGuard`] judgement of a token's supply against it. The judgement itself is pure
//! (`rialto_core::reserves`); this module only reads the chain.

use alloy::primitives::I256;
use alloy::providers::Provider;
use rialto_core::{Address, Currency, Money, PorGuard, ReserveBreach, ReserveReport};

use crate::chainlink::{scale_answer, u80_to_u128, AggregatorV3Interface};
use crate::contracts::to_wire;
use crate::deposit_token::total_supply;
use crate::EvmError;

/// Reads the reserve feed at `feed`. A negative answer is not a reserve figure and an
/// incomplete round is not a report: both are errors, not breaches. Zero reserves is a valid
/// report (and a breach for any supply). Freshness is judged by [`PorGuard`], not here.
pub async fn read_reserves<P: Provider>(
    provider: &P,
    feed: &Address,
) -> Result<ReserveReport, EvmError> {
    let contract = AggregatorV3Interface::new(to_wire(feed)?, provider);
    let decimals = contract.decimals().call().await?;
    let latest = contract.latestRoundData().call().await?;
    let name = feed.to_string();
    if latest.answer < I256::ZERO {
        return Err(EvmError::FeedAnswerNotPositive {
            feed: name,
            answer: latest.answer.to_string(),
        });
    }
    let round_id = u80_to_u128(latest.roundId);
    let answered_in_round = u80_to_u128(latest.answeredInRound);
    let updated_at = u64::try_from(latest.updatedAt).unwrap_or(u64::MAX);
    if answered_in_round < round_id {
        return Err(EvmError::FeedRoundIncomplete {
            feed: name,
            round_id,
            answered_in_round,
            updated_at,
        });
    }
    Ok(ReserveReport {
        reserves: scale_answer(&name, latest.answer, decimals)?,
        updated_at,
    })
}

/// One guard reading: what was read and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveCheck {
    pub supply: Money,
    pub report: ReserveReport,
    /// `Ok` when the reserves cover the supply and the report is fresh.
    pub verdict: Result<(), ReserveBreach>,
}

/// Reads `token`'s supply and its reserve feed and judges them at `now_secs` (unix seconds).
/// `currency` carries the token's decimals. Chain errors are errors; a breach is a verdict.
pub async fn check_reserves<P: Provider>(
    provider: &P,
    token: &Address,
    currency: Currency,
    feed: &Address,
    guard: PorGuard,
    now_secs: u64,
) -> Result<ReserveCheck, EvmError> {
    let supply = total_supply(provider, token, currency).await?;
    let report = read_reserves(provider, feed).await?;
    let verdict = guard.check(&report, &supply, now_secs);
    Ok(ReserveCheck {
        supply,
        report,
        verdict,
    })
}

/// Chainlink's secure-mint check for a mint of `mint` of `token`, before the mint is requested
/// from the issuer.
pub async fn check_secure_mint<P: Provider>(
    provider: &P,
    token: &Address,
    feed: &Address,
    guard: PorGuard,
    mint: &Money,
    now_secs: u64,
) -> Result<Result<(), ReserveBreach>, EvmError> {
    let supply = total_supply(provider, token, mint.currency().clone()).await?;
    let report = read_reserves(provider, feed).await?;
    Ok(guard.check_mint(&report, &supply, mint, now_secs))
}
