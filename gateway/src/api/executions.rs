//! Executing accepted quotes: accepting starts the execution (`rx_…`), a wallet payer reports
//! the funding transaction (`POST /v1/route_executions/{id}/fund`), and anyone holding the
//! intent's keys can follow it (`GET /v1/route_executions/{id}`). See `routing::execute`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_core::intent::{PaymentEvent, PaymentIntent};
use rialto_router::{Graph, Location, LockedQuote};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::wallet_payments::{awaiting, load_intent};
use super::{json_response, serialize, AppState, Caller};
use crate::compliance::flow::{screen_received_funds, FundsOutcome, FundsSubject};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::exchange::Credentials;
use crate::routing::execute::{self, Funding, LegSpec};
use crate::routing::onchain::{self, ChainLeg};
use crate::store::exchange::ExchangeAccount;
use crate::store::quote::{RouteExecution, RouteLegRecord};
use crate::store::CasOutcome;

/// The payer's API credentials for the venue a quote's source names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeCredentialsParam {
    pub api_key: String,
    pub api_secret: String,
    /// Kraken: the withdrawal key name.
    pub withdraw_key: Option<String>,
    /// Keep the credentials after the payment ends (default: erased).
    #[serde(default)]
    pub keep_credentials: bool,
}

/// Where the payer sends a wallet-funded quote's amount.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayToObject {
    /// CAIP-2.
    pub chain: String,
    pub asset: String,
    /// The token contract.
    pub token: String,
    /// Rialto's address on the chain.
    pub address: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteLegObject {
    /// `leg_…`: the idempotency key the venue or chain sees.
    pub id: String,
    /// `trade`, `withdrawal`, `dex_swap`, `cctp_bridge`, `settlement`, `return`.
    pub kind: String,
    pub venue: String,
    pub from: String,
    pub to: String,
    pub input: String,
    /// Of `input`, what Rialto added from its own inventory to keep the locked amount.
    pub topup: String,
    pub min_output: String,
    /// `created`, `submitted`, `confirmed`, `failed`, `unknown`.
    pub status: String,
    pub received: Option<String>,
    pub failure: Option<String>,
}

/// The execution of an accepted quote.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteExecutionObject {
    /// `route_execution`.
    pub object: String,
    /// `rx_…`.
    pub id: String,
    pub quote: String,
    pub payment_intent: String,
    /// `awaiting_funds`, `running`, `awaiting_reconciliation`, `held`, `succeeded`, `failed`.
    pub status: String,
    /// For a wallet source: where to send the quoted amount.
    pub pay_to: Option<PayToObject>,
    /// Set when it failed: `slippage`, `no_route`, `venue_unavailable`,
    /// `insufficient_liquidity`, `execution_reverted`, `oracle_unavailable`, `quote_expired`,
    /// `compliance_blocked`, `funding_short`.
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Where the payer's funds went back from, and how much.
    pub returned: Option<serde_json::Value>,
    pub legs: Vec<RouteLegObject>,
}

fn leg_object(l: &RouteLegRecord) -> RouteLegObject {
    RouteLegObject {
        id: l.id.clone(),
        kind: l.kind.clone(),
        venue: l.venue.clone(),
        from: l.from_node.clone(),
        to: l.to_node.clone(),
        input: l.input.clone(),
        topup: l.topup.clone(),
        min_output: l.min_output.clone(),
        status: l.status.clone(),
        received: l.received.clone(),
        failure: l.failure.clone(),
    }
}

/// The execution as the API shows it.
pub async fn execution_object(
    state: &AppState,
    exec: &RouteExecution,
) -> Result<RouteExecutionObject, ApiError> {
    let legs = state.store.route_legs(&exec.id).await?;
    let pay_to = match serde_json::from_str::<Funding>(&exec.funding) {
        Ok(Funding::Wallet { chain, asset, .. }) => pay_to(state, exec, &chain, &asset).ok(),
        _ => None,
    };
    Ok(RouteExecutionObject {
        object: "route_execution".into(),
        id: exec.id.clone(),
        quote: exec.quote_id.clone(),
        payment_intent: exec.payment_intent_id.to_string(),
        status: exec.status.clone(),
        pay_to,
        failure_code: exec.failure_code.clone(),
        failure_message: exec.failure_message.clone(),
        returned: exec
            .returned
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        legs: legs.iter().map(leg_object).collect(),
    })
}

