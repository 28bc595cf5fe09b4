//! Injected failures, drawn deterministically from (seed, payment, edge, attempt) so that the
//! router with fallback and the single-route baseline meet exactly the same faults.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::Rng;
use rialto_router::{EdgeKind, Graph, LegFailure, LegKind, LegOrder, OracleReading, VenueId};
use rust_decimal::Decimal;

/// A time window, Unix seconds, end exclusive.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

impl Window {
    fn contains(&self, t: u64) -> bool {
        (self.start..self.end).contains(&t)
    }
}

pub struct Faults {
    seed: u64,
    pub outages: HashMap<VenueId, Vec<Window>>,
    pub storms: HashMap<VenueId, Vec<Window>>,
    /// Oracle pairs whose feed stops updating for a while.
    pub stale: Vec<(String, Window)>,
    /// A stablecoin trading below its peg for a while (pair, price in 1/10 000).
    pub depeg: Option<(String, i64, Window)>,
    pub counts: FaultCounts,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct FaultCounts {
    pub outage_failures: u64,
    pub rate_limited: u64,
    pub stuck: u64,
    pub reverted: u64,
    pub illiquid: u64,
    pub slipped: u64,
}

/// What the simulated world does with one leg.
#[derive(Debug, Clone, Copy)]
pub enum Drawn {
    Confirmed(Decimal),
    Failed(LegFailure),
    /// Reported unknown; reconciliation later finds the inner outcome.
    Unknown(Resolved),
}

#[derive(Debug, Clone, Copy)]
pub enum Resolved {
    Confirmed(Decimal),
    Failed(LegFailure),
}

/// splitmix64 over the mixed key: a stateless, seeded draw in 0..10 000.
fn draw(seed: u64, a: u64, b: u64, c: u64, salt: u64) -> u64 {
    let mut z = seed
        ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ c.wrapping_mul(0x1656_67B1_9E37_79F9)
        ^ salt.wrapping_mul(0x27D4_EB2F_1656_67C5);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 10_000
}

fn windows(
    rng: &mut StdRng,
    start: u64,
    span: u64,
    max: u32,
    min_len: u64,
    max_len: u64,
) -> Vec<Window> {
    let n = rng.gen_range(0..=max);
    (0..n)
        .map(|_| {
            let s = start + rng.gen_range(0..span);
            Window {
                start: s,
                end: s + rng.gen_range(min_len..=max_len),
            }
        })
        .collect()
}

impl Faults {
    pub fn generate(rng: &mut StdRng, venues: &[VenueId], start: u64, span: u64) -> Self {
        let mut outages = HashMap::new();
        let mut storms = HashMap::new();
        for v in venues {
            // About one venue in three has an outage of 5–45 minutes during the run; one in
            // five a 429 storm of 2–20 minutes.
            if rng.gen_range(0..100) < 33 {
                outages.insert(v.clone(), windows(rng, start, span, 2, 300, 2_700));
            }
            if rng.gen_range(0..100) < 20 {
                storms.insert(v.clone(), windows(rng, start, span, 3, 120, 1_200));
            }
        }
        let mut stale = Vec::new();
        for pair in ["USDT/USD", "PYUSD/USD", "DAI/USD", "EURC/USD", "JPMD/USD"] {
            for w in windows(rng, start, span, 2, 600, 3_600) {
                stale.push((pair.to_owned(), w));
            }
        }
        let s = start + span / 2;
        Self {
            seed: rng.gen(),
            outages,
            storms,
            stale,
            depeg: Some((
                "PYUSD/USD".into(),
                9_700,
                Window {
                    start: s,
                    end: s + 1_800,
                },
            )),
            counts: FaultCounts::default(),
        }
    }

