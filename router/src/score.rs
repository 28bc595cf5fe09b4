//! Scoring: one number per route, lower is better, from cost, time and success probability.
//!
//! Policy (all terms in basis points of the merchant amount, so they add up):
//!
//! ```text
//! score = cost_bps
//!       + expected_seconds / 60 · bps_per_minute
//!       + (1 − success_probability) · failure_penalty_bps
//! ```
//!
//! - `cost_bps` is what the payer pays beyond the merchant amount (fees, spread, rounding,
//!   gas), valued in USD at oracle prices.
//! - Time is charged linearly: by default 0.5 bps per expected minute, so a 20-minute
//!   withdrawal must save 10 bps to beat an instant swap.
//! - Failure is charged as the expected cost of falling back: by default a route that fails
//!   one time in ten pays 0.1 × 200 = 20 bps.
//!
//! Ties (equal scores) keep the search's order: the cheaper route was found first.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorePolicy {
    pub bps_per_minute: Decimal,
    pub failure_penalty_bps: Decimal,
}

impl Default for ScorePolicy {
    fn default() -> Self {
        Self {
            bps_per_minute: Decimal::new(5, 1),
            failure_penalty_bps: Decimal::from(200),
        }
    }
}

/// What the policy looks at for one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreInputs {
    pub cost_bps: Decimal,
    pub expected_seconds: u64,
    /// In `[0, 1]`; values outside are clamped.
    pub success_probability: Decimal,
}

/// The route's score under `policy`; lower is better. Pure.
pub fn score(inputs: &ScoreInputs, policy: &ScorePolicy) -> Decimal {
    let p = inputs
        .success_probability
        .clamp(Decimal::ZERO, Decimal::ONE);
    let minutes = Decimal::from(inputs.expected_seconds) / Decimal::from(60);
    inputs.cost_bps
        + minutes * policy.bps_per_minute
        + (Decimal::ONE - p) * policy.failure_penalty_bps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal literal")
    }

    #[test]
    fn the_score_follows_the_documented_policy_row_by_row() {
        // cost_bps, seconds, probability, expected score under the default policy
        let table = [
            ("0", 0, "1", "0"),
            ("10", 0, "1", "10"),
            ("0", 60, "1", "0.5"),
            ("0", 1200, "1", "10"),
            ("0", 0, "0.9", "20"),
            ("5", 120, "0.95", "16"),
            ("-2", 0, "1", "-2"),
            ("0", 0, "1.5", "0"),
            ("0", 0, "-1", "200"),
        ];
        for (cost, secs, p, expected) in table {
            let got = score(
                &ScoreInputs {
                    cost_bps: d(cost),
                    expected_seconds: secs,
                    success_probability: d(p),
                },
                &ScorePolicy::default(),
            );
            assert_eq!(got, d(expected), "cost {cost} secs {secs} p {p}");
        }
    }

    #[test]
    fn a_slow_cheap_route_loses_to_a_fast_one_only_when_time_is_worth_more_than_the_saving() {
        let slow = ScoreInputs {
            cost_bps: d("2"),
            expected_seconds: 1800,
            success_probability: Decimal::ONE,
        };
        let fast = ScoreInputs {
            cost_bps: d("12"),
            expected_seconds: 30,
            success_probability: Decimal::ONE,
        };
        let default = ScorePolicy::default();
        assert!(score(&fast, &default) < score(&slow, &default));
        let patient = ScorePolicy {
            bps_per_minute: d("0.1"),
            ..default
        };
        assert!(score(&slow, &patient) < score(&fast, &patient));
    }

    #[test]
    fn an_unreliable_route_pays_its_expected_fallback_cost() {
        let policy = ScorePolicy::default();
        let reliable = ScoreInputs {
            cost_bps: d("8"),
            expected_seconds: 0,
            success_probability: d("0.99"),
        };
        let flaky = ScoreInputs {
            cost_bps: d("3"),
            expected_seconds: 0,
            success_probability: d("0.90"),
        };
        assert_eq!(score(&reliable, &policy), d("10"));
        assert_eq!(score(&flaky, &policy), d("23"));
    }
}