fn pay_to(
    state: &AppState,
    exec: &RouteExecution,
    chain: &str,
    asset: &str,
) -> Result<PayToObject, String> {
    let stored: crate::routing::StoredRoute =
        serde_json::from_str(&exec.graph).map_err(|e| e.to_string())?;
    let (token, _) = onchain::token_on(state, chain, asset)?;
    Ok(PayToObject {
        chain: chain.to_owned(),
        asset: asset.to_owned(),
        token: token.to_string(),
        address: onchain::hot_wallet(state, exec.livemode, chain)?
            .address
            .to_string(),
        amount: stored.quote.payer_amount.to_string(),
    })
}

fn new_execution_id() -> String {
    format!(
        "rx_{}",
        LegId::generate().to_string().trim_start_matches("leg_")
    )
}

/// What `accept` needs to know about the payer before the quote is locked.
#[derive(Debug)]
pub enum Payer {
    Exchange {
        venue: String,
        credentials: Credentials,
        keep: bool,
    },
    Wallet {
        chain: String,
        asset: String,
        address: Address,
    },
}

/// Checks the accept request names what the quote's source needs: exchange credentials for
/// a venue, the payer's address for a wallet.
pub fn payer_for(
    stored: &crate::routing::StoredRoute,
    credentials: Option<ExchangeCredentialsParam>,
    payer_address: Option<&str>,
) -> Result<Payer, ApiError> {
    let source = stored.graph.describe(stored.route.source);
    match &source.location {
        Location::Venue(v) => {
            let c = credentials.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterMissing,
                    "This quote pays from an exchange account: send exchange_credentials.",
                )
                .param("exchange_credentials")
            })?;
            Ok(Payer::Exchange {
                venue: v.0.clone(),
                credentials: Credentials {
                    api_key: c.api_key,
                    api_secret: c.api_secret,
                    withdraw_key: c.withdraw_key,
                },
                keep: c.keep_credentials,
            })
        }
        Location::Chain(chain) => {
            let text = payer_address.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterMissing,
                    "This quote pays from a wallet: send payer_address, the address you pay from.",
                )
                .param("payer_address")
            })?;
            let address = Address::parse(text, chain.namespace()).map_err(|e| {
                ApiError::new(ErrorCode::InvalidAddress, format!("payer_address: {e}."))
                    .param("payer_address")
            })?;
            Ok(Payer::Wallet {
                chain: chain.to_string(),
                asset: source.asset.to_string(),
                address,
            })
        }
    }
}

/// Starts executing an accepted, locked quote. Exchange payers are screened and the first
/// leg stored at once; wallet payers get where to pay.
pub async fn start(
    state: &AppState,
    intent: &PaymentIntent,
    quote_id: &str,
    stored_json: &str,
    locked: LockedQuote,
    graph: Graph,
    payer: Payer,
) -> Result<RouteExecution, ApiError> {
    let now_ms = state.clock.now_ms();
    let mut exec = RouteExecution {
        id: new_execution_id(),
        quote_id: quote_id.to_owned(),
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        status: "awaiting_funds".into(),
        funding: String::new(),
        funding_ref: None,
        plan: None,
        graph: stored_json.to_owned(),
        failure_code: None,
        failure_message: None,
        returned: None,
        version: 1,
        next_at_ms: now_ms,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    let mut legs = Vec::new();
    match payer {
        Payer::Wallet {
            chain,
            asset,
            address,
        } => {
            exec.funding = serialize(&Funding::Wallet {
                chain,
                asset,
                payer: address.to_string(),
                tx_hash: None,
            })?;
        }
        Payer::Exchange {
            venue,
            credentials,
            keep,
        } => {
            // The account's on-chain identity, to screen: its deposit address on the settlement
            // chain (the venue answers it for these credentials).
            let screened_as = account_address(state, intent, &venue, &credentials).await?;
            let account = link_account(state, intent, &venue, &credentials, keep).await?;
            exec.funding = serialize(&Funding::Exchange {
                account: account.id.clone(),
                venue,
            })?;
            let subject = subject(intent, vec![screened_as], None, Some(&account));
            legs = screen_and_plan(state, &mut exec, intent, subject, locked, &graph).await?;
        }
    }
    match state.store.create_execution(&exec, &legs).await? {
        CasOutcome::Updated => Ok(exec),
        CasOutcome::Conflict => Err(ApiError::new(
            ErrorCode::QuoteAlreadyAccepted,
            "This quote is already being executed.",
        )),
    }
}

/// The exchange account's deposit address for the settlement coin on the settlement chain.
async fn account_address(
    state: &AppState,
    intent: &PaymentIntent,
    venue: &str,
    credentials: &Credentials,
) -> Result<String, ApiError> {
    let unavailable = |why: String| {
        tracing::warn!(venue, error = %why, "exchange account address unavailable");
        ApiError::new(
            ErrorCode::ExchangeUnavailable,
            "The exchange did not answer for this account; retry shortly.",
        )
    };
    let asset = &intent.settlement.asset;
    let coin = rialto_connectors::exchange::AssetCode::new(&asset.symbol.to_ascii_uppercase())
        .ok_or_else(|| ApiError::internal(&"asset code"))?;
    let chain = asset.id.chain().clone();
    let venues = state.venues.get(&intent.livemode).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ExchangeUnavailable,
            "No exchange venues are configured for this mode.",
        )
    })?;
    let address = intent.settlement.address.to_string();
    let client = crate::exchange::client(venue, credentials, venues, (&coin, &chain, &address))
        .map_err(|e| super::exchange_accounts::exchange_error(&e))?;
    client
        .deposit_address(&coin, &chain)
        .await
        .map(|d| d.address)
        .map_err(|e| unavailable(e.to_string()))
}

