//! Configuration: `rialto.toml` (optional) overlaid by `RIALTO__SECTION__KEY` environment
//! variables, then command-line flags; validated once at start-up so a bad value stops the
//! process with a clear message instead of surfacing later.

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::store::Backend;

pub use rialto_engine::config::*;

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
    pub reserves: ReservesConfig,
    pub approvals: ApprovalsConfig,
    pub webhooks: WebhooksConfig,
    pub tls: crate::tls::TlsConfig,
}

/// Where webhooks may be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Development only: lets endpoints (in either mode) target loopback and private
    /// addresses, for local receivers. Off by default: every endpoint, test mode included,
    /// must resolve only to public addresses. Refused together with live chains or venues.
    pub allow_private_targets: bool,
}

/// Maker-checker on the money-moving settings (`rialto_engine::settings_changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// A pending settings change (raising or removing `payout_approval_above`, changing
    /// `payout_addresses`) applies by itself this many seconds after it was requested, unless
    /// canceled first; its `settings.change_requested` event goes out at once. 0 (default): it
    /// applies only when a second key or an operator approves it.
    pub settings_change_delay_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Where shoppers reach this gateway (`https://pay.example.com`), for hosted checkout
    /// URLs; empty means `http://` + `listen` (development).
    pub public_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://rialto.db` (default) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL: keep found API keys in memory for up to 5 s, flushed by every revoke or roll
    /// (`docs/keys.md`). `false` reads the key on every request. SQLite never caches.
    pub api_key_cache: bool,
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

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            shutdown_grace_secs: 20,
            public_url: String::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://rialto.db".into(),
            max_connections: 16,
            api_key_cache: true,
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
    /// The sections the engine reads.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            intents: self.intents.clone(),
            live: self.live.clone(),
            compliance: self.compliance.clone(),
            sandbox: self.sandbox.clone(),
            reserves: self.reserves.clone(),
        }
    }

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

    /// Development settings never reach a gateway that moves real money.
    fn refuse_development_settings_in_live(&self) -> Result<(), ConfigError> {
        let live = !self.live.chains.is_empty() || !self.live.venues.is_empty();
        if self.webhooks.allow_private_targets && live {
            return Err(ConfigError::Invalid(
                "webhooks.allow_private_targets is a development setting: it cannot be set \
                 with live chains or venues configured"
                    .into(),
            ));
        }
        Ok(())
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
        self.refuse_development_settings_in_live()?;
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
        check_replacement("sandbox.replacement", &self.sandbox.replacement)?;
        if !self.live.deposit_mnemonic.is_empty()
            && crate::dev_secrets::is_public_mnemonic(&self.live.deposit_mnemonic)
        {
            return invalid(
                "live.deposit_mnemonic is a public test phrase (BIP-39's, anvil's or Hardhat's): \
                 anyone could sweep those addresses; generate a private one"
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
            check_replacement(&format!("live.chains[{i}].replacement"), &chain.replacement)?;
            if crate::dev_secrets::is_public_key(&chain.hot_wallet_key) {
                return invalid(format!(
                    "live.chains[{i}].hot_wallet_key is one of anvil's or Hardhat's public \
                     development keys: anyone could spend from it; use a private key"
                ));
            }
        }
        check_venues(&self.live.venues)?;
        if let Err(msg) = rialto_engine::compliance::validate_config(&self.compliance) {
            return invalid(msg.0);
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

/// `[[live.venues]]`, structurally: one entry per kind, an https base URL, at least one network
/// with a name, each credential from exactly one of env or file, and withdrawal terms that are
/// decimals on a configured network (required for every Coinbase network: its API publishes
/// none). Whether the secrets exist and the venue accepts them is `rialto venues check`'s.
fn check_venues(venues: &[VenueConfig]) -> Result<(), ConfigError> {
    let invalid = |msg: String| Err(ConfigError::Invalid(msg));
    for (i, v) in venues.iter().enumerate() {
        let at = format!("live.venues[{i}]");
        if venues[..i].iter().any(|o| o.kind == v.kind) {
            return invalid(format!(
                "{at}.kind: {} is configured twice",
                v.kind.as_str()
            ));
        }
        let host = v.base_url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.starts_with('/') {
            return invalid(format!(
                "{at}.base_url must be an https:// URL (credentials and orders never travel in                  clear), got {:?}",
                redact_url(&v.base_url)
            ));
        }
        if v.networks.is_empty() {
            return invalid(format!(
                "{at}.networks needs at least one chain = \"<the venue's network name>\""
            ));
        }
        if let Some((chain, _)) = v.networks.iter().find(|(_, name)| name.trim().is_empty()) {
            return invalid(format!(
                "{at}.networks: {chain:?} has an empty network name"
            ));
        }
        for (field, secret) in [
            ("market_api_key", &v.market_api_key),
            ("market_api_secret", &v.market_api_secret),
        ] {
            if secret.env.is_empty() == secret.file.is_empty() {
                return invalid(format!(
                    "{at}.{field}: set exactly one of env (a variable's name) or file (a path);                      credentials are never written in the configuration itself"
                ));
            }
        }
        for (j, w) in v.withdrawals.iter().enumerate() {
            let wat = format!("{at}.withdrawals[{j}]");
            if !v.networks.contains_key(&w.chain) {
                return invalid(format!(
                    "{wat}.chain: {:?} is not one of {at}.networks",
                    w.chain
                ));
            }
            if w.asset.trim().is_empty() {
                return invalid(format!("{wat}.asset must name an asset (\"USDC\")"));
            }
            for (field, text) in [("fee", &w.fee), ("minimum", &w.minimum)] {
                let ok = text
                    .parse::<rust_decimal::Decimal>()
                    .is_ok_and(|d| !d.is_sign_negative());
                if !ok {
                    return invalid(format!(
                        "{wat}.{field} must be a non-negative decimal string, got {text:?}"
                    ));
                }
            }
        }
        if v.kind == VenueKind::Coinbase {
            if let Some(chain) = v
                .networks
                .keys()
                .find(|c| !v.withdrawals.iter().any(|w| &w.chain == *c))
            {
                return invalid(format!(
                    "{at}.withdrawals: Coinbase publishes no withdrawal terms, so each network                      needs its fee and minimum; {chain:?} has none"
                ));
            }
        }
    }
    Ok(())
}

/// A replacement bump under 10 % is refused by the nodes, so every replacement would fail.
fn check_replacement(at: &str, r: &ReplacementConfig) -> Result<(), ConfigError> {
    if r.after_secs > 0 && r.bump_percent < 10 {
        return Err(ConfigError::Invalid(format!(
            "{at}.bump_percent must be at least 10 (nodes refuse a smaller fee bump), got {}",
            r.bump_percent
        )));
    }
    Ok(())
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

    #[test]
    fn live_mode_refuses_the_development_tools_public_secrets() {
        let mut config = Config::default();
        config.live.deposit_mnemonic =
            "test test test test test test test test test test test junk".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("live.deposit_mnemonic"), "{err}");
        assert!(!err.contains("junk"), "the phrase is not echoed: {err}");
        let mut config = Config::default();
        config.live.chains.push(rialto_engine::config::ChainConfig {
            chain: "base".into(),
            rpc_urls: vec!["https://base.example/v2/key".into()],
            confirmations: 10,
            hot_wallet_key: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
                .into(),
            tokens: vec![],
            replacement: Default::default(),
            batch_relay: Default::default(),
        });
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("live.chains[0].hot_wallet_key"), "{err}");
        assert!(!err.contains("ac0974"), "the key is not echoed: {err}");
        config.live.chains[0].hot_wallet_key =
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".into();
        assert!(
            config.validate().is_err(),
            "anvil's account 1 is public too"
        );
    }

    #[test]
    fn a_replacement_bump_under_the_ten_percent_nodes_require_is_refused_at_start() {
        let mut config = Config::default();
        config.sandbox.replacement.after_secs = 60;
        config.sandbox.replacement.bump_percent = 9;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("sandbox.replacement.bump_percent"), "{err}");
        config.sandbox.replacement.after_secs = 0;
        assert!(
            config.validate().is_ok(),
            "no replacement, no bump to check"
        );
    }

    #[test]
    fn live_venues_load_from_toml_and_each_bad_setting_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rialto.toml",
                r#"
[[live.venues]]
kind = "coinbase"
base_url = "https://api.coinbase.com"
networks = { base = "base" }
market_api_key = { env = "RIALTO_COINBASE_KEY" }
market_api_secret = { file = "/etc/rialto/coinbase.pem" }
withdrawals = [{ asset = "USDC", chain = "base", fee = "0", minimum = "1", typical_secs = 300 }]
"#,
            )?;
            let config = Config::load(Path::new("rialto.toml"), &Overrides::default()).unwrap();
            assert_eq!(config.live.venues[0].kind, VenueKind::Coinbase);
            assert_eq!(
                config.live.venues[0].market_api_secret.file,
                "/etc/rialto/coinbase.pem"
            );
            Ok(())
        });
        let good = VenueConfig {
            kind: VenueKind::Binance,
            base_url: "https://api.binance.com".into(),
            networks: [("base".to_owned(), "BASE".to_owned())].into(),
            market_api_key: SecretRef {
                env: "K".into(),
                file: String::new(),
            },
            market_api_secret: SecretRef {
                env: String::new(),
                file: "/s".into(),
            },
            withdrawals: vec![],
        };
        let named = |change: &dyn Fn(&mut Vec<VenueConfig>), setting: &str| {
            let mut config = Config::default();
            config.live.venues = vec![good.clone()];
            assert!(config.validate().is_ok());
            change(&mut config.live.venues);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(setting), "{setting}: {err}");
        };
        named(
            &|v| v[0].base_url = "http://api.binance.com".into(),
            "live.venues[0].base_url",
        );
        named(&|v| v[0].networks.clear(), "live.venues[0].networks");
        named(
            &|v| v[0].market_api_key.file = "/k".into(),
            "live.venues[0].market_api_key",
        );
        named(
            &|v| v[0].market_api_secret = SecretRef::default(),
            "live.venues[0].market_api_secret",
        );
        named(&|v| v.push(v[0].clone()), "live.venues[1].kind");
        let terms = |chain: &str, fee: &str| WithdrawalTermsConfig {
            asset: "USDC".into(),
            chain: chain.into(),
            fee: fee.into(),
            minimum: "1".into(),
            typical_secs: 0,
        };
        named(
            &|v| v[0].withdrawals = vec![terms("solana", "0.1")],
            "live.venues[0].withdrawals[0].chain",
        );
        named(
            &|v| v[0].withdrawals = vec![terms("base", "-1")],
            "live.venues[0].withdrawals[0].fee",
        );
        named(
            &|v| v[0].kind = VenueKind::Coinbase,
            "live.venues[0].withdrawals: Coinbase",
        );
    }
}
