//! Executing accepted quotes: the router's [`FundingPlan`] driven leg by leg as stored jobs.
//!
//! - **Start.** Accepting a quote creates the execution (`rx_…`). An exchange payer's account
//!   is the funding: the payer is screened at once (`screen_received_funds`), and only a Clear
//!   decision gives the `Cleared` proof `rialto_router::execute` takes; the intent moves to
//!   `converting`. A wallet payer first sends the quoted amount to the hot wallet on the
//!   source chain and reports the transaction (`fund`); it is verified on chain, bound to this
//!   execution only, screened, and then the plan starts the same way.
//! - **Legs are stored before they are sent.** Each step stores the plan (JSON, with the
//!   graph its indices refer to) and the new leg in one transaction, compare-and-set on the
//!   execution's version; the next pass sends it. The leg id is the idempotency key every
//!   venue or chain sees (client order id, withdrawal reference, rail leg reference), so a
//!   crash between storing and sending, or a second instance, never sends a leg twice.
//! - **Outcomes.** A sent leg is asked about until it confirms (the exact amount that
//!   arrived), fails (the venue or chain said no: the plan excludes it and falls back), or has
//!   been sent for [`UNKNOWN_AFTER_MS`] without an answer: then it is `unknown`, the plan waits
//!   for reconciliation, and the leg is only ever looked up again, never resent.
//! - **End.** The final leg pays the merchant's settlement address from the hot wallet on the
//!   settlement chain; its transaction is bound to the intent as a confirmed payment (source
//!   `route`) and the chain worker settles it (ledger `payment` and `settlement`). When the plan
//!   gives up, funds Rialto holds go back to the payer (a `return` leg: the wallet payer's
//!   address, or the exchange account's deposit address); funds still on the payer's exchange
//!   account never left it. The intent ends `failed` and the execution keeps the reason code.
//! - Every outcome feeds venue health (`Routing::record`), which scores the next quotes.

use rialto_connectors::exchange::{
    place_order_once, withdraw_once, AssetCode, Exchange, ExchangeError, OrderKind, OrderRequest,
    OrderStatus, Pair, RetryPolicy, Side, WithdrawalRequest, WithdrawalStatus,
};
use rialto_core::id::LegId;
use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
use rialto_router::{
    EdgeKind, FundingPlan, GiveUpReason, Graph, LegFailure, LegOrder, LegOutcome, Location,
    LockedQuote, Next, PlanPolicy, PricePolicy, PriceTable, RouteContext, ScorePolicy,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::onchain::{self, ChainLeg, LegProgress};
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::exchange::Credentials;
use crate::store::quote::{RouteExecution, RouteLegRecord};
use crate::store::{CasOutcome, PaymentTransaction};

/// A leg sent this long ago with no answer is `unknown`: it waits for reconciliation.
pub const UNKNOWN_AFTER_MS: i64 = 10 * 60 * 1000;
/// How long one pass holds an execution.
const CLAIM_MS: i64 = 30_000;
/// Executions stepped at once by one pass.
const PARALLEL_STEPS: usize = 8;
/// A leg left `sending` this long (its send never answered: longer than the exchange clients'
/// own sends and look-ups take) is looked up before anything else.
const SEND_SETTLE_MS: i64 = 5 * 60_000;
/// A leg that could not be sent for this long fails, and the plan falls back.
const GIVE_UP_SENDING_MS: i64 = 10 * 60 * 1000;
/// How soon a running execution is looked at again (0: every worker pass; only backoffs and
/// reconciliation waits delay it).
const POLL_MS: i64 = 0;

/// Where the payer's money comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Funding {
    /// The payer's linked account (`xa_…`, credentials sealed there) on `venue`.
    Exchange { account: String, venue: String },
    /// The payer's wallet: pays the hot wallet on `chain` from `payer`.
    Wallet {
        chain: String,
        asset: String,
        payer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx_hash: Option<String>,
        /// What the funding transaction delivered, once bound.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "rust_decimal::serde::str_option"
        )]
        amount: Option<Decimal>,
        /// The block the funding transaction was mined in, once bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<u64>,
    },
}

/// What one leg sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LegSpec {
    Trade {
        venue: String,
        base: String,
        quote: String,
        side: Side,
        #[serde(with = "rust_decimal::serde::str")]
        base_size: Decimal,
    },
    Withdrawal {
        venue: String,
        asset: String,
        network: String,
        address: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
    },
    Chain {
        leg: ChainLeg,
    },
    /// No driver can send it (a generic bridge or a venue deposit): it fails at once, so the
    /// plan falls back.
    Unsupported {
        why: String,
    },
}

/// The `source` of the payment transaction a route's transfer to the merchant records.
pub const PAYMENT_SOURCE: &str = "route";

/// Where money reached one of Rialto's addresses on chain through a transaction that is not a
/// rail leg of the gateway's own (so reconciliation would otherwise not expect it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// CAIP-2 or alias, as the route names it.
    pub chain: String,
    /// The token's symbol.
    pub asset: String,
    pub tx_hash: String,
    /// The recipient; `None` = the chain's hot wallet.
    pub to: Option<String>,
    /// From whom, when known (a wallet payer).
    pub from: Option<String>,
    pub amount: Decimal,
    /// The block it was mined in, where recorded.
    pub block: Option<i64>,
}

/// What a confirmed route leg delivered to Rialto from someone else's transaction: a venue's
/// withdrawal (to the address it was sent to) and a swap's output (to the hot wallet).
/// Transfers, returns and the bridge's mint are rail legs the gateway signed, which
/// reconciliation already expects; a trade stays on the venue's books.
pub fn arrival(leg: &RouteLegRecord) -> Option<Arrival> {
    if leg.status != "confirmed" {
        return None;
    }
    let tx_hash = leg.tx_hash.clone()?;
    let amount: Decimal = leg.received.as_deref()?.parse().ok()?;
    match serde_json::from_str::<LegSpec>(&leg.spec).ok()? {
        LegSpec::Withdrawal {
            network,
            asset,
            address,
            ..
        } => Some(Arrival {
            chain: network,
            asset,
            tx_hash,
            to: Some(address),
            from: None,
            amount,
            block: leg.block_number,
        }),
        LegSpec::Chain {
            leg: ChainLeg::Swap {
                chain, token_out, ..
            },
        } => Some(Arrival {
            chain,
            asset: token_out,
            tx_hash,
            to: None,
            from: None,
            amount,
            block: leg.block_number,
        }),
        _ => None,
    }
}

/// The payer's transfer that funded a wallet execution, once bound (`funding` is the
/// execution's stored JSON).
pub fn funding_arrival(funding: &str) -> Option<Arrival> {
    match serde_json::from_str::<Funding>(funding).ok()? {
        Funding::Wallet {
            chain,
            asset,
            payer,
            tx_hash: Some(tx_hash),
            amount: Some(amount),
            block,
        } => Some(Arrival {
            chain,
            asset,
            tx_hash,
            to: None,
            from: Some(payer),
            amount,
            block: block.and_then(|b| i64::try_from(b).ok()),
        }),
        _ => None,
    }
}

/// The plan's policy for gateway executions: exchange accounts are the payer's, so Rialto's
/// top-ups only apply where Rialto holds the money (its addresses on chains).
pub fn policy() -> PlanPolicy {
    PlanPolicy {
        topup_on_venues: false,
        ..PlanPolicy::default()
    }
}

fn plan_json(plan: &FundingPlan) -> Result<String, String> {
    serde_json::to_string(plan).map_err(|e| e.to_string())
}

