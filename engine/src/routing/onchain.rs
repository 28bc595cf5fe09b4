//! The on-chain legs of SmartFunding routes, and what the chains add to the router's market.
//!
//! A route's on-chain legs are sent from the chain's hot wallet (Rialto's address there, the
//! router's `Location::Chain`): a Uniswap V2 swap ([`ChainLeg::Swap`]), a USDC bridge
//! ([`ChainLeg::Bridge`]) and a token transfer ([`ChainLeg::Transfer`]). Every transaction is a
//! rail leg ([`crate::chain::rail`]): signed and stored before it is broadcast, named by
//! `(purpose, reference)` with the route leg's id as the reference (plus a suffix where a leg
//! needs several transactions), so [`submit`] and [`progress`] can be called again after any
//! crash or timeout and never send anything twice.
//!
//! A multi-transaction leg is a step machine whose state *is* the set of its stored rail legs:
//! [`submit`] sends the first transaction, [`progress`] sends each next one only once the one
//! before it is confirmed. One caller drives a leg at a time (the executor's claim on it).
//!
//! Chains are reached through the connectors' roles only: each chain's `ChainNode` (reads and
//! its rail), its `Dex` (swaps) and the mode's `Bridge`. **The bridges exist in sandbox mode
//! only**: `rialto_evm::ccip_bridge::CcipBridge` (venue `ccip`) speaks Chainlink CCIP's real
//! router between the anvil chains (with devnet stand-ins behind it, `docs/ccip.md`);
//! `rialto_evm::devnet_bridge::DevnetBurnMint` (venue `devnet-burn-mint`) moves
//! USDC between the anvil chains with the devnet FiatToken's configured minter (burn on the
//! source chain, mint on the destination), and the connectors' `DevnetRelay` (venue
//! `devnet-relay`) between the Solana simnet and them (locked with a relayer on Solana,
//! burned or minted by the minter on EVM). They only exist in sandbox mode. Live mode has no bridge
//! (no live CCIP router configuration, no other bridge driver) and no bridge edges.
//!
//! # When a leg is `Unknown`
//! A transaction the node accepted is `Pending` for as long as it is neither mined nor refused
//! (the rail re-broadcasts the same bytes). It is [`LegProgress::Unknown`] when the node no
//! longer knows it (no receipt, not in its pool) although the sender's mined nonce has moved
//! past it: those exact bytes can never be included now, and whether *something* happened
//! cannot be told from this node (another transaction took the nonce, or the node lost the
//! receipt). Reconciliation resolves it; nothing here retries it. A bridge whose burn or mint
//! reverted after the funds left the hot wallet is `Unknown` too (the funds sit with the
//! devnet minter or are burned): the route cannot treat them as still at the source.
//!
//! # Layout
//! - this file: [`ChainLeg`], [`LegProgress`], [`OnchainError`], [`submit`], [`progress`],
//!   transfers, and the helpers the others share (chains, tokens, rail legs, amounts).
//! - [`swap`]: swaps through the chain's `Dex` (exact approval, swap, or a revoked approval
//!   when the pool cannot meet `min_out`).
//! - [`bridge`]: a bridge leg through the mode's `Bridge`.
//! - [`edges`]: [`add_chain_edges`] and [`chain_pairs`], the market's chain side.

pub mod bridge;
pub mod edges;
pub mod swap;

use rialto_connectors::bridge::{BridgeError, BRIDGE_BURN, BRIDGE_MINT};
pub use rialto_connectors::chain::LegStep as Step;
use rialto_connectors::chain::{leg_step, ChainError};
use rialto_core::address::Address;
use rialto_core::asset::AssetKind;
use rialto_core::id::LegId;
use rialto_core::ChainNamespace;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

pub use edges::{add_chain_edges, chain_pairs};

use crate::chain::rail::{LegRequest, PlannedLeg, RailError, SigningKey, StoreJournal};
use crate::chain::Chain;
use crate::services::Engine;
use crate::store::chain::ChainTransfer;
use crate::store::StoreError;

/// Rail purposes of route legs (the reference is the route leg's id, plus a suffix).
pub const ROUTE_APPROVE: &str = "route_approve";
pub const ROUTE_SWAP: &str = "route_swap";
pub const ROUTE_BURN: &str = BRIDGE_BURN;
pub const ROUTE_MINT: &str = BRIDGE_MINT;
pub const ROUTE_TRANSFER: &str = "route_transfer";
/// The venue of CCIP lanes (`rialto_evm::ccip_bridge::CCIP_VENUE`). Unlike the devnet
/// stand-ins, whose destination mint the gateway signs, a CCIP message is delivered by the
/// destination's off-ramp in a transaction the gateway did not sign.
pub const CCIP_VENUE: &str = "ccip";

