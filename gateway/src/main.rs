//! `rialto`: run the gateway, apply migrations, manage merchants.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rialto_gateway::clock::{Clock, SystemClock};
use rialto_gateway::config::{Config, Overrides};
use rialto_gateway::merchants::{create_merchant, CreatedMerchant, NewMerchant};
use rialto_gateway::{cli_ops, registry, server};

#[derive(Debug, Parser)]
#[command(name = "rialto", version, about = "Rialto stablecoin payment gateway")]
struct Cli {
    /// Configuration file (optional; RIALTO__SECTION__KEY variables override it).
    #[arg(long, global = true, default_value = "rialto.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP gateway and its workers (applies migrations first).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// sqlite://rialto.db (default) or postgres://…
        #[arg(long)]
        database_url: Option<String>,
        /// The manifest `rialto devnet` wrote: sandbox chains to verify payments on.
        #[arg(long)]
        devnet_manifest: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Manage merchants.
    Merchants {
        #[command(subcommand)]
        command: MerchantsCommand,
    },
    /// Run the local sandbox devnet (two anvil chains with the sandbox contracts, and the Solana
    /// simnet with stand-in USDC and PYUSD mints) in the foreground; writes the manifest `serve --devnet-manifest` reads, removes it on exit.
    Devnet {
        #[arg(long, default_value = "devnet.json")]
        manifest: PathBuf,
        /// The anvil binary (default: the one tools/devnet/install.sh installs, or ANVIL_BIN).
        #[arg(long, env = "ANVIL_BIN")]
        anvil: Option<PathBuf>,
        /// The Solana simnet binary (default: `rialto-solana-simnet` beside this binary, from
        /// `cargo build -p rialto-solana-simnet`, or SOLANA_SIMNET_BIN).
        #[arg(long, env = "SOLANA_SIMNET_BIN")]
        solana_simnet: Option<PathBuf>,
    },
    /// Manage operator keys (the compliance operator surface).
    Operators {
        #[command(subcommand)]
        command: OperatorsCommand,
    },
    /// Manage merchants' API keys (create, list, roll, revoke).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Screen addresses and names, reload the lists, verify the audit log.
    Compliance {
        #[command(subcommand)]
        command: ComplianceCommand,
    },
    /// Export reports (docs/reports.md) straight from the database.
    Reports {
        #[command(subcommand)]
        command: rialto_gateway::reconcile_cli::ReportsCommand,
    },
    /// Reconcile the gateway's records against the chains.
    Reconcile {
        #[command(subcommand)]
        command: rialto_gateway::reconcile_cli::ReconcileCommand,
    },
    /// Parse or build payment links: Solana Pay (`solana:`) and EIP-681 (`ethereum:`).
    Uri {
        #[command(subcommand)]
        command: rialto_gateway::uri_cli::UriCommand,
    },
    /// Live exchange venues (`[[live.venues]]`).
    Venues {
        #[command(subcommand)]
        command: VenuesCommand,
    },
    /// Check the configuration end to end (database, master key, TLS, each RPC endpoint, each
    /// live venue, the compliance lists) without changing anything; exits non-zero when a
    /// check fails.
    Doctor {
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum VenuesCommand {
    /// For each `[[live.venues]]` entry: read its market-data credentials, then ask the venue
    /// what the key may do through its read-only calls (nothing is ordered or withdrawn).
    /// Prints one line per venue; exits non-zero when one fails.
    Check,
}

#[derive(Debug, Subcommand)]
enum OperatorsCommand {
    /// Create an operator key and print it (shown this once only).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List operator keys (prefixes only), as JSON.
    List {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Roll an operator key: prints the new key once; the old one works for the grace period.
    Roll {
        id: String,
        /// Seconds the old key keeps working (0 to 604800).
        #[arg(long, default_value_t = 0)]
        expires_in_seconds: u64,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Revoke an operator key at once.
    Revoke {
        id: String,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a merchant key of a custody of its own (a second key for approvals); printed
    /// once, as JSON.
    Create {
        #[arg(long)]
        merchant: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        live: bool,
        #[arg(long)]
        publishable: bool,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// List a merchant's keys (prefixes only), as JSON.
    List {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Roll a key: prints the new key once; the old one works for the grace period.
    Roll {
        id: String,
        /// Seconds the old key keeps working (0 to 604800).
        #[arg(long, default_value_t = 0)]
        expires_in_seconds: u64,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Revoke a key at once.
    Revoke {
        id: String,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ComplianceCommand {
    /// Screen one address or one name against the lists and print the decision as JSON.
    Screen {
        #[arg(long, conflicts_with = "name", required_unless_present = "name")]
        address: Option<String>,
        /// Validate the address for this chain (alias or CAIP-2).
        #[arg(long, requires = "address")]
        chain: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Download the sanctions lists from `[compliance.refresh]` (HTTPS), verify them and
    /// replace `compliance.ofac_dir` with them; running gateways pick them up on their next
    /// watch tick (`compliance.watch_secs`) or on `rialto compliance reload`.
    Refresh,
    /// Ask a running gateway to re-read its list folder now.
    Reload {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Operator key (or set RIALTO_OPERATOR_KEY).
        #[arg(long, env = "RIALTO_OPERATOR_KEY", hide_env_values = true)]
        operator_key: String,
    },
    /// Check the audit log's hash chain; names the first broken record and exits 1 if any.
    VerifyLog {
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MerchantsCommand {
    /// Create a merchant and print its API keys (shown this once only).
    Create {
        #[arg(long)]
        name: String,
        /// Default settlement asset (usdc, eurc, … or a CAIP-19 id).
        #[arg(long, requires_all = ["settlement_chain", "settlement_address"])]
        settlement_asset: Option<String>,
        /// Default settlement chain (base, ethereum, solana, … or CAIP-2).
        #[arg(long, requires_all = ["settlement_asset", "settlement_address"])]
        settlement_chain: Option<String>,
        /// Default settlement address on that chain.
        #[arg(long, requires_all = ["settlement_asset", "settlement_chain"])]
        settlement_address: Option<String>,
        /// Also issue sk_live_/pk_live_ keys.
        #[arg(long)]
        live: bool,
        /// ISO 3166-1 alpha-2 jurisdiction (US, DE, …); sets the travel-rule threshold.
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        database_url: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `rialto doctor`: one line per check; exits 1 when any failed.
async fn doctor(
    path: &std::path::Path,
    registry: Arc<rialto_core::asset::AssetRegistry>,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let config = load_config(path, db_override(database_url))?;
    let findings = rialto_gateway::doctor::run(&config, registry).await;
    for finding in &findings {
        println!("{}", finding.line());
    }
    if findings.iter().all(|f| f.ok) {
        Ok(())
    } else {
        eprintln!("rialto doctor: some checks failed (FAIL lines above)");
        std::process::exit(1)
    }
}

/// `rialto venues check`.
async fn venues_check(
    path: &std::path::Path,
    registry: &rialto_core::asset::AssetRegistry,
) -> anyhow::Result<()> {
    let config = load_config(path, Overrides::default())?;
    if config.live.venues.is_empty() {
        println!("no [[live.venues]] configured: nothing to check");
        return Ok(());
    }
    let tls = rialto_gateway::tls::client_config(&config.tls)?;
    let findings =
        rialto_gateway::exchange::check::check_venues(registry, &config.live.venues, &tls).await;
    for finding in &findings {
        println!("{}", finding.line());
    }
    if findings.iter().all(|f| f.ok) {
        Ok(())
    } else {
        eprintln!("rialto venues check: some venues failed (FAIL lines above)");
        std::process::exit(1)
    }
}

fn load_config(path: &std::path::Path, overrides: Overrides) -> anyhow::Result<Config> {
    Config::load(path, &overrides).map_err(|e| anyhow::anyhow!("{e}"))
}

/// mimalloc instead of glibc's malloc: its per-thread free lists suit the gateway's many small,
/// short-lived allocations across threads (docs/BENCHMARKS.md, session 13).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // alloy's HTTP client needs a process-wide rustls provider (ring); see rialto_evm::provider.
    rialto_evm::provider::install_crypto_provider();
    let registry = Arc::new(registry::builtin().context("loading the built-in asset registry")?);
    match cli.command {
        Command::Serve {
            listen,
            database_url,
            devnet_manifest,
        } => {
            let config = load_config(
                &cli.config,
                Overrides {
                    listen,
                    database_url,
                    devnet_manifest,
                },
            )?;
            server::init_tracing(&config);
            let listener = tokio::net::TcpListener::bind(&config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.listen))?;
            server::serve(config, registry, listener).await
        }
        Command::Migrate { database_url } => {
            let config = load_config(&cli.config, db_override(database_url))?;
            server::open_store(&config, registry)
                .await
                .context("applying migrations")?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Merchants {
            command:
                MerchantsCommand::Create {
                    name,
                    settlement_asset,
                    settlement_chain,
                    settlement_address,
                    live,
                    country,
                    database_url,
                    json,
                },
        } => {
            let config = load_config(&cli.config, db_override(database_url))?;
            let store = server::open_store(&config, registry.clone()).await?;
            let settlement = match (settlement_asset, settlement_chain, settlement_address) {
                (Some(a), Some(c), Some(addr)) => Some((a, c, addr)),
                _ => None,
            };
            let new = NewMerchant {
                name,
                settlement,
                live_keys: live,
                country,
            };
            let created = create_merchant(&store, &registry, &new, SystemClock.now_ms()).await?;
            print_merchant(&created, json)
        }
        Command::Devnet {
            manifest,
            anvil,
            solana_simnet,
        } => {
            let config = load_config(&cli.config, Overrides::default())?;
            server::init_tracing(&config);
            let root = rialto_evm::DevnetConfig::default_repo_root();
            let anvil_bin = rialto_evm::locate_anvil(&root, anvil)?;
            let devnet = rialto_evm::DevnetConfig {
                anvil_bin,
                ..rialto_evm::DevnetConfig::for_repo(&root)
            };
            rialto_gateway::devnet_cli::run(&manifest, devnet, solana_simnet).await
        }
        Command::Operators { command } => operators(&cli.config, registry, command).await,
        Command::Keys { command } => keys(&cli.config, registry, command).await,
        Command::Compliance { command } => compliance(&cli.config, &registry, command).await,
        Command::Doctor { database_url } => doctor(&cli.config, registry, database_url).await,
        Command::Venues {
            command: VenuesCommand::Check,
        } => venues_check(&cli.config, &registry).await,
        Command::Reports { command } => {
            rialto_gateway::reconcile_cli::reports(&cli.config, registry, command).await
        }
        Command::Reconcile { command } => {
            rialto_gateway::reconcile_cli::reconcile_run(&cli.config, registry, command).await
        }
        Command::Uri { command } => rialto_gateway::uri_cli::main(command),
    }
}

/// `rialto compliance …`.
async fn compliance(
    path: &std::path::Path,
    registry: &Arc<rialto_core::asset::AssetRegistry>,
    command: ComplianceCommand,
) -> anyhow::Result<()> {
    match command {
        ComplianceCommand::Screen {
            address,
            chain,
            name,
        } => {
            let config = load_config(path, Overrides::default())?;
            let out = cli_ops::screen(&config, registry, address, chain, name)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        ComplianceCommand::Refresh => {
            let config = load_config(path, Overrides::default())?;
            let tls = rialto_gateway::tls::client_config(&config.tls)?;
            let report = rialto_gateway::lists_refresh::refresh(
                &config.compliance,
                &tls,
                SystemClock.now_ms(),
            )
            .await
            .context("refreshing the compliance lists (the lists in force are unchanged)")?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        ComplianceCommand::Reload { url, operator_key } => {
            let out = cli_ops::reload(&url, &operator_key).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        ComplianceCommand::VerifyLog { database_url } => {
            let config = load_config(path, db_override(database_url))?;
            let store = server::open_store(&config, registry.clone()).await?;
            let report = cli_ops::verify_log(&store).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report["ok"] == serde_json::Value::Bool(true) {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
    }
}

async fn operators(
    path: &std::path::Path,
    registry: Arc<rialto_core::asset::AssetRegistry>,
    command: OperatorsCommand,
) -> anyhow::Result<()> {
    let now = SystemClock.now_ms();
    let (database_url, action) = match command {
        OperatorsCommand::Create {
            name,
            database_url,
            json,
        } => {
            let config = load_config(path, db_override(database_url))?;
            let store = server::open_store(&config, registry).await?;
            let created = cli_ops::create_operator(&store, &name, now).await?;
            return print_operator(&created, json);
        }
        OperatorsCommand::List { database_url } => (database_url, cli_ops::OperatorAction::List),
        OperatorsCommand::Roll {
            id,
            expires_in_seconds,
            database_url,
        } => (
            database_url,
            cli_ops::OperatorAction::Roll {
                id,
                grace_secs: expires_in_seconds,
            },
        ),
        OperatorsCommand::Revoke { id, database_url } => {
            (database_url, cli_ops::OperatorAction::Revoke { id })
        }
    };
    let config = load_config(path, db_override(database_url))?;
    let store = server::open_store(&config, registry).await?;
    let out = cli_ops::manage_operator(&store, action, now).await?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn keys(
    path: &std::path::Path,
    registry: Arc<rialto_core::asset::AssetRegistry>,
    command: KeysCommand,
) -> anyhow::Result<()> {
    let database_url = match &command {
        KeysCommand::Create { database_url, .. }
        | KeysCommand::List { database_url, .. }
        | KeysCommand::Roll { database_url, .. }
        | KeysCommand::Revoke { database_url, .. } => database_url.clone(),
    };
    let config = load_config(path, db_override(database_url))?;
    let store = server::open_store(&config, registry).await?;
    let now = SystemClock.now_ms();
    let out = match command {
        KeysCommand::Create {
            merchant,
            name,
            live,
            publishable,
            ..
        } => cli_ops::create_key(&store, &merchant, (&name, live, publishable), now).await?,
        KeysCommand::List { merchant, .. } => cli_ops::list_keys(&store, &merchant).await?,
        KeysCommand::Roll {
            id,
            expires_in_seconds,
            ..
        } => cli_ops::roll_or_revoke_key(&store, &id, Some(expires_in_seconds), now).await?,
        KeysCommand::Revoke { id, .. } => {
            cli_ops::roll_or_revoke_key(&store, &id, None, now).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn db_override(database_url: Option<String>) -> Overrides {
    Overrides {
        database_url,
        ..Overrides::default()
    }
}

/// A new merchant's keys, shown once.
fn print_merchant(created: &CreatedMerchant, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&created)?);
    } else {
        println!("merchant:        {}", created.id);
        println!("secret key:      {}", created.secret_key);
        println!("publishable key: {}", created.publishable_key);
        if let (Some(sk), Some(pk)) = (&created.live_secret_key, &created.live_publishable_key) {
            println!("live secret key: {sk}");
            println!("live publishable key: {pk}");
        }
        println!("These keys are shown once. Store them now.");
    }
    Ok(())
}

/// A new operator's key, shown once.
fn print_operator(created: &serde_json::Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&created)?);
    } else {
        println!(
            "operator:     {}",
            created["name"].as_str().unwrap_or_default()
        );
        println!(
            "operator key: {}",
            created["operator_key"].as_str().unwrap_or_default()
        );
        println!("This key is shown once. Store it now.");
    }
    Ok(())
}
