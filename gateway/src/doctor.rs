//! `rialto doctor`: checks a configuration end to end without changing anything (no migration,
//! no key file created, nothing sent that moves money) and says what is wrong in plain words,
//! naming the setting to fix. Each check is a [`Finding`]; any failed one makes the command
//! exit non-zero.
//!
//! Checked: the configuration itself (loading and validation, done before this module runs),
//! `database.url` (reachable, migrations applied), `secrets.master_key_file` (present, owner
//! only), `tls.extra_ca_file` (loads), each `live.chains[i].rpc_urls[j]` (answers the
//! configured chain's id, head fresh), and the compliance lists (`compliance.ofac_dir` loads;
//! its age, from `rialto compliance refresh`'s `fetched_at_ms`, against
//! `compliance.warn_after_secs` and `refuse_after_secs`, which must be set with live money).
//! Each `[[live.venues]]` entry is checked as `rialto venues check` does it (the same code,
//! [`crate::exchange::check`]): its credentials readable, accepted by the venue, with the read
//! permission, through read-only calls only.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use alloy::providers::Provider;
use rialto_core::asset::AssetRegistry;
use serde::Serialize;

use crate::compliance::freshness::{assess, ListFreshness};
use crate::compliance::lists::OfacLists;
use crate::config::Config;
use crate::store::{Backend, SqlStore};

/// A chain head older than this is stale: the node is behind or stuck.
pub const HEAD_STALE_AFTER: Duration = Duration::from_secs(120);
/// How long one network check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// One check's outcome: the setting it is about, whether it passed, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub setting: String,
    pub ok: bool,
    pub message: String,
}

impl Finding {
    pub(crate) fn ok(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            ok: true,
            message: message.into(),
        }
    }

    pub(crate) fn failed(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            ok: false,
            message: message.into(),
        }
    }

    /// `ok   setting: message` or `FAIL setting: message`.
    pub fn line(&self) -> String {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        format!("{mark} {}: {}", self.setting, self.message)
    }
}

/// Every check, in order. Never fails itself: a check that cannot run is a failed finding.
pub async fn run(config: &Config, registry: Arc<AssetRegistry>) -> Vec<Finding> {
    let mut findings = vec![database(config, registry.clone()).await];
    findings.push(master_key(config));
    let tls = match crate::tls::client_config(&config.tls) {
        Ok(tls) => {
            findings.push(Finding::ok("tls.extra_ca_file", "loads"));
            tls
        }
        Err(err) => {
            findings.push(Finding::failed("tls.extra_ca_file", err.to_string()));
            rialto_evm::provider::default_tls()
        }
    };
    for (i, chain) in config.live.chains.iter().enumerate() {
        let expected = registry
            .chain(&chain.chain)
            .and_then(|c| rialto_engine::chain::eip155_id(&c.id.to_string()).ok());
        for (j, url) in chain.rpc_urls.iter().enumerate() {
            let setting = format!("live.chains[{i}].rpc_urls[{j}]");
            rialto_evm::provider::trust_for(url, tls.clone());
            findings.push(rpc_endpoint(setting, url, &chain.chain, expected).await);
        }
    }
    findings
        .extend(crate::exchange::check::check_venues(&registry, &config.live.venues, &tls).await);
    findings.push(lists(config));
    findings
}

async fn database(config: &Config, registry: Arc<AssetRegistry>) -> Finding {
    let setting = "database.url";
    let url = &config.database.url;
    if Backend::from_url(url) == Some(Backend::Sqlite) && !url.contains(":memory:") {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        if !Path::new(path).exists() {
            return Finding::failed(
                setting,
                format!("the SQLite file {path} does not exist; run `rialto migrate`"),
            );
        }
    }
    let connected = tokio::time::timeout(CHECK_TIMEOUT, SqlStore::connect(url, 1, registry)).await;
    let store = match connected {
        Ok(Ok(store)) => store,
        Ok(Err(err)) => return Finding::failed(setting, format!("cannot connect: {err}")),
        Err(_) => return Finding::failed(setting, "cannot connect: timed out"),
    };
    match store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => Finding::ok(setting, "reachable, migrations applied"),
        Ok(pending) => Finding::failed(
            setting,
            format!(
                "reachable, but {} migration(s) not applied (first: {}); run `rialto migrate`",
                pending.len(),
                pending[0]
            ),
        ),
        Err(err) => Finding::failed(setting, format!("cannot read the migrations: {err}")),
    }
}