/// One on-chain leg of a route, sent from the chain's hot wallet (Rialto's address there).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChainLeg {
    /// Uniswap V2 on `chain` (CAIP-2): exactly `amount_in` of `token_in` (symbol, e.g. "USDT")
    /// for at least `min_out` of `token_out`, received by the hot wallet. Approve +
    /// swapExactTokensForTokens.
    Swap {
        chain: String,
        token_in: String,
        token_out: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount_in: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        min_out: Decimal,
    },
    /// `asset` from Rialto's hot wallet on `from_chain` to its hot wallet on `to_chain`, `fee`
    /// kept by the bridge, through the lane of `venue` (`ccip`, `devnet-burn-mint`; absent in
    /// legs stored before lanes were told apart: the first bridge carrying the lane).
    Bridge {
        from_chain: String,
        to_chain: String,
        asset: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        fee: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        venue: Option<String>,
    },
    /// A token transfer from the hot wallet on `chain` to `to` (delivering into an intent's
    /// deposit address, or returning a payer's funds).
    Transfer {
        chain: String,
        asset: String,
        to: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
    },
}

/// Why an on-chain leg could not be sent or followed. Nothing was sent by the failing call;
/// try again later (or, for [`OnchainError::Refused`], not at all).
#[derive(Debug, thiserror::Error)]
pub enum OnchainError {
    /// The leg cannot be sent as asked here (mode, chain, token, amounts, configuration).
    #[error("{0}")]
    Refused(String),
    /// A call for a leg nothing was recorded for.
    #[error("nothing recorded for {0}; submit it first")]
    NotStarted(String),
    #[error("{chain}: {source}")]
    Chain {
        chain: String,
        #[source]
        source: ChainError,
    },
    #[error("{what}: {source}")]
    Rail {
        what: String,
        #[source]
        source: RailError,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("bridge: {0}")]
    Bridge(#[from] BridgeError),
}

impl OnchainError {
    fn refused(why: impl Into<String>) -> Self {
        OnchainError::Refused(why.into())
    }

    fn chain(chain: &Chain) -> impl Fn(ChainError) -> Self + '_ {
        move |source| OnchainError::Chain {
            chain: chain.caip2.clone(),
            source,
        }
    }
}

/// Where an on-chain leg is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegProgress {
    /// Not finished: a transaction is in flight, or the next one was just sent.
    Pending,
    /// Done; `received` is exact, in the output asset, read from the `Transfer` log of
    /// `tx_hash`, the transaction that delivered it (mined in `block`).
    Confirmed {
        received: Decimal,
        tx_hash: String,
        block: Option<i64>,
    },
    /// Did not happen; the input is still where the leg started. `reverted`: a transaction of
    /// the leg reverted (or the swap was refused because the pool could not meet `min_out`).
    Failed { reverted: bool, why: String },
    /// Sent, and it cannot be told whether it happened (see the module docs): reconcile.
    Unknown,
}

