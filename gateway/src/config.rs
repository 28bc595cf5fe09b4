//! Configuration: `rialto.toml` (optional) overlaid by `RIALTO__SECTION__KEY` environment
//! variables, then command-line flags; validated once at start-up so a bad value stops the
//! process with a clear message instead of surfacing later.

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::store::Backend;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub rate_limit: RateLimitConfig,
    pub intents: IntentConfig,
    pub live: LiveConfig,
    pub secrets: SecretsConfig,
    pub compliance: ComplianceConfig,
    pub sandbox: SandboxConfig,
}

/// Sandbox mode's chains: the local devnet `rialto devnet --manifest …` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// The devnet manifest (RPC URLs per chain); `--devnet-manifest`. Empty: no sandbox chains,
    /// so submitted transactions cannot be verified.
    pub devnet_manifest: String,
    /// Blocks a payment's transaction needs on top of it (its own included) before it counts.
    pub confirmations: u64,
    /// How often the chain watcher polls the sandbox chains, milliseconds.
    pub poll_ms: u64,
    /// BIP-39 phrase that per-intent deposit addresses derive from (m/44'/60'/0'/0/i). The
    /// default is the public BIP-39 test phrase: fine for the sandbox, where the coins are
    /// worthless; empty turns deposit addresses off.
    pub deposit_mnemonic: String,
}

/// The BIP-39 specification's all-`abandon` test phrase: public, sandbox only.
pub const SANDBOX_DEPOSIT_MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon abandon about";

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            devnet_manifest: String::new(),
            confirmations: 1,
            poll_ms: 200,
            deposit_mnemonic: SANDBOX_DEPOSIT_MNEMONIC.to_owned(),
        }
    }
}

/// Screening settings (see `docs/compliance.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// A folder laid out like `data/ofac/` to screen against, re-read when its files change
    /// and on `rialto compliance reload`. Empty: the snapshot compiled into the binary.
    pub ofac_dir: String,
    /// How often to look for changed list files, seconds (0: only on reload).
    pub watch_secs: u64,
    /// Name similarity (basis points, 0–10000) at or above which a name match blocks…
    pub name_block_score: u16,
    /// …and at or above which it goes to review.
    pub name_review_score: u16,
    /// Names with fewer letters never block, only go to review.
    pub name_min_block_letters: usize,
    /// Jurisdiction assumed for merchants created without `--country`.
    pub default_merchant_country: String,
    /// ISO 3166-1 alpha-2 codes whose payers and merchants are blocked.
    pub blocked_countries: Vec<String>,
    /// Default limits per fiat unit (`usd`, `eur`); merchants' policies override them.
    pub limits: std::collections::BTreeMap<String, LimitConfig>,
    /// Payments one payer may make to one merchant within `velocity_window_secs` (0: off).
    pub velocity_max_count: u32,
    pub velocity_window_secs: u64,
    /// Third-party risk screener for payer addresses (disabled while its url is empty).
    pub external: crate::compliance::external_http::ExternalScreenerConfig,
}

/// Amount limits in one fiat unit; empty strings switch a limit off. Breaches go to review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitConfig {
    pub single_payment: String,
    pub daily_volume: String,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            ofac_dir: String::new(),
            watch_secs: 30,
            name_block_score: 9_600,
            name_review_score: 9_000,
            name_min_block_letters: 8,
            default_merchant_country: "US".into(),
            blocked_countries: ["CU", "IR", "KP", "SY"].map(String::from).to_vec(),
            limits: std::collections::BTreeMap::new(),
            velocity_max_count: 0,
            velocity_window_secs: 3600,
            external: Default::default(),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Base64 of 32 bytes that seal secrets stored in the database (webhook signing secrets).
    /// Prefer setting it through `RIALTO__SECRETS__MASTER_KEY`. When empty, the key is read
    /// from `master_key_file`, which is created (mode 0600) on first start.
    pub master_key: String,
    pub master_key_file: String,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("master_key", &"[redacted]")
            .field("master_key_file", &self.master_key_file)
            .finish()
    }
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            master_key: String::new(),
            master_key_file: "rialto.key".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://rialto.db` (default) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,rialto_gateway=debug`.
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second per API key.
    pub per_second: u32,
    /// Requests a key may send at once above the sustained rate.
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntentConfig {
    pub default_expires_in_secs: i64,
    pub min_expires_in_secs: i64,
    pub max_expires_in_secs: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Venues configured for live money. While this and `chains` are both empty,
    /// `sk_live_`/`pk_live_` keys are refused with `livemode_unavailable`.
    pub venues: Vec<String>,
    /// Real EVM chains live intents are paid and settled on (`[[live.chains]]`).
    pub chains: Vec<ChainConfig>,
    /// BIP-39 phrase live deposit addresses derive from; empty: no live deposit addresses.
    /// Prefer `RIALTO__LIVE__DEPOSIT_MNEMONIC`.
    pub deposit_mnemonic: String,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("venues", &self.venues)
            .field("chains", &self.chains)
            .field("deposit_mnemonic", &"[redacted]")
            .finish()
    }
}

