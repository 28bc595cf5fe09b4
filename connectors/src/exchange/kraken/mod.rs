//! Kraken spot REST client.
//!
//! Private calls are `POST /0/private/<Method>` with a form body carrying a strictly
//! increasing `nonce`, signed as described in [`api_sign`]. Kraken answers HTTP 200 with an
//! `error` list for most failures, so errors are mapped from that list (`wire::map_errors`).

mod sign;
mod wire;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

pub use sign::{api_sign, ClockNonce, FileNonce, NonceSource};

use self::wire::*;
use super::http::{self, Effect};
use super::{
    client_order_id, walk_book, AssetCode, Balance, BookLevel, Capabilities, DepositAddress,
    Exchange, ExchangeError, KeyAccess, Order, OrderKind, OrderRequest, OrderType, Pair, Quote,
    Side, SystemClock, Venue, VenueLimiter, Withdrawal, WithdrawalRequest, WithdrawalTerms,
};

const VENUE: Venue = Venue::Kraken;

/// Kraken's refusal of a valid key that lacks the call's permission.
fn permission_denied(error: &ExchangeError) -> bool {
    matches!(error, ExchangeError::Auth { message, .. } if message.contains("Permission denied"))
}

/// One asset on one network as Kraken names it.
#[derive(Debug, Clone)]
pub struct KrakenNetwork {
    pub asset: AssetCode,
    pub network: ChainId,
    /// The `network` field of `WithdrawMethods` (e.g. `Ethereum`, `Base`, `Solana`).
    pub withdraw_network: String,
    /// The deposit `method` name from `DepositMethods` (e.g. `USDC`).
    pub deposit_method: String,
}

/// A withdrawal address registered (whitelisted) in the Kraken account under `key`. Kraken
/// withdraws only to such keys, so an address without one is refused before anything is sent.
#[derive(Debug, Clone)]
pub struct KrakenWithdrawKey {
    pub asset: AssetCode,
    pub network: ChainId,
    pub address: String,
    pub key: String,
}

/// Kraken's verification tiers, which set the private-call rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KrakenTier {
    Starter,
    Intermediate,
    Pro,
}

impl KrakenTier {
    /// (counter maximum, time for the counter to decay by one), per Kraken's "Spot REST Rate
    /// Limits" guide (docs.kraken.com): Starter 15 and −0.33/s, Intermediate 20 and −0.5/s,
    /// Pro 20 and −1/s; most private calls cost 1. Kraken meters AddOrder on the matching
    /// engine's per-pair counter instead; we charge it here too, which only errs on the safe side.
    fn private_limit(self) -> (u32, Duration) {
        match self {
            Self::Starter => (15, Duration::from_secs(3)),
            Self::Intermediate => (20, Duration::from_secs(2)),
            Self::Pro => (20, Duration::from_secs(1)),
        }
    }
}

/// Everything the Kraken client needs. Secrets are `SecretString` and never logged.
#[derive(Debug)]
pub struct KrakenConfig {
    /// `https://api.kraken.com` live; a sandbox or test server otherwise.
    pub base_url: String,
    pub api_key: SecretString,
    /// The base64 API secret as Kraken shows it.
    pub api_secret: SecretString,
    /// Taker fee for quotes (Kraken Pro's entry tier is 0.40%).
    pub taker_fee_rate: Decimal,
    pub timeout: Duration,
    /// Applied to the HTTP client before it is built (the gateway's TLS roots).
    pub http_setup: Option<super::HttpSetup>,
    pub networks: Vec<KrakenNetwork>,
    pub withdraw_keys: Vec<KrakenWithdrawKey>,
    pub nonce: Arc<dyn NonceSource>,
    /// The account's verification tier (Starter unless known: the tightest limit).
    pub tier: KrakenTier,
    /// Longest the limiter waits before answering `RateLimited` itself.
    pub max_limiter_wait: Duration,
}

impl KrakenConfig {
    pub fn new(
        base_url: impl Into<String>,
        api_key: SecretString,
        api_secret: SecretString,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            api_secret,
            taker_fee_rate: Decimal::new(40, 4),
            timeout: Duration::from_secs(10),
            http_setup: None,
            networks: Vec::new(),
            withdraw_keys: Vec::new(),
            nonce: Arc::new(ClockNonce::new(Arc::new(SystemClock))),
            tier: KrakenTier::Starter,
            max_limiter_wait: Duration::from_secs(2),
        }
    }
}

