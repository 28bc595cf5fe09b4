//! Price safety: every conversion is checked against an oracle reading, and a stablecoin that
//! lost its peg gets no route converting into it.
//!
//! The router does not read chains. The gateway adapts `rialto-evm`'s `PriceFeed` (Chainlink
//! with the sequencer check) to [`Oracle`]; the router re-checks what it is handed anyway
//! (positive, within heartbeat + margin, sequencer up), so a lax adapter cannot slip a bad
//! price into a quote.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::graph::{AssetIx, Graph, Peg};

/// One oracle answer, as the gateway's adapter hands it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleReading {
    /// `BASE/QUOTE`: `USDC/USD` is the USD price of one USDC.
    pub pair: String,
    pub price: Decimal,
    pub round_id: u128,
    /// Unix seconds of the round's last update.
    pub updated_at: u64,
    /// The feed's heartbeat in seconds: a healthy feed updates at least this often.
    pub heartbeat: u64,
    /// False when the feed lives on an L2 whose sequencer is down or in its grace period.
    pub sequencer_up: bool,
}

/// A source of oracle readings. Read-only, safe to call repeatedly; `None` means no reading
/// could be obtained at all (no feed, node unreachable).
pub trait Oracle {
    fn reading(&self, pair: &str) -> Option<OracleReading>;
}

/// Why a price (or a route needing it) was refused. Each has its own reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceRefusal {
    /// No reading could be obtained.
    Unavailable,
    /// Older than its heartbeat plus the configured margin.
    Stale,
    /// Zero or negative.
    NotPositive,
    /// Read while the feed's L2 sequencer was down.
    SequencerDown,
    /// The route's implied price is too far from the oracle's.
    Deviation,
    /// The route would convert into a stablecoin that lost its peg.
    Depegged,
}

/// Bounds of the price checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePolicy {
    /// Largest allowed distance between an edge's implied rate (fees included) and the
    /// oracle's, in bps of the oracle rate, either direction.
    pub max_deviation_bps: u32,
    /// Seconds a reading may be older than its heartbeat before it is stale.
    pub staleness_margin_secs: u64,
    /// A stablecoin whose price in its peg currency is below this is depegged (`0.98`).
    pub depeg_threshold: Decimal,
}

impl Default for PricePolicy {
    fn default() -> Self {
        Self {
            max_deviation_bps: 150,
            staleness_margin_secs: 60,
            depeg_threshold: Decimal::new(98, 2),
        }
    }
}

/// A reading that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedPrice {
    pub pair: String,
    pub price: Decimal,
    pub round_id: u128,
    pub updated_at: u64,
}

/// Judges one reading at `now` (Unix seconds).
pub fn check_reading(
    reading: Option<OracleReading>,
    now: u64,
    policy: &PricePolicy,
) -> Result<CheckedPrice, PriceRefusal> {
    let reading = reading.ok_or(PriceRefusal::Unavailable)?;
    if reading.price <= Decimal::ZERO {
        return Err(PriceRefusal::NotPositive);
    }
    if !reading.sequencer_up {
        return Err(PriceRefusal::SequencerDown);
    }
    let limit = reading
        .updated_at
        .saturating_add(reading.heartbeat)
        .saturating_add(policy.staleness_margin_secs);
    if now > limit {
        return Err(PriceRefusal::Stale);
    }
    Ok(CheckedPrice {
        pair: reading.pair,
        price: reading.price,
        round_id: reading.round_id,
        updated_at: reading.updated_at,
    })
}

/// Every asset's USD price, checked once per quote so the search compares indices, not
/// strings. `depegged[i]` is the breaker's verdict for asset `i`.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: Vec<Result<CheckedPrice, PriceRefusal>>,
    depegged: Vec<bool>,
    policy: PricePolicy,
}

impl PriceTable {
    pub fn build(graph: &Graph, oracle: &dyn Oracle, now: u64, policy: PricePolicy) -> Self {
        let prices: Vec<_> = graph
            .assets()
            .map(|(_, a)| check_reading(oracle.reading(&a.usd_pair), now, &policy))
            .collect();
        let depegged = graph
            .assets()
            .map(|(ix, a)| is_depegged(&prices[usize::from(ix.0)], &a.peg, oracle, now, &policy))
            .collect();
        Self {
            prices,
            depegged,
            policy,
        }
    }

    pub fn price(&self, asset: AssetIx) -> Result<&CheckedPrice, PriceRefusal> {
        self.prices[usize::from(asset.0)].as_ref().map_err(|r| *r)
    }

    /// The USD price for valuing fees and costs: the checked price, or one unit of the peg
    /// for a refused stablecoin (a same-asset leg still needs a fee figure; no conversion is
    /// ever priced with this fallback, see [`PriceTable::check_conversion`]).
    pub fn usd_value(&self, asset: AssetIx) -> Decimal {
        match &self.prices[usize::from(asset.0)] {
            Ok(p) => p.price,
            Err(_) => Decimal::ONE,
        }
    }

    pub fn is_depegged(&self, asset: AssetIx) -> bool {
        self.depegged[usize::from(asset.0)]
    }

    pub fn policy(&self) -> &PricePolicy {
        &self.policy
    }

    /// Checks a conversion of `input` of `from` into `output` of `to`: both prices must be
    /// usable, `to` must not be depegged, and the implied rate (fees included) must be within
    /// `max_deviation_bps` of the oracle rate.
    pub fn check_conversion(
        &self,
        from: AssetIx,
        to: AssetIx,
        input: Decimal,
        output: Decimal,
    ) -> Result<(), PriceRefusal> {
        if self.is_depegged(to) {
            return Err(PriceRefusal::Depegged);
        }
        let p_from = self.price(from)?.price;
        let p_to = self.price(to)?.price;
        if input <= Decimal::ZERO {
            return Err(PriceRefusal::Deviation);
        }
        // Value out against value in, both in USD (equal at the oracle rate exactly), compared
        // by multiplication: this runs on every edge the search relaxes.
        let value_in = input * p_from;
        let value_out = output * p_to;
        let distance = (value_out - value_in).abs() * Decimal::from(10_000u32);
        if distance > value_in * Decimal::from(self.policy.max_deviation_bps) {
            return Err(PriceRefusal::Deviation);
        }
        Ok(())
    }
}

fn is_depegged(
    price: &Result<CheckedPrice, PriceRefusal>,
    peg: &Peg,
    oracle: &dyn Oracle,
    now: u64,
    policy: &PricePolicy,
) -> bool {
    let Ok(price) = price else {
        // An unusable price is refused on its own terms; the breaker needs a reading.
        return false;
    };
    let peg_usd = match peg {
        Peg::Floating => return false,
        Peg::Usd => Decimal::ONE,
        Peg::Fiat { usd_pair } => match check_reading(oracle.reading(usd_pair), now, policy) {
            Ok(p) => p.price,
            // Without the peg currency's price we cannot tell: do not trip the breaker, but
            // conversions still need the asset's own price, which passed.
            Err(_) => return false,
        },
    };
    price.price / peg_usd < policy.depeg_threshold
}

/// The settlement assets (of merchants, as the gateway lists them) that are depegged right
/// now. Notifying the merchants is the gateway's job.
pub fn depegged_assets(table: &PriceTable, settlement_assets: &[AssetIx]) -> Vec<AssetIx> {
    let mut out: Vec<AssetIx> = settlement_assets
        .iter()
        .copied()
        .filter(|a| table.is_depegged(*a))
        .collect();
    out.sort();
    out.dedup();
    out
}
