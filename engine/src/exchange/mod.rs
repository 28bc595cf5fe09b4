//! Paying from an exchange account: the payer links a Kraken, Binance or Coinbase account to a
//! payment with API credentials (sealed at rest, erased when the payment ends unless kept), and
//! Rialto buys the settlement stablecoin there if the account holds too little and withdraws
//! exactly what the merchant is owed (plus the venue's fee) to the settlement address on the
//! settlement chain. The withdrawal's transaction then pays the intent like any other.
//!
//! In sandbox mode every venue is the sandbox exchange (`rialto_connectors` sandbox), which
//! speaks each venue's wire API; its withdrawals are real token transfers on the devnet
//! ([`DevnetSink`]), sent from the exchange's own omnibus wallet.
//!
//! Coinbase OAuth would plug in next to the API-key credentials: an `oauth` credential kind
//! holding the sealed refresh token, a client built with a bearer token instead of the CDP JWT,
//! and a refresh before each call; the link, legs and erasure stay as they are.

mod devnet_sink;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::exchange::binance::{Binance, BinanceConfig, BinanceNetwork};
use rialto_connectors::exchange::coinbase::{CdpKey, Coinbase, CoinbaseConfig, CoinbaseNetwork};
use rialto_connectors::exchange::kraken::{Kraken, KrakenConfig, KrakenNetwork, KrakenWithdrawKey};
use rialto_connectors::exchange::sandbox::{Sandbox, SandboxBook, SandboxConfig, SandboxNetwork};
use rialto_connectors::exchange::{AssetCode, BookLevel, Exchange, ExchangeError, Pair, Venue};
use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use devnet_sink::DevnetSink;

/// Credentials a payer gives (stored only sealed).
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub api_key: String,
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

/// Where a venue's API is and how it names networks, for one mode.
#[derive(Debug, Clone)]
pub struct Venues {
    /// Base URL per venue (`binance`, `kraken`, `coinbase`). In sandbox mode all point at the
    /// sandbox exchange.
    pub base_urls: BTreeMap<String, String>,
    /// The networks the venues withdraw to: CAIP-2 → the venue's name for it (we use one
    /// lower-case alias for all three on the devnet; live venues need their real names).
    pub networks: BTreeMap<String, String>,
    /// Coinbase's withdrawal fee and minimum per network (CAIP-2): its API does not publish
    /// them, so they are configured (the sandbox's own terms in sandbox mode).
    pub coinbase_terms: BTreeMap<String, (Decimal, Decimal)>,
}

/// The network names the sandbox exchange knows a devnet chain by.
fn sandbox_network_name(alias: &str) -> String {
    alias.to_owned()
}

