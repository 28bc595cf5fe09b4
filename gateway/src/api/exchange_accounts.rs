//! `POST /v1/payment_intents/{id}/exchange_accounts`: a payer pays from an exchange account.
//!
//! The credentials are sealed before they are stored and never returned or logged. The two
//! venue legs (a conversion order when the account holds too little of the settlement coin,
//! then the withdrawal) get their leg ids before anything is sent, and go through the
//! look-up-before-retry helpers, so a timeout or a retried request never executes twice.
//!
//! Resuming an attempt (a retried request, a second tab, a second gateway instance) takes a
//! lease on the account in the store first, like route executions: one holder at a time talks
//! to the venue, a concurrent resume answers `exchange_payment_in_progress`, and a dead
//! holder's lease expires. The holder asks the venue for the order and the withdrawal by their
//! references before sending anything, and adopts what it finds. The withdrawal's transaction
//! then pays the intent like a reported transfer: the chain worker follows it to its
//! confirmations.

use super::extract::Path;
use crate::store::exchange::ExchangeAccountStatus;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_connectors::exchange::{
    place_order_once, withdraw_once, AssetCode, ExchangeError, OrderKind, OrderRequest, Pair,
    RetryPolicy, Side, WithdrawalRequest,
};
use rialto_core::id::LegId;
use rialto_core::intent::PaymentIntent;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::wallet_payments::load_intent;
use super::{json_response, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::exchange::{Conversion, ConversionTrade};
use crate::exchange::{Credentials, SettlementTarget};
use crate::store::exchange::ExchangeAccount;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkExchangeParams {
    /// `binance`, `kraken` or `coinbase`.
    #[schema(pattern = "^(binance|kraken|coinbase)$")]
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
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`exchange_payment_in_progress`: another request is paying this intent from the account"),
              (status = 503, body = ErrorBody)),
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
    let intent =
        super::fx_locks::committed(&state, &intent, crate::routing::fx::PayMethod::Direct).await?;
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
    let Some((account, resumed)) = attempt_of(
        &state,
        &intent,
        &params.venue,
        params.keep_credentials,
        &credentials,
    )
    .await?
    else {
        return answer_current(&state, &intent).await;
    };
    // The locked amount of a conversion intent (the venue withdraws it to the merchant).
    let owed = crate::chain::due(&intent)
        .ok_or_else(|| ApiError::internal(&"no amount due"))?
        .amount();
    // One holder at a time: a second tab, a retried request or another gateway instance that
    // resumes the same attempt gets `exchange_payment_in_progress` instead of sending again.
    let now = state.clock.now_ms();
    let until = now.saturating_add(ms(LEASE));
    if !state
        .store
        .claim_exchange_account(&account.id, now, until)
        .await?
    {
        return held_elsewhere(&state, &account.id).await;
    }
    // The work runs in its own task: a payer who hangs up does not cut it off between a send
    // and its record, and the lease is always given back.
    let work = Leased {
        state: state.clone(),
        intent,
        account,
        resumed,
        target: (coin, chain, address),
        owed,
    };
    let store = state.store.clone();
    let id = work.account.id.clone();
    let joined = tokio::spawn(work.pay(venue)).await;
    if let Err(err) = store.release_exchange_account(&id, until).await {
        tracing::warn!(account = %id, error = %err, "releasing an exchange account lease failed; it expires");
    }
    joined.map_err(|e| ApiError::internal(&e))?
}

/// The answer when another caller holds the lease: the account if it has moved past
/// `pending` meanwhile, else `exchange_payment_in_progress`.
async fn held_elsewhere(state: &AppState, id: &str) -> Result<Response, ApiError> {
    match state.store.get_exchange_account(id).await? {
        Some(a) if a.status != ExchangeAccountStatus::Pending => Ok(accepted(&a)),
        _ => Err(ApiError::new(
            ErrorCode::ExchangePaymentInProgress,
            "This intent is already being paid from this exchange account; retry shortly to \
             see how it went.",
        )),
    }
}