/// Records and sends the leg's transaction(s); idempotent per `leg` (rail purposes
/// `route_approve`, `route_swap`, `route_burn`, `route_mint`, `route_transfer`, reference = the
/// leg id, with a suffix for multi-tx legs). Err = nothing was sent (retryable config/IO
/// error), with a reason.
pub async fn submit(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<(), OnchainError> {
    match spec {
        ChainLeg::Swap { .. } => {
            swap::submit(&swap::plan(state, livemode, spec)?, leg, now_ms).await
        }
        ChainLeg::Bridge { .. } => bridge::submit(state, livemode, leg, spec, now_ms).await,
        ChainLeg::Transfer { .. } => {
            submit_transfer(&transfer_plan(state, livemode, spec)?, leg, now_ms).await
        }
    }
}

/// Where the leg is: drives its stored rail legs (Rail::drive for the chain(s)) and reads
/// receipts. `received` is exact, in the output asset (from the receipt's Transfer log to the
/// hot wallet / recipient, not from a quote). Sends a multi-transaction leg's next transaction
/// once the one before it is confirmed. Err: the chain or store could not be read, or nothing
/// was ever submitted for `leg`; try again later.
pub async fn progress(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<LegProgress, OnchainError> {
    match spec {
        ChainLeg::Swap { .. } => {
            let plan = swap::plan(state, livemode, spec)?;
            drive(state, plan.hot.chain, now_ms).await?;
            swap::progress(&plan, leg, now_ms).await
        }
        ChainLeg::Bridge { .. } => bridge::progress(state, livemode, leg, spec, now_ms).await,
        ChainLeg::Transfer { .. } => {
            let plan = transfer_plan(state, livemode, spec)?;
            drive(state, plan.hot.chain, now_ms).await?;
            transfer_progress(&plan, leg).await
        }
    }
}

/// Whether any transaction of route leg `leg` was recorded by the rail (and so may be on its
/// way to the chain): such a leg is never given up or sent under another id, only followed.
pub async fn started(state: &Engine, leg: &LegId) -> Result<bool, OnchainError> {
    Ok(!rail_legs(state, leg).await?.is_empty())
}

/// Every rail leg (transaction) recorded for route leg `leg`.
pub async fn rail_legs(state: &Engine, leg: &LegId) -> Result<Vec<ChainTransfer>, OnchainError> {
    let id = leg.to_string();
    let references = [
        id.clone(),
        format!("{id}:reset"),
        format!("{id}:revoke"),
        format!("{id}:deliver"),
        format!("{id}:ccip_approve"),
        format!("{id}:ccip_send"),
    ];
    let mut out = Vec::new();
    for purpose in [
        ROUTE_APPROVE,
        ROUTE_SWAP,
        ROUTE_BURN,
        ROUTE_MINT,
        ROUTE_TRANSFER,
    ] {
        for reference in &references {
            if let Some(found) = stored(state, purpose, reference).await? {
                out.push(found);
            }
        }
    }
    Ok(out)
}

/// The hot wallet of one chain: the chain, its key and its address.
#[derive(Debug)]
pub struct HotWallet<'a> {
    pub chain: &'a Chain,
    pub key: SigningKey,
    pub address: Address,
}

/// The chain of `livemode` named by CAIP-2 id or alias.
pub fn chain<'a>(state: &'a Engine, livemode: bool, name: &str) -> Result<&'a Chain, OnchainError> {
    state
        .chains
        .iter()
        .find(|c| c.livemode == livemode && (c.caip2 == name || c.alias == name))
        .ok_or_else(|| OnchainError::refused(format!("no {} chain {name}", mode(livemode))))
}

fn mode(livemode: bool) -> &'static str {
    if livemode {
        "live"
    } else {
        "sandbox"
    }
}

/// The hot wallet on chain `name`.
pub fn hot_wallet<'a>(
    state: &'a Engine,
    livemode: bool,
    name: &str,
) -> Result<HotWallet<'a>, OnchainError> {
    let chain = chain(state, livemode, name)?;
    let key = chain.hot_wallet.as_ref().ok_or_else(|| {
        OnchainError::refused(format!("{} has no hot wallet configured", chain.caip2))
    })?;
    let address = chain
        .node
        .address_of(key)
        .map_err(OnchainError::chain(chain))?;
    Ok(HotWallet {
        chain,
        key: key.clone(),
        address,
    })
}

/// The token contract and decimals of `symbol` on chain `name` (CAIP-2 or alias), in either
/// mode's chain list.
pub fn token_on(state: &Engine, name: &str, symbol: &str) -> Result<(Address, u32), OnchainError> {
    let chain = state
        .chains
        .iter()
        .find(|c| c.caip2 == name || c.alias == name)
        .ok_or_else(|| OnchainError::refused(format!("no chain {name}")))?;
    let t = token(state, chain, symbol)?;
    Ok((t.address, t.decimals))
}

/// A token on one chain, from the asset registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub symbol: String,
    pub address: Address,
    pub decimals: u32,
}

impl Token {
    /// `amount` in base units; more decimals than the token has is refused, never rounded.
    pub fn units(&self, amount: Decimal) -> Result<u128, OnchainError> {
        to_units(amount, self.decimals)
            .map_err(|e| OnchainError::refused(format!("{} {amount}: {e}", self.symbol)))
    }

    pub fn amount(&self, units: u128) -> Result<Decimal, OnchainError> {
        from_units(units, self.decimals).map_err(|e| OnchainError::refused(e.to_string()))
    }
}

