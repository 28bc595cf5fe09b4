//! Refunds in another asset than the one received (`asset` on `POST /v1/refunds`): the
//! merchant's refunded amount, in the asset received and debited from its balance exactly as
//! for any refund, is converted through the router into the asset the payer asked for, and that
//! is sent to the destination.
//!
//! - **Quote and lock, when the refund is created.** A market of the chains' own side (their
//!   stablecoins at Rialto's hot wallets, the DEX pools, the mode's bridge lanes:
//!   [`crate::routing::onchain::add_chain_edges`]) is searched for a route from the received
//!   asset on the payment's chain to the target; the best one is priced forwards from exactly
//!   the refunded amount (`rialto_router::search::price_path`), every conversion checked
//!   against the Chainlink rounds the router reads, and locked (`rialto_router::lock`). The
//!   lock is stored with the refund ([`RefundConversion`], JSON in `refunds.conversion`) and
//!   shown on it. No route: `refund_asset_unsupported`.
//! - **What the payer gets.** Exactly `amount_out`, the route's forward output rounded down to
//!   the target asset's decimals (the router rounds every output down). Each swap is sent with
//!   `min_out` = its quoted output, so a pool that moved against the quote reverts the swap
//!   rather than deliver less; whatever a leg delivers above its quote stays in Rialto's
//!   treasury (`rialto:treasury`).
//! - **Execution, from the hot wallets.** The refund worker drives the legs in order with the
//!   route machinery's on-chain legs ([`crate::routing::onchain::submit`] / `progress`), each
//!   under the quote's leg id (recorded before it is sent, so never sent twice), then sends
//!   `amount_out` with the refund's own leg `("refund", re_…)`, screened again before signing.
//!   A first leg is not started after the lock's expiry (`quote_expired`).
//! - **Fallback.** A leg that fails, or a quote that expired before anything was sent, fails
//!   the refund: the merchant's balance gets the refunded amount back in the asset received
//!   (`refund_reversal`) and `amount_refunded` goes back down; what a confirmed leg already
//!   converted stays with Rialto's treasury, which pays the reversal. Nothing is sent twice: a
//!   leg whose outcome cannot be told (`unknown`) holds the refund `pending` for
//!   reconciliation.
//!
//! Postings (all exact): `refund_conversion` (reference: the leg id) per confirmed leg:
//! `merchant:{id}:refunds_pending` − input, `route_venue:<venue>` + input; `route_venue` −
//! received, `refunds_pending` + received. `refund_sent` (re_…): `refunds_pending` − what the
//! conversion holds, `payers` + `amount_out`, `rialto:treasury` + the rest. On failure after a
//! conversion, `refund_reversal` (re_…): `refunds_pending` − what it holds, treasury + that;
//! treasury − the refunded amount, the merchant's balance +.

use std::collections::BTreeMap;

use rialto_connectors::exchange::AssetCode;
use rialto_core::asset::Asset;
use rialto_core::id::LegId;
use rialto_core::intent::PaymentIntent;
use rialto_core::ChainId;
use rialto_router::{
    find_routes, AssetInfo, CheckedPrice, EdgeIx, EdgeKind, Exclusions, Graph, LegKind, Location,
    NodeIx, Peg, PricePolicy, PriceTable, RouteContext, RouteRequest, ScorePolicy, Settlement,
    Source,
};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, ErrorCode};
use crate::ledger::{merchant_balance, refunds_pending, Account, Entry, Posting, PAYERS};
use crate::routing::onchain::{self, ChainLeg, LegProgress, OnchainError};
use crate::routing::oracle::{self, PriceReadings, REFERENCE_PAIR};
use crate::routing::{market, LABELS_PER_NODE, MAX_LEGS, MAX_QUOTES};
use crate::services::Engine;
use crate::store::money::Refund;

/// How long a refund's conversion quote holds, seconds: a refund waiting for a second key
/// or for funds past it fails with `quote_expired` rather than convert at a stale price.
pub const REFUND_QUOTE_TTL_SECS: u64 = 600;
/// Posting kind of a confirmed conversion leg.
pub const CONVERSION_KIND: &str = "refund_conversion";
const SETTLEMENT_SECS: u32 = 15;