/// The leg to send for `order`, spelled out from the graph.
pub fn spec_for(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    graph: &Graph,
    order: &LegOrder,
) -> Result<LegSpec, String> {
    let from = graph.describe(order.from);
    let to = graph.describe(order.to);
    let chain_of = |l: &Location| match l {
        Location::Chain(c) => Ok(c.to_string()),
        Location::Venue(v) => Err(format!("{v} is not a chain")),
    };
    let Some(edge_ix) = order.edge else {
        // The final transfer: from the hot wallet on the settlement chain to the merchant.
        return Ok(LegSpec::Chain {
            leg: ChainLeg::Transfer {
                chain: chain_of(&to.location)?,
                asset: to.asset.to_string(),
                to: intent.settlement.address.to_string(),
                amount: order.input,
            },
        });
    };
    let edge = graph.edge(edge_ix);
    let venue = edge.venue.0.clone();
    Ok(match &edge.kind {
        EdgeKind::Trade(book) => {
            let out_dp = graph.asset(graph.node_info(edge.to).asset).decimals;
            let (base, quote, base_size) = match book.side {
                // Buying: the base comes out; its size is what the route priced for the input.
                Side::Buy => {
                    let priced = edge
                        .kind
                        .forward(order.input, out_dp)
                        .map_err(|e| format!("the trade cannot carry {}: {e:?}", order.input))?;
                    (to.asset.clone(), from.asset.clone(), priced.output)
                }
                Side::Sell => (from.asset.clone(), to.asset.clone(), order.input),
            };
            LegSpec::Trade {
                venue,
                base: base.to_string(),
                quote: quote.to_string(),
                side: book.side,
                base_size,
            }
        }
        EdgeKind::Withdrawal { .. } => {
            let network = chain_of(&to.location)?;
            let address = onchain::hot_wallet(state, exec.livemode, &network)?
                .address
                .to_string();
            LegSpec::Withdrawal {
                venue,
                asset: from.asset.to_string(),
                network,
                address,
                amount: order.input,
            }
        }
        EdgeKind::Dex(_) => LegSpec::Chain {
            leg: ChainLeg::Swap {
                chain: chain_of(&from.location)?,
                token_in: from.asset.to_string(),
                token_out: to.asset.to_string(),
                amount_in: order.input,
                min_out: order.min_output,
            },
        },
        EdgeKind::Cctp { fee } => LegSpec::Chain {
            leg: ChainLeg::Bridge {
                from_chain: chain_of(&from.location)?,
                to_chain: chain_of(&to.location)?,
                asset: from.asset.to_string(),
                amount: order.input,
                fee: *fee,
            },
        },
        EdgeKind::Bridge { .. } => LegSpec::Unsupported {
            why: "no generic bridge driver is configured".into(),
        },
        EdgeKind::Transfer { .. } => LegSpec::Unsupported {
            why: "deposits into a venue are not driven".into(),
        },
    })
}

/// The stored leg for `order`, not yet sent.
fn leg_record(
    exec: &RouteExecution,
    graph: &Graph,
    order: &LegOrder,
    seq: i64,
    spec: &LegSpec,
    now_ms: i64,
) -> Result<RouteLegRecord, String> {
    let (kind, venue) = match order.edge {
        Some(e) => (
            match order.kind {
                rialto_router::LegKind::Trade => "trade",
                rialto_router::LegKind::Withdrawal => "withdrawal",
                rialto_router::LegKind::DexSwap => "dex_swap",
                rialto_router::LegKind::CctpBridge => "cctp_bridge",
                rialto_router::LegKind::Bridge => "bridge",
                rialto_router::LegKind::Transfer => "transfer",
            }
            .to_owned(),
            graph.edge(e).venue.0.clone(),
        ),
        None => ("settlement".to_owned(), "rialto".to_owned()),
    };
    Ok(RouteLegRecord {
        id: order.leg.to_string(),
        execution_id: exec.id.clone(),
        seq,
        kind,
        venue,
        from_node: graph.describe(order.from).to_string(),
        to_node: graph.describe(order.to).to_string(),
        input: order.input.to_string(),
        topup: order.topup.to_string(),
        min_output: order.min_output.to_string(),
        spec: serde_json::to_string(spec).map_err(|e| e.to_string())?,
        status: "created".into(),
        received: None,
        failure: None,
        external_ref: None,
        not_before_ms: now_ms + i64::from(order.delay_secs) * 1000,
        created_at_ms: now_ms,
        submitted_at_ms: None,
        finished_at_ms: None,
        tx_hash: None,
        block_number: None,
    })
}

/// Starts the plan of a cleared, locked quote: the first leg is stored with the plan.
/// `Err` carries the give-up reason when the quote can no longer be executed (expired).
pub fn start_plan(
    state: &Engine,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    cleared: rialto_compliance::Cleared<LockedQuote>,
    graph: &Graph,
    now_ms: i64,
) -> Result<Vec<RouteLegRecord>, GiveUpReason> {
    let now = u64::try_from(now_ms / 1000).unwrap_or(0);
    let (plan, next) = rialto_router::execute(cleared, graph, policy(), now)?;
    let Next::Execute(order) = next else {
        return Err(GiveUpReason::NoRoute);
    };
    let spec = spec_for(state, exec, intent, graph, &order).map_err(|e| {
        tracing::warn!(execution = %exec.id, error = %e, "first leg cannot be spelled out");
        GiveUpReason::NoRoute
    })?;
    let leg = leg_record(exec, graph, &order, 1, &spec, now_ms).map_err(|e| {
        tracing::warn!(execution = %exec.id, error = %e, "first leg cannot be stored");
        GiveUpReason::NoRoute
    })?;
    exec.plan = Some(plan_json(&plan).map_err(|_| GiveUpReason::NoRoute)?);
    exec.status = "running".into();
    exec.next_at_ms = now_ms;
    Ok(vec![leg])
}

/// Runs one pass over due executions; returns how many changed.
pub async fn tick(state: &Engine) -> usize {
    let now_ms = state.clock.now_ms();
    let due = match state
        .store
        .due_executions(
            &[
                "running",
                "awaiting_reconciliation",
                "starting",
                "awaiting_funds",
                "held",
            ],
            now_ms,
            100,
        )
        .await
    {
        Ok(d) => d,
        Err(err) => {
            tracing::warn!(error = %err, "route executions not read; will retry");
            return 0;
        }
    };
    // Executions are independent (each is claimed): a slow venue holds up only its own.
    use futures::StreamExt;
    futures::stream::iter(due)
        .map(|exec| one(state, exec))
        .buffer_unordered(PARALLEL_STEPS)
        .filter(|changed| std::future::ready(*changed))
        .count()
        .await
}

/// Claims, steps and releases one due execution; whether it changed.
async fn one(state: &Engine, exec: RouteExecution) -> bool {
    // Read now, not when the pass started: earlier steps of the pass may have taken a while.
    let now_ms = state.clock.now_ms();
    match state
        .store
        .claim_execution(&exec.id, now_ms, now_ms + CLAIM_MS)
        .await
    {
        Ok(true) => {}
        Ok(false) => return false,
        Err(err) => {
            tracing::warn!(execution = %exec.id, error = %err, "claim failed");
            return false;
        }
    }
    // Re-read after the claim: another instance may have stepped it just before.
    let Ok(Some(exec)) = state.store.get_execution(&exec.id).await else {
        return false;
    };
    let id = exec.id.clone();
    let stepped = step(state, exec, now_ms).await;
    if let Err(err) = state.store.release_execution(&id, now_ms + CLAIM_MS).await {
        tracing::warn!(execution = %id, error = %err, "claim not released; it lapses");
    }
    match stepped {
        Ok(changed) => changed,
        Err(err) => {
            tracing::warn!(execution = %id, error = %err, "route execution step failed; will retry");
            false
        }
    }
}

