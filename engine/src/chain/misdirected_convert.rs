//! Converting a misdirected deposit into its intent's settlement through the router
//! (`super::misdirected` has the protocol; docs/evm.md, "Misdirected deposits").
//!
//! A confirmed `detected` token deposit converts when its intent is still open (awaiting
//! funds, not expired, no route execution of it under way), the router quotes a route from what
//! arrived (the token at the chain's hot wallet) into the intent's settlement over on-chain
//! legs only (DEX swaps, bridge lanes), and the merchant's payment policy
//! (`crate::routing::policy::judge`) would start that route with what arrived. Then:
//!
//! 1. **Screen** the sender (as a return screens its destination): refused → held for an
//!    operator (`destination_refused`), nothing moves. Clear → `converting`, with
//!    `misdirected_received` booked.
//! 2. **Sweep**: the hot wallet sends the deposit address the gas of one token transfer (leg
//!    `misdirected_gas`), then the deposit address sends everything that arrived to the hot
//!    wallet (leg `misdirected_sweep`). Both are rail legs, recorded before they are sent.
//! 3. **Hand over**: once the sweep confirmed, a fresh quote is taken and accepted as a route
//!    execution funded by the swept amount (`Funding::Wallet` with `misdirected` set, the sender
//!    as payer); the row becomes `converted` with the execution's id, booked
//!    `misdirected_routed` (`rialto:misdirected` → `rialto:routing`) with the two legs' network
//!    fees, and the execution starts (`crate::routing::start::start_funded`: screened as the
//!    payer's funds, the merchant's policy on the amount, the plan, and the route's own
//!    fallback: what it holds goes back to the sender when the route gives up).
//! 4. **Fall back**: when the intent closed, no route or policy verdict lets it start any
//!    more, or the quote cannot be accepted, the swept funds go back to the sender from the hot
//!    wallet through the ordinary return (`returning`, the network cost of that return
//!    deducted and recorded). A sweep that failed leaves the funds at the deposit address,
//!    which returns them the ordinary way.
//!
//! The execution is found again by its funding (`misdirected` = the row's id), so a crash
//! between accepting it and moving the row hands the same execution over on the next pass.
//! Not converted: the native coin (no route starts from it), and intents whose price converts
//! into their settlement at a locked rate (`one_for_one` only: a stablecoin priced in its own
//! fiat or in itself).

use rialto_connectors::exchange::AssetCode;
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_router::{EdgeKind, Location};
use rust_decimal::Decimal;

use super::misdirected::{hold, posting, whole, Decision, Hold, MISDIRECTED_GAS};
use super::misdirected_return::{deposit_key, gas_ready};
use super::rail::{FeeLimits, FlowError, LegAction, LegRequest, StoreJournal};
use super::Chain;
use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
use crate::ledger::Account;
use crate::routing::execute::Funding;
use crate::routing::market::{self, FundingSource};
use crate::routing::policy::{self, Verdict};
use crate::routing::{oracle, StoredRoute};
use crate::services::Engine;
use crate::store::chain::{ChainTransfer, LegStatus};
use crate::store::misdirected::{MisdirectedDeposit, MisdirectedStatus, MisdirectedUpdate};
use crate::store::quote::{
    AcceptOutcome, ExecutionStatus, QuoteRecord, QuoteStatus, RouteExecution,
};

/// The deposit address's sweep of a converting row to the hot wallet; reference: the row id.
pub const MISDIRECTED_SWEEP: &str = "misdirected_sweep";

/// Decides a confirmed `detected` row for conversion when it qualifies: `None` when it does
/// not (the caller returns it), else what was decided (its arrival booked with the move).
pub(super) async fn begin(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    received: Vec<crate::ledger::Posting>,
    now_ms: i64,
) -> Result<Option<Decision>, FlowError> {
    if row.token.is_none() || chain.hot_wallet.is_none() {
        return Ok(None);
    }
    if deposit_key(state, chain, row).await?.is_none() {
        return Ok(None);
    }
    if route_for(state, row, now_ms).await?.is_none() {
        return Ok(None);
    }
    if !sender_clear(state, chain, row, now_ms).await? {
        return hold(state, row, Hold::DestinationRefused, received, now_ms)
            .await
            .map(Some);
    }
    let moved = state
        .store
        .move_misdirected(
            &row.id,
            MisdirectedStatus::Detected,
            MisdirectedStatus::Converting,
            &MisdirectedUpdate::default(),
            &received,
            now_ms,
        )
        .await?;
    if moved {
        tracing::info!(id = %row.id, intent = %row.payment_intent_id, "misdirected deposit converting");
    }
    Ok(Some(if moved {
        Decision::Converting
    } else {
        Decision::Waiting
    }))
}