/// The registry's token `symbol` (case-insensitive) on `chain`.
pub fn token(state: &Engine, chain: &Chain, symbol: &str) -> Result<Token, OnchainError> {
    token_in(&state.registry, &chain.caip2, symbol)
}

/// The token `symbol` on chain `caip2` in `registry`.
pub fn token_in(
    registry: &rialto_core::asset::AssetRegistry,
    caip2: &str,
    symbol: &str,
) -> Result<Token, OnchainError> {
    registry
        .assets()
        .iter()
        .find(|a| {
            a.id.chain().to_string() == caip2
                && a.kind != AssetKind::Native
                && a.symbol.eq_ignore_ascii_case(symbol)
        })
        .map(|a| Token {
            symbol: a.symbol.clone(),
            address: a.contract,
            decimals: a.decimals,
        })
        .ok_or_else(|| OnchainError::refused(format!("no token {symbol} on {caip2}")))
}

/// An amount that does not fit a token's base units exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    #[error("negative amount")]
    Negative,
    #[error("more than {0} decimals")]
    TooPrecise(u32),
    #[error("amount out of range")]
    OutOfRange,
}

/// Whole units to base units, exactly.
pub fn to_units(amount: Decimal, decimals: u32) -> Result<u128, UnitsError> {
    if amount.is_sign_negative() {
        return Err(UnitsError::Negative);
    }
    if amount.normalize().scale() > decimals {
        return Err(UnitsError::TooPrecise(decimals));
    }
    let scale = 10u64
        .checked_pow(decimals)
        .ok_or(UnitsError::TooPrecise(decimals))?;
    amount
        .checked_mul(Decimal::from(scale))
        .and_then(|units| units.to_u128())
        .ok_or(UnitsError::OutOfRange)
}

/// Base units to whole units, exactly.
pub fn from_units(units: u128, decimals: u32) -> Result<Decimal, UnitsError> {
    let units = i128::try_from(units).map_err(|_| UnitsError::OutOfRange)?;
    Decimal::try_from_i128_with_scale(units, decimals)
        .map(|d| d.normalize())
        .map_err(|_| UnitsError::OutOfRange)
}

/// The rail leg `(purpose, reference)` of a connector's planned leg, signed by `key`, for no
/// intent.
pub fn request(
    (purpose, reference): (&'static str, String),
    key: &SigningKey,
    planned: PlannedLeg,
) -> LegRequest {
    LegRequest {
        purpose,
        reference,
        payment_intent_id: None,
        from: key.clone(),
        action: planned.action,
        fees: planned.fees,
    }
}

/// Records and broadcasts a rail leg on `chain` (or returns the stored one).
pub async fn send(
    state: &Engine,
    chain: &Chain,
    request: &LegRequest,
    now_ms: i64,
) -> Result<ChainTransfer, OnchainError> {
    let journal = StoreJournal(state.store.as_ref());
    let rail = chain.rail(&journal);
    let sent = rail.send(request, now_ms).await;
    sent.map_err(|source| OnchainError::Rail {
        what: format!("{} {}", request.purpose, request.reference),
        source,
    })
}

/// The stored rail leg `(purpose, reference)`, if any.
pub async fn stored(
    state: &Engine,
    purpose: &str,
    reference: &str,
) -> Result<Option<ChainTransfer>, OnchainError> {
    Ok(state.store.get_chain_transfer(purpose, reference).await?)
}

/// Moves the chain's stored legs on (re-broadcast, confirm, fail).
pub async fn drive(state: &Engine, chain: &Chain, now_ms: i64) -> Result<(), OnchainError> {
    let journal = StoreJournal(state.store.as_ref());
    let rail = chain.rail(&journal);
    let driven = rail.drive(now_ms).await;
    driven.map(|_| ()).map_err(|source| OnchainError::Rail {
        what: format!("{}: driving legs", chain.caip2),
        source,
    })
}

/// Where a stored rail leg is, after a drive.
pub async fn step(chain: &Chain, leg: &ChainTransfer) -> Result<Step, OnchainError> {
    leg_step(chain.node.as_ref(), leg)
        .await
        .map_err(OnchainError::chain(chain))
}

/// The exact amount of `token` the mined, successful `leg` transferred to `recipient`.
pub async fn received(
    chain: &Chain,
    leg: &ChainTransfer,
    token: &Token,
    recipient: &Address,
) -> Result<Decimal, OnchainError> {
    let seen = chain
        .node
        .observe_transfer(&leg.tx_hash, &token.address, recipient)
        .await
        .map_err(OnchainError::chain(chain))?;
    token.amount(seen.amount_units)
}

/// A transfer leg, resolved.
#[derive(Debug)]
pub struct TransferPlan<'a> {
    pub state: &'a Engine,
    pub hot: HotWallet<'a>,
    pub token: Token,
    pub to: Address,
    pub units: u128,
}

