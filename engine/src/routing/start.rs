//! Executing accepted quotes: accepting starts the execution (`rx_…`), a wallet payer reports
//! the funding transaction (`POST /v1/route_executions/{id}/fund`), and anyone holding the
//! intent's keys can follow it (`GET /v1/route_executions/{id}`). See `routing::execute`.

use crate::store::exchange::ExchangeAccountStatus;
use crate::webhooks::Sealer;
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_core::intent::{PaymentEvent, PaymentIntent};
use rialto_router::{Funded, Graph, Location, LockedQuote};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::compliance::flow::{rescreen_funds, screen_received_funds, FundsOutcome, FundsSubject};
use crate::error::{EngineError, ErrorCode};
use crate::exchange::Credentials;
use crate::routing::execute::{self, Funding};
use crate::routing::onchain;
use crate::services::Engine;
use crate::store::exchange::ExchangeAccount;
use crate::store::quote::{ExecutionStatus, RouteExecution, RouteLegKind, RouteLegRecord};
use crate::store::CasOutcome;

mod funding;
mod topup;
pub use funding::*;
pub use topup::TopUp;
use topup::{add_top_up, await_top_up, fresh_route, unbooked_postings};

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
    /// `trade`, `withdrawal`, `dex_swap`, `ccip`, `bridge`, `settlement`, `return` (the payer's
    /// funds going back after a failure), `surplus_return` (a wallet payer's over-payment going
    /// back once the merchant is paid), `issuer_mint` (an issuing bank's mint of the deposit
    /// token, its request under the leg id).
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
    /// Once confirmed: the on-chain transaction that delivered `received` (the venue's
    /// withdrawal, the swap, the bridge's mint, the transfer); none for a trade on the
    /// venue's books.
    pub tx_hash: Option<String>,
    /// The venue's own reference for the leg, once sent: the bank's request reference for an
    /// `issuer_mint` (the leg id), the CCIP message id (`0x…`) for a confirmed `ccip` leg, the
    /// venue's order or withdrawal id for a `trade` or `withdrawal`.
    pub external_reference: Option<String>,
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
    /// `awaiting_funds`, `running` (also while an over-payment goes back after the merchant
    /// was paid), `awaiting_reconciliation`, `held`, `frozen`, `succeeded`, `failed`,
    /// `return_failed` (funds Rialto holds could not be sent back: an operator sends them).
    pub status: String,
    /// For a wallet source: where to send the quoted amount.
    pub pay_to: Option<PayToObject>,
    /// For a wallet source, once a transfer is reported: what the payer's transfers delivered
    /// so far (the first and each top-up), in `pay_to`'s asset. Still `awaiting_funds` with
    /// this set, the funding is short and waits for a top-up until the quote expires (the
    /// intent's `payment_detail` says `underpaid` / `awaiting_top_up`).
    pub received: Option<String>,
    /// Set when it failed: `slippage`, `no_route`, `venue_unavailable`,
    /// `insufficient_liquidity`, `execution_reverted`, `oracle_unavailable`, `quote_expired`,
    /// `compliance_blocked`, `funding_short`.
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Where the payer's funds went back from, and how much (`reason: "overpayment"` for a
    /// surplus; `held: true` when the payer no longer screens clear and an operator decides).
    pub returned: Option<serde_json::Value>,
    pub legs: Vec<RouteLegObject>,
    /// The oracle rounds the locked quote's conversions were checked against.
    pub price_sources: Vec<PriceStampObject>,
}

/// One Chainlink round (or the USD reference) a conversion was checked against.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PriceStampObject {
    pub pair: String,
    pub price: String,
    /// Decimal string (round ids exceed 2^53); `0` for the `USD/USD` reference.
    pub round_id: String,
    /// Unix seconds.
    pub updated_at: u64,
}

fn leg_object(l: &RouteLegRecord) -> RouteLegObject {
    RouteLegObject {
        id: l.id.clone(),
        kind: l.kind.as_str().to_owned(),
        venue: l.venue.clone(),
        from: l.from_node.clone(),
        to: l.to_node.clone(),
        input: l.input.clone(),
        topup: l.topup.clone(),
        min_output: l.min_output.clone(),
        status: l.status.as_str().to_owned(),
        received: l.received.clone(),
        failure: l.failure.clone(),
        tx_hash: l.tx_hash.clone(),
        external_reference: l.external_ref.clone(),
    }
}

