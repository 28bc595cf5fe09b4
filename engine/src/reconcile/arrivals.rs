//! Arrivals the gateway did not sign but expects on chain (`super::collect` runs them): a
//! routed payment's funding transfers and its legs' deliveries (a venue's withdrawal, a swap's
//! output, a bridge's release), and the swaps of refunds converted into another asset.

use rialto_core::asset::AssetRegistry;

use super::collect::{hot_address, Ctx, ReconcileError, PAGE};
use super::engine::{Expected, Interner};
use super::keys::{family, parse_addr, parse_tx_hash};
use crate::chain::Chain;
use crate::store::Store;

/// What routed payments delivered to Rialto's addresses in transactions the gateway did not
/// sign: a wallet payer's funding transfer, a venue's withdrawal, a swap's output. Each explains
/// its observed inflow, and is required on chain like a leg when its block is in the run.
pub(super) async fn expect_route_arrivals(
    store: &dyn Store,
    ctx: &Ctx<'_>,
    chains: &[&Chain],
    registry: &AssetRegistry,
    engine: &mut super::engine::Reconciler,
) -> Result<(), ReconcileError> {
    use crate::routing::execute::{arrival, funding_arrivals};
    let mut after: Option<String> = None;
    loop {
        let page = store.funded_executions_page(after.as_deref(), PAGE).await?;
        for f in &page {
            // The first funding transfer and each top-up.
            for a in funding_arrivals(&f.funding) {
                let owner = (f.merchant_id.as_str(), f.livemode);
                let what = ("route_funding", f.id.as_str(), f.created_at_ms);
                let interner = &mut engine.interner;
                if let Some(e) = arrival_expected(ctx, chains, registry, interner, &a, what, owner)
                {
                    engine.expect(&e);
                }
            }
        }
        after = page.last().map(|f| f.id.clone());
        if page.len() < PAGE as usize {
            break;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = store
            .confirmed_route_legs_page(after.as_deref(), PAGE)
            .await?;
        for owned in &page {
            let Some(a) = arrival(&owned.leg) else {
                continue;
            };
            let purpose = format!("route_{}", owned.leg.kind);
            let owner = (owned.merchant_id.as_str(), owned.livemode);
            let what = (
                purpose.as_str(),
                owned.leg.id.as_str(),
                owned.leg.created_at_ms,
            );
            let interner = &mut engine.interner;
            if let Some(e) = arrival_expected(ctx, chains, registry, interner, &a, what, owner) {
                engine.expect(&e);
            }
        }
        after = page.last().map(|l| l.leg.id.clone());
        if page.len() < PAGE as usize {
            break;
        }
    }
    expect_refund_conversions(store, ctx, chains, registry, engine).await
}

/// Refunds converted into another asset read at most this many per status.
const REFUND_SCAN: u32 = 10_000;

/// What the swaps of refunds' conversions delivered to the hot wallets
/// (`crate::refund_convert`), expected like a route's swap output.
async fn expect_refund_conversions(
    store: &dyn Store,
    ctx: &Ctx<'_>,
    chains: &[&Chain],
    registry: &AssetRegistry,
    engine: &mut super::engine::Reconciler,
) -> Result<(), ReconcileError> {
    use crate::store::money::RefundStatus;
    for status in [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ] {
        for refund in store.refunds_in(status, REFUND_SCAN).await? {
            if refund.conversion.is_none() {
                continue;
            }
            let owner = refund.merchant_id.to_string();
            for (leg, a) in crate::refund_convert::arrivals(&refund) {
                let what = ("route_dex_swap", leg.as_str(), refund.created_at_ms);
                let interner = &mut engine.interner;
                let owner = (owner.as_str(), refund.livemode);
                if let Some(e) = arrival_expected(ctx, chains, registry, interner, &a, what, owner)
                {
                    engine.expect(&e);
                }
            }
        }
    }
    Ok(())
}

/// The incoming transfer an arrival says happened, on one of the run's chains.
fn arrival_expected(
    ctx: &Ctx<'_>,
    chains: &[&Chain],
    registry: &AssetRegistry,
    interner: &mut Interner,
    a: &crate::routing::execute::Arrival,
    (purpose, reference, created_ms): (&str, &str, i64),
    (merchant, livemode): (&str, bool),
) -> Option<Expected> {
    let chain = chains
        .iter()
        .find(|c| c.livemode == livemode && (c.caip2 == a.chain || c.alias == a.chain))?;
    let token = crate::routing::onchain::token_in(registry, &chain.caip2, &a.asset).ok()?;
    let fam = family(&chain.caip2);
    let to = match &a.to {
        Some(to) => parse_addr(to, fam)?,
        None => hot_address(chain).ok().flatten()?,
    };
    let chain_id = interner.intern(&chain.caip2);
    Some(Expected {
        incoming: true,
        purpose: purpose.to_owned(),
        reference: reference.to_owned(),
        owner: Some(interner.intern(merchant)),
        chain: chain_id,
        tx: parse_tx_hash(&a.tx_hash, fam)?,
        log_index: None,
        from: a.from.as_deref().and_then(|f| parse_addr(f, fam)),
        to: Some(to),
        token: token.address,
        amount: token.units(a.amount).ok()?,
        block: a.block.and_then(|b| u64::try_from(b).ok()),
        must_be_observed: ctx.in_blocks(chain_id, a.block) && ctx.in_period(created_ms),
        confirmed: true,
    })
}
