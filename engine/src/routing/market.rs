//! A market snapshot for one intent, as the router's [`Graph`]: the configured exchange venues
//! (books through `Exchange::quote`, `withdrawal_terms`, deposit networks from capabilities),
//! deposit transfers from the gateway's chains into the venues, and the settlement transfer
//! on each chain, valued with the chain's gas price and its `ETH/USD` feed.
//!
//! The chains' own side (stablecoins at Rialto's addresses, Uniswap V2 pools, the sandbox USDC
//! bridge) comes from [`super::onchain::add_chain_edges`]; an issuing bank's mint into a deposit
//! token from [`super::issuer::add_mint_edge`].
//!
//! In sandbox mode every venue is the sandbox exchange speaking that venue's API. Read-only
//! calls only; nothing here moves money.

use std::collections::BTreeMap;

use rialto_connectors::exchange::{AssetCode, BookLevel, Exchange, Pair, Side};
use rialto_core::intent::PaymentIntent;
use rialto_core::ChainId;
use rialto_router::{
    AssetInfo, AssetIx, BookTrade, Edge, EdgeKind, Graph, Location, NodeIx, Peg, Settlement,
    VenueId,
};
use rust_decimal::Decimal;

use super::oracle::{PriceReadings, REFERENCE_PAIR};
use crate::exchange::{SettlementTarget, Venues};
use crate::services::Engine;

/// Venues in the market snapshot. Their clients read public market data with Rialto's own
/// read credentials (`Venues::market_client`); Coinbase's client needs a CDP key even for that.
pub const MARKET_VENUES: &[&str] = &["binance", "kraken", "coinbase"];

/// Gas units of one ERC-20 transfer (a cold recipient slot): what a deposit into a venue or the
/// final settlement transfer costs.
const TRANSFER_GAS: u64 = 65_000;
/// Seconds, as the router's expected time: a venue withdrawal, a deposit credited, a transfer.
const WITHDRAWAL_SECS: u32 = 120;
const TRADE_SECS: u32 = 2;
const SETTLEMENT_SECS: u32 = 15;
/// The book is read for the intent amount times this plus a margin, so the snapshot can
/// carry a withdrawal fee and a detour on top of the intent amount.
const BOOK_HEADROOM: Decimal = Decimal::from_parts(125, 0, 0, false, 2);

/// Where the payer's money is, as the request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FundingSource {
    /// The payer's account on `venue` (`kraken`), holding `asset` (`USD`).
    Exchange { venue: String, asset: AssetCode },
    /// The payer's wallet on a chain (CAIP-2), holding `asset`.
    Wallet { chain: ChainId, asset: AssetCode },
}

/// The graph and the two nodes a quote runs between.
#[derive(Debug)]
pub struct Market {
    pub graph: Graph,
    pub source: NodeIx,
    pub target: NodeIx,
    /// Why a venue or chain is missing from the snapshot, for the logs.
    pub skipped: Vec<String>,
    /// Why the issuer's mint into the target was not offered although a bank mints it there:
    /// Rialto's USD float at the bank cannot cover it (`issuer_float_insufficient`).
    pub issuer_refusal: Option<String>,
}

/// The oracle pairs a market of these assets needs, plus `ETH/USD` for gas.
pub fn pairs_for(coin: &AssetCode) -> Vec<String> {
    vec![
        REFERENCE_PAIR.to_owned(),
        format!("{coin}/USD"),
        "ETH/USD".to_owned(),
    ]
}