/// How long one resume holds the account; a holder that died is taken over after it.
const LEASE: std::time::Duration = std::time::Duration::from_secs(300);
/// The venue work of one holder is cut off well before its lease ends, so a lease never
/// expires under a holder that is still sending.
const WORK_LIMIT: std::time::Duration = std::time::Duration::from_secs(240);

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The intent's open attempt, created (with its leg ids, before anything is sent) when there
/// is none; `true` when it existed already (a resume, whose legs may have reached the venue).
/// `None` when the open attempt is past `pending`: nothing is left to send.
async fn attempt_of(
    state: &AppState,
    intent: &PaymentIntent,
    venue: &str,
    keep_credentials: bool,
    credentials: &Credentials,
) -> Result<Option<(ExchangeAccount, bool)>, ApiError> {
    match open_account(state, intent).await? {
        Some(a) if a.status != ExchangeAccountStatus::Pending => Ok(None),
        Some(a) if a.venue != venue => Err(another_account()),
        Some(a) => Ok(Some((a, true))),
        None => {
            let plain = serde_json::to_string(credentials).map_err(|e| ApiError::internal(&e))?;
            let fresh = new_account(state, intent, (venue, keep_credentials), &plain);
            // A concurrent link loses on the one-open-attempt index and resumes the winner's
            // legs (under the lease, so one of the two talks to the venue).
            match state.store.create_exchange_account(&fresh).await {
                Ok(()) => Ok(Some((fresh, false))),
                Err(err) => match open_account(state, intent).await? {
                    Some(a) if a.status != ExchangeAccountStatus::Pending => Ok(None),
                    Some(a) if a.venue != venue => Err(another_account()),
                    Some(a) => Ok(Some((a, true))),
                    None => Err(err.into()),
                },
            }
        }
    }
}

fn another_account() -> ApiError {
    ApiError::new(
        ErrorCode::ExchangeRejected,
        "Another exchange account is already paying this intent.",
    )
}

/// The open attempt as it stands (it moved past `pending` under another caller).
async fn answer_current(state: &AppState, intent: &PaymentIntent) -> Result<Response, ApiError> {
    match open_account(state, intent).await? {
        Some(a) => Ok(accepted(&a)),
        None => Err(ApiError::internal(&"exchange account vanished")),
    }
}

/// One leased resume: pays from the account and records the outcome.
struct Leased {
    state: AppState,
    intent: PaymentIntent,
    account: ExchangeAccount,
    resumed: bool,
    target: (AssetCode, rialto_core::ChainId, String),
    owed: Decimal,
}

impl Leased {
    async fn pay(
        mut self,
        venue: Box<dyn rialto_connectors::exchange::Exchange>,
    ) -> Result<Response, ApiError> {
        let (coin, chain, address) = &self.target;
        let legs = Legs::of(&self.account, coin, address)?;
        let work = pay_from_account(venue.as_ref(), &legs, coin, chain, self.owed, self.resumed);
        let outcome = tokio::time::timeout(WORK_LIMIT, work)
            .await
            .unwrap_or_else(|_| {
                Err(ExchangeError::Unknown {
                    venue: venue.venue(),
                    operation: "pay from exchange account",
                    message: "the venue work ran past its time limit".into(),
                })
            });
        let (state, intent, account) = (&self.state, &self.intent, &mut self.account);
        account.updated_at_ms = state.clock.now_ms();
        match outcome {
            Ok((withdrawal_id, tx_hash, conversion)) => {
                // The account's own deposit address for this coin and chain: where a refund
                // of the payment goes when the merchant names no destination. Asked once the
                // payment is sent, best effort: a venue that does not answer leaves the
                // refund to name one (`refund_destination_required`).
                if account.deposit_address.is_none() {
                    match venue.deposit_address(coin, chain).await {
                        Ok(d) => account.deposit_address = Some(d.address),
                        Err(err) => {
                            tracing::warn!(account = %account.id, error = %err, "the venue did not give the account's deposit address")
                        }
                    }
                }
                account.venue_withdrawal_id = Some(withdrawal_id);
                account.conversion = serde_json::to_string(&conversion).ok();
                account.status = if tx_hash.is_some() {
                    ExchangeAccountStatus::Withdrawn
                } else {
                    ExchangeAccountStatus::Submitted
                };
                account.tx_hash = tx_hash.clone();
                state.store.update_exchange_account(account).await?;
                if let Some(hash) = tx_hash {
                    claim_withdrawal(state, intent, account, &hash).await?;
                }
                Ok(accepted(account))
            }
            Err(err) => {
                tracing::warn!(intent = %intent.id, venue = %account.venue, error = %err, "paying from an exchange account failed");
                if !err.is_retryable() && !matches!(err, ExchangeError::Unknown { .. }) {
                    account.status = ExchangeAccountStatus::Failed;
                    account.failure = Some(err.to_string());
                    state.store.update_exchange_account(account).await?;
                }
                Err(exchange_error(&err).into())
            }
        }
    }
}

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
        deposit_address: None,
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

/// The account's two venue legs, by the ids fixed when it was stored.
struct Legs {
    order: LegId,
    withdrawal: LegId,
    pair: Pair,
    address: String,
}

