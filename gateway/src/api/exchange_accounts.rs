//! `POST /v1/payment_intents/{id}/exchange_accounts`: a payer pays from an exchange account.
//!
//! The credentials are sealed before they are stored and never returned or logged. The two
//! venue legs (a conversion order when the account holds too little of the settlement coin,
//! then the withdrawal) get their leg ids before anything is sent, and go through the
//! look-up-before-retry helpers, so a timeout or a retried request never executes twice. The
//! withdrawal's transaction then pays the intent like a reported transfer: the chain worker
//! follows it to its confirmations.

use crate::store::exchange::ExchangeAccountStatus;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rialto_connectors::exchange::{
    place_order_once, withdraw_once, AssetCode, ExchangeError, OrderKind, OrderRequest, Pair,
    RetryPolicy, Side, WithdrawalRequest,
};
use rialto_core::id::LegId;
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::wallet_payments::{awaiting, load_intent};
use super::{json_response, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::exchange::{Conversion, ConversionTrade};
use crate::exchange::{Credentials, SettlementTarget};
use crate::store::exchange::ExchangeAccount;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkExchangeParams {
    /// `binance`, `kraken` or `coinbase`.
    pub venue: String,
    /// Read, trade and withdraw scopes. Coinbase: the CDP key name.
    pub api_key: String,
    /// Coinbase: the EC private key (PEM). Never returned, never logged, sealed at rest.
    pub api_secret: String,
    /// Kraken: the withdrawal key you whitelisted for the settlement address.
    pub withdraw_key: Option<String>,
    /// Keep the credentials after this payment ends (default: erased).
    #[serde(default)]
    pub keep_credentials: bool,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for LinkExchangeParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkExchangeParams")
            .field("venue", &self.venue)
            .field("credentials", &"[redacted]")
            .field("keep_credentials", &self.keep_credentials)
            .finish()
    }
}

/// A linked exchange account (never with its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeAccountObject {
    /// `exchange_account`.
    pub object: String,
    pub id: String,
    pub payment_intent: String,
    pub venue: String,
    /// `pending`, `submitted` (withdrawal sent, no transaction yet), `withdrawn`, `failed`.
    pub status: String,
    pub tx_hash: Option<String>,
    pub keep_credentials: bool,
    /// Whether the credentials are still stored.
    pub credentials_stored: bool,
}

impl ExchangeAccountObject {
    pub fn of(a: &ExchangeAccount) -> Self {
        Self {
            object: "exchange_account".into(),
            id: a.id.clone(),
            payment_intent: a.payment_intent_id.to_string(),
            venue: a.venue.clone(),
            status: a.status.as_str().to_owned(),
            tx_hash: a.tx_hash.clone(),
            keep_credentials: a.keep_credentials,
            credentials_stored: !a.sealed_credentials.is_empty(),
        }
    }
}

pub use rialto_engine::exchange::exchange_error;

