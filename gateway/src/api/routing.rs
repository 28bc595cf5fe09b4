//! SmartFunding quotes: `POST /v1/payment_intents/{id}/quotes` (ranked quotes for paying the
//! intent from a named funding source), `POST /v1/quotes/{id}/accept` (locks one, once per
//! intent) and the operators' `GET /v1/routing/health`.
//!
//! Payer-side like the other payment endpoints: a secret key, or the publishable key with the
//! intent's `client_secret`. Quotes are stored (`quotes` table) with their expiry; accepting is
//! a compare-and-set on the stored status, then the router's `lock` on the route this gateway
//! quoted. Neither request moves money; both take an `Idempotency-Key` like every write (the
//! `/v1` idempotency layer), so a retried request gets the first answer back rather than a
//! second set of quotes or a refused second accept.

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_connectors::exchange::AssetCode;
use rialto_core::intent::PaymentIntent;
use rialto_core::ChainId;
use rialto_router::{CheckedPrice, Graph, NodeRef, Quote, RouterError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::idempotency::{claim, finish, record_for, Guard, WriteError};
use super::wallet_payments::{awaiting, load_intent};
use super::{json_response, parse_id, serialize, AppState, Caller, Operator};
use crate::error::{ApiError, EngineError, ErrorBody, ErrorCode};
use crate::routing::market::{self, FundingSource};
use crate::routing::oracle::{self, PriceReadings};
use crate::routing::QuoteRefusal;
use crate::store::quote::{AcceptOutcome, ExecutionStatus, QuoteRecord, QuoteStatus};

/// Where the payer's money is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceParam {
    /// The payer's exchange account: `{"type": "exchange", "venue": "kraken", "asset": "usd"}`.
    Exchange { venue: String, asset: String },
    /// The payer's wallet: `{"type": "wallet", "chain": "devnet-ethereum", "asset": "usdc"}`.
    Wallet { chain: String, asset: String },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuotesParams {
    pub source: SourceParam,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptQuoteParams {
    /// Required with a publishable key.
    pub client_secret: Option<String>,
    /// Exchange sources: the payer's API credentials for the quote's venue.
    pub exchange_credentials: Option<super::executions::ExchangeCredentialsParam>,
    /// Wallet sources: the address the payer pays from (funds that must go back go there).
    pub payer_address: Option<String>,
}

/// An asset at a location: `{"asset": "USDC", "location": "eip155:31338"}` (`venue:kraken`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeObject {
    pub asset: String,
    pub location: String,
}

impl NodeObject {
    fn of(node: &NodeRef) -> Self {
        Self {
            asset: node.asset.to_string(),
            location: node.location.to_string(),
        }
    }
}

/// The oracle round a conversion was checked against.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PriceSourceObject {
    /// `USDC/USD`.
    pub pair: String,
    pub price: String,
    /// The Chainlink round id (decimal string: it exceeds 2^53); `0` for the `USD/USD`
    /// reference, which is not read.
    pub round_id: String,
    /// Unix seconds of the round's update.
    pub updated_at: u64,
    /// `chainlink:eip155:<chain id>:<proxy>` or `reference`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteLegObject {
    /// `leg_…`: exchange order and withdrawal references derive from it.
    pub id: String,
    /// `trade`, `withdrawal`, `transfer`, `dex_swap`, `ccip`, `bridge`, `issuer_mint` (an
    /// issuing bank mints the deposit token from Rialto's USD float there).
    pub kind: String,
    /// The exchange account, DEX or bridge that executes it.
    pub venue: String,
    pub from: NodeObject,
    pub to: NodeObject,
    pub input: String,
    pub output: String,
    /// In USD.
    pub fee_usd: String,
    pub expected_seconds: u32,
    pub success_probability: String,
    pub price_sources: Vec<PriceSourceObject>,
}

/// One way to pay the intent, priced exactly.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteObject {
    /// `quote`.
    pub object: String,
    /// `qt_…`.
    pub id: String,
    pub payment_intent: String,
    /// `open`, `accepted`, `expired`.
    pub status: String,
    /// 1 is the best-scored quote.
    pub rank: u32,
    pub source: NodeObject,
    /// What the payer pays, in `source.asset`.
    pub payer_amount: String,
    pub target: NodeObject,
    /// What the merchant receives: never less than `intent_amount`.
    pub merchant_amount: String,
    pub intent_amount: String,
    pub legs: Vec<QuoteLegObject>,
    /// Every leg's fee plus the settlement transfer's gas, in USD.
    pub total_fee_usd: String,
    pub cost_bps: String,
    pub expected_seconds: u64,
    pub success_probability: String,
    /// Unix seconds.
    pub created_at: u64,
    pub expires_at: u64,
    /// Every oracle round used.
    pub price_sources: Vec<PriceSourceObject>,
    /// Unix seconds; set once accepted.
    pub locked_at: Option<u64>,
    /// Set once accepted: the execution of this quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<super::executions::RouteExecutionObject>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteList {
    /// `list`.
    pub object: String,
    pub data: Vec<QuoteObject>,
    pub has_more: bool,
}

