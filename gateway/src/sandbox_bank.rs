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
    start_sandbox_bank_with(sink, chains, Decimal::new(1_000_000, 0)).await
}

/// [`start_sandbox_bank`] with the treasury's account opened with `usd` (`[sandbox] bank_usd`).
pub async fn start_sandbox_bank_with(
    sink: Arc<dyn DepositTokenSink>,
    chains: Vec<ChainId>,
    usd: Decimal,
) -> std::io::Result<(SandboxBank, IssuerHttpConfig)> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = SecretString::from(hex::encode(secret));
    let mut config = SandboxBankConfig::new(sink, chains);
    config.accounts = vec![SandboxBankAccount {
        key: TREASURY_KEY.into(),
        secret: secret.clone(),
        usd,
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
    let usd = Decimal::from(config.sandbox.bank_usd);
    sandbox_bank_with(true, &manifest, usd).await
}

/// The bank for the devnet manifest's chains that carry [`DEVNET_DEPOSIT_TOKEN`], when
/// `enabled`, minting and onboarding on those chains' contracts.
pub async fn sandbox_bank_for(
    enabled: bool,
    manifest: &rialto_evm::DevnetManifest,
) -> anyhow::Result<Option<(SandboxBank, IssuerHttpConfig)>> {
    sandbox_bank_with(enabled, manifest, Decimal::new(1_000_000, 0)).await
}

/// [`sandbox_bank_for`] with the treasury's account opened with `usd`.
pub async fn sandbox_bank_with(
    enabled: bool,
    manifest: &rialto_evm::DevnetManifest,
    usd: Decimal,
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
    let started = start_sandbox_bank_with(Arc::new(sink), chains, usd).await?;
    tracing::info!(
        url = %started.0.base_url(),
        "sandbox issuing bank (a stand-in, not a bank) ready; it mints {DEVNET_DEPOSIT_TOKEN} \
         on the devnet chains with the devnet issuing bank's key"
    );
    Ok(Some(started))
}

/// The name routes, legs and the ledger know the sandbox bank by (`route_venue:sandbox-bank`,
/// `issuer_float:sandbox-bank`, `fees:issuer:sandbox-bank`).
pub const SANDBOX_BANK_VENUE: &str = "sandbox-bank";

/// Onboards Rialto's treasury at the bank (each of `chains`' hot wallet, allow-listed on the
/// token by the bank) and hands the bank to the engine's routes for sandbox mode. A chain
/// whose onboarding the bank does not complete stops start-up: routes must never mint to a
/// wallet the token refuses.
pub async fn wire_sandbox_issuer(
    engine: rialto_engine::Engine,
    client: IssuerHttpConfig,
    chains: &[ChainId],
) -> anyhow::Result<rialto_engine::Engine> {
    use rialto_connectors::issuer::{Issuer, OnboardingRequest, RequestStatus};
    let issuer = Arc::new(metered_issuer(client, SANDBOX_BANK_VENUE)?);
    let mut treasury = std::collections::BTreeMap::new();
    for chain in chains {
        let caip2 = chain.to_string();
        let wallet = rialto_engine::routing::onchain::hot_wallet(&engine, false, &caip2)
            .map_err(|e| anyhow::anyhow!("the treasury on {caip2}: {e}"))?
            .address
            .to_string();
        let done = issuer
            .onboard(&OnboardingRequest {
                // The bank's references are at most 64 of `A-Za-z0-9_-.`: one per chain and wallet.
                reference: format!("tr-{}-{wallet}", caip2.replace(':', ".")),
                institution: "Rialto treasury (sandbox)".into(),
                chain: chain.clone(),
                wallet: wallet.clone(),
            })
            .await
            .map_err(|e| anyhow::anyhow!("onboarding the treasury on {caip2}: {e}"))?;
        if done.status != RequestStatus::Completed {
            anyhow::bail!("the sandbox bank did not onboard the treasury on {caip2}: {done:?}");
        }
        treasury.insert(caip2, wallet);
    }
    let balance = issuer.balance().await?;
    tracing::info!(float = %balance.available, ?treasury, "treasury onboarded at the sandbox \
        issuing bank (a stand-in); routes mint {DEVNET_DEPOSIT_TOKEN} from its USD float");
    let desk = rialto_engine::issuer::IssuerDesk {
        name: SANDBOX_BANK_VENUE.into(),
        issuer,
        asset: DEVNET_DEPOSIT_TOKEN.into(),
        treasury,
    };
    Ok(engine.with_issuer(false, desk))
}

/// [`wire_sandbox_issuer`] for the bank `rialto serve` started, if it did; keep the returned
/// bank alive.
pub async fn wire_started(
    engine: rialto_engine::Engine,
    bank: Option<(SandboxBank, IssuerHttpConfig)>,
) -> anyhow::Result<(rialto_engine::Engine, Option<SandboxBank>)> {
    let Some((bank, client)) = bank else {
        return Ok((engine, None));
    };
    let chains = bank_chains(&engine);
    let engine = wire_sandbox_issuer(engine, client, &chains).await?;
    Ok((engine, Some(bank)))
}

/// The chains the sandbox bank mints on (the served sandbox chains that carry its token).
pub fn bank_chains(engine: &rialto_engine::Engine) -> Vec<ChainId> {
    engine
        .chains
        .iter()
        .filter(|c| !c.livemode)
        .filter(|c| {
            rialto_engine::routing::onchain::token_in(
                &engine.registry,
                &c.caip2,
                DEVNET_DEPOSIT_TOKEN,
            )
            .is_ok()
        })
        .filter_map(|c| c.caip2.parse().ok())
        .collect()
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
