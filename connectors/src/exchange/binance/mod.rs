//! Binance spot REST client (`/api/v3`) and its wallet endpoints (`/sapi/v1/capital`).
//!
//! Signed calls carry `timestamp` and `recvWindow` and are signed over the exact bytes sent
//! ([`signature`]). Every answer's `X-MBX-USED-WEIGHT-1M` header feeds a weight
//! tracker, so the client stops itself before Binance would answer 429 (and, repeated, 418).

mod sign;
mod wire;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

pub use sign::signature;

use self::sign::UsedWeight;
use self::wire::*;
use super::http::{self, Effect, RawResponse};
use super::{
    client_order_id, walk_book, withdrawal_reference, AssetCode, Balance, BookLevel, Capabilities,
    Clock, DepositAddress, Exchange, ExchangeError, KeyAccess, Order, OrderKind, OrderRequest,
    OrderType, Pair, Quote, Side, SystemClock, Venue, VenueLimiter, Withdrawal, WithdrawalRequest,
    WithdrawalTerms,
};

const VENUE: Venue = Venue::Binance;

/// Binance spot limits, from `GET /api/v3/exchangeInfo` `rateLimits` and the "LIMITS" section of
/// the spot API's General Info: REQUEST_WEIGHT 6000 per minute per IP; ORDERS 50 per 10 seconds
/// (and 160 000 per day) per account. `/sapi` wallet endpoints count IP weight separately
/// (12 000 per minute), so sharing the 6000 bucket is conservative.
const WEIGHT_PER_MINUTE: u32 = 6000;
const ORDERS_PER_10S: u32 = 50;

/// Request weights documented on each endpoint's page.
mod weight {
    pub const ACCOUNT: u32 = 20;
    pub const DEPTH_100: u32 = 5;
    pub const ORDER_NEW: u32 = 1;
    pub const ORDER_QUERY: u32 = 4;
    pub const CAPITAL_CONFIG: u32 = 10;
    pub const WITHDRAW_APPLY: u32 = 1;
    pub const WITHDRAW_HISTORY: u32 = 1;
    pub const DEPOSIT_ADDRESS: u32 = 10;
}

/// One asset on one network as Binance names the network (`ETH`, `BASE`, `SOL`, …).
#[derive(Debug, Clone)]
pub struct BinanceNetwork {
    pub asset: AssetCode,
    pub network: ChainId,
    pub binance_network: String,
}

#[derive(Debug)]
pub struct BinanceConfig {
    /// `https://api.binance.com` live; a sandbox or test server otherwise.
    pub base_url: String,
    pub api_key: SecretString,
    pub api_secret: SecretString,
    /// Spot taker fee at the base VIP 0 tier: 0.10%.
    pub taker_fee_rate: Decimal,
    pub recv_window_ms: u64,
    pub timeout: Duration,
    /// Applied to the HTTP client before it is built (the gateway's TLS roots).
    pub http_setup: Option<super::HttpSetup>,
    pub networks: Vec<BinanceNetwork>,
    pub clock: Arc<dyn Clock>,
    pub max_limiter_wait: Duration,
}

impl BinanceConfig {
    pub fn new(
        base_url: impl Into<String>,
        api_key: SecretString,
        api_secret: SecretString,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            api_secret,
            taker_fee_rate: Decimal::new(10, 4),
            recv_window_ms: 5000,
            timeout: Duration::from_secs(10),
            http_setup: None,
            networks: Vec::new(),
            clock: Arc::new(SystemClock),
            max_limiter_wait: Duration::from_secs(2),
        }
    }
}

/// A Binance account.
#[derive(Debug)]
pub struct Binance {
    config: BinanceConfig,
    http: reqwest::Client,
    capabilities: Capabilities,
    weight_limit: VenueLimiter,
    order_limit: VenueLimiter,
    used_weight: UsedWeight,
}

/// One request to send.
struct Call<'a> {
    method: Method,
    path: &'a str,
    params: Vec<(&'a str, String)>,
    signed: bool,
    weight: u32,
    operation: Option<&'static str>,
}

impl Binance {
    pub fn new(config: BinanceConfig) -> Result<Self, ExchangeError> {
        let http = super::HttpSetup::apply(config.http_setup.as_ref(), reqwest::Client::builder())
            .timeout(config.timeout)
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
        let weight_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::new(WEIGHT_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            Duration::from_secs(60) / WEIGHT_PER_MINUTE,
            config.max_limiter_wait,
        );
        let order_limit = VenueLimiter::new(
            VENUE,
            NonZeroU32::new(ORDERS_PER_10S).unwrap_or(NonZeroU32::MIN),
            Duration::from_secs(10) / ORDERS_PER_10S,
            config.max_limiter_wait,
        );
        Ok(Self {
            config,
            http,
            capabilities,
            weight_limit,
            order_limit,
            used_weight: UsedWeight::new(WEIGHT_PER_MINUTE),
        })
    }

