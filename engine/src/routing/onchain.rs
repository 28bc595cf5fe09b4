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
//! **The bridge is a sandbox stand-in for CCTP.** The devnet has no Circle CCTP contracts and
//! no attestation service, so [`bridge::DevnetBurnMint`] moves USDC with the devnet FiatToken's
//! configured minter: the hot wallet transfers the amount to the minter, the minter `burn`s it
//! on the source chain and, once that burn is confirmed, `mint`s `amount − fee` to the hot wallet
//! on the destination chain. It only exists in sandbox mode. A live CCTP driver
//! (`TokenMessenger.depositForBurn`, the Iris attestation, `MessageTransmitter.receiveMessage`)
//! is not built: live mode has no bridge and no `Cctp` edges.
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
//! - this file: [`ChainLeg`], [`LegProgress`], [`submit`], [`progress`], transfers, and the
//!   helpers the others share (chains, tokens, rail legs, amounts).
//! - [`swap`]: Uniswap V2 swaps (exact approval, swap, or a revoked approval when the pool
//!   cannot meet `min_out`).
//! - [`bridge`]: the [`bridge::Bridge`] trait and the devnet burn/mint bridge.
//! - [`edges`]: [`add_chain_edges`] and [`chain_pairs`], the market's chain side.

pub mod bridge;
pub mod edges;
pub mod swap;

use std::path::Path;

use alloy::providers::Provider;
use rialto_core::address::Address;
use rialto_core::asset::AssetKind;
use rialto_core::id::LegId;
use rialto_core::ChainNamespace;
use rialto_evm::sender;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

pub use edges::{add_chain_edges, chain_pairs};

use crate::chain::rail::{
    EvmRail, FeeLimits, LegAction, LegRequest, Rail, SigningKey, StoreJournal,
};
use crate::chain::EvmChain;
use crate::services::Engine;
use crate::store::chain::{ChainTransfer, LegStatus};

/// Rail purposes of route legs (the reference is the route leg's id, plus a suffix).
pub const ROUTE_APPROVE: &str = "route_approve";
pub const ROUTE_SWAP: &str = "route_swap";
pub const ROUTE_BURN: &str = "route_burn";
pub const ROUTE_MINT: &str = "route_mint";
pub const ROUTE_TRANSFER: &str = "route_transfer";

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
    /// USDC burn on `from_chain` and mint on `to_chain` (hot wallet to hot wallet), `fee` kept
    /// by the bridge.
    Bridge {
        from_chain: String,
        to_chain: String,
        asset: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        fee: Decimal,
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
) -> Result<(), String> {
    match spec {
        ChainLeg::Swap { .. } => {
            swap::submit(&swap::plan(state, livemode, spec)?, leg, now_ms).await
        }
        ChainLeg::Bridge { .. } => {
            let (bridge, transfer) = bridge::for_leg(state, livemode, spec)?;
            bridge.burn(leg, &transfer, now_ms).await
        }
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
) -> Result<LegProgress, String> {
    match spec {
        ChainLeg::Swap { .. } => {
            let plan = swap::plan(state, livemode, spec)?;
            drive(state, plan.hot.chain, now_ms).await?;
            swap::progress(&plan, leg, now_ms).await
        }
        ChainLeg::Bridge { .. } => {
            let (bridge, transfer) = bridge::for_leg(state, livemode, spec)?;
            bridge::progress(bridge.as_ref(), leg, &transfer, now_ms).await
        }
        ChainLeg::Transfer { .. } => {
            let plan = transfer_plan(state, livemode, spec)?;
            drive(state, plan.hot.chain, now_ms).await?;
            transfer_progress(&plan, leg).await
        }
    }
}

/// Whether any transaction of route leg `leg` was recorded by the rail (and so may be on its
/// way to the chain): such a leg is never given up or sent under another id, only followed.
pub async fn started(state: &Engine, leg: &LegId) -> Result<bool, String> {
    Ok(!rail_legs(state, leg).await?.is_empty())
}

/// Every rail leg (transaction) recorded for route leg `leg`.
pub async fn rail_legs(state: &Engine, leg: &LegId) -> Result<Vec<ChainTransfer>, String> {
    let id = leg.to_string();
    let references = [
        id.clone(),
        format!("{id}:reset"),
        format!("{id}:revoke"),
        format!("{id}:deliver"),
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
    pub chain: &'a EvmChain,
    pub key: SigningKey,
    pub address: Address,
}

/// The chain of `livemode` named by CAIP-2 id or alias.
pub fn chain<'a>(state: &'a Engine, livemode: bool, name: &str) -> Result<&'a EvmChain, String> {
    state
        .chains
        .iter()
        .find(|c| c.livemode == livemode && (c.caip2 == name || c.alias == name))
        .ok_or_else(|| format!("no {} chain {name}", mode(livemode)))
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
) -> Result<HotWallet<'a>, String> {
    let chain = chain(state, livemode, name)?;
    let key = chain
        .hot_wallet
        .as_ref()
        .ok_or_else(|| format!("{} has no hot wallet configured", chain.caip2))?;
    let signer =
        sender::signer_from_key(key).map_err(|e| format!("{} hot wallet: {e}", chain.caip2))?;
    let address = sender::signer_address(&signer);
    Ok(HotWallet {
        chain,
        key: SigningKey(key.clone()),
        address,
    })
}

