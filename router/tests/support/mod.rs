//! A small market for the router's tests: four assets, three chains, two exchange accounts.

#![allow(dead_code)]

use std::collections::HashMap;

use rialto_connectors::exchange::{AssetCode, BookLevel, Side};
use rialto_core::ChainId;
use rialto_router::{
    AssetInfo, AssetIx, BookTrade, Edge, EdgeIx, EdgeKind, Graph, HealthPolicy, HealthTracker,
    Location, NodeIx, Oracle, OracleReading, Peg, Pool, PricePolicy, PriceTable, RouteContext,
    ScorePolicy, Settlement, VenueId,
};
use rust_decimal::Decimal;

pub const NOW: u64 = 1_800_000_000;

pub fn d(s: &str) -> Decimal {
    s.parse().expect("decimal literal")
}

pub fn chain(s: &str) -> ChainId {
    s.parse().expect("chain id")
}

pub fn base() -> Location {
    Location::Chain(chain("eip155:8453"))
}

pub fn ethereum() -> Location {
    Location::Chain(chain("eip155:1"))
}

pub fn kraken() -> Location {
    Location::Venue(VenueId("kraken".into()))
}

#[derive(Debug, Default, Clone)]
pub struct StaticOracle {
    pub readings: HashMap<String, OracleReading>,
}

impl StaticOracle {
    pub fn set(&mut self, pair: &str, price: &str) {
        self.readings.insert(
            pair.to_owned(),
            OracleReading {
                pair: pair.to_owned(),
                price: d(price),
                round_id: 42,
                updated_at: NOW - 10,
                heartbeat: 86_400,
                sequencer_up: true,
            },
        );
    }

    pub fn edit(&mut self, pair: &str, f: impl FnOnce(&mut OracleReading)) {
        f(self.readings.get_mut(pair).expect("pair"));
    }
}

impl Oracle for StaticOracle {
    fn reading(&self, pair: &str) -> Option<OracleReading> {
        self.readings.get(pair).cloned()
    }
}

pub fn asset(code: &str, decimals: u32, peg: Peg) -> AssetInfo {
    AssetInfo {
        code: AssetCode::new(code).expect("code"),
        decimals,
        usd_pair: format!("{code}/USD"),
        peg,
    }
}

/// USDC, USDT, EURC, DAI; USDC target on base.
#[derive(Debug)]
pub struct Market {
    pub graph: Graph,
    pub oracle: StaticOracle,
    pub health: HealthTracker,
    pub usdc: AssetIx,
    pub usdt: AssetIx,
    pub eurc: AssetIx,
    pub dai: AssetIx,
}

impl Market {
    pub fn new() -> Self {
        let mut graph = Graph::new();
        let usdc = graph.add_asset(asset("USDC", 6, Peg::Usd)).expect("usdc");
        let usdt = graph.add_asset(asset("USDT", 6, Peg::Usd)).expect("usdt");
        let eurc = graph
            .add_asset(asset(
                "EURC",
                6,
                Peg::Fiat {
                    usd_pair: "EUR/USD".into(),
                },
            ))
            .expect("eurc");
        let dai = graph.add_asset(asset("DAI", 18, Peg::Usd)).expect("dai");
        for c in ["eip155:8453", "eip155:1"] {
            graph
                .set_settlement(
                    chain(c),
                    Settlement {
                        gas_usd: d("0.01"),
                        seconds: 5,
                    },
                )
                .expect("settlement");
        }
        let mut oracle = StaticOracle::default();
        oracle.set("USDC/USD", "1");
        oracle.set("USDT/USD", "1");
        oracle.set("DAI/USD", "1");
        oracle.set("EURC/USD", "1.08");
        oracle.set("EUR/USD", "1.08");
        Self {
            graph,
            oracle,
            health: HealthTracker::new(HealthPolicy::default()),
            usdc,
            usdt,
            eurc,
            dai,
        }
    }

    pub fn node(&mut self, asset: AssetIx, at: Location) -> NodeIx {
        self.graph.node(asset, at).expect("node")
    }

    pub fn edge(
        &mut self,
        from: NodeIx,
        to: NodeIx,
        kind: EdgeKind,
        venue: &str,
        secs: u32,
    ) -> EdgeIx {
        self.graph
            .add_edge(Edge {
                from,
                to,
                kind,
                venue: VenueId(venue.into()),
                seconds: secs,
            })
            .expect("edge")
    }

    /// USDT on base swapped into USDC on base through a deep pool with a 5 bps fee.
    pub fn dex_usdt_usdc_base(&mut self, venue: &str, fee_bps: u32) -> EdgeIx {
        let from = self.node(self.usdt, base());
        let to = self.node(self.usdc, base());
        self.edge(
            from,
            to,
            EdgeKind::Dex(Pool {
                reserve_in: d("5000000"),
                reserve_out: d("5000000"),
                fee_bps,
            }),
            venue,
            15,
        )
    }

    /// USDT deposited to kraken, sold for USDC there, withdrawn to base.
    pub fn via_kraken(&mut self) -> [EdgeIx; 3] {
        let usdt_base = self.node(self.usdt, base());
        let usdt_k = self.node(self.usdt, kraken());
        let usdc_k = self.node(self.usdc, kraken());
        let usdc_base = self.node(self.usdc, base());
        let deposit = self.edge(
            usdt_base,
            usdt_k,
            EdgeKind::Transfer { gas_usd: d("0.01") },
            "kraken",
            60,
        );
        let trade = self.edge(
            usdt_k,
            usdc_k,
            EdgeKind::Trade(BookTrade {
                side: Side::Sell,
                levels: vec![
                    BookLevel {
                        price: d("0.9999"),
                        size: d("100000"),
                    },
                    BookLevel {
                        price: d("0.9990"),
                        size: d("1000000"),
                    },
                ],
                taker_fee_rate: d("0.0002"),
            }),
            "kraken",
            2,
        );
        let withdraw = self.edge(
            usdc_k,
            usdc_base,
            EdgeKind::Withdrawal {
                fee: d("0.5"),
                minimum: d("5"),
            },
            "kraken",
            120,
        );
        [deposit, trade, withdraw]
    }

    pub fn prices(&self) -> PriceTable {
        PriceTable::build(&self.graph, &self.oracle, NOW, PricePolicy::default())
    }

    pub fn ctx<'a>(&'a self, prices: &'a PriceTable) -> RouteContext<'a> {
        RouteContext {
            graph: &self.graph,
            prices,
            health: &self.health,
            now_ms: NOW * 1000,
            score: ScorePolicy::default(),
            max_legs: 4,
            labels_per_node: 4,
        }
    }
}
