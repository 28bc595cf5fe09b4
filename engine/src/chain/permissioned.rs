//! Permissioned deposit tokens (`AssetKind::DepositToken`, `docs/deposit-tokens.md`): only
//! holders on the token's allow-list may send or receive it, so the engine asks the chain
//! (the contract's own view, read now) before an intent settles in one or a payer is offered
//! a way to pay in one. A chain that cannot answer refuses: nothing is assumed allow-listed.
//!
//! Every other asset passes untouched, without a chain read.

use rialto_connectors::chain::ChainError;
use rialto_core::address::Address;
use rialto_core::asset::{Asset, AssetKind};

use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;

/// Whose wallet is being checked, for the error the caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The merchant's settlement address (intent creation, settlement settings).
    Settlement,
    /// The wallet a payer pays from.
    Payer,
}

impl Holder {
    fn refusal(self, asset: &Asset, param: &str) -> EngineError {
        let (code, whose) = match self {
            Holder::Settlement => (
                ErrorCode::SettlementAddressNotAllowlisted,
                "This settlement address",
            ),
            Holder::Payer => (ErrorCode::PayerNotAllowlisted, "This wallet"),
        };
        EngineError::new(
            code,
            format!(
                "{whose} is not on the allow-list of {} ({}), a permissioned deposit token: \
                 only wallets its issuing bank has onboarded may hold or send it. Onboard the \
                 wallet with the bank, or use another asset.",
                asset.symbol, asset.chain_alias
            ),
        )
        .param(param)
    }
}

fn unavailable(asset: &Asset, param: &str) -> EngineError {
    EngineError::new(
        ErrorCode::AllowlistUnavailable,
        format!(
            "The allow-list of {} on {} cannot be read right now; nothing was created. Retry \
             shortly.",
            asset.symbol, asset.chain_alias
        ),
    )
    .param(param)
}

/// Refuses unless `holder` may hold `asset`: `Ok` at once for anything but a deposit token;
/// for a deposit token, the chain of `livemode` must be served and say yes. `param` names
/// the request field the address came from.
pub async fn ensure_allow_listed(
    engine: &Engine,
    livemode: bool,
    asset: &Asset,
    holder: &Address,
    role: Holder,
    param: &str,
) -> Result<(), EngineError> {
    if asset.kind != AssetKind::DepositToken {
        return Ok(());
    }
    let caip2 = asset.id.chain().to_string();
    let Some(chain) = engine.chains.get(livemode, &caip2) else {
        tracing::warn!(chain = %caip2, asset = %asset.id, "deposit token on a chain this mode does not serve");
        return Err(unavailable(asset, param));
    };
    match chain.node.holder_allowed(&asset.contract, holder).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(role.refusal(asset, param)),
        Err(ChainError::Invalid(why)) => {
            tracing::warn!(chain = %caip2, %why, "chain cannot read a deposit token's allow-list");
            Err(unavailable(asset, param))
        }
        Err(err) => {
            tracing::warn!(chain = %caip2, error = %err, "allow-list read failed");
            Err(unavailable(asset, param))
        }
    }
}
