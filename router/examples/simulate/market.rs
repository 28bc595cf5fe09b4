//! The seeded market: chains, stablecoins, exchange accounts with books, DEX pools, CCTP and
//! generic bridges. Every amount, price, fee and reserve is built from integers into
//! `Decimal`; the RNG only picks integers.

use rand::rngs::StdRng;
use rand::Rng;
use rialto_connectors::exchange::{AssetCode, BookLevel, Side};
use rialto_core::ChainId;
use rialto_router::{
    AssetInfo, AssetIx, BookTrade, Edge, EdgeKind, Graph, Location, NodeIx, Peg, Pool, Settlement,
    VenueId,
};
use rust_decimal::Decimal;

pub struct ChainSpec {
    pub id: ChainId,
    pub name: &'static str,
    /// Gas of one token transfer, in hundredths of a cent.
    pub gas_centicents: i64,
    /// Seconds to finality as exchanges count deposits.
    pub confirm_secs: u32,
    pub cctp: bool,
}

pub struct AssetSpec {
    pub code: &'static str,
    pub decimals: u32,
    /// USD price in 1/10 000.
    pub usd_e4: i64,
    pub peg: Peg,
    /// Chains (by name) the asset lives on.
    pub chains: &'static [&'static str],
}

pub struct Market {
    pub graph: Graph,
    pub chains: Vec<ChainSpec>,
    pub assets: Vec<(AssetIx, AssetSpec)>,
    pub venues: Vec<VenueId>,
    /// Chain nodes that exist: (asset, chain index) → node.
    pub chain_nodes: Vec<(AssetIx, usize, NodeIx)>,
}

fn chain_specs() -> Vec<ChainSpec> {
    let spec = |id: &str, name, gas, confirm, cctp| ChainSpec {
        id: id.parse().expect("chain id literal"),
        name,
        gas_centicents: gas,
        confirm_secs: confirm,
        cctp,
    };
    vec![
        spec("eip155:1", "ethereum", 15_000, 780, true),
        spec("eip155:8453", "base", 10, 60, true),
        spec("eip155:42161", "arbitrum", 20, 60, true),
        spec("eip155:10", "optimism", 10, 60, true),
        spec("eip155:137", "polygon", 30, 300, true),
        spec("eip155:43114", "avalanche", 300, 30, true),
        spec("eip155:56", "bnb", 300, 45, false),
        spec("eip155:59144", "linea", 50, 120, true),
        spec("eip155:324", "zksync", 40, 120, false),
        spec(
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "solana",
            5,
            30,
            true,
        ),
        spec("tron:mainnet", "tron", 10_000, 60, false),
        spec("eip155:534352", "scroll", 50, 120, false),
    ]
}

const ALL_EVM: &[&str] = &[
    "ethereum",
    "base",
    "arbitrum",
    "optimism",
    "polygon",
    "avalanche",
    "bnb",
    "linea",
    "zksync",
    "scroll",
];

fn asset_specs() -> Vec<AssetSpec> {
    vec![
        AssetSpec {
            code: "USDC",
            decimals: 6,
            usd_e4: 10_000,
            peg: Peg::Usd,
            chains: &[
                "ethereum",
                "base",
                "arbitrum",
                "optimism",
                "polygon",
                "avalanche",
                "bnb",
                "linea",
                "zksync",
                "solana",
                "scroll",
            ],
        },
        AssetSpec {
            code: "USDT",
            decimals: 6,
            usd_e4: 9_998,
            peg: Peg::Usd,
            chains: &[
                "ethereum",
                "arbitrum",
                "optimism",
                "polygon",
                "avalanche",
                "bnb",
                "solana",
                "tron",
                "linea",
            ],
        },
        AssetSpec {
            code: "PYUSD",
            decimals: 6,
            usd_e4: 9_996,
            peg: Peg::Usd,
            chains: &["ethereum", "solana", "arbitrum"],
        },
        AssetSpec {
            code: "EURC",
            decimals: 6,
            usd_e4: 10_800,
            peg: Peg::Fiat {
                usd_pair: "EUR/USD".into(),
            },
            chains: &["ethereum", "base", "solana", "avalanche"],
        },
        AssetSpec {
            code: "DAI",
            decimals: 18,
            usd_e4: 10_001,
            peg: Peg::Usd,
            chains: ALL_EVM,
        },
        AssetSpec {
            code: "JPMD",
            decimals: 6,
            usd_e4: 10_000,
            peg: Peg::Usd,
            chains: &["base", "ethereum"],
        },
    ]
}

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