/// Builds the venue's real client for `credentials`, pointed at `venues`' base URL.
pub fn client(
    venue: &str,
    credentials: &Credentials,
    venues: &Venues,
    settlement: (&AssetCode, &ChainId, &str),
) -> Result<Box<dyn Exchange>, ExchangeError> {
    let config_error = |message: String| ExchangeError::Config {
        venue: Venue::Sandbox,
        message,
    };
    let base = venues
        .base_urls
        .get(venue)
        .ok_or_else(|| config_error(format!("venue {venue} is not configured")))?;
    let (asset, chain, address) = settlement;
    let network = venues
        .networks
        .get(&chain.to_string())
        .cloned()
        .ok_or_else(|| config_error(format!("no network name for {chain}")))?;
    let key = SecretString::from(credentials.api_key.clone());
    let secret = SecretString::from(credentials.api_secret.clone());
    let timeout = Duration::from_secs(10);
    match venue {
        "binance" => {
            let mut c = BinanceConfig::new(base.clone(), key, secret);
            c.timeout = timeout;
            c.networks = vec![BinanceNetwork {
                asset: asset.clone(),
                network: chain.clone(),
                binance_network: network.to_ascii_uppercase(),
            }];
            Ok(Box::new(Binance::new(c)?))
        }
        "kraken" => {
            let mut c = KrakenConfig::new(base.clone(), key, secret);
            c.timeout = timeout;
            c.networks = vec![KrakenNetwork {
                asset: asset.clone(),
                network: chain.clone(),
                withdraw_network: network.clone(),
                // The venue's deposit method is named after the network (the sandbox's are;
                // live Kraken names need the venue map of `Venues::networks`).
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
        "coinbase" => {
            let pem = SecretString::from(credentials.api_secret.clone());
            let cdp = CdpKey::from_pem(credentials.api_key.clone(), &pem).map_err(config_error)?;
            let mut c = CoinbaseConfig::new(base.clone(), cdp);
            c.timeout = timeout;
            let (fee, minimum) = venues
                .coinbase_terms
                .get(&chain.to_string())
                .copied()
                .unwrap_or_default();
            c.networks = vec![CoinbaseNetwork {
                asset: asset.clone(),
                network: chain.clone(),
                coinbase_network: network.to_ascii_lowercase(),
                withdrawal_fee: fee,
                withdrawal_minimum: minimum,
            }];
            Ok(Box::new(Coinbase::new(c)?))
        }
        other => Err(config_error(format!("unknown venue {other}"))),
    }
}

/// Starts the sandbox exchange for the devnet: a USDC/USD book around par, the payer's account
/// funded with USD and some USDC, USDC withdrawals to every devnet chain (fee 0.10 USDC,
/// minimum 1 USDC) landing through `sink`. Returns it and the venue map pointing at it.
pub async fn start_sandbox_exchange(
    sink: Arc<DevnetSink>,
    chains: &[(String, String)],
) -> std::io::Result<(Sandbox, Venues)> {
    let d = |text: &str| text.parse::<Decimal>().unwrap_or_default();
    let (usd, usdc) = AssetCode::new("USD")
        .zip(AssetCode::new("USDC"))
        .ok_or_else(|| std::io::Error::other("asset codes"))?;
    let code = |c: &str| {
        if c == "USD" {
            usd.clone()
        } else {
            usdc.clone()
        }
    };
    let mut config = SandboxConfig::new(sink);
    config.balances = BTreeMap::from([(code("USD"), d("100000")), (code("USDC"), d("10"))]);
    let book = SandboxBook {
        bids: vec![BookLevel {
            price: d("0.9999"),
            size: d("1000000"),
        }],
        asks: vec![BookLevel {
            price: d("1.0001"),
            size: d("1000000"),
        }],
    };
    config.books = BTreeMap::from([(Pair::new(code("USDC"), code("USD")), book)]);
    config.taker_fee_rate = d("0.001");
    config.min_notional = d("1");
    let mut networks = BTreeMap::new();
    let mut coinbase_terms = BTreeMap::new();
    for (caip2, alias) in chains {
        let Ok(chain) = caip2.parse::<ChainId>() else {
            continue;
        };
        let name = sandbox_network_name(alias);
        config.networks.push(SandboxNetwork {
            asset: code("USDC"),
            chain,
            binance: name.to_ascii_uppercase(),
            kraken: name.clone(),
            coinbase: name.to_ascii_lowercase(),
            withdrawal_fee: d("0.1"),
            withdrawal_minimum: d("1"),
            deposit_address: "0x000000000000000000000000000000000000dEaD".into(),
        });
        networks.insert(caip2.clone(), name);
        coinbase_terms.insert(caip2.clone(), (d("0.1"), d("1")));
    }
    let sandbox = Sandbox::start(config).await?;
    let url = sandbox.base_url();
    let base_urls = ["binance", "kraken", "coinbase"]
        .into_iter()
        .map(|v| (v.to_owned(), url.clone()))
        .collect();
    Ok((
        sandbox,
        Venues {
            base_urls,
            networks,
            coinbase_terms,
        },
    ))
}

/// The sandbox exchange for a devnet manifest: its omnibus wallet is the manifest's last payer
/// account (funded with every sandbox token on every chain).
pub async fn sandbox_for_manifest(
    manifest: &rialto_evm::DevnetManifest,
) -> anyhow::Result<(Sandbox, Venues)> {
    use anyhow::Context;
    use secrecy::ExposeSecret;
    let first = manifest
        .chains
        .first()
        .context("the devnet manifest lists no chains")?;
    let omnibus = first
        .payers
        .last()
        .context("the devnet manifest lists no payers")?;
    let signer: rialto_evm::sender::PrivateKeySigner = omnibus
        .private_key
        .expose_secret()
        .parse()
        .context("the omnibus key in the devnet manifest")?;
    let mut sink_chains = BTreeMap::new();
    let mut named = Vec::new();
    for c in &manifest.chains {
        let caip2 = c.chain_id.to_string();
        let chain_id = crate::chain::eip155_id(&caip2)?;
        let tokens = c
            .tokens
            .iter()
            .map(|(symbol, t)| {
                let token = devnet_sink::SinkToken {
                    contract: t.address,
                    decimals: u32::from(t.decimals),
                };
                (symbol.to_ascii_uppercase(), token)
            })
            .collect();
        sink_chains.insert(
            caip2.clone(),
            devnet_sink::SinkChain {
                chain_id,
                rpc_url: c.rpc_url.clone(),
                tokens,
            },
        );
        named.push((caip2, c.alias.clone()));
    }
    let sink = Arc::new(DevnetSink::new(signer, sink_chains));
    Ok(start_sandbox_exchange(sink, &named).await?)
}

/// What a venue did for a payer paying from its account: recorded on the exchange account, and
/// posted to the ledger when the payment succeeds (`conversion` and `fee`, in venue-held
/// assets named `venue:{venue}/{code}`: the payer's money on the venue, outside Rialto's
/// custody, shown so every fee of the route is explained).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    /// The conversion trade, when the account held too little of the coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade: Option<ConversionTrade>,
    /// The coin withdrawn and the venue's withdrawal fee in it.
    pub coin: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub withdrawal_fee: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversionTrade {
    pub base: String,
    pub quote: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_base: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_quote: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
    pub fee_asset: String,
}

/// The ledger postings of a conversion recorded on `account` (see [`Conversion`]).
pub fn conversion_postings(
    account: &crate::store::exchange::ExchangeAccount,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    use crate::ledger::{Entry, Posting, PAYERS};
    let Some(conversion) = account
        .conversion
        .as_deref()
        .and_then(|c| serde_json::from_str::<Conversion>(c).ok())
    else {
        return Vec::new();
    };
    let venue = crate::ledger::Account::Venue(account.venue.clone());
    let fees = crate::ledger::Account::VenueFees(account.venue.clone());
    let asset = |code: &str| format!("{venue}/{}", code.to_ascii_lowercase());
    let entry = |account: &crate::ledger::Account, asset: String, amount: Decimal| Entry {
        account: account.clone(),
        asset,
        amount,
    };
    let owner = (account.merchant_id, account.livemode);
    let mut out = Vec::new();
    let mut post = |kind: &str, reference: &str, entries: Vec<Entry>| {
        if let Ok(p) = Posting::for_merchant(owner.0, owner.1, kind, reference, entries, now_ms) {
            out.push(p);
        }
    };
    if let Some(t) = conversion
        .trade
        .as_ref()
        .filter(|t| !t.filled_base.is_zero())
    {
        post(
            "conversion",
            &account.order_leg,
            vec![
                entry(&PAYERS, asset(&t.quote), -t.filled_quote),
                entry(&venue, asset(&t.quote), t.filled_quote),
                entry(&venue, asset(&t.base), -t.filled_base),
                entry(&PAYERS, asset(&t.base), t.filled_base),
            ],
        );
        if t.fee > Decimal::ZERO {
            post(
                "fee",
                &account.order_leg,
                vec![
                    entry(&PAYERS, asset(&t.fee_asset), -t.fee),
                    entry(&fees, asset(&t.fee_asset), t.fee),
                ],
            );
        }
    }
    if conversion.withdrawal_fee > Decimal::ZERO {
        post(
            "fee",
            &account.withdrawal_leg,
            vec![
                entry(&PAYERS, asset(&conversion.coin), -conversion.withdrawal_fee),
                entry(&fees, asset(&conversion.coin), conversion.withdrawal_fee),
            ],
        );
    }
    out
}

use crate::error::EngineError;
use crate::store::exchange::ExchangeAccount;
use crate::store::PaymentTransaction;
use crate::store::{PaymentSource, PaymentTxStatus};
use rialto_core::intent::PaymentIntent;

/// Binds the withdrawal's transaction to the intent; the chain worker confirms and screens it.
pub async fn claim_withdrawal(
    state: &crate::services::Engine,
    intent: &PaymentIntent,
    account: &ExchangeAccount,
    tx_hash: &str,
) -> Result<(), EngineError> {
    // Venues write hashes their own way (upper case, no 0x, or an internal-transfer note): only
    // a real transaction hash, normalised, is bound; anything else waits for an operator.
    let chain_id = intent.settlement.asset.id.chain().to_string();
    let Some(chain) = state.chains.get(intent.livemode, &chain_id) else {
        tracing::warn!(account = %account.id, chain = %chain_id, "a withdrawal landed on a chain this gateway does not serve");
        return Ok(());
    };
    let Ok(hash) = chain.node.parse_tx_ref(tx_hash.trim()) else {
        tracing::warn!(account = %account.id, tx = %tx_hash, "venue reported a withdrawal without a transaction hash");
        return Ok(());
    };
    let claim = PaymentTransaction {
        chain_id,
        tx_hash: hash,
        payment_intent_id: intent.id,
        payer: format!("exchange:{}", account.venue),
        amount: intent.amount.to_amount_string(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Exchange,
        created_at_ms: state.clock.now_ms(),
    };
    state.store.claim_transaction(&claim).await?;
    Ok(())
}

/// How a venue's refusal reaches the payer: its own code, the venue's words only where they
/// help (never a credential).
pub fn exchange_error(err: &ExchangeError) -> EngineError {
    use ExchangeError as E;
    let (code, message) = match err {
        E::InsufficientFunds { message, .. } | E::InsufficientLiquidity { message, .. } => (
            crate::error::ErrorCode::ExchangeInsufficientFunds,
            format!("The exchange account cannot cover this payment: {message}"),
        ),
        E::BelowMinimum { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("Below the venue's minimum: {message}"),
        ),
        E::AddressNotWhitelisted { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("Whitelist the settlement address on the exchange first: {message}"),
        ),
        E::Auth { .. } => (
            crate::error::ErrorCode::ExchangeAuthFailed,
            "The exchange refused these credentials (check the key's trade and withdraw scopes)."
                .into(),
        ),
        E::RateLimited { .. } | E::Unavailable { .. } | E::Unknown { .. } => (
            crate::error::ErrorCode::ExchangeUnavailable,
            "The exchange did not answer in time; retry with the same Idempotency-Key.".into(),
        ),
        E::InvalidSymbol { message, .. } | E::Rejected { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("The exchange refused: {message}"),
        ),
        E::Unsupported { what, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("The exchange cannot do this: {what}"),
        ),
        E::Decode { .. } | E::Config { .. } => (
            crate::error::ErrorCode::ExchangeUnavailable,
            "The exchange answered in a way we could not read; retry shortly.".into(),
        ),
    };
    EngineError::new(code, message)
}