    /// The oracle readings at `now`: fresh except where a stale window or the depeg applies.
    pub fn readings(&self, base: &[(String, i64)], now: u64) -> HashMap<String, OracleReading> {
        let mut out = HashMap::new();
        for (pair, price_e4) in base {
            let mut price = *price_e4;
            if let Some((p, depegged, w)) = &self.depeg {
                if p == pair && w.contains(now) {
                    price = *depegged;
                }
            }
            let stale_since = self
                .stale
                .iter()
                .find(|(p, w)| p == pair && w.contains(now))
                .map(|(_, w)| w.start);
            let updated_at = match stale_since {
                // Stopped at the window's start with a one-hour heartbeat: stale once
                // heartbeat + margin has passed.
                Some(since) => since.saturating_sub(3_600),
                None => now - 30,
            };
            out.insert(
                pair.clone(),
                OracleReading {
                    pair: pair.clone(),
                    price: Decimal::new(price, 4),
                    round_id: u128::from(now / 60),
                    updated_at,
                    heartbeat: 3_600,
                    sequencer_up: true,
                },
            );
        }
        out
    }

    fn in_any(map: &HashMap<VenueId, Vec<Window>>, v: &VenueId, t: u64) -> bool {
        map.get(v)
            .is_some_and(|ws| ws.iter().any(|w| w.contains(t)))
    }

    /// The world's answer to `order` at `now` for payment `payment`, attempt `attempt` on it.
    pub fn leg(
        &mut self,
        graph: &Graph,
        payment: u64,
        order: &LegOrder,
        attempt: u64,
        now: u64,
    ) -> Drawn {
        let key = order.edge.map_or(u64::from(u32::MAX), |e| u64::from(e.0));
        let r = |salt| draw(self.seed, payment, key, attempt, salt);
        let Some(e) = order.edge else {
            return if r(1) < 20 {
                self.counts.reverted += 1;
                Drawn::Failed(LegFailure::Reverted)
            } else {
                Drawn::Confirmed(order.input)
            };
        };
        let edge = graph.edge(e);
        if Self::in_any(&self.outages, &edge.venue, now) {
            self.counts.outage_failures += 1;
            return Drawn::Failed(LegFailure::VenueUnavailable);
        }
        if Self::in_any(&self.storms, &edge.venue, now) && r(2) < 7_000 {
            self.counts.rate_limited += 1;
            return Drawn::Failed(LegFailure::RateLimited);
        }
        let dp = graph.asset(graph.node_info(edge.to).asset).decimals;
        let Ok(priced) = edge.kind.forward(order.input, dp) else {
            self.counts.illiquid += 1;
            return Drawn::Failed(LegFailure::InsufficientLiquidity);
        };
        let out = priced.output;
        match edge.kind.leg_kind() {
            LegKind::Withdrawal if r(3) < 300 => {
                self.counts.stuck += 1;
                Drawn::Unknown(if r(4) < 6_000 {
                    Resolved::Confirmed(out)
                } else {
                    Resolved::Failed(LegFailure::Rejected)
                })
            }
            LegKind::DexSwap if r(3) < 200 => {
                self.counts.reverted += 1;
                Drawn::Failed(LegFailure::Reverted)
            }
            LegKind::Bridge | LegKind::Ccip if r(3) < 100 => {
                self.counts.reverted += 1;
                Drawn::Failed(LegFailure::Reverted)
            }
            LegKind::Bridge | LegKind::Ccip if r(3) < 200 => {
                self.counts.stuck += 1;
                Drawn::Unknown(if r(4) < 8_000 {
                    Resolved::Confirmed(out)
                } else {
                    Resolved::Failed(LegFailure::Reverted)
                })
            }
            LegKind::Trade if r(3) < 100 => {
                self.counts.illiquid += 1;
                Drawn::Failed(LegFailure::InsufficientLiquidity)
            }
            LegKind::Trade if r(3) < 600 => {
                self.counts.slipped += 1;
                let bps = 1 + r(5) % 15;
                let slipped =
                    out * (Decimal::ONE - Decimal::new(i64::try_from(bps).unwrap_or(1), 4));
                Drawn::Confirmed(
                    slipped.round_dp_with_strategy(
                        dp,
                        rust_decimal::RoundingStrategy::ToNegativeInfinity,
                    ),
                )
            }
            LegKind::Transfer if r(3) < 50 => {
                self.counts.stuck += 1;
                Drawn::Unknown(Resolved::Confirmed(out))
            }
            _ => Drawn::Confirmed(out),
        }
    }
}

/// Whether an edge kind carries a DEX pool (for the market summary).
pub fn is_pool(kind: &EdgeKind) -> bool {
    matches!(kind, EdgeKind::Dex(_))
}
