//! Coinbase client: Advanced Trade (`/api/v3/brokerage`) for balances, books and orders, and the
//! App v2 API (`/v2`) for sends (withdrawals) and deposit addresses — Advanced Trade has no
//! wallet endpoints. Both authenticate with a per-request CDP JWT ([`build_jwt`]).

mod jwt;
mod wire;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use jwt::{build_jwt, random_nonce, CdpKey, JWT_LIFETIME_SECS};

use self::wire::*;
use super::http::{self, Effect, RawResponse};
use super::{
    client_order_id, walk_book, withdrawal_reference, AssetCode, Balance, BookLevel, Capabilities,
    Clock, DepositAddress, Exchange, ExchangeError, KeyAccess, Order, OrderKind, OrderRequest,
    OrderType, Pair, Quote, Side, SystemClock, Venue, VenueLimiter, Withdrawal, WithdrawalRequest,
    WithdrawalTerms,
};

const VENUE: Venue = Venue::Coinbase;

/// One asset on one network as Coinbase names the network, with the withdrawal terms: the App
/// API has no endpoint that quotes a send's fee or minimum, so they are configuration (taken
/// from Coinbase's published "network fees" and checked against sends).
#[derive(Debug, Clone)]
pub struct CoinbaseNetwork {
    pub asset: AssetCode,
    pub network: ChainId,
    /// The v2 `network` name (`ethereum`, `base`, `solana`).
    pub coinbase_network: String,
    pub withdrawal_fee: Decimal,
    pub withdrawal_minimum: Decimal,
}

#[derive(Debug)]
pub struct CoinbaseConfig {
    /// `https://api.coinbase.com` live; a sandbox or test server otherwise.
    pub base_url: String,
    pub key: CdpKey,
    /// Advanced Trade's entry-tier taker fee: 1.20%.
    pub taker_fee_rate: Decimal,
    pub timeout: Duration,
    /// Applied to the HTTP client before it is built (the gateway's TLS roots).
    pub http_setup: Option<super::HttpSetup>,
    pub networks: Vec<CoinbaseNetwork>,
    pub clock: Arc<dyn Clock>,
    pub max_limiter_wait: Duration,
}

impl CoinbaseConfig {
    pub fn new(base_url: impl Into<String>, key: CdpKey) -> Self {
        Self {
            base_url: base_url.into(),
            key,
            taker_fee_rate: Decimal::new(120, 4),
            timeout: Duration::from_secs(10),
            http_setup: None,
            networks: Vec::new(),
            clock: Arc::new(SystemClock),
            max_limiter_wait: Duration::from_secs(2),
        }
    }
}

/// A Coinbase account.
#[derive(Debug)]
pub struct Coinbase {
    config: CoinbaseConfig,
    http: reqwest::Client,
    host: String,
    capabilities: Capabilities,
    brokerage_limit: VenueLimiter,
    app_limit: VenueLimiter,
}

impl Coinbase {
    pub fn new(config: CoinbaseConfig) -> Result<Self, ExchangeError> {
        let config_error = |message: String| ExchangeError::Config {
            venue: VENUE,
            message,
        };
        let http = super::HttpSetup::apply(config.http_setup.as_ref(), reqwest::Client::builder())
            .timeout(config.timeout)
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        let url = reqwest::Url::parse(&config.base_url)
            .map_err(|e| config_error(format!("base URL: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(config_error("base URL has no host".into())),
        };
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
        // Advanced Trade "Rate Limits": private REST endpoints 30 requests per second per user
        // (public: 10 per second per IP). App v2 "Rate limiting": 10 000 requests per hour per key,
        // i.e. one per 360 ms sustained; we allow a burst of 30.
        let brokerage_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            Duration::from_millis(34),
            config.max_limiter_wait,
        );
        let app_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            Duration::from_millis(360),
            config.max_limiter_wait,
        );
        Ok(Self {
            config,
            http,
            host,
            capabilities,
            brokerage_limit,
            app_limit,
        })
    }

