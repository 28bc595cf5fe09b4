//! The books and the intent: postings for legs and gas, screened returns, the intent's moves and the payment binding, fresh prices.

use super::*;

/// `asset@chain` as a router node.
pub fn chain_node(chain: &str, asset: &str) -> Result<rialto_router::NodeRef, ExecError> {
    Ok(rialto_router::NodeRef {
        asset: AssetCode::new(asset).ok_or_else(|| format!("asset {asset}"))?,
        location: Location::Chain(chain.parse().map_err(|_| format!("chain {chain}"))?),
    })
}

/// The `network_fee` postings of the transactions a confirmed route leg sent (gas used ×
/// effective price, from the receipts), in the chain's native asset.
pub(super) async fn gas_postings(
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

/// The `network_fee` postings of what a bridge leg paid in native coin beyond its gas (CCIP's
/// router fee, the `value` of its `ccipSend`), read from the chain. A fee that cannot be read
/// is logged, not guessed.
pub(super) async fn bridge_fee_postings(
    state: &Engine,
    exec: &RouteExecution,
    spec: &LegSpec,
    leg: &LegId,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    let LegSpec::Chain {
        leg: chain_leg @ onchain::ChainLeg::Bridge { .. },
    } = spec
    else {
        return Vec::new();
    };
    let fees = match onchain::bridge::network_fees(state, exec.livemode, leg, chain_leg).await {
        Ok(fees) => fees,
        Err(e) => {
            tracing::warn!(%leg, error = %e, "bridge network fee unreadable; not booked");
            return Vec::new();
        }
    };
    let id = leg.to_string();
    fees.iter()
        .filter_map(|f| {
            crate::chain::native_fee_posting(
                &state.registry,
                (exec.merchant_id, exec.livemode),
                (&id, &f.chain),
                f.units,
                now_ms,
            )
        })
        .collect()
}

/// The postings of a confirmed leg of the plan (see `routing::booking`); `spec` is the leg as
/// stored (an issuer's mint carries the bank's fee).
pub(super) fn leg_postings(
    state: &Engine,
    exec: &RouteExecution,
    graph: &Graph,
    (order, spec): (&LegOrder, &LegSpec),
    received: Decimal,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    use crate::routing::booking;
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
        EdgeKind::Dex(_) | EdgeKind::Ccip { .. } | EdgeKind::Bridge { .. } => booking::conversion(
            exec,
            venue,
            (&asset_in, order.input),
            (&asset_out, received),
            &leg,
            now_ms,
        ),
        EdgeKind::Transfer { .. } | EdgeKind::IssuerRedeem(_) => Vec::new(),
        EdgeKind::IssuerMint(_) => {
            let LegSpec::IssuerMint { mint } = spec else {
                tracing::error!(%leg, "an issuer edge's leg is not a mint; not booked");
                return Vec::new();
            };
            booking::issuer_mint(
                exec,
                venue,
                (&asset_in, order.input),
                (&asset_out, received),
                mint.fee,
                &leg,
                now_ms,
            )
        }
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
) -> Result<bool, ExecError> {
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
    .map_err(ExecError::from)
}

/// Where the payer's funds go back to on `chain`: the wallet payer's address, or the
/// exchange account's deposit address for the asset there.
pub(super) async fn refund_address(
    state: &Engine,
    exec: &RouteExecution,
    chain: &rialto_core::ChainId,
    coin: &AssetCode,
) -> Result<String, ExecError> {
    match exec.funding.clone() {
        Funding::Wallet { payer, .. } => Ok(payer),
        Funding::Exchange { account, venue } => {
            let coin = coin.clone();
            let client = venue_client(state, exec, &account, &venue, &coin, chain, None).await?;
            client
                .deposit_address(&coin, chain)
                .await
                .map(|d| d.address)
                .map_err(|e| ExecError::Invalid(e.to_string()))
        }
    }
}

pub(super) fn reason_code(reason: GiveUpReason) -> &'static str {
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

pub(super) fn reason_message(reason: GiveUpReason) -> &'static str {
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
) -> Result<(), ExecError> {
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
            return Err(ExecError::Invalid(format!(
                "intent {} is {}, cannot apply {event:?}",
                intent.id,
                current.status.as_str()
            )));
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
    Err(ExecError::Invalid(format!(
        "intent {} kept changing",
        intent.id
    )))
}

/// Binds the final transfer to the intent as its confirmed payment: the chain worker then
/// settles the intent and books it.
pub(super) async fn bind_payment(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    leg: &RouteLegRecord,
    merchant_amount: Decimal,
    now_ms: i64,
) -> Result<(), ExecError> {
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
        status: crate::store::chain::PaymentTxStatus::Confirmed,
        source: PaymentSource::Route,
        created_at_ms: now_ms,
    };
    let owner = state
        .store
        .claim_transaction(&payment)
        .await
        .map_err(|e| e.to_string())?;
    if owner != intent.id {
        // The route's own transfer can only be bound to its intent; anything else means the
        // hash was claimed elsewhere, and this payment is not recorded as made.
        return Err(format!(
            "the final transfer {} is bound to another payment intent",
            transfer.tx_hash
        )
        .into());
    }
    Ok(())
}

/// Oracle readings now, for re-planning: the plan's conversions are checked against them.
pub(super) async fn fresh_prices(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
    graph: &Graph,
    now: u64,
) -> PriceTable {
    let pairs: Vec<String> = graph.assets().map(|(_, a)| a.usd_pair.clone()).collect();
    let mut pairs = pairs;
    pairs.push("ETH/USD".into());
    let target = intent.settlement.asset.id.chain().to_string();
    let readings = crate::routing::oracle::readings(state, exec.livemode, &target, &pairs, now)
        .await
        .unwrap_or_default();
    PriceTable::build(graph, &readings, now, PricePolicy::default())
}
