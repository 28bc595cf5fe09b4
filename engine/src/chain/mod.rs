//! The chains in the engine: which chains it serves ([`Chains`] of [`Chain`]s, each reached
//! through the connectors' `ChainNode`, built by the gateway), how it reaches their rails
//! ([`rail`]: the `Rail` role, the store as the rails' journal), the watcher that turns chain
//! state into payment state ([`watcher`]), the payment policy for under-, over- and late payments ([`policy`]), payer reports
//! ([`report`]) with the payer's proof ([`proof`]), relays ([`relay`]), payments found by their
//! request's reference key ([`reference`], Solana Pay), and the step that settles funded intents ([`settle`]);
//! what reaches a deposit address and pays nothing ([`misdirected`]: detected, screened,
//! converted into its open intent's settlement through a route execution, or returned to the
//! sender less the network cost, or held for an operator);
//! [`worker`] runs them. [`permissioned`] asks a chain whether a wallet may hold a
//! permissioned deposit token (settlement addresses and payers).
//!
//! Nothing here trusts a payer's word: amounts, recipients and confirmations are read from the
//! chain, and every transaction the gateway sends is stored, signed, before it is broadcast.

pub mod direct;
pub mod misdirected;
mod misdirected_convert;
mod misdirected_return;
pub mod permissioned;
pub mod policy;
pub mod proof;
pub mod rail;
mod reads;
pub mod reference;
pub mod relay;
pub mod report;
pub mod settle;
mod spread;
pub mod watcher;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use rialto_connectors::bridge::Bridge;
use rialto_connectors::chain::{ChainNode, DepositKeyring};
use rialto_connectors::dex::Dex;
use rialto_connectors::price_feed::PriceFeed;
use rialto_core::address::Address;
use rialto_core::asset::{AssetKind, AssetRegistry};
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;
use rialto_core::ChainNamespace;

use crate::compliance::service::fiat_unit;
use rail::{Rail, RailJournal, SigningKey};

/// The purpose of an EIP-3009 relay leg; one per intent.
pub const EIP3009_RELAY: &str = "eip3009_relay";

/// The purpose of a `BatchRelayer` transaction carrying several intents' authorizations; its
/// reference is the batch id of the relay queue (`store::relay_queue`).
pub const EIP3009_BATCH: &str = "eip3009_batch";

/// One chain the engine serves, in one mode: what the flows need to know of it, its node (the
/// connectors' [`ChainNode`]: reads, and the rail) and its DEX, if it has one.
#[derive(Debug, Clone)]
pub struct Chain {
    /// CAIP-2, `eip155:31338`.
    pub caip2: String,
    pub alias: String,
    pub livemode: bool,
    /// Blocks a payment needs on top of it (its own included) before anything moves on it.
    pub confirmations: u64,
    /// Token contracts (or mints) whose transfers the deposit watcher follows.
    pub tokens: Vec<Address>,
    /// Rialto's hot wallet here: relays authorizations, pays sweep gas, sends route legs.
    pub hot_wallet: Option<SigningKey>,
    pub node: Arc<dyn ChainNode>,
    pub dex: Option<Arc<dyn Dex>>,
}

impl Chain {
    /// Whether this chain moves money for `intent`: same chain, same mode.
    pub fn serves(&self, intent: &PaymentIntent) -> bool {
        intent.livemode == self.livemode
            && intent.settlement.asset.id.chain().to_string() == self.caip2
    }

    /// The chain's family (EVM, Solana), from its CAIP-2 id.
    pub fn family(&self) -> ChainNamespace {
        self.caip2
            .parse::<rialto_core::ChainId>()
            .map_or(ChainNamespace::Other, |id| id.namespace())
    }

    /// The chain's rail, recording its legs in `journal`.
    pub fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> Box<dyn Rail + 'a> {
        self.node.rail(journal)
    }
}

/// The chains the engine serves, by mode and CAIP-2 id, with what is shared per mode: deposit
/// keys, the bridge between the chains, the price feeds. The gateway builds it from its
/// configuration.
#[derive(Clone, Default)]
pub struct Chains {
    by_id: BTreeMap<(bool, String), Chain>,
    /// The keys deposit addresses derive from, per mode (`true` = live) and chain family (an
    /// EVM keyring and a Solana one); none means no deposit addresses there.
    deposit_keys: HashMap<(bool, ChainNamespace), Arc<dyn DepositKeyring>>,
    /// The bridge between the chains of a mode, if there is one.
    bridges: BTreeMap<bool, Arc<dyn Bridge>>,
    /// The price feeds of a mode, read over its chains.
    feeds: BTreeMap<bool, Arc<dyn PriceFeed>>,
    /// How often the watcher polls, milliseconds.
    pub poll_ms: u64,
    /// Per chain (mode, CAIP-2): the signal that wakes its worker before its next poll
    /// ([`Chains::wake`]).
    /// Shared by clones: they are the same chains.
    wakes: Arc<std::sync::Mutex<Wakes>>,
}

