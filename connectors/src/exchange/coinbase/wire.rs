//! Coinbase's wire format (Advanced Trade `/api/v3/brokerage` and App `/v2`) and its mapping
//! onto domain types. Nothing here leaves the module.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::{ExchangeError, OrderStatus, Venue, WithdrawalStatus};

const VENUE: Venue = Venue::Coinbase;

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseAmount {
    pub value: Decimal,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseAccount {
    pub uuid: String,
    pub currency: String,
    pub available_balance: CoinbaseAmount,
    #[serde(default)]
    pub hold: Option<CoinbaseAmount>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseAccounts {
    pub accounts: Vec<CoinbaseAccount>,
    #[serde(default)]
    pub has_next: bool,
    #[serde(default)]
    pub cursor: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseLevel {
    pub price: Decimal,
    pub size: Decimal,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbasePricebook {
    pub bids: Vec<CoinbaseLevel>,
    pub asks: Vec<CoinbaseLevel>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseProductBook {
    pub pricebook: CoinbasePricebook,
}

#[derive(Debug, Serialize)]
pub(super) struct CoinbaseOrderRequest {
    pub client_order_id: String,
    pub product_id: String,
    pub side: CoinbaseSide,
    pub order_configuration: CoinbaseOrderConfiguration,
}

#[derive(Debug, Serialize)]
pub(super) enum CoinbaseOrderConfiguration {
    #[serde(rename = "market_market_ioc")]
    Market { base_size: String },
    #[serde(rename = "sor_limit_ioc")]
    LimitIoc {
        base_size: String,
        limit_price: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum CoinbaseSide {
    Buy,
    Sell,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrderResponse {
    pub success: bool,
    #[serde(default)]
    pub success_response: Option<CoinbaseOrderSuccess>,
    #[serde(default)]
    pub error_response: Option<CoinbaseOrderFailure>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrderSuccess {
    pub order_id: String,
    pub client_order_id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrderFailure {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_details: String,
    #[serde(default)]
    pub preview_failure_reason: String,
    #[serde(default)]
    pub new_order_failure_reason: String,
}

/// Order states from Advanced Trade's `OrderStatus` enum.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum CoinbaseOrderStatus {
    Pending,
    Open,
    Filled,
    Cancelled,
    Expired,
    Failed,
    UnknownOrderStatus,
    Queued,
    CancelQueued,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrder {
    pub order_id: String,
    pub client_order_id: String,
    pub side: CoinbaseSide,
    pub status: CoinbaseOrderStatus,
    pub filled_size: Decimal,
    pub filled_value: Decimal,
    pub total_fees: Decimal,
}

impl CoinbaseOrder {
    pub fn status(&self) -> OrderStatus {
        match self.status {
            // Coinbase's "unknown" is a state it has not resolved yet: keep polling.
            CoinbaseOrderStatus::Pending
            | CoinbaseOrderStatus::Queued
            | CoinbaseOrderStatus::UnknownOrderStatus => OrderStatus::Pending,
            CoinbaseOrderStatus::Open | CoinbaseOrderStatus::CancelQueued
                if self.filled_size > Decimal::ZERO =>
            {
                OrderStatus::PartiallyFilled
            }
            CoinbaseOrderStatus::Open | CoinbaseOrderStatus::CancelQueued => OrderStatus::Open,
            CoinbaseOrderStatus::Filled => OrderStatus::Filled,
            CoinbaseOrderStatus::Cancelled => OrderStatus::Canceled,
            CoinbaseOrderStatus::Expired => OrderStatus::Expired,
            CoinbaseOrderStatus::Failed => OrderStatus::Rejected,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrderEnvelope {
    pub order: CoinbaseOrder,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseOrderList {
    pub orders: Vec<CoinbaseOrder>,
}

/// Advanced Trade's error body on non-2xx answers.
#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseBrokerageError {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub message: String,
}

/// The App v2 API's error body: `{"errors": [{"id": "...", "message": "..."}]}`.
#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseV2Errors {
    pub errors: Vec<CoinbaseV2Error>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseV2Error {
    pub id: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseV2Data<T> {
    pub data: T,
}

/// `GET /v2/user`: the fields read of the current user.
#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseUser {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct CoinbaseSendRequest {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub to: String,
    pub amount: String,
    pub currency: String,
    pub network: String,
    pub idem: String,
}

/// Transaction states from the App v2 "Transactions" resource.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum CoinbaseTransactionStatus {
    Pending,
    Completed,
    Failed,
    Expired,
    Canceled,
    WaitingForSignature,
    WaitingForClearing,
}

impl CoinbaseTransactionStatus {
    pub fn to_domain(self) -> WithdrawalStatus {
        match self {
            Self::WaitingForSignature | Self::WaitingForClearing => WithdrawalStatus::Pending,
            Self::Pending => WithdrawalStatus::Processing,
            Self::Completed => WithdrawalStatus::Completed,
            Self::Failed | Self::Expired => WithdrawalStatus::Failed,
            Self::Canceled => WithdrawalStatus::Canceled,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseMoney {
    pub amount: Decimal,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseNetworkInfo {
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub transaction_fee: Option<CoinbaseMoney>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseTransaction {
    pub id: String,
    pub status: CoinbaseTransactionStatus,
    pub amount: CoinbaseMoney,
    #[serde(default)]
    pub idem: Option<String>,
    #[serde(default)]
    pub network: Option<CoinbaseNetworkInfo>,
    #[serde(default)]
    pub to: Option<CoinbaseTo>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseTo {
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseAddress {
    pub address: String,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub destination_tag: Option<String>,
}

/// Maps an order failure reason (Advanced Trade `NewOrderFailureReason` /
/// `PreviewFailureReason`) to a typed error. Reasons are open-ended strings, not statuses.
pub(super) fn map_order_failure(f: &CoinbaseOrderFailure) -> ExchangeError {
    let reason = [
        &f.new_order_failure_reason,
        &f.preview_failure_reason,
        &f.error,
    ]
    .into_iter()
    .find(|r| !r.is_empty() && !r.starts_with("UNKNOWN"))
    .cloned()
    .unwrap_or_default();
    let message = format!("{reason}: {} {}", f.message, f.error_details)
        .trim()
        .to_owned();
    typed(&reason, message)
}

/// Maps a brokerage or v2 error id/text to a typed error.
pub(super) fn typed(reason: &str, message: String) -> ExchangeError {
    let r = reason.to_ascii_uppercase();
    let m = message.to_ascii_lowercase();
    if r.contains("INSUFFICIENT_FUND")
        || m.contains("insufficient")
        || m.contains("don't have that much")
    {
        ExchangeError::InsufficientFunds {
            venue: VENUE,
            message,
        }
    } else if r.contains("TOO_SMALL") || r.contains("BELOW_MIN") || m.contains("below the minimum")
    {
        ExchangeError::BelowMinimum {
            venue: VENUE,
            message,
        }
    } else if r.contains("INVALID_PRODUCT_ID")
        || r.contains("UNKNOWN_PRODUCT")
        || r == "NOT_FOUND" && m.contains("product")
    {
        ExchangeError::InvalidSymbol {
            venue: VENUE,
            message,
        }
    } else if m.contains("allowlist") || m.contains("whitelist") || m.contains("address book") {
        ExchangeError::AddressNotWhitelisted {
            venue: VENUE,
            message,
        }
    } else if r == "RATE_LIMIT_EXCEEDED" {
        ExchangeError::RateLimited {
            venue: VENUE,
            retry_after: None,
        }
    } else if r == "UNAUTHORIZED"
        || r == "AUTHENTICATION_ERROR"
        || r == "INVALID_TOKEN"
        || r == "PERMISSION_DENIED"
    {
        ExchangeError::Auth {
            venue: VENUE,
            message,
        }
    } else {
        ExchangeError::Rejected {
            venue: VENUE,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coinbase_failure_reasons_map_to_typed_errors() {
        let f = |new: &str, preview: &str| CoinbaseOrderFailure {
            error: "UNKNOWN_FAILURE_REASON".into(),
            message: "m".into(),
            error_details: String::new(),
            preview_failure_reason: preview.into(),
            new_order_failure_reason: new.into(),
        };
        assert!(matches!(
            map_order_failure(&f("INSUFFICIENT_FUND", "")),
            ExchangeError::InsufficientFunds { .. }
        ));
        assert!(matches!(
            map_order_failure(&f(
                "UNKNOWN_FAILURE_REASON",
                "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
            )),
            ExchangeError::BelowMinimum { .. }
        ));
        assert!(matches!(
            map_order_failure(&f("INVALID_PRODUCT_ID", "")),
            ExchangeError::InvalidSymbol { .. }
        ));
        assert!(matches!(
            typed(
                "validation_error",
                "Address is not in your allowlist".into()
            ),
            ExchangeError::AddressNotWhitelisted { .. }
        ));
    }

    #[test]
    fn an_order_status_the_venue_adds_later_is_refused_not_guessed() {
        assert!(
            serde_json::from_str::<CoinbaseOrderStatus>(r#""NEW_STATUS_FROM_THE_FUTURE""#).is_err()
        );
    }
}

/// `GET /api/v3/brokerage/key_permissions` (fields absent read as false).
#[derive(Debug, Deserialize)]
pub(super) struct CoinbaseKeyPermissions {
    #[serde(default)]
    pub can_view: bool,
    #[serde(default)]
    pub can_trade: bool,
    #[serde(default)]
    pub can_transfer: bool,
}
