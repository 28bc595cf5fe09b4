//! [`HttpVenueClients`]: the [`VenueClients`] that builds the real Kraken, Binance and Coinbase
//! clients, each pointed at the base URL its [`VenueMap`] names (the sandbox exchange in sandbox
//! mode), with the settlement network and, for Kraken, the withdrawal key set up.

use std::time::Duration;

use secrecy::SecretString;

use super::binance::{Binance, BinanceConfig, BinanceNetwork};
use super::coinbase::{CdpKey, Coinbase, CoinbaseConfig, CoinbaseNetwork};
use super::kraken::{Kraken, KrakenConfig, KrakenNetwork, KrakenWithdrawKey};
use super::{
    Credentials, Exchange, ExchangeError, HttpSetup, SettlementTarget, Venue, VenueClients,
    VenueMap,
};

/// How long one venue request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The seed of the fixed sandbox CDP key Coinbase market reads sign with (see
/// [`VenueClients::market_credentials`]).
const MARKET_CDP_SEED: u8 = 0x52;

/// Builds the venues' REST clients (reqwest). Holds only the HTTP setup every client gets
/// (the gateway's TLS configuration); each client gets its own connection pool, limiter and
/// configuration from its arguments.
#[derive(Debug, Clone, Default)]
pub struct HttpVenueClients {
    http_setup: Option<HttpSetup>,
    /// Rialto's own market-data credentials per venue (live). `None`: the sandbox's
    /// placeholders, which no real venue accepts.
    market: Option<std::collections::BTreeMap<String, Credentials>>,
}

impl HttpVenueClients {
    /// Clients whose HTTP client is built through `setup` (the gateway's TLS roots).
    pub fn with_http_setup(setup: HttpSetup) -> Self {
        Self {
            http_setup: Some(setup),
            market: None,
        }
    }

    /// These clients with Rialto's own market-data credentials per venue (`[[live.venues]]`):
    /// a venue missing from `market` has none, and its market reads fail as misconfigured
    /// rather than fall back to the sandbox's placeholders.
    pub fn with_market_credentials(
        mut self,
        market: std::collections::BTreeMap<String, Credentials>,
    ) -> Self {
        self.market = Some(market);
        self
    }
}

fn config_error(message: String) -> ExchangeError {
    ExchangeError::Config {
        venue: Venue::Sandbox,
        message,
    }
}

/// What every venue's client is built from: its base URL, the venue's name for the settlement
/// network, and the settlement target.
struct Setup<'a> {
    base: String,
    http: Option<HttpSetup>,
    network: String,
    target: SettlementTarget<'a>,
}

impl VenueClients for HttpVenueClients {
    fn client(
        &self,
        venue: &str,
        credentials: &Credentials,
        venues: &VenueMap,
        settlement: SettlementTarget<'_>,
    ) -> Result<Box<dyn Exchange>, ExchangeError> {
        let base = venues
            .base_urls
            .get(venue)
            .cloned()
            .ok_or_else(|| config_error(format!("venue {venue} is not configured")))?;
        let chain = settlement.chain;
        let network = venues
            .network_name(venue, &chain.to_string())
            .ok_or_else(|| config_error(format!("no network name for {chain}")))?;
        let setup = Setup {
            base,
            http: self.http_setup.clone(),
            network,
            target: settlement,
        };
        match venue {
            "binance" => binance(credentials, setup),
            "kraken" => kraken(credentials, setup),
            "coinbase" => coinbase(credentials, venues, setup),
            other => Err(config_error(format!("unknown venue {other}"))),
        }
    }

    fn market_credentials(&self, venue: &str) -> Result<Credentials, ExchangeError> {
        if let Some(market) = &self.market {
            return market.get(venue).cloned().ok_or_else(|| {
                config_error(format!("no market-data credentials configured for {venue}"))
            });
        }
        if venue == "coinbase" {
            // The sandbox checks the JWT's signature, not whose key it is; live mode needs
            // Rialto's own CDP read key here.
            return Ok(Credentials {
                api_key: "organizations/rialto/apiKeys/market-data".into(),
                api_secret: CdpKey::sandbox_pem(MARKET_CDP_SEED)
                    .map_err(|e| config_error(e.to_string()))?,
                withdraw_key: None,
            });
        }
        Ok(Credentials {
            api_key: "rialto-market-data".into(),
            api_secret: "cmlhbHRvLW1hcmtldC1kYXRh".into(),
            withdraw_key: None,
        })
    }
}

fn secrets(credentials: &Credentials) -> (SecretString, SecretString) {
    (
        SecretString::from(credentials.api_key.clone()),
        SecretString::from(credentials.api_secret.clone()),
    )
}