/// One real EVM chain (`[[live.chains]]`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// CAIP-2 id or registry alias: `eip155:8453`, `base`.
    pub chain: String,
    /// JSON-RPC endpoints in order of preference; the next takes over when one fails. Each is
    /// checked at start to answer with this chain's id.
    pub rpc_urls: Vec<String>,
    /// Blocks a payment needs on top of it (its own included) before anything moves on it.
    pub confirmations: u64,
    /// The hot wallet's private key (`0x` hex): relays EIP-3009 authorizations, pays sweep gas,
    /// sends payouts. Prefer an environment override.
    #[serde(default)]
    pub hot_wallet_key: String,
    /// Token codes the deposit watcher follows (`["usdc"]`); empty: every registry token on
    /// the chain.
    #[serde(default)]
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("chain", &self.chain)
            .field(
                "rpc_urls",
                &self
                    .rpc_urls
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field("confirmations", &self.confirmations)
            .field("hot_wallet_key", &"[redacted]")
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://rialto.db".into(),
            max_connections: 16,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 100,
            burst: 200,
        }
    }
}

impl Default for IntentConfig {
    fn default() -> Self {
        Self {
            default_expires_in_secs: 3600,
            min_expires_in_secs: 60,
            max_expires_in_secs: 7 * 24 * 3600,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Values given on the command line; `None` leaves the file/env value in place.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devnet_manifest: Option<String>,
}

impl Config {
    /// Defaults ← `path` (if it exists) ← `RIALTO__…` env ← flags; then validated.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(path, Env::prefixed("RIALTO__").split("__"), overrides)
    }

    fn load_from(path: &Path, env: Env, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(env.lowercase(true));
        if let Some(listen) = &overrides.listen {
            figment = figment.merge(Serialized::default("server.listen", listen));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        if let Some(path) = &overrides.devnet_manifest {
            figment = figment.merge(Serialized::default("sandbox.devnet_manifest", path));
        }
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "server.listen must be an address like 127.0.0.1:8080, got {:?}",
                self.server.listen
            ));
        }
        if Backend::from_url(&self.database.url).is_none() {
            return invalid(format!(
                "database.url must start with sqlite: or postgres://, got {:?}",
                redact_url(&self.database.url)
            ));
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be at least 1".into());
        }
        if self.server.max_body_bytes < 1024 {
            return invalid("server.max_body_bytes must be at least 1024".into());
        }
        if self.rate_limit.per_second == 0 || self.rate_limit.burst == 0 {
            return invalid("rate_limit.per_second and rate_limit.burst must be at least 1".into());
        }
        let i = &self.intents;
        if !(1 <= i.min_expires_in_secs
            && i.min_expires_in_secs <= i.default_expires_in_secs
            && i.default_expires_in_secs <= i.max_expires_in_secs)
        {
            return invalid(
                "intents: need 1 <= min_expires_in_secs <= default_expires_in_secs <= \
                 max_expires_in_secs"
                    .into(),
            );
        }
        if self.sandbox.confirmations == 0 {
            return invalid("sandbox.confirmations must be at least 1".into());
        }
        let normalized = |p: &str| p.split_whitespace().collect::<Vec<_>>().join(" ");
        if !self.live.deposit_mnemonic.is_empty()
            && normalized(&self.live.deposit_mnemonic) == normalized(SANDBOX_DEPOSIT_MNEMONIC)
        {
            return invalid(
                "live.deposit_mnemonic is the public BIP-39 test phrase: anyone could sweep \
                 those addresses; generate a private one"
                    .into(),
            );
        }
        for (i, chain) in self.live.chains.iter().enumerate() {
            if chain.rpc_urls.is_empty() {
                return invalid(format!(
                    "live.chains[{i}] ({}) needs at least one rpc_url",
                    chain.chain
                ));
            }
            if let Some(bad) = chain
                .rpc_urls
                .iter()
                .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return invalid(format!(
                    "live.chains[{i}].rpc_urls: {:?} is not an http(s) URL",
                    redact_url(bad)
                ));
            }
            if chain.confirmations == 0 {
                return invalid(format!("live.chains[{i}].confirmations must be at least 1"));
            }
        }
        if let Err(msg) = crate::compliance::validate_config(&self.compliance) {
            return invalid(msg);
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(format!(
                "log.level is not a valid filter: {:?}",
                self.log.level
            ));
        }
        Ok(())
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_then_flags_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rialto.toml",
                "[server]\nlisten = \"127.0.0.1:9000\"\n[database]\nurl = \"sqlite://a.db\"\n",
            )?;
            jail.set_env("RIALTO__DATABASE__URL", "sqlite://b.db");
            jail.set_env("RIALTO__RATE_LIMIT__BURST", "7");
            let from_env = Config::load(Path::new("rialto.toml"), &Overrides::default()).unwrap();
            assert_eq!(from_env.server.listen, "127.0.0.1:9000");
            assert_eq!(from_env.database.url, "sqlite://b.db");
            assert_eq!(from_env.rate_limit.burst, 7);
            let flags = Overrides {
                listen: Some("127.0.0.1:9001".into()),
                database_url: Some("postgres://u:secret@h/db".into()),
                devnet_manifest: None,
            };
            let from_flags = Config::load(Path::new("rialto.toml"), &flags).unwrap();
            assert_eq!(from_flags.server.listen, "127.0.0.1:9001");
            assert_eq!(from_flags.database.url, "postgres://u:secret@h/db");
            Ok(())
        });
    }

    #[test]
    fn bad_values_fail_fast_with_a_clear_message() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RIALTO__SERVER__LISTEN", "nowhere");
            let err = Config::load(Path::new("missing.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("server.listen"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("rialto.toml", "[server]\nlisten_typo = 1\n")?;
            let err = Config::load(Path::new("rialto.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("listen_typo"), "{err}");
            Ok(())
        });
        let mut config = Config::default();
        config.database.url = "mysql://u:hunter2@h/db".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("database.url") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
