//! The gateway's compliance service: the current lists (swapped whole on reload), the name
//! thresholds, the rules policy a merchant is screened with, and the external screener.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use rialto_compliance::{
    CountryCode, CustomList, ExternalScreener, Limit, NameThresholds, Outcome, RulesPolicy, Score,
    Screener, TravelRulePolicy, VelocityLimit,
};
use rialto_core::money::{Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::external_http::HttpScreener;
use super::freshness::{self, ListAge, ListFreshness};
use super::lists::{dir_fingerprint, ListsError, OfacLists};
use crate::config::{ComplianceConfig, LimitConfig};
use crate::error::EngineError;
use crate::outbound::HttpClient;
use crate::store::ListEntry;

/// A merchant's overrides of the configured defaults (stored as JSON, set by operators).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MerchantPolicy {
    pub limits: BTreeMap<String, LimitConfig>,
    pub velocity_max_count: Option<u32>,
    pub velocity_window_secs: Option<u64>,
    pub blocked_countries: Option<Vec<String>>,
}

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    pub source: String,
    pub list_versions: Vec<String>,
    pub sanctioned_addresses: usize,
    pub sdn_entries: usize,
    pub changed: bool,
}

pub struct Compliance {
    config: ComplianceConfig,
    lists: RwLock<Arc<OfacLists>>,
    /// Of the list folder when the current lists were read from it.
    fingerprint: Mutex<Option<String>>,
    external: Option<HttpScreener>,
    default_country: CountryCode,
    /// Striped locks serialising funds screenings of one payer to one merchant in this
    /// process, so concurrent payments read each other's history instead of retrying; the
    /// store's history check still catches races between gateway instances.
    payer_locks: Vec<tokio::sync::Mutex<()>>,
    /// List entries per (owners, addresses) for the intent-creation pre-check only: creation
    /// is the API's hot path, moves no money, and the settlement address is screened again,
    /// from the database, when funds arrive.
    entry_cache: Mutex<EntryCache>,
    /// Built once: address- and name-only screenings (every intent creation) evaluate no rule.
    address_rules: RulesPolicy,
}

const PAYER_LOCK_STRIPES: usize = 256;

/// How long the intent-creation pre-check may reuse list entries it read.
pub const ENTRY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const ENTRY_CACHE_MAX: usize = 10_000;

type EntryCache = HashMap<String, (Instant, Vec<ListEntry>)>;

impl std::fmt::Debug for Compliance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compliance")
            .field("lists", &self.lists().versions())
            .field("external", &self.external.is_some())
            .finish_non_exhaustive()
    }
}

/// The fiat unit a currency is valued in for limits and thresholds: stablecoins and deposit
/// tokens count at par with their peg. `None` for anything without a fixed peg.
pub fn fiat_unit(code: &str) -> Option<Currency> {
    match code {
        // `jpmd-dev`: the devnet's USD deposit token (a stand-in, docs/deposit-tokens.md).
        "usd" | "usdc" | "usdt" | "pyusd" | "jpmd" | "jpmd-dev" => Some(Currency::usd()),
        "eur" | "eurc" => Some(Currency::eur()),
        // Priced in, with no stablecoin of their own here: valued in themselves.
        "gbp" | "chf" | "jpy" => Currency::fiat(code),
        _ => None,
    }
}

/// `amount` in its fiat unit, rounded up to cents: rounding up can only make a limit trip
/// earlier, never later.
pub fn fiat_value(amount: &Money) -> Option<Money> {
    let unit = fiat_unit(amount.currency().code())?;
    let rounded = amount
        .amount()
        .round_dp_with_strategy(unit.decimals(), RoundingStrategy::AwayFromZero);
    Money::from_decimal(rounded, unit).ok()
}

fn limit(text: &str, unit: &Currency) -> Option<Limit> {
    let amount: Decimal = text.trim().parse().ok()?;
    Some(Limit {
        max: Money::from_decimal(amount, unit.clone()).ok()?,
        on_breach: Outcome::Review,
    })
}

fn countries(codes: &[String]) -> Result<Vec<CountryCode>, String> {
    codes
        .iter()
        .map(|c| {
            c.parse()
                .map_err(|_| format!("{c:?} is not an ISO 3166-1 alpha-2 country code"))
        })
        .collect()
}

/// A compliance setting or stored merchant policy that cannot be used; the message names the
/// offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl From<String> for PolicyError {
    fn from(why: String) -> Self {
        PolicyError(why)
    }
}

impl From<&str> for PolicyError {
    fn from(why: &str) -> Self {
        PolicyError(why.to_owned())
    }
}