    /// Sends one authenticated request. `path` may carry a query; the JWT `uri` does not.
    async fn send<B: Serialize + Sync>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        effect: Effect,
    ) -> Result<RawResponse, ExchangeError> {
        let limiter = if path.starts_with("/v2/") {
            &self.app_limit
        } else {
            &self.brokerage_limit
        };
        limiter.acquire(1).await?;
        let bare_path = path.split('?').next().unwrap_or(path);
        let now_secs = super::now_ms_u64(self.config.clock.as_ref()) / 1000;
        let token = build_jwt(
            &self.config.key,
            method.as_str(),
            &self.host,
            bare_path,
            now_secs,
            &random_nonce(),
        )
        .map_err(|e| ExchangeError::Config {
            venue: VENUE,
            message: e.to_string(),
        })?;
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = http::send(VENUE, request, effect).await?;
        if let Some(error) = http::classify_status(VENUE, &response, effect) {
            return Err(error);
        }
        Ok(response)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ExchangeError> {
        let response = self
            .send::<()>(Method::GET, path, None, Effect::Read)
            .await?;
        decode(&response, Effect::Read)
    }

    async fn account(&self, asset: &AssetCode) -> Result<CoinbaseAccount, ExchangeError> {
        self.accounts()
            .await?
            .into_iter()
            .find(|a| a.currency == asset.as_str())
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("no {asset} account"),
            })
    }

    async fn accounts(&self) -> Result<Vec<CoinbaseAccount>, ExchangeError> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        // Bounded: an account holds a few hundred currencies at most (250 per page).
        for _ in 0..8 {
            let path = if cursor.is_empty() {
                "/api/v3/brokerage/accounts?limit=250".to_owned()
            } else {
                format!("/api/v3/brokerage/accounts?limit=250&cursor={cursor}")
            };
            let page: CoinbaseAccounts = self.get(&path).await?;
            all.extend(page.accounts);
            if !page.has_next || page.cursor.is_empty() {
                break;
            }
            cursor = page.cursor;
        }
        Ok(all)
    }

    fn network(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<&CoinbaseNetwork, ExchangeError> {
        self.config
            .networks
            .iter()
            .find(|n| &n.asset == asset && &n.network == network)
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("{asset} on {network}"),
            })
    }

    fn to_withdrawal(&self, tx: CoinbaseTransaction, asset: &AssetCode) -> Withdrawal {
        let network_info = tx.network.as_ref();
        let network = network_info
            .and_then(|n| n.name.as_deref())
            .and_then(|name| {
                self.config
                    .networks
                    .iter()
                    .find(|n| &n.asset == asset && n.coinbase_network == name)
                    .map(|n| n.network.clone())
            });
        Withdrawal {
            venue: VENUE,
            venue_withdrawal_id: tx.id.clone(),
            asset: asset.clone(),
            network,
            address: tx.to.as_ref().and_then(|t| t.address.clone()),
            // Sends are reported as negative amounts.
            amount: tx.amount.amount.abs(),
            fee: network_info
                .and_then(|n| n.transaction_fee.as_ref())
                .map(|f| f.amount),
            status: tx.status.to_domain(),
            tx_hash: network_info
                .and_then(|n| n.hash.clone())
                .filter(|h| !h.is_empty()),
        }
    }
}

/// Reads a successful answer, or maps the error body of either API.
fn decode<T: DeserializeOwned>(response: &RawResponse, effect: Effect) -> Result<T, ExchangeError> {
    if !response.status.is_success() {
        if let Ok(v2) = serde_json::from_slice::<CoinbaseV2Errors>(&response.body) {
            let first = v2.errors.into_iter().next();
            let (id, message) = first.map_or((String::new(), String::new()), |e| (e.id, e.message));
            return Err(typed(&id, format!("{id}: {message}")));
        }
        if response.status == reqwest::StatusCode::UNAUTHORIZED
            || response.status == reqwest::StatusCode::FORBIDDEN
        {
            return Err(ExchangeError::Auth {
                venue: VENUE,
                message: http::snippet(&response.body),
            });
        }
        let error: CoinbaseBrokerageError = http::parse(VENUE, &response.body, Effect::Read)?;
        return Err(typed(
            &error.error,
            format!("{}: {}", error.error, error.message),
        ));
    }
    http::parse(VENUE, &response.body, effect)
}

