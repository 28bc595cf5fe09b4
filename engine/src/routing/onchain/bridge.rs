//! A route's bridge leg ([`ChainLeg::Bridge`]) through the mode's bridge: the connectors'
//! [`Bridge`] role, whose legs are recorded in the engine's store before they are sent.
//!
//! The bridges built are the sandbox's, behind one `BridgeSet`: CCIP through Chainlink's
//! router (`rialto_evm::ccip_bridge::CcipBridge`) and the devnet stand-ins
//! `rialto_evm::devnet_bridge::DevnetBurnMint` between the anvil chains and the connectors'
//! `DevnetRelay` between the Solana simnet and them. Live mode has none, and refuses bridge
//! legs. A confirmed CCIP leg keeps its message id as the route leg's `external_ref`.

use rialto_connectors::bridge::{Bridge, BridgeStatus, BridgeTransfer};
use rialto_core::id::LegId;

use super::{ChainLeg, LegProgress, OnchainError};
use crate::chain::rail::StoreJournal;
use crate::services::Engine;

/// The mode's bridge and the transfer a [`ChainLeg::Bridge`] asks for.
fn for_leg<'a>(
    state: &'a Engine,
    livemode: bool,
    spec: &ChainLeg,
) -> Result<(&'a dyn Bridge, BridgeTransfer), OnchainError> {
    let ChainLeg::Bridge {
        from_chain,
        to_chain,
        asset,
        amount,
        fee,
        venue,
    } = spec
    else {
        return Err(OnchainError::Refused("not a bridge leg".into()));
    };
    let bridge = state.chains.bridge(livemode).ok_or_else(|| {
        OnchainError::Refused(if livemode {
            "no bridge in live mode: no live bridge (a CCIP router configuration, a CCTP \
             driver) is configured"
                .into()
        } else {
            "no bridge is configured in sandbox mode (it comes with the devnet manifest)".into()
        })
    })?;
    let transfer = BridgeTransfer {
        from_chain: from_chain.clone(),
        to_chain: to_chain.clone(),
        asset: asset.clone(),
        amount: *amount,
        fee: *fee,
        venue: venue.clone(),
    };
    Ok((bridge, transfer))
}

/// Starts the leg (the bridge sends the source side's first transaction).
pub async fn submit(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<(), OnchainError> {
    let (bridge, transfer) = for_leg(state, livemode, spec)?;
    let journal = StoreJournal(state.store.as_ref());
    Ok(bridge
        .burn(&journal, &leg.to_string(), &transfer, now_ms)
        .await?)
}

/// Advances a bridge leg one step and reports it as a route leg.
pub async fn progress(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
    now_ms: i64,
) -> Result<LegProgress, OnchainError> {
    let (bridge, transfer) = for_leg(state, livemode, spec)?;
    let journal = StoreJournal(state.store.as_ref());
    let id = leg.to_string();
    Ok(
        match bridge.status(&journal, &id, &transfer, now_ms).await? {
            BridgeStatus::NotStarted => return Err(OnchainError::NotStarted(id)),
            BridgeStatus::Burning => {
                bridge.burn(&journal, &id, &transfer, now_ms).await?;
                LegProgress::Pending
            }
            BridgeStatus::Burned => {
                bridge.mint(&journal, &id, &transfer, now_ms).await?;
                LegProgress::Pending
            }
            BridgeStatus::Minting => LegProgress::Pending,
            BridgeStatus::Minted {
                received,
                tx_hash,
                block,
            } => LegProgress::Confirmed {
                received,
                tx_hash,
                block,
            },
            BridgeStatus::Failed { why } => LegProgress::Failed {
                reverted: true,
                why,
            },
            BridgeStatus::Unknown { why } => {
                tracing::warn!(%leg, %why, "bridge leg cannot be told; reconcile it");
                LegProgress::Unknown
            }
        },
    )
}

/// The bridge's id of a bridge leg's transfer (CCIP's message id), once known.
pub async fn message_id(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
) -> Result<Option<String>, OnchainError> {
    let (bridge, transfer) = for_leg(state, livemode, spec)?;
    let journal = StoreJournal(state.store.as_ref());
    Ok(bridge
        .message_id(&journal, &leg.to_string(), &transfer)
        .await?)
}

/// What a bridge leg paid in native coin beyond gas (CCIP's router fee), read from the chain.
pub async fn network_fees(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    spec: &ChainLeg,
) -> Result<Vec<rialto_connectors::bridge::BridgeNetworkFee>, OnchainError> {
    let (bridge, transfer) = for_leg(state, livemode, spec)?;
    let journal = StoreJournal(state.store.as_ref());
    Ok(bridge
        .network_fees(&journal, &leg.to_string(), &transfer)
        .await?)
}
