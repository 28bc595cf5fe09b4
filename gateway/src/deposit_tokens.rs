//! The devnet's permissioned deposit tokens (`JPMD-DEV`, `docs/deposit-tokens.md`) as settlement
//! assets: their contracts are deployed at run time, so they join the registry from the devnet
//! manifest at start-up, as `AssetKind::DepositToken`, before the store or any chain reads it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rialto_core::asset::{AssetKind, AssetRegistry};

/// `registry` with every deposit token of the devnet manifest at `manifest_path` (none when the
/// path is empty or the manifest predates the institutional rails).
pub fn with_devnet_deposit_tokens(
    registry: Arc<AssetRegistry>,
    manifest_path: &str,
) -> anyhow::Result<Arc<AssetRegistry>> {
    if manifest_path.is_empty() {
        return Ok(registry);
    }
    let manifest = rialto_evm::DevnetManifest::read(Path::new(manifest_path))
        .with_context(|| format!("sandbox.devnet_manifest {manifest_path}"))?;
    let mut extended = (*registry).clone();
    let mut added = 0usize;
    for chain in &manifest.chains {
        let Some(rails) = &chain.institutional else {
            continue;
        };
        let Some(known) = registry.chain(&chain.alias).cloned() else {
            continue;
        };
        for (symbol, token) in &rails.deposit_tokens {
            let address = token.address.to_string();
            // Already known (a registry built twice from the same manifest): keep it once.
            let caip19 = format!("{}/erc20:{address}", known.id);
            if registry.asset_on(&caip19, &known).is_ok() {
                continue;
            }
            extended
                .add_asset(
                    &known,
                    symbol,
                    &address,
                    u32::from(token.decimals),
                    AssetKind::DepositToken,
                )
                .with_context(|| format!("{symbol} on {}", chain.alias))?;
            added += 1;
        }
    }
    if added == 0 {
        return Ok(registry);
    }
    Ok(Arc::new(extended))
}