/// A refund's locked conversion and its legs' progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundConversion {
    /// The router's quote (`qt_…`).
    pub quote_id: String,
    /// What the payer receives: CAIP-19, and its chain (CAIP-2).
    pub asset: String,
    pub chain_id: String,
    /// The refunded amount, in the asset received.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount_in: Decimal,
    /// What the payer receives, exactly: locked.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount_out: Decimal,
    /// Unix seconds.
    pub locked_at: u64,
    pub expires_at: u64,
    /// The Chainlink rounds the router checked the conversions against.
    pub price_sources: Vec<CheckedPrice>,
    pub legs: Vec<ConversionLeg>,
}

/// One leg of a refund's conversion, sent from Rialto's hot wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionLeg {
    /// `leg_…`: the rail legs' reference.
    pub id: String,
    pub kind: LegKind,
    pub venue: String,
    /// CAIP-19 in and out.
    pub asset_in: String,
    pub asset_out: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    /// The quoted output: a swap's `min_out`.
    #[serde(with = "rust_decimal::serde::str")]
    pub min_output: Decimal,
    pub spec: ChainLeg,
    pub status: ConversionLegStatus,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub received: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionLegStatus {
    Pending,
    Confirmed,
    Failed,
    /// Sent, and whether it happened cannot be told: reconciliation resolves it.
    Unknown,
}

