//! The live venues of `[[live.venues]]`: each entry's base URL, network names, withdrawal
//! terms and market-data credentials become the live mode's [`Venues`], whose clients are the
//! same real Binance, Kraken and Coinbase clients the sandbox mode builds
//! ([`HttpVenueClients`]), pointed at the configured URL and speaking through the gateway's
//! one TLS configuration.
//!
//! Secrets are read here, when the venues are built (start-up, `rialto venues check`,
//! `rialto doctor`), not at configuration load: a missing variable or an open secret file is
//! then reported naming its setting, and the configuration file never carries a credential.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rialto_connectors::exchange::{Credentials, HttpVenueClients};
use rialto_core::asset::AssetRegistry;
use rialto_core::ChainId;
use rialto_engine::config::{SecretRef, VenueConfig, VenueKind};
use rust_decimal::Decimal;

use super::{VenueMap, Venues};

/// A `[[live.venues]]` entry that cannot be built, naming its setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct VenueSetupError {
    pub setting: String,
    pub message: String,
}

fn setup_error(setting: impl Into<String>, message: impl Into<String>) -> VenueSetupError {
    VenueSetupError {
        setting: setting.into(),
        message: message.into(),
    }
}

/// Reads a secret from its environment variable or file. A file others may read is refused
/// like the master key file is: whoever reads it holds the venue key.
pub fn read_secret(setting: &str, secret: &SecretRef) -> Result<String, VenueSetupError> {
    let value = if !secret.env.is_empty() {
        std::env::var(&secret.env).map_err(|_| {
            setup_error(
                setting,
                format!("the environment variable {} is not set", secret.env),
            )
        })?
    } else {
        let path = Path::new(&secret.file);
        crate::server::refuse_shared_key_file(path)
            .map_err(|e| setup_error(setting, e.to_string().replace("master key file", "file")))?;
        std::fs::read_to_string(path)
            .map_err(|e| setup_error(setting, format!("cannot read {}: {e}", path.display())))?
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(setup_error(setting, "the secret is empty"));
    }
    Ok(value)
}

/// A configured chain name (CAIP-2 id or registry alias) as its CAIP-2 id.
pub fn chain_id(registry: &AssetRegistry, name: &str) -> Option<String> {
    if let Some(chain) = registry.chain(name) {
        return Some(chain.id.to_string());
    }
    name.parse::<ChainId>().ok().map(|id| id.to_string())
}

/// The market-data credentials of venue `i`.
pub fn market_credentials(i: usize, venue: &VenueConfig) -> Result<Credentials, VenueSetupError> {
    let at = format!("live.venues[{i}]");
    Ok(Credentials {
        api_key: read_secret(&format!("{at}.market_api_key"), &venue.market_api_key)?,
        api_secret: read_secret(&format!("{at}.market_api_secret"), &venue.market_api_secret)?,
        withdraw_key: None,
    })
}

/// The venue map of `[[live.venues]]`: base URLs, each venue's own network names and Coinbase's
/// configured withdrawal terms, keyed by CAIP-2 id.
pub fn venue_map(
    registry: &AssetRegistry,
    venues: &[VenueConfig],
) -> Result<VenueMap, VenueSetupError> {
    let mut map = VenueMap::default();
    for (i, venue) in venues.iter().enumerate() {
        let kind = venue.kind.as_str().to_owned();
        map.base_urls.insert(kind.clone(), venue.base_url.clone());
        let mut own = BTreeMap::new();
        for (chain, name) in &venue.networks {
            let id = chain_id(registry, chain).ok_or_else(|| {
                setup_error(
                    format!("live.venues[{i}].networks"),
                    format!("{chain:?} is neither a known chain alias nor a CAIP-2 id"),
                )
            })?;
            own.insert(id, name.clone());
        }
        map.venue_networks.insert(kind, own);
        if venue.kind == VenueKind::Coinbase {
            for (j, terms) in venue.withdrawals.iter().enumerate() {
                let at = format!("live.venues[{i}].withdrawals[{j}]");
                let id = chain_id(registry, &terms.chain)
                    .ok_or_else(|| setup_error(format!("{at}.chain"), "unknown chain"))?;
                let fee = decimal(&format!("{at}.fee"), &terms.fee)?;
                let minimum = decimal(&format!("{at}.minimum"), &terms.minimum)?;
                map.coinbase_terms.insert(id, (fee, minimum));
            }
        }
    }
    Ok(map)
}

fn decimal(setting: &str, text: &str) -> Result<Decimal, VenueSetupError> {
    text.parse::<Decimal>()
        .ok()
        .filter(|d| !d.is_sign_negative())
        .ok_or_else(|| setup_error(setting, format!("{text:?} is not a non-negative decimal")))
}

/// The live mode's [`Venues`]: the real clients at each configured base URL, through `tls`,
/// with Rialto's own market-data credentials. `None` without `[[live.venues]]`.
pub fn live_venues(
    registry: &AssetRegistry,
    venues: &[VenueConfig],
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Option<Venues>, VenueSetupError> {
    if venues.is_empty() {
        return Ok(None);
    }
    let map = venue_map(registry, venues)?;
    let mut market = BTreeMap::new();
    for (i, venue) in venues.iter().enumerate() {
        market.insert(
            venue.kind.as_str().to_owned(),
            market_credentials(i, venue)?,
        );
    }
    let clients = HttpVenueClients::with_http_setup(crate::tls::venue_http_setup(tls))
        .with_market_credentials(market);
    Ok(Some(Venues::new(map, Arc::new(clients))))
}
