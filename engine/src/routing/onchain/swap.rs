//! Swaps from the hot wallet through the chain's DEX (the connectors' [`Dex`] role; on the
//! devnet, Uniswap V2): an exact approval, then the swap.
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
//! The DEX encodes the approval and the swap ([`Dex::approve`], [`Dex::swap`]); this module
//! sequences them as rail legs and reads the DEX's allowance and output.

use rialto_connectors::dex::Dex;
use rialto_core::id::LegId;

use super::{
    hot_wallet, received, request, send, step, stored, token, ChainLeg, HotWallet, LegProgress,
    OnchainError, Step, Token, ROUTE_APPROVE, ROUTE_SWAP,
};
use crate::chain::rail::StoreJournal;
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
    /// The chain's DEX.
    pub dex: &'a dyn Dex,
    pub amount_in: u128,
    pub min_out: u128,
}

/// Resolves a [`ChainLeg::Swap`]: tokens from the registry, the chain's DEX (no DEX is
/// configured for live chains).
pub fn plan<'a>(
    state: &'a Engine,
    livemode: bool,
    spec: &ChainLeg,
) -> Result<SwapPlan<'a>, OnchainError> {
    let ChainLeg::Swap {
        chain,
        token_in,
        token_out,
        amount_in,
        min_out,
    } = spec
    else {
        return Err(OnchainError::Refused("not a swap leg".into()));
    };
    if livemode {
        return Err(OnchainError::Refused(
            "no Uniswap V2 router is configured for live chains".into(),
        ));
    }
    let hot = hot_wallet(state, livemode, chain)?;
    let dex = hot.chain.dex.as_deref().ok_or_else(|| {
        OnchainError::Refused(format!("no DEX is configured on {}", hot.chain.caip2))
    })?;
    let token_in = token(state, hot.chain, token_in)?;
    let token_out = token(state, hot.chain, token_out)?;
    if token_in.address == token_out.address {
        return Err(OnchainError::Refused(
            "a swap needs two different tokens".into(),
        ));
    }
    let (amount_in, min_out) = (token_in.units(*amount_in)?, token_out.units(*min_out)?);
    if amount_in == 0 {
        return Err(OnchainError::Refused("a swap of nothing".into()));
    }
    Ok(SwapPlan {
        state,
        hot,
        token_in,
        token_out,
        dex,
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
pub async fn submit(plan: &SwapPlan<'_>, leg: &LegId, now_ms: i64) -> Result<(), OnchainError> {
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
    let journal = StoreJournal(plan.state.store.as_ref());
    let held = plan
        .hot
        .chain
        .rail(&journal)
        .balance(Some(&plan.token_in.address), &plan.hot.address)
        .await
        .map_err(|source| OnchainError::Rail {
            what: format!("{}: balance", plan.hot.chain.caip2),
            source,
        })?;
    if held < plan.amount_in {
        // Nothing is approved for a swap that could not be sent (the funds may still be on
        // their way): the caller tries again later.
        return Err(OnchainError::Refused(format!(
            "the hot wallet holds {} {}, the swap needs {}",
            plan.token_in.amount(held)?,
            plan.token_in.symbol,
            plan.token_in.amount(plan.amount_in)?
        )));
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
) -> Result<LegProgress, OnchainError> {
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
    Err(OnchainError::NotStarted(leg.to_string()))
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
) -> Result<LegProgress, OnchainError> {
    let (_, reference, revoke) = refs(leg);
    let quoted = amount_out(plan).await?;
    if quoted < plan.min_out {
        tracing::info!(%leg, quoted, min_out = plan.min_out, "swap cannot meet min_out; revoking its approval");
        approve_exactly(plan, revoke, 0, now_ms).await?;
        return Ok(LegProgress::Pending);
    }
    let deadline = now_ms.div_euclid(1000).saturating_add(DEADLINE_SECS).max(0);
    let planned = plan
        .dex
        .swap(
            (&plan.token_in.address, &plan.token_out.address),
            (plan.amount_in, plan.min_out),
            &plan.hot.address,
            u64::try_from(deadline).unwrap_or_default(),
        )
        .map_err(OnchainError::chain(plan.hot.chain))?;
    let request = request((ROUTE_SWAP, reference), &plan.hot.key, planned);
    send(plan.state, plan.hot.chain, &request, now_ms).await?;
    Ok(LegProgress::Pending)
}

/// `approve(router, units)` on `token_in`, as `route_approve <reference>`.
async fn approve_exactly(
    plan: &SwapPlan<'_>,
    reference: String,
    units: u128,
    now_ms: i64,
) -> Result<(), OnchainError> {
    let planned = plan
        .dex
        .approve(&plan.token_in.address, units)
        .map_err(OnchainError::chain(plan.hot.chain))?;
    let request = request((ROUTE_APPROVE, reference), &plan.hot.key, planned);
    send(plan.state, plan.hot.chain, &request, now_ms)
        .await
        .map(|_| ())
}

/// The hot wallet's allowance of `token_in` to the DEX's router, base units.
async fn allowance(plan: &SwapPlan<'_>) -> Result<u128, OnchainError> {
    plan.dex
        .allowance(&plan.token_in.address, &plan.hot.address)
        .await
        .map_err(OnchainError::chain(plan.hot.chain))
}

/// What the pool pays for `amount_in` now, base units.
async fn amount_out(plan: &SwapPlan<'_>) -> Result<u128, OnchainError> {
    plan.dex
        .amount_out(
            &plan.token_in.address,
            &plan.token_out.address,
            plan.amount_in,
        )
        .await
        .map_err(OnchainError::chain(plan.hot.chain))
}