/// Link an exchange account to the intent and pay from it: Rialto converts on the account if
/// needed and withdraws exactly the intent amount (plus the venue's fee) to the settlement
/// address. Answers `202`; the intent succeeds once the withdrawal's transaction is confirmed.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/exchange_accounts", operation_id = "link_exchange_account",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = LinkExchangeParams,
    responses((status = 202, body = ExchangeAccountObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: LinkExchangeParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    awaiting(&intent)?;
    if !["binance", "kraken", "coinbase"].contains(&params.venue.as_str()) {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "venue must be binance, kraken or coinbase.",
        )
        .param("venue"));
    }
    let venues = state.venues.get(&intent.livemode).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ExchangeUnavailable,
            "No exchange venues are configured for this mode.",
        )
    })?;
    let asset = &intent.settlement.asset;
    let coin = AssetCode::new(&asset.symbol).ok_or_else(|| ApiError::internal(&"asset code"))?;
    let chain = asset.id.chain().clone();
    let address = intent.settlement.address.to_string();
    let credentials = Credentials {
        api_key: params.api_key,
        api_secret: params.api_secret,
        withdraw_key: params.withdraw_key,
    };
    let target = SettlementTarget {
        asset: &coin,
        chain: &chain,
        address: &address,
    };
    let venue = venues
        .client(&params.venue, &credentials, target)
        .map_err(|e| exchange_error(&e))?;
    // One live attempt per intent: a retry (or a second tab) resumes the stored legs, which
    // the venue is asked about before anything is sent again.
    let mut account = match open_account(&state, &intent).await? {
        Some(a) if a.status != ExchangeAccountStatus::Pending => return Ok(accepted(&a)),
        Some(a) if a.venue != params.venue => {
            return Err(ApiError::new(
                ErrorCode::ExchangeRejected,
                "Another exchange account is already paying this intent.",
            ))
        }
        Some(a) => a,
        None => {
            let plain = serde_json::to_string(&credentials).map_err(|e| ApiError::internal(&e))?;
            let link = (params.venue.as_str(), params.keep_credentials);
            let fresh = new_account(&state, &intent, link, &plain);
            // Stored (with its leg ids) before anything reaches the venue; a concurrent link
            // loses on the one-open-attempt index and resumes the winner's legs.
            match state.store.create_exchange_account(&fresh).await {
                Ok(()) => fresh,
                Err(err) => match open_account(&state, &intent).await? {
                    Some(a) if a.status != ExchangeAccountStatus::Pending => {
                        return Ok(accepted(&a))
                    }
                    Some(a) => a,
                    None => return Err(err.into()),
                },
            }
        }
    };
    let owed = Money::parse(&intent.amount.to_amount_string(), asset.currency())
        .map_err(|e| ApiError::internal(&e))?
        .amount();
    let outcome = pay_from_account(venue.as_ref(), &account, &coin, &chain, &address, owed).await;
    account.updated_at_ms = state.clock.now_ms();
    match outcome {
        Ok((withdrawal_id, tx_hash, conversion)) => {
            account.venue_withdrawal_id = Some(withdrawal_id);
            account.conversion = serde_json::to_string(&conversion).ok();
            account.status = if tx_hash.is_some() {
                ExchangeAccountStatus::Withdrawn
            } else {
                ExchangeAccountStatus::Submitted
            };
            account.tx_hash = tx_hash.clone();
            state.store.update_exchange_account(&account).await?;
            if let Some(hash) = tx_hash {
                claim_withdrawal(&state, &intent, &account, &hash).await?;
            }
        }
        Err(err) => {
            tracing::warn!(intent = %intent.id, venue = %account.venue, error = %err, "paying from an exchange account failed");
            if !err.is_retryable() && !matches!(err, ExchangeError::Unknown { .. }) {
                account.status = ExchangeAccountStatus::Failed;
                account.failure = Some(err.to_string());
                state.store.update_exchange_account(&account).await?;
            }
            return Err(exchange_error(&err).into());
        }
    }
    Ok(accepted(&account))
}

/// A new attempt to pay `intent` from the account whose sealed credentials are given, with
/// the leg ids its order and withdrawal will carry.
/// A new account for `intent`, its credentials sealed for its own row.
fn new_account(
    state: &AppState,
    intent: &PaymentIntent,
    (venue, keep_credentials): (&str, bool),
    credentials_json: &str,
) -> ExchangeAccount {
    let now = state.clock.now_ms();
    let id = format!(
        "xa_{}",
        LegId::generate().to_string().trim_start_matches("leg_")
    );
    let row = crate::webhooks::Sealer::row("exchange_accounts", &id);
    let sealed = state.sealer.seal_for(&row, credentials_json);
    ExchangeAccount {
        id,
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        venue: venue.to_owned(),
        sealed_credentials: sealed,
        keep_credentials,
        order_leg: LegId::generate().to_string(),
        withdrawal_leg: LegId::generate().to_string(),
        status: ExchangeAccountStatus::Pending,
        venue_withdrawal_id: None,
        tx_hash: None,
        failure: None,
        conversion: None,
        created_at_ms: now,
        updated_at_ms: now,
        erased_at_ms: None,
    }
}