/// The token contract and decimals of `symbol` on chain `name` (CAIP-2 or alias), in either
/// mode's chain list.
pub fn token_on(state: &Engine, name: &str, symbol: &str) -> Result<(Address, u32), String> {
    let evm = state
        .chains
        .iter()
        .find(|c| c.caip2 == name || c.alias == name)
        .ok_or_else(|| format!("no chain {name}"))?;
    let t = token(state, evm, symbol)?;
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
    pub fn units(&self, amount: Decimal) -> Result<u128, String> {
        to_units(amount, self.decimals).map_err(|e| format!("{} {amount}: {e}", self.symbol))
    }

    pub fn amount(&self, units: u128) -> Result<Decimal, String> {
        from_units(units, self.decimals)
    }
}

/// The registry's token `symbol` (case-insensitive) on `chain`.
pub fn token(state: &Engine, chain: &EvmChain, symbol: &str) -> Result<Token, String> {
    token_in(&state.registry, &chain.caip2, symbol)
}

/// The token `symbol` on chain `caip2` in `registry`.
pub fn token_in(
    registry: &rialto_core::asset::AssetRegistry,
    caip2: &str,
    symbol: &str,
) -> Result<Token, String> {
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
        .ok_or_else(|| format!("no token {symbol} on {caip2}"))
}

/// Whole units to base units, exactly.
pub fn to_units(amount: Decimal, decimals: u32) -> Result<u128, String> {
    if amount.is_sign_negative() {
        return Err("negative amount".into());
    }
    if amount.normalize().scale() > decimals {
        return Err(format!("more than {decimals} decimals"));
    }
    let scale = 10u64
        .checked_pow(decimals)
        .ok_or("too many decimals for a token")?;
    amount
        .checked_mul(Decimal::from(scale))
        .and_then(|units| units.to_u128())
        .ok_or_else(|| "amount out of range".into())
}

/// Base units to whole units, exactly.
pub fn from_units(units: u128, decimals: u32) -> Result<Decimal, String> {
    let units = i128::try_from(units).map_err(|_| "amount out of range".to_owned())?;
    Decimal::try_from_i128_with_scale(units, decimals)
        .map(|d| d.normalize())
        .map_err(|e| format!("amount out of range: {e}"))
}

/// The devnet manifest (sandbox mode only): the DEX, the minter, the sandbox tokens.
pub fn devnet_manifest(state: &Engine) -> Result<rialto_evm::DevnetManifest, String> {
    let path = &state.config.sandbox.devnet_manifest;
    if path.is_empty() {
        return Err("no devnet manifest is configured".into());
    }
    rialto_evm::DevnetManifest::read(Path::new(path)).map_err(|e| e.to_string())
}

/// A rail leg request with no value, no fee cap and no intent, with
/// [`TOKEN_GAS_HEADROOM`](crate::chain::rail::TOKEN_GAS_HEADROOM) above its estimate.
pub fn request(
    (purpose, reference): (&'static str, String),
    key: &SigningKey,
    to: Address,
    data: Vec<u8>,
    token: Option<(Address, u128)>,
) -> LegRequest {
    LegRequest {
        purpose,
        reference,
        payment_intent_id: None,
        from: key.clone(),
        action: LegAction::Call {
            to,
            value: 0,
            data,
            moves: token,
        },
        fees: FeeLimits {
            max_fee_per_unit: None,
            extra_units: crate::chain::rail::TOKEN_GAS_HEADROOM,
        },
    }
}

/// Records and broadcasts a rail leg on `chain` (or returns the stored one).
pub async fn send(
    state: &Engine,
    chain: &EvmChain,
    request: &LegRequest,
    now_ms: i64,
) -> Result<ChainTransfer, String> {
    let journal = StoreJournal(state.store.as_ref());
    let rail = EvmRail::new(chain, &journal);
    rail.send(request, now_ms)
        .await
        .map_err(|e| format!("{} {}: {e}", request.purpose, request.reference))
}

/// The stored rail leg `(purpose, reference)`, if any.
pub async fn stored(
    state: &Engine,
    purpose: &str,
    reference: &str,
) -> Result<Option<ChainTransfer>, String> {
    state
        .store
        .get_chain_transfer(purpose, reference)
        .await
        .map_err(|e| format!("store: {e}"))
}

/// Moves the chain's stored legs on (re-broadcast, confirm, fail).
pub async fn drive(state: &Engine, chain: &EvmChain, now_ms: i64) -> Result<(), String> {
    let journal = StoreJournal(state.store.as_ref());
    let rail = EvmRail::new(chain, &journal);
    rail.drive(now_ms)
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: driving legs: {e}", chain.caip2))
}

/// One stored rail leg, as a step of a route leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stored, in flight.
    Open,
    Confirmed,
    /// Mined and reverted, with the rail's reason.
    Reverted(String),
    /// The node no longer has it and its nonce is spent (see the module docs).
    Lost,
}