    async fn send(&self, call: Call<'_>) -> Result<RawResponse, ExchangeError> {
        let now = super::now_ms_u64(self.config.clock.as_ref());
        self.used_weight.check(call.weight, now)?;
        self.weight_limit.acquire(call.weight).await?;
        if call.method == Method::POST && call.path == "/api/v3/order" {
            self.order_limit.acquire(1).await?;
        }
        let mut params = call.params;
        if call.signed {
            params.push(("recvWindow", self.config.recv_window_ms.to_string()));
            params.push(("timestamp", now.to_string()));
        }
        let encoded = encode(&params);
        // GETs carry everything in the query; POSTs in the form body. Either way the signature
        // covers exactly the bytes that travel.
        let (query, body) = if call.method == Method::GET {
            (encoded, String::new())
        } else {
            (String::new(), encoded)
        };
        let (query, body) = if call.signed {
            let sig = signature(self.config.api_secret.expose_secret(), &query, &body);
            if call.method == Method::GET {
                (append(&query, "signature", &sig), body)
            } else {
                (query, append(&body, "signature", &sig))
            }
        } else {
            (query, body)
        };
        let base = self.config.base_url.trim_end_matches('/');
        let url = if query.is_empty() {
            format!("{base}{}", call.path)
        } else {
            format!("{base}{}?{query}", call.path)
        };
        let mut request = self.http.request(call.method.clone(), url);
        if call.signed {
            request = request.header("X-MBX-APIKEY", self.config.api_key.expose_secret());
        }
        if call.method != Method::GET {
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let effect = call.operation.map_or(Effect::Read, Effect::MovesMoney);
        let response = http::send(VENUE, request, effect).await?;
        if let Some(used) = response
            .headers
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok())
        {
            self.used_weight
                .observe(used, super::now_ms_u64(self.config.clock.as_ref()));
        }
        if let Some(error) = http::classify_status(VENUE, &response, effect) {
            return Err(error);
        }
        Ok(response)
    }

    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ExchangeError> {
        let operation = call.operation;
        let response = self.send(call).await?;
        decode(&response, operation)
    }

    fn network_name(&self, asset: &AssetCode, network: &ChainId) -> Result<&str, ExchangeError> {
        self.config
            .networks
            .iter()
            .find(|n| &n.asset == asset && &n.network == network)
            .map(|n| n.binance_network.as_str())
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("{asset} on {network}"),
            })
    }

    fn chain_of(&self, asset: &AssetCode, binance_network: &str) -> Option<ChainId> {
        self.config
            .networks
            .iter()
            .find(|n| &n.asset == asset && n.binance_network == binance_network)
            .map(|n| n.network.clone())
    }

    async fn withdraw_history(
        &self,
        asset: &AssetCode,
        filter: (&'static str, String),
    ) -> Result<Vec<BinanceWithdrawRecord>, ExchangeError> {
        self.call(Call {
            method: Method::GET,
            path: "/sapi/v1/capital/withdraw/history",
            params: vec![("coin", asset.to_string()), filter],
            signed: true,
            weight: weight::WITHDRAW_HISTORY,
            operation: None,
        })
        .await
    }

    fn to_withdrawal(&self, record: BinanceWithdrawRecord, asset: &AssetCode) -> Withdrawal {
        Withdrawal {
            venue: VENUE,
            network: self.chain_of(asset, &record.network),
            status: record.status.to_domain(),
            venue_withdrawal_id: record.id,
            asset: asset.clone(),
            address: Some(record.address),
            amount: record.amount,
            fee: Some(record.transaction_fee),
            tx_hash: record.tx_id.filter(|t| !t.is_empty()),
        }
    }
}