fn price_source(p: &CheckedPrice, readings: &PriceReadings) -> PriceSourceObject {
    PriceSourceObject {
        pair: p.pair.clone(),
        price: p.price.to_string(),
        round_id: p.round_id.to_string(),
        updated_at: p.updated_at,
        source: readings
            .source(&p.pair)
            .map_or_else(|| "unknown".to_owned(), |s| s.source.clone()),
    }
}

fn quote_object(
    q: &Quote,
    rank: u32,
    intent: &PaymentIntent,
    graph: &Graph,
    readings: &PriceReadings,
) -> QuoteObject {
    let legs = q
        .legs
        .iter()
        .map(|leg| QuoteLegObject {
            id: leg.id.to_string(),
            kind: serde_json::to_value(leg.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            venue: graph.edge(leg.edge).venue.to_string(),
            from: NodeObject::of(&leg.from),
            to: NodeObject::of(&leg.to),
            input: leg.input.to_string(),
            output: leg.output.to_string(),
            fee_usd: leg.fee_usd.to_string(),
            expected_seconds: leg.expected_seconds,
            success_probability: leg.success_probability.to_string(),
            price_sources: leg
                .price_sources
                .iter()
                .map(|p| price_source(p, readings))
                .collect(),
        })
        .collect();
    QuoteObject {
        object: "quote".into(),
        id: q.id.to_string(),
        payment_intent: intent.id.to_string(),
        status: "open".into(),
        rank,
        source: NodeObject::of(&q.source),
        payer_amount: q.payer_amount.to_string(),
        target: NodeObject::of(&q.target),
        merchant_amount: q.merchant_amount.to_string(),
        intent_amount: q.intent_amount.to_string(),
        legs,
        total_fee_usd: q.total_fee_usd.to_string(),
        cost_bps: q.cost_bps.round_dp(2).to_string(),
        expected_seconds: q.expected_seconds,
        success_probability: q.success_probability.round_dp(4).to_string(),
        created_at: q.created_at,
        expires_at: q.expires_at,
        price_sources: q
            .price_sources
            .iter()
            .map(|p| price_source(p, readings))
            .collect(),
        locked_at: None,
        execution: None,
    }
}

fn now_secs(state: &AppState) -> u64 {
    u64::try_from(state.clock.now_ms() / 1000).unwrap_or(0)
}

fn asset_code(text: &str) -> Result<AssetCode, ApiError> {
    AssetCode::new(&text.to_ascii_uppercase()).ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidAsset, format!("Unknown asset '{text}'."))
            .param("source.asset")
    })
}

/// The request's source, resolved: venue names checked, chain aliases to CAIP-2.
fn funding_source(
    state: &AppState,
    intent: &PaymentIntent,
    source: &SourceParam,
) -> Result<FundingSource, ApiError> {
    match source {
        SourceParam::Exchange { venue, asset } => {
            if !market::MARKET_VENUES.contains(&venue.as_str()) {
                return Err(ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!(
                        "source.venue must be one of {}.",
                        market::MARKET_VENUES.join(", ")
                    ),
                )
                .param("source.venue"));
            }
            Ok(FundingSource::Exchange {
                venue: venue.clone(),
                asset: asset_code(asset)?,
            })
        }
        SourceParam::Wallet { chain, asset } => {
            let found = state
                .chains
                .iter()
                .find(|c| c.livemode == intent.livemode && (&c.alias == chain || &c.caip2 == chain))
                .and_then(|c| c.caip2.parse::<ChainId>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidChain,
                        format!("This gateway routes nothing on chain '{chain}'."),
                    )
                    .param("source.chain")
                })?;
            Ok(FundingSource::Wallet {
                chain: found,
                asset: asset_code(asset)?,
            })
        }
    }
}

