//! Uniswap V2 swaps from the hot wallet: an exact approval, then `swapExactTokensForTokens`.
//!
//! Steps, each a rail leg sent only once the one before is confirmed (reference `<leg>`):
//! 1. `route_approve <leg>:reset` — `approve(router, 0)`, only when the hot wallet's allowance
//!    is not zero when the leg starts: USDT refuses to move an allowance from non-zero to
//!    non-zero, so a leftover allowance (a swap that reverted, a leg abandoned after its
//!    approval) would otherwise break every later swap of the token.
//! 2. `route_approve <leg>` — `approve(router, amount_in)`, exactly.
//! 3. `route_swap <leg>` — `swapExactTokensForTokens(amount_in, min_out, [in, out], hot
//!    wallet, deadline)`; or, when the pool's `getAmountsOut` is already below `min_out` (the
//!    swap would revert, and the rail refuses a call that would revert before spending a
//!    nonce), `route_approve <leg>:revoke` — `approve(router, 0)` — instead: the durable record
//!    that this leg failed and will never swap, and no approval left behind. Once it is
//!    confirmed the leg is `Failed { reverted: true }`.
//!
//! The calldata of `approve`/`transfer` is the standard ERC-20 encoding; USDT-like tokens return
//! nothing, which does not matter here: the rail never decodes return data, success is the
//! receipt's status.

use alloy::primitives::U256;
use alloy::providers::DynProvider;
use alloy::sol_types::SolCall;
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_evm::contracts::{to_wire, IUniswapV2Router02, IERC20};
use rialto_evm::sender;

use super::{
    devnet_manifest, hot_wallet, received, request, send, step, stored, token, ChainLeg, HotWallet,
    LegProgress, Step, Token, ROUTE_APPROVE, ROUTE_SWAP,
};
use crate::chain::rail::{SWAP_GAS_HEADROOM, TOKEN_GAS_HEADROOM};
use crate::services::Engine;

/// How long a signed swap stays valid, seconds (a re-broadcast after that reverts on chain).
const DEADLINE_SECS: i64 = 1800;

/// A swap leg, resolved.
#[derive(Debug)]
pub struct SwapPlan<'a> {
    pub state: &'a Engine,
    pub hot: HotWallet<'a>,
    pub token_in: Token,
    pub token_out: Token,
    /// The Uniswap V2 router.
    pub router: Address,
    pub amount_in: u128,
    pub min_out: u128,
}

/// Resolves a [`ChainLeg::Swap`]: tokens from the registry, the router from the devnet manifest
/// (no DEX is configured for live chains).
pub fn plan<'a>(
    state: &'a Engine,
    livemode: bool,
    spec: &ChainLeg,
) -> Result<SwapPlan<'a>, String> {
    let ChainLeg::Swap {
        chain,
        token_in,
        token_out,
        amount_in,
        min_out,
    } = spec
    else {
        return Err("not a swap leg".into());
    };
    if livemode {
        return Err("no Uniswap V2 router is configured for live chains".into());
    }
    let hot = hot_wallet(state, livemode, chain)?;
    let manifest = devnet_manifest(state)?;
    let router = manifest
        .chain(&hot.chain.caip2)
        .map(|c| c.dex.router)
        .ok_or_else(|| format!("the devnet manifest has no chain {}", hot.chain.caip2))?;
    let token_in = token(state, hot.chain, token_in)?;
    let token_out = token(state, hot.chain, token_out)?;
    if token_in.address == token_out.address {
        return Err("a swap needs two different tokens".into());
    }
    let (amount_in, min_out) = (token_in.units(*amount_in)?, token_out.units(*min_out)?);
    if amount_in == 0 {
        return Err("a swap of nothing".into());
    }
    Ok(SwapPlan {
        state,
        hot,
        token_in,
        token_out,
        router,
        amount_in,
        min_out,
    })
}

fn refs(leg: &LegId) -> (String, String, String) {
    (
        format!("{leg}:reset"),
        leg.to_string(),
        format!("{leg}:revoke"),
    )
}

