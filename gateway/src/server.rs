//! Start-up and shutdown: logging, metrics, store, migrations, workers, the HTTP server, and a
//! graceful stop on SIGINT/SIGTERM (in-flight requests finish, workers stop).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rialto_core::asset::AssetRegistry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::AppState;
use crate::clock::{Clock, SystemClock};
use crate::compliance::freshness::ListFreshness;
use crate::compliance::Compliance;
use crate::config::{redact_url, Config, LogFormat};
use crate::http_client::{outbound_with, CONNECT_TIMEOUT};
use crate::store::{SqlStore, Store, StoreError};
use crate::webhooks::{run_webhook_worker, DeliveryConfig, Sealer};
use crate::workers::run_maintenance;

pub fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder (metrics macros write to one global recorder).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Connects to the configured database and applies migrations.
pub async fn open_store(
    config: &Config,
    registry: Arc<AssetRegistry>,
) -> Result<SqlStore, StoreError> {
    let store = SqlStore::connect(
        &config.database.url,
        config.database.max_connections,
        registry,
    )
    .await?;
    if !config.database.api_key_cache {
        store.key_cache().set_ttl(std::time::Duration::ZERO);
    }
    store.migrate().await?;
    Ok(store)
}

/// The master key that seals stored secrets: from config, else from the key file, which is
/// created on first start.
pub fn load_sealer(config: &Config) -> anyhow::Result<Sealer> {
    let secrets = &config.secrets;
    if !secrets.master_key.is_empty() {
        return Sealer::from_base64(&secrets.master_key)
            .map_err(|e| anyhow::anyhow!("secrets.master_key: {e}"));
    }
    let path = Path::new(&secrets.master_key_file);
    let live = !config.live.chains.is_empty() || !config.live.venues.is_empty();
    if !path.exists() && live && !secrets.allow_new_key_in_live {
        anyhow::bail!(
            "master key file {} does not exist and live mode is configured: refusing to generate \
             a new key (secrets sealed under the old one would be lost). Restore the file, set \
             secrets.master_key, or set secrets.allow_new_key_in_live = true for this first start",
            path.display()
        );
    }
    if !path.exists() {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        let mut file = file
            .open(path)
            .with_context(|| format!("creating master key file {}", path.display()))?;
        file.write_all(Sealer::generate_key().as_bytes())?;
        tracing::warn!(path = %path.display(), "generated a new master key; back it up: stored webhook secrets cannot be opened without it");
    }
    refuse_shared_key_file(path)?;
    let key = std::fs::read_to_string(path)
        .with_context(|| format!("reading master key file {}", path.display()))?;
    Sealer::from_base64(&key).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Refuses a master key file that users other than its owner can read or write (mode `077`
/// bits): whoever reads it opens every sealed secret.
pub(crate) fn refuse_shared_key_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading master key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "master key file {} is open to group or others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

/// How webhooks are delivered, and the client they go through (checked, pinned resolution).
fn webhook_delivery(
    config: &Config,
    tls: &Arc<rustls::ClientConfig>,
) -> anyhow::Result<(DeliveryConfig, Arc<dyn rialto_engine::outbound::HttpClient>)> {
    let deliveries = DeliveryConfig {
        allow_private_targets: config.webhooks.allow_private_targets,
        ..DeliveryConfig::default()
    };
    let client = crate::webhooks::http_client(&deliveries, tls)
        .context("building the webhook HTTP client")?;
    Ok((deliveries, client))
}

/// Serves until SIGINT/SIGTERM. `listener` is already bound (tests bind port 0).
pub async fn serve(
    config: Config,
    registry: Arc<AssetRegistry>,
    listener: TcpListener,
) -> anyhow::Result<()> {
    // The devnet's deposit tokens are deployed at run time: they join the registry before the
    // store or any chain reads it.
    let registry = crate::deposit_tokens::with_devnet_deposit_tokens(
        registry,
        &config.sandbox.devnet_manifest,
    )?;
    let store: Arc<dyn Store> = Arc::new(open_store(&config, registry.clone()).await?);
    tracing::info!(
        database = %redact_url(&config.database.url),
        listen = %listener.local_addr()?,
        "rialto gateway ready (sandbox mode: _test_ keys)"
    );
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sealer = Arc::new(load_sealer(&config)?);
    // Two outbound clients (reqwest, no redirects; each request carries its own deadline):
    // the external screener's, and the webhooks', which also checks and pins every address it
    // connects to. Either failing to build stops start-up: there is no weaker fallback.
    // One TLS configuration for every outbound connection (RPC, venues, webhooks, screener).
    let tls = crate::tls::client_config(&config.tls)?;
    let http = outbound_with(CONNECT_TIMEOUT, &tls).context("building the outbound HTTP client")?;
    let (deliveries, webhook_http) = webhook_delivery(&config, &tls)?;
    let compliance = Arc::new(
        Compliance::new(&config.compliance, http.clone())
            .context("loading the compliance lists")?,
    );
    tracing::info!(lists = ?compliance.lists().versions(), source = %compliance.lists().source, "compliance lists loaded");
    let shutdown = shutdown_signal();
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(run_list_watch(
        compliance.clone(),
        clock.clone(),
        stop_rx.clone(),
    ));
    // Before any chain is built or read: its endpoints' providers take this configuration.
    crate::tls::trust_rpc_endpoints(config.live.chains.iter().flat_map(|c| &c.rpc_urls), &tls);
    let chains = sandbox_chains(&config, &registry, clock.clone())?;
    let sandbox_exchange = sandbox_exchange(&config).await?;
    // Beside the exchange, minting and onboarding on the devnet's JPMD-DEV contract: the
    // treasury is onboarded below and routes into JPMD-DEV mint from its USD float there.
    let sandbox_bank = crate::sandbox_bank::sandbox_bank(&config).await?;
    let don = don_stand_in(&config).await?;
    // `[[live.venues]]`: the real clients at the configured URLs, through the one TLS
    // configuration; a missing credential stops start-up naming its setting.
    let live_venues = crate::exchange::live::live_venues(&registry, &config.live.venues, &tls)?;
    chains.verify_endpoints().await?;
    let state = AppState::new(
        store.clone(),
        registry,
        Arc::new(config),
        clock.clone(),
        metrics_handle(),
        sealer.clone(),
        compliance,
    )
    .with_chains(chains);
    let mut state = with_venues(state, &sandbox_exchange, live_venues);
    let (engine, _sandbox_bank) =
        crate::sandbox_bank::wire_started(state.engine.clone(), sandbox_bank).await?;
    state.engine = engine;
    let chain_worker = tokio::spawn(crate::chain::worker::run_chain_worker(
        state.engine.clone(),
        stop_rx.clone(),
    ));
    let batch_worker = tokio::spawn(crate::batch_relay::run_batch_relay_worker(
        state.engine.clone(),
        state.batch_relays.clone(),
        stop_rx.clone(),
    ));
    let webhooks = tokio::spawn(run_webhook_worker(
        store.clone(),
        sealer,
        clock.clone(),
        webhook_http,
        deliveries,
        stop_rx.clone(),
    ));
    // Proof of Reserve: a no-op without feeds.
    let reserves = tokio::spawn(rialto_engine::reserves::worker::run_reserves_worker(
        state.engine.clone(),
        Duration::from_millis(state.engine.config.reserves.poll_ms),
        stop_rx.clone(),
    ));
    let worker = tokio::spawn(run_maintenance(
        store,
        clock,
        Duration::from_secs(5),
        stop_rx.clone(),
    ));
    let mut server_stop = stop_rx;
    let server = axum::serve(listener, crate::api::app(state)).with_graceful_shutdown(async move {
        let _ = server_stop.changed().await;
    });
    let server = tokio::spawn(async move { server.await });
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined??,
        Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
    }
    let _ = worker.await;
    let _ = chain_worker.await;
    let _ = batch_worker.await;
    let _ = reserves.await;
    let _ = watcher.await;
    let _ = webhooks.await;
    if let Some(don) = don {
        don.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The devnet DON stand-in carrying CCIP messages between the devnet chains (a devnet
/// stand-in for Chainlink's DON; `docs/ccip.md`), when a devnet manifest is configured and
/// `[sandbox] don_stand_in` is on.
async fn don_stand_in(config: &Config) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    match (&config.sandbox.devnet_manifest, config.sandbox.don_stand_in) {
        (path, true) if !path.is_empty() => {
            let manifest = rialto_evm::manifest::DevnetManifest::read(Path::new(path))
                .context("the devnet manifest, for the DON stand-in")?;
            crate::devnet_bridges::spawn_don_stand_in(&manifest).await
        }
        _ => Ok(None),
    }
}

/// The state with the sandbox exchange's venues (test mode) and the live ones (live mode).
fn with_venues<T>(
    state: AppState,
    sandbox: &Option<(T, crate::exchange::Venues)>,
    live: Option<crate::exchange::Venues>,
) -> AppState {
    let state = match sandbox {
        Some((_, venues)) => state.with_venues(false, venues.clone()),
        None => state,
    };
    match live {
        Some(venues) => state.with_venues(true, venues),
        None => state,
    }
}

/// The sandbox exchange (all three venues' APIs, withdrawals landing on the devnet) when a
/// devnet manifest is configured. Keep the returned handle alive: dropping it stops it.
pub async fn sandbox_exchange(
    config: &Config,
) -> anyhow::Result<
    Option<(
        rialto_connectors::exchange::sandbox::Sandbox,
        crate::exchange::Venues,
    )>,
> {
    if config.sandbox.devnet_manifest.is_empty() {
        return Ok(None);
    }
    let manifest = rialto_evm::DevnetManifest::read(Path::new(&config.sandbox.devnet_manifest))
        .with_context(|| format!("sandbox.devnet_manifest {}", config.sandbox.devnet_manifest))?;
    if manifest.chains.is_empty() {
        // A devnet of the Solana simnet alone: the sandbox exchange withdraws on the EVM
        // chains, so there is none.
        tracing::info!("no EVM chain in the devnet manifest: no sandbox exchange");
        return Ok(None);
    }
    let rails =
        crate::exchange::rail_sink::devnet_solana(Path::new(&config.sandbox.devnet_manifest))?
            .into_iter()
            .collect();
    let (sandbox, venues) = crate::exchange::sandbox_for_manifest(&manifest, rails).await?;
    tracing::info!(url = %sandbox.base_url(), "sandbox exchange (binance, kraken, coinbase APIs) ready");
    Ok(Some((sandbox, venues)))
}

/// The chains of the configuration: the devnet manifest's (sandbox) and `live.chains`.
pub fn sandbox_chains(
    config: &Config,
    registry: &AssetRegistry,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<crate::chains::ChainSet> {
    crate::chains::from_config(&config.engine(), registry, clock)
}

/// Re-reads the compliance list folder when its files change (a no-op for the embedded
/// snapshot) and checks the lists' age. A broken refresh is logged and the old lists keep
/// screening; lists past `warn_after_secs` or `refuse_after_secs` are logged (as a warning
/// when their state changes, then hourly) and shown by `rialto_compliance_lists_stale`.
pub async fn run_list_watch(
    compliance: Arc<Compliance>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = compliance.watch_secs();
    // With watching off, the age is still checked, once a minute.
    let mut ticker =
        tokio::time::interval(Duration::from_secs(if every == 0 { 60 } else { every }));
    let mut last = None;
    let mut last_logged_ms = 0;
    loop {
        if every > 0 {
            reload_if_changed(&compliance).await;
        }
        let now = clock.now_ms();
        let age = compliance.freshness(now);
        let changed = last != Some(age.freshness);
        if age.freshness != ListFreshness::Fresh && (changed || now - last_logged_ms >= 3_600_000) {
            last_logged_ms = now;
            let refusing = age.freshness == ListFreshness::Refuse;
            tracing::warn!(age_secs = ?age.age_secs, refusing_live_payments = refusing,
                "compliance lists are stale: run `rialto compliance refresh`");
        } else if changed && last.is_some() {
            tracing::info!(age_secs = ?age.age_secs, "compliance lists are fresh again");
        }
        last = Some(age.freshness);
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn reload_if_changed(compliance: &Arc<Compliance>) {
    let service = compliance.clone();
    match tokio::task::spawn_blocking(move || service.reload(true)).await {
        Ok(Ok(report)) if report.changed => {
            tracing::info!(lists = ?report.list_versions, "compliance lists reloaded")
        }
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            tracing::error!(error = %err, "compliance list reload failed; the previous lists stay in force")
        }
        Err(err) => tracing::error!(error = %err, "compliance list reload panicked"),
    }
}

/// Registers the SIGINT/SIGTERM handlers now (before the listener answers: a signal that
/// arrives between the first answered request and a lazy registration would kill the process
/// without a graceful stop) and returns the future that resolves on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {},
                _ = wait(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_master_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rialto.key");
        let mut config = Config::default();
        config.secrets.master_key_file = path.display().to_string();
        // Created by the gateway: owner-only, accepted, and opened again the same way.
        load_sealer(&config).expect("a new key file is created 0600");
        load_sealer(&config).expect("and read back");
        for mode in [0o644, 0o640, 0o606] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_sealer(&config).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{mode:o}: {err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_sealer(&config).is_ok());
    }

    #[test]
    fn live_mode_never_generates_a_master_key_unless_told_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rialto.key");
        let mut config = Config::default();
        config.secrets.master_key_file = path.display().to_string();
        config.live.venues = vec![rialto_engine::config::VenueConfig {
            kind: rialto_engine::config::VenueKind::Kraken,
            base_url: "https://api.kraken.com".into(),
            networks: [("base".to_owned(), "USDC - Base".to_owned())].into(),
            market_api_key: Default::default(),
            market_api_secret: Default::default(),
            withdrawals: vec![],
        }];
        let err = load_sealer(&config).unwrap_err().to_string();
        assert!(err.contains("allow_new_key_in_live"), "{err}");
        assert!(!path.exists(), "nothing was written");
        config.secrets.allow_new_key_in_live = true;
        load_sealer(&config).expect("told to: the first start creates it");
        config.secrets.allow_new_key_in_live = false;
        load_sealer(&config).expect("an existing key file is read as before");
    }
}