fn encode(params: &[(&str, String)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish()
}

fn append(encoded: &str, key: &str, value: &str) -> String {
    if encoded.is_empty() {
        format!("{key}={value}")
    } else {
        format!("{encoded}&{key}={value}")
    }
}

fn decode<T: DeserializeOwned>(
    response: &RawResponse,
    operation: Option<&'static str>,
) -> Result<T, ExchangeError> {
    let effect = operation.map_or(Effect::Read, Effect::MovesMoney);
    if !response.status.is_success() {
        let error: BinanceError = http::parse(VENUE, &response.body, Effect::Read)?;
        return Err(map_error(&error, operation));
    }
    http::parse(VENUE, &response.body, effect)
}

fn symbol(pair: &Pair) -> String {
    format!("{}{}", pair.base, pair.quote)
}

fn to_order(wire: BinanceOrderResponse, pair: &Pair) -> Order {
    let fee = wire.fills.iter().map(|f| f.commission).sum();
    let fee_asset = wire
        .fills
        .first()
        .and_then(|f| AssetCode::new(&f.commission_asset));
    Order {
        venue: VENUE,
        venue_order_id: wire.order_id.to_string(),
        client_order_id: wire.client_order_id,
        pair: pair.clone(),
        side: match wire.side {
            BinanceSide::Buy => Side::Buy,
            BinanceSide::Sell => Side::Sell,
        },
        status: wire.status.to_domain(),
        filled_base: wire.executed_qty,
        filled_quote: wire.cummulative_quote_qty,
        // The order query endpoint reports no commission (only `myTrades` does): zero with no
        // asset means "not reported", not "free".
        fee,
        fee_asset,
    }
}

#[async_trait]
impl Exchange for Binance {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        let call = Call {
            method: Method::GET,
            path: "/api/v3/account",
            params: vec![("omitZeroBalances", "true".into())],
            signed: true,
            weight: weight::ACCOUNT,
            operation: None,
        };
        let account: BinanceAccount = self.call(call).await?;
        Ok(account
            .balances
            .into_iter()
            .filter(|b| !(b.free.is_zero() && b.locked.is_zero()))
            .filter_map(|b| {
                AssetCode::new(&b.asset).map(|asset| Balance {
                    asset,
                    available: b.free,
                    held: b.locked,
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
        let params = vec![("symbol", symbol(pair)), ("limit", "100".into())];
        let call = Call {
            method: Method::GET,
            path: "/api/v3/depth",
            params,
            signed: false,
            weight: weight::DEPTH_100,
            operation: None,
        };
        let depth: BinanceDepth = self.call(call).await?;
        let levels: Vec<BookLevel> = match side {
            Side::Buy => depth.asks,
            Side::Sell => depth.bids,
        }
        .into_iter()
        .map(|(price, size)| BookLevel { price, size })
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
        let mut params = vec![
            ("symbol", symbol(&order.pair)),
            (
                "side",
                match order.side {
                    Side::Buy => "BUY",
                    Side::Sell => "SELL",
                }
                .to_owned(),
            ),
            ("quantity", order.base_size.normalize().to_string()),
            ("newClientOrderId", client_order_id(VENUE, &order.leg)),
            ("newOrderRespType", "FULL".to_owned()),
        ];
        match order.kind {
            OrderKind::Market => params.push(("type", "MARKET".to_owned())),
            OrderKind::LimitIoc { limit_price } => {
                params.push(("type", "LIMIT".to_owned()));
                params.push(("timeInForce", "IOC".to_owned()));
                params.push(("price", limit_price.normalize().to_string()));
            }
        }
        let call = Call {
            method: Method::POST,
            path: "/api/v3/order",
            params,
            signed: true,
            weight: weight::ORDER_NEW,
            operation: Some("place order"),
        };
        let placed: BinanceOrderResponse = self.call(call).await?;
        Ok(to_order(placed, &order.pair))
    }

    async fn order_status(
        &self,
        pair: &Pair,
        venue_order_id: &str,
    ) -> Result<Order, ExchangeError> {
        let params = vec![
            ("symbol", symbol(pair)),
            ("orderId", venue_order_id.to_owned()),
        ];
        let call = Call {
            method: Method::GET,
            path: "/api/v3/order",
            params,
            signed: true,
            weight: weight::ORDER_QUERY,
            operation: None,
        };
        let found: BinanceOrderResponse = self.call(call).await?;
        Ok(to_order(found, pair))
    }

    async fn find_order(&self, order: &OrderRequest) -> Result<Option<Order>, ExchangeError> {
        let params = vec![
            ("symbol", symbol(&order.pair)),
            ("origClientOrderId", client_order_id(VENUE, &order.leg)),
        ];
        let call = Call {
            method: Method::GET,
            path: "/api/v3/order",
            params,
            signed: true,
            weight: weight::ORDER_QUERY,
            operation: None,
        };
        let response = self.send(call).await?;
        if !response.status.is_success() {
            if let Ok(error) = serde_json::from_slice::<BinanceError>(&response.body) {
                if error.code == NO_SUCH_ORDER {
                    return Ok(None);
                }
            }
        }
        let found: BinanceOrderResponse = decode(&response, None)?;
        Ok(Some(to_order(found, &order.pair)))
    }

    async fn withdrawal_terms(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError> {
        let name = self.network_name(asset, network)?.to_owned();
        let call = Call {
            method: Method::GET,
            path: "/sapi/v1/capital/config/getall",
            params: vec![],
            signed: true,
            weight: weight::CAPITAL_CONFIG,
            operation: None,
        };
        let coins: Vec<BinanceCoinConfig> = self.call(call).await?;
        let net = coins
            .into_iter()
            .filter(|c| c.coin == asset.as_str())
            .flat_map(|c| c.network_list)
            .find(|n| n.network == name)
            .ok_or_else(|| ExchangeError::Unsupported {
                venue: VENUE,
                what: format!("withdrawing {asset} on {name}"),
            })?;
        if !net.withdraw_enable {
            return Err(ExchangeError::Unavailable {
                venue: VENUE,
                message: format!("{asset} withdrawals on {name} are suspended"),
            });
        }
        Ok(WithdrawalTerms {
            asset: asset.clone(),
            network: network.clone(),
            fee: net.withdraw_fee,
            minimum: net.withdraw_min,
        })
    }

    async fn withdraw(&self, request: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError> {
        let params = vec![
            ("coin", request.asset.to_string()),
            (
                "network",
                self.network_name(&request.asset, &request.network)?
                    .to_owned(),
            ),
            ("address", request.address.clone()),
            ("amount", request.amount.normalize().to_string()),
            ("withdrawOrderId", withdrawal_reference(VENUE, &request.leg)),
        ];
        let call = Call {
            method: Method::POST,
            path: "/sapi/v1/capital/withdraw/apply",
            params,
            signed: true,
            weight: weight::WITHDRAW_APPLY,
            operation: Some("withdraw"),
        };
        let applied: BinanceWithdrawApplied = self.call(call).await?;
        Ok(Withdrawal {
            venue: VENUE,
            venue_withdrawal_id: applied.id,
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
        let records = self
            .withdraw_history(asset, ("idList", venue_withdrawal_id.to_owned()))
            .await?;
        let record = records
            .into_iter()
            .find(|r| r.id == venue_withdrawal_id)
            .ok_or_else(|| ExchangeError::Rejected {
                venue: VENUE,
                message: format!("no withdrawal {venue_withdrawal_id}"),
            })?;
        Ok(self.to_withdrawal(record, asset))
    }

    async fn find_withdrawal(
        &self,
        request: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError> {
        let reference = withdrawal_reference(VENUE, &request.leg);
        let records = self
            .withdraw_history(&request.asset, ("withdrawOrderId", reference.clone()))
            .await?;
        Ok(records
            .into_iter()
            .find(|r| r.withdraw_order_id.as_deref() == Some(reference.as_str()))
            .map(|r| self.to_withdrawal(r, &request.asset)))
    }

    async fn key_access(&self) -> Result<KeyAccess, ExchangeError> {
        // `GET /sapi/v1/account/apiRestrictions` (USER_DATA, weight 1): the key's own flags.
        let call = Call {
            method: Method::GET,
            path: "/sapi/v1/account/apiRestrictions",
            params: Vec::new(),
            signed: true,
            weight: 1,
            operation: None,
        };
        let flags: BinanceApiRestrictions = self.call(call).await?;
        Ok(KeyAccess {
            read: Some(flags.enable_reading),
            trade: Some(flags.enable_spot_and_margin_trading),
            withdraw: Some(flags.enable_withdrawals),
        })
    }

    async fn deposit_address(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<DepositAddress, ExchangeError> {
        let params = vec![
            ("coin", asset.to_string()),
            ("network", self.network_name(asset, network)?.to_owned()),
        ];
        let call = Call {
            method: Method::GET,
            path: "/sapi/v1/capital/deposit/address",
            params,
            signed: true,
            weight: weight::DEPOSIT_ADDRESS,
            operation: None,
        };
        let found: BinanceDepositAddress = self.call(call).await?;
        Ok(DepositAddress {
            asset: asset.clone(),
            network: network.clone(),
            address: found.address,
            memo: Some(found.tag).filter(|t| !t.is_empty()),
        })
    }
}