/// Runs [`tick`] every `poll_ms` until `shutdown` flips: its own task, so a slow venue never
/// holds up the chain worker's deposits and settlements.
pub async fn run_routing_worker(state: Engine, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(
        state.chains.poll_ms.max(10),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        tick(&state).await;
    }
}

/// What sending a leg gave.
enum Sent {
    Ok(Option<String>),
    Failed(LegFailure, String),
    Retry(String),
}

/// What asking about a sent leg gave.
enum Asked {
    Pending,
    /// What the leg delivered, and the on-chain transaction (with its block) that delivered
    /// it (none for a trade on the venue's books).
    Confirmed(Decimal, Option<(String, Option<i64>)>),
    Failed(LegFailure, String),
    Unknown,
}

/// One step of one execution: send the stored leg, or ask about the sent one and move the plan
/// on. Returns whether anything was stored.
async fn step(state: &Engine, mut exec: RouteExecution, now_ms: i64) -> Result<bool, String> {
    if exec.status == "held" {
        return after_review(state, exec, now_ms).await;
    }
    if exec.status == "awaiting_funds" && exec.funding_ref.is_some() {
        // Funded and bound, and the request that reported it died before the start.
        let intent = intent_of(state, &exec).await?;
        return crate::routing::start::start_funded(state, exec, &intent, false)
            .await
            .map(|_| true)
            .map_err(|e| e.message);
    }
    if matches!(exec.status.as_str(), "starting" | "awaiting_funds") {
        return end_unstarted(state, exec, now_ms).await;
    }
    let legs = state
        .store
        .route_legs(&exec.id)
        .await
        .map_err(|e| e.to_string())?;
    let Some(mut leg) = legs
        .iter()
        .rev()
        .find(|l| {
            matches!(
                l.status.as_str(),
                "created" | "sending" | "submitted" | "unknown"
            )
        })
        .cloned()
    else {
        return Ok(false);
    };
    let spec: LegSpec = serde_json::from_str(&leg.spec).map_err(|e| e.to_string())?;
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    let leg_id: LegId = leg.id.parse().map_err(|_| format!("leg id {}", leg.id))?;
    if leg.status == "sending" {
        // Marked as being sent, and the answer never stored (a crash, or a lapsed claim).
        // Never sent blind: the venue is asked by the leg's reference first.
        // On-chain legs answer at once (the rail stored every transaction before broadcasting
        // it, and submitting again returns the stored one): only venue sends need to settle.
        let answers_now = matches!(spec, LegSpec::Chain { .. } | LegSpec::Unsupported { .. });
        let since = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
        if !answers_now && now_ms - since < SEND_SETTLE_MS {
            return Ok(false);
        }
        match was_sent(state, &exec, &leg_id, &spec).await {
            Some(true) => {
                leg.status = "submitted".into();
                return save(state, &exec, expected, &[leg]).await;
            }
            // Definitely not there: sending it (under the same reference) cannot duplicate it.
            Some(false) => {}
            // Cannot be told for this long: unknown, for reconciliation (never resent).
            None if now_ms - since > UNKNOWN_AFTER_MS => {
                return advance(state, exec, expected, leg, LegOutcome::Unknown, now_ms).await;
            }
            None => return Ok(false),
        }
    }
    if matches!(leg.status.as_str(), "created" | "sending") {
        if now_ms < leg.not_before_ms {
            return Ok(false);
        }
        let retried = leg.failure.is_some();
        if retried
            && now_ms - leg.created_at_ms.max(leg.not_before_ms) > GIVE_UP_SENDING_MS
            && was_sent(state, &exec, &leg_id, &spec).await == Some(false)
        {
            // It could not be sent for this long (credentials gone, a leg the chain refuses):
            // the plan falls back instead of trying forever.
            leg.failure = Some("the leg could not be sent".into());
            let outcome = LegOutcome::Failed {
                reason: LegFailure::Rejected,
            };
            return advance(state, exec, expected, leg, outcome, now_ms).await;
        }
        // Recorded as being sent before anything reaches the venue or chain: a second instance
        // (or this one after a crash) sees `sending` and asks before it sends.
        leg.status = "sending".into();
        leg.submitted_at_ms = Some(now_ms);
        if !save(state, &exec, expected, std::slice::from_ref(&leg)).await? {
            return Ok(false);
        }
        let expected = exec.version;
        exec.version += 1;
        let sent = send(state, &exec, &leg_id, &spec, now_ms).await;
        // Sending can take a while (the venue clients retry): what follows is dated after it.
        let now_ms = state.clock.now_ms();
        let outcome = match sent {
            Sent::Ok(external) => {
                leg.status = "submitted".into();
                leg.failure = None;
                leg.submitted_at_ms = Some(now_ms);
                leg.external_ref = external;
                exec.next_at_ms = now_ms + POLL_MS;
                return save(state, &exec, expected, &[leg]).await;
            }
            Sent::Retry(why) => {
                // Nothing was sent: back to `created` for the next pass.
                tracing::warn!(leg = %leg.id, error = %why, "leg not sent; will retry");
                leg.failure = Some(format!("not sent yet: {why}"));
                leg.status = "created".into();
                leg.submitted_at_ms = None;
                return save(state, &exec, expected, &[leg]).await;
            }
            Sent::Failed(reason, why) => {
                leg.failure = Some(why);
                LegOutcome::Failed { reason }
            }
        };
        return advance(state, exec, expected, leg, outcome, now_ms).await;
    }
    let asked = ask(state, &exec, &leg_id, &spec, now_ms).await;
    let outcome = match asked {
        Asked::Pending => {
            let sent_at = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
            if leg.status == "submitted" && now_ms - sent_at > UNKNOWN_AFTER_MS {
                LegOutcome::Unknown
            } else {
                // Nothing to store: the next pass asks again.
                return Ok(false);
            }
        }
        Asked::Unknown if leg.status == "unknown" => return Ok(false),
        Asked::Unknown => LegOutcome::Unknown,
        Asked::Confirmed(received, delivery) => {
            leg.received = Some(received.to_string());
            if let Some((tx_hash, block)) = delivery {
                leg.tx_hash = Some(tx_hash);
                leg.block_number = block;
            }
            LegOutcome::Confirmed { received }
        }
        Asked::Failed(reason, why) => {
            leg.failure = Some(why);
            LegOutcome::Failed { reason }
        }
    };
    advance(state, exec, expected, leg, outcome, now_ms).await
}

/// The payment intent an execution pays.
async fn intent_of(state: &Engine, exec: &RouteExecution) -> Result<PaymentIntent, String> {
    state
        .store
        .get_intent_unscoped(&exec.payment_intent_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("execution {} lost its intent", exec.id))
}