/// Checks the `[compliance]` settings; the message names the offending key.
pub fn validate_config(config: &ComplianceConfig) -> Result<(), PolicyError> {
    if config.name_review_score > config.name_block_score || config.name_block_score > 10_000 {
        return Err(
            "compliance: need name_review_score <= name_block_score <= 10000 (basis points)".into(),
        );
    }
    config
        .default_merchant_country
        .parse::<CountryCode>()
        .map_err(|_| "compliance.default_merchant_country must be an ISO 3166-1 alpha-2 code")?;
    countries(&config.blocked_countries)
        .map_err(|e| format!("compliance.blocked_countries: {e}"))?;
    validate_limits(&config.limits).map_err(|e| format!("compliance.limits: {e}"))?;
    if config.warn_after_secs > 0
        && config.refuse_after_secs > 0
        && config.warn_after_secs > config.refuse_after_secs
    {
        return Err(
            "compliance: need warn_after_secs <= refuse_after_secs (a warning first)".into(),
        );
    }
    if config.velocity_max_count > 0 && config.velocity_window_secs == 0 {
        return Err("compliance.velocity_window_secs must be at least 1".into());
    }
    config
        .external
        .validate()
        .map_err(|e| PolicyError(format!("compliance.external: {e}")))
}

/// Checks per-unit limits: known fiat units, decimal amounts.
pub fn validate_limits(limits: &BTreeMap<String, LimitConfig>) -> Result<(), PolicyError> {
    for (unit, l) in limits {
        let currency = Currency::fiat(unit).ok_or_else(|| format!("unknown fiat unit {unit:?}"))?;
        for (name, text) in [
            ("single_payment", &l.single_payment),
            ("daily_volume", &l.daily_volume),
        ] {
            if !text.is_empty() && limit(text, &currency).is_none() {
                return Err(PolicyError(format!(
                    "{unit}.{name} must be a decimal amount, got {text:?}"
                )));
            }
        }
    }
    Ok(())
}

impl Compliance {
    /// Loads the lists (the folder, or the embedded snapshot) and builds the external screener,
    /// when one is configured, over `http` (the gateway's outbound-HTTP client).
    pub fn new(config: &ComplianceConfig, http: Arc<dyn HttpClient>) -> Result<Self, ListsError> {
        validate_config(config).map_err(|e| ListsError::Config(e.0))?;
        let default_country = config
            .default_merchant_country
            .parse()
            .map_err(|_| ListsError::Config("compliance.default_merchant_country".into()))?;
        let (lists, fingerprint) = if config.ofac_dir.is_empty() {
            (OfacLists::embedded().map_err(unwrap_shared)?, None)
        } else {
            let dir = PathBuf::from(&config.ofac_dir);
            let fingerprint = dir_fingerprint(&dir)?;
            (Arc::new(OfacLists::from_dir(&dir)?), Some(fingerprint))
        };
        let external = if config.external.url.is_empty() {
            None
        } else {
            Some(HttpScreener::new(&config.external, http))
        };
        Ok(Self {
            config: config.clone(),
            lists: RwLock::new(lists),
            fingerprint: Mutex::new(fingerprint),
            external,
            default_country,
            payer_locks: (0..PAYER_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            entry_cache: Mutex::new(HashMap::new()),
            address_rules: RulesPolicy::with_default_blocked_countries(TravelRulePolicy::standard()),
        })
    }

    /// The lists every screening right now uses.
    pub fn lists(&self) -> Arc<OfacLists> {
        match self.lists.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Holds this payer's screening lock (for this merchant) until the guard drops.
    pub async fn lock_payer(&self, merchant: &str, payer: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut hasher = Sha256::new();
        hasher.update(merchant.as_bytes());
        hasher.update([0]);
        hasher.update(payer.as_bytes());
        let digest = hasher.finalize();
        let index =
            usize::from(u16::from_be_bytes([digest[0], digest[1]])) % self.payer_locks.len();
        self.payer_locks[index].lock().await
    }

    pub fn cached_entries(&self, key: &str) -> Option<Vec<ListEntry>> {
        let cache = self.entry_cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < ENTRY_CACHE_TTL)
            .map(|(_, entries)| entries.clone())
    }

    pub fn cache_entries(&self, key: String, entries: Vec<ListEntry>) {
        if let Ok(mut cache) = self.entry_cache.lock() {
            if cache.len() >= ENTRY_CACHE_MAX {
                cache.retain(|_, (at, _)| at.elapsed() < ENTRY_CACHE_TTL);
                if cache.len() >= ENTRY_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now(), entries));
        }
    }

    /// The external screener, when one is configured.
    pub fn external(&self) -> Option<&HttpScreener> {
        self.external.as_ref()
    }

