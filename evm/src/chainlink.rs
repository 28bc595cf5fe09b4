//! Reading a Chainlink `AggregatorV3Interface` feed into an exact decimal price.
//!
//! A feed answer is only used when it is believable: positive, from a complete round and no
//! older than the feed's heartbeat. The clock is injected (`now`) so staleness is testable.
//!
//! On an L2, a fresh-looking price can still be unusable: while the sequencer is down nobody but
//! L1-savvy users can transact, and right after it comes back prices may not have caught up.
//! [`read_sequencer`] reads Chainlink's sequencer uptime feed for that.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::aliases::U80;
use alloy::primitives::{I256, U256};
use alloy::providers::Provider;
use alloy::sol;
use rialto_core::Address;
use rust_decimal::Decimal;

use crate::contracts::to_wire;
use crate::EvmError;

sol! {
    #[sol(rpc)]
    interface AggregatorV3Interface {
        function decimals() external view returns (uint8);
        function latestRoundData() external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
    }
}

/// A feed answer that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPrice {
    /// Exact: the integer answer scaled down by the feed's decimals.
    pub price: Decimal,
    pub round_id: u128,
    /// Unix seconds of the round's last update.
    pub updated_at: u64,
    pub decimals: u8,
}

/// `latestRoundData` as the feed returned it, before any judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundData {
    pub round_id: u128,
    pub answer: I256,
    pub started_at: U256,
    pub updated_at: U256,
    pub answered_in_round: u128,
}

/// Reads `decimals` and `latestRoundData` of the feed at `feed` and judges the answer with
/// [`judge_round`]. Read-only; safe to retry.
pub async fn read_latest<P: Provider>(
    provider: &P,
    feed: &Address,
    heartbeat: Duration,
    now: SystemTime,
) -> Result<FeedPrice, EvmError> {
    let contract = AggregatorV3Interface::new(to_wire(feed)?, provider);
    let decimals = contract.decimals().call().await?;
    let latest = contract.latestRoundData().call().await?;
    let round = RoundData {
        round_id: u80_to_u128(latest.roundId),
        answer: latest.answer,
        started_at: latest.startedAt,
        updated_at: latest.updatedAt,
        answered_in_round: u80_to_u128(latest.answeredInRound),
    };
    judge_round(&feed.to_string(), &round, decimals, heartbeat, now)
}

/// Reads `latestRoundData` of an L2 sequencer uptime feed and judges it with
/// [`judge_sequencer`]. Read-only; safe to retry.
pub async fn read_sequencer<P: Provider>(
    provider: &P,
    feed: &Address,
    grace: Duration,
    now: SystemTime,
) -> Result<(), EvmError> {
    let contract = AggregatorV3Interface::new(to_wire(feed)?, provider);
    let latest = contract.latestRoundData().call().await?;
    let round = RoundData {
        round_id: u80_to_u128(latest.roundId),
        answer: latest.answer,
        started_at: latest.startedAt,
        updated_at: latest.updatedAt,
        answered_in_round: u80_to_u128(latest.answeredInRound),
    };
    judge_sequencer(&feed.to_string(), &round, grace, now)
}

/// Accepts a sequencer uptime round only if the sequencer is up (answer 0; 1 is down) and has
/// been up for more than `grace` at `now`: `startedAt` is when the status last changed, so
/// `now - startedAt` is how long it has been up. Exactly `grace` is still inside the period, as
/// in Chainlink's reference consumer (`timeSinceUp <= GRACE_PERIOD_TIME` reverts). A
/// `startedAt` of 0 is a round that was never written (Chainlink documents it for an
/// uninitialized feed), and any answer but 0 or 1 is not a status; both are refused. A
/// `startedAt` in the future (clock skew) counts as "just came up", the cautious reading.
pub fn judge_sequencer(
    feed: &str,
    round: &RoundData,
    grace: Duration,
    now: SystemTime,
) -> Result<(), EvmError> {
    let invalid = |reason: String| EvmError::SequencerRoundInvalid {
        feed: feed.to_owned(),
        reason,
    };
    if round.started_at.is_zero() {
        return Err(invalid("startedAt is 0".into()));
    }
    let started_at = u64::try_from(round.started_at)
        .map_err(|_| invalid(format!("startedAt {} is not a time", round.started_at)))?;
    if round.answer == I256::ONE {
        return Err(EvmError::SequencerDown {
            feed: feed.to_owned(),
            since: started_at,
        });
    }
    if round.answer != I256::ZERO {
        return Err(invalid(format!(
            "answer {} is neither 0 (up) nor 1 (down)",
            round.answer
        )));
    }
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let elapsed_secs = now_secs.saturating_sub(started_at);
    if elapsed_secs <= grace.as_secs() {
        return Err(EvmError::SequencerGracePeriod {
            feed: feed.to_owned(),
            elapsed_secs,
            grace_secs: grace.as_secs(),
        });
    }
    Ok(())
}