/// An execution held for compliance review, once the review ends. Approved: the lock is long
/// gone and the approval's proof is not the execution's, so nothing is converted; what Rialto
/// holds goes back to the payer (screened again) and the intent ends `failed`. Blocked: the
/// funds stay frozen with the case. Still in review: asked again later.
async fn after_review(
    state: &Engine,
    mut exec: RouteExecution,
    now_ms: i64,
) -> Result<bool, String> {
    let intent = intent_of(state, &exec).await?;
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    match intent.status {
        PaymentStatus::InReview => {
            exec.next_at_ms = now_ms + 10_000;
            save(state, &exec, expected, &[]).await
        }
        PaymentStatus::Blocked => {
            exec.status = "frozen".into();
            exec.failure_code = Some("compliance_blocked".into());
            exec.failure_message = Some("This payment cannot be processed.".into());
            save(state, &exec, expected, &[]).await
        }
        PaymentStatus::FundsReceived | PaymentStatus::Converting => {
            move_intent(state, &intent, PaymentEvent::ConversionStarted, now_ms).await?;
            exec.failure_code = Some("review_completed".into());
            exec.failure_message = Some(
                "The payment was released after review, after its quote expired; the funds go back."
                    .into(),
            );
            let mut legs = Vec::new();
            match serde_json::from_str::<Funding>(&exec.funding).map_err(|e| e.to_string())? {
                Funding::Wallet {
                    chain,
                    asset,
                    payer,
                    amount: Some(amount),
                    ..
                } if amount > Decimal::ZERO => {
                    if return_cleared(state, &exec, &chain, &payer, now_ms).await? {
                        legs.push(return_record(
                            &exec, 1, &chain, &asset, &payer, amount, now_ms,
                        )?);
                        exec.status = "running".into();
                    } else {
                        exec.status = "frozen".into();
                        exec.failure_code = Some("compliance_blocked".into());
                    }
                }
                // Nothing left the payer's exchange account.
                _ => {
                    move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
                    exec.status = "failed".into();
                }
            }
            save(state, &exec, expected, &legs).await
        }
        _ => {
            exec.status = "failed".into();
            exec.failure_code = Some("intent_not_open".into());
            save(state, &exec, expected, &[]).await
        }
    }
}

/// The kind of the leg sending a wallet payer's over-payment back once the merchant is paid.
pub const SURPLUS_RETURN: &str = "surplus_return";

/// What a wallet payer sent beyond the quote's payer amount stays with Rialto (the plan spends
/// exactly the quoted amount): once the merchant is paid it goes back to the payer, screened
/// again, from the hot wallet it arrived at. A payer who no longer screens clear leaves it
/// booked in `rialto:routing` for an operator, as `returned.held`.
async fn surplus_return(
    state: &Engine,
    exec: &mut RouteExecution,
    quoted: Decimal,
    seq: i64,
    now_ms: i64,
) -> Result<Option<RouteLegRecord>, String> {
    let Ok(Funding::Wallet {
        chain,
        asset,
        payer,
        amount: Some(arrived),
        ..
    }) = serde_json::from_str::<Funding>(&exec.funding)
    else {
        return Ok(None);
    };
    let surplus = arrived - quoted;
    if surplus <= Decimal::ZERO {
        return Ok(None);
    }
    let cleared = return_cleared(state, exec, &chain, &payer, now_ms).await?;
    exec.returned = Some(
        serde_json::json!({
            "from": format!("{asset}@{chain}"),
            "amount": surplus.to_string(),
            "treasury_share": "0",
            "reason": "overpayment",
            "held": !cleared,
        })
        .to_string(),
    );
    if !cleared {
        tracing::error!(execution = %exec.id, %surplus, "an over-payment's surplus cannot go back to a payer who no longer screens clear; held for an operator");
        return Ok(None);
    }
    let mut back = return_record(exec, seq, &chain, &asset, &payer, surplus, now_ms)?;
    back.kind = SURPLUS_RETURN.into();
    Ok(Some(back))
}

/// A `return` leg: `amount` of `asset` from the hot wallet on `chain` back to `to`.
#[allow(clippy::too_many_arguments)]
pub fn return_record(
    exec: &RouteExecution,
    seq: i64,
    chain: &str,
    asset: &str,
    to: &str,
    amount: Decimal,
    now_ms: i64,
) -> Result<RouteLegRecord, String> {
    let spec = LegSpec::Chain {
        leg: ChainLeg::Transfer {
            chain: chain.to_owned(),
            asset: asset.to_owned(),
            to: to.to_owned(),
            amount,
        },
    };
    Ok(RouteLegRecord {
        id: LegId::generate().to_string(),
        execution_id: exec.id.clone(),
        seq,
        kind: "return".into(),
        venue: "rialto".into(),
        from_node: format!("{asset}@{chain}"),
        to_node: format!("payer:{to}"),
        input: amount.to_string(),
        topup: "0".into(),
        min_output: amount.to_string(),
        spec: serde_json::to_string(&spec).map_err(|e| e.to_string())?,
        status: "created".into(),
        received: None,
        failure: None,
        external_ref: None,
        not_before_ms: now_ms,
        created_at_ms: now_ms,
        submitted_at_ms: None,
        finished_at_ms: None,
        tx_hash: None,
        block_number: None,
    })
}

/// Closes the exchange account an execution was started with, when it ends before anything
/// moved: its credentials go, and the intent can link another.
async fn close_account(state: &Engine, exec: &RouteExecution, now_ms: i64) {
    let Ok(Funding::Exchange { account, .. }) = serde_json::from_str::<Funding>(&exec.funding)
    else {
        return;
    };
    let Ok(accounts) = state
        .store
        .exchange_accounts_of(&exec.payment_intent_id)
        .await
    else {
        return;
    };
    for mut a in accounts
        .into_iter()
        .filter(|a| a.id == account && a.status == "routed")
    {
        a.status = "failed".into();
        a.failure = Some("the payment ended before anything moved".into());
        a.updated_at_ms = now_ms;
        if let Err(err) = state.store.update_exchange_account(&a).await {
            tracing::warn!(account = %a.id, error = %err, "exchange account not closed");
        }
    }
}