impl RefundConversion {
    /// The conversion stored on `refund`, if any.
    pub fn of(refund: &Refund) -> Result<Option<Self>, String> {
        refund
            .conversion
            .as_deref()
            .map(|json| {
                serde_json::from_str(json)
                    .map_err(|e| format!("refund {}: conversion: {e}", refund.id))
            })
            .transpose()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the conversion holds per asset (CAIP-19) in `refunds_pending`: the refunded amount,
    /// less each confirmed leg's input, plus what it delivered.
    pub fn held(&self, asset_received: &str) -> BTreeMap<String, Decimal> {
        let mut held = BTreeMap::from([(asset_received.to_owned(), self.amount_in)]);
        for leg in &self.legs {
            if let (ConversionLegStatus::Confirmed, Some(got)) = (leg.status, leg.received) {
                *held.entry(leg.asset_in.clone()).or_default() -= leg.input;
                *held.entry(leg.asset_out.clone()).or_default() += got;
            }
        }
        held
    }

    fn converted(&self) -> bool {
        self.legs
            .iter()
            .any(|l| l.status == ConversionLegStatus::Confirmed)
    }
}

/// A refund's conversion as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundConversionObject {
    /// The router's locked quote (`qt_…`).
    pub quote_id: String,
    /// What the payer receives: the asset (CAIP-19, and its code) on `chain_id`.
    pub asset_id: String,
    #[schema(example = "usdt")]
    pub asset: String,
    pub chain_id: String,
    /// Exactly what the payer receives, locked: the route's output for `amount`, rounded
    /// down to the asset's decimals.
    #[schema(example = "9.969900")]
    pub amount_out: String,
    /// Unix seconds. A refund whose conversion has not started by then fails with
    /// `quote_expired` (the merchant's balance restored).
    pub locked_at: u64,
    pub expires_at: u64,
    /// The route's legs in order: `dex_swap`, `bridge`, `ccip`.
    pub route: Vec<RefundConversionLegObject>,
    /// The Chainlink rounds the router checked the conversion against.
    pub price_sources: Vec<RefundPriceSource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundConversionLegObject {
    pub kind: String,
    pub venue: String,
    #[schema(example = "10")]
    pub input: String,
    /// The quoted output; a swap is sent with this as its minimum.
    pub min_output: String,
    /// `pending`, `confirmed`, `failed` or `unknown`.
    pub status: String,
    pub transaction_hash: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundPriceSource {
    #[schema(example = "USDT/USD")]
    pub pair: String,
    pub price: String,
    /// The feed's round id, as a decimal string.
    pub round_id: String,
    /// Unix seconds.
    pub updated_at: u64,
}

/// A unit enum's snake_case name, as serde writes it.
fn text(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl RefundConversionObject {
    pub fn new(state: &Engine, c: &RefundConversion) -> Self {
        let code = c
            .asset
            .parse()
            .ok()
            .and_then(|id| state.registry.asset(&id))
            .map(|a| a.code.clone())
            .unwrap_or_default();
        Self {
            quote_id: c.quote_id.clone(),
            asset_id: c.asset.clone(),
            asset: code,
            chain_id: c.chain_id.clone(),
            amount_out: c.amount_out.normalize().to_string(),
            locked_at: c.locked_at,
            expires_at: c.expires_at,
            route: c
                .legs
                .iter()
                .map(|l| RefundConversionLegObject {
                    kind: text(&l.kind),
                    venue: l.venue.clone(),
                    input: l.input.normalize().to_string(),
                    min_output: l.min_output.normalize().to_string(),
                    status: text(&l.status),
                    transaction_hash: l.tx_hash.clone(),
                })
                .collect(),
            price_sources: c
                .price_sources
                .iter()
                .map(|p| RefundPriceSource {
                    pair: p.pair.clone(),
                    price: p.price.normalize().to_string(),
                    round_id: p.round_id.to_string(),
                    updated_at: p.updated_at,
                })
                .collect(),
        }
    }
}

fn unsupported(target: &Asset, received: &Asset, why: &str) -> EngineError {
    EngineError::new(
        ErrorCode::RefundAssetUnsupported,
        format!(
            "No route reaches {} on {} from the {} received ({why}): refund in {} or in an \
             asset a route reaches.",
            target.code,
            target.id.chain(),
            received.code,
            received.code
        ),
    )
    .param("asset")
}

/// Quotes and locks the conversion of `amount_in` of the asset `intent` received into
/// `target` (see the module docs).
pub async fn quote(
    state: &Engine,
    intent: &PaymentIntent,
    target: &Asset,
    amount_in: Decimal,
    now_ms: i64,
) -> Result<RefundConversion, EngineError> {
    let received = &intent.settlement.asset;
    let livemode = intent.livemode;
    let now = u64::try_from(now_ms / 1000).unwrap_or(0);
    let code = |a: &Asset| AssetCode::new(&a.symbol.to_ascii_uppercase());
    let (Some(code_in), Some(code_out)) = (code(received), code(target)) else {
        return Err(unsupported(target, received, "not a routed asset"));
    };
    let mut pairs = market::market_pairs(state, livemode, &code_in);
    let out_pair = format!("{code_out}/USD");
    if !pairs.contains(&out_pair) {
        pairs.push(out_pair);
    }
    let target_chain = target.id.chain().to_string();
    let readings = oracle::readings(state, livemode, &target_chain, &pairs, now)
        .await
        .map_err(|e| {
            EngineError::new(
                ErrorCode::OracleUnavailable,
                format!("Prices for this refund cannot be checked: {e}."),
            )
        })?;
    let (graph, source, to) = market_for(state, livemode, &readings, received, target)
        .await
        .map_err(|why| unsupported(target, received, &why))?;
    let prices = PriceTable::build(&graph, &readings, now, PricePolicy::default());
    let health = state.routing.health_for(&graph);
    let ctx = RouteContext {
        graph: &graph,
        prices: &prices,
        health: &health,
        now_ms: now.saturating_mul(1000),
        score: ScorePolicy::default(),
        max_legs: MAX_LEGS,
        labels_per_node: LABELS_PER_NODE,
    };
    let (ix_in, ix_out) = (graph.node_info(source).asset, graph.node_info(to).asset);
    let (usd_in, usd_out) = (prices.usd_value(ix_in), prices.usd_value(ix_out));
    if usd_out <= Decimal::ZERO {
        return Err(unsupported(target, received, "no price for it"));
    }
    // The search is for a fixed output: ask for about what the refund is worth, then price
    // the route's edges forwards from exactly the refunded amount.
    let about = (amount_in * usd_in / usd_out)
        .round_dp_with_strategy(target.decimals, RoundingStrategy::ToZero);
    if about <= Decimal::ZERO {
        return Err(unsupported(target, received, "the amount is too small"));
    }
    let exclusions = Exclusions::default();
    let sources = [Source {
        node: source,
        available: None,
    }];
    let request = RouteRequest {
        sources: &sources,
        target: to,
        amount: about,
        exclusions: &exclusions,
    };
    let outcome = find_routes(&ctx, &request, MAX_QUOTES);
    let unit = Decimal::new(1, target.decimals);
    let route = outcome
        .routes
        .iter()
        .filter(|r| r.legs.iter().all(|l| drivable(&graph, l.edge)))
        .find_map(|r| {
            let edges: Vec<EdgeIx> = r.legs.iter().map(|l| l.edge).collect();
            rialto_router::search::price_path(&ctx, source, to, &edges, amount_in, unit).ok()
        })
        .filter(|r| r.input == amount_in)
        .ok_or_else(|| {
            if outcome.refusals.is_empty() && readings.any_refused() {
                // Nothing connects because a feed was refused: not a missing route.
                return EngineError::new(
                    ErrorCode::OracleUnavailable,
                    "Prices needed for this refund cannot be checked right now; retry shortly.",
                );
            }
            let why = if outcome.refusals.is_empty() {
                "no pool or bridge connects them".to_owned()
            } else {
                format!("{} edges refused", outcome.refusals.values().sum::<u32>())
            };
            unsupported(target, received, &why)
        })?;
    let mut route = route;
    route.intent = route.output;
    let quote = rialto_router::quote::build_quote(&ctx, route, now, REFUND_QUOTE_TTL_SECS);
    let locked = rialto_router::lock(quote, now).map_err(|e| EngineError::internal(&e))?;
    let quote = locked.quote();
    let legs = quote
        .legs
        .iter()
        .map(|leg| conversion_leg(state, &graph, leg))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| unsupported(target, received, &why))?;
    Ok(RefundConversion {
        quote_id: quote.id.to_string(),
        asset: target.id.to_string(),
        chain_id: target_chain,
        amount_in,
        amount_out: quote.merchant_amount,
        locked_at: locked.locked_at(),
        expires_at: locked.expires_at(),
        price_sources: quote.price_sources.clone(),
        legs,
    })
}

/// The chains' side of the market, with the settlement transfer priced on every chain, and
/// the two nodes the refund runs between.
async fn market_for(
    state: &Engine,
    livemode: bool,
    readings: &PriceReadings,
    received: &Asset,
    target: &Asset,
) -> Result<(Graph, NodeIx, NodeIx), String> {
    let mut graph = Graph::new();
    let usd = AssetCode::new("USD").ok_or("asset code")?;
    graph
        .add_asset(AssetInfo {
            code: usd,
            decimals: 2,
            usd_pair: REFERENCE_PAIR.into(),
            peg: Peg::Floating,
        })
        .map_err(|e| e.to_string())?;
    for chain in state.chains.iter().filter(|c| c.livemode == livemode) {
        let Ok(id) = chain.caip2.parse::<ChainId>() else {
            continue;
        };
        if let Ok(gas_usd) = market::transfer_gas_usd(chain, readings).await {
            let settlement = Settlement {
                gas_usd,
                seconds: SETTLEMENT_SECS,
            };
            graph
                .set_settlement(id, settlement)
                .map_err(|e| e.to_string())?;
        }
    }
    let skipped = onchain::add_chain_edges(state, livemode, &mut graph, readings.price("ETH/USD"))
        .await
        .map_err(|e| e.to_string())?;
    for why in skipped {
        tracing::debug!(skipped = %why, "left out of a refund's market");
    }
    let mut node = |a: &Asset| -> Result<NodeIx, String> {
        let code = AssetCode::new(&a.symbol.to_ascii_uppercase()).ok_or("asset code")?;
        let ix = graph
            .asset_by_code(&code)
            .ok_or_else(|| format!("{} is not routed", a.code))?;
        graph
            .node(ix, Location::Chain(a.id.chain().clone()))
            .map_err(|e| e.to_string())
    };
    let (from, to) = (node(received)?, node(target)?);
    Ok((graph, from, to))
}

/// Whether the refund worker can send this edge from a hot wallet: a DEX swap or a bridge
/// lane of the mode's bridge (fixed fee), or CCIP.
fn drivable(graph: &Graph, edge: EdgeIx) -> bool {
    matches!(
        graph.edge(edge).kind,
        EdgeKind::Dex(_) | EdgeKind::Ccip { .. } | EdgeKind::Bridge { fee_bps: 0, .. }
    )
}

/// A quote leg spelled out as the on-chain leg the hot wallet sends.
fn conversion_leg(
    state: &Engine,
    graph: &Graph,
    leg: &rialto_router::QuoteLeg,
) -> Result<ConversionLeg, String> {
    let edge = graph.edge(leg.edge);
    let chain_of = |l: &Location| match l {
        Location::Chain(c) => Ok(c.to_string()),
        Location::Venue(v) => Err(format!("{v} is not a chain")),
    };
    let (from, to) = (&leg.from, &leg.to);
    let (from_chain, to_chain) = (chain_of(&from.location)?, chain_of(&to.location)?);
    let bridge = |fee: Decimal| ChainLeg::Bridge {
        from_chain: from_chain.clone(),
        to_chain: to_chain.clone(),
        asset: from.asset.to_string(),
        amount: leg.input,
        fee,
        venue: Some(edge.venue.0.clone()),
    };
    let spec = match &edge.kind {
        EdgeKind::Dex(_) => ChainLeg::Swap {
            chain: from_chain.clone(),
            token_in: from.asset.to_string(),
            token_out: to.asset.to_string(),
            amount_in: leg.input,
            min_out: leg.output,
        },
        EdgeKind::Ccip { .. } => bridge(Decimal::ZERO),
        EdgeKind::Bridge { fee_bps: 0, fixed } => bridge(*fixed),
        other => return Err(format!("{:?} legs are not driven", other.leg_kind())),
    };
    Ok(ConversionLeg {
        id: leg.id.to_string(),
        kind: leg.kind,
        venue: edge.venue.0.clone(),
        asset_in: crate::routing::booking::asset_id(state, from),
        asset_out: crate::routing::booking::asset_id(state, to),
        input: leg.input,
        min_output: leg.output,
        spec,
        status: ConversionLegStatus::Pending,
        received: None,
        tx_hash: None,
        block: None,
    })
}

/// The payer's deposit address at the venue an exchange payment came from, as the venue
/// answered when the account was linked: the exchange account `account` (a route's), or the
/// intent's account that did not fail (a direct exchange payment).
pub(crate) async fn venue_deposit_address(
    state: &Engine,
    account: Option<&str>,
    intent: &PaymentIntent,
) -> Result<Option<rialto_core::address::Address>, EngineError> {
    use crate::store::exchange::ExchangeAccountStatus;
    let accounts = state.store.exchange_accounts_of(&intent.id).await?;
    let namespace = intent.settlement.address.namespace();
    Ok(accounts
        .iter()
        .rev()
        .filter(|a| match account {
            Some(id) => a.id == id,
            None => a.status != ExchangeAccountStatus::Failed,
        })
        .find_map(|a| a.deposit_address.as_deref())
        .and_then(|d| rialto_core::address::Address::parse(d, namespace).ok()))
}

/// A refund in another asset: its locked conversion, and the chain its transfer goes on
/// (the target's); else none, and the payment's chain.
pub(crate) async fn conversion_for(
    state: &Engine,
    intent: &PaymentIntent,
    spec: &crate::refunds::RefundSpec,
    amount: Decimal,
    chain: &crate::chain::Chain,
    now_ms: i64,
) -> Result<(Option<RefundConversion>, String), EngineError> {
    let Some(target) = &spec.convert_to else {
        return Ok((None, chain.caip2.clone()));
    };
    let conversion = quote(state, intent, target, amount, now_ms).await?;
    let chain_id = state
        .chains
        .get(intent.livemode, &conversion.chain_id)
        .filter(|c| c.hot_wallet.is_some())
        .map(|c| c.caip2.clone())
        .ok_or_else(|| {
            EngineError::new(
                ErrorCode::RefundsUnavailable,
                "Refunds are not available on the chain of the asset asked for: no treasury \
                 wallet is configured for it.",
            )
        })?;
    Ok((Some(conversion), chain_id))
}

/// What one pass over a converting refund did.
#[derive(Debug)]
pub enum Advance {
    /// Nothing to record now (a leg in flight, or a retryable error): try again later.
    Wait,
    /// A leg's outcome to record, with its postings.
    Progressed(RefundConversion, Vec<Posting>),
    /// The conversion cannot complete (`quote_expired`, `conversion_failed`): fail the refund
    /// (with the conversion as it stands).
    Failed(RefundConversion, &'static str),
    /// Every leg confirmed: send `amount_out`.
    Delivered,
}

/// Drives the first unfinished leg of `conv` one step (see the module docs).
pub async fn advance(
    state: &Engine,
    refund: &Refund,
    conv: &RefundConversion,
    now_ms: i64,
) -> Result<Advance, OnchainError> {
    let Some(i) = conv
        .legs
        .iter()
        .position(|l| l.status != ConversionLegStatus::Confirmed)
    else {
        return Ok(Advance::Delivered);
    };
    let leg = &conv.legs[i];
    if leg.status == ConversionLegStatus::Failed {
        return Ok(Advance::Failed(conv.clone(), "conversion_failed"));
    }
    let id: LegId = leg
        .id
        .parse()
        .map_err(|_| OnchainError::Refused(format!("leg id {}", leg.id)))?;
    let livemode = refund.livemode;
    if !onchain::started(state, &id).await? {
        // The clock now, not the pass's start: an approval landing mid-pass is past its lock.
        let now = u64::try_from(state.clock.now_ms().max(now_ms) / 1000).unwrap_or(0);
        if i == 0 && now >= conv.expires_at {
            return Ok(Advance::Failed(conv.clone(), "quote_expired"));
        }
        return match onchain::submit(state, livemode, &id, &leg.spec, now_ms).await {
            Ok(()) => Ok(Advance::Wait),
            // Refused before anything was sent: this leg will never go.
            Err(OnchainError::Refused(why)) => {
                tracing::warn!(refund = %refund.id, leg = %id, %why, "a refund conversion leg was refused");
                Ok(Advance::Failed(
                    with_status(conv, i, ConversionLegStatus::Failed),
                    "conversion_failed",
                ))
            }
            Err(other) => Err(other),
        };
    }
    match onchain::progress(state, livemode, &id, &leg.spec, now_ms).await? {
        LegProgress::Pending => Ok(Advance::Wait),
        LegProgress::Unknown if leg.status == ConversionLegStatus::Unknown => Ok(Advance::Wait),
        LegProgress::Unknown => Ok(Advance::Progressed(
            with_status(conv, i, ConversionLegStatus::Unknown),
            Vec::new(),
        )),
        LegProgress::Failed { why, .. } => {
            tracing::warn!(refund = %refund.id, leg = %id, %why, "a refund conversion leg failed");
            Ok(Advance::Failed(
                with_status(conv, i, ConversionLegStatus::Failed),
                "conversion_failed",
            ))
        }
        LegProgress::Confirmed {
            received,
            tx_hash,
            block,
        } => {
            let mut next = with_status(conv, i, ConversionLegStatus::Confirmed);
            next.legs[i].received = Some(received);
            next.legs[i].tx_hash = Some(tx_hash);
            next.legs[i].block = block;
            let mut postings = leg_postings(refund, &next.legs[i], now_ms);
            postings.extend(gas_postings(state, refund, &id, &leg.spec, now_ms).await);
            Ok(Advance::Progressed(next, postings))
        }
    }
}

fn with_status(conv: &RefundConversion, i: usize, status: ConversionLegStatus) -> RefundConversion {
    let mut next = conv.clone();
    next.legs[i].status = status;
    next
}

fn entry(account: &Account, asset: &str, amount: Decimal) -> Entry {
    Entry {
        account: account.clone(),
        asset: asset.to_owned(),
        amount,
    }
}

fn post(
    refund: &Refund,
    kind: &str,
    reference: &str,
    entries: Vec<Entry>,
    now_ms: i64,
) -> Vec<Posting> {
    let entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| !e.amount.is_zero())
        .collect();
    match Posting::for_merchant(
        refund.merchant_id,
        refund.livemode,
        kind,
        reference,
        entries,
        now_ms,
    ) {
        Ok(p) => vec![p],
        Err(err) => {
            tracing::error!(refund = %refund.id, error = %err, "refund conversion posting does not balance");
            Vec::new()
        }
    }
}

/// `refund_conversion` of one confirmed leg.
fn leg_postings(refund: &Refund, leg: &ConversionLeg, now_ms: i64) -> Vec<Posting> {
    let pending = refunds_pending(&refund.merchant_id);
    let venue = Account::RouteVenue(leg.venue.clone());
    let got = leg.received.unwrap_or_default();
    post(
        refund,
        CONVERSION_KIND,
        &leg.id,
        vec![
            entry(&pending, &leg.asset_in, -leg.input),
            entry(&venue, &leg.asset_in, leg.input),
            entry(&venue, &leg.asset_out, -got),
            entry(&pending, &leg.asset_out, got),
        ],
        now_ms,
    )
}

/// The `network_fee` postings of the leg's transactions, and a bridge's native fee.
async fn gas_postings(
    state: &Engine,
    refund: &Refund,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Vec<Posting> {
    let owner = (refund.merchant_id, refund.livemode);
    let sent = onchain::rail_legs(state, leg).await.unwrap_or_default();
    let refs: Vec<_> = sent.iter().collect();
    let mut postings = crate::chain::fee_postings(&state.registry, owner, &refs, now_ms);
    if matches!(spec, ChainLeg::Bridge { .. }) {
        match onchain::bridge::network_fees(state, refund.livemode, leg, spec).await {
            Ok(fees) => postings.extend(fees.iter().filter_map(|f| {
                crate::chain::native_fee_posting(
                    &state.registry,
                    owner,
                    (&leg.to_string(), &f.chain),
                    f.units,
                    now_ms,
                )
            })),
            Err(e) => tracing::warn!(%leg, error = %e, "bridge network fee unreadable; not booked"),
        }
    }
    postings
}

/// The refund's closing posting once a conversion ran: `refund_sent` on success, else
/// `refund_reversal` (see the module docs). `None`: nothing was converted, and the refund
/// closes as any other (`refunds_pending` ↔ in the asset received).
pub fn closing_postings(
    refund: &Refund,
    conv: &RefundConversion,
    succeeded: bool,
    now_ms: i64,
) -> Option<Vec<Posting>> {
    if !succeeded && !conv.converted() {
        return None;
    }
    let pending = refunds_pending(&refund.merchant_id);
    let mut entries = Vec::new();
    let mut treasury: BTreeMap<String, Decimal> = BTreeMap::new();
    for (asset, amount) in conv.held(&refund.asset) {
        entries.push(entry(&pending, &asset, -amount));
        *treasury.entry(asset).or_default() += amount;
    }
    let kind = if succeeded {
        entries.push(entry(&PAYERS, &conv.asset, conv.amount_out));
        *treasury.entry(conv.asset.clone()).or_default() -= conv.amount_out;
        "refund_sent"
    } else {
        let balance = merchant_balance(&refund.merchant_id);
        entries.push(entry(&balance, &refund.asset, refund.amount));
        *treasury.entry(refund.asset.clone()).or_default() -= refund.amount;
        "refund_reversal"
    };
    for (asset, amount) in treasury {
        entries.push(entry(&Account::Treasury, &asset, amount));
    }
    Some(post(refund, kind, &refund.id.to_string(), entries, now_ms))
}

/// What confirmed swap legs of refund conversions delivered to Rialto's hot wallets, for
/// reconciliation (a swap's output arrives in the pool's transaction, not one Rialto signed).
pub fn arrivals(refund: &Refund) -> Vec<(String, crate::routing::execute::Arrival)> {
    let Ok(Some(conv)) = RefundConversion::of(refund) else {
        return Vec::new();
    };
    conv.legs
        .iter()
        .filter(|l| l.status == ConversionLegStatus::Confirmed)
        .filter_map(|l| match (&l.spec, &l.tx_hash, l.received) {
            (
                ChainLeg::Swap {
                    chain, token_out, ..
                },
                Some(tx),
                Some(amount),
            ) => {
                let arrival = crate::routing::execute::Arrival {
                    chain: chain.clone(),
                    asset: token_out.clone(),
                    tx_hash: tx.clone(),
                    to: None,
                    from: None,
                    amount,
                    block: l.block,
                };
                Some((l.id.clone(), arrival))
            }
            _ => None,
        })
        .collect()
}