/// Sends the first step (reset or approval); nothing when the leg has started already.
pub async fn submit(plan: &SwapPlan<'_>, leg: &LegId, now_ms: i64) -> Result<(), String> {
    let (reset, approve, revoke) = refs(leg);
    for (purpose, reference) in [
        (ROUTE_SWAP, &approve),
        (ROUTE_APPROVE, &revoke),
        (ROUTE_APPROVE, &approve),
        (ROUTE_APPROVE, &reset),
    ] {
        if stored(plan.state, purpose, reference).await?.is_some() {
            return Ok(());
        }
    }
    let held = sender::token_balance(
        plan.hot.chain.rpc_url(),
        &plan.token_in.address,
        &plan.hot.address,
    )
    .await
    .map_err(|e| format!("{}: balance: {e}", plan.hot.chain.caip2))?;
    if held < plan.amount_in {
        // Nothing is approved for a swap that could not be sent (the funds may still be on
        // their way): the caller tries again later.
        return Err(format!(
            "the hot wallet holds {} {}, the swap needs {}",
            plan.token_in.amount(held)?,
            plan.token_in.symbol,
            plan.token_in.amount(plan.amount_in)?
        ));
    }
    if allowance(plan).await? == 0 {
        approve_exactly(plan, approve, plan.amount_in, now_ms).await
    } else {
        approve_exactly(plan, reset, 0, now_ms).await
    }
}

/// Advances the leg (see the module docs) and says where it is.
pub async fn progress(
    plan: &SwapPlan<'_>,
    leg: &LegId,
    now_ms: i64,
) -> Result<LegProgress, String> {
    let (reset, approve, revoke) = refs(leg);
    let state = plan.state;
    let chain = plan.hot.chain;
    if let Some(swap) = stored(state, ROUTE_SWAP, &approve).await? {
        return Ok(match step(chain, &swap).await? {
            Step::Open => LegProgress::Pending,
            Step::Lost => LegProgress::Unknown,
            Step::Reverted(why) => LegProgress::Failed {
                reverted: true,
                why: format!(
                    "swap {} reverted ({why}): min_out not met or past its deadline",
                    swap.tx_hash
                ),
            },
            Step::Confirmed => LegProgress::Confirmed {
                received: received(chain, &swap, &plan.token_out, &plan.hot.address).await?,
                tx_hash: swap.tx_hash.clone(),
                block: swap.block_number,
            },
        });
    }
    if let Some(revoked) = stored(state, ROUTE_APPROVE, &revoke).await? {
        let why = format!(
            "the pool pays less than min_out {} {}: not swapped",
            plan.token_out.amount(plan.min_out)?,
            plan.token_out.symbol
        );
        return Ok(match step(chain, &revoked).await? {
            Step::Open => LegProgress::Pending,
            Step::Lost => LegProgress::Unknown,
            Step::Confirmed => LegProgress::Failed {
                reverted: true,
                why,
            },
            Step::Reverted(r) => LegProgress::Failed {
                reverted: true,
                why: format!("{why}; revoking the approval reverted too ({r})"),
            },
        });
    }
    if let Some(approved) = stored(state, ROUTE_APPROVE, &approve).await? {
        return match step(chain, &approved).await? {
            Step::Open => Ok(LegProgress::Pending),
            Step::Lost => Ok(LegProgress::Unknown),
            Step::Reverted(why) => Ok(failed_approval(&approved.tx_hash, &why)),
            Step::Confirmed => swap_or_revoke(plan, leg, now_ms).await,
        };
    }
    if let Some(reset_leg) = stored(state, ROUTE_APPROVE, &reset).await? {
        return match step(chain, &reset_leg).await? {
            Step::Open => Ok(LegProgress::Pending),
            Step::Lost => Ok(LegProgress::Unknown),
            Step::Reverted(why) => Ok(failed_approval(&reset_leg.tx_hash, &why)),
            Step::Confirmed => {
                approve_exactly(plan, approve, plan.amount_in, now_ms).await?;
                Ok(LegProgress::Pending)
            }
        };
    }
    Err(format!("nothing recorded for {leg}; submit it first"))
}

fn failed_approval(tx: &str, why: &str) -> LegProgress {
    LegProgress::Failed {
        reverted: true,
        why: format!("approval {tx} reverted ({why}): not swapped"),
    }
}