/// A Kraken account.
#[derive(Debug)]
pub struct Kraken {
    config: KrakenConfig,
    http: reqwest::Client,
    capabilities: Capabilities,
    private_limit: VenueLimiter,
    public_limit: VenueLimiter,
}

impl Kraken {
    pub fn new(config: KrakenConfig) -> Result<Self, ExchangeError> {
        let http = super::HttpSetup::apply(config.http_setup.as_ref(), reqwest::Client::builder())
            .timeout(config.timeout)
            .user_agent("rialto-connectors")
            .build()
            .map_err(|e| ExchangeError::Config {
                venue: VENUE,
                message: e.to_string(),
            })?;
        let mut capabilities = Capabilities {
            order_types: vec![OrderType::Market, OrderType::LimitIoc],
            ..Capabilities::default()
        };
        for n in &config.networks {
            capabilities
                .assets
                .entry(n.asset.clone())
                .or_default()
                .push(n.network.clone());
        }
        let (burst, decay) = config.tier.private_limit();
        let private_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            decay,
            config.max_limiter_wait,
        );
        // Public market data: "a frequency of 1 per second (or less) would remain within the rate
        // limits" (Kraken support, "What are the API rate limits?").
        let public_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::MIN,
            Duration::from_secs(1),
            config.max_limiter_wait,
        );
        Ok(Self {
            config,
            http,
            capabilities,
            private_limit,
            public_limit,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    async fn public<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ExchangeError> {
        self.public_limit.acquire(1).await?;
        let request = self.http.get(self.url(path)).query(query);
        let response = http::send(VENUE, request, Effect::Read).await?;
        unwrap_envelope(&response, Effect::Read, None)
    }

    /// A signed private call. `operation` is set for money-moving methods.
    async fn private<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &[(&str, String)],
        operation: Option<&'static str>,
    ) -> Result<T, ExchangeError> {
        self.private_limit.acquire(1).await?;
        let path = format!("/0/private/{method}");
        let nonce = self
            .config
            .nonce
            .next()
            .map_err(|e| ExchangeError::Config {
                venue: VENUE,
                message: e.to_string(),
            })?;
        let body = form_body(nonce, params);
        // A secret that cannot sign (not base64) is the caller's credential, not our set-up:
        // an authentication failure they can fix, never a "retry later".
        let signature = api_sign(self.config.api_secret.expose_secret(), &path, nonce, &body)
            .map_err(|e| ExchangeError::Auth {
                venue: VENUE,
                message: e.to_string(),
            })?;
        let request = self
            .http
            .post(self.url(&path))
            .header("API-Key", self.config.api_key.expose_secret())
            .header("API-Sign", signature)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        let effect = operation.map_or(Effect::Read, Effect::MovesMoney);
        let response = http::send(VENUE, request, effect).await?;
        unwrap_envelope(&response, effect, operation)
    }

    fn network(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<&KrakenNetwork, ExchangeError> {
        self.config
            .networks
            .iter()
            .find(|n| &n.asset == asset && &n.network == network)
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("{asset} on {network}"),
            })
    }

    async fn orders_by_client_id(
        &self,
        cl_ord_id: &str,
    ) -> Result<Vec<(String, KrakenOrderInfo)>, ExchangeError> {
        let params = [("cl_ord_id", cl_ord_id.to_owned())];
        let open: KrakenOpenOrders = self.private("OpenOrders", &params, None).await?;
        let closed: KrakenClosedOrders = self.private("ClosedOrders", &params, None).await?;
        Ok(open
            .open
            .into_iter()
            .chain(closed.closed)
            .filter(|(_, o)| o.cl_ord_id.as_deref() == Some(cl_ord_id))
            .collect())
    }

    async fn withdrawals(&self, asset: &AssetCode) -> Result<Vec<KrakenWithdrawal>, ExchangeError> {
        self.private("WithdrawStatus", &[("asset", to_kraken_asset(asset))], None)
            .await
    }
}