impl Market {
    pub fn generate(rng: &mut StdRng, venue_count: usize) -> Self {
        let mut graph = Graph::new();
        let chains = chain_specs();
        let mut assets = Vec::new();
        for spec in asset_specs() {
            let info = AssetInfo {
                code: AssetCode::new(spec.code).expect("asset code literal"),
                decimals: spec.decimals,
                usd_pair: format!("{}/USD", spec.code),
                peg: spec.peg.clone(),
            };
            let ix = graph.add_asset(info).expect("distinct assets");
            assets.push((ix, spec));
        }
        for c in &chains {
            let settlement = Settlement {
                gas_usd: dec(c.gas_centicents, 4),
                seconds: c.confirm_secs.min(60),
            };
            graph
                .set_settlement(c.id.clone(), settlement)
                .expect("settlement");
        }
        let mut market = Market {
            graph,
            chains,
            assets,
            venues: Vec::new(),
            chain_nodes: Vec::new(),
        };
        market.build_chain_nodes();
        for v in 0..venue_count {
            market.add_exchange(rng, v);
        }
        market.add_dexes(rng);
        market.add_bridges(rng);
        market
    }

    fn chain_ix(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }

    fn build_chain_nodes(&mut self) {
        for a in 0..self.assets.len() {
            let (ix, chains) = (self.assets[a].0, self.assets[a].1.chains);
            for name in chains {
                let Some(c) = self.chain_ix(name) else {
                    continue;
                };
                let loc = Location::Chain(self.chains[c].id.clone());
                let node = self.graph.node(ix, loc).expect("node");
                self.chain_nodes.push((ix, c, node));
            }
        }
    }

    pub fn chain_node(&self, asset: AssetIx, chain: usize) -> Option<NodeIx> {
        self.chain_nodes
            .iter()
            .find(|(a, c, _)| *a == asset && *c == chain)
            .map(|(_, _, n)| *n)
    }

    pub fn usd_e4(&self, asset: AssetIx) -> i64 {
        self.assets
            .iter()
            .find(|(a, _)| *a == asset)
            .map_or(10_000, |(_, s)| s.usd_e4)
    }

    fn edge(&mut self, from: NodeIx, to: NodeIx, kind: EdgeKind, venue: &VenueId, secs: u32) {
        let edge = Edge {
            from,
            to,
            kind,
            venue: venue.clone(),
            seconds: secs,
        };
        self.graph.add_edge(edge).expect("consistent edge");
    }

    /// One exchange account: USDC always, a few other assets, each on a few of its networks,
    /// books against USDC (and USDT where both are listed), deposits and withdrawals.
    fn add_exchange(&mut self, rng: &mut StdRng, v: usize) {
        let venue = VenueId(format!("cex-{v:03}"));
        self.venues.push(venue.clone());
        let location = Location::Venue(venue.clone());
        let mut listed = Vec::new();
        for a in 0..self.assets.len() {
            let keep = a == 0 || rng.gen_range(0..100) < [100, 90, 35, 45, 55, 15][a];
            if keep {
                listed.push(a);
            }
        }
        let taker_bps = rng.gen_range(2..=20);
        let mut nodes = Vec::new();
        for &a in &listed {
            let ix = self.assets[a].0;
            let node = self.graph.node(ix, location.clone()).expect("node");
            nodes.push((a, node));
            self.add_networks(rng, &venue, a, node);
        }
        let usdc = nodes[0].1;
        let usdt = nodes.iter().find(|(a, _)| *a == 1).map(|(_, n)| *n);
        for &(a, node) in nodes.iter().skip(1) {
            self.add_market(rng, &venue, (a, node), (0, usdc), taker_bps);
            if let (Some(usdt), true) = (usdt, a >= 2) {
                if rng.gen_range(0..100) < 30 {
                    self.add_market(rng, &venue, (a, node), (1, usdt), taker_bps);
                }
            }
        }
    }

