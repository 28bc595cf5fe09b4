//! The port that builds a venue's client: [`VenueClients`], with what it is given (the payer's
//! [`Credentials`], the mode's [`VenueMap`], the [`SettlementTarget`] withdrawals go to).
//!
//! Code that must not link an HTTP client (the engine) holds an `Arc<dyn VenueClients>` and
//! gets `Box<dyn Exchange>` from it; the implementation that builds the real Kraken, Binance
//! and Coinbase clients is `HttpVenueClients` (feature `clients`), wired by the gateway.

use std::collections::BTreeMap;

use rialto_core::ChainId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AssetCode, Exchange, ExchangeError};

/// API credentials for one venue account: a payer's (stored only sealed), or Rialto's own read
/// credentials for market data.
///
/// The serde form is what is sealed at rest: field names stay as they are.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The API key. Coinbase: the CDP key name.
    pub api_key: String,
    /// The API secret. Coinbase: the EC private key (PEM).
    pub api_secret: String,
    /// Kraken: the name of the withdrawal key the payer whitelisted for the merchant's address.
    #[serde(default)]
    pub withdraw_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// Where each venue's API is and how it names networks, for one mode. Plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenueMap {
    /// Base URL per venue (`binance`, `kraken`, `coinbase`). In sandbox mode all point at the
    /// sandbox exchange. A venue missing here is not offered in this mode.
    pub base_urls: BTreeMap<String, String>,
    /// The networks the venues withdraw to: CAIP-2 → the venue's name for it (we use one
    /// lower-case alias for all three on the devnet; live venues need their real names).
    pub networks: BTreeMap<String, String>,
    /// Per venue, its own names for the networks (CAIP-2 → name), used as written and taking
    /// precedence over `networks`: live venues name one chain differently (Binance `BASE`,
    /// Coinbase `base`, a Kraken withdrawal method).
    pub venue_networks: BTreeMap<String, BTreeMap<String, String>>,
    /// Coinbase's withdrawal fee and minimum per network (CAIP-2): its API does not publish
    /// them, so they are configured (the sandbox's own terms in sandbox mode).
    pub coinbase_terms: BTreeMap<String, (Decimal, Decimal)>,
}

impl VenueMap {
    /// Whether `venue` is configured in this mode.
    pub fn offers(&self, venue: &str) -> bool {
        self.base_urls.contains_key(venue)
    }

    /// `venue`'s name for the network `caip2`: its own configured name, else the shared one
    /// in the venue's case convention (Binance upper, Coinbase lower, Kraken as written).
    pub fn network_name(&self, venue: &str, caip2: &str) -> Option<String> {
        if let Some(own) = self.venue_networks.get(venue) {
            return own.get(caip2).cloned();
        }
        let shared = self.networks.get(caip2)?;
        Some(match venue {
            "binance" => shared.to_ascii_uppercase(),
            "coinbase" => shared.to_ascii_lowercase(),
            _ => shared.clone(),
        })
    }
}

/// What a client is set up to withdraw, and where to: the settlement coin, its chain, and the
/// address (whitelisted on venues that need it, such as Kraken's withdrawal keys).
#[derive(Debug, Clone, Copy)]
pub struct SettlementTarget<'a> {
    pub asset: &'a AssetCode,
    pub chain: &'a ChainId,
    pub address: &'a str,
}

/// Builds venue clients. Building sends nothing: the client talks to its venue only when
/// called, so a client built and dropped has no effect.
pub trait VenueClients: Send + Sync + std::fmt::Debug {
    /// The client of `venue` (`binance`, `kraken`, `coinbase`) for the account `credentials`
    /// open, at the venue's base URL in `venues`, set up to withdraw to `settlement`.
    ///
    /// Fails with [`ExchangeError::Config`] when the venue is unknown, not in `venues`, has no
    /// network name for the settlement chain, or the credentials cannot be parsed (a Coinbase
    /// PEM that is not a P-256 key).
    fn client(
        &self,
        venue: &str,
        credentials: &Credentials,
        venues: &VenueMap,
        settlement: SettlementTarget<'_>,
    ) -> Result<Box<dyn Exchange>, ExchangeError>;

    /// Rialto's own credentials for public reads (books, withdrawal terms) on `venue`.
    ///
    /// Today these are placeholders that only the sandbox accepts (Coinbase's is a fixed
    /// sandbox CDP key: its client signs even public reads); live mode needs Rialto's own read
    /// keys here.
    fn market_credentials(&self, venue: &str) -> Result<Credentials, ExchangeError>;
}