/// Each chain's wake signal, by mode and CAIP-2.
type Wakes = HashMap<(bool, String), Arc<tokio::sync::Notify>>;

impl std::fmt::Debug for Chains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chains")
            .field("chains", &self.by_id.keys().collect::<Vec<_>>())
            .field(
                "deposit_keys",
                &self.deposit_keys.values().collect::<Vec<_>>(),
            )
            .field("bridges", &self.bridges.keys().collect::<Vec<_>>())
            .field("feeds", &self.feeds.keys().collect::<Vec<_>>())
            .field("poll_ms", &self.poll_ms)
            .finish()
    }
}

/// A block number or log index for an `i64` column (saturating: real chains are far below).
pub(crate) fn block_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The EIP-155 number of a CAIP-2 `eip155:` chain id.
pub fn eip155_id(caip2: &str) -> anyhow::Result<u64> {
    caip2
        .strip_prefix("eip155:")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("chain {caip2} is not an eip155 chain"))
}

/// The registry's tokens on chain `caip2` (native coins aside), only those whose code is in
/// `only` unless it is empty: what the deposit watcher follows there.
pub fn registry_tokens(registry: &AssetRegistry, caip2: &str, only: &[String]) -> Vec<Address> {
    registry
        .assets()
        .iter()
        .filter(|a| a.id.chain().to_string() == caip2 && a.kind != AssetKind::Native)
        .filter(|a| only.is_empty() || only.iter().any(|t| t.eq_ignore_ascii_case(&a.code)))
        .map(|a| a.contract)
        .collect()
}

impl Chains {
    pub fn new(chains: Vec<Chain>) -> Self {
        Self {
            by_id: chains
                .into_iter()
                .map(|c| ((c.livemode, c.caip2.clone()), c))
                .collect(),
            deposit_keys: HashMap::new(),
            bridges: BTreeMap::new(),
            feeds: BTreeMap::new(),
            poll_ms: 500,
            wakes: Arc::default(),
        }
    }

    /// The signal that wakes the worker of `caip2` in `livemode` before its next poll.
    pub fn waker(&self, livemode: bool, caip2: &str) -> Arc<tokio::sync::Notify> {
        // Inserts only: a panic while holding the lock left the map whole.
        let mut wakes = self.wakes.lock().unwrap_or_else(|e| e.into_inner());
        wakes
            .entry((livemode, caip2.to_owned()))
            .or_default()
            .clone()
    }

    /// Something on the chain moved (for example a batch of relays decided): its worker runs
    /// its next pass now rather than at its next poll (at once if it is mid-pass).
    pub fn wake(&self, livemode: bool, caip2: &str) {
        self.waker(livemode, caip2).notify_one();
    }

    /// Adds (or replaces) a chain.
    pub fn insert(&mut self, chain: Chain) {
        self.by_id
            .insert((chain.livemode, chain.caip2.clone()), chain);
    }

    /// The keys deposit addresses of `livemode` derive from on the chains of the keyring's
    /// family ([`DepositKeyring::namespace`]).
    pub fn with_deposit_keys(mut self, livemode: bool, keys: Arc<dyn DepositKeyring>) -> Self {
        self.deposit_keys.insert((livemode, keys.namespace()), keys);
        self
    }

    /// The bridge between the chains of `livemode`.
    pub fn with_bridge(mut self, livemode: bool, bridge: Arc<dyn Bridge>) -> Self {
        self.bridges.insert(livemode, bridge);
        self
    }

    /// The price feeds of `livemode`.
    pub fn with_price_feed(mut self, livemode: bool, feed: Arc<dyn PriceFeed>) -> Self {
        self.feeds.insert(livemode, feed);
        self
    }