    /// A screener over `lists` (take them once per screening with [`Compliance::lists`]).
    pub fn screener<'a>(
        &self,
        lists: &'a OfacLists,
        custom_lists: &'a [CustomList],
        rules: &'a RulesPolicy,
        external: Option<&'a dyn ExternalScreener>,
    ) -> Screener<'a> {
        Screener {
            sanctions: &lists.sanctions,
            names: &lists.names,
            name_thresholds: self.thresholds(),
            custom_lists,
            rules,
            external,
        }
    }

    pub fn thresholds(&self) -> NameThresholds {
        NameThresholds {
            block: Score(self.config.name_block_score),
            review: Score(self.config.name_review_score),
            min_block_letters: self.config.name_min_block_letters,
        }
    }

    pub fn default_merchant_country(&self) -> CountryCode {
        self.default_country
    }

    /// Re-reads the list folder and swaps the lists in (a no-op for the embedded snapshot).
    /// With `only_if_changed`, skips the read when the folder's fingerprint is unchanged.
    pub fn reload(&self, only_if_changed: bool) -> Result<ReloadReport, ListsError> {
        if self.config.ofac_dir.is_empty() {
            return Ok(self.report(false));
        }
        let dir = PathBuf::from(&self.config.ofac_dir);
        let fingerprint = dir_fingerprint(&dir)?;
        let unchanged = self
            .fingerprint
            .lock()
            .map(|f| f.as_deref() == Some(fingerprint.as_str()))
            .unwrap_or(false);
        if only_if_changed && unchanged {
            return Ok(self.report(false));
        }
        let fresh = Arc::new(OfacLists::from_dir(&dir)?);
        let changed = fresh.versions() != self.lists().versions();
        match self.lists.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        if let Ok(mut f) = self.fingerprint.lock() {
            *f = Some(fingerprint);
        }
        Ok(self.report(changed))
    }

    fn report(&self, changed: bool) -> ReloadReport {
        let lists = self.lists();
        ReloadReport {
            source: lists.source.clone(),
            list_versions: lists.versions(),
            sanctioned_addresses: lists.sanctions.len(),
            sdn_entries: lists.sdn_entries,
            changed,
        }
    }

    /// The current lists' age against the configured limits at `now_ms`, also recorded as
    /// the `rialto_compliance_lists_*` gauges.
    pub fn freshness(&self, now_ms: i64) -> ListAge {
        let age = freshness::assess(
            self.lists().fetched_at_ms,
            now_ms,
            self.config.warn_after_secs,
            self.config.refuse_after_secs,
        );
        freshness::record(&age);
        age
    }

    /// Refuses a new live payment while the lists are older than `refuse_after_secs`; sandbox
    /// payments always pass (see [`freshness`]).
    pub fn ensure_fresh_for(&self, livemode: bool, now_ms: i64) -> Result<(), EngineError> {
        if livemode && self.freshness(now_ms).freshness == ListFreshness::Refuse {
            return Err(freshness::stale_error());
        }
        Ok(())
    }

    pub fn watch_secs(&self) -> u64 {
        self.config.watch_secs
    }

    /// The rules a merchant's payment valued in `unit` is screened with: the merchant's
    /// overrides where it has them, the configured defaults elsewhere.
    pub fn rules_policy(
        &self,
        merchant: Option<&MerchantPolicy>,
        unit: &Currency,
    ) -> Result<RulesPolicy, PolicyError> {
        let limits = merchant
            .and_then(|m| m.limits.get(unit.code()))
            .or_else(|| self.config.limits.get(unit.code()));
        let blocked = merchant
            .and_then(|m| m.blocked_countries.as_ref())
            .unwrap_or(&self.config.blocked_countries);
        let max_count = merchant
            .and_then(|m| m.velocity_max_count)
            .unwrap_or(self.config.velocity_max_count);
        let window_secs = merchant
            .and_then(|m| m.velocity_window_secs)
            .unwrap_or(self.config.velocity_window_secs);
        // A stored list that no longer parses must not quietly become "no blocked countries".
        let blocked_countries = countries(blocked)?.into_iter().collect();
        Ok(RulesPolicy {
            single_payment: limits.and_then(|l| limit(&l.single_payment, unit)),
            daily_volume: limits.and_then(|l| limit(&l.daily_volume, unit)),
            velocity: (max_count > 0).then_some(VelocityLimit {
                max_count,
                window_ms: window_secs.saturating_mul(1000),
                on_breach: Outcome::Review,
            }),
            blocked_countries,
            travel: TravelRulePolicy::standard(),
        })
    }

    /// The rules of address- and name-only screenings, which evaluate none of them.
    pub fn address_only_rules(&self) -> &RulesPolicy {
        &self.address_rules
    }

    /// How far back the rules look: the longer of a day (daily volume) and the velocity window.
    pub fn history_window_ms(&self, merchant: Option<&MerchantPolicy>) -> u64 {
        let window = merchant
            .and_then(|m| m.velocity_window_secs)
            .unwrap_or(self.config.velocity_window_secs);
        window.saturating_mul(1000).max(24 * 3600 * 1000)
    }
}