/// The intent's attempt that has not failed, if any.
async fn open_account(
    state: &AppState,
    intent: &PaymentIntent,
) -> Result<Option<ExchangeAccount>, ApiError> {
    Ok(state
        .store
        .exchange_accounts_of(&intent.id)
        .await?
        .into_iter()
        .find(|a| a.status != ExchangeAccountStatus::Failed))
}

fn accepted(account: &ExchangeAccount) -> Response {
    let body = serde_json::to_string(&ExchangeAccountObject::of(account)).unwrap_or_default();
    json_response(StatusCode::ACCEPTED, body)
}

/// Buys the shortfall of `coin` (if any) and withdraws `owed` plus the venue's fee. Returns the
/// venue's withdrawal id and the transaction hash if the venue already reports one.
async fn pay_from_account(
    venue: &dyn rialto_connectors::exchange::Exchange,
    account: &ExchangeAccount,
    coin: &AssetCode,
    chain: &rialto_core::ChainId,
    address: &str,
    owed: Decimal,
) -> Result<(String, Option<String>, Conversion), ExchangeError> {
    let policy = RetryPolicy::default();
    let terms = venue.withdrawal_terms(coin, chain).await?;
    let needed = owed + terms.fee;
    let mut conversion = Conversion {
        trade: None,
        coin: coin.to_string(),
        withdrawal_fee: terms.fee,
    };
    let held = venue
        .balances()
        .await?
        .into_iter()
        .find(|b| &b.asset == coin)
        .map(|b| b.available)
        .unwrap_or_default();
    if held < needed {
        let usd = AssetCode::new("USD").ok_or(ExchangeError::Unsupported {
            venue: rialto_connectors::exchange::Venue::Sandbox,
            what: "USD".into(),
        })?;
        // Taker fees come out of the bought coin: buy a little over, rounded up to a cent.
        let shortfall = ((needed - held) * Decimal::new(1002, 3))
            .round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
        let leg: LegId = account
            .order_leg
            .parse()
            .map_err(|_| ExchangeError::Unsupported {
                venue: rialto_connectors::exchange::Venue::Sandbox,
                what: "leg id".into(),
            })?;
        let order = OrderRequest {
            leg,
            pair: Pair::new(coin.clone(), usd),
            side: Side::Buy,
            base_size: shortfall,
            kind: OrderKind::Market,
        };
        let placed = place_order_once(venue, &order, &policy).await?;
        // Some venues answer the placement before the fill (Kraken's AddOrder gives only the
        // id): read the order back for what was filled and charged. The ledger only records
        // it; a failed read leaves the placement's figures.
        let filled = if placed.filled_base.is_zero() {
            venue
                .order_status(&placed.pair, &placed.venue_order_id)
                .await
                .unwrap_or(placed)
        } else {
            placed
        };
        conversion.trade = Some(ConversionTrade {
            base: filled.pair.base.to_string(),
            quote: filled.pair.quote.to_string(),
            filled_base: filled.filled_base,
            filled_quote: filled.filled_quote,
            fee: filled.fee,
            fee_asset: filled
                .fee_asset
                .map_or_else(|| filled.pair.quote.to_string(), |a| a.to_string()),
        });
    }
    let leg: LegId = account
        .withdrawal_leg
        .parse()
        .map_err(|_| ExchangeError::Unsupported {
            venue: rialto_connectors::exchange::Venue::Sandbox,
            what: "leg id".into(),
        })?;
    let request = WithdrawalRequest {
        leg,
        asset: coin.clone(),
        network: chain.clone(),
        address: address.to_owned(),
        amount: needed,
    };
    let withdrawal = withdraw_once(venue, &request, &policy).await?;
    Ok((
        withdrawal.venue_withdrawal_id,
        withdrawal.tx_hash,
        conversion,
    ))
}

pub use rialto_engine::exchange::claim_withdrawal;
