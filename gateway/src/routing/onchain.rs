//! The on-chain legs of routes, sent from the chain's hot wallet (Rialto's address there).
//!
//! Interim version: only `Transfer` is driven here; swaps and bridges come with the DEX and
//! bridge drivers (they answer an error, so a route using them fails over, never hangs).

use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_evm::sender;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::api::AppState;
use crate::chain::rail::{EvmRail, LegRequest, Rail};
use crate::chain::EvmChain;
use crate::store::chain::LegStatus;

/// One on-chain leg of a route, sent from the chain's hot wallet (Rialto's address there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChainLeg {
    /// Uniswap V2 on `chain` (CAIP-2): exactly `amount_in` of `token_in` for at least
    /// `min_out` of `token_out`, received by the hot wallet.
    Swap {
        chain: String,
        token_in: String,
        token_out: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount_in: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        min_out: Decimal,
    },
    /// USDC burn on `from_chain` and mint on `to_chain` (hot wallet to hot wallet).
    Bridge {
        from_chain: String,
        to_chain: String,
        asset: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        fee: Decimal,
    },
    /// A token transfer from the hot wallet on `chain` to `to`.
    Transfer {
        chain: String,
        asset: String,
        to: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegProgress {
    Pending,
    Confirmed { received: Decimal },
    Failed { reverted: bool, why: String },
    Unknown,
}

const TRANSFER: &str = "route_transfer";

fn chain_of<'a>(state: &'a AppState, livemode: bool, caip2: &str) -> Result<&'a EvmChain, String> {
    state
        .chains
        .get(livemode, caip2)
        .ok_or_else(|| format!("no chain {caip2} in this mode"))
}

/// The token contract and decimals of `symbol` on `caip2`.
pub fn token_on(state: &AppState, caip2: &str, symbol: &str) -> Result<(Address, u32), String> {
    let chain = state
        .registry
        .chain(caip2)
        .ok_or_else(|| format!("unknown chain {caip2}"))?;
    let asset = state
        .registry
        .asset_on(&symbol.to_ascii_lowercase(), chain)
        .map_err(|e| e.to_string())?;
    Ok((asset.contract.clone(), asset.decimals))
}

/// The hot wallet's address on `caip2`.
pub fn hot_wallet(state: &AppState, livemode: bool, caip2: &str) -> Result<Address, String> {
    let chain = chain_of(state, livemode, caip2)?;
    let key = chain
        .hot_wallet
        .as_ref()
        .ok_or_else(|| format!("{caip2} has no hot wallet"))?;
    let signer = sender::signer_from_key(key).map_err(|e| e.to_string())?;
    Ok(sender::signer_address(&signer))
}

fn units(amount: Decimal, decimals: u32) -> Result<u128, String> {
    let scaled = amount * Decimal::from(10u64.pow(decimals));
    if scaled.fract() != Decimal::ZERO || scaled < Decimal::ZERO {
        return Err(format!("{amount} does not fit {decimals} decimals"));
    }
    u128::try_from(scaled).map_err(|_| format!("{amount} out of range"))
}

/// Records and sends the leg's transaction; idempotent per `leg`.
pub async fn submit(
    state: &AppState,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<(), String> {
    let ChainLeg::Transfer {
        chain,
        asset,
        to,
        amount,
    } = spec
    else {
        return Err("swaps and bridges are not driven by this gateway yet".into());
    };
    let evm = chain_of(state, livemode, chain)?;
    let key = evm
        .hot_wallet
        .as_ref()
        .ok_or_else(|| format!("{chain} has no hot wallet"))?;
    let (token, decimals) = token_on(state, chain, asset)?;
    let destination = Address::parse(to, token.namespace()).map_err(|e| e.to_string())?;
    let base = units(*amount, decimals)?;
    let request = LegRequest {
        purpose: TRANSFER,
        reference: leg.to_string(),
        payment_intent_id: None,
        signer: sender::signer_from_key(key).map_err(|e| e.to_string())?,
        to: token.clone(),
        value: 0,
        data: sender::erc20_transfer_data(&destination, base)
            .map_err(|e| e.to_string())?
            .to_vec(),
        token: Some((token, base)),
        max_fee_cap: None,
    };
    EvmRail {
        chain: evm,
        store: state.store.as_ref(),
    }
    .send(&request, now_ms)
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Where the leg is, from its stored rail leg.
pub async fn progress(
    state: &AppState,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<LegProgress, String> {
    let ChainLeg::Transfer { chain, amount, .. } = spec else {
        return Ok(LegProgress::Failed {
            reverted: false,
            why: "swaps and bridges are not driven by this gateway yet".into(),
        });
    };
    let evm = chain_of(state, livemode, chain)?;
    let rail = EvmRail {
        chain: evm,
        store: state.store.as_ref(),
    };
    if let Err(err) = rail.drive(now_ms).await {
        // The chain worker drives the rail too; the stored status below is what counts.
        tracing::debug!(chain = %chain, error = %err, "rail not driven this pass");
    }
    let stored = state
        .store
        .get_chain_transfer(TRANSFER, &leg.to_string())
        .await
        .map_err(|e| e.to_string())?;
    Ok(match stored.map(|l| l.status) {
        None => LegProgress::Unknown,
        Some(LegStatus::Confirmed) => LegProgress::Confirmed { received: *amount },
        Some(LegStatus::Failed) => LegProgress::Failed {
            reverted: true,
            why: "the transfer reverted".into(),
        },
        Some(_) => LegProgress::Pending,
    })
}
