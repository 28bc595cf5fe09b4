//! Proof of Reserve as a guard on the assets Rialto settles in (issue 17, point 4).
//!
//! Each asset with a reserve feed on a served chain is read every `reserves.poll_ms` by the reserves
//! worker ([`worker`]): its on-chain supply and its feed's latest report, judged by
//! `rialto_core::reserves::PorGuard` (reserves ≥ supply, report no older than the heartbeat).
//! The verdict per (mode, chain, asset) is stored through the `ReserveStore` port with
//! compare-and-set, so every gateway instance agrees and one of them announces a change; each
//! instance then copies the stored verdicts into its [`Reserves`] board, which the request
//! paths read without a database round trip.
//!
//! While an asset is halted (`breached` or `stale`): quotes into it, accepting a quote into
//! it, new intents settling in it and reported or relayed payments in it are refused with the
//! stable code ([`ReserveStatus::code`]); the settle step holds its funded intents, and the
//! worker moves them to `in_review` (an open compliance case at point `reserves_halt`). The
//! halt lifts by itself when a fresh report covers the supply again; intents already in
//! review stay there for an operator.
//!
//! Live assets a live chain watches that have no feed are `unverified` (refused) unless the
//! operator lists them in `reserves.unguarded`: the default is the safe one. A configured feed
//! never read yet (start-up, a node down) does not halt; a node failure keeps the last
//! stored verdict. `docs/proof-of-reserve.md` says the same for operators.
//!
//! # Layout
//! - this file: [`ReserveFeed`], [`ReserveStatus`], [`ReserveState`] and the [`Reserves`] board
//!   with its request-path check.
//! - [`worker`]: the poll, the announcement, the review of funded intents.
//! - [`mint`]: [`mint::PorMintGuard`], the secure-mint check behind the issuer's `MintGuard`.

pub mod mint;
pub mod worker;

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use rialto_core::address::Address;
use rialto_core::asset::Asset;
use rialto_core::ReserveBreach;
use rust_decimal::Decimal;

use crate::error::{EngineError, ErrorCode};

/// One asset's reserve feed on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveFeed {
    pub livemode: bool,
    /// CAIP-2.
    pub chain: String,
    /// The asset's lower-case code (`usdc`, `jpmd-dev`).
    pub asset: String,
    /// The token whose `totalSupply` the reserves must cover.
    pub token: Address,
    pub decimals: u32,
    /// Chainlink aggregator interface, `answer` = reserves in the token's own unit.
    pub feed: Address,
    /// A report older than this is stale.
    pub heartbeat_secs: u64,
}

/// The guard's verdict on one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReserveStatus {
    /// Fresh report, reserves cover the supply.
    Ok,
    /// Reserves below the supply.
    Breached,
    /// The report is older than the heartbeat (or was never written).
    Stale,
}

impl ReserveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Breached => "breached",
            Self::Stale => "stale",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(Self::Ok),
            "breached" => Some(Self::Breached),
            "stale" => Some(Self::Stale),
            _ => None,
        }
    }

    /// The verdict of a guard check.
    pub fn of(verdict: &Result<(), ReserveBreach>) -> Self {
        match verdict {
            Ok(()) => Self::Ok,
            Err(ReserveBreach::Stale { .. }) => Self::Stale,
            Err(
                ReserveBreach::Undercollateralized { .. }
                | ReserveBreach::MintExceedsReserves { .. }
                | ReserveBreach::Amount(_),
            ) => Self::Breached,
        }
    }

    /// The stable API code a halt refuses with; `None` when not halted.
    pub fn error_code(self) -> Option<ErrorCode> {
        match self {
            Self::Ok => None,
            Self::Breached => Some(ErrorCode::ReservesBreached),
            Self::Stale => Some(ErrorCode::ReservesStale),
        }
    }

    /// The `rialto_reserve_status` gauge's value: 0 ok, 1 breached, 2 stale.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Ok => 0.0,
            Self::Breached => 1.0,
            Self::Stale => 2.0,
        }
    }
}

