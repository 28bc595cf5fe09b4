//! How old the sanctions lists are, against `compliance.warn_after_secs` and
//! `compliance.refuse_after_secs`. The age runs from SOURCE's `fetched_at_ms`, which only
//! `rialto compliance refresh` writes; lists of unknown age (the snapshot compiled into the
//! binary, a folder copied by hand) count as older than any configured limit, because nothing
//! shows they are not.
//!
//! What each state does: `Warn` is a log line and `rialto_compliance_lists_stale` = 1;
//! `Refuse` also refuses new live payments (`503 compliance_lists_stale`). Sandbox payments
//! are never refused: they move devnet coins, and a developer's machine should not need a
//! download to test. Funds that already arrived are still screened, against the lists in force.

use serde::Serialize;

use crate::error::{EngineError, ErrorCode};

/// Where the lists' age stands against the configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFreshness {
    Fresh,
    Warn,
    Refuse,
}

impl ListFreshness {
    /// The value of `rialto_compliance_lists_stale`.
    pub fn gauge(self) -> f64 {
        match self {
            ListFreshness::Fresh => 0.0,
            ListFreshness::Warn => 1.0,
            ListFreshness::Refuse => 2.0,
        }
    }
}

/// The lists' age and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListAge {
    pub freshness: ListFreshness,
    /// Seconds since the lists were fetched; `None` when unknown.
    pub age_secs: Option<u64>,
}

/// Judges lists fetched at `fetched_at_ms` at `now_ms`. A limit of 0 is off. A fetch time in
/// the future (a clock set back) counts as age 0.
pub fn assess(
    fetched_at_ms: Option<i64>,
    now_ms: i64,
    warn_after_secs: u64,
    refuse_after_secs: u64,
) -> ListAge {
    let age_secs =
        fetched_at_ms.map(|at| u64::try_from(now_ms.saturating_sub(at).max(0) / 1000).unwrap_or(0));
    let over = |limit: u64| limit > 0 && age_secs.is_none_or(|age| age > limit);
    let freshness = if over(refuse_after_secs) {
        ListFreshness::Refuse
    } else if over(warn_after_secs) {
        ListFreshness::Warn
    } else {
        ListFreshness::Fresh
    };
    ListAge {
        freshness,
        age_secs,
    }
}

/// Sets `rialto_compliance_lists_stale` and `rialto_compliance_lists_age_seconds` (the latter
/// only when the age is known).
pub fn record(age: &ListAge) {
    metrics::gauge!("rialto_compliance_lists_stale").set(age.freshness.gauge());
    if let Some(secs) = age.age_secs {
        metrics::gauge!("rialto_compliance_lists_age_seconds").set(secs as f64);
    }
}

/// The refusal of a live payment while the lists are too old. Neutral words: the payer or
/// merchant learns that payments wait, not which list or why in detail.
pub fn stale_error() -> EngineError {
    EngineError::new(
        ErrorCode::ComplianceListsStale,
        "Live payments are paused until the screening lists are refreshed. Retry later; \
         sandbox payments are not affected.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn age_is_judged_against_both_limits_and_an_unknown_age_is_the_oldest() {
        let now = 100 * DAY_MS;
        let judge = |at| assess(at, now, 2 * 86_400, 7 * 86_400).freshness;
        assert_eq!(judge(Some(now - DAY_MS)), ListFreshness::Fresh);
        assert_eq!(judge(Some(now - 3 * DAY_MS)), ListFreshness::Warn);
        assert_eq!(judge(Some(now - 8 * DAY_MS)), ListFreshness::Refuse);
        assert_eq!(judge(None), ListFreshness::Refuse);
        assert_eq!(judge(Some(now + DAY_MS)), ListFreshness::Fresh);
        assert_eq!(
            assess(Some(now - 3 * DAY_MS), now, 0, 0).freshness,
            ListFreshness::Fresh
        );
        assert_eq!(assess(None, now, 60, 0).freshness, ListFreshness::Warn);
        assert_eq!(
            assess(Some(now - 3 * DAY_MS), now, 0, 0).age_secs,
            Some(3 * 86_400)
        );
    }
}