pub(crate) fn u80_to_u128(v: U80) -> u128 {
    // 80 bits always fit in 128.
    v.to::<u128>()
}

/// Accepts a round only if its answer is positive, it is complete (`answeredInRound >= roundId`
/// and `updatedAt != 0`) and it is at most `heartbeat` old at `now`. An `updatedAt` in the
/// future (clock skew between us and the chain) counts as age zero rather than an error.
pub fn judge_round(
    feed: &str,
    round: &RoundData,
    decimals: u8,
    heartbeat: Duration,
    now: SystemTime,
) -> Result<FeedPrice, EvmError> {
    if round.answer <= I256::ZERO {
        return Err(EvmError::FeedAnswerNotPositive {
            feed: feed.to_owned(),
            answer: round.answer.to_string(),
        });
    }
    let updated_at = u64::try_from(round.updated_at).unwrap_or(u64::MAX);
    if round.answered_in_round < round.round_id || updated_at == 0 {
        return Err(EvmError::FeedRoundIncomplete {
            feed: feed.to_owned(),
            round_id: round.round_id,
            answered_in_round: round.answered_in_round,
            updated_at,
        });
    }
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let age_secs = now_secs.saturating_sub(updated_at);
    if age_secs > heartbeat.as_secs() {
        return Err(EvmError::FeedStale {
            feed: feed.to_owned(),
            age_secs,
            heartbeat_secs: heartbeat.as_secs(),
        });
    }
    Ok(FeedPrice {
        price: scale_answer(feed, round.answer, decimals)?,
        round_id: round.round_id,
        updated_at,
        decimals,
    })
}