/// The stored verdict for one (mode, chain, asset) and the reading it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveState {
    pub livemode: bool,
    pub chain: String,
    pub asset: String,
    pub status: ReserveStatus,
    pub reserves: Decimal,
    pub supply: Decimal,
    /// Unix seconds of the report's `updatedAt`.
    pub report_updated_at: u64,
    pub checked_at_ms: i64,
    /// When `status` last changed.
    pub changed_at_ms: i64,
}

impl ReserveState {
    /// The state as the API and events show it.
    pub fn object_json(&self) -> String {
        serde_json::json!({
            "object": "reserve_status",
            "livemode": self.livemode,
            "chain": self.chain,
            "asset": self.asset,
            "status": self.status.as_str(),
            "code": self.status.error_code().map(|c| c.as_str()),
            "reserves": self.reserves.normalize().to_string(),
            "supply": self.supply.normalize().to_string(),
            "report_updated_at": self.report_updated_at,
            "changed_at": self.changed_at_ms / 1000,
        })
        .to_string()
    }
}

type Key = (bool, String, String);

fn key(livemode: bool, chain: &str, asset: &str) -> Key {
    (livemode, chain.to_owned(), asset.to_ascii_lowercase())
}

/// The configured feeds and this instance's copy of the stored verdicts.
#[derive(Debug, Default)]
pub struct Reserves {
    feeds: Vec<ReserveFeed>,
    /// Live assets a live chain watches with no feed and not listed as unguarded.
    unverified: BTreeSet<Key>,
    board: RwLock<HashMap<Key, ReserveStatus>>,
}

impl Reserves {
    pub fn new(feeds: Vec<ReserveFeed>, unverified: &[(bool, String, String)]) -> Self {
        Self {
            feeds,
            unverified: unverified.iter().map(|(l, c, a)| key(*l, c, a)).collect(),
            board: RwLock::default(),
        }
    }

    pub fn feeds(&self) -> &[ReserveFeed] {
        &self.feeds
    }

    pub fn feed(&self, livemode: bool, chain: &str, asset: &str) -> Option<&ReserveFeed> {
        self.feeds.iter().find(|f| {
            f.livemode == livemode && f.chain == chain && f.asset.eq_ignore_ascii_case(asset)
        })
    }

    /// The last stored verdict this instance copied; `None` before the first reading.
    pub fn status(&self, livemode: bool, chain: &str, asset: &str) -> Option<ReserveStatus> {
        let board = self.board.read().unwrap_or_else(|p| p.into_inner());
        board.get(&key(livemode, chain, asset)).copied()
    }

    /// Replaces the board with the stored verdicts.
    pub fn refresh(&self, states: &[ReserveState]) {
        let fresh: HashMap<Key, ReserveStatus> = states
            .iter()
            .map(|s| (key(s.livemode, &s.chain, &s.asset), s.status))
            .collect();
        *self.board.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// Refuses money into `asset` (of `livemode`) while it is halted or unverified.
    pub fn check(&self, livemode: bool, asset: &Asset) -> Result<(), EngineError> {
        let chain = asset.id.chain().to_string();
        if self
            .unverified
            .contains(&key(livemode, &chain, &asset.code))
        {
            return Err(EngineError::new(
                ErrorCode::ReservesUnverified,
                format!(
                    "{} on {} has no Proof of Reserve feed configured; it is not accepted \
                     until one is, or the operator lists it in reserves.unguarded.",
                    asset.symbol, asset.chain_alias
                ),
            ));
        }
        let status = self.status(livemode, &chain, &asset.code);
        match status.and_then(ReserveStatus::error_code) {
            None => Ok(()),
            Some(code) => Err(EngineError::new(
                code,
                format!(
                    "{} on {} is halted: its Proof of Reserve check failed ({}). Try again once \
                     its reserves are verified.",
                    asset.symbol,
                    asset.chain_alias,
                    status.map_or("unknown", ReserveStatus::as_str)
                ),
            )),
        }
    }

    /// Whether the stored verdict on `asset` is a halt: settlement holds its funded intents
    /// (and the worker sends them to review). An unverified asset is refused up front and
    /// holds nothing: no worker verdict would ever release it.
    pub fn halted(&self, livemode: bool, asset: &Asset) -> bool {
        let chain = asset.id.chain().to_string();
        self.status(livemode, &chain, &asset.code)
            .is_some_and(|s| s != ReserveStatus::Ok)
    }
}