/// An execution that never started moving money and is now due: an exchange start whose
/// request died before the payer was screened and the first leg stored, or a wallet payer who
/// did not pay before the quote expired. It ends, and the quote is given up so the intent can
/// be quoted again (if it is still open). Funds reported later still go back (see `fund`).
async fn end_unstarted(
    state: &Engine,
    mut exec: RouteExecution,
    now_ms: i64,
) -> Result<bool, String> {
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    let (code, message) = if exec.status == "starting" {
        (
            "interrupted",
            "The payment was interrupted before anything moved; ask for new quotes.",
        )
    } else {
        (
            "quote_expired",
            "No funds arrived before the quote expired.",
        )
    };
    let intent = intent_of(state, &exec).await?;
    match intent.status {
        PaymentStatus::FundsReceived | PaymentStatus::Converting => {
            // Screened, then interrupted: the payer's funds never left their account.
            move_intent(state, &intent, PaymentEvent::ConversionStarted, now_ms).await?;
            move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
        }
        PaymentStatus::InReview => {
            // Interrupted after screening held it: the review decides (see `after_review`).
            exec.status = "held".into();
            exec.next_at_ms = now_ms + 10_000;
            return save(state, &exec, expected, &[]).await;
        }
        _ => {}
    }
    close_account(state, &exec, now_ms).await;
    exec.status = "failed".into();
    exec.failure_code = Some(code.into());
    exec.failure_message = Some(message.into());
    let saved = save(state, &exec, expected, &[]).await?;
    if saved {
        state
            .store
            .release_quote(&exec.quote_id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(saved)
}

async fn save(
    state: &Engine,
    exec: &RouteExecution,
    expected: i64,
    legs: &[RouteLegRecord],
) -> Result<bool, String> {
    save_with(state, exec, expected, legs, &[]).await
}

/// [`save`] with the step's ledger postings, in the same transaction.
async fn save_with(
    state: &Engine,
    exec: &RouteExecution,
    expected: i64,
    legs: &[RouteLegRecord],
    postings: &[crate::ledger::Posting],
) -> Result<bool, String> {
    match state
        .store
        .save_execution_step(exec, expected, legs, None, postings)
        .await
        .map_err(|e| e.to_string())?
    {
        CasOutcome::Updated => Ok(true),
        CasOutcome::Conflict => Ok(false),
    }
}

/// Reports `outcome` of `leg` to the plan and stores what comes next.
async fn advance(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    mut leg: RouteLegRecord,
    outcome: LegOutcome,
    now_ms: i64,
) -> Result<bool, String> {
    leg.status = match outcome {
        LegOutcome::Confirmed { .. } => "confirmed",
        LegOutcome::Failed { .. } => "failed",
        LegOutcome::Unknown => "unknown",
    }
    .into();
    if !matches!(outcome, LegOutcome::Unknown) {
        leg.finished_at_ms = Some(now_ms);
    }
    let intent = intent_of(state, &exec).await?;
    // A return leg (funds going back after a give-up, or an over-payment's surplus after the
    // merchant was paid) is not the plan's: it ends the run.
    if leg.kind == "return" || leg.kind == SURPLUS_RETURN {
        return finish_return(state, exec, expected, leg, &intent, now_ms).await;
    }
    let stored = serde_json::from_str::<super::StoredRoute>(&exec.graph)
        .map_err(|e| format!("stored route: {e}"))?;
    let quoted_payer_amount = stored.quote.payer_amount;
    let graph = stored.graph;
    let mut plan: FundingPlan = serde_json::from_str(exec.plan.as_deref().unwrap_or("null"))
        .map_err(|e| format!("stored plan: {e}"))?;
    let leg_id: LegId = leg.id.parse().map_err(|_| format!("leg id {}", leg.id))?;
    let now = u64::try_from(now_ms).unwrap_or(0);
    // Health: a finished leg counts (an unknown one only once reconciled).
    let edge = plan
        .in_flight()
        .filter(|o| o.leg == leg_id)
        .and_then(|o| o.edge);
    if let (Some(edge), false) = (edge, matches!(outcome, LegOutcome::Unknown)) {
        let sent = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
        let latency = u64::try_from(now_ms - sent).unwrap_or(0);
        let ok = matches!(outcome, LegOutcome::Confirmed { .. });
        state.routing.record(&graph, edge, ok, latency, now);
    }
    let prices = fresh_prices(state, &exec, &intent, &graph, now / 1000).await;
    let health = state.routing.health_for(&graph);
    let ctx = RouteContext {
        graph: &graph,
        prices: &prices,
        health: &health,
        now_ms: now,
        score: ScorePolicy::default(),
        max_legs: super::MAX_LEGS,
        labels_per_node: super::LABELS_PER_NODE,
    };
    let Some(in_flight) = plan.in_flight().filter(|o| o.leg == leg_id).cloned() else {
        // The stored leg is not the plan's in-flight one: never build on that.
        return Err(format!("leg {} is not the plan's leg in flight", leg.id));
    };
    let in_flight = Some(in_flight);
    let next = plan.on_outcome(leg_id, outcome, &ctx);
    let postings = match (outcome, in_flight) {
        (LegOutcome::Confirmed { received }, Some(order)) => {
            let mut postings = leg_postings(state, &exec, &graph, &order, received, now_ms);
            postings.extend(gas_postings(state, &exec, &order.leg, now_ms).await);
            postings
        }
        _ => Vec::new(),
    };
    exec.plan = Some(plan_json(&plan)?);
    exec.next_at_ms = now_ms + POLL_MS;
    let mut legs = vec![leg.clone()];
    match next {
        Next::Execute(order) => {
            let spec = spec_for(state, &exec, &intent, &graph, &order)?;
            let new = leg_record(&exec, &graph, &order, leg.seq + 1, &spec, now_ms)?;
            exec.next_at_ms = new.not_before_ms;
            if order.edge.is_none() {
                move_intent(state, &intent, PaymentEvent::SettlementStarted, now_ms).await?;
            }
            legs.push(new);
            exec.status = "running".into();
        }
        Next::WaitForReconciliation { .. } => {
            exec.status = "awaiting_reconciliation".into();
            exec.next_at_ms = now_ms + 10_000;
        }
        Next::Done { merchant_amount } => {
            bind_payment(state, &exec, &intent, &leg, merchant_amount, now_ms).await?;
            exec.status = "succeeded".into();
            if let Some(back) =
                surplus_return(state, &mut exec, quoted_payer_amount, leg.seq + 1, now_ms).await?
            {
                legs.push(back);
                exec.status = "running".into();
            }
        }
        Next::GiveUp {
            reason,
            return_funds,
        } => {
            exec.failure_code = Some(reason_code(reason).to_owned());
            exec.failure_message = Some(reason_message(reason).to_owned());
            let mut payer_share = return_funds.amount - return_funds.treasury_share;
            // A wallet payer's over-payment never entered the plan: it goes back with the rest
            // when the return leaves from where it arrived (otherwise it stays booked in
            // `rialto:routing` for an operator: docs/router.md).
            if let Ok(Funding::Wallet {
                chain,
                asset,
                amount: Some(arrived),
                ..
            }) = serde_json::from_str::<Funding>(&exec.funding)
            {
                let surplus = arrived - quoted_payer_amount;
                if surplus > Decimal::ZERO
                    && chain_node(&chain, &asset).ok() == Some(return_funds.at.clone())
                {
                    payer_share += surplus;
                }
            }
            let returned = serde_json::json!({
                "from": return_funds.at.to_string(),
                "amount": payer_share.to_string(),
                "treasury_share": return_funds.treasury_share.to_string(),
            });
            exec.returned = Some(returned.to_string());
            match &return_funds.at.location {
                Location::Chain(chain) if payer_share > Decimal::ZERO => {
                    let to = match refund_address(state, &exec, chain, &return_funds.at.asset).await
                    {
                        Ok(to) => to,
                        Err(why) => {
                            // Held by Rialto (booked in `rialto:routing`) until an operator
                            // sends it: never lost, never blindly guessed.
                            tracing::error!(execution = %exec.id, error = %why, "no address to return the payer's funds to");
                            exec.status = "return_failed".into();
                            move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
                            return save_with(state, &exec, expected, &legs, &postings).await;
                        }
                    };
                    if !return_cleared(state, &exec, &chain.to_string(), &to, now_ms).await? {
                        // Frozen in the treasury with the screening's case open.
                        exec.status = "frozen".into();
                        exec.failure_code = Some("compliance_blocked".into());
                        move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
                        return save_with(state, &exec, expected, &legs, &postings).await;
                    }
                    let back = return_record(
                        &exec,
                        leg.seq + 1,
                        &chain.to_string(),
                        return_funds.at.asset.as_str(),
                        &to,
                        payer_share,
                        now_ms,
                    )?;
                    legs.push(back);
                    exec.status = "running".into();
                }
                _ => {
                    // Still on the payer's exchange account (or nothing of the payer's left):
                    // nothing to send back.
                    move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
                    exec.status = "failed".into();
                }
            }
        }
    }
    save_with(state, &exec, expected, &legs, &postings).await
}

async fn finish_return(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    leg: RouteLegRecord,
    intent: &PaymentIntent,
    now_ms: i64,
) -> Result<bool, String> {
    if leg.status == "unknown" {
        exec.status = "awaiting_reconciliation".into();
    } else if leg.kind == SURPLUS_RETURN {
        // The merchant was paid; only the payer's surplus was outstanding.
        exec.status = if leg.status == "failed" {
            tracing::error!(execution = %exec.id, leg = %leg.id, "returning an over-payment's surplus failed; an operator must send it");
            "return_failed"
        } else {
            "succeeded"
        }
        .into();
    } else {
        if leg.status == "failed" {
            tracing::error!(execution = %exec.id, leg = %leg.id, "returning the payer's funds failed; an operator must send them");
            exec.status = "return_failed".into();
        } else {
            exec.status = "failed".into();
        }
        match intent.status {
            PaymentStatus::Converting | PaymentStatus::Settling => {
                move_intent(state, intent, PaymentEvent::RouteFailed, now_ms).await?;
            }
            // Nothing was converted (short or late funding): the intent can be quoted again.
            PaymentStatus::AwaitingFunds => state
                .store
                .release_quote(&exec.quote_id)
                .await
                .map_err(|e| e.to_string())?,
            _ => {}
        }
    }
    let mut postings = Vec::new();
    if leg.status == "confirmed" {
        if let Ok(LegSpec::Chain {
            leg:
                ChainLeg::Transfer {
                    chain,
                    asset,
                    amount,
                    ..
                },
        }) = serde_json::from_str::<LegSpec>(&leg.spec)
        {
            let node = chain_node(&chain, &asset)?;
            let asset = super::booking::asset_id(state, &node);
            postings = super::booking::returned(&exec, &asset, amount, &leg.id, now_ms);
            if let Ok(id) = leg.id.parse::<LegId>() {
                postings.extend(gas_postings(state, &exec, &id, now_ms).await);
            }
        }
    }
    save_with(state, &exec, expected, &[leg], &postings).await
}

/// `asset@chain` as a router node.
pub fn chain_node(chain: &str, asset: &str) -> Result<rialto_router::NodeRef, String> {
    Ok(rialto_router::NodeRef {
        asset: AssetCode::new(asset).ok_or_else(|| format!("asset {asset}"))?,
        location: Location::Chain(chain.parse().map_err(|_| format!("chain {chain}"))?),
    })
}

/// The `network_fee` postings of the transactions a confirmed route leg sent (gas used ×
/// effective price, from the receipts), in the chain's native asset.
async fn gas_postings(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    let sent = onchain::rail_legs(state, leg).await.unwrap_or_default();
    let refs: Vec<_> = sent.iter().collect();
    crate::chain::fee_postings(
        &state.registry,
        (exec.merchant_id, exec.livemode),
        &refs,
        now_ms,
    )
}

/// The postings of a confirmed leg of the plan (see `routing::booking`).
fn leg_postings(
    state: &Engine,
    exec: &RouteExecution,
    graph: &Graph,
    order: &LegOrder,
    received: Decimal,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    use super::booking;
    let Some(edge) = order.edge else {
        return Vec::new(); // the merchant's payment is booked when the intent settles
    };
    let edge = graph.edge(edge);
    let (from, to) = (graph.describe(order.from), graph.describe(order.to));
    let (asset_in, asset_out) = (
        booking::asset_id(state, &from),
        booking::asset_id(state, &to),
    );
    let leg = order.leg.to_string();
    let venue = edge.venue.0.as_str();
    match &edge.kind {
        EdgeKind::Trade(_) => booking::venue_trade(
            exec,
            venue,
            (&asset_in, order.input),
            (&asset_out, received),
            &leg,
            now_ms,
        ),
        EdgeKind::Withdrawal { .. } => booking::funding(exec, &asset_out, received, &leg, now_ms),
        EdgeKind::Dex(_) | EdgeKind::Cctp { .. } | EdgeKind::Bridge { .. } => booking::conversion(
            exec,
            venue,
            (&asset_in, order.input),
            (&asset_out, received),
            &leg,
            now_ms,
        ),
        EdgeKind::Transfer { .. } => Vec::new(),
    }
}

/// Whether `to` on `chain` screens clear as the destination of a return (OFAC and the block
/// lists, from the database): a refused payer's funds stay frozen, never sent back.
pub async fn return_cleared(
    state: &Engine,
    exec: &RouteExecution,
    chain: &str,
    to: &str,
    now_ms: i64,
) -> Result<bool, String> {
    use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
    let address =
        rialto_core::address::Address::parse(to, rialto_core::chain::ChainNamespace::Eip155)
            .map_err(|e| format!("return address {to}: {e}"))?;
    let _ = chain;
    screen_outgoing(
        state,
        &exec.merchant_id,
        exec.livemode,
        &address,
        OutgoingAddress {
            role: rialto_compliance::AddressRole::Payer,
            point: "route_return",
            intent: Some(exec.payment_intent_id),
        },
        now_ms,
    )
    .await
    .map_err(|e| e.message)
}

/// Where the payer's funds go back to on `chain`: the wallet payer's address, or the
/// exchange account's deposit address for the asset there.
async fn refund_address(
    state: &Engine,
    exec: &RouteExecution,
    chain: &rialto_core::ChainId,
    coin: &AssetCode,
) -> Result<String, String> {
    match serde_json::from_str::<Funding>(&exec.funding).map_err(|e| e.to_string())? {
        Funding::Wallet { payer, .. } => Ok(payer),
        Funding::Exchange { account, venue } => {
            let coin = coin.clone();
            let client = venue_client(state, exec, &account, &venue, &coin, chain, None).await?;
            client
                .deposit_address(&coin, chain)
                .await
                .map(|d| d.address)
                .map_err(|e| e.to_string())
        }
    }
}

fn reason_code(reason: GiveUpReason) -> &'static str {
    match reason {
        GiveUpReason::Slippage => "slippage",
        GiveUpReason::NoRoute => "no_route",
        GiveUpReason::VenueUnavailable => "venue_unavailable",
        GiveUpReason::InsufficientLiquidity => "insufficient_liquidity",
        GiveUpReason::ExecutionReverted => "execution_reverted",
        GiveUpReason::OracleUnavailable => "oracle_unavailable",
        GiveUpReason::QuoteExpired => "quote_expired",
    }
}

fn reason_message(reason: GiveUpReason) -> &'static str {
    match reason {
        GiveUpReason::Slippage => "Prices moved beyond what the locked quote could absorb.",
        GiveUpReason::NoRoute => "No remaining route could deliver the locked amount.",
        GiveUpReason::VenueUnavailable => "The venues this payment needed stayed unavailable.",
        GiveUpReason::InsufficientLiquidity => "There was not enough liquidity to convert.",
        GiveUpReason::ExecutionReverted => "The transactions this payment needed kept failing.",
        GiveUpReason::OracleUnavailable => "The prices this payment needed could not be checked.",
        GiveUpReason::QuoteExpired => "The quote expired before the funds arrived.",
    }
}