/// The approval is confirmed: swap, unless the pool already cannot meet `min_out`.
async fn swap_or_revoke(
    plan: &SwapPlan<'_>,
    leg: &LegId,
    now_ms: i64,
) -> Result<LegProgress, String> {
    let (_, reference, revoke) = refs(leg);
    let quoted = amount_out(plan).await?;
    if quoted < plan.min_out {
        tracing::info!(%leg, quoted, min_out = plan.min_out, "swap cannot meet min_out; revoking its approval");
        approve_exactly(plan, revoke, 0, now_ms).await?;
        return Ok(LegProgress::Pending);
    }
    let path = vec![
        to_wire(&plan.token_in.address),
        to_wire(&plan.token_out.address),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| e.to_string())?;
    let call = IUniswapV2Router02::swapExactTokensForTokensCall {
        amountIn: U256::from(plan.amount_in),
        amountOutMin: U256::from(plan.min_out),
        path,
        to: to_wire(&plan.hot.address).map_err(|e| e.to_string())?,
        deadline: U256::from(now_ms.div_euclid(1000).saturating_add(DEADLINE_SECS).max(0)),
    };
    let mut request = request(
        (ROUTE_SWAP, reference),
        &plan.hot.key,
        plan.router,
        call.abi_encode(),
        Some((plan.token_in.address, plan.amount_in)),
    );
    request.fees.extra_units = SWAP_GAS_HEADROOM + TOKEN_GAS_HEADROOM;
    send(plan.state, plan.hot.chain, &request, now_ms).await?;
    Ok(LegProgress::Pending)
}

/// `approve(router, units)` on `token_in`, as `route_approve <reference>`.
async fn approve_exactly(
    plan: &SwapPlan<'_>,
    reference: String,
    units: u128,
    now_ms: i64,
) -> Result<(), String> {
    let call = IERC20::approveCall {
        spender: to_wire(&plan.router).map_err(|e| e.to_string())?,
        amount: U256::from(units),
    };
    let request = request(
        (ROUTE_APPROVE, reference),
        &plan.hot.key,
        plan.token_in.address,
        call.abi_encode(),
        None,
    );
    send(plan.state, plan.hot.chain, &request, now_ms)
        .await
        .map(|_| ())
}

fn node(plan: &SwapPlan<'_>) -> Result<DynProvider, String> {
    rialto_evm::provider::provider(plan.hot.chain.rpc_url()).map_err(|e| e.to_string())
}

/// The hot wallet's allowance of `token_in` to the router, base units.
async fn allowance(plan: &SwapPlan<'_>) -> Result<u128, String> {
    let node = node(plan)?;
    let token = IERC20::new(
        to_wire(&plan.token_in.address).map_err(|e| e.to_string())?,
        &node,
    );
    let owner = sender::wire(&plan.hot.address).map_err(|e| e.to_string())?;
    let spender = to_wire(&plan.router).map_err(|e| e.to_string())?;
    let units = token
        .allowance(owner, spender)
        .call()
        .await
        .map_err(|e| format!("{}: allowance: {e}", plan.hot.chain.caip2))?;
    u128::try_from(units).map_err(|_| "allowance over 128 bits".to_owned())
}

/// What the pool pays for `amount_in` now (`getAmountsOut`), base units.
async fn amount_out(plan: &SwapPlan<'_>) -> Result<u128, String> {
    let node = node(plan)?;
    let router = IUniswapV2Router02::new(to_wire(&plan.router).map_err(|e| e.to_string())?, &node);
    let path = vec![
        to_wire(&plan.token_in.address).map_err(|e| e.to_string())?,
        to_wire(&plan.token_out.address).map_err(|e| e.to_string())?,
    ];
    let amounts = router
        .getAmountsOut(U256::from(plan.amount_in), path)
        .call()
        .await
        .map_err(|e| format!("{}: getAmountsOut: {e}", plan.hot.chain.caip2))?;
    let out = amounts.last().copied().unwrap_or(U256::ZERO);
    u128::try_from(out).map_err(|_| "pool output over 128 bits".to_owned())
}