/// The sender, screened as a return's destination would be.
async fn sender_clear(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let (Ok(sender), Ok(merchant)) = (
        Address::parse(&row.sender, chain.family()),
        row.merchant_id.parse(),
    ) else {
        return Ok(false);
    };
    let at = OutgoingAddress {
        role: rialto_compliance::AddressRole::Payer,
        point: "misdirected_return",
        intent: Some(row.payment_intent_id),
    };
    screen_outgoing(state, &merchant, row.livemode, &sender, at, now_ms)
        .await
        .map_err(FlowError::Screening)
}

/// The intent of `row` when it can still be paid by a route: awaiting funds, not expired,
/// settling one for one with its price, and no route execution of it under way.
async fn open_intent(
    state: &Engine,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<Option<PaymentIntent>, FlowError> {
    let Some(intent) = state
        .store
        .get_intent_unscoped(&row.payment_intent_id)
        .await?
    else {
        return Ok(None);
    };
    if intent.status != PaymentStatus::AwaitingFunds
        || intent.expires_at_ms <= now_ms
        || !crate::chain::one_for_one(&intent)
        || market::intent_amount(&intent).is_err()
    {
        return Ok(None);
    }
    let busy = state
        .store
        .executions_of(&intent.id)
        .await?
        .iter()
        .any(|e| e.status != ExecutionStatus::Failed);
    Ok((!busy).then_some(intent))
}

/// A route from what arrived into the intent's settlement, over on-chain legs only, that the
/// merchant's policy would start with what arrived; with the open intent.
async fn route_for(
    state: &Engine,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<Option<(PaymentIntent, StoredRoute, Decimal)>, FlowError> {
    let Some(intent) = open_intent(state, row, now_ms).await? else {
        return Ok(None);
    };
    let Some(arrived) = whole(state, row, row.amount_units) else {
        return Ok(None);
    };
    let Some(stored) = quote(state, row, &intent, now_ms).await else {
        return Ok(None);
    };
    let amounts = policy::Funding {
        quoted: stored.quote.payer_amount,
        arrived,
        locked: stored.quote.intent_amount,
        settlement_decimals: intent.settlement.asset.decimals,
        // Nobody is asked to top a misdirected deposit up.
        top_up_open: false,
    };
    let settings =
        crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    Ok(match policy::judge(&settings, amounts) {
        Verdict::Start { .. } => Some((intent, stored, arrived)),
        Verdict::AwaitTopUp { .. } | Verdict::ReturnAll { .. } => None,
    })
}

/// The best quote from the row's token at the hot wallet into the intent, over on-chain legs
/// only (a venue leg would need the payer's account).
async fn quote(
    state: &Engine,
    row: &MisdirectedDeposit,
    intent: &PaymentIntent,
    now_ms: i64,
) -> Option<StoredRoute> {
    let asset = state.registry.asset(&row.asset.as_deref()?.parse().ok()?)?;
    let paid = AssetCode::new(&asset.code.as_str().to_ascii_uppercase())?;
    let coin = AssetCode::new(&intent.settlement.asset.symbol.to_ascii_uppercase())?;
    let now = u64::try_from(now_ms / 1000).ok()?;
    let target_chain = intent.settlement.asset.id.chain().to_string();
    let pairs = market::market_pairs(state, intent.livemode, &coin);
    let readings = oracle::readings(state, intent.livemode, &target_chain, &pairs, now)
        .await
        .ok()?;
    let source = FundingSource::Wallet {
        chain: row.chain_id.parse().ok()?,
        asset: paid,
    };
    let snapshot = market::snapshot(state, intent, &coin, &source, &readings)
        .await
        .ok()?;
    let amount = market::intent_amount(intent).ok()?;
    let quotes = match state.routing.quotes(&snapshot, &readings, amount, now) {
        Ok(q) => q,
        Err(why) => {
            tracing::info!(id = %row.id, ?why, "no route converts a misdirected deposit");
            return None;
        }
    };
    quotes.into_iter().find_map(|q| {
        let route = q.route()?.clone();
        let on_chain = route.legs.iter().all(|l| {
            matches!(
                snapshot.graph.edge(l.edge).kind,
                EdgeKind::Dex(_) | EdgeKind::Ccip { .. } | EdgeKind::Bridge { fee_bps: 0, .. }
            )
        });
        on_chain.then(|| StoredRoute {
            quote: q,
            route,
            graph: snapshot.graph.clone(),
        })
    })
}

/// Moves a `converting` row on: the sweep's legs sent (or resumed), then the hand-over to a
/// route execution, or the fall back to a return. `true` when the row moved.
pub(super) async fn advance(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let (Some(hot), Some(token)) = (
        chain.hot_wallet.as_ref(),
        row.token
            .as_deref()
            .and_then(|t| Address::parse(t, chain.family()).ok()),
    ) else {
        return fall_back(state, chain, row, now_ms).await;
    };
    let Some((key, deposit)) = deposit_key(state, chain, row).await? else {
        return fall_back(state, chain, row, now_ms).await;
    };
    let action = LegAction::Transfer {
        asset: Some(token),
        to: chain.node.address_of(hot)?,
        amount: row.amount_units,
    };
    if store
        .get_chain_transfer(MISDIRECTED_SWEEP, &row.id)
        .await?
        .is_none()
    {
        let Some(cap) = gas_ready(state, chain, row, &action, deposit, now_ms).await? else {
            return Ok(false);
        };
        // The head-room `gas_ready` funded and capped for.
        let extra_units = super::settle::token_headroom(chain, &action);
        let request = LegRequest {
            purpose: MISDIRECTED_SWEEP,
            reference: row.id.clone(),
            payment_intent_id: Some(row.payment_intent_id),
            from: key,
            action,
            fees: FeeLimits {
                max_fee_per_unit: Some(cap),
                extra_units,
                ..FeeLimits::default()
            },
        };
        let journal = StoreJournal(store);
        chain.rail(&journal).send(&request, now_ms).await?;
    }
    let Some(sweep) = store.get_chain_transfer(MISDIRECTED_SWEEP, &row.id).await? else {
        return Ok(false);
    };
    match sweep.status {
        LegStatus::Confirmed => hand_over(state, chain, row, &sweep, now_ms).await,
        // Still at the deposit address: it goes back from there.
        LegStatus::Failed => fall_back(state, chain, row, now_ms).await,
        _ => Ok(false),
    }
}

/// The conversion cannot (or can no longer) start: the ordinary return, from wherever the
/// funds are now (the hot wallet once swept).
async fn fall_back(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<bool, FlowError> {
    tracing::info!(id = %row.id, "misdirected deposit not converted; returning it");
    let decided = super::misdirected::decide(state, chain, row, false, now_ms).await?;
    Ok(decided != Decision::Waiting)
}

/// The sweep confirmed: the route execution it funds (accepted now, or found again), the row
/// `converted` with its postings, and the execution started.
async fn hand_over(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    sweep: &ChainTransfer,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let existing = store
        .executions_of(&row.payment_intent_id)
        .await?
        .into_iter()
        .find(
            |e| matches!(&e.funding, Funding::Wallet { misdirected: Some(m), .. } if *m == row.id),
        );
    let exec = match existing {
        Some(exec) => exec,
        None => match accept(state, row, now_ms).await? {
            Some(exec) => exec,
            None => return fall_back(state, chain, row, now_ms).await,
        },
    };
    let Some(amount) = whole(state, row, row.amount_units) else {
        return Err(FlowError::Ledger(format!(
            "misdirected {} unbookable",
            row.id
        )));
    };
    let mut postings: Vec<_> = posting(
        row,
        "misdirected_routed",
        vec![(Account::Misdirected, -amount), (Account::Routing, amount)],
        now_ms,
    )
    .into_iter()
    .collect();
    let gas = store.get_chain_transfer(MISDIRECTED_GAS, &row.id).await?;
    let legs: Vec<&ChainTransfer> = gas.iter().chain(std::iter::once(sweep)).collect();
    let owner = (
        row.merchant_id
            .parse()
            .map_err(|_| FlowError::Ledger(format!("merchant of {}", row.id)))?,
        row.livemode,
    );
    postings.extend(super::fee_postings(&state.registry, owner, &legs, now_ms));
    let update = MisdirectedUpdate {
        route_execution_id: Some(exec.id.clone()),
        ..MisdirectedUpdate::default()
    };
    let moved = store
        .move_misdirected(
            &row.id,
            MisdirectedStatus::Converting,
            MisdirectedStatus::Converted,
            &update,
            &postings,
            now_ms,
        )
        .await?;
    if moved && exec.status == ExecutionStatus::AwaitingFunds {
        start(state, exec, now_ms).await;
    }
    Ok(moved)
}

/// Starts the handed-over execution under a short claim; if this fails, the route worker
/// starts it (a funded execution still awaiting funds).
async fn start(state: &Engine, exec: RouteExecution, now_ms: i64) {
    let until = now_ms + 3 * crate::routing::start::BOUND_GRACE_MS;
    let claimed = matches!(
        state.store.claim_execution(&exec.id, now_ms, until).await,
        Ok(true)
    );
    if !claimed {
        return;
    }
    let id = exec.id.clone();
    let intent = match state
        .store
        .get_intent_unscoped(&exec.payment_intent_id)
        .await
    {
        Ok(Some(intent)) => intent,
        _ => return,
    };
    match crate::routing::start::start_funded(state, exec, &intent, false).await {
        Ok(done) => {
            tracing::info!(execution = %done.id, status = %done.status.as_str(), "misdirected deposit's route started");
            if let Err(err) = state.store.release_execution(&id, until).await {
                tracing::warn!(execution = %id, error = %err, "route execution not released");
            }
        }
        Err(err) => {
            tracing::warn!(execution = %id, error = %err.message, "misdirected deposit's route not started; the worker retries")
        }
    }
}

/// A fresh quote for the swept deposit, stored and accepted as its route execution (funded,
/// awaiting its start); `None` when the conversion can no longer start.
async fn accept(
    state: &Engine,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<Option<RouteExecution>, FlowError> {
    let Some((intent, stored, arrived)) = route_for(state, row, now_ms).await? else {
        return Ok(None);
    };
    let source = stored.graph.describe(stored.route.source);
    let Location::Chain(source_chain) = &source.location else {
        return Ok(None);
    };
    let quote = &stored.quote;
    let route_json =
        serde_json::to_string(&stored).map_err(|e| FlowError::Ledger(e.to_string()))?;
    let record = QuoteRecord {
        id: quote.id.to_string(),
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        status: QuoteStatus::Open,
        body: serde_json::json!({
            "object": "quote",
            "id": quote.id.to_string(),
            "payment_intent": intent.id.to_string(),
            "misdirected_deposit": row.id,
            "payer_amount": quote.payer_amount.to_string(),
            "intent_amount": quote.intent_amount.to_string(),
        })
        .to_string(),
        expires_at: i64::try_from(quote.expires_at).unwrap_or(i64::MAX),
        created_at: i64::try_from(quote.created_at).unwrap_or(0),
        accepted_at: None,
        route: Some(route_json.clone()),
    };
    state.store.create_quotes(&[record]).await?;
    let exec = RouteExecution {
        id: format!(
            "rx_{}",
            LegId::generate().to_string().trim_start_matches("leg_")
        ),
        quote_id: quote.id.to_string(),
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        status: ExecutionStatus::AwaitingFunds,
        funding: Funding::Wallet {
            chain: source_chain.to_string(),
            asset: source.asset.to_string(),
            payer: row.sender.clone(),
            tx_hash: Some(row.tx_hash.clone()),
            amount: Some(arrived),
            block: u64::try_from(row.block_number).ok(),
            top_ups: Vec::new(),
            booked: None,
            misdirected: Some(row.id.clone()),
        },
        // One per row (a transaction may carry several misdirected transfers).
        funding_ref: Some(format!("misdirected:{}", row.id)),
        plan: None,
        graph: route_json,
        failure_code: None,
        failure_message: None,
        returned: None,
        version: 1,
        next_at_ms: now_ms + crate::routing::start::BOUND_GRACE_MS,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    let now = now_ms / 1000;
    match state
        .store
        .accept_and_start(&exec.quote_id, now, &exec, None)
        .await?
    {
        AcceptOutcome::Accepted => Ok(Some(exec)),
        other => {
            tracing::info!(id = %row.id, ?other, "misdirected deposit's quote not accepted");
            Ok(None)
        }
    }
}