fn product_id(pair: &Pair) -> String {
    format!("{}-{}", pair.base, pair.quote)
}

fn to_order(order: CoinbaseOrder, pair: &Pair) -> Order {
    Order {
        venue: VENUE,
        status: order.status(),
        venue_order_id: order.order_id,
        client_order_id: order.client_order_id,
        pair: pair.clone(),
        side: match order.side {
            CoinbaseSide::Buy => Side::Buy,
            CoinbaseSide::Sell => Side::Sell,
        },
        filled_base: order.filled_size,
        filled_quote: order.filled_value,
        fee: order.total_fees,
        fee_asset: Some(pair.quote.clone()),
    }
}

#[async_trait]
impl Exchange for Coinbase {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        Ok(self
            .accounts()
            .await?
            .into_iter()
            .filter_map(|a| {
                let held = a.hold.map_or(Decimal::ZERO, |h| h.value);
                let asset = AssetCode::new(&a.currency)?;
                (!(a.available_balance.value.is_zero() && held.is_zero())).then_some(Balance {
                    asset,
                    available: a.available_balance.value,
                    held,
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
        let book: CoinbaseProductBook = self
            .get(&format!(
                "/api/v3/brokerage/product_book?product_id={}&limit=100",
                product_id(pair)
            ))
            .await?;
        let levels: Vec<BookLevel> = match side {
            Side::Buy => book.pricebook.asks,
            Side::Sell => book.pricebook.bids,
        }
        .into_iter()
        .map(|l| BookLevel {
            price: l.price,
            size: l.size,
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
        let base_size = order.base_size.normalize().to_string();
        let body = CoinbaseOrderRequest {
            client_order_id: client_order_id(VENUE, &order.leg),
            product_id: product_id(&order.pair),
            side: match order.side {
                Side::Buy => CoinbaseSide::Buy,
                Side::Sell => CoinbaseSide::Sell,
            },
            order_configuration: match order.kind {
                OrderKind::Market => CoinbaseOrderConfiguration::Market { base_size },
                OrderKind::LimitIoc { limit_price } => CoinbaseOrderConfiguration::LimitIoc {
                    base_size,
                    limit_price: limit_price.normalize().to_string(),
                },
            },
        };
        let effect = Effect::MovesMoney("place order");
        let response = self
            .send(
                Method::POST,
                "/api/v3/brokerage/orders",
                Some(&body),
                effect,
            )
            .await?;
        let placed: CoinbaseOrderResponse = decode(&response, effect)?;
        match (
            placed.success,
            placed.success_response,
            placed.error_response,
        ) {
            (true, Some(ok), _) => Ok(Order {
                venue: VENUE,
                venue_order_id: ok.order_id,
                client_order_id: ok.client_order_id,
                pair: order.pair.clone(),
                side: order.side,
                status: super::OrderStatus::Pending,
                filled_base: Decimal::ZERO,
                filled_quote: Decimal::ZERO,
                fee: Decimal::ZERO,
                fee_asset: Some(order.pair.quote.clone()),
            }),
            (false, _, Some(failure)) => Err(map_order_failure(&failure)),
            _ => Err(http::decode_error(
                VENUE,
                effect,
                "order answer is neither a success nor a failure".into(),
            )),
        }
    }

    async fn order_status(
        &self,
        pair: &Pair,
        venue_order_id: &str,
    ) -> Result<Order, ExchangeError> {
        let found: CoinbaseOrderEnvelope = self
            .get(&format!(
                "/api/v3/brokerage/orders/historical/{venue_order_id}"
            ))
            .await?;
        Ok(to_order(found.order, pair))
    }

    /// Coinbase lists orders per product, newest first; the leg's order is among the recent ones
    /// when it exists (a lookup follows a timeout within seconds).
    async fn find_order(&self, order: &OrderRequest) -> Result<Option<Order>, ExchangeError> {
        let wanted = client_order_id(VENUE, &order.leg);
        let path = format!(
            "/api/v3/brokerage/orders/historical/batch?product_ids={}&limit=100",
            product_id(&order.pair)
        );
        let list: CoinbaseOrderList = self.get(&path).await?;
        Ok(list
            .orders
            .into_iter()
            .find(|o| o.client_order_id == wanted)
            .map(|o| to_order(o, &order.pair)))
    }

    async fn withdrawal_terms(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError> {
        let net = self.network(asset, network)?;
        Ok(WithdrawalTerms {
            asset: asset.clone(),
            network: network.clone(),
            fee: net.withdrawal_fee,
            minimum: net.withdrawal_minimum,
        })
    }

    async fn withdraw(&self, request: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError> {
        let net = self.network(&request.asset, &request.network)?;
        if request.amount < net.withdrawal_minimum {
            return Err(ExchangeError::BelowMinimum {
                venue: VENUE,
                message: format!(
                    "{} is below the {} minimum of {}",
                    request.amount, request.asset, net.withdrawal_minimum
                ),
            });
        }
        let body = CoinbaseSendRequest {
            kind: "send",
            to: request.address.clone(),
            amount: request.amount.normalize().to_string(),
            currency: request.asset.to_string(),
            network: net.coinbase_network.clone(),
            idem: withdrawal_reference(VENUE, &request.leg),
        };
        let account = self.account(&request.asset).await?;
        let effect = Effect::MovesMoney("withdraw");
        let response = self
            .send(
                Method::POST,
                &format!("/v2/accounts/{}/transactions", account.uuid),
                Some(&body),
                effect,
            )
            .await?;
        let sent: CoinbaseV2Data<CoinbaseTransaction> = decode(&response, effect)?;
        Ok(self.to_withdrawal(sent.data, &request.asset))
    }

    async fn withdrawal_status(
        &self,
        asset: &AssetCode,
        venue_withdrawal_id: &str,
    ) -> Result<Withdrawal, ExchangeError> {
        let account = self.account(asset).await?;
        let tx: CoinbaseV2Data<CoinbaseTransaction> = self
            .get(&format!(
                "/v2/accounts/{}/transactions/{venue_withdrawal_id}",
                account.uuid
            ))
            .await?;
        Ok(self.to_withdrawal(tx.data, asset))
    }

    async fn find_withdrawal(
        &self,
        request: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError> {
        let idem = withdrawal_reference(VENUE, &request.leg);
        let account = self.account(&request.asset).await?;
        let list: CoinbaseV2Data<Vec<CoinbaseTransaction>> = self
            .get(&format!(
                "/v2/accounts/{}/transactions?limit=100",
                account.uuid
            ))
            .await?;
        Ok(list
            .data
            .into_iter()
            .find(|t| t.idem.as_deref() == Some(idem.as_str()))
            .map(|t| self.to_withdrawal(t, &request.asset)))
    }

    async fn key_access(&self) -> Result<KeyAccess, ExchangeError> {
        // `GET /api/v3/brokerage/key_permissions`: the CDP key's own view/trade/transfer flags.
        let permissions: CoinbaseKeyPermissions =
            self.get("/api/v3/brokerage/key_permissions").await?;
        Ok(KeyAccess {
            read: Some(permissions.can_view),
            trade: Some(permissions.can_trade),
            withdraw: Some(permissions.can_transfer),
        })
    }

    async fn account_holder(&self) -> Result<Option<String>, ExchangeError> {
        // The App API's "Show current user": `data.name` is the user's name.
        let user: CoinbaseV2Data<CoinbaseUser> = self.get("/v2/user").await?;
        Ok(user.data.name.filter(|n| !n.trim().is_empty()))
    }

    async fn deposit_address(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<DepositAddress, ExchangeError> {
        let net = self.network(asset, network)?;
        let account = self.account(asset).await?;
        let list: CoinbaseV2Data<Vec<CoinbaseAddress>> = self
            .get(&format!("/v2/accounts/{}/addresses", account.uuid))
            .await?;
        let found = list
            .data
            .into_iter()
            .find(|a| a.network.as_deref() == Some(net.coinbase_network.as_str()))
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("no {asset} deposit address on {network}"),
            })?;
        Ok(DepositAddress {
            asset: asset.clone(),
            network: network.clone(),
            address: found.address,
            memo: found.destination_tag,
        })
    }
}
