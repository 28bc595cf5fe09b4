//! What `rialto reports export` and `rialto reconcile run` do, reading the store directly.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use rialto_core::asset::AssetRegistry;
use serde_json::json;

use super::collect::{run_and_store, RunRequest};
use super::reports::{build, to_csv, to_list, ReportKind};
use super::time::parse_bound;
use crate::chain::Chains;
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