/// The screening subject of a routed payment.
/// The value screened is what the merchant is paid (limits and travel rule apply to it).
fn subject(
    intent: &PaymentIntent,
    payers: Vec<String>,
    tx_hash: Option<String>,
    account: Option<&ExchangeAccount>,
) -> FundsSubject {
    FundsSubject {
        chain: intent.settlement.asset.id.chain().to_string(),
        payer_addresses: payers,
        asset: Some(intent.settlement.asset.code.clone()),
        amount: Some(intent.amount.to_amount_string()),
        tx_hash,
        payer_name: None,
        payer_country: None,
        account_holder: account.map(|a| format!("{} account {}", a.venue, a.id)),
        travel_rule: None,
    }
}

/// Screens the payer; on Clear the intent goes `converting` and the plan's first leg is
/// returned for storing. Held or blocked payers move no money.
async fn screen_and_plan(
    state: &AppState,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    subject: FundsSubject,
    locked: LockedQuote,
    graph: &Graph,
) -> Result<Vec<RouteLegRecord>, ApiError> {
    let now_ms = state.clock.now_ms();
    let outcome = screen_received_funds(state, intent, subject, now_ms).await?;
    let (screened, proof) = match outcome {
        FundsOutcome::Cleared { intent, proof } => (intent, proof),
        FundsOutcome::InReview { .. } => {
            exec.status = "held".into();
            return Ok(Vec::new());
        }
        FundsOutcome::Blocked { .. } => {
            exec.status = "failed".into();
            exec.failure_code = Some("compliance_blocked".into());
            exec.failure_message = Some("This payment cannot be processed.".into());
            return Ok(Vec::new());
        }
    };
    execute::move_intent(state, &screened, PaymentEvent::ConversionStarted, now_ms)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let cleared = proof.map(|_| locked);
    match execute::start_plan(state, exec, &screened, cleared, graph, now_ms) {
        Ok(legs) => {
            if legs.first().is_some_and(|l| l.kind == "settlement") {
                // Nothing to convert: the first leg already pays the merchant.
                execute::move_intent(state, &screened, PaymentEvent::SettlementStarted, now_ms)
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
            }
            Ok(legs)
        }
        Err(reason) => {
            exec.failure_code = Some(
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "no_route".into()),
            );
            exec.failure_message = Some("The quote could not be executed.".into());
            Ok(Vec::new())
        }
    }
}

/// Stores the payer's credentials sealed, on an exchange account of the intent.
async fn link_account(
    state: &AppState,
    intent: &PaymentIntent,
    venue: &str,
    credentials: &Credentials,
    keep: bool,
) -> Result<ExchangeAccount, ApiError> {
    let sealed = state
        .sealer
        .seal(&serde_json::to_string(credentials).map_err(|e| ApiError::internal(&e))?);
    let now = state.clock.now_ms();
    let account = ExchangeAccount {
        id: format!(
            "xa_{}",
            LegId::generate().to_string().trim_start_matches("leg_")
        ),
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        venue: venue.to_owned(),
        sealed_credentials: sealed,
        keep_credentials: keep,
        order_leg: LegId::generate().to_string(),
        withdrawal_leg: LegId::generate().to_string(),
        status: "routed".into(),
        venue_withdrawal_id: None,
        tx_hash: None,
        failure: None,
        conversion: None,
        created_at_ms: now,
        updated_at_ms: now,
        erased_at_ms: None,
    };
    state
        .store
        .create_exchange_account(&account)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::ExchangeRejected,
                "Another exchange account is already paying this intent.",
            )
        })?;
    Ok(account)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundParams {
    /// The transaction that sent the quoted amount to `pay_to.address`.
    pub tx_hash: String,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

async fn load_execution(
    state: &AppState,
    caller: &Caller,
    id: &str,
    client_secret: Option<&str>,
) -> Result<(RouteExecution, PaymentIntent), ApiError> {
    let not_found = || ApiError::missing("route_execution", id, "id");
    if !id.starts_with("rx_") {
        return Err(not_found());
    }
    let exec = state.store.get_execution(id).await?.ok_or_else(not_found)?;
    let intent = load_intent(
        state,
        caller,
        &exec.payment_intent_id.to_string(),
        client_secret,
    )
    .await
    .map_err(|_| not_found())?;
    Ok((exec, intent))
}

/// Follow an execution: its status, every leg, and the reason if it failed.
#[utoipa::path(
    get, path = "/v1/route_executions/{id}", operation_id = "retrieve_route_execution",
    tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = RouteExecutionObject), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (exec, _) = load_execution(&state, &caller, &id, None).await?;
    let object = execution_object(&state, &exec).await?;
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}