/// Ranked quotes for paying the intent from `source`: the exact payer amount, what the
/// merchant receives (never less than the intent amount), each leg with its fee, the oracle
/// rounds every conversion was checked against, and an expiry.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/quotes", operation_id = "create_quotes",
    tag = "routing", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = CreateQuotesParams,
    responses((status = 200, body = QuoteList), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: CreateQuotesParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    // Proof of Reserve: no quote into a halted asset.
    state
        .reserves
        .check(intent.livemode, &intent.settlement.asset)?;
    let intent =
        super::fx_locks::committed(&state, &intent, crate::routing::fx::PayMethod::Routed).await?;
    let source = funding_source(&state, &intent, &params.source)?;
    let coin = AssetCode::new(&intent.settlement.asset.symbol.to_ascii_uppercase())
        .ok_or_else(|| ApiError::internal(&"settlement asset code"))?;
    let now = now_secs(&state);
    let target_chain = intent.settlement.asset.id.chain().to_string();
    let readings = oracle::readings(
        &state,
        intent.livemode,
        &target_chain,
        &market::market_pairs(&state, intent.livemode, &coin),
        now,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "no price feeds");
        ApiError::new(
            ErrorCode::OracleUnavailable,
            "No price feeds are configured for this mode.",
        )
    })?;
    let snapshot = market::snapshot(&state, &intent, &coin, &source, &readings)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("Cannot route this: {e}."),
            )
            .param("source")
        })?;
    for why in &snapshot.skipped {
        tracing::warn!(intent = %intent.id, skipped = %why, "left out of the market snapshot");
    }
    let amount = market::intent_amount(&intent).map_err(|e| ApiError::internal(&e))?;
    let quotes = state
        .routing
        .quotes(&snapshot, &readings, amount, now)
        .map_err(|refusal| match refusal {
            // The bank mints the settlement token but Rialto's float there is short: said
            // so, rather than a bare `no_route` (or a missing feed nothing else needed).
            _ if snapshot.issuer_refusal.is_some() => ApiError::new(
                ErrorCode::IssuerFloatInsufficient,
                format!(
                    "No route can pay this intent now: {}.",
                    snapshot.issuer_refusal.as_deref().unwrap_or_default()
                ),
            ),
            QuoteRefusal::OracleUnavailable(why) => ApiError::new(
                ErrorCode::OracleUnavailable,
                format!("Prices needed for this payment cannot be checked right now: {why}."),
            ),
            QuoteRefusal::NoRoute(why) => ApiError::new(
                ErrorCode::NoRoute,
                format!("No route can pay this intent from that source: {why}."),
            ),
        })?;
    let objects: Vec<QuoteObject> = quotes
        .iter()
        .zip(1u32..)
        .map(|(q, rank)| quote_object(q, rank, &intent, &snapshot.graph, &readings))
        .collect();
    let records = objects
        .iter()
        .zip(&quotes)
        .map(|(o, q)| {
            let route = q
                .route()
                .ok_or_else(|| ApiError::internal(&"quote without route"))?;
            let stored = crate::routing::StoredRoute {
                quote: q.clone(),
                route: route.clone(),
                graph: snapshot.graph.clone(),
            };
            Ok(QuoteRecord {
                id: o.id.clone(),
                payment_intent_id: intent.id,
                merchant_id: intent.merchant_id,
                livemode: intent.livemode,
                status: QuoteStatus::Open,
                body: serialize(o)?,
                expires_at: i64::try_from(o.expires_at).unwrap_or(i64::MAX),
                created_at: i64::try_from(o.created_at).unwrap_or(0),
                accepted_at: None,
                route: Some(serialize(&stored)?),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    state.store.create_quotes(&records).await?;
    let list = QuoteList {
        object: "list".into(),
        data: objects,
        has_more: false,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

fn expired() -> ApiError {
    ApiError::new(
        ErrorCode::QuoteExpired,
        "This quote has expired; ask for new quotes.",
    )
}

fn already_accepted() -> ApiError {
    ApiError::new(
        ErrorCode::QuoteAlreadyAccepted,
        "A quote for this payment intent has already been accepted.",
    )
}

/// Accept a quote: locks its merchant amount until it expires. Refused after expiry
/// (`quote_expired`) and for a second accept on the same intent (`quote_already_accepted`).
#[utoipa::path(
    post, path = "/v1/quotes/{id}/accept", operation_id = "accept_quote",
    tag = "routing", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = AcceptQuoteParams,
    responses((status = 200, body = QuoteObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> =
        accept_quote(&state, &caller, &id, &body, guard.as_ref())
            .await
            .map_err(WriteError::from);
    finish(&state, result, guard).await
}

async fn accept_quote(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &[u8],
    guard: Option<&Guard>,
) -> Result<Response, ApiError> {
    let params: AcceptQuoteParams = parse_json(body)?;
    let _: rialto_router::QuoteId = parse_id(id, "quote")?;
    let not_found = || ApiError::missing("quote", id, "id");
    let record = state.store.get_quote(id).await?.ok_or_else(not_found)?;
    // The intent check is the authorization: another merchant's quote is simply not found.
    let intent = load_intent(
        state,
        caller,
        &record.payment_intent_id.to_string(),
        params.client_secret.as_deref(),
    )
    .await
    .map_err(|_| not_found())?;
    if record.status == QuoteStatus::Accepted {
        return Err(already_accepted());
    }
    if let Err(err) = awaiting(&intent) {
        // Not open because another quote of it is being executed: say so.
        let executing = state.store.executions_of(&intent.id).await?;
        if executing
            .iter()
            .any(|e| e.status != ExecutionStatus::Failed)
        {
            return Err(already_accepted());
        }
        return Err(err);
    }
    // Proof of Reserve: no route starts into a halted asset.
    state
        .reserves
        .check(intent.livemode, &intent.settlement.asset)?;
    let stored_json = record.route.clone().ok_or_else(expired)?;
    let stored: crate::routing::StoredRoute =
        serde_json::from_str(&stored_json).map_err(|e| ApiError::internal(&e))?;
    let payer = super::executions::payer_for(
        &stored,
        params.exchange_credentials,
        params.payer_address.as_deref(),
    )?;
    let now = now_secs(state);
    let now_i64 = i64::try_from(now).unwrap_or(i64::MAX);
    if record.status != QuoteStatus::Open || now_i64 >= record.expires_at {
        // Records the expiry (compare-and-set; an accepted quote stays accepted).
        return match state.store.accept_quote(id, now_i64).await? {
            AcceptOutcome::AlreadyAccepted => Err(already_accepted()),
            _ => Err(expired()),
        };
    }
    let (quote, graph) = stored.into_parts();
    let locked = match rialto_router::lock(quote, now) {
        Ok(locked) => locked,
        Err(RouterError::QuoteExpired { .. }) => return Err(expired()),
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let mut object: QuoteObject =
        serde_json::from_str(&record.body).map_err(|e| ApiError::internal(&e))?;
    object.status = "accepted".into();
    object.locked_at = Some(locked.locked_at());
    let render = |exec: &super::executions::RouteExecutionObject| -> Result<String, EngineError> {
        let mut answer = object.clone();
        answer.execution = Some(exec.clone());
        serde_json::to_string(&answer).map_err(|e| EngineError::internal(&e))
    };
    let prepared =
        super::executions::prepare(state, &intent, id, &stored_json, record.expires_at, payer)
            .await?;
    let now_ms = state.clock.now_ms();
    // A wallet execution's answer is final now: it is stored with the acceptance.
    let early = if prepared.exec.status == ExecutionStatus::AwaitingFunds {
        let exec = super::executions::object_of(state, &prepared.exec, &[])?;
        let body = render(&exec)?;
        Some((body.clone(), record_for(guard, &body, now_ms)))
    } else {
        None
    };
    let idempotency = early.as_ref().and_then(|(_, r)| r.clone());
    match state
        .store
        .accept_and_start(id, now_i64, &prepared.exec, idempotency.as_ref())
        .await
    {
        Ok(AcceptOutcome::Accepted) => {}
        Ok(outcome) => {
            super::executions::abandon(state, prepared).await;
            return Err(match outcome {
                AcceptOutcome::Expired => expired(),
                AcceptOutcome::NotFound => not_found(),
                _ => already_accepted(),
            });
        }
        Err(err) => {
            super::executions::abandon(state, prepared).await;
            return Err(err.into());
        }
    }
    if let Some((body, _)) = early {
        return Ok(json_response(StatusCode::OK, body));
    }
    let record_fn = |exec: &super::executions::RouteExecutionObject| {
        let body = render(exec)?;
        Ok(record_for(guard, &body, state.clock.now_ms()))
    };
    let exec =
        super::executions::complete_start(state, &intent, prepared, locked, &graph, &record_fn)
            .await?;
    Ok(json_response(StatusCode::OK, render(&exec)?))
}

/// Venue and edge health (success rate, latency) as the router scores it. Operators only.
#[utoipa::path(
    get, path = "/v1/routing/health", operation_id = "routing_health", tag = "routing",
    responses((status = 200, description = "The router's health snapshot", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn health(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Response, ApiError> {
    let now_ms = u64::try_from(state.clock.now_ms()).unwrap_or(0);
    let snapshot = state.routing.health_snapshot(now_ms);
    Ok(json_response(StatusCode::OK, serialize(&snapshot)?))
}