/// The form body, nonce first. Built synchronously: the serializer is not `Send`.
fn form_body(nonce: u64, params: &[(&str, String)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("nonce", &nonce.to_string());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish()
}

fn kraken_pair(pair: &Pair) -> String {
    format!(
        "{}{}",
        to_kraken_asset(&pair.base),
        to_kraken_asset(&pair.quote)
    )
}

fn unwrap_envelope<T: DeserializeOwned>(
    response: &http::RawResponse,
    effect: Effect,
    operation: Option<&'static str>,
) -> Result<T, ExchangeError> {
    if let Some(error) = http::classify_status(VENUE, response, effect) {
        return Err(error);
    }
    let envelope: KrakenEnvelope<T> = http::parse(VENUE, &response.body, effect)?;
    if !envelope.error.is_empty() {
        return Err(map_errors(&envelope.error, operation));
    }
    if !response.status.is_success() {
        let message = format!(
            "HTTP {}: {}",
            response.status,
            http::snippet(&response.body)
        );
        return Err(ExchangeError::Rejected {
            venue: VENUE,
            message,
        });
    }
    envelope.result.ok_or_else(|| {
        http::decode_error(VENUE, effect, "answer has neither result nor error".into())
    })
}

fn to_order(txid: String, info: KrakenOrderInfo, pair: &Pair, quote: &AssetCode) -> Order {
    Order {
        venue: VENUE,
        venue_order_id: txid,
        client_order_id: info.cl_ord_id.clone().unwrap_or_default(),
        pair: pair.clone(),
        side: match info.descr.side {
            KrakenSide::Buy => Side::Buy,
            KrakenSide::Sell => Side::Sell,
        },
        status: info.status(),
        filled_base: info.vol_exec,
        filled_quote: info.cost,
        fee: info.fee,
        // Kraken charges spot fees in the quote currency by default (`fciq`).
        fee_asset: Some(quote.clone()),
    }
}

fn to_withdrawal(w: KrakenWithdrawal, asset: &AssetCode, network: Option<ChainId>) -> Withdrawal {
    Withdrawal {
        venue: VENUE,
        status: w.status(),
        venue_withdrawal_id: w.refid,
        asset: asset.clone(),
        network,
        address: w.info,
        amount: w.amount,
        fee: w.fee,
        tx_hash: w.txid.filter(|t| !t.is_empty()),
    }
}

#[async_trait]
impl Exchange for Kraken {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        let raw: std::collections::BTreeMap<String, Decimal> =
            self.private("Balance", &[], None).await?;
        Ok(raw
            .into_iter()
            .filter(|(_, amount)| !amount.is_zero())
            .filter_map(|(code, amount)| {
                from_kraken_asset(&code).map(|asset| Balance {
                    asset,
                    available: amount,
                    held: Decimal::ZERO,
                })
            })
            .collect())
    }

    async fn quote(
        &self,
        pair: &Pair,
        side: Side,
        base_size: Decimal,
    ) -> Result<Quote, ExchangeError> {
        let query = [("pair", kraken_pair(pair)), ("count", "100".to_owned())];
        let books: std::collections::BTreeMap<String, KrakenBook> =
            self.public("/0/public/Depth", &query).await?;
        let book = books
            .into_values()
            .next()
            .ok_or_else(|| ExchangeError::InvalidSymbol {
                venue: VENUE,
                message: format!("no book for {pair}"),
            })?;
        let side_levels = match side {
            Side::Buy => book.asks,
            Side::Sell => book.bids,
        };
        let levels: Vec<BookLevel> = side_levels
            .iter()
            .map(|l| BookLevel {
                price: l.0,
                size: l.1,
            })
            .collect();
        walk_book(
            VENUE,
            pair,
            side,
            base_size,
            &levels,
            self.config.taker_fee_rate,
        )
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<Order, ExchangeError> {
        let cl_ord_id = client_order_id(VENUE, &order.leg);
        let mut params = vec![
            ("pair", kraken_pair(&order.pair)),
            (
                "type",
                match order.side {
                    Side::Buy => "buy",
                    Side::Sell => "sell",
                }
                .to_owned(),
            ),
            ("volume", order.base_size.normalize().to_string()),
            ("cl_ord_id", cl_ord_id.clone()),
        ];
        match order.kind {
            OrderKind::Market => params.push(("ordertype", "market".to_owned())),
            OrderKind::LimitIoc { limit_price } => {
                params.push(("ordertype", "limit".to_owned()));
                params.push(("price", limit_price.normalize().to_string()));
                params.push(("timeinforce", "IOC".to_owned()));
            }
        }
        let added: KrakenAddOrderResponse = self
            .private("AddOrder", &params, Some("place order"))
            .await?;
        let txid = added.txid.into_iter().next().ok_or_else(|| {
            http::decode_error(
                VENUE,
                Effect::MovesMoney("place order"),
                "AddOrder returned no txid".into(),
            )
        })?;
        Ok(Order {
            venue: VENUE,
            venue_order_id: txid,
            client_order_id: cl_ord_id,
            pair: order.pair.clone(),
            side: order.side,
            status: super::OrderStatus::Pending,
            filled_base: Decimal::ZERO,
            filled_quote: Decimal::ZERO,
            fee: Decimal::ZERO,
            fee_asset: Some(order.pair.quote.clone()),
        })
    }

    async fn order_status(
        &self,
        pair: &Pair,
        venue_order_id: &str,
    ) -> Result<Order, ExchangeError> {
        let found: std::collections::BTreeMap<String, KrakenOrderInfo> = self
            .private("QueryOrders", &[("txid", venue_order_id.to_owned())], None)
            .await?;
        let (txid, info) = found
            .into_iter()
            .find(|(txid, _)| txid == venue_order_id)
            .ok_or_else(|| ExchangeError::Rejected {
                venue: VENUE,
                message: format!("no order {venue_order_id}"),
            })?;
        Ok(to_order(txid, info, pair, &pair.quote))
    }

    async fn find_order(&self, order: &OrderRequest) -> Result<Option<Order>, ExchangeError> {
        let cl_ord_id = client_order_id(VENUE, &order.leg);
        let mut found = self.orders_by_client_id(&cl_ord_id).await?;
        Ok(found
            .pop()
            .map(|(txid, info)| to_order(txid, info, &order.pair, &order.pair.quote)))
    }

    async fn withdrawal_terms(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError> {
        let net = self.network(asset, network)?;
        let methods: Vec<KrakenWithdrawMethod> = self
            .private(
                "WithdrawMethods",
                &[("asset", to_kraken_asset(asset))],
                None,
            )
            .await?;
        let method = methods
            .into_iter()
            .find(|m| m.network.as_deref() == Some(net.withdraw_network.as_str()))
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("withdrawing {asset} on {network}"),
            })?;
        let key = self
            .config
            .withdraw_keys
            .iter()
            .find(|k| &k.asset == asset && &k.network == network)
            .ok_or_else(|| ExchangeError::AddressNotWhitelisted {
                venue: VENUE,
                message: format!("no withdrawal key configured for {asset} on {network}"),
            })?;
        // WithdrawInfo prices a withdrawal to a key; the minimum is the fee's natural amount.
        let info: KrakenWithdrawInfo = self
            .private(
                "WithdrawInfo",
                &[
                    ("asset", to_kraken_asset(asset)),
                    ("key", key.key.clone()),
                    ("amount", method.minimum.to_string()),
                ],
                None,
            )
            .await?;
        tracing::debug!(method = %method.method, info_method = ?info.method, "kraken withdrawal terms");
        Ok(WithdrawalTerms {
            asset: asset.clone(),
            network: network.clone(),
            fee: info.fee,
            minimum: method.minimum,
        })
    }

    async fn withdraw(&self, request: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError> {
        let key = self
            .config
            .withdraw_keys
            .iter()
            .find(|k| {
                k.asset == request.asset
                    && k.network == request.network
                    && k.address == request.address
            })
            .ok_or_else(|| ExchangeError::AddressNotWhitelisted {
                venue: VENUE,
                message: format!("{} has no Kraken withdrawal key", request.address),
            })?;
        let params = [
            ("asset", to_kraken_asset(&request.asset)),
            ("key", key.key.clone()),
            ("amount", request.amount.normalize().to_string()),
            // Kraken checks that the key still points at this address.
            ("address", request.address.clone()),
        ];
        let sent: KrakenWithdrawResponse =
            self.private("Withdraw", &params, Some("withdraw")).await?;
        Ok(Withdrawal {
            venue: VENUE,
            venue_withdrawal_id: sent.refid,
            asset: request.asset.clone(),
            network: Some(request.network.clone()),
            address: Some(request.address.clone()),
            amount: request.amount,
            fee: None,
            status: super::WithdrawalStatus::Pending,
            tx_hash: None,
        })
    }

    async fn withdrawal_status(
        &self,
        asset: &AssetCode,
        venue_withdrawal_id: &str,
    ) -> Result<Withdrawal, ExchangeError> {
        let found = self
            .withdrawals(asset)
            .await?
            .into_iter()
            .find(|w| w.refid == venue_withdrawal_id)
            .ok_or_else(|| ExchangeError::Rejected {
                venue: VENUE,
                message: format!("no withdrawal {venue_withdrawal_id}"),
            })?;
        let network = self.network_named(asset, found.network.as_deref());
        Ok(to_withdrawal(found, asset, network))
    }

    /// Kraken takes no client reference for withdrawals, so a withdrawal is recognised by its
    /// address, amount and a time after the leg was created. Two candidates are ambiguous and
    /// stay `Unknown` rather than guessing.
    async fn find_withdrawal(
        &self,
        request: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError> {
        let since = request.leg.timestamp_ms() / 1000;
        let mut candidates: Vec<KrakenWithdrawal> = self
            .withdrawals(&request.asset)
            .await?
            .into_iter()
            .filter(|w| w.info.as_deref() == Some(request.address.as_str()))
            .filter(|w| {
                w.amount == request.amount
                    || Some(w.amount + w.fee.unwrap_or_default()) == Some(request.amount)
            })
            .filter(|w| w.time_secs().is_some_and(|t| t >= since))
            .collect();
        match candidates.len() {
            0 => Ok(None),
            1 => Ok(candidates
                .pop()
                .map(|w| to_withdrawal(w, &request.asset, Some(request.network.clone())))),
            n => Err(ExchangeError::Unknown {
                venue: VENUE,
                operation: "withdraw",
                message: format!(
                    "{n} Kraken withdrawals match {} {} to {}",
                    request.amount, request.asset, request.address
                ),
            }),
        }
    }

    async fn key_access(&self) -> Result<KeyAccess, ExchangeError> {
        // Kraken has no call that lists a key's permissions: `Balance` needs "Query Funds",
        // `WithdrawMethods` "Withdraw Funds"; a refusal of either for want of permission is
        // `EGeneral:Permission denied`, while a bad key or signature fails `Balance` itself.
        // No read-only call proves the trading permission.
        let read = match self
            .private::<serde_json::Value>("Balance", &[], None)
            .await
        {
            Ok(_) => true,
            Err(e) if permission_denied(&e) => false,
            Err(e) => return Err(e),
        };
        let asset = self.config.networks.first().map(|n| n.asset.clone());
        let params: Vec<(&str, String)> = asset
            .iter()
            .map(|a| ("asset", to_kraken_asset(a)))
            .collect();
        let withdraw = match self
            .private::<serde_json::Value>("WithdrawMethods", &params, None)
            .await
        {
            Ok(_) => true,
            Err(e) if permission_denied(&e) => false,
            Err(e) => return Err(e),
        };
        Ok(KeyAccess {
            read: Some(read),
            trade: None,
            withdraw: Some(withdraw),
        })
    }

    async fn deposit_address(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<DepositAddress, ExchangeError> {
        let net = self.network(asset, network)?;
        let params = [
            ("asset", to_kraken_asset(asset)),
            ("method", net.deposit_method.clone()),
        ];
        let addresses: Vec<KrakenDepositAddress> =
            self.private("DepositAddresses", &params, None).await?;
        let first = addresses
            .into_iter()
            .next()
            .ok_or_else(|| ExchangeError::Rejected {
                venue: VENUE,
                message: format!("no deposit address for {asset} on {network}"),
            })?;
        Ok(DepositAddress {
            asset: asset.clone(),
            network: network.clone(),
            address: first.address,
            memo: first.memo.or(first.tag),
        })
    }
}

impl Kraken {
    fn network_named(&self, asset: &AssetCode, name: Option<&str>) -> Option<ChainId> {
        let name = name?;
        self.config
            .networks
            .iter()
            .find(|n| &n.asset == asset && n.withdraw_network == name)
            .map(|n| n.network.clone())
    }
}
