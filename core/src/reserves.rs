//! Proof of Reserve as a guard: whether a token's reported reserves cover its on-chain supply,
//! from a report fresh enough to believe, and Chainlink's secure-mint rule (a mint may only take
//! the supply up to the reserves). Pure: the `evm` crate reads the feed and `totalSupply`.
//!
//! Reserves are compared in the token's own unit (a USD deposit token's or USDC's feed reports
//! USD, EURC's reports EUR), as Chainlink's Proof of Reserve feeds do for fiat-backed tokens.

use rust_decimal::Decimal;

use crate::money::{Money, MoneyError};

/// One reading of a reserve feed: `answer / 10^decimals` and when the round was last updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveReport {
    /// Whole units of the token's currency, exact.
    pub reserves: Decimal,
    /// Unix seconds of the round's `updatedAt`; 0 for a round never written.
    pub updated_at: u64,
}

/// The guard for one asset: how old a report may be before it no longer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PorGuard {
    /// The feed's heartbeat: a healthy feed posts at least this often.
    pub heartbeat_secs: u64,
}

/// Why an asset must halt (or a mint be refused). Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveBreach {
    #[error("the reserve report is stale: updated {age_secs} s ago, heartbeat {heartbeat_secs} s")]
    Stale {
        updated_at: u64,
        age_secs: u64,
        heartbeat_secs: u64,
    },
    #[error("reported reserves {reserves} do not cover the supply {supply}")]
    Undercollateralized { reserves: Decimal, supply: Decimal },
    #[error("minting {mint} would take the supply to {after}, above the reserves {reserves}")]
    MintExceedsReserves {
        reserves: Decimal,
        supply: Decimal,
        mint: Decimal,
        after: Decimal,
    },
    /// The supply and the mint are not amounts of one currency, or their sum overflows.
    #[error("the mint cannot be added to the supply: {0}")]
    Amount(#[from] MoneyError),
}

impl ReserveBreach {
    /// Stable snake_case code, for API errors, events and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Stale { .. } => "reserves_stale",
            Self::Undercollateralized { .. } => "reserves_breached",
            Self::MintExceedsReserves { .. } => "secure_mint_refused",
            Self::Amount(_) => "secure_mint_invalid_amount",
        }
    }
}

impl PorGuard {
    /// Fresh (no older than the heartbeat at `now_secs`) and reserves ≥ supply. A report from
    /// the future (clock skew) counts as just written; one never written (0) is stale.
    pub fn check(
        &self,
        report: &ReserveReport,
        supply: &Money,
        now_secs: u64,
    ) -> Result<(), ReserveBreach> {
        self.check_fresh(report, now_secs)?;
        if report.reserves < supply.amount() {
            return Err(ReserveBreach::Undercollateralized {
                reserves: report.reserves,
                supply: supply.amount(),
            });
        }
        Ok(())
    }

    /// Chainlink's secure-mint rule: fresh, and supply + mint ≤ reserves. Checked before a mint
    /// is requested from the issuer, so an over-mint is never asked for.
    pub fn check_mint(
        &self,
        report: &ReserveReport,
        supply: &Money,
        mint: &Money,
        now_secs: u64,
    ) -> Result<(), ReserveBreach> {
        self.check_fresh(report, now_secs)?;
        let after = supply.checked_add(mint)?;
        if after.amount() > report.reserves {
            return Err(ReserveBreach::MintExceedsReserves {
                reserves: report.reserves,
                supply: supply.amount(),
                mint: mint.amount(),
                after: after.amount(),
            });
        }
        Ok(())
    }

    fn check_fresh(&self, report: &ReserveReport, now_secs: u64) -> Result<(), ReserveBreach> {
        let age_secs = now_secs.saturating_sub(report.updated_at);
        if report.updated_at == 0 || age_secs > self.heartbeat_secs {
            return Err(ReserveBreach::Stale {
                updated_at: report.updated_at,
                age_secs,
                heartbeat_secs: self.heartbeat_secs,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, CurrencyKind};

    fn token(amount: &str) -> Money {
        let currency = Currency::new("JPMD-DEV", 6, CurrencyKind::DepositToken);
        Money::parse(amount, currency).unwrap()
    }

    fn report(reserves: &str, updated_at: u64) -> ReserveReport {
        ReserveReport {
            reserves: reserves.parse().unwrap(),
            updated_at,
        }
    }

    const GUARD: PorGuard = PorGuard {
        heartbeat_secs: 3600,
    };

    #[test]
    fn reserves_exactly_equal_to_the_supply_pass_and_one_base_unit_less_is_a_breach() {
        assert_eq!(
            GUARD.check(&report("100", 1000), &token("100"), 1000),
            Ok(())
        );
        let breach = GUARD
            .check(&report("99.999999", 1000), &token("100"), 1000)
            .unwrap_err();
        assert_eq!(breach.code(), "reserves_breached");
    }

    #[test]
    fn a_report_older_than_the_heartbeat_or_never_written_is_stale() {
        assert_eq!(GUARD.check(&report("500", 1000), &token("1"), 4600), Ok(()));
        let stale = GUARD
            .check(&report("500", 1000), &token("1"), 4601)
            .unwrap_err();
        assert_eq!(
            stale,
            ReserveBreach::Stale {
                updated_at: 1000,
                age_secs: 3601,
                heartbeat_secs: 3600
            }
        );
        let never = GUARD.check(&report("500", 0), &token("1"), 10).unwrap_err();
        assert_eq!(never.code(), "reserves_stale");
    }

    #[test]
    fn secure_mint_allows_up_to_the_reserves_and_refuses_one_base_unit_more() {
        let r = report("1000", 50);
        assert_eq!(
            GUARD.check_mint(&r, &token("900"), &token("100"), 60),
            Ok(())
        );
        let refused = GUARD
            .check_mint(&r, &token("900"), &token("100.000001"), 60)
            .unwrap_err();
        assert_eq!(refused.code(), "secure_mint_refused");
        let usd = Money::parse("1", Currency::usd()).unwrap();
        let mixed = GUARD.check_mint(&r, &token("1"), &usd, 60).unwrap_err();
        assert_eq!(mixed.code(), "secure_mint_invalid_amount");
    }
}
