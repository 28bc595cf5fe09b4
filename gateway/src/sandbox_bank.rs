//! Starting the sandbox issuing bank (`SandboxBank`, `docs/issuer-api.md`) beside the sandbox
//! exchange, for the devnet's EVM chains: Rialto's treasury holds an account there, opened with
//! sandbox USD, under a key and a secret made up at start (nothing to leak, nothing to commit).
//!
//! Its token side is the devnet's `JPMD-DEV` contract (`rialto_evm::deposit_token_sink`): the
//! bank onboards, mints and reads burns on chain with the issuing bank's devnet key. A manifest
//! written before the institutional rails has no token; the bank then refuses to start rather
//! than keep an allow-list on no chain (the in-memory sink is for unit tests only).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::RngCore;
use rialto_connectors::issuer::sandbox::{SandboxBank, SandboxBankAccount, SandboxBankConfig};
use rialto_connectors::issuer::{
    DepositTokenSink, FeeSchedule, IssuerError, IssuerHttpClient, IssuerHttpConfig,
};
use rialto_core::ChainId;
use rialto_engine::issuer::MeteredIssuer;
use rust_decimal::Decimal;
use secrecy::SecretString;

/// The devnet's deposit token, the one the sandbox bank issues.
pub const DEVNET_DEPOSIT_TOKEN: &str = "JPMD-DEV";

/// The treasury's key id at the sandbox bank.
pub const TREASURY_KEY: &str = "acct_rialto_treasury_sandbox";

/// Starts the bank for `chains` with the treasury's account (1,000,000 sandbox USD; mint and
/// redemption fees 0.05 %; no cut-off, so devnet payments never wait for a window). Returns
/// it (dropping it stops it) and the treasury's client configuration.
pub async fn start_sandbox_bank(
    sink: Arc<dyn DepositTokenSink>,
    chains: Vec<ChainId>,
) -> std::io::Result<(SandboxBank, IssuerHttpConfig)> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = SecretString::from(hex::encode(secret));
    let mut config = SandboxBankConfig::new(sink, chains);
    config.accounts = vec![SandboxBankAccount {
        key: TREASURY_KEY.into(),
        secret: secret.clone(),
        usd: Decimal::new(1_000_000, 0),
    }];
    let fee = FeeSchedule {
        fixed: Decimal::ZERO,
        rate: Decimal::new(5, 4),
    };
    config.mint_fee = fee;
    config.redemption_fee = fee;
    let bank = SandboxBank::start(config).await?;
    let client = IssuerHttpConfig {
        base_url: bank.base_url(),
        key: TREASURY_KEY.into(),
        secret,
        timeout: Duration::from_secs(10),
    };
    Ok((bank, client))
}

/// The sandbox bank `rialto serve` starts: with a devnet manifest that has EVM chains and
/// `[sandbox] bank` on. Keep the returned handle alive: dropping it stops the bank.
pub async fn sandbox_bank(
    config: &crate::config::Config,
) -> anyhow::Result<Option<(SandboxBank, IssuerHttpConfig)>> {
    if config.sandbox.devnet_manifest.is_empty() || !config.sandbox.bank {
        return Ok(None);
    }
    let path = std::path::Path::new(&config.sandbox.devnet_manifest);
    let manifest = rialto_evm::DevnetManifest::read(path)
        .with_context(|| format!("sandbox.devnet_manifest {}", config.sandbox.devnet_manifest))?;
    sandbox_bank_for(true, &manifest).await
}

/// The bank for the devnet manifest's EVM chains, when `enabled`.
/// The bank for the devnet manifest's chains that carry [`DEVNET_DEPOSIT_TOKEN`], when
/// `enabled`, minting and onboarding on those chains' contracts.
pub async fn sandbox_bank_for(
    enabled: bool,
    manifest: &rialto_evm::DevnetManifest,
) -> anyhow::Result<Option<(SandboxBank, IssuerHttpConfig)>> {
    if !enabled {
        return Ok(None);
    }
    let chains: Vec<ChainId> = manifest
        .chains
        .iter()
        .filter(|c| {
            c.institutional
                .as_ref()
                .is_some_and(|i| i.deposit_tokens.contains_key(DEVNET_DEPOSIT_TOKEN))
        })
        .filter_map(|c| c.chain_id.to_string().parse().ok())
        .collect();
    let sink = rialto_evm::deposit_token_sink::DevnetDepositTokenSink::from_manifest(
        manifest,
        DEVNET_DEPOSIT_TOKEN,
    )
    .await
    .map_err(|e| anyhow::anyhow!("the sandbox bank's {DEVNET_DEPOSIT_TOKEN} key: {e}"))?;
    let Some(sink) = sink else {
        anyhow::bail!(
            "sandbox.bank is on but the devnet manifest has no {DEVNET_DEPOSIT_TOKEN}: restart \
             `rialto devnet` (or set sandbox.bank = false)"
        );
    };
    let started = start_sandbox_bank(Arc::new(sink), chains).await?;
    tracing::info!(
        url = %started.0.base_url(),
        "sandbox issuing bank (a stand-in, not a bank) ready; it mints {DEVNET_DEPOSIT_TOKEN} \
         on the devnet chains with the devnet issuing bank's key"
    );
    Ok(Some(started))
}

/// The one way the gateway builds an issuer client: wrapped in `MeteredIssuer`, so every
/// failed call counts in `rialto_issuer_errors_total` (labels `issuer`, `operation`, `code`).
pub fn metered_issuer(
    config: IssuerHttpConfig,
    name: &str,
) -> Result<MeteredIssuer<IssuerHttpClient>, IssuerError> {
    Ok(MeteredIssuer::new(IssuerHttpClient::new(config)?, name))
}

#[cfg(test)]
mod tests {
    use rialto_connectors::issuer::{Issuer, IssuerHttpClient, MemoryTokenSink, RequestKind};

    use super::*;

    #[tokio::test]
    async fn the_treasury_reaches_the_sandbox_bank_with_its_generated_secret_and_its_sandbox_usd() {
        let base: ChainId = "eip155:31337".parse().expect("chain");
        let (bank, config) = start_sandbox_bank(Arc::new(MemoryTokenSink::default()), vec![base])
            .await
            .expect("bank");
        let client = IssuerHttpClient::new(config.clone()).expect("client");
        let balance = client.balance().await.expect("balance");
        assert_eq!(balance.available, Decimal::new(1_000_000, 0));
        let quote = client
            .quote(RequestKind::Mint, Decimal::new(10_000, 2))
            .await
            .expect("quote");
        assert_eq!(quote.fee, Decimal::new(5, 2));
        let mut wrong = config;
        wrong.secret = SecretString::from("0".repeat(64));
        let refused = IssuerHttpClient::new(wrong)
            .expect("client")
            .balance()
            .await;
        assert_eq!(refused.map_err(|e| e.code()), Err("issuer_auth_failed"));
        drop(bank);
    }
}
