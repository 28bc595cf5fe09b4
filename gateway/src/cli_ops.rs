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
use crate::store::{ApiKeyRecord, KeyKind, Store};
use rialto_engine::access_keys::{self, KeyActor};

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

/// `rialto keys create`: a key of a custody of its own (a second key for maker-checker).
pub async fn create_key(
    store: &dyn Store,
    merchant: &str,
    (name, livemode, publishable): (&str, bool, bool),
    now_ms: i64,
) -> anyhow::Result<Value> {
    let merchant: rialto_core::id::MerchantId = merchant
        .parse()
        .map_err(|_| anyhow::anyhow!("--merchant must be a merchant id (mer_…)"))?;
    store
        .get_merchant(&merchant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no merchant {merchant}"))?;
    let kind = if publishable {
        KeyKind::Publishable
    } else {
        KeyKind::Secret
    };
    let (secret, key) = access_keys::create(
        store,
        KeyActor::Admin,
        (merchant, livemode),
        (name, kind),
        None,
        |_| String::new(),
        now_ms,
    )
    .await
    .map_err(write_error)?;
    Ok(key_json(&key, Some(secret)))
}

fn write_error(err: rialto_engine::idempotency::WriteError) -> anyhow::Error {
    match err {
        rialto_engine::idempotency::WriteError::Engine(e) => anyhow::anyhow!("{}", e.message),
        rialto_engine::idempotency::WriteError::KeyTaken => anyhow::anyhow!("conflict; retry"),
    }
}

fn key_json(key: &ApiKeyRecord, secret: Option<String>) -> Value {
    json!({
        "id": key.id.to_string(), "name": key.name, "type": key.kind.as_str(),
        "livemode": key.livemode, "prefix": key.key_hint, "custody": key.custody.to_string(),
        "created": key.created_at_ms / 1000, "expires_at": key.expires_at_ms.map(|t| t / 1000),
        "revoked_at": key.revoked_at_ms.map(|t| t / 1000), "secret": secret,
    })
}

/// `rialto keys list`: a merchant's keys in both modes, prefixes only.
pub async fn list_keys(store: &dyn Store, merchant: &str) -> anyhow::Result<Value> {
    let merchant: rialto_core::id::MerchantId = merchant
        .parse()
        .map_err(|_| anyhow::anyhow!("--merchant must be a merchant id (mer_…)"))?;
    let mut keys = Vec::new();
    for livemode in [false, true] {
        for key in store.list_api_keys(&merchant, livemode).await? {
            keys.push(key_json(&key, None));
        }
    }
    Ok(Value::Array(keys))
}

/// `rialto keys roll|revoke` (administrator: any key). `grace` None revokes.
pub async fn roll_or_revoke_key(
    store: &dyn Store,
    id: &str,
    grace: Option<u64>,
    now_ms: i64,
) -> anyhow::Result<Value> {
    let id: rialto_core::id::ApiKeyId = id
        .parse()
        .map_err(|_| anyhow::anyhow!("the key id must look like key_…"))?;
    let render = |_: &ApiKeyRecord| String::new();
    Ok(match grace {
        Some(secs) => {
            let (secret, key) =
                access_keys::roll(store, KeyActor::Admin, &id, secs, None, render, now_ms)
                    .await
                    .map_err(write_error)?;
            key_json(&key, Some(secret))
        }
        None => {
            let key = access_keys::revoke(store, KeyActor::Admin, &id, None, render, now_ms)
                .await
                .map_err(write_error)?;
            key_json(&key, None)
        }
    })
}

/// `rialto operators list|roll|revoke`.
pub async fn manage_operator(
    store: &dyn Store,
    action: OperatorAction,
    now_ms: i64,
) -> anyhow::Result<Value> {
    let show = |k: &crate::store::OperatorKey| {
        json!({"id": k.id, "name": k.name, "prefix": k.key_hint,
               "created": k.created_at_ms / 1000, "expires_at": k.expires_at_ms.map(|t| t / 1000),
               "revoked_at": k.revoked_at_ms.map(|t| t / 1000)})
    };
    let failed = |e: rialto_engine::error::EngineError| anyhow::anyhow!("{}", e.message);
    Ok(match action {
        OperatorAction::List => {
            Value::Array(store.list_operator_keys().await?.iter().map(show).collect())
        }
        OperatorAction::Roll { id, grace_secs } => {
            let (key, record) = access_keys::roll_operator(store, &id, grace_secs, now_ms)
                .await
                .map_err(failed)?;
            let mut shown = show(&record);
            shown["operator_key"] = json!(key);
            shown
        }
        OperatorAction::Revoke { id } => {
            access_keys::revoke_operator(store, &id, now_ms)
                .await
                .map_err(failed)?;
            json!({"id": id, "revoked": true})
        }
    })
}

/// What `rialto operators` does besides `create`.
#[derive(Debug, Clone)]
pub enum OperatorAction {
    List,
    Roll { id: String, grace_secs: u64 },
    Revoke { id: String },
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
