//! What `rialto reports export` and `rialto reconcile run` do, reading the store directly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rialto_core::asset::AssetRegistry;
use serde_json::json;

use crate::chain::Chains;
use crate::config::{Config, Overrides};
use crate::reconcile::collect::{run_and_store, RunRequest};
use crate::reconcile::reports::{build, to_csv, to_list, ReportKind};
use crate::reconcile::time::parse_bound;
use crate::server::open_store;
use crate::store::reconcile::ReportScope;
use crate::store::Store;

/// Everything an export reads: no limit beyond the database's.
const EXPORT_ROWS: u32 = 50_000_000;

#[derive(Debug, Clone)]
pub struct Export {
    pub report: String,
    pub format: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub merchant: Option<String>,
    pub livemode: bool,
    pub output: Option<PathBuf>,
}

fn bound(text: Option<&str>, flag: &str, end: bool) -> anyhow::Result<Option<i64>> {
    text.map(|t| {
        parse_bound(t, end).with_context(|| {
            format!("{flag} must be YYYY-MM-DD, an RFC 3339 time or Unix seconds, not {t:?}")
        })
    })
    .transpose()
}

/// Writes the report to `output` (or returns it, for stdout); answers the rows written.
pub async fn export(store: &dyn Store, args: &Export) -> anyhow::Result<(String, usize)> {
    let kind = ReportKind::parse(&args.report).with_context(|| {
        format!(
            "--report must be payments, fees, settlements, refunds or exceptions, not {:?}",
            args.report
        )
    })?;
    let merchant = args
        .merchant
        .as_deref()
        .map(|m| {
            m.parse()
                .map_err(|_| anyhow::anyhow!("--merchant must be a merchant id (mer_…)"))
        })
        .transpose()?;
    let scope = ReportScope {
        merchant: merchant.map(|m| (m, args.livemode)),
        from_ms: bound(args.from.as_deref(), "--from", false)?,
        to_ms: bound(args.to.as_deref(), "--to", true)?,
        limit: EXPORT_ROWS,
    };
    let report = build(store, kind, &scope).await?;
    let text = match args.format.as_str() {
        "csv" => to_csv(&report),
        "json" => {
            let mut t = serde_json::to_string_pretty(&to_list(
                &report,
                &format!("/v1/reports/{}", kind.as_str()),
            ))?;
            t.push('\n');
            t
        }
        other => anyhow::bail!("--format must be csv or json, not {other:?}"),
    };
    let rows = report.rows.len();
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.write_all(text.as_bytes())?;
            Ok((String::new(), rows))
        }
        None => Ok((text, rows)),
    }
}

/// Runs a reconciliation over the configured chains and prints a summary.
pub async fn reconcile(
    store: &dyn Store,
    chains: &Chains,
    registry: &AssetRegistry,
    request: &RunRequest,
    now_ms: i64,
) -> anyhow::Result<serde_json::Value> {
    let (run, exceptions) = run_and_store(store, chains, registry, request, now_ms).await?;
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    for x in &exceptions {
        *by_kind.entry(x.kind.clone()).or_default() += 1;
    }
    Ok(json!({
        "id": run.id,
        "status": run.status,
        "block_ranges": serde_json::from_str::<serde_json::Value>(&run.block_ranges)?,
        "expected": run.expected_count,
        "observed": run.observed_count,
        "matched": run.matched_count,
        "ledger_transactions": run.ledger_count,
        "exceptions": by_kind,
    }))
}

/// `rialto reports …`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportsCommand {
    /// Write one report for a period as CSV (fixed header) or JSON.
    Export {
        /// Period start: YYYY-MM-DD, RFC 3339 or Unix seconds (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Period end (inclusive; a bare date means the whole day).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "csv")]
        format: String,
        /// payments | fees | settlements | refunds | exceptions
        #[arg(long, default_value = "payments")]
        report: String,
        /// Only this merchant (mer_…); every merchant when absent.
        #[arg(long)]
        merchant: Option<String>,
        /// With --merchant: its live mode instead of test mode.
        #[arg(long)]
        live: bool,
        #[arg(long)]
        database_url: Option<String>,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// `rialto reconcile …`.
#[derive(Debug, clap::Subcommand)]
pub enum ReconcileCommand {
    /// Run a reconciliation over the configured chains, store it and print a summary.
    Run {
        #[arg(long)]
        database_url: Option<String>,
        /// The devnet manifest, for the sandbox chains.
        #[arg(long)]
        devnet_manifest: Option<String>,
        /// Only these chains (CAIP-2 or alias); repeatable.
        #[arg(long)]
        chain: Vec<String>,
        #[arg(long)]
        from_block: Option<u64>,
        #[arg(long)]
        to_block: Option<u64>,
    },
}

fn load_config(path: &Path, overrides: Overrides) -> anyhow::Result<Config> {
    Config::load(path, &overrides).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs `rialto reports …`: the report to stdout (or `--output`), the row count to stderr.
pub async fn reports(
    config_path: &Path,
    registry: Arc<AssetRegistry>,
    command: ReportsCommand,
) -> anyhow::Result<()> {
    let ReportsCommand::Export {
        from,
        to,
        format,
        report,
        merchant,
        live,
        database_url,
        output,
    } = command;
    let overrides = Overrides {
        database_url,
        ..Overrides::default()
    };
    let config = load_config(config_path, overrides)?;
    let store = open_store(&config, registry).await?;
    let args = Export {
        report,
        format,
        from,
        to,
        merchant,
        livemode: live,
        output,
    };
    let (text, rows) = export(&store, &args).await?;
    print!("{text}");
    eprintln!("{rows} rows");
    Ok(())
}

/// Runs `rialto reconcile run` and prints the summary as JSON.
pub async fn reconcile_run(
    config_path: &Path,
    registry: Arc<AssetRegistry>,
    command: ReconcileCommand,
) -> anyhow::Result<()> {
    let ReconcileCommand::Run {
        database_url,
        devnet_manifest,
        chain,
        from_block,
        to_block,
    } = command;
    let overrides = Overrides {
        database_url,
        devnet_manifest,
        ..Overrides::default()
    };
    let config = load_config(config_path, overrides)?;
    let store = open_store(&config, registry.clone()).await?;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let chains = crate::chains::from_config(&config.engine(), &registry, clock)?.engine;
    let request = RunRequest {
        chains: chain,
        from_block,
        to_block,
        created_by: "cli".into(),
        ..Default::default()
    };
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    let summary = reconcile(&store, &chains, &registry, &request, now).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