fn unwrap_shared(err: Arc<ListsError>) -> ListsError {
    match Arc::try_unwrap(err) {
        Ok(e) => e,
        Err(shared) => ListsError::Missing(format!("embedded snapshot: {shared}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{HttpError, HttpRequest, HttpResponse};

    /// These tests screen nothing externally.
    #[derive(Debug)]
    struct NoNetwork;

    #[async_trait::async_trait]
    impl HttpClient for NoNetwork {
        async fn post(&self, _request: HttpRequest) -> Result<HttpResponse, HttpError> {
            Err(HttpError::Connect)
        }
    }

    #[test]
    fn stablecoins_are_valued_at_par_and_rounded_up_to_cents() {
        let usdc = Currency::new("usdc", 6, rialto_core::money::CurrencyKind::Stablecoin);
        let v = fiat_value(&Money::parse("2999.990001", usdc).unwrap()).unwrap();
        assert_eq!(
            (v.currency().code(), v.to_amount_string().as_str()),
            ("usd", "3000.00")
        );
        let eurc = Currency::new("eurc", 6, rialto_core::money::CurrencyKind::Stablecoin);
        assert_eq!(
            fiat_value(&Money::parse("1", eurc).unwrap())
                .unwrap()
                .currency()
                .code(),
            "eur"
        );
        let eth = Currency::new("eth", 18, rialto_core::money::CurrencyKind::Native);
        assert!(fiat_value(&Money::parse("1", eth).unwrap()).is_none());
    }

    #[test]
    fn an_amount_priced_in_gbp_or_jpy_is_valued_in_itself_so_its_own_limits_apply() {
        let jpy = Currency::fiat("jpy").unwrap();
        let v = fiat_value(&Money::parse("1500", jpy).unwrap()).unwrap();
        assert_eq!(
            (v.currency().code(), v.to_amount_string().as_str()),
            ("jpy", "1500")
        );
        let gbp = Currency::fiat("gbp").unwrap();
        assert_eq!(fiat_unit(gbp.code()), Some(gbp));
    }

    #[test]
    fn merchant_policy_overrides_the_defaults_per_unit() {
        let mut config = ComplianceConfig::default();
        config.limits.insert(
            "usd".into(),
            LimitConfig {
                single_payment: "1000".into(),
                daily_volume: String::new(),
            },
        );
        let service = Compliance::new(&config, Arc::new(NoNetwork)).unwrap();
        let usd = Currency::usd();
        let default = service.rules_policy(None, &usd).unwrap();
        assert_eq!(
            default.single_payment.unwrap().max.to_amount_string(),
            "1000.00"
        );
        assert!(default.daily_volume.is_none() && default.velocity.is_none());
        let mut policy = MerchantPolicy {
            velocity_max_count: Some(3),
            ..Default::default()
        };
        policy.limits.insert(
            "usd".into(),
            LimitConfig {
                single_payment: "50".into(),
                daily_volume: "60".into(),
            },
        );
        let custom = service.rules_policy(Some(&policy), &usd).unwrap();
        assert_eq!(
            custom.single_payment.unwrap().max.to_amount_string(),
            "50.00"
        );
        assert_eq!(custom.daily_volume.unwrap().max.to_amount_string(), "60.00");
        assert_eq!(custom.velocity.unwrap().max_count, 3);
        assert!(service
            .rules_policy(Some(&policy), &Currency::eur())
            .unwrap()
            .single_payment
            .is_none());
    }

    #[test]
    fn bad_compliance_settings_name_the_key() {
        let c = ComplianceConfig {
            blocked_countries: vec!["XX".into()],
            ..Default::default()
        };
        assert!(validate_config(&c)
            .unwrap_err()
            .0
            .contains("blocked_countries"));
        let mut c = ComplianceConfig::default();
        c.limits.insert(
            "usd".into(),
            LimitConfig {
                single_payment: "ten".into(),
                daily_volume: "".into(),
            },
        );
        assert!(validate_config(&c)
            .unwrap_err()
            .0
            .contains("usd.single_payment"));
        let c = ComplianceConfig {
            name_review_score: 9_900,
            ..Default::default()
        };
        assert!(validate_config(&c)
            .unwrap_err()
            .0
            .contains("name_review_score"));
    }
}
