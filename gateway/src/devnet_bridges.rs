//! The sandbox's bridge, wired from the devnet manifest. Between the anvil chains, `rialto_evm::devnet_bridge::DevnetBurnMint` (venue
//! `devnet-burn-mint`); between the Solana simnet and the anvil chains, the connectors'
//! `DevnetRelay` (venue `devnet-relay`): on Solana the devnet's mint authority is the relayer
//! and locks and releases USDC from its reserve, on EVM the FiatToken's minter burns and mints.
//! Between the anvil chains there is also `rialto_evm::ccip_bridge::CcipBridge` (venue
//! `ccip`, USDC and the `JPMD-DEV` deposit token): it speaks Chainlink's real `Router` on each
//! chain; the on-ramp, off-ramp and DON behind the router are devnet stand-ins (the DON's is
//! `rialto_evm::devnet_don::DevnetDonStandIn`). All sit behind one `BridgeSet`, the mode's one
//! `Bridge`; a route leg names its lane's venue, so the set sends it to the bridge it chose.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rialto_connectors::bridge::relay::{DevnetRelay, LockRelease, RelayEnd};
use rialto_connectors::bridge::set::BridgeSet;
use rialto_connectors::bridge::Bridge;
use rialto_connectors::rail::SigningKey;
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_engine::chain::Chains;
use rialto_evm::ccip_bridge::CcipBridge;
use rialto_evm::chain::EvmChain;
use rialto_evm::devnet_bridge::DevnetBurnMint;
use rialto_evm::devnet_don::DevnetDonStandIn;
use rialto_evm::devnet_relay::FiatTokenMinter;
use rialto_evm::manifest::DevnetManifest;
use rialto_solana::devnet::manifest::SolanaManifest;

const USDC: &str = "USDC";

/// The sandbox's bridge over `evm` (the manifest's anvil chains) and, when the devnet ran the
/// Solana simnet, its chain in `chains`; the burn/mint stand-in only when `burn_mint_bridge`.
pub fn sandbox_bridge(
    manifest: &DevnetManifest,
    manifest_path: &Path,
    chains: &Chains,
    evm: &[EvmChain],
    ccip_delivery: Duration,
    burn_mint_bridge: bool,
) -> anyhow::Result<Arc<dyn Bridge>> {
    let ccip = CcipBridge::from_manifest(manifest, evm, ccip_delivery)
        .context("the CCIP bridge from the devnet manifest")?;
    let mut members: Vec<Arc<dyn Bridge>> = vec![Arc::new(ccip)];
    // `[sandbox] burn_mint_bridge = false` leaves USDC between the anvil chains to CCIP.
    if burn_mint_bridge {
        let burn_mint =
            DevnetBurnMint::from_manifest(manifest, evm).context("the devnet bridge's minters")?;
        members.insert(0, Arc::new(burn_mint));
    }
    if let Some(solana) = SolanaManifest::read(manifest_path)
        .with_context(|| format!("the Solana part of {}", manifest_path.display()))?
    {
        let mut ends = evm_ends(manifest, chains, evm)?;
        if let Some(end) = solana_end(&solana, chains)? {
            ends.push(end);
        }
        members.push(Arc::new(DevnetRelay::new(ends)));
    }
    Ok(Arc::new(BridgeSet::new(members)))
}

/// How often the devnet DON stand-in looks for CCIP messages.
const DON_POLL: Duration = Duration::from_millis(500);

/// Starts the devnet DON stand-in over `manifest`'s chains (those with the CCIP rails), or
/// nothing when none has them.
pub async fn spawn_don_stand_in(
    manifest: &DevnetManifest,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let don = DevnetDonStandIn::from_manifest(manifest)
        .await
        .context("the devnet DON stand-in")?;
    if don.is_empty() {
        return Ok(None);
    }
    Ok(Some(tokio::spawn(don.run(DON_POLL))))
}

/// The relay's EVM ends: each anvil chain with a hot wallet and USDC, its minter the relayer.
fn evm_ends(
    manifest: &DevnetManifest,
    chains: &Chains,
    evm: &[EvmChain],
) -> anyhow::Result<Vec<RelayEnd>> {
    let mut ends = Vec::new();
    for chain in evm {
        let (Some(entry), Some(hot), Some(served)) = (
            manifest.chain(&chain.caip2),
            &chain.hot_wallet,
            chains.get(false, &chain.caip2),
        ) else {
            continue;
        };
        let Some(usdc) = entry.tokens.get(USDC) else {
            continue;
        };
        let end = RelayEnd::new(
            served.node.clone(),
            &chain.alias,
            (usdc.address, u32::from(usdc.decimals)),
            SigningKey(hot.clone()),
            SigningKey(entry.minter.private_key.clone()),
            Arc::new(FiatTokenMinter { usdc: usdc.address }),
        )
        .with_context(|| format!("the devnet relay on {}", chain.caip2))?;
        ends.push(end);
    }
    Ok(ends)
}

/// The relay's Solana end: the devnet's mint authority locks and releases USDC.
fn solana_end(solana: &SolanaManifest, chains: &Chains) -> anyhow::Result<Option<RelayEnd>> {
    let (Some(served), Some(usdc)) = (chains.get(false, &solana.chain_id), solana.tokens.get(USDC))
    else {
        return Ok(None);
    };
    let token = Address::parse(&usdc.mint, ChainNamespace::Solana)
        .with_context(|| format!("devnet Solana mint {USDC}"))?;
    let end = RelayEnd::new(
        served.node.clone(),
        &solana.alias,
        (token, u32::from(usdc.decimals)),
        SigningKey(solana.gateway_hot_wallet.secret_key.clone()),
        SigningKey(solana.mint_authority.secret_key.clone()),
        Arc::new(LockRelease {
            node: served.node.clone(),
            token,
        }),
    )
    .context("the devnet relay on the Solana simnet")?;
    Ok(Some(end))
}