/// Report the wallet transaction that funds a wallet-sourced execution. It must send at
/// least the quoted amount of the quoted token from `payer_address` to `pay_to.address`, with
/// the chain's confirmations; one transaction funds one execution only.
#[utoipa::path(
    post, path = "/v1/route_executions/{id}/fund", operation_id = "fund_route_execution",
    tag = "routing", params(("id" = String, Path)), request_body = FundParams,
    responses((status = 200, body = RouteExecutionObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn fund(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: FundParams = parse_json(&body)?;
    let (mut exec, intent) =
        load_execution(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let same_tx = exec
        .funding_ref
        .as_deref()
        .is_some_and(|r| r.ends_with(&params.tx_hash.trim().to_ascii_lowercase()));
    if exec.status != "awaiting_funds" {
        if same_tx {
            // A repeated report of the transaction that funded it: the same answer.
            let object = execution_object(&state, &exec).await?;
            return Ok(json_response(StatusCode::OK, serialize(&object)?));
        }
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!("This execution is {}, not awaiting funds.", exec.status),
        ));
    }
    let Funding::Wallet {
        chain,
        asset,
        payer,
        ..
    } = serde_json::from_str::<Funding>(&exec.funding).map_err(|e| ApiError::internal(&e))?
    else {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "This execution is funded from an exchange account.",
        ));
    };
    let stored: crate::routing::StoredRoute =
        serde_json::from_str(&exec.graph).map_err(|e| ApiError::internal(&e))?;
    let observed = verify_funding(&state, &exec, &chain, &asset, &payer, &params.tx_hash).await?;
    let (quote, graph) = stored.clone().into_parts();
    let now_ms = state.clock.now_ms();
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    exec.funding_ref = Some(format!("{chain}:{}", observed.tx_hash.to_ascii_lowercase()));
    exec.funding = serialize(&Funding::Wallet {
        chain: chain.clone(),
        asset: asset.clone(),
        payer: payer.clone(),
        tx_hash: Some(observed.tx_hash.clone()),
    })?;
    let decimals = onchain::token_on(&state, &chain, &asset)
        .map_err(|e| ApiError::internal(&e))?
        .1;
    let arrived = Decimal::from(observed.amount_units) / Decimal::from(10u64.pow(decimals));
    let mut legs = Vec::new();
    // Bind the transaction to this execution first: a second report (or another execution
    // claiming the same transaction) loses here.
    // (A report repeated after a crash finds its transaction already bound and carries on.)
    let bound = if same_tx {
        Ok(CasOutcome::Updated)
    } else {
        state.store.save_execution_step(&exec, expected, &[]).await
    };
    match bound {
        Ok(CasOutcome::Updated) => {}
        Ok(CasOutcome::Conflict) | Err(_) => {
            return Err(ApiError::new(
                ErrorCode::TransactionAlreadyUsed,
                "This transaction already funds a payment.",
            ))
        }
    }
    let expected = if same_tx { expected } else { exec.version };
    exec.version = expected + 1;
    let locked = rialto_router::lock(quote.clone(), u64::try_from(now_ms / 1000).unwrap_or(0));
    let short = arrived < quote.payer_amount;
    match (locked, short) {
        (Ok(locked), false) if awaiting(&intent).is_ok() => {
            let subject = subject(
                &intent,
                vec![payer.clone()],
                Some(observed.tx_hash.clone()),
                None,
            );
            legs = screen_and_plan(&state, &mut exec, &intent, subject, locked, &graph).await?;
            if exec.status == "failed" && exec.failure_code.as_deref() != Some("compliance_blocked")
            {
                legs.push(return_leg(&exec, &chain, &asset, &payer, arrived, now_ms)?);
                exec.status = "running".into();
            }
        }
        (locked, _) => {
            // Too late, too little, or the intent moved on: everything goes back.
            let code = if short {
                "funding_short"
            } else if locked.is_err() {
                "quote_expired"
            } else {
                "no_route"
            };
            exec.failure_code = Some(code.into());
            exec.failure_message =
                Some("The funds did not match an open quote; they are being sent back.".into());
            legs.push(return_leg(&exec, &chain, &asset, &payer, arrived, now_ms)?);
            exec.status = "running".into();
        }
    }
    if !legs.is_empty() || exec.status != "awaiting_funds" {
        state
            .store
            .save_execution_step(&exec, expected, &legs)
            .await?;
    }
    let object = execution_object(&state, &exec).await?;
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}

