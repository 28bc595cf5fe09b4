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
use crate::exchange::Credentials;
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::store::quote::{
    ExecutionStatus, RouteExecution, RouteLegKind, RouteLegRecord, RouteLegStatus,
};
use crate::store::{CasOutcome, PaymentSource, PaymentTransaction};

mod books;
mod finish;
mod legs;
pub use books::*;
pub use finish::*;
use legs::*;

/// Why a step of a route execution could not be taken; the worker tries it again later.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Onchain(#[from] onchain::OnchainError),
    /// A screening or another engine step refused or failed.
    #[error("{}", .0.message)]
    Engine(#[from] crate::error::EngineError),
    /// A stored value or an answer this execution cannot use, with why.
    #[error("{0}")]
    Invalid(String),
}

impl From<String> for ExecError {
    fn from(why: String) -> Self {
        ExecError::Invalid(why)
    }
}

impl From<&str> for ExecError {
    fn from(why: &str) -> Self {
        ExecError::Invalid(why.to_owned())
    }
}

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
        /// What the funding transactions delivered, once bound: the first one's plus its
        /// `top_ups`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "rust_decimal::serde::str_option"
        )]
        amount: Option<Decimal>,
        /// The block the first funding transaction was mined in, once bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<u64>,
        /// Later transfers that topped a short funding up (`routing::start::topup`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        top_ups: Vec<crate::routing::start::TopUp>,
        /// Of `amount`, what the ledger has been posted (`route_funding`) so far.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "rust_decimal::serde::str_option"
        )]
        booked: Option<Decimal>,
        /// A misdirected deposit (`md_…`, `crate::chain::misdirected_convert`) swept to the hot
        /// wallet funds it: `payer` is its sender, `tx_hash` the sender's transfer to the
        /// deposit address, and the sweep leg (not this transfer) is what reached the hot
        /// wallet. Its funds are booked out of `rialto:misdirected`, not from payers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        misdirected: Option<String>,
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
    /// An issuing bank mints the deposit token to the treasury's wallet (`routing::issuer`).
    IssuerMint {
        mint: super::issuer::MintLeg,
    },
    /// No driver can send it (a generic bridge or a venue deposit): it fails at once, so the
    /// plan falls back.
    Unsupported {
        why: String,
    },
}

/// The `source` of the payment transaction a route's transfer to the merchant records.
pub const PAYMENT_SOURCE: PaymentSource = PaymentSource::Route;

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
/// withdrawal (to the address it was sent to), a swap's output (to the hot wallet) and an
/// issuer's mint (from the zero address to the treasury's wallet) and a CCIP message's delivery
/// (the destination off-ramp's release to the hot wallet, in the transaction that executed the
/// message). Transfers, returns and the devnet stand-in bridges' mints are rail legs the
/// gateway signed, which reconciliation already expects; a trade stays on the venue's books.
pub fn arrival(leg: &RouteLegRecord) -> Option<Arrival> {
    if leg.status != RouteLegStatus::Confirmed {
        return None;
    }
    let tx_hash = leg.tx_hash.clone()?;
    let amount: Decimal = leg.received.as_deref()?.parse().ok()?;
    match leg.spec.clone() {
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
        LegSpec::Chain {
            leg:
                ChainLeg::Bridge {
                    to_chain,
                    asset,
                    venue: Some(venue),
                    ..
                },
        } if venue == onchain::CCIP_VENUE => Some(Arrival {
            chain: to_chain,
            asset,
            tx_hash,
            to: None,
            from: None,
            amount,
            block: leg.block_number,
        }),
        // The bank's transaction, a `Transfer` from the zero address to the treasury's wallet.
        LegSpec::IssuerMint { mint } => Some(Arrival {
            chain: mint.chain,
            asset: mint.asset,
            tx_hash,
            to: Some(mint.wallet),
            from: Some(super::issuer::ZERO_ADDRESS.to_owned()),
            amount,
            block: leg.block_number,
        }),
        _ => None,
    }
}

/// The payer's transfers that funded a wallet execution, once bound (`funding` is the
/// execution's stored JSON): the first, then each top-up.
pub fn funding_arrivals(funding: &Funding) -> Vec<Arrival> {
    let Funding::Wallet {
        chain,
        asset,
        payer,
        tx_hash: Some(tx_hash),
        amount: Some(amount),
        block,
        top_ups,
        misdirected: None,
        ..
    } = funding.clone()
    else {
        return Vec::new();
    };
    let topped: Decimal = top_ups.iter().map(|t| t.amount).sum();
    let arrival = |tx_hash, amount, block: Option<u64>| Arrival {
        chain: chain.clone(),
        asset: asset.clone(),
        tx_hash,
        to: None,
        from: Some(payer.clone()),
        amount,
        block: block.and_then(|b| i64::try_from(b).ok()),
    };
    let mut out = vec![arrival(tx_hash, amount - topped, block)];
    out.extend(
        top_ups
            .into_iter()
            .map(|t| arrival(t.tx_hash, t.amount, t.block)),
    );
    out
}