    fn add_networks(&mut self, rng: &mut StdRng, venue: &VenueId, a: usize, node: NodeIx) {
        let (ix, decimals_cents) = (self.assets[a].0, self.assets[a].1.usd_e4);
        let candidates: Vec<usize> = self
            .chain_nodes
            .iter()
            .filter(|(asset, _, _)| *asset == ix)
            .map(|(_, c, _)| *c)
            .collect();
        let count = rng.gen_range(2..=4).min(candidates.len());
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < count {
            let c = candidates[rng.gen_range(0..candidates.len())];
            if !picked.contains(&c) {
                picked.push(c);
            }
        }
        let _ = decimals_cents;
        for c in picked {
            let Some(chain_node) = self.chain_node(ix, c) else {
                continue;
            };
            let spec = &self.chains[c];
            let (gas, confirm) = (spec.gas_centicents, spec.confirm_secs);
            // Withdrawal fee: a flat amount in the asset, larger on expensive chains.
            let fee_cents = (gas / 100).max(1) * rng.gen_range(1..=3) + rng.gen_range(0..50);
            let minimum = rng.gen_range(1..=20);
            let withdraw = EdgeKind::Withdrawal {
                fee: dec(fee_cents, 2),
                minimum: Decimal::from(minimum),
            };
            let secs = rng.gen_range(60..=1_200);
            self.edge(node, chain_node, withdraw, venue, secs);
            let deposit = EdgeKind::Transfer {
                gas_usd: dec(gas, 4),
            };
            self.edge(chain_node, node, deposit, venue, confirm);
        }
    }

    /// Both sides of `base/quote` on one account, around the oracle cross rate.
    fn add_market(
        &mut self,
        rng: &mut StdRng,
        venue: &VenueId,
        (base_a, base_node): (usize, NodeIx),
        (quote_a, quote_node): (usize, NodeIx),
        taker_bps: i64,
    ) {
        let (b, q) = (self.assets[base_a].1.usd_e4, self.assets[quote_a].1.usd_e4);
        let noise_e6 = rng.gen_range(-300..=300);
        let mid = Decimal::from(b) / Decimal::from(q) * (Decimal::ONE + dec(noise_e6, 6));
        let half_spread = dec(rng.gen_range(5..=50), 6);
        let step = dec(rng.gen_range(10..=80), 6);
        let depth: i64 = rng.gen_range(3_000..=400_000);
        let mut asks = Vec::new();
        let mut bids = Vec::new();
        for k in 0..8i64 {
            let off = half_spread + step * Decimal::from(k);
            let size = Decimal::from(depth * (k + 1) + rng.gen_range(0..1_000));
            asks.push(BookLevel {
                price: (mid * (Decimal::ONE + off)).round_dp(8),
                size,
            });
            bids.push(BookLevel {
                price: (mid * (Decimal::ONE - off)).round_dp(8),
                size,
            });
        }
        let fee = dec(taker_bps, 4);
        let buy = EdgeKind::Trade(BookTrade {
            side: Side::Buy,
            levels: asks,
            taker_fee_rate: fee,
        });
        let sell = EdgeKind::Trade(BookTrade {
            side: Side::Sell,
            levels: bids,
            taker_fee_rate: fee,
        });
        self.edge(quote_node, base_node, buy, venue, 2);
        self.edge(base_node, quote_node, sell, venue, 2);
    }