fn binance(
    credentials: &Credentials,
    setup: Setup<'_>,
) -> Result<Box<dyn Exchange>, ExchangeError> {
    let (key, secret) = secrets(credentials);
    let mut c = BinanceConfig::new(setup.base, key, secret);
    c.timeout = TIMEOUT;
    c.http_setup = setup.http.clone();
    c.networks = vec![BinanceNetwork {
        asset: setup.target.asset.clone(),
        network: setup.target.chain.clone(),
        binance_network: setup.network,
    }];
    Ok(Box::new(Binance::new(c)?))
}

fn kraken(credentials: &Credentials, setup: Setup<'_>) -> Result<Box<dyn Exchange>, ExchangeError> {
    let (key, secret) = secrets(credentials);
    let SettlementTarget {
        asset,
        chain,
        address,
    } = setup.target;
    let network = setup.network;
    let mut c = KrakenConfig::new(setup.base, key, secret);
    c.timeout = TIMEOUT;
    c.http_setup = setup.http.clone();
    c.networks = vec![KrakenNetwork {
        asset: asset.clone(),
        network: chain.clone(),
        withdraw_network: network.clone(),
        // The venue's deposit method is named after the network (the sandbox's are; live
        // Kraken names need the venue map of `VenueMap::networks`).
        deposit_method: network.clone(),
    }];
    c.withdraw_keys = vec![KrakenWithdrawKey {
        asset: asset.clone(),
        network: chain.clone(),
        address: address.to_owned(),
        key: credentials
            .withdraw_key
            .clone()
            .unwrap_or_else(|| format!("rialto-{network}")),
    }];
    Ok(Box::new(Kraken::new(c)?))
}

fn coinbase(
    credentials: &Credentials,
    venues: &VenueMap,
    setup: Setup<'_>,
) -> Result<Box<dyn Exchange>, ExchangeError> {
    let pem = SecretString::from(credentials.api_secret.clone());
    let cdp = CdpKey::from_pem(credentials.api_key.clone(), &pem)
        .map_err(|e| config_error(e.to_string()))?;
    let mut c = CoinbaseConfig::new(setup.base, cdp);
    c.timeout = TIMEOUT;
    c.http_setup = setup.http.clone();
    let chain = setup.target.chain;
    let (fee, minimum) = venues
        .coinbase_terms
        .get(&chain.to_string())
        .copied()
        .unwrap_or_default();
    c.networks = vec![CoinbaseNetwork {
        asset: setup.target.asset.clone(),
        network: chain.clone(),
        coinbase_network: setup.network,
        withdrawal_fee: fee,
        withdrawal_minimum: minimum,
    }];
    Ok(Box::new(Coinbase::new(c)?))
}

#[cfg(test)]
mod tests {
    use rialto_core::ChainId;

    use super::*;
    use crate::exchange::AssetCode;

    fn map() -> VenueMap {
        let mut map = VenueMap::default();
        for venue in ["binance", "kraken", "coinbase"] {
            map.base_urls
                .insert(venue.to_owned(), "http://127.0.0.1:9".to_owned());
        }
        map.networks
            .insert("eip155:31337".to_owned(), "devnet-ethereum".to_owned());
        map
    }

    fn build(venue: &str, credentials: &Credentials) -> Result<Venue, ExchangeError> {
        let coin = AssetCode::new("USDC").unwrap();
        let chain: ChainId = "eip155:31337".parse().unwrap();
        let target = SettlementTarget {
            asset: &coin,
            chain: &chain,
            address: "0x000000000000000000000000000000000000dEaD",
        };
        HttpVenueClients::default()
            .client(venue, credentials, &map(), target)
            .map(|c| c.venue())
    }

    #[test]
    fn each_venue_builds_its_own_client_from_its_market_credentials() {
        for (name, venue) in [
            ("binance", Venue::Binance),
            ("kraken", Venue::Kraken),
            ("coinbase", Venue::Coinbase),
        ] {
            let credentials = HttpVenueClients::default()
                .market_credentials(name)
                .unwrap();
            assert_eq!(build(name, &credentials).unwrap(), venue, "{name}");
        }
    }

    #[test]
    fn an_unknown_or_unconfigured_venue_is_a_configuration_error() {
        let credentials = HttpVenueClients::default()
            .market_credentials("kraken")
            .unwrap();
        for name in ["bitstamp", ""] {
            let err = build(name, &credentials).err().unwrap();
            assert!(matches!(err, ExchangeError::Config { .. }), "{name}: {err}");
        }
    }

    #[test]
    fn a_coinbase_secret_that_is_not_a_key_is_refused() {
        let credentials = Credentials {
            api_key: "organizations/o/apiKeys/k".into(),
            api_secret: "not a pem".into(),
            withdraw_key: None,
        };
        let err = build("coinbase", &credentials).err().unwrap();
        assert!(matches!(err, ExchangeError::Config { .. }), "{err}");
    }
}
