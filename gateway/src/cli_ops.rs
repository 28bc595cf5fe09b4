//! What the operator commands of `rialto` do (`operators create`, `compliance screen | reload |
//! verify-log`), kept out of `main` so they are tested like the rest of the library.

use anyhow::Context;
use rialto_compliance::AuditRecord;
use rialto_compliance::{verify_chain, AddressRole, ComplianceCaseId, PartyRole, ScreenedAddress};
use rialto_core::asset::AssetRegistry;
use serde_json::{json, Value};

use crate::compliance::screening::{operator_screening, screening_key};
use crate::compliance::Compliance;
use crate::config::Config;
use crate::http_client::{outbound, CONNECT_TIMEOUT};
use crate::keys::generate_operator_key;
use crate::store::Store;

/// Creates an operator key; the key appears in the answer once and is stored hashed.
pub async fn create_operator(store: &dyn Store, name: &str, now_ms: i64) -> anyhow::Result<Value> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        anyhow::bail!("operator name must be 1 to 100 characters");
    }
    let (key, record) = generate_operator_key(name, now_ms);
    store.create_operator_key(&record).await?;
    Ok(json!({ "id": record.id, "name": record.name, "operator_key": key }))
}

/// Screens one address or one name against the configured lists, without a database: the
/// same decision the gateway would make from the OFAC data alone (custom lists live in the
/// database and are not consulted here).
pub fn screen(
    config: &Config,
    registry: &AssetRegistry,
    address: Option<String>,
    chain: Option<String>,
    name: Option<String>,
) -> anyhow::Result<Value> {
    // Screens offline: the external screener is never asked here, whatever the configuration.
    let http = outbound(CONNECT_TIMEOUT).context("building the outbound HTTP client")?;
    let compliance =
        Compliance::new(&config.compliance, http).context("loading the compliance lists")?;
    let lists = compliance.lists();
    let rules = compliance.address_only_rules();
    let screener = compliance.screener(&lists, &[], rules, None);
    let now = u64::try_from(crate::clock::Clock::now_ms(&crate::clock::SystemClock)).unwrap_or(0);
    let id = ComplianceCaseId::generate();
    let (decision, primary) = match (address, name) {
        (Some(address), None) => {
            let key = screening_key(registry, &address, chain.as_deref())
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let target = ScreenedAddress {
                role: AddressRole::Settlement,
                address: key,
            };
            (screener.screen_addresses(id, &[target], now), 0)
        }
        (None, Some(name)) => (screener.screen_name(id, PartyRole::Payer, &name, now), 1),
        _ => anyhow::bail!("give exactly one of --address or --name"),
    };
    Ok(serde_json::to_value(operator_screening(
        &decision, primary,
    ))?)
}

/// Asks a running gateway to reload its lists.
pub async fn reload(url: &str, operator_key: &str) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/compliance/reload",
            url.trim_end_matches('/')
        ))
        .bearer_auth(operator_key)
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the gateway's answer is not JSON")?;
    if !status.is_success() {
        anyhow::bail!("reload refused ({status}): {body}");
    }
    Ok(body)
}

const PAGE: u32 = 1000;

/// Reads the whole audit log in order and checks its hash chain.
pub async fn verify_log(store: &dyn Store) -> anyhow::Result<Value> {
    let mut records: Vec<AuditRecord> = Vec::new();
    loop {
        let from = records.len() as u64;
        let page = store.audit_records(from, PAGE).await?;
        let done = page.len() < PAGE as usize;
        // A gap in `seq` would make the next page start past a missing record; take pages
        // by position and let the chain check catch gaps.
        records.extend(page);
        if done {
            break;
        }
        if records.last().map(|r| r.seq + 1) != Some(records.len() as u64) {
            break;
        }
    }
    Ok(match verify_chain(&records) {
        Ok(()) => json!({
            "ok": true,
            "records": records.len(),
            "head": records.last().map(|r| r.hash.clone()),
        }),
        Err(broken) => {
            let record = records.get(broken.index);
            json!({
                "ok": false,
                "records": records.len(),
                "first_broken": {
                    "index": broken.index,
                    "seq": record.map(|r| r.seq),
                    "id": broken.id,
                    "kind": record.map(|r| r.entry.kind.clone()),
                },
            })
        }
    })
}
