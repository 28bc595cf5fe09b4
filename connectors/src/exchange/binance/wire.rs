//! Binance's wire format and its mapping onto domain types. Nothing here leaves the module.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::exchange::{ExchangeError, OrderStatus, Venue, WithdrawalStatus};

const VENUE: Venue = Venue::Binance;

/// Binance's error body: `{"code": -2010, "msg": "..."}`.
#[derive(Debug, Deserialize)]
pub(super) struct BinanceError {
    pub code: i64,
    pub msg: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct BinanceAccount {
    pub balances: Vec<BinanceBalance>,
}

#[derive(Debug, Deserialize)]
pub(super) struct BinanceBalance {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

#[derive(Debug, Deserialize)]
pub(super) struct BinanceDepth {
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
}

/// Order states from Binance's "ENUM Definitions" (spot).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum BinanceOrderStatus {
    New,
    PendingNew,
    PartiallyFilled,
    Filled,
    Canceled,
    PendingCancel,
    Rejected,
    Expired,
    ExpiredInMatch,
}

impl BinanceOrderStatus {
    pub fn to_domain(self) -> OrderStatus {
        match self {
            Self::PendingNew => OrderStatus::Pending,
            Self::New => OrderStatus::Open,
            Self::PartiallyFilled => OrderStatus::PartiallyFilled,
            Self::Filled => OrderStatus::Filled,
            // PENDING_CANCEL is documented as unused; treat it as on its way to canceled.
            Self::Canceled | Self::PendingCancel => OrderStatus::Canceled,
            Self::Rejected => OrderStatus::Rejected,
            // An IOC remainder expires; so does an order canceled by self-trade prevention.
            Self::Expired | Self::ExpiredInMatch => OrderStatus::Expired,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum BinanceSide {
    Buy,
    Sell,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceOrderResponse {
    pub order_id: u64,
    pub client_order_id: String,
    pub status: BinanceOrderStatus,
    pub side: BinanceSide,
    pub executed_qty: Decimal,
    pub cummulative_quote_qty: Decimal,
    #[serde(default)]
    pub fills: Vec<BinanceFill>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceFill {
    pub commission: Decimal,
    pub commission_asset: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceCoinConfig {
    pub coin: String,
    pub network_list: Vec<BinanceNetworkConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceNetworkConfig {
    pub network: String,
    pub withdraw_fee: Decimal,
    pub withdraw_min: Decimal,
    pub withdraw_enable: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct BinanceWithdrawApplied {
    pub id: String,
}

/// Withdrawal states from `GET /sapi/v1/capital/withdraw/history`, sent as integers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "u8")]
pub(super) enum BinanceWithdrawState {
    EmailSent,
    Cancelled,
    AwaitingApproval,
    Rejected,
    Processing,
    Failure,
    Completed,
}

impl TryFrom<u8> for BinanceWithdrawState {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            0 => Self::EmailSent,
            1 => Self::Cancelled,
            2 => Self::AwaitingApproval,
            3 => Self::Rejected,
            4 => Self::Processing,
            5 => Self::Failure,
            6 => Self::Completed,
            other => return Err(format!("unknown Binance withdrawal status {other}")),
        })
    }
}

impl BinanceWithdrawState {
    pub fn to_domain(self) -> WithdrawalStatus {
        match self {
            Self::EmailSent | Self::AwaitingApproval => WithdrawalStatus::Pending,
            Self::Processing => WithdrawalStatus::Processing,
            Self::Completed => WithdrawalStatus::Completed,
            Self::Rejected | Self::Failure => WithdrawalStatus::Failed,
            Self::Cancelled => WithdrawalStatus::Canceled,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceWithdrawRecord {
    pub id: String,
    pub amount: Decimal,
    pub transaction_fee: Decimal,
    pub address: String,
    #[serde(default)]
    pub withdraw_order_id: Option<String>,
    pub network: String,
    pub status: BinanceWithdrawState,
    #[serde(default)]
    pub tx_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct BinanceDepositAddress {
    pub address: String,
    #[serde(default)]
    pub tag: String,
}

/// Binance's documented error codes ("Error Codes for Binance", spot) to typed errors.
/// `operation` is set for money-moving requests, where -1006/-1007 mean "execution status
/// unknown" in Binance's own words.
pub(super) fn map_error(error: &BinanceError, operation: Option<&'static str>) -> ExchangeError {
    let message = format!("{} ({})", error.msg, error.code);
    let msg = error.msg.to_ascii_lowercase();
    match error.code {
        -1003 | -1015 => ExchangeError::RateLimited {
            venue: VENUE,
            retry_after: None,
        },
        -1006 | -1007 => match operation {
            Some(operation) => ExchangeError::Unknown {
                venue: VENUE,
                operation,
                message,
            },
            None => ExchangeError::Unavailable {
                venue: VENUE,
                message,
            },
        },
        -1000 | -1001 | -1008 | -1016 => ExchangeError::Unavailable {
            venue: VENUE,
            message,
        },
        -1021 | -1022 | -2014 | -2015 => ExchangeError::Auth {
            venue: VENUE,
            message,
        },
        -1121 => ExchangeError::InvalidSymbol {
            venue: VENUE,
            message,
        },
        // Capital (withdrawal) errors share a few codes and differ in text; the text is what
        // Binance documents per case.
        _ if msg.contains("insufficient") => ExchangeError::InsufficientFunds {
            venue: VENUE,
            message,
        },
        _ if msg.contains("whitelist") => ExchangeError::AddressNotWhitelisted {
            venue: VENUE,
            message,
        },
        -1013 if msg.contains("notional") || msg.contains("lot_size") => {
            ExchangeError::BelowMinimum {
                venue: VENUE,
                message,
            }
        }
        _ if msg.contains("minimum") || msg.contains("too small") => ExchangeError::BelowMinimum {
            venue: VENUE,
            message,
        },
        _ => ExchangeError::Rejected {
            venue: VENUE,
            message,
        },
    }
}

/// `-2013 Order does not exist.`: the answer to a lookup of an order Binance never received.
pub(super) const NO_SUCH_ORDER: i64 = -2013;

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, msg: &str) -> ExchangeError {
        map_error(
            &BinanceError {
                code,
                msg: msg.to_owned(),
            },
            None,
        )
    }

    #[test]
    fn binance_error_codes_map_to_typed_errors() {
        assert!(matches!(
            err(
                -2010,
                "Account has insufficient balance for requested action."
            ),
            ExchangeError::InsufficientFunds { .. }
        ));
        assert!(matches!(
            err(-1013, "Filter failure: NOTIONAL"),
            ExchangeError::BelowMinimum { .. }
        ));
        assert!(matches!(
            err(-1121, "Invalid symbol."),
            ExchangeError::InvalidSymbol { .. }
        ));
        assert!(matches!(
            err(-4014, "Withdrawal address is not in the whitelist."),
            ExchangeError::AddressNotWhitelisted { .. }
        ));
        assert!(matches!(
            err(-1003, "Too many requests"),
            ExchangeError::RateLimited { .. }
        ));
        assert!(matches!(
            err(-1022, "Signature for this request is not valid."),
            ExchangeError::Auth { .. }
        ));
        let unknown = map_error(
            &BinanceError {
                code: -1007,
                msg: "Timeout waiting for response from backend server.".into(),
            },
            Some("place order"),
        );
        assert!(unknown.is_unknown_outcome());
    }

    #[test]
    fn every_documented_withdrawal_state_parses_and_others_do_not() {
        for n in 0u8..=6 {
            assert!(BinanceWithdrawState::try_from(n).is_ok());
        }
        assert!(BinanceWithdrawState::try_from(7).is_err());
        assert_eq!(
            BinanceWithdrawState::Completed.to_domain(),
            WithdrawalStatus::Completed
        );
    }

    #[test]
    fn an_order_status_the_venue_adds_later_is_refused_not_guessed() {
        assert!(
            serde_json::from_str::<BinanceOrderStatus>(r#""NEW_STATUS_FROM_THE_FUTURE""#).is_err()
        );
    }
}

/// `GET /sapi/v1/account/apiRestrictions`: what the key may do (fields absent read as false).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BinanceApiRestrictions {
    #[serde(default)]
    pub enable_reading: bool,
    #[serde(default)]
    pub enable_spot_and_margin_trading: bool,
    #[serde(default)]
    pub enable_withdrawals: bool,
}