/// A leg sending `amount` back to the payer from the hot wallet (nothing was converted).
fn return_leg(
    exec: &RouteExecution,
    chain: &str,
    asset: &str,
    payer: &str,
    amount: Decimal,
    now_ms: i64,
) -> Result<RouteLegRecord, ApiError> {
    let spec = LegSpec::Chain {
        leg: ChainLeg::Transfer {
            chain: chain.to_owned(),
            asset: asset.to_owned(),
            to: payer.to_owned(),
            amount,
        },
    };
    Ok(RouteLegRecord {
        id: LegId::generate().to_string(),
        execution_id: exec.id.clone(),
        seq: 1,
        kind: "return".into(),
        venue: "rialto".into(),
        from_node: format!("{asset}@{chain}"),
        to_node: format!("payer:{payer}"),
        input: amount.to_string(),
        topup: "0".into(),
        min_output: amount.to_string(),
        spec: serialize(&spec)?,
        status: "created".into(),
        received: None,
        failure: None,
        external_ref: None,
        not_before_ms: now_ms,
        created_at_ms: now_ms,
        submitted_at_ms: None,
        finished_at_ms: None,
    })
}

/// The funding transfer, read from the chain: from the payer, to the hot wallet, in the
/// quoted token, with the chain's confirmations.
async fn verify_funding(
    state: &AppState,
    exec: &RouteExecution,
    chain: &str,
    asset: &str,
    payer: &str,
    tx_hash: &str,
) -> Result<rialto_evm::transfers::ObservedTransfer, ApiError> {
    use rialto_evm::EvmError;
    let evm = state
        .chains
        .get(exec.livemode, chain)
        .ok_or_else(|| ApiError::new(ErrorCode::ChainUnavailable, "That chain is not served."))?;
    let (token, _) = onchain::token_on(state, chain, asset).map_err(|e| ApiError::internal(&e))?;
    let hot = onchain::hot_wallet(state, exec.livemode, chain)
        .map_err(|e| ApiError::internal(&e))?
        .address;
    let invalid = |code: ErrorCode, message: &str| ApiError::new(code, message).param("tx_hash");
    let observed =
        rialto_evm::transfers::observe_transfer(evm.rpc_url(), tx_hash.trim(), &token, &hot)
            .await
            .map_err(|e| match e {
                EvmError::TxNotFound(_) => invalid(
                    ErrorCode::TransactionNotFound,
                    "No mined transaction with that hash yet; retry once it is mined.",
                ),
                EvmError::TxFailed(_) => {
                    invalid(ErrorCode::TransactionFailed, "That transaction reverted.")
                }
                EvmError::NoMatchingTransfer { .. } => invalid(
                    ErrorCode::TransactionMismatch,
                    "That transaction sends nothing in the quoted token to the address to pay.",
                ),
                other => {
                    if other.to_string().contains("hash") {
                        invalid(
                            ErrorCode::TransactionInvalid,
                            "tx_hash is not a transaction hash.",
                        )
                    } else {
                        ApiError::new(
                            ErrorCode::ChainUnavailable,
                            "The chain cannot be read right now; retry.",
                        )
                    }
                }
            })?;
    if !observed.from.to_string().eq_ignore_ascii_case(payer) {
        return Err(invalid(
            ErrorCode::TransactionMismatch,
            "That transaction was not sent from payer_address.",
        ));
    }
    if observed.confirmations < evm.confirmations {
        return Err(invalid(
            ErrorCode::TransactionUnconfirmed,
            "That transaction needs more confirmations; retry shortly.",
        ));
    }
    Ok(observed)
}