/// Where a stored rail leg is, after a drive.
pub async fn step(chain: &EvmChain, leg: &ChainTransfer) -> Result<Step, String> {
    Ok(match leg.status {
        LegStatus::Confirmed => Step::Confirmed,
        LegStatus::Failed => Step::Reverted(
            leg.failure
                .clone()
                .unwrap_or_else(|| "reverted on chain".into()),
        ),
        LegStatus::Submitted if lost(chain, leg).await? => Step::Lost,
        LegStatus::Pending | LegStatus::Submitted => Step::Open,
    })
}

/// Whether a submitted leg can no longer be included: the node has neither its receipt nor the
/// transaction, and the sender's mined nonce is past the leg's.
async fn lost(chain: &EvmChain, leg: &ChainTransfer) -> Result<bool, String> {
    let rpc = |e: &dyn std::fmt::Display| format!("{}: {e}", chain.caip2);
    let hash = rialto_evm::transfers::parse_tx_hash(&leg.tx_hash).map_err(|e| rpc(&e))?;
    let from = Address::parse(&leg.draft.from, ChainNamespace::Eip155).map_err(|e| rpc(&e))?;
    let from = sender::wire(&from).map_err(|e| rpc(&e))?;
    let node = rialto_evm::provider::provider(chain.rpc_url()).map_err(|e| rpc(&e))?;
    if node
        .get_transaction_by_hash(hash)
        .await
        .map_err(|e| rpc(&e))?
        .is_some()
    {
        return Ok(false);
    }
    let mined_nonce = node
        .get_transaction_count(from)
        .latest()
        .await
        .map_err(|e| rpc(&e))?;
    if mined_nonce <= leg.nonce {
        return Ok(false);
    }
    // Mined between the two reads?
    let receipt = node
        .get_transaction_receipt(hash)
        .await
        .map_err(|e| rpc(&e))?;
    Ok(receipt.is_none())
}

/// The exact amount of `token` the mined, successful `leg` transferred to `recipient`.
pub async fn received(
    chain: &EvmChain,
    leg: &ChainTransfer,
    token: &Token,
    recipient: &Address,
) -> Result<Decimal, String> {
    let seen = rialto_evm::transfers::observe_transfer(
        chain.rpc_url(),
        &leg.tx_hash,
        &token.address,
        recipient,
    )
    .await
    .map_err(|e| format!("{}: reading {}: {e}", chain.caip2, leg.tx_hash))?;
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
) -> Result<TransferPlan<'a>, String> {
    let ChainLeg::Transfer {
        chain,
        asset,
        to,
        amount,
    } = spec
    else {
        return Err("not a transfer leg".into());
    };
    let hot = hot_wallet(state, livemode, chain)?;
    let token = token(state, hot.chain, asset)?;
    let to = Address::parse(to, ChainNamespace::Eip155).map_err(|e| format!("to {to}: {e}"))?;
    let units = token.units(*amount)?;
    if units == 0 {
        return Err("a transfer of nothing".into());
    }
    Ok(TransferPlan {
        state,
        hot,
        token,
        to,
        units,
    })
}

async fn submit_transfer(plan: &TransferPlan<'_>, leg: &LegId, now_ms: i64) -> Result<(), String> {
    let data = sender::erc20_transfer_data(&plan.to, plan.units).map_err(|e| e.to_string())?;
    let request = request(
        (ROUTE_TRANSFER, leg.to_string()),
        &plan.hot.key,
        plan.token.address,
        data.to_vec(),
        Some((plan.token.address, plan.units)),
    );
    send(plan.state, plan.hot.chain, &request, now_ms)
        .await
        .map(|_| ())
}

async fn transfer_progress(plan: &TransferPlan<'_>, leg: &LegId) -> Result<LegProgress, String> {
    let reference = leg.to_string();
    let Some(sent) = stored(plan.state, ROUTE_TRANSFER, &reference).await? else {
        return Err(format!("nothing recorded for {reference}; submit it first"));
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
            Err("amount out of range".into())
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
