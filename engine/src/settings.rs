//! A merchant's settlement schedule and payment policy (per mode), set through
//! `POST /v1/settings` and stored as JSON.
//!
//! - **Settlement**: `immediate` (each payment settles on chain to the merchant's address as its
//!   last leg) or `batched` (funds collect in Rialto's treasury wallet on the chain and a payout
//!   `po_…` per asset and chain moves them in one transfer, when the held balance reaches
//!   `payout_threshold` or `payout_interval_secs` passed since the last payout).
//! - **Maker-checker**: payouts above `payout_approval_above` wait for a second key.
//! - **Payment policy**: `underpaid_tolerance_percent` (accept an under-payment within it, else
//!   wait for a top-up until expiry (a routed payment: until its quote expires), else
//!   refund), `overpaid` (`keep` or `refund_surplus`),
//!   `late_payment_window_secs` (accept funds arriving that long after expiry if a fresh quote
//!   covers the amount, else refund).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    #[default]
    Immediate,
    Batched,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverpaidPolicy {
    #[default]
    Keep,
    RefundSurplus,
}

/// Upper bound of the under-payment tolerance, in percent.
pub const MAX_TOLERANCE_PERCENT: u32 = 10;
/// Upper bound of the batched payout interval: a year (larger values overflowed the
/// document's int64 and meant "never").
pub const MAX_PAYOUT_INTERVAL_SECS: u64 = 365 * 24 * 3600;
/// Upper bound of the late-payment window: 30 days.
pub const MAX_LATE_WINDOW_SECS: u64 = 30 * 24 * 3600;
/// The largest FX spread a merchant may set: 5 %, far above any market spread, so a typo
/// (5000 for 50) is refused rather than charged to payers.
pub const MAX_FX_SPREAD_BPS: u32 = 500;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    #[serde(default)]
    pub settlement_schedule: Schedule,
    /// Batched: pay out once the held balance of an asset reaches this (whole units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1000.00", pattern = "^(0*[1-9][0-9]{0,11}(\\.[0-9]{1,18})?|0+\\.[0-9]{0,17}[1-9][0-9]{0,17})$")]
    pub payout_threshold: Option<Decimal>,
    /// Batched: pay out any held balance at least this often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub payout_interval_secs: Option<u64>,
    /// Batched: where payouts go, per chain (CAIP-2 or alias → address). Without one, a
    /// payout goes to the merchant's default settlement address when it is on that chain.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub payout_addresses: std::collections::BTreeMap<String, String>,
    /// Payouts above this amount wait for a second key to approve them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "10000.00", pattern = "^(0*[1-9][0-9]{0,11}(\\.[0-9]{1,18})?|0+\\.[0-9]{0,17}[1-9][0-9]{0,17})$")]
    pub payout_approval_above: Option<Decimal>,
    /// An under-payment within this percentage of the amount is accepted (0 to 10).
    #[serde(default)]
    #[schema(value_type = String, example = "1.5", pattern = "^(0*10(\\.0{1,18})?|0*[0-9](\\.[0-9]{1,18})?)$")]
    pub underpaid_tolerance_percent: Decimal,
    #[serde(default)]
    pub overpaid: OverpaidPolicy,
    /// Funds arriving up to this long after expiry are accepted with a fresh quote; later
    /// ones are refunded. 0 refunds every late payment.
    #[serde(default)]
    #[schema(maximum = 2_592_000)]
    pub late_payment_window_secs: u64,
    /// Rialto's FX spread in bps of the mid amount, on intents priced in another currency than
    /// their settlement asset (0 to 500). Charged only where Rialto holds the funds (deposit
    /// addresses of a batched merchant): a direct payment goes to the merchant's address, so
    /// it locks with no spread (docs/money.md, "Fiat pricing and FX locks").
    #[serde(default)]
    #[schema(maximum = 500)]
    pub fx_spread_bps: u32,
}

