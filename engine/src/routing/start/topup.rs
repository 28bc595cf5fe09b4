//! The side effects of the payment policy's top-up window and late window on wallet-funded
//! routes (`routing::policy`): the transfers bound to one execution, what of them the ledger
//! holds, and the fresh quote a late payment is judged against.

use super::*;
use rialto_core::intent::PaymentDetail;

/// A later transfer topping a short funding up, bound to its execution like the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub tx_hash: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
}

impl Funding {
    /// Every funding transaction a payer reported for the execution, as `funding_ref` names
    /// the first (`{chain}:{tx hash}`): the store keeps each one bound to one execution only.
    /// None for a swept misdirected deposit (bound by its row).
    pub fn transfer_refs(&self) -> Vec<String> {
        match self {
            // A swept misdirected deposit is bound by its row (`funding_ref`), not a transfer.
            Funding::Wallet {
                chain,
                tx_hash: Some(first),
                top_ups,
                misdirected: None,
                ..
            } => std::iter::once(first)
                .chain(top_ups.iter().map(|t| &t.tx_hash))
                .map(|h| format!("{chain}:{}", h.to_ascii_lowercase()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `tx_hash` is one of the bound transfers (reported again: it counts once).
    pub fn binds(&self, tx_hash: &str) -> bool {
        match self {
            Funding::Wallet {
                tx_hash: first,
                top_ups,
                ..
            } => first
                .iter()
                .chain(top_ups.iter().map(|t| &t.tx_hash))
                .any(|h| h.eq_ignore_ascii_case(tx_hash)),
            Funding::Exchange { .. } => false,
        }
    }
}

/// Adds a reported top-up to a wallet funding: `amount` becomes the total.
pub(super) fn add_top_up(funding: &mut Funding, top_up: TopUp) {
    if let Funding::Wallet {
        amount, top_ups, ..
    } = funding
    {
        *amount = Some(amount.unwrap_or_default() + top_up.amount);
        top_ups.push(top_up);
    }
}

/// The `route_funding` posting of what arrived and is not booked yet (each transfer is booked
/// by the step that follows its binding, so what Rialto holds while it waits for a top-up is
/// on the books); marks it booked on `exec`.
pub(super) fn unbooked_postings(
    state: &Engine,
    exec: &mut RouteExecution,
    now_ms: i64,
) -> Result<Vec<crate::ledger::Posting>, EngineError> {
    let Funding::Wallet {
        chain,
        asset,
        amount,
        booked,
        top_ups,
        misdirected: None,
        ..
    } = &mut exec.funding
    else {
        // A swept misdirected deposit was booked into `rialto:routing` when it was handed
        // over (`crate::chain::misdirected_convert`).
        return Ok(Vec::new());
    };
    let arrived = amount.unwrap_or_default();
    let before = booked.unwrap_or_default();
    if arrived <= before {
        return Ok(Vec::new());
    }
    let node = execute::chain_node(chain, asset).map_err(|e| EngineError::internal(&e))?;
    let asset_id = crate::routing::booking::asset_id(state, &node);
    // The first transfer's reference is the execution (as before top-ups existed); each
    // later one's is the execution and the transfer's place.
    let reference = if before.is_zero() {
        exec.id.clone()
    } else {
        format!("{}:top_up:{}", exec.id, top_ups.len())
    };
    *booked = Some(arrived);
    let delta = arrived - before;
    Ok(crate::routing::booking::funding(
        exec, &asset_id, delta, &reference, now_ms,
    ))
}

/// Waits for a top-up: the execution stays `awaiting_funds` (its `received` shows the total)
/// until the quote's lock ends, when the worker judges it again; the intent records
/// `underpaid` / `awaiting_top_up`.
pub(super) async fn await_top_up(
    state: &Engine,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    detail: PaymentDetail,
    window_end_ms: i64,
    now_ms: i64,
) -> Result<(), EngineError> {
    exec.status = ExecutionStatus::AwaitingFunds;
    exec.next_at_ms = window_end_ms;
    if intent.status == rialto_core::intent::PaymentStatus::AwaitingFunds
        && intent.payment_detail.as_ref() != Some(&detail)
    {
        crate::chain::policy::note(state, intent, None, detail, now_ms)
            .await
            .map_err(|e| EngineError::internal(&e))?;
    }
    Ok(())
}

/// A fresh quote at current prices for the intent, paid from the execution's wallet asset
/// on its chain: the same market snapshot, oracle readings and router checks as
/// `POST /v1/payment_intents/{id}/quotes`, best first. None when no route can pay it now.
pub(super) async fn fresh_route(
    state: &Engine,
    intent: &PaymentIntent,
    chain: &str,
    asset: &str,
) -> Option<crate::routing::StoredRoute> {
    use crate::routing::{market, oracle};
    let coin = rialto_connectors::exchange::AssetCode::new(
        &intent.settlement.asset.symbol.to_ascii_uppercase(),
    )?;
    let served = state.chains.get(intent.livemode, chain)?;
    let source = market::FundingSource::Wallet {
        chain: served.caip2.parse().ok()?,
        asset: rialto_connectors::exchange::AssetCode::new(&asset.to_ascii_uppercase())?,
    };
    let now = u64::try_from(state.clock.now_ms() / 1000).unwrap_or(0);
    let target_chain = intent.settlement.asset.id.chain().to_string();
    let pairs = market::market_pairs(state, intent.livemode, &coin);
    let readings = oracle::readings(state, intent.livemode, &target_chain, &pairs, now)
        .await
        .ok()?;
    let snapshot = market::snapshot(state, intent, &coin, &source, &readings)
        .await
        .ok()?;
    let amount = market::intent_amount(intent).ok()?;
    let quote = state
        .routing
        .quotes(&snapshot, &readings, amount, now)
        .ok()?
        .into_iter()
        .next()?;
    let route = quote.route()?.clone();
    Some(crate::routing::StoredRoute {
        quote,
        route,
        graph: snapshot.graph,
    })
}