fn transfer_plan<'a>(
    state: &'a Engine,
    livemode: bool,
    spec: &ChainLeg,
) -> Result<TransferPlan<'a>, OnchainError> {
    let ChainLeg::Transfer {
        chain,
        asset,
        to,
        amount,
    } = spec
    else {
        return Err(OnchainError::refused("not a transfer leg"));
    };
    let hot = hot_wallet(state, livemode, chain)?;
    let token = token(state, hot.chain, asset)?;
    let namespace = hot
        .chain
        .caip2
        .parse::<rialto_core::ChainId>()
        .map(|c| c.namespace())
        .unwrap_or(ChainNamespace::Other);
    let to = Address::parse(to, namespace)
        .map_err(|e| OnchainError::refused(format!("to {to}: {e}")))?;
    let units = token.units(*amount)?;
    if units == 0 {
        return Err(OnchainError::refused("a transfer of nothing"));
    }
    Ok(TransferPlan {
        state,
        hot,
        token,
        to,
        units,
    })
}

async fn submit_transfer(
    plan: &TransferPlan<'_>,
    leg: &LegId,
    now_ms: i64,
) -> Result<(), OnchainError> {
    let planned = plan
        .hot
        .chain
        .node
        .token_transfer(&plan.token.address, &plan.to, plan.units);
    let request = request((ROUTE_TRANSFER, leg.to_string()), &plan.hot.key, planned);
    send(plan.state, plan.hot.chain, &request, now_ms)
        .await
        .map(|_| ())
}

async fn transfer_progress(
    plan: &TransferPlan<'_>,
    leg: &LegId,
) -> Result<LegProgress, OnchainError> {
    let reference = leg.to_string();
    let Some(sent) = stored(plan.state, ROUTE_TRANSFER, &reference).await? else {
        return Err(OnchainError::NotStarted(reference));
    };
    let chain = plan.hot.chain;
    Ok(match step(chain, &sent).await? {
        Step::Open => LegProgress::Pending,
        Step::Lost => LegProgress::Unknown,
        Step::Reverted(why) => LegProgress::Failed {
            reverted: true,
            why: format!("transfer {}: {why}", sent.tx_hash),
        },
        Step::Confirmed => LegProgress::Confirmed {
            received: received(chain, &sent, &plan.token, &plan.to).await?,
            tx_hash: sent.tx_hash.clone(),
            block: sent.block_number,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_to_base_units_exactly_or_not_at_all() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(to_units(d("12.5"), 6), Ok(12_500_000));
        assert_eq!(to_units(d("1.000000"), 6), Ok(1_000_000));
        assert!(to_units(d("1.0000001"), 6).is_err(), "never rounded");
        assert!(to_units(d("-1"), 6).is_err());
        assert_eq!(from_units(49_750_000, 6), Ok(d("49.75")));
        assert_eq!(
            from_units(u128::MAX, 6).map(|_| ()),
            Err(UnitsError::OutOfRange)
        );
    }

    #[test]
    fn legs_serialize_tagged_with_decimal_strings() {
        let leg = ChainLeg::Swap {
            chain: "eip155:31337".into(),
            token_in: "USDT".into(),
            token_out: "USDC".into(),
            amount_in: Decimal::new(100, 0),
            min_out: Decimal::new(9950, 2),
        };
        let json = serde_json::to_value(&leg).unwrap();
        assert_eq!(json["type"], "swap");
        assert_eq!(json["amount_in"], "100");
        assert_eq!(json["min_out"], "99.50");
        assert_eq!(serde_json::from_value::<ChainLeg>(json).unwrap(), leg);
        let bridge = serde_json::json!({"type": "bridge", "from_chain": "eip155:31337",
            "to_chain": "eip155:31338", "asset": "USDC", "amount": "50", "fee": "0.01"});
        assert!(matches!(
            serde_json::from_value::<ChainLeg>(bridge).unwrap(),
            ChainLeg::Bridge { .. }
        ));
    }
}