/// Moves the intent by `event` (compare-and-set; a move already made is fine).
pub async fn move_intent(
    state: &Engine,
    intent: &PaymentIntent,
    event: PaymentEvent,
    now_ms: i64,
) -> Result<(), String> {
    // Where this event leads, whatever the intent was: a repeated step finds it there already.
    let target = match event {
        PaymentEvent::ConversionStarted => Some(PaymentStatus::Converting),
        PaymentEvent::SettlementStarted => Some(PaymentStatus::Settling),
        PaymentEvent::RouteFailed => Some(PaymentStatus::Failed),
        _ => intent.status.apply(event).ok(),
    };
    for _ in 0..5 {
        let current = state
            .store
            .get_intent_unscoped(&intent.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("intent gone")?;
        let Ok(next) = current.transition(event, now_ms) else {
            // Already where this event leads (a repeated step), or somewhere it cannot go.
            if target == Some(current.status) {
                return Ok(());
            }
            return Err(format!(
                "intent {} is {}, cannot apply {event:?}",
                intent.id,
                current.status.as_str()
            ));
        };
        let kind = match next.status {
            PaymentStatus::Converting => "payment_intent.converting",
            PaymentStatus::Settling => "payment_intent.settling",
            PaymentStatus::Failed => "payment_intent.failed",
            _ => "payment_intent.updated",
        };
        let event = intent_event(&next, kind, &intent_json(&next), now_ms);
        match state
            .store
            .update_intent(current.status, &next, Some(&event), None)
            .await
            .map_err(|e| e.to_string())?
        {
            CasOutcome::Updated => return Ok(()),
            CasOutcome::Conflict => continue,
        }
    }
    Err(format!("intent {} kept changing", intent.id))
}

/// Binds the final transfer to the intent as its confirmed payment: the chain worker then
/// settles the intent and books it.
async fn bind_payment(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    leg: &RouteLegRecord,
    merchant_amount: Decimal,
    now_ms: i64,
) -> Result<(), String> {
    let transfer = state
        .store
        .get_chain_transfer(onchain::ROUTE_TRANSFER, &leg.id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the final transfer has no stored leg")?;
    let payment = PaymentTransaction {
        chain_id: intent.settlement.asset.id.chain().to_string(),
        tx_hash: transfer.tx_hash.clone(),
        payment_intent_id: intent.id,
        payer: format!("route:{}", exec.id),
        amount: merchant_amount.to_string(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: transfer.block_number.unwrap_or(0),
        block_hash: transfer.block_hash.clone().unwrap_or_default(),
        log_index: 0,
        status: crate::store::chain::TX_CONFIRMED.to_owned(),
        source: PAYMENT_SOURCE.to_owned(),
        created_at_ms: now_ms,
    };
    state
        .store
        .claim_transaction(&payment)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Oracle readings now, for re-planning: the plan's conversions are checked against them.
async fn fresh_prices(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    graph: &Graph,
    now: u64,
) -> PriceTable {
    let pairs: Vec<String> = graph.assets().map(|(_, a)| a.usd_pair.clone()).collect();
    let mut pairs = pairs;
    pairs.push("ETH/USD".into());
    let readings = match super::oracle::price_feed(state, exec.livemode) {
        Ok(feed) => {
            let target = crate::chain::eip155_id(&intent.settlement.asset.id.chain().to_string())
                .unwrap_or_default();
            let mut ids = vec![target];
            ids.extend(
                state
                    .chains
                    .iter()
                    .filter(|c| c.livemode == exec.livemode && c.chain_id != target)
                    .map(|c| c.chain_id),
            );
            super::oracle::read_prices(&feed, &ids, &pairs, now).await
        }
        Err(_) => super::oracle::PriceReadings::default(),
    };
    PriceTable::build(graph, &readings, now, PricePolicy::default())
}

/// The payer's venue client, from the credentials sealed on their exchange account.
async fn venue_client(
    state: &Engine,
    exec: &RouteExecution,
    account: &str,
    venue: &str,
    coin: &AssetCode,
    network: &rialto_core::ChainId,
    address: Option<&str>,
) -> Result<Box<dyn Exchange>, String> {
    let accounts = state
        .store
        .exchange_accounts_of(&exec.payment_intent_id)
        .await
        .map_err(|e| e.to_string())?;
    let account = accounts
        .into_iter()
        .find(|a| a.id == account)
        .ok_or("the exchange account is gone")?;
    let opened = state
        .sealer
        .open(&account.sealed_credentials)
        .map_err(|_| "the exchange credentials were erased".to_owned())?;
    let credentials: Credentials = serde_json::from_str(&opened).map_err(|e| e.to_string())?;
    let venues = state
        .venues
        .get(&exec.livemode)
        .ok_or("no venues in this mode")?;
    let address = address.unwrap_or("0x000000000000000000000000000000000000dEaD");
    crate::exchange::client(venue, &credentials, venues, (coin, network, address))
        .map_err(|e| e.to_string())
}

fn exchange_failure(err: &ExchangeError) -> Option<LegFailure> {
    Some(match err {
        ExchangeError::RateLimited { .. } => LegFailure::RateLimited,
        ExchangeError::Unavailable { .. } => LegFailure::VenueUnavailable,
        ExchangeError::InsufficientLiquidity { .. } => LegFailure::InsufficientLiquidity,
        ExchangeError::Unknown { .. } => return None,
        _ => LegFailure::Rejected,
    })
}

fn order_request(leg: &LegId, spec: &LegSpec) -> Option<OrderRequest> {
    let LegSpec::Trade {
        base,
        quote,
        side,
        base_size,
        ..
    } = spec
    else {
        return None;
    };
    Some(OrderRequest {
        leg: *leg,
        pair: Pair::new(AssetCode::new(base)?, AssetCode::new(quote)?),
        side: *side,
        base_size: *base_size,
        kind: OrderKind::Market,
    })
}

fn withdrawal_request(leg: &LegId, spec: &LegSpec) -> Option<WithdrawalRequest> {
    let LegSpec::Withdrawal {
        asset,
        network,
        address,
        amount,
        ..
    } = spec
    else {
        return None;
    };
    Some(WithdrawalRequest {
        leg: *leg,
        asset: AssetCode::new(asset)?,
        network: network.parse().ok()?,
        address: address.clone(),
        amount: *amount,
    })
}

fn exchange_funding(exec: &RouteExecution) -> Result<(String, String), String> {
    match serde_json::from_str::<Funding>(&exec.funding).map_err(|e| e.to_string())? {
        Funding::Exchange { account, venue } => Ok((account, venue)),
        Funding::Wallet { .. } => Err("a wallet payment has no exchange account".into()),
    }
}

/// The venue client for a trade or withdrawal leg.
async fn leg_client(
    state: &Engine,
    exec: &RouteExecution,
    spec: &LegSpec,
) -> Result<Box<dyn Exchange>, String> {
    let (account, _) = exchange_funding(exec)?;
    let (venue, coin, network, address) = match spec {
        LegSpec::Trade { venue, base, .. } => {
            let target = exec_target_chain(state, exec).await?;
            (venue, base, target, None)
        }
        LegSpec::Withdrawal {
            venue,
            asset,
            network,
            address,
            ..
        } => (
            venue,
            asset,
            network.parse().map_err(|_| format!("network {network}"))?,
            Some(address.as_str()),
        ),
        _ => return Err("not an exchange leg".into()),
    };
    let coin = AssetCode::new(coin).ok_or_else(|| format!("asset {coin}"))?;
    venue_client(state, exec, &account, venue, &coin, &network, address).await
}

async fn exec_target_chain(
    state: &Engine,
    exec: &RouteExecution,
) -> Result<rialto_core::ChainId, String> {
    let intent = intent_of(state, exec).await?;
    Ok(intent.settlement.asset.id.chain().clone())
}

async fn send(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
    now_ms: i64,
) -> Sent {
    match spec {
        LegSpec::Unsupported { why } => Sent::Failed(LegFailure::Rejected, why.clone()),
        LegSpec::Chain { leg: chain_leg } => {
            match onchain::submit(state, exec.livemode, leg, chain_leg, now_ms).await {
                Ok(()) => Sent::Ok(None),
                // Recorded but not broadcast (the node refused it, or went away): the rail
                // broadcasts stored legs again, so the leg is followed, never given up.
                Err(why) => match onchain::started(state, leg).await {
                    Ok(true) => Sent::Ok(None),
                    _ => Sent::Retry(why),
                },
            }
        }
        LegSpec::Trade { .. } | LegSpec::Withdrawal { .. } => {
            let client = match leg_client(state, exec, spec).await {
                Ok(c) => c,
                Err(why) => return Sent::Retry(why),
            };
            let policy = RetryPolicy::default();
            let placed = if let Some(order) = order_request(leg, spec) {
                place_order_once(client.as_ref(), &order, &policy)
                    .await
                    .map(|o| o.venue_order_id)
            } else if let Some(request) = withdrawal_request(leg, spec) {
                withdraw_once(client.as_ref(), &request, &policy)
                    .await
                    .map(|w| w.venue_withdrawal_id)
            } else {
                return Sent::Failed(LegFailure::Rejected, "malformed leg".into());
            };
            match placed {
                Ok(id) => Sent::Ok(Some(id)),
                Err(err) => match exchange_failure(&err) {
                    Some(reason) => Sent::Failed(reason, err.to_string()),
                    // The outcome was unknown even after the client's own look-ups: ask once
                    // more by the leg's reference. Found: it happened. Not found: the venue
                    // never took it (it failed). No answer: asked about from now on.
                    None => match lookup(client.as_ref(), leg, spec).await {
                        Ok(true) => Sent::Ok(None),
                        Ok(false) => Sent::Failed(LegFailure::VenueUnavailable, err.to_string()),
                        Err(_) => Sent::Ok(None),
                    },
                },
            }
        }
    }
}

/// Whether a leg left `sending` reached its venue or chain: `None` when that cannot be told
/// now. On-chain legs are recorded by the rail before they are broadcast, so a stored rail leg
/// answers; sending again returns the stored one.
async fn was_sent(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
) -> Option<bool> {
    match spec {
        LegSpec::Chain { .. } => onchain::started(state, leg).await.ok(),
        LegSpec::Unsupported { .. } => Some(false),
        LegSpec::Trade { .. } | LegSpec::Withdrawal { .. } => {
            let client = leg_client(state, exec, spec).await.ok()?;
            lookup(client.as_ref(), leg, spec).await.ok()
        }
    }
}

/// Whether the venue has the order or withdrawal of this leg.
async fn lookup(client: &dyn Exchange, leg: &LegId, spec: &LegSpec) -> Result<bool, ExchangeError> {
    if let Some(order) = order_request(leg, spec) {
        return client.find_order(&order).await.map(|o| o.is_some());
    }
    match withdrawal_request(leg, spec) {
        Some(request) => client.find_withdrawal(&request).await.map(|w| w.is_some()),
        None => Ok(false),
    }
}

async fn ask(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
    now_ms: i64,
) -> Asked {
    match spec {
        LegSpec::Unsupported { why } => Asked::Failed(LegFailure::Rejected, why.clone()),
        LegSpec::Chain { leg: chain_leg } => {
            match onchain::progress(state, exec.livemode, leg, chain_leg, now_ms).await {
                Ok(LegProgress::Pending) => Asked::Pending,
                Err(why) => {
                    tracing::warn!(leg = %leg, error = %why, "on-chain leg status unavailable; will retry");
                    Asked::Pending
                }
                Ok(LegProgress::Confirmed {
                    received,
                    tx_hash,
                    block,
                }) => Asked::Confirmed(received, Some((tx_hash, block))),
                Ok(LegProgress::Failed { reverted, why }) => Asked::Failed(
                    if reverted {
                        LegFailure::Reverted
                    } else {
                        LegFailure::Rejected
                    },
                    why,
                ),
                Ok(LegProgress::Unknown) => Asked::Unknown,
            }
        }
        LegSpec::Trade { .. } => {
            let (Ok(client), Some(order)) = (
                leg_client(state, exec, spec).await,
                order_request(leg, spec),
            ) else {
                return Asked::Pending;
            };
            match client.find_order(&order).await {
                Ok(Some(o)) if o.status.is_final() || o.status == OrderStatus::Filled => {
                    let fee_in_base = o.fee_asset.as_ref() == Some(&order.pair.base);
                    let fee_in_quote = o.fee_asset.as_ref() == Some(&order.pair.quote);
                    let received = match order.side {
                        Side::Buy => {
                            o.filled_base - if fee_in_base { o.fee } else { Decimal::ZERO }
                        }
                        Side::Sell => {
                            o.filled_quote - if fee_in_quote { o.fee } else { Decimal::ZERO }
                        }
                    };
                    if received > Decimal::ZERO {
                        Asked::Confirmed(received, None)
                    } else {
                        Asked::Failed(
                            LegFailure::InsufficientLiquidity,
                            format!("the order ended {:?} unfilled", o.status),
                        )
                    }
                }
                Ok(Some(_)) => Asked::Pending,
                Ok(None) => Asked::Unknown,
                Err(_) => Asked::Pending,
            }
        }
        LegSpec::Withdrawal { network, .. } => {
            let (Ok(client), Some(request)) = (
                leg_client(state, exec, spec).await,
                withdrawal_request(leg, spec),
            ) else {
                return Asked::Pending;
            };
            match client.find_withdrawal(&request).await {
                Ok(Some(w)) => match (&w.tx_hash, w.status) {
                    (_, WithdrawalStatus::Failed | WithdrawalStatus::Canceled) => Asked::Failed(
                        LegFailure::Rejected,
                        format!("the venue ended the withdrawal {:?}", w.status),
                    ),
                    (Some(hash), _) => landed(state, exec, network, &request, hash, w.fee).await,
                    (None, _) => Asked::Pending,
                },
                Ok(None) => Asked::Unknown,
                Err(_) => Asked::Pending,
            }
        }
    }
}

/// A withdrawal whose transaction the venue reported: confirmed once the chain shows the
/// token arriving at the hot wallet, with the chain's confirmations; the amount is the chain's.
async fn landed(
    state: &Engine,
    exec: &RouteExecution,
    network: &str,
    request: &WithdrawalRequest,
    hash: &str,
    _fee: Option<Decimal>,
) -> Asked {
    let Some(chain) = state.chains.get(exec.livemode, network) else {
        return Asked::Pending;
    };
    let Ok((token, decimals)) = onchain::token_on(state, network, request.asset.as_str()) else {
        return Asked::Pending;
    };
    let Ok(hot) = onchain::hot_wallet(state, exec.livemode, network).map(|h| h.address) else {
        return Asked::Pending;
    };
    match rialto_evm::transfers::observe_transfer(chain.rpc_url(), hash.trim(), &token, &hot).await
    {
        Ok(t) if t.confirmations >= chain.confirmations => {
            match onchain::from_units(t.amount_units, decimals) {
                Ok(amount) => {
                    let block = i64::try_from(t.block_number).ok();
                    Asked::Confirmed(amount, Some((t.tx_hash.clone(), block)))
                }
                Err(_) => Asked::Unknown,
            }
        }
        Ok(_) => Asked::Pending,
        Err(rialto_evm::EvmError::TxFailed(_)) => {
            Asked::Failed(LegFailure::Reverted, "the withdrawal reverted".into())
        }
        Err(_) => Asked::Pending,
    }
}
