//! Kraken's wire format and its mapping onto domain types. Nothing here leaves the module.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::exchange::{AssetCode, ExchangeError, OrderStatus, Venue, WithdrawalStatus};

const VENUE: Venue = Venue::Kraken;

/// Every Kraken answer: `error` is a list of `"<severity><category>:<message>"` strings and
/// `result` is present on success.
#[derive(Debug, Deserialize)]
pub(super) struct KrakenEnvelope<T> {
    #[serde(default)]
    pub error: Vec<String>,
    pub result: Option<T>,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenBook {
    pub asks: Vec<KrakenLevel>,
    pub bids: Vec<KrakenLevel>,
}

/// `[price, volume, timestamp]`: the timestamp is an integer, so the tuple is untyped after
/// the first two fields.
#[derive(Debug, Deserialize)]
pub(super) struct KrakenLevel(pub Decimal, pub Decimal, serde::de::IgnoredAny);

#[derive(Debug, Deserialize)]
pub(super) struct KrakenAddOrderResponse {
    pub txid: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenOrderDescr {
    #[serde(rename = "type")]
    pub side: KrakenSide,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum KrakenSide {
    Buy,
    Sell,
}

/// Order states from Kraken's `QueryOrders` / `ClosedOrders` documentation.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum KrakenOrderStatus {
    Pending,
    Open,
    Closed,
    Canceled,
    Expired,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenOrderInfo {
    #[serde(default)]
    pub cl_ord_id: Option<String>,
    pub status: KrakenOrderStatus,
    pub descr: KrakenOrderDescr,
    pub vol: Decimal,
    pub vol_exec: Decimal,
    pub cost: Decimal,
    pub fee: Decimal,
}

impl KrakenOrderInfo {
    /// Kraken has no "partially filled" state: an open order with some volume executed is one.
    pub fn status(&self) -> OrderStatus {
        match self.status {
            KrakenOrderStatus::Pending => OrderStatus::Pending,
            KrakenOrderStatus::Open if self.vol_exec > Decimal::ZERO => {
                OrderStatus::PartiallyFilled
            }
            KrakenOrderStatus::Open => OrderStatus::Open,
            KrakenOrderStatus::Closed if self.vol_exec >= self.vol => OrderStatus::Filled,
            // A closed IOC that filled less than its volume had its remainder canceled.
            KrakenOrderStatus::Closed => OrderStatus::Canceled,
            KrakenOrderStatus::Canceled => OrderStatus::Canceled,
            KrakenOrderStatus::Expired => OrderStatus::Expired,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenOpenOrders {
    pub open: BTreeMap<String, KrakenOrderInfo>,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenClosedOrders {
    pub closed: BTreeMap<String, KrakenOrderInfo>,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenWithdrawMethod {
    pub method: String,
    #[serde(default)]
    pub network: Option<String>,
    pub minimum: Decimal,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenWithdrawInfo {
    pub fee: Decimal,
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenWithdrawResponse {
    pub refid: String,
}

/// Withdrawal states from Kraken's `WithdrawStatus` documentation (IFEX states).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum KrakenWithdrawState {
    Initial,
    Pending,
    Settled,
    Success,
    Failure,
}

/// The `status-prop` refinements Kraken documents for withdrawals.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum KrakenWithdrawProp {
    CancelPending,
    Canceled,
    CancelDenied,
    Return,
    Onhold,
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenWithdrawal {
    pub refid: String,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub info: Option<String>,
    pub amount: Decimal,
    #[serde(default)]
    pub fee: Option<Decimal>,
    #[serde(default)]
    pub txid: Option<String>,
    /// Unix seconds, a JSON number with a fraction. A timestamp, not money: read as a number and
    /// converted through its decimal text (see [`KrakenWithdrawal::time_secs`]).
    pub time: serde_json::Number,
    pub status: KrakenWithdrawState,
    #[serde(rename = "status-prop", default)]
    pub status_prop: Option<KrakenWithdrawProp>,
}

impl KrakenWithdrawal {
    /// Whole seconds of `time`; `None` if Kraken sent something that is not a timestamp.
    pub fn time_secs(&self) -> Option<u64> {
        let text = self.time.to_string();
        text.split('.').next()?.parse().ok()
    }

    pub fn status(&self) -> WithdrawalStatus {
        let base = match self.status {
            KrakenWithdrawState::Initial | KrakenWithdrawState::Pending => {
                WithdrawalStatus::Pending
            }
            KrakenWithdrawState::Settled => WithdrawalStatus::Processing,
            KrakenWithdrawState::Success => WithdrawalStatus::Completed,
            KrakenWithdrawState::Failure => WithdrawalStatus::Failed,
        };
        match self.status_prop {
            None => base,
            Some(KrakenWithdrawProp::Canceled) => WithdrawalStatus::Canceled,
            // A return sends the funds back: the withdrawal did not reach its address.
            Some(KrakenWithdrawProp::Return) => WithdrawalStatus::Failed,
            Some(
                KrakenWithdrawProp::CancelPending
                | KrakenWithdrawProp::CancelDenied
                | KrakenWithdrawProp::Onhold,
            ) => base,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct KrakenDepositAddress {
    pub address: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub memo: Option<String>,
}

/// Kraken's asset spelling for a request (`BTC` is `XBT`).
pub(super) fn to_kraken_asset(asset: &AssetCode) -> String {
    match asset.as_str() {
        "BTC" => "XBT".to_owned(),
        other => other.to_owned(),
    }
}

/// Rialto's spelling of a balance key. Kraken prefixes legacy assets with X (crypto) or Z
/// (fiat) and marks staked or earning balances with a suffix (`.S`, `.M`, `.F`, `.B`), which
/// are not spendable and are skipped (`None`).
pub(super) fn from_kraken_asset(code: &str) -> Option<AssetCode> {
    if code.contains('.') {
        return None;
    }
    let plain = match code {
        "XXBT" | "XBT" => "BTC",
        "XETH" => "ETH",
        "ZUSD" => "USD",
        "ZEUR" => "EUR",
        "ZGBP" => "GBP",
        "XXDG" => "DOGE",
        other => other,
    };
    AssetCode::new(plain)
}

/// Turns a non-empty Kraken error list into a typed error. Kraken's documented error strings
/// ("API Error Messages", support.kraken.com) are matched on their category and text; `effect`
/// says whether an unrecognised failure of a money-moving call leaves its outcome unknown.
pub(super) fn map_errors(errors: &[String], operation: Option<&'static str>) -> ExchangeError {
    let message = errors.join("; ");
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    if has("Rate limit exceeded") || has("Throttled") {
        return ExchangeError::RateLimited {
            venue: VENUE,
            retry_after: None,
        };
    }
    if has("EService:Unavailable") || has("EService:Busy") || has("EGeneral:Temporary lockout") {
        return ExchangeError::Unavailable {
            venue: VENUE,
            message,
        };
    }
    if has("EService:Deadline elapsed") || has("EGeneral:Internal error") {
        return match operation {
            Some(operation) => ExchangeError::Unknown {
                venue: VENUE,
                operation,
                message,
            },
            None => ExchangeError::Unavailable {
                venue: VENUE,
                message,
            },
        };
    }
    if has("Insufficient funds") {
        return ExchangeError::InsufficientFunds {
            venue: VENUE,
            message,
        };
    }
    if has("minimum not met") || has("EFunding:Too small") {
        return ExchangeError::BelowMinimum {
            venue: VENUE,
            message,
        };
    }
    if has("EFunding:Unknown withdraw key") || has("EFunding:Invalid address") {
        return ExchangeError::AddressNotWhitelisted {
            venue: VENUE,
            message,
        };
    }
    if has("Unknown asset pair") || has("EQuery:Unknown asset") || has("EGeneral:Unknown method") {
        return ExchangeError::InvalidSymbol {
            venue: VENUE,
            message,
        };
    }
    if has("EAPI:Invalid key")
        || has("EAPI:Invalid signature")
        || has("EAPI:Invalid nonce")
        || has("EGeneral:Permission denied")
    {
        return ExchangeError::Auth {
            venue: VENUE,
            message,
        };
    }
    ExchangeError::Rejected {
        venue: VENUE,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(status: KrakenOrderStatus, vol: &str, exec: &str) -> KrakenOrderInfo {
        KrakenOrderInfo {
            cl_ord_id: None,
            status,
            descr: KrakenOrderDescr {
                side: KrakenSide::Buy,
            },
            vol: vol.parse().expect("vol"),
            vol_exec: exec.parse().expect("exec"),
            cost: Decimal::ZERO,
            fee: Decimal::ZERO,
        }
    }

    #[test]
    fn a_closed_order_is_filled_only_when_its_whole_volume_executed() {
        assert_eq!(
            info(KrakenOrderStatus::Closed, "1", "1").status(),
            OrderStatus::Filled
        );
        assert_eq!(
            info(KrakenOrderStatus::Closed, "1", "0.4").status(),
            OrderStatus::Canceled
        );
        assert_eq!(
            info(KrakenOrderStatus::Open, "1", "0.4").status(),
            OrderStatus::PartiallyFilled
        );
    }

    #[test]
    fn kraken_error_strings_map_to_typed_errors() {
        let e = |s: &str| map_errors(&[s.to_owned()], None);
        assert!(matches!(
            e("EOrder:Insufficient funds"),
            ExchangeError::InsufficientFunds { .. }
        ));
        assert!(matches!(
            e("EOrder:Order minimum not met"),
            ExchangeError::BelowMinimum { .. }
        ));
        assert!(matches!(
            e("EFunding:Unknown withdraw key"),
            ExchangeError::AddressNotWhitelisted { .. }
        ));
        assert!(matches!(
            e("EQuery:Unknown asset pair"),
            ExchangeError::InvalidSymbol { .. }
        ));
        assert!(matches!(
            e("EAPI:Rate limit exceeded"),
            ExchangeError::RateLimited { .. }
        ));
        assert!(matches!(
            e("EService:Unavailable"),
            ExchangeError::Unavailable { .. }
        ));
        assert!(matches!(
            e("EAPI:Invalid nonce"),
            ExchangeError::Auth { .. }
        ));
        let unknown = map_errors(&["EService:Deadline elapsed".into()], Some("order"));
        assert!(unknown.is_unknown_outcome());
    }

    #[test]
    fn staked_balances_are_skipped_and_legacy_names_translated() {
        assert_eq!(from_kraken_asset("XXBT"), AssetCode::new("BTC"));
        assert_eq!(from_kraken_asset("ZUSD"), AssetCode::new("USD"));
        assert_eq!(from_kraken_asset("USDC"), AssetCode::new("USDC"));
        assert_eq!(from_kraken_asset("ETH.S"), None);
    }

    #[test]
    fn an_order_status_the_venue_adds_later_is_refused_not_guessed() {
        assert!(serde_json::from_str::<KrakenOrderStatus>(r#""suspended""#).is_err());
    }
}