fn master_key(config: &Config) -> Finding {
    let secrets = &config.secrets;
    if !secrets.master_key.is_empty() {
        return match crate::webhooks::Sealer::from_base64(&secrets.master_key) {
            Ok(_) => Finding::ok("secrets.master_key", "set (not from a file)"),
            Err(err) => Finding::failed("secrets.master_key", err.to_string()),
        };
    }
    let setting = "secrets.master_key_file";
    let path = Path::new(&secrets.master_key_file);
    if !path.exists() {
        return Finding::failed(
            setting,
            format!(
                "{} does not exist: restore it from the backup (a new key cannot open the \
                 secrets already stored)",
                path.display()
            ),
        );
    }
    match crate::server::refuse_shared_key_file(path) {
        Ok(()) => Finding::ok(setting, "present, readable by its owner only"),
        Err(err) => Finding::failed(setting, err.to_string()),
    }
}

async fn rpc_endpoint(setting: String, url: &str, chain: &str, expected: Option<u64>) -> Finding {
    let Some(expected) = expected else {
        return Finding::failed(setting, format!("{chain:?} is not a known EVM chain"));
    };
    let shown = crate::config::redact_url(url);
    let provider = match rialto_evm::provider::provider(url) {
        Ok(provider) => provider,
        Err(err) => return Finding::failed(setting, err.to_string()),
    };
    let read = async {
        let id = provider.get_chain_id().await?;
        let head = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?;
        Ok::<_, alloy::transports::TransportError>((id, head.map(|b| b.header.timestamp)))
    };
    let (id, head_time) = match tokio::time::timeout(CHECK_TIMEOUT, read).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => {
            let err = rialto_evm::EvmError::from(err);
            return Finding::failed(setting, format!("{shown} does not answer: {err}"));
        }
        Err(_) => return Finding::failed(setting, format!("{shown} timed out")),
    };
    if id != expected {
        return Finding::failed(
            setting,
            format!("{shown} is chain {id}, but {chain} is chain {expected}"),
        );
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match head_time {
        Some(t) if now.saturating_sub(t) <= HEAD_STALE_AFTER.as_secs() => {
            Finding::ok(setting, format!("{shown}: chain {id}, head fresh"))
        }
        Some(t) => Finding::failed(
            setting,
            format!(
                "{shown}: the head is {}s old; the node is behind",
                now.saturating_sub(t)
            ),
        ),
        None => Finding::failed(setting, format!("{shown}: no latest block")),
    }
}

fn lists(config: &Config) -> Finding {
    let setting = "compliance.ofac_dir";
    let c = &config.compliance;
    let live = !config.live.chains.is_empty() || !config.live.venues.is_empty();
    if c.refuse_after_secs == 0 && live {
        return Finding::failed(
            "compliance.refuse_after_secs",
            "0 with live chains or venues configured: live payments would go on against lists \
             of any age; set a maximum age (e.g. 604800, 7 days)",
        );
    }
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let (fetched_at_ms, shown) = if c.ofac_dir.is_empty() {
        (None, "the snapshot compiled into this binary".to_owned())
    } else {
        match OfacLists::from_dir(Path::new(&c.ofac_dir)) {
            Ok(lists) => (lists.fetched_at_ms, c.ofac_dir.clone()),
            Err(e) => {
                return Finding::failed(
                    setting,
                    format!("{}: the lists do not load: {e}", c.ofac_dir),
                )
            }
        }
    };
    let age = assess(
        fetched_at_ms,
        now_ms,
        c.warn_after_secs,
        c.refuse_after_secs,
    );
    let how_old = match age.age_secs {
        Some(secs) => format!("{} hours old", secs / 3600),
        None => "of unknown age (not written by `rialto compliance refresh`)".to_owned(),
    };
    let (limit, consequence) = match age.freshness {
        ListFreshness::Fresh => {
            return Finding::ok(setting, format!("{shown}: lists load, {how_old}"));
        }
        ListFreshness::Warn => ("compliance.warn_after_secs", "the gateway warns"),
        ListFreshness::Refuse => (
            "compliance.refuse_after_secs",
            "live payments are refused (503 compliance_lists_stale)",
        ),
    };
    Finding::failed(
        setting,
        format!(
            "{shown}: the lists are {how_old}, older than {limit} allows, so {consequence}; run \
             `rialto compliance refresh`"
        ),
    )
}