/// `answer / 10^decimals`, exactly. `Decimal` holds 96-bit mantissas and scales up to 28, which
/// covers every real feed (8 or 18 decimals, answers far below 2^96).
pub(crate) fn scale_answer(feed: &str, answer: I256, decimals: u8) -> Result<Decimal, EvmError> {
    let out_of_range = || EvmError::FeedAnswerOutOfRange {
        feed: feed.to_owned(),
        answer: answer.to_string(),
        decimals,
    };
    let mantissa = i128::try_from(answer).map_err(|_| out_of_range())?;
    Decimal::try_from_i128_with_scale(mantissa, u32::from(decimals))
        .map(|d| d.normalize())
        .map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn round(answer: i64, updated_at: u64, round_id: u128, answered_in_round: u128) -> RoundData {
        RoundData {
            round_id,
            answer: I256::try_from(answer).unwrap(),
            started_at: U256::from(updated_at),
            updated_at: U256::from(updated_at),
            answered_in_round,
        }
    }

    fn judge(r: &RoundData) -> Result<FeedPrice, EvmError> {
        judge_round(
            "test",
            r,
            8,
            Duration::from_secs(3600),
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    }

    #[test]
    fn an_eight_decimal_answer_becomes_an_exact_price() {
        let p = judge(&round(108_000_000, NOW - 10, 5, 5)).unwrap();
        assert_eq!(p.price, "1.08".parse::<Decimal>().unwrap());
        assert_eq!(p.price.to_string(), "1.08");
        assert_eq!((p.round_id, p.updated_at, p.decimals), (5, NOW - 10, 8));
        let tiny = judge(&round(1, NOW, 1, 1)).unwrap();
        assert_eq!(tiny.price.to_string(), "0.00000001");
    }

    #[test]
    fn zero_and_negative_answers_are_refused() {
        for answer in [0, -1, -108_000_000] {
            let err = judge(&round(answer, NOW, 1, 1)).unwrap_err();
            assert!(
                matches!(err, EvmError::FeedAnswerNotPositive { .. }),
                "{answer}: {err}"
            );
        }
    }

    #[test]
    fn incomplete_rounds_are_refused() {
        let carried_over = judge(&round(100_000_000, NOW, 7, 6)).unwrap_err();
        assert!(
            matches!(carried_over, EvmError::FeedRoundIncomplete { .. }),
            "{carried_over}"
        );
        let never_updated = judge(&round(100_000_000, 0, 1, 1)).unwrap_err();
        assert!(
            matches!(never_updated, EvmError::FeedRoundIncomplete { .. }),
            "{never_updated}"
        );
    }

    #[test]
    fn an_answer_older_than_the_heartbeat_is_stale_but_one_at_the_limit_is_not() {
        assert!(judge(&round(100_000_000, NOW - 3600, 1, 1)).is_ok());
        let err = judge(&round(100_000_000, NOW - 3601, 1, 1)).unwrap_err();
        assert!(
            matches!(
                err,
                EvmError::FeedStale {
                    age_secs: 3601,
                    heartbeat_secs: 3600,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_update_in_the_future_counts_as_fresh() {
        assert!(judge(&round(100_000_000, NOW + 30, 1, 1)).is_ok());
    }

    #[test]
    fn an_answer_too_large_for_a_decimal_is_refused_not_rounded() {
        let r = RoundData {
            answer: I256::MAX,
            ..round(1, NOW, 1, 1)
        };
        let err = judge(&r).unwrap_err();
        assert!(
            matches!(err, EvmError::FeedAnswerOutOfRange { .. }),
            "{err}"
        );
        let deep = judge_round(
            "test",
            &round(1, NOW, 1, 1),
            40,
            Duration::from_secs(60),
            UNIX_EPOCH + Duration::from_secs(NOW),
        );
        assert!(matches!(deep, Err(EvmError::FeedAnswerOutOfRange { .. })));
    }

    fn status(answer: i64, started_at: u64) -> RoundData {
        RoundData {
            round_id: 3,
            answer: I256::try_from(answer).unwrap(),
            started_at: U256::from(started_at),
            updated_at: U256::from(started_at),
            answered_in_round: 3,
        }
    }

    #[test]
    fn sequencer_rounds_are_judged_by_status_and_grace_period() {
        let grace = Duration::from_secs(3600);
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        type Check = fn(&Result<(), EvmError>) -> bool;
        let cases: [(&str, RoundData, Check); 8] = [
            ("up for long", status(0, NOW - 3601), |r| r.is_ok()),
            ("up exactly the grace period", status(0, NOW - 3600), |r| {
                matches!(
                    r,
                    Err(EvmError::SequencerGracePeriod {
                        elapsed_secs: 3600,
                        grace_secs: 3600,
                        ..
                    })
                )
            }),
            ("just came back", status(0, NOW - 10), |r| {
                matches!(
                    r,
                    Err(EvmError::SequencerGracePeriod {
                        elapsed_secs: 10,
                        ..
                    })
                )
            }),
            ("came back in our future", status(0, NOW + 30), |r| {
                matches!(
                    r,
                    Err(EvmError::SequencerGracePeriod {
                        elapsed_secs: 0,
                        ..
                    })
                )
            }),
            (
                "down",
                status(1, NOW - 86_400),
                |r| matches!(r, Err(EvmError::SequencerDown { since, .. }) if *since == NOW - 86_400),
            ),
            ("never written", status(0, 0), |r| {
                matches!(r, Err(EvmError::SequencerRoundInvalid { .. }))
            }),
            ("down and never written", status(1, 0), |r| {
                matches!(r, Err(EvmError::SequencerRoundInvalid { .. }))
            }),
            ("not a status", status(2, NOW - 86_400), |r| {
                matches!(r, Err(EvmError::SequencerRoundInvalid { .. }))
            }),
        ];
        for (name, round, check) in cases {
            let got = judge_sequencer("seq", &round, grace, now);
            assert!(check(&got), "{name}: {got:?}");
        }
        let huge = RoundData {
            started_at: U256::MAX,
            ..status(0, 1)
        };
        assert!(matches!(
            judge_sequencer("seq", &huge, grace, now),
            Err(EvmError::SequencerRoundInvalid { .. })
        ));
    }
}