    pub fn get(&self, livemode: bool, caip2: &str) -> Option<&Chain> {
        self.by_id.get(&(livemode, caip2.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Chain> {
        self.by_id.values()
    }

    /// The deposit keys of a mode on chains of `family`, if deposit addresses are configured
    /// there.
    pub fn deposit_keys(
        &self,
        livemode: bool,
        family: ChainNamespace,
    ) -> Option<&dyn DepositKeyring> {
        self.deposit_keys.get(&(livemode, family)).map(Arc::as_ref)
    }

    /// The bridge of a mode, if it has one.
    pub fn bridge(&self, livemode: bool) -> Option<&dyn Bridge> {
        self.bridges.get(&livemode).map(Arc::as_ref)
    }

    /// The price feeds of a mode, if it has any.
    pub fn price_feed(&self, livemode: bool) -> Option<&dyn PriceFeed> {
        self.feeds.get(&livemode).map(Arc::as_ref)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Whether `paid` (of the intent's settlement asset) covers the intent: at least what the
/// payer owes ([`due`]). An intent with neither a one-for-one asset nor an FX lock is covered
/// by nothing here (it needs a lock or a route first).
pub fn covers(intent: &PaymentIntent, paid: &Money) -> bool {
    due(intent).is_some_and(|d| paid.amount() >= d.amount())
}

/// What the payer owes, in the intent's settlement asset: the amount itself when the asset
/// pays its currency one for one (USD in USDC), else the locked FX `payer_amount`. `None` for
/// a conversion intent not locked yet. A lock past its `expires_at` still answers: funds seen
/// are judged against the lock the payer was shown; payer-side steps re-lock an expired lock
/// while nothing was paid (`routing::fx::commit`).
pub fn due(intent: &PaymentIntent) -> Option<Money> {
    locked_or_own(intent, |lock| lock.payer_amount)
}

/// What the merchant is owed, in the settlement asset: the one-for-one amount, or the lock's
/// `settlement_amount` (the payer's amount less Rialto's spread).
pub fn owed(intent: &PaymentIntent) -> Option<Money> {
    locked_or_own(intent, |lock| lock.settlement_amount)
}

fn locked_or_own(
    intent: &PaymentIntent,
    pick: impl Fn(&rialto_core::fx::FxLock) -> rust_decimal::Decimal,
) -> Option<Money> {
    let asset = intent.settlement.asset.currency();
    if one_for_one(intent) {
        return Money::parse(&intent.amount.to_amount_string(), asset).ok();
    }
    let lock = intent.fx.as_ref()?;
    // A lock made for another pair (the settlement cannot change, but never trust a column).
    if lock.settlement_currency != asset.code()
        || lock.price_currency != intent.amount.currency().code()
    {
        return None;
    }
    Money::parse(&pick(lock).normalize().to_string(), asset).ok()
}

/// Whether the intent can be paid in its settlement asset now, without a route.
pub fn payable(intent: &PaymentIntent) -> bool {
    due(intent).is_some()
}

/// The `network_fee` postings of mined legs sent on behalf of a merchant: the gas each paid, in
/// the chain's native asset. Legs not mined yet (no fee known) post nothing.
pub fn fee_postings(
    registry: &AssetRegistry,
    owner: (rialto_core::id::MerchantId, bool),
    legs: &[&crate::store::chain::ChainTransfer],
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    legs.iter()
        .filter_map(|leg| {
            let wei = leg.fee_units.filter(|w| *w > 0)?;
            native_fee_posting(
                registry,
                owner,
                (&leg.draft.leg_id, &leg.draft.chain_id),
                wei,
                now_ms,
            )
        })
        .collect()
}

/// One `network_fee` posting of `units` of `chain`'s native coin paid for `leg_id` (gas, or a
/// bridge's native fee such as CCIP's router fee), from the gas wallet to network fees.
pub fn native_fee_posting(
    registry: &AssetRegistry,
    owner: (rialto_core::id::MerchantId, bool),
    (leg_id, chain_id): (&str, &str),
    units: u128,
    now_ms: i64,
) -> Option<crate::ledger::Posting> {
    let native = registry
        .assets()
        .iter()
        .find(|a| a.kind == AssetKind::Native && a.id.chain().to_string() == chain_id);
    let (asset, amount) = match native {
        Some(a) => (
            a.id.to_string(),
            Money::from_base_units(units, a.currency()).ok()?.amount(),
        ),
        // No native asset in the registry: the chain family's own coin (SOL is SLIP-44 501 with
        // 9 decimals, lamports; ETH 60 with 18, wei).
        None => {
            let (slip44, decimals) = native_coin(chain_id);
            (
                format!("{chain_id}/slip44:{slip44}"),
                rust_decimal::Decimal::from_i128_with_scale(i128::try_from(units).ok()?, decimals),
            )
        }
    };
    crate::ledger::transfer(
        owner,
        "network_fee",
        leg_id,
        &asset,
        (
            crate::ledger::GAS_WALLET.to_owned(),
            crate::ledger::NETWORK_FEES.to_owned(),
        ),
        amount.normalize(),
        now_ms,
    )
    .ok()
}

/// The SLIP-44 coin type and decimals of a chain's native coin, by its family.
fn native_coin(caip2: &str) -> (u32, u32) {
    match caip2.parse::<rialto_core::ChainId>().map(|c| c.namespace()) {
        Ok(ChainNamespace::Solana) => (501, 9),
        _ => (60, 18),
    }
}

/// Whether the intent's settlement asset pays its currency one for one (USD intents in USDC,
/// EUR intents in EURC). Only those can be paid without a quote.
pub fn one_for_one(intent: &PaymentIntent) -> bool {
    fiat_unit(intent.amount.currency().code())
        .zip(fiat_unit(intent.settlement.asset.code.as_str()))
        .is_some_and(|(a, b)| a == b)
}
