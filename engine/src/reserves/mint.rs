//! [`PorMintGuard`]: Chainlink's secure-mint rule (supply + mint ≤ reserves, report fresh)
//! over the chain reads, behind the issuer's `MintGuard` seam: `Issuer::mint` asks it before
//! a new mint request leaves Rialto, so an over-mint is never requested from the bank.

use std::sync::Arc;

use async_trait::async_trait;
use rialto_connectors::issuer::MintGuard;
use rialto_core::{ChainId, Currency, CurrencyKind, Money, PorGuard};
use rust_decimal::Decimal;

use crate::services::Engine;

/// The secure-mint check for one deposit token (by asset code) in one mode.
#[derive(Clone)]
pub struct PorMintGuard {
    engine: Engine,
    livemode: bool,
    asset: String,
}

impl std::fmt::Debug for PorMintGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PorMintGuard")
            .field("livemode", &self.livemode)
            .field("asset", &self.asset)
            .finish()
    }
}

impl PorMintGuard {
    pub fn new(engine: Engine, livemode: bool, asset: &str) -> Arc<Self> {
        Arc::new(Self {
            engine,
            livemode,
            asset: asset.to_ascii_lowercase(),
        })
    }
}

#[async_trait]
impl MintGuard for PorMintGuard {
    /// Refuses (with the stable code first in the message) a mint on a chain where the token
    /// has no reserve feed, whose feed cannot be read, is stale, or does not cover supply plus
    /// the mint. Reads the chain at the moment of asking, not the worker's board: the board
    /// may be a poll old, and a mint changes the supply it judged.
    async fn check_mint(&self, chain: &ChainId, amount: Decimal) -> Result<(), String> {
        let chain = chain.to_string();
        let refused = |code: &str, why: String| {
            metrics::counter!("rialto_secure_mint_refusals_total", "chain" => chain.clone(),
                "asset" => self.asset.clone(), "code" => code.to_owned())
            .increment(1);
            Err(format!("{code}: {why}"))
        };
        let Some(feed) = self
            .engine
            .reserves
            .feed(self.livemode, &chain, &self.asset)
        else {
            return refused(
                "reserves_unverified",
                format!("{} has no reserve feed on {chain}", self.asset),
            );
        };
        let (supply, report) = match super::worker::read_feed(&self.engine, feed).await {
            Ok(read) => read,
            Err(err) => return refused("reserves_unreadable", err.to_string()),
        };
        let currency = Currency::new(&feed.asset, feed.decimals, CurrencyKind::Stablecoin);
        let mint = match Money::from_decimal(amount, currency) {
            Ok(mint) => mint,
            Err(err) => return refused("secure_mint_invalid_amount", err.to_string()),
        };
        let now_secs = u64::try_from(self.engine.clock.now_ms() / 1000).unwrap_or(0);
        let guard = PorGuard {
            heartbeat_secs: feed.heartbeat_secs,
        };
        match guard.check_mint(&report, &supply, &mint, now_secs) {
            Ok(()) => Ok(()),
            Err(breach) => refused(breach.code(), breach.to_string()),
        }
    }
}