/// [`pairs_for`] the settlement coin plus what the chain assets of `livemode` need
/// ([`super::onchain::chain_pairs`]), each once.
pub fn market_pairs(state: &Engine, livemode: bool, coin: &AssetCode) -> Vec<String> {
    let mut pairs = pairs_for(coin);
    for pair in super::onchain::chain_pairs(state, livemode) {
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs
}

fn usd() -> AssetCode {
    AssetCode::new("USD").unwrap_or_else(|| unreachable!("USD is a valid asset code"))
}

/// Builds the snapshot for `intent` paid from `source`. `prices` values gas in USD.
pub async fn snapshot(
    state: &Engine,
    intent: &PaymentIntent,
    coin: &AssetCode,
    source: &FundingSource,
    prices: &PriceReadings,
) -> Result<Market, MarketError> {
    let mut graph = Graph::new();
    let usd_ix = graph.add_asset(AssetInfo {
        code: usd(),
        decimals: 2,
        usd_pair: REFERENCE_PAIR.into(),
        peg: Peg::Floating,
    })?;
    let coin_ix = graph.add_asset(AssetInfo {
        code: coin.clone(),
        decimals: intent.settlement.asset.decimals,
        usd_pair: format!("{coin}/USD"),
        peg: Peg::Usd,
    })?;
    let mut skipped = Vec::new();
    let chains: Vec<_> = state
        .chains
        .iter()
        .filter(|c| c.livemode == intent.livemode)
        .cloned()
        .collect();
    let mut gas = BTreeMap::new();
    for chain in &chains {
        let Ok(id) = chain.caip2.parse::<ChainId>() else {
            continue;
        };
        match transfer_gas_usd(chain, prices).await {
            Ok(usd) => {
                graph.set_settlement(
                    id.clone(),
                    Settlement {
                        gas_usd: usd,
                        seconds: SETTLEMENT_SECS,
                    },
                )?;
                gas.insert(id, usd);
            }
            Err(why) => skipped.push(format!("{}: {why}", chain.caip2)),
        }
    }
    let owed = intent_amount(intent)?;
    // A deposit token the mode's bank mints is bought on no venue: the venues sell USDC, the
    // float's funding asset, which the mint edge takes (added with the chains' assets below).
    let minted = super::issuer::desk_for(state, intent).is_some();
    if !minted {
        add_venues(
            state,
            intent,
            &mut graph,
            (usd_ix, coin_ix, coin),
            &gas,
            owed,
        )
        .await
        .into_iter()
        .for_each(|why| skipped.push(why));
    }
    match super::onchain::add_chain_edges(
        state,
        intent.livemode,
        &mut graph,
        prices.price("ETH/USD"),
    )
    .await
    {
        Ok(left_out) => skipped.extend(left_out),
        Err(why) => skipped.push(format!("chains: {why}")),
    }
    if minted {
        let funding = AssetCode::new(super::issuer::FLOAT_FUNDING);
        match funding.and_then(|c| graph.asset_by_code(&c).map(|ix| (ix, c))) {
            Some((ix, code)) => {
                add_venues(state, intent, &mut graph, (usd_ix, ix, &code), &gas, owed)
                    .await
                    .into_iter()
                    .for_each(|why| skipped.push(why));
            }
            None => skipped.push("venues: no USDC on the chains to fund a mint with".into()),
        }
    }
    let target_chain: ChainId = intent.settlement.asset.id.chain().clone();
    let target = graph.node(coin_ix, Location::Chain(target_chain))?;
    // A deposit token the mode's issuing bank mints there: the mint from USDC (issuer.rs).
    let issuer_refusal =
        match super::issuer::add_mint_edge(state, intent, &mut graph, target, owed).await {
            Ok(refusal) => refusal,
            Err(why) => {
                skipped.push(format!("issuer: {why}"));
                None
            }
        };
    let source = match source {
        FundingSource::Exchange { venue, asset } => {
            let ix = asset_ix(&graph, asset)?;
            graph.node(ix, Location::Venue(VenueId(venue.clone())))
        }
        FundingSource::Wallet { chain, asset } => {
            let ix = asset_ix(&graph, asset)?;
            graph.node(ix, Location::Chain(chain.clone()))
        }
    }?;
    Ok(Market {
        graph,
        source,
        target,
        skipped,
        issuer_refusal,
    })
}

/// Each market venue's trade, withdrawal and deposit edges for `coin`; what was left out.
async fn add_venues(
    state: &Engine,
    intent: &PaymentIntent,
    graph: &mut Graph,
    (usd_ix, coin_ix, coin): (AssetIx, AssetIx, &AssetCode),
    gas: &BTreeMap<ChainId, Decimal>,
    owed: Decimal,
) -> Vec<String> {
    let mut skipped = Vec::new();
    let Some(venues) = state.venues.get(&intent.livemode) else {
        return skipped;
    };
    for venue in MARKET_VENUES {
        if !venues.offers(venue) {
            continue;
        }
        let added = add_venue(graph, venues, venue, (usd_ix, coin_ix, coin), gas, owed).await;
        if let Err(why) = added {
            skipped.push(format!("{venue}: {why}"));
        }
    }
    skipped
}

fn asset_ix(graph: &Graph, asset: &AssetCode) -> Result<AssetIx, MarketError> {
    graph
        .asset_by_code(asset)
        .ok_or_else(|| MarketError::NotRoutable(asset.clone()))
}

/// Why no market snapshot could be built for an intent.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("{0}")]
    Graph(#[from] rialto_router::RouterError),
    #[error("asset {0} is not routable")]
    NotRoutable(AssetCode),
    #[error("intent amount: {0}")]
    Amount(#[from] rialto_core::MoneyError),
}

/// What the route must deliver, in the settlement coin: the amount itself (stablecoins settle
/// one for one) or a conversion intent's locked `settlement_amount`.
pub fn intent_amount(intent: &PaymentIntent) -> Result<Decimal, rialto_core::MoneyError> {
    if let Some(owed) = crate::chain::owed(intent) {
        return Ok(owed.amount());
    }
    let asset = &intent.settlement.asset;
    rialto_core::money::Money::parse(&intent.amount.to_amount_string(), asset.currency())
        .map(|m| m.amount())
}

/// One ERC-20 transfer's gas in USD: the node's gas price, `ETH/USD` from the feed.
pub(crate) async fn transfer_gas_usd(
    chain: &crate::chain::Chain,
    prices: &PriceReadings,
) -> Result<Decimal, String> {
    let eth_usd = prices
        .price("ETH/USD")
        .ok_or("no usable ETH/USD reading to value gas")?;
    let wei = chain
        .node
        .unit_price()
        .await
        .map_err(|e| format!("gas price: {e}"))?;
    let wei = Decimal::from(u64::try_from(wei).map_err(|_| "gas price out of range")?);
    let eth = wei * Decimal::from(TRANSFER_GAS) / Decimal::from(1_000_000_000_000_000_000u64);
    // Gas is a cost: rounded up to the cent.
    Ok(rialto_router::edge::round_up(eth * eth_usd, 2))
}

/// Adds one venue's trade, withdrawal and deposit edges.
async fn add_venue(
    graph: &mut Graph,
    venues: &Venues,
    venue: &str,
    (usd_ix, coin_ix, coin): (AssetIx, AssetIx, &AssetCode),
    gas: &BTreeMap<ChainId, Decimal>,
    owed: Decimal,
) -> Result<(), String> {
    let at = Location::Venue(VenueId(venue.to_owned()));
    let venue_id = VenueId(venue.to_owned());
    let coin_here = graph.node(coin_ix, at.clone()).map_err(|e| e.to_string())?;
    let usd_here = graph.node(usd_ix, at).map_err(|e| e.to_string())?;
    let mut booked = false;
    for chain in gas.keys() {
        let exchange = market_client(venues, venue, coin, chain)?;
        if !booked {
            let edge = book_edge(exchange.as_ref(), coin, owed).await?;
            graph
                .add_edge(Edge {
                    from: usd_here,
                    to: coin_here,
                    kind: EdgeKind::Trade(edge),
                    venue: venue_id.clone(),
                    seconds: TRADE_SECS,
                })
                .map_err(|e| e.to_string())?;
            booked = true;
        }
        let on_chain = graph
            .node(coin_ix, Location::Chain(chain.clone()))
            .map_err(|e| e.to_string())?;
        let terms = exchange
            .withdrawal_terms(coin, chain)
            .await
            .map_err(|e| format!("withdrawal terms on {chain}: {e}"))?;
        graph
            .add_edge(Edge {
                from: coin_here,
                to: on_chain,
                kind: EdgeKind::Withdrawal {
                    fee: terms.fee,
                    minimum: terms.minimum,
                },
                venue: venue_id.clone(),
                seconds: WITHDRAWAL_SECS,
            })
            .map_err(|e| e.to_string())?;
        // No deposit edges (chain → venue): Rialto's address cannot credit the payer's venue
        // account, and the execution has no deposit driver, so quotes never use them.
    }
    Ok(())
}

/// A venue client for public reads and terms, with Rialto's own read credentials (placeholders
/// today: market data and withdrawal terms need none on the sandbox; live venues need Rialto's
/// own read key, which the venues' factory holds).
fn market_client(
    venues: &Venues,
    venue: &str,
    coin: &AssetCode,
    chain: &ChainId,
) -> Result<Box<dyn Exchange>, String> {
    let target = SettlementTarget {
        asset: coin,
        chain,
        address: "0x000000000000000000000000000000000000dEaD",
    };
    venues
        .market_client(venue, target)
        .map_err(|e| e.to_string())
}

/// The coin/USD book as one level: the venue's walk for the intent amount plus headroom, at
/// the worst price it touched (so the router never prices a fill better than the venue would
/// give), with the venue's taker fee.
async fn book_edge(
    exchange: &dyn Exchange,
    coin: &AssetCode,
    owed: Decimal,
) -> Result<BookTrade, String> {
    let size = (owed * BOOK_HEADROOM + Decimal::from(10)).round_dp(2);
    let quote = exchange
        .quote(&Pair::new(coin.clone(), usd()), Side::Buy, size)
        .await
        .map_err(|e| format!("book: {e}"))?;
    Ok(BookTrade {
        side: Side::Buy,
        levels: vec![BookLevel {
            price: quote.worst_price,
            size: quote.base_size,
        }],
        taker_fee_rate: quote.taker_fee_rate,
    })
}