impl Legs {
    fn of(account: &ExchangeAccount, coin: &AssetCode, address: &str) -> Result<Self, ApiError> {
        let leg = |text: &str| {
            text.parse::<LegId>()
                .map_err(|_| ApiError::internal(&"exchange account leg id"))
        };
        let usd = AssetCode::new("USD").ok_or_else(|| ApiError::internal(&"asset code"))?;
        Ok(Self {
            order: leg(&account.order_leg)?,
            withdrawal: leg(&account.withdrawal_leg)?,
            pair: Pair::new(coin.clone(), usd),
            address: address.to_owned(),
        })
    }

    /// The conversion order for `base_size` (venues look an order up by its leg alone).
    fn order(&self, base_size: Decimal) -> OrderRequest {
        OrderRequest {
            leg: self.order,
            pair: self.pair.clone(),
            side: Side::Buy,
            base_size,
            kind: OrderKind::Market,
        }
    }
}

/// Buys the shortfall of `coin` (if any) and withdraws `owed` plus the venue's fee. Returns the
/// venue's withdrawal id and the transaction hash if the venue already reports one.
///
/// On a resume (`resumed`: the legs were stored by an earlier request, which may have sent
/// them and died before recording it) the venue is asked for the withdrawal and the order by
/// their references first, and what it has is adopted: a withdrawal found is the payment; an
/// order found is the conversion, never placed again. Venues accept a client order id again
/// once its order has filled, so a blind resend after a fill would buy twice.
async fn pay_from_account(
    venue: &dyn rialto_connectors::exchange::Exchange,
    legs: &Legs,
    coin: &AssetCode,
    chain: &rialto_core::ChainId,
    owed: Decimal,
    resumed: bool,
) -> Result<(String, Option<String>, Conversion), ExchangeError> {
    let policy = RetryPolicy::default();
    let terms = venue.withdrawal_terms(coin, chain).await?;
    let needed = owed + terms.fee;
    let mut conversion = Conversion {
        trade: None,
        coin: coin.to_string(),
        withdrawal_fee: terms.fee,
    };
    let request = WithdrawalRequest {
        leg: legs.withdrawal,
        asset: coin.clone(),
        network: chain.clone(),
        address: legs.address.clone(),
        amount: needed,
    };
    let placed_before = if resumed {
        venue.find_order(&legs.order(Decimal::ZERO)).await?
    } else {
        None
    };
    if let Some(order) = placed_before {
        conversion.trade = Some(read_back(venue, order).await);
    }
    if resumed {
        if let Some(sent) = venue.find_withdrawal(&request).await? {
            return Ok((sent.venue_withdrawal_id, sent.tx_hash, conversion));
        }
    }
    if conversion.trade.is_none() {
        conversion.trade = buy_shortfall(venue, legs, coin, needed, &policy).await?;
    }
    let withdrawal = withdraw_once(venue, &request, &policy).await?;
    Ok((
        withdrawal.venue_withdrawal_id,
        withdrawal.tx_hash,
        conversion,
    ))
}

/// Buys what the account lacks of `needed` `coin`, if anything.
async fn buy_shortfall(
    venue: &dyn rialto_connectors::exchange::Exchange,
    legs: &Legs,
    coin: &AssetCode,
    needed: Decimal,
    policy: &RetryPolicy,
) -> Result<Option<ConversionTrade>, ExchangeError> {
    let held = venue
        .balances()
        .await?
        .into_iter()
        .find(|b| &b.asset == coin)
        .map(|b| b.available)
        .unwrap_or_default();
    if held >= needed {
        return Ok(None);
    }
    // Taker fees come out of the bought coin: buy a little over, rounded up to a cent.
    let shortfall = ((needed - held) * Decimal::new(1002, 3))
        .round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
    let placed = place_order_once(venue, &legs.order(shortfall), policy).await?;
    Ok(Some(read_back(venue, placed).await))
}

/// The trade as the ledger records it. Some venues answer the placement (or a lookup) before
/// the fill (Kraken's AddOrder gives only the id): the order is read back for what was filled
/// and charged. The ledger only records it; a failed read leaves the figures it had.
async fn read_back(
    venue: &dyn rialto_connectors::exchange::Exchange,
    placed: rialto_connectors::exchange::Order,
) -> ConversionTrade {
    let filled = if placed.filled_base.is_zero() {
        venue
            .order_status(&placed.pair, &placed.venue_order_id)
            .await
            .unwrap_or(placed)
    } else {
        placed
    };
    ConversionTrade {
        base: filled.pair.base.to_string(),
        quote: filled.pair.quote.to_string(),
        filled_base: filled.filled_base,
        filled_quote: filled.filled_quote,
        fee: filled.fee,
        fee_asset: filled
            .fee_asset
            .map_or_else(|| filled.pair.quote.to_string(), |a| a.to_string()),
    }
}

pub use rialto_engine::exchange::claim_withdrawal;