impl MerchantSettings {
    /// What is wrong with these settings, as (param, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = |d: Option<Decimal>| d.is_none_or(|d| d > Decimal::ZERO);
        if !positive(self.payout_threshold) {
            return Err(("payout_threshold", "must be greater than 0".into()));
        }
        if !positive(self.payout_approval_above) {
            return Err(("payout_approval_above", "must be greater than 0".into()));
        }
        if self.payout_interval_secs == Some(0) {
            return Err(("payout_interval_secs", "must be at least 1".into()));
        }
        if self.payout_interval_secs > Some(MAX_PAYOUT_INTERVAL_SECS) {
            return Err((
                "payout_interval_secs",
                format!("must be at most {MAX_PAYOUT_INTERVAL_SECS} (a year)"),
            ));
        }
        if self.settlement_schedule == Schedule::Batched
            && self.payout_threshold.is_none()
            && self.payout_interval_secs.is_none()
        {
            return Err((
                "settlement_schedule",
                "batched settlement needs payout_threshold or payout_interval_secs".into(),
            ));
        }
        let tolerance = self.underpaid_tolerance_percent;
        if tolerance < Decimal::ZERO || tolerance > Decimal::from(MAX_TOLERANCE_PERCENT) {
            return Err((
                "underpaid_tolerance_percent",
                format!("must be between 0 and {MAX_TOLERANCE_PERCENT}"),
            ));
        }
        if self.fx_spread_bps > MAX_FX_SPREAD_BPS {
            return Err((
                "fx_spread_bps",
                format!("must be at most {MAX_FX_SPREAD_BPS} (5 %)"),
            ));
        }
        if self.late_payment_window_secs > MAX_LATE_WINDOW_SECS {
            return Err((
                "late_payment_window_secs",
                format!("must be at most {MAX_LATE_WINDOW_SECS} (30 days)"),
            ));
        }
        Ok(())
    }

    /// The smallest payment accepted for `amount` under the tolerance.
    pub fn minimum_accepted(&self, amount: Decimal) -> Decimal {
        amount - amount * self.underpaid_tolerance_percent / Decimal::from(100)
    }
}

/// The merchant's settings in `livemode` (defaults when none were set). Stored settings that no
/// longer parse are an error, never silently the defaults: they decide where money goes.
pub async fn load(
    store: &dyn Store,
    merchant: &rialto_core::id::MerchantId,
    livemode: bool,
) -> Result<MerchantSettings, StoreError> {
    let Some(json) = store.merchant_settings(merchant, livemode).await? else {
        return Ok(MerchantSettings::default());
    };
    serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("settings of {merchant}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> MerchantSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn batched_settlement_needs_a_threshold_or_an_interval() {
        let s = parse(r#"{"settlement_schedule":"batched"}"#);
        assert_eq!(s.validate().unwrap_err().0, "settlement_schedule");
        let s = parse(r#"{"settlement_schedule":"batched","payout_threshold":"100"}"#);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn tolerance_is_bounded_and_exact() {
        let s = parse(r#"{"underpaid_tolerance_percent":"11"}"#);
        assert_eq!(s.validate().unwrap_err().0, "underpaid_tolerance_percent");
        let s = parse(r#"{"underpaid_tolerance_percent":"1.5"}"#);
        assert_eq!(
            s.minimum_accepted("25.00".parse().unwrap()).to_string(),
            "24.625"
        );
    }

    #[test]
    fn the_fx_spread_defaults_to_zero_and_is_bounded() {
        assert_eq!(parse("{}").fx_spread_bps, 0);
        let s = parse(r#"{"fx_spread_bps":501}"#);
        assert_eq!(s.validate().unwrap_err().0, "fx_spread_bps");
        assert!(parse(r#"{"fx_spread_bps":50}"#).validate().is_ok());
    }

    #[test]
    fn unknown_fields_and_bad_amounts_are_refused() {
        assert!(serde_json::from_str::<MerchantSettings>(r#"{"payout_thresh":"1"}"#).is_err());
        assert!(serde_json::from_str::<MerchantSettings>(r#"{"payout_threshold":"x"}"#).is_err());
        let s = parse(r#"{"payout_threshold":"0"}"#);
        assert_eq!(s.validate().unwrap_err().0, "payout_threshold");
    }
}