    /// Constant-product pools against USDC on every chain, one to three per pair.
    fn add_dexes(&mut self, rng: &mut StdRng) {
        for c in 0..self.chains.len() {
            let Some(usdc) = self.chain_node(self.assets[0].0, c) else {
                // Tron has no USDC here: its USDT pools pair with nothing and it relies on
                // bridges and exchanges.
                continue;
            };
            for a in 1..self.assets.len() {
                let ix = self.assets[a].0;
                let Some(other) = self.chain_node(ix, c) else {
                    continue;
                };
                for k in 0..rng.gen_range(1..=3) {
                    let venue = VenueId(format!("dex-{}-{k}", self.chains[c].name));
                    self.add_pool(rng, &venue, c, (0, usdc), (a, other));
                }
            }
        }
    }

    fn add_pool(
        &mut self,
        rng: &mut StdRng,
        venue: &VenueId,
        chain: usize,
        (a, node_a): (usize, NodeIx),
        (b, node_b): (usize, NodeIx),
    ) {
        let usd: i64 = rng.gen_range(200_000..=40_000_000);
        let ra =
            Decimal::from(usd) * Decimal::from(10_000) / Decimal::from(self.assets[a].1.usd_e4);
        let rb =
            Decimal::from(usd) * Decimal::from(10_000) / Decimal::from(self.assets[b].1.usd_e4);
        let (ra, rb) = (ra.round_dp(6), rb.round_dp(6));
        let fee_bps = [1u32, 5, 5, 30][rng.gen_range(0..4)];
        let secs = if self.chains[chain].name == "ethereum" {
            24
        } else {
            4
        };
        let ab = EdgeKind::Dex(Pool {
            reserve_in: ra,
            reserve_out: rb,
            fee_bps,
        });
        let ba = EdgeKind::Dex(Pool {
            reserve_in: rb,
            reserve_out: ra,
            fee_bps,
        });
        self.edge(node_a, node_b, ab, venue, secs);
        self.edge(node_b, node_a, ba, venue, secs);
    }

    /// CCTP (standard: free and slow; fast: a fee and seconds) between CCTP chains for USDC,
    /// and two generic bridges for the other assets.
    fn add_bridges(&mut self, rng: &mut StdRng) {
        let usdc = self.assets[0].0;
        let cctp = VenueId("cctp".into());
        let cctp_fast = VenueId("cctp-fast".into());
        for from in 0..self.chains.len() {
            for to in 0..self.chains.len() {
                if from == to || !self.chains[from].cctp || !self.chains[to].cctp {
                    continue;
                }
                let (Some(f), Some(t)) = (self.chain_node(usdc, from), self.chain_node(usdc, to))
                else {
                    continue;
                };
                let slow = self.chains[from].confirm_secs.max(300) + 60;
                self.edge(
                    f,
                    t,
                    EdgeKind::Bridge {
                        fee_bps: 0,
                        fixed: Decimal::ZERO,
                    },
                    &cctp,
                    slow,
                );
                let fast_fee = dec(rng.gen_range(5..=50), 2);
                self.edge(
                    f,
                    t,
                    EdgeKind::Bridge {
                        fee_bps: 0,
                        fixed: fast_fee,
                    },
                    &cctp_fast,
                    25,
                );
            }
        }
        for a in 1..self.assets.len() {
            let ix = self.assets[a].0;
            let on: Vec<(usize, NodeIx)> = self
                .chain_nodes
                .iter()
                .filter(|(asset, _, _)| *asset == ix)
                .map(|(_, c, n)| (*c, *n))
                .collect();
            for (i, &(_, f)) in on.iter().enumerate() {
                for (j, &(_, t)) in on.iter().enumerate() {
                    if i == j {
                        continue;
                    }
                    for op in ["bridge-a", "bridge-b"] {
                        if rng.gen_range(0..100) < 60 {
                            let kind = EdgeKind::Bridge {
                                fee_bps: rng.gen_range(2..=12),
                                fixed: dec(rng.gen_range(5..=100), 2),
                            };
                            let secs = rng.gen_range(60..=900);
                            self.edge(f, t, kind, &VenueId(op.into()), secs);
                        }
                    }
                }
            }
        }
    }
}