/// The execution as the API shows it.
pub async fn execution_object(
    state: &Engine,
    exec: &RouteExecution,
) -> Result<RouteExecutionObject, EngineError> {
    let legs = state.store.route_legs(&exec.id).await?;
    object_of(state, exec, &legs)
}

fn pay_to(
    state: &Engine,
    exec: &RouteExecution,
    quote: &rialto_router::Quote,
    chain: &str,
    asset: &str,
) -> Result<PayToObject, String> {
    let (token, _) = onchain::token_on(state, chain, asset).map_err(|e| e.to_string())?;
    Ok(PayToObject {
        chain: chain.to_owned(),
        asset: asset.to_owned(),
        token: token.to_string(),
        address: onchain::hot_wallet(state, exec.livemode, chain)
            .map_err(|e| e.to_string())?
            .address
            .to_string(),
        amount: quote.payer_amount.to_string(),
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
) -> Result<Payer, EngineError> {
    let source = stored.graph.describe(stored.route.source);
    match &source.location {
        Location::Venue(v) => {
            let c = credentials.ok_or_else(|| {
                EngineError::new(
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
                EngineError::new(
                    ErrorCode::ParameterMissing,
                    "This quote pays from a wallet: send payer_address, the address you pay from.",
                )
                .param("payer_address")
            })?;
            let address = Address::parse(text, chain.namespace()).map_err(|e| {
                EngineError::new(ErrorCode::InvalidAddress, format!("payer_address: {e}."))
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

/// How long an exchange execution may stay `starting` (accepted, not yet screened) before the
/// worker decides the request that accepted it died: nothing has moved then.
pub const STARTING_GRACE_MS: i64 = 60_000;
/// How long after its quote expired an unfunded wallet execution waits before it ends.
pub const FUNDING_GRACE_MS: i64 = 5 * 60_000;
/// How long a bound wallet funding (the transaction verified and stored by `fund`) waits
/// before the worker starts it itself, the request that bound it having died. Shorter than
/// the quote's 60 s lifetime, or a crash right after the bind always ends in a return.
pub const BOUND_GRACE_MS: i64 = 5_000;

/// An execution ready to be stored with its quote's acceptance.
#[derive(Debug)]
pub struct Prepared {
    pub exec: RouteExecution,
    /// Exchange payers: their linked account and who they are screened as.
    account: Option<(ExchangeAccount, AccountIdentity)>,
}

/// Builds the execution of an accepted quote. Exchange payers' credentials are stored sealed
/// on an exchange account and the venue is asked for the account's address (the payer is
/// screened as it); nothing moves.
pub async fn prepare(
    state: &Engine,
    intent: &PaymentIntent,
    quote_id: &str,
    stored_json: &str,
    expires_at: i64,
    payer: Payer,
) -> Result<Prepared, EngineError> {
    let now_ms = state.clock.now_ms();
    // Wallet payers have until the quote expires (and a grace) to fund it; exchange payers are
    // screened and started at once.
    let (funding, status, next_at_ms, account) = match payer {
        Payer::Wallet {
            chain,
            asset,
            address,
        } => (
            Funding::Wallet {
                chain,
                asset,
                payer: address.to_string(),
                tx_hash: None,
                amount: None,
                block: None,
                top_ups: Vec::new(),
                booked: None,
                misdirected: None,
            },
            ExecutionStatus::AwaitingFunds,
            expires_at.saturating_mul(1000) + FUNDING_GRACE_MS,
            None,
        ),
        Payer::Exchange {
            venue,
            credentials,
            keep,
        } => {
            // The account's on-chain identity, to screen: its deposit address on the settlement
            // chain (the venue answers it for these credentials).
            let screened_as = account_identity(state, intent, &venue, &credentials).await?;
            let account = link_account(
                state,
                intent,
                (&venue, &screened_as.address),
                &credentials,
                keep,
            )
            .await?;
            (
                Funding::Exchange {
                    account: account.id.clone(),
                    venue,
                },
                ExecutionStatus::Starting,
                now_ms + STARTING_GRACE_MS,
                Some((account, screened_as)),
            )
        }
    };
    let exec = RouteExecution {
        id: new_execution_id(),
        quote_id: quote_id.to_owned(),
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        status,
        funding,
        funding_ref: None,
        plan: None,
        graph: stored_json.to_owned(),
        failure_code: None,
        failure_message: None,
        returned: None,
        version: 1,
        next_at_ms,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    Ok(Prepared { exec, account })
}

/// The quote was not accepted after all: the linked account goes (its credentials with it).
pub async fn abandon(state: &Engine, prepared: Prepared) {
    if let Some((mut account, _)) = prepared.account {
        account.status = ExchangeAccountStatus::Failed;
        account.failure = Some("the quote was not accepted".into());
        account.updated_at_ms = state.clock.now_ms();
        if let Err(err) = state.store.update_exchange_account(&account).await {
            tracing::warn!(account = %account.id, error = %err, "abandoned account not closed");
        }
    }
}

/// After the acceptance is stored: an exchange payer is screened and the plan's first leg
/// stored (with the request's idempotency record, `record` given the answer's execution
/// object). Wallet payers have nothing more to do until they pay.
pub async fn complete_start(
    state: &Engine,
    intent: &PaymentIntent,
    prepared: Prepared,
    locked: LockedQuote,
    graph: &Graph,
    record: &(dyn Fn(&RouteExecutionObject) -> Result<Option<crate::store::IdempotencyRecord>, EngineError>
          + Sync),
) -> Result<RouteExecutionObject, EngineError> {
    let Prepared { mut exec, account } = prepared;
    let Some((_account, screened_as)) = account else {
        return object_of(state, &exec, &[]);
    };
    let expected = exec.version;
    exec.version += 1;
    let chain = intent.settlement.asset.id.chain().to_string();
    let subject = subject(
        intent,
        &chain,
        vec![screened_as.address],
        None,
        screened_as.holder,
    );
    let legs = screen_and_plan(state, &mut exec, intent, subject, (locked, None), graph).await?;
    if exec.status == ExecutionStatus::Starting {
        exec.status = ExecutionStatus::Failed;
    }
    if exec.status != ExecutionStatus::Running {
        // Held, blocked or not executable: nothing moved; the next pass only tidies up.
        exec.next_at_ms = state.clock.now_ms();
    }
    let object = object_of(state, &exec, &legs)?;
    let idempotency = record(&object)?;
    match state
        .store
        .save_execution_step(&exec, expected, &legs, idempotency.as_ref(), &[])
        .await
    {
        Ok(CasOutcome::Updated) => {
            crate::telemetry::route_execution_saved(&exec);
            Ok(object)
        }
        Ok(CasOutcome::Conflict) => Err(EngineError::new(
            ErrorCode::RouteExecutionUnexpectedState,
            "This payment changed while it was started; retrieve its execution.",
        )),
        Err(crate::store::StoreError::IdempotencyKeyTaken) => Ok(object),
        Err(err) => Err(err.into()),
    }
}

/// The execution object from what is in hand (nothing read back).
pub fn object_of(
    state: &Engine,
    exec: &RouteExecution,
    legs: &[RouteLegRecord],
) -> Result<RouteExecutionObject, EngineError> {
    // The stored route holds the whole graph: read once.
    let stored = serde_json::from_str::<crate::routing::StoredRoute>(&exec.graph).ok();
    let pay_to = match (&exec.funding, &stored) {
        // A swept misdirected deposit funds it: there is nothing for anyone to pay.
        (
            Funding::Wallet {
                chain,
                asset,
                misdirected: None,
                ..
            },
            Some(s),
        ) => pay_to(state, exec, &s.quote, chain, asset).ok(),
        _ => None,
    };
    let price_sources = stored
        .map(|s| {
            s.quote
                .price_sources
                .iter()
                .map(|p| PriceStampObject {
                    pair: p.pair.clone(),
                    price: p.price.to_string(),
                    round_id: p.round_id.to_string(),
                    updated_at: p.updated_at,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RouteExecutionObject {
        object: "route_execution".into(),
        price_sources,
        id: exec.id.clone(),
        quote: exec.quote_id.clone(),
        payment_intent: exec.payment_intent_id.to_string(),
        status: exec.status.as_str().to_owned(),
        pay_to,
        received: match &exec.funding {
            Funding::Wallet {
                amount: Some(amount),
                ..
            } => Some(amount.normalize().to_string()),
            _ => None,
        },
        failure_code: exec.failure_code.clone(),
        failure_message: exec.failure_message.clone(),
        returned: exec
            .returned
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        legs: legs.iter().map(leg_object).collect(),
    })
}

/// The exchange account's deposit address for the settlement coin (USDC for a minted deposit
/// token) on the settlement chain, and its holder's name where the venue gives it.
async fn account_identity(
    state: &Engine,
    intent: &PaymentIntent,
    venue: &str,
    credentials: &Credentials,
) -> Result<AccountIdentity, EngineError> {
    let unavailable = |why: String| {
        tracing::warn!(venue, error = %why, "exchange account address unavailable");
        EngineError::new(
            ErrorCode::ExchangeUnavailable,
            "The exchange did not answer for this account; retry shortly.",
        )
    };
    let asset = &intent.settlement.asset;
    // A deposit token the bank mints is no venue's: the account withdraws USDC, the float's
    // funding asset (`routing::market`), so its USDC address is the one screened.
    let symbol = match crate::routing::issuer::desk_for(state, intent) {
        Some(_) => crate::routing::issuer::FLOAT_FUNDING.to_owned(),
        None => asset.symbol.to_ascii_uppercase(),
    };
    let coin = rialto_connectors::exchange::AssetCode::new(&symbol)
        .ok_or_else(|| EngineError::internal(&"asset code"))?;
    let chain = asset.id.chain().clone();
    let venues = state.venues.get(&intent.livemode).ok_or_else(|| {
        EngineError::new(
            ErrorCode::ExchangeUnavailable,
            "No exchange venues are configured for this mode.",
        )
    })?;
    let address = intent.settlement.address.to_string();
    let target = crate::exchange::SettlementTarget {
        asset: &coin,
        chain: &chain,
        address: &address,
    };
    let client = venues
        .client(venue, credentials, target)
        .map_err(|e| crate::exchange::exchange_error(&e))?;
    let address = client
        .deposit_address(&coin, &chain)
        .await
        .map(|d| d.address)
        .map_err(|e| unavailable(e.to_string()))?;
    let holder = client
        .account_holder()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(AccountIdentity { address, holder })
}

/// Who a linked exchange account is, as the venue answers for its credentials.
#[derive(Debug)]
struct AccountIdentity {
    /// Its deposit address for the settlement coin on the settlement chain.
    address: String,
    /// The holder's name, where the venue's API gives one.
    holder: Option<String>,
}

/// The screening subject of a routed payment.
/// The value screened is what the merchant is paid (limits and travel rule apply to it).
fn subject(
    intent: &PaymentIntent,
    chain: &str,
    payers: Vec<String>,
    tx_hash: Option<String>,
    account_holder: Option<String>,
) -> FundsSubject {
    FundsSubject {
        chain: chain.to_owned(),
        payer_addresses: payers,
        asset: Some(intent.settlement.asset.code.clone()),
        amount: Some(intent.amount.to_amount_string()),
        tx_hash,
        payer_name: None,
        payer_country: None,
        payer_identifiers: Default::default(),
        account_holder,
        travel_rule: None,
    }
}

/// Screens the payer; on Clear the intent goes `converting` and the plan's first leg is
/// returned for storing. Held or blocked payers move no money.
async fn screen_and_plan(
    state: &Engine,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    subject: FundsSubject,
    (locked, funded): (LockedQuote, Option<Funded>),
    graph: &Graph,
) -> Result<Vec<RouteLegRecord>, EngineError> {
    let now_ms = state.clock.now_ms();
    let outcome = screen_received_funds(state, intent, subject, now_ms).await?;
    let (screened, proof) = match outcome {
        FundsOutcome::Cleared { intent, proof } => (intent, proof),
        FundsOutcome::InReview { .. } => {
            exec.status = ExecutionStatus::Held;
            return Ok(Vec::new());
        }
        FundsOutcome::Blocked { .. } => {
            exec.status = ExecutionStatus::Failed;
            exec.failure_code = Some("compliance_blocked".into());
            exec.failure_message = Some("This payment cannot be processed.".into());
            return Ok(Vec::new());
        }
    };
    let cleared = proof.map(|_| locked);
    plan_cleared(state, exec, &screened, (cleared, funded), graph, now_ms).await
}

/// Resumes a start that died after the funds screening and before its plan was stored (the
/// intent is `funds_received` or `converting`): the funds are screened again, a fresh decision,
/// and the plan starts under that proof. Anything but a clear decision freezes the execution
/// with its case for an operator; nothing goes back to a payer who no longer clears.
async fn resume_plan(
    state: &Engine,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    subject: FundsSubject,
    (locked, funded): (LockedQuote, Option<Funded>),
    graph: &Graph,
) -> Result<Vec<RouteLegRecord>, EngineError> {
    let now_ms = state.clock.now_ms();
    tracing::warn!(execution = %exec.id, intent = %intent.id, status = %intent.status, "resuming an interrupted start");
    let Some(proof) = rescreen_funds(state, intent, &subject, now_ms).await? else {
        exec.status = ExecutionStatus::Frozen;
        exec.failure_code = Some("compliance_blocked".into());
        exec.failure_message = Some("This payment cannot be processed.".into());
        return Ok(Vec::new());
    };
    let cleared = proof.map(|_| locked);
    plan_cleared(state, exec, intent, (cleared, funded), graph, now_ms).await
}

/// Starts the plan of a cleared payment: the intent moves to `converting` (or on to `settling`
/// when the first leg already pays the merchant), or to `failed` when no plan can start.
async fn plan_cleared(
    state: &Engine,
    exec: &mut RouteExecution,
    screened: &PaymentIntent,
    (cleared, funded): (rialto_compliance::Cleared<LockedQuote>, Option<Funded>),
    graph: &Graph,
    now_ms: i64,
) -> Result<Vec<RouteLegRecord>, EngineError> {
    execute::move_intent(state, screened, PaymentEvent::ConversionStarted, now_ms)
        .await
        .map_err(|e| EngineError::internal(&e))?;
    match execute::start_plan(state, exec, screened, (cleared, funded), graph, now_ms) {
        Ok(legs) => {
            if legs
                .first()
                .is_some_and(|l| l.kind == RouteLegKind::Settlement)
            {
                // Nothing to convert: the first leg already pays the merchant.
                execute::move_intent(state, screened, PaymentEvent::SettlementStarted, now_ms)
                    .await
                    .map_err(|e| EngineError::internal(&e))?;
            }
            Ok(legs)
        }
        Err(reason) => {
            execute::move_intent(state, screened, PaymentEvent::RouteFailed, now_ms)
                .await
                .map_err(|e| EngineError::internal(&e))?;
            exec.status = ExecutionStatus::Failed;
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

/// Stores the payer's credentials sealed, on an exchange account of the intent, with the
/// account's deposit address the venue answered (where a refund goes by default).
async fn link_account(
    state: &Engine,
    intent: &PaymentIntent,
    (venue, deposit_address): (&str, &str),
    credentials: &Credentials,
    keep: bool,
) -> Result<ExchangeAccount, EngineError> {
    let id = format!(
        "xa_{}",
        LegId::generate().to_string().trim_start_matches("leg_")
    );
    let sealed = state.sealer.seal_for(
        &Sealer::row("exchange_accounts", &id),
        &serde_json::to_string(credentials).map_err(|e| EngineError::internal(&e))?,
    );
    let now = state.clock.now_ms();
    let account = ExchangeAccount {
        id,
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        venue: venue.to_owned(),
        sealed_credentials: sealed,
        keep_credentials: keep,
        order_leg: LegId::generate().to_string(),
        withdrawal_leg: LegId::generate().to_string(),
        status: ExchangeAccountStatus::Routed,
        venue_withdrawal_id: None,
        tx_hash: None,
        failure: None,
        conversion: None,
        deposit_address: Some(deposit_address.to_owned()),
        created_at_ms: now,
        updated_at_ms: now,
        erased_at_ms: None,
    };
    state
        .store
        .create_exchange_account(&account)
        .await
        .map_err(|_| {
            EngineError::new(
                ErrorCode::ExchangeRejected,
                "Another exchange account is already paying this intent.",
            )
        })?;
    Ok(account)
}