/// The plan's policy for gateway executions: exchange accounts are the payer's, so Rialto's
/// top-ups only apply where Rialto holds the money (its addresses on chains).
pub fn policy() -> PlanPolicy {
    PlanPolicy {
        topup_on_venues: false,
        ..PlanPolicy::default()
    }
}

/// The leg to send for `order`, spelled out from the graph.
pub fn spec_for(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    graph: &Graph,
    order: &LegOrder,
) -> Result<LegSpec, ExecError> {
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
            let address = onchain::hot_wallet(state, exec.livemode, &network)
                .map_err(|e| e.to_string())?
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
        EdgeKind::Ccip { .. } => LegSpec::Chain {
            leg: ChainLeg::Bridge {
                from_chain: chain_of(&from.location)?,
                to_chain: chain_of(&to.location)?,
                asset: from.asset.to_string(),
                amount: order.input,
                fee: Decimal::ZERO,
                venue: Some(edge.venue.0.clone()),
            },
        },
        // The chains' bridge lanes are fixed-fee `Bridge` edges (see `onchain::edges`): the
        // mode's bridge carries them. A share-of-amount fee is no lane of it.
        EdgeKind::Bridge { fee_bps: 0, fixed } => LegSpec::Chain {
            leg: ChainLeg::Bridge {
                from_chain: chain_of(&from.location)?,
                to_chain: chain_of(&to.location)?,
                asset: from.asset.to_string(),
                amount: order.input,
                fee: *fixed,
                venue: Some(edge.venue.0.clone()),
            },
        },
        EdgeKind::Bridge { .. } => LegSpec::Unsupported {
            why: "no bridge with a share-of-amount fee is configured".into(),
        },
        EdgeKind::Transfer { .. } => LegSpec::Unsupported {
            why: "deposits into a venue are not driven".into(),
        },
        EdgeKind::IssuerMint(fees) => {
            let out_dp = graph.asset(graph.node_info(edge.to).asset).decimals;
            let mint =
                super::issuer::mint_leg(state, exec.livemode, fees, &to, order.input, out_dp)?;
            LegSpec::IssuerMint { mint }
        }
        EdgeKind::IssuerRedeem(_) => LegSpec::Unsupported {
            why: "redemptions are not driven by routes".into(),
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
) -> Result<RouteLegRecord, ExecError> {
    let (kind, venue) = match order.edge {
        Some(e) => (
            RouteLegKind::of_router(order.kind),
            graph.edge(e).venue.0.clone(),
        ),
        None => (RouteLegKind::Settlement, "rialto".to_owned()),
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
        spec: spec.clone(),
        status: RouteLegStatus::Created,
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
    (cleared, funded): (
        rialto_compliance::Cleared<LockedQuote>,
        Option<rialto_router::Funded>,
    ),
    graph: &Graph,
    now_ms: i64,
) -> Result<Vec<RouteLegRecord>, GiveUpReason> {
    let now = u64::try_from(now_ms / 1000).unwrap_or(0);
    let (plan, next) = match funded {
        None => rialto_router::execute(cleared, graph, policy(), now)?,
        Some(funded) => rialto_router::execute_funded(cleared, graph, policy(), now, funded)?,
    };
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
    exec.plan = Some(plan);
    exec.status = ExecutionStatus::Running;
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
                ExecutionStatus::Running,
                ExecutionStatus::AwaitingReconciliation,
                ExecutionStatus::Starting,
                ExecutionStatus::AwaitingFunds,
                ExecutionStatus::Held,
            ],
            now_ms,
            100,
        )
        .await
    {
        Ok(d) => d,
        Err(err) => {
            crate::telemetry::worker_failed("routing");
            tracing::warn!(error = %err, "route executions not read; will retry");
            return 0;
        }
    };
    crate::telemetry::route_executions_due(&due);
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
async fn step(state: &Engine, mut exec: RouteExecution, now_ms: i64) -> Result<bool, ExecError> {
    if exec.status == ExecutionStatus::Held {
        return after_review(state, exec, now_ms).await;
    }
    if exec.status == ExecutionStatus::AwaitingFunds && exec.funding_ref.is_some() {
        // Funded and bound, and the request that reported it died before the start.
        let intent = intent_of(state, &exec).await?;
        return crate::routing::start::start_funded(state, exec, &intent, false)
            .await
            .map(|_| true)
            .map_err(ExecError::from);
    }
    if matches!(
        exec.status,
        ExecutionStatus::Starting | ExecutionStatus::AwaitingFunds
    ) {
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
                l.status,
                RouteLegStatus::Created
                    | RouteLegStatus::Sending
                    | RouteLegStatus::Submitted
                    | RouteLegStatus::Unknown
            )
        })
        .cloned()
    else {
        return Ok(false);
    };
    let spec: LegSpec = leg.spec.clone();
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    let leg_id: LegId = leg.id.parse().map_err(|_| format!("leg id {}", leg.id))?;
    if leg.status == RouteLegStatus::Sending {
        // Marked as being sent, and the answer never stored (a crash, or a lapsed claim).
        // Never sent blind: the venue is asked by the leg's reference first.
        // On-chain legs answer at once (the rail stored every transaction before broadcasting
        // it, and submitting again returns the stored one): only venue sends need to settle.
        // So does an issuer: it holds every request under the leg's reference.
        let answers_now = matches!(
            spec,
            LegSpec::Chain { .. } | LegSpec::Unsupported { .. } | LegSpec::IssuerMint { .. }
        );
        let since = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
        if !answers_now && now_ms - since < SEND_SETTLE_MS {
            return Ok(false);
        }
        match was_sent(state, &exec, &leg_id, &spec).await {
            Some(true) => {
                leg.status = RouteLegStatus::Submitted;
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
    if matches!(
        leg.status,
        RouteLegStatus::Created | RouteLegStatus::Sending
    ) {
        return send_leg(state, exec, expected, leg, &leg_id, &spec, now_ms).await;
    }
    let asked = ask(state, &exec, &leg_id, &spec, now_ms).await;
    let outcome = match asked {
        Asked::Pending => {
            let sent_at = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
            if leg.status == RouteLegStatus::Submitted && now_ms - sent_at > UNKNOWN_AFTER_MS {
                LegOutcome::Unknown
            } else {
                // Nothing to store: the next pass asks again.
                return Ok(false);
            }
        }
        Asked::Unknown if leg.status == RouteLegStatus::Unknown => return Ok(false),
        Asked::Unknown => LegOutcome::Unknown,
        Asked::Confirmed(received, delivery) => {
            leg.received = Some(received.to_string());
            if let Some((tx_hash, block)) = delivery {
                leg.tx_hash = Some(tx_hash);
                leg.block_number = block;
            }
            if leg.external_ref.is_none() {
                leg.external_ref = bridge_message_id(state, &exec, &leg_id, &spec).await;
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

/// A confirmed bridge leg's message id (CCIP), kept as its `external_ref`; none for other legs
/// or when it cannot be read (logged).
async fn bridge_message_id(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
) -> Option<String> {
    let LegSpec::Chain {
        leg: chain_leg @ ChainLeg::Bridge { .. },
    } = spec
    else {
        return None;
    };
    match onchain::bridge::message_id(state, exec.livemode, leg, chain_leg).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(%leg, error = %e, "bridge message id unreadable");
            None
        }
    }
}

/// Sends a leg that is due (`created`, or `sending` and known not to have arrived): marked
/// `sending` first, then sent under its id; a refusal fails it into the plan.
async fn send_leg(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    mut leg: RouteLegRecord,
    leg_id: &LegId,
    spec: &LegSpec,
    now_ms: i64,
) -> Result<bool, ExecError> {
    if now_ms < leg.not_before_ms {
        return Ok(false);
    }
    let retried = leg.failure.is_some();
    if retried
        && now_ms - leg.created_at_ms.max(leg.not_before_ms) > GIVE_UP_SENDING_MS
        && was_sent(state, &exec, leg_id, spec).await == Some(false)
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
    leg.status = RouteLegStatus::Sending;
    leg.submitted_at_ms = Some(now_ms);
    if !save(state, &exec, expected, std::slice::from_ref(&leg)).await? {
        return Ok(false);
    }
    let expected = exec.version;
    exec.version += 1;
    let sent = send(state, &exec, leg_id, spec, now_ms).await;
    // Sending can take a while (the venue clients retry): what follows is dated after it.
    let now_ms = state.clock.now_ms();
    let outcome = match sent {
        Sent::Ok(external) => {
            leg.status = RouteLegStatus::Submitted;
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
            leg.status = RouteLegStatus::Created;
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
