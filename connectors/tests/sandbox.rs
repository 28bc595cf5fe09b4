//! The three real venue clients against the sandbox exchange, unchanged but for the base URL,
//! and the sandbox itself in process (`SandboxExchange`): the conformance suite, and injected
//! 429s, 5xx and timeouts counted on the sandbox side.
#![cfg(feature = "sandbox")]

mod conformance;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::exchange::binance::{Binance, BinanceConfig, BinanceNetwork};
use rialto_connectors::exchange::coinbase::{CdpKey, Coinbase, CoinbaseConfig, CoinbaseNetwork};
use rialto_connectors::exchange::kraken::{
    Kraken, KrakenConfig, KrakenNetwork, KrakenTier, KrakenWithdrawKey,
};
use rialto_connectors::exchange::sandbox::{
    Fault, Operation, RecordingSink, Sandbox, SandboxBook, SandboxConfig, SandboxExchange,
    SandboxNetwork,
};
use rialto_connectors::exchange::{
    place_order_once, withdraw_once, BookLevel, Exchange, ExchangeError, Side,
};
use secrecy::SecretString;
use support::*;

async fn sandbox(sink: Arc<RecordingSink>) -> Sandbox {
    let mut config = SandboxConfig::new(sink);
    config.balances = BTreeMap::from([
        (asset("USD"), d("100000")),
        (asset("USDC"), d("100000")),
        (asset("BTC"), d("1")),
    ]);
    let book = || SandboxBook {
        bids: vec![
            BookLevel {
                price: d("59990"),
                size: d("2"),
            },
            BookLevel {
                price: d("59980"),
                size: d("5"),
            },
        ],
        asks: vec![
            BookLevel {
                price: d("60000"),
                size: d("1"),
            },
            BookLevel {
                price: d("60010"),
                size: d("5"),
            },
        ],
    };
    config.books = BTreeMap::from([(pair("BTC", "USD"), book()), (pair("BTC", "USDC"), book())]);
    config.networks = vec![SandboxNetwork {
        asset: asset("USDC"),
        chain: base_chain(),
        binance: "BASE".into(),
        kraken: "Base".into(),
        coinbase: "base".into(),
        withdrawal_fee: d("0.5"),
        withdrawal_minimum: d("5"),
        deposit_address: DEPOSIT.into(),
    }];
    Sandbox::start(config).await.expect("sandbox starts")
}

fn kraken(base_url: &str) -> Kraken {
    let secret =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    let mut c = KrakenConfig::new(
        base_url,
        SecretString::from("k".to_owned()),
        SecretString::from(secret.to_owned()),
    );
    c.tier = KrakenTier::Pro;
    c.timeout = Duration::from_secs(1);
    c.networks = vec![KrakenNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        withdraw_network: "Base".into(),
        deposit_method: "USDC - Base".into(),
    }];
    c.withdraw_keys = vec![KrakenWithdrawKey {
        asset: asset("USDC"),
        network: base_chain(),
        address: MERCHANT.into(),
        key: "merchant-base".into(),
    }];
    Kraken::new(c).expect("kraken")
}

fn binance(base_url: &str) -> Binance {
    let mut c = BinanceConfig::new(
        base_url,
        SecretString::from("k".to_owned()),
        SecretString::from("s".to_owned()),
    );
    c.timeout = Duration::from_secs(1);
    c.networks = vec![BinanceNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        binance_network: "BASE".into(),
    }];
    Binance::new(c).expect("binance")
}

fn coinbase(base_url: &str) -> Coinbase {
    let secret = p256::SecretKey::from_slice(&[5u8; 32]).expect("scalar");
    let pem = secret
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .expect("pem");
    let key = CdpKey::from_pem(
        "organizations/o/apiKeys/k",
        &SecretString::from(pem.to_string()),
    )
    .expect("key");
    let mut c = CoinbaseConfig::new(base_url, key);
    c.timeout = Duration::from_secs(1);
    c.networks = vec![CoinbaseNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        coinbase_network: "base".into(),
        withdrawal_fee: d("0.5"),
        withdrawal_minimum: d("5"),
    }];
    Coinbase::new(c).expect("coinbase")
}

fn scenario(quote: &str) -> conformance::Scenario {
    conformance::Scenario {
        pair: pair("BTC", quote),
        size: d("0.25"),
        too_large: d("100"),
        funded_asset: asset("USDC"),
        order: market_buy(known_leg(), pair("BTC", quote)),
        unknown_order: market_buy(other_leg(), pair("BTC", quote)),
        withdrawal: usdc_withdrawal(known_leg(), "100"),
        unknown_withdrawal: usdc_withdrawal(other_leg(), "42"),
    }
}

#[tokio::test]
async fn every_real_client_passes_the_conformance_suite_against_the_sandbox() {
    for venue in ["kraken", "binance", "coinbase"] {
        let sink = Arc::new(RecordingSink::default());
        let sandbox = sandbox(sink.clone()).await;
        match venue {
            "kraken" => conformance::run(&kraken(&sandbox.base_url()), &scenario("USD")).await,
            "binance" => conformance::run(&binance(&sandbox.base_url()), &scenario("USDC")).await,
            _ => conformance::run(&coinbase(&sandbox.base_url()), &scenario("USD")).await,
        }
        assert_eq!(sandbox.executed_orders(), 1, "{venue}");
        assert_eq!(sandbox.executed_withdrawals(), 1, "{venue}");
        assert_eq!(sandbox.duplicate_submissions(), 0, "{venue}");
        // The fee stays with the venue; the rest reaches the merchant's address.
        assert_eq!(
            sink.transfers(),
            vec![(asset("USDC"), base_chain(), MERCHANT.to_owned(), d("99.5"))],
            "{venue}"
        );
        // 100 USDC withdrawn; on Binance the order also paid 0.25 × 60000 plus the 0.1% fee in USDC.
        let spent_on_order = if venue == "binance" {
            d("15015")
        } else {
            d("0")
        };
        assert_eq!(
            sandbox.balance(&asset("USDC")),
            d("99900") - spent_on_order,
            "{venue}"
        );
    }
}

#[tokio::test]
async fn the_sandbox_itself_passes_the_conformance_suite() {
    let sink = Arc::new(RecordingSink::default());
    let sandbox = sandbox(sink.clone()).await;
    let exchange = SandboxExchange::new(&sandbox);
    conformance::run(&exchange, &scenario("USD")).await;
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    assert_eq!(sandbox.duplicate_submissions(), 0);
    assert_eq!(
        sink.transfers(),
        vec![(asset("USDC"), base_chain(), MERCHANT.to_owned(), d("99.5"))]
    );
    assert_eq!(sandbox.balance(&asset("USDC")), d("99900"));
    // 0.25 BTC at 60000 plus the 0.1% taker fee, paid in USD.
    assert_eq!(sandbox.balance(&asset("USD")), d("84985"));
    assert_eq!(sandbox.balance(&asset("BTC")), d("1.25"));
}

#[tokio::test]
async fn a_filled_orders_client_id_executes_again_so_a_resume_must_look_the_order_up_first() {
    let sandbox = sandbox(Arc::new(RecordingSink::default())).await;
    let exchange = sandbox.exchange();
    let order = market_buy(known_leg(), pair("BTC", "USD"));
    let first = place_order_once(&exchange, &order, &fast_policy())
        .await
        .expect("placed");
    // As on Binance and Kraken, a client order id is unique among open orders only: the first
    // order filled, so a blind second send with the same leg buys again.
    let again = place_order_once(&exchange, &order, &fast_policy())
        .await
        .expect("executes again");
    assert_ne!(again.venue_order_id, first.venue_order_id);
    assert_eq!(sandbox.executed_orders(), 2);
    // What a resume does instead: ask the venue by the leg before sending anything.
    let found = exchange.find_order(&order).await.expect("lookup");
    assert_eq!(found.map(|o| o.venue_order_id), Some(first.venue_order_id));

    let request = usdc_withdrawal(known_leg(), "100");
    let sent = withdraw_once(&exchange, &request, &fast_policy())
        .await
        .expect("withdrawn");
    let resent = withdraw_once(&exchange, &request, &fast_policy())
        .await
        .expect("answered with the first withdrawal");
    assert_eq!(resent.venue_withdrawal_id, sent.venue_withdrawal_id);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    assert_eq!(sandbox.balance(&asset("USDC")), d("99900"));
    // Both repeats were seen: the order's reuse (executed) and the withdrawal's (answered from
    // the records by its reference).
    assert_eq!(sandbox.duplicate_submissions(), 2);
}

#[tokio::test]
async fn under_injected_faults_the_sandbox_itself_executes_nothing_twice() {
    let sandbox = sandbox(Arc::new(RecordingSink::default())).await;
    let exchange = sandbox.exchange().with_timeout(Duration::from_secs(1));
    nothing_executes_twice(&sandbox, &exchange, "USD").await;

    sandbox.inject(
        Operation::Read,
        Fault::RateLimit {
            retry_after_secs: 9,
        },
    );
    let limited = exchange.balances().await.expect_err("rate limited");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(9)));
    sandbox.inject(Operation::Read, Fault::ErrorAfterExecuting);
    let down = exchange
        .quote(&pair("BTC", "USD"), Side::Buy, d("0.1"))
        .await
        .expect_err("lost read");
    assert!(
        matches!(down, ExchangeError::Unavailable { .. }),
        "{down:?}"
    );
    sandbox.inject(Operation::PlaceOrder, Fault::ErrorAfterExecuting);
    let lost = exchange
        .place_order(&market_buy(
            rialto_core::id::LegId::generate(),
            pair("BTC", "USD"),
        ))
        .await
        .expect_err("lost order");
    assert!(lost.is_unknown_outcome(), "{lost:?}");
}

#[tokio::test]
async fn the_sandbox_itself_refuses_with_the_right_typed_error() {
    let mut config = SandboxConfig::new(Arc::new(RecordingSink::default()));
    config.balances = BTreeMap::from([(asset("USDC"), d("1000"))]);
    config.books = BTreeMap::from([(
        pair("BTC", "USDC"),
        SandboxBook {
            bids: Vec::new(),
            asks: vec![BookLevel {
                price: d("60000"),
                size: d("10"),
            }],
        },
    )]);
    config.whitelist = Some(std::collections::BTreeSet::from(["0xabc".to_owned()]));
    config.networks = vec![SandboxNetwork {
        asset: asset("USDC"),
        chain: base_chain(),
        binance: "BASE".into(),
        kraken: "Base".into(),
        coinbase: "base".into(),
        withdrawal_fee: d("0.5"),
        withdrawal_minimum: d("5"),
        deposit_address: DEPOSIT.into(),
    }];
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let exchange = sandbox.exchange();
    let leg = rialto_core::id::LegId::generate;

    let poor = exchange
        .place_order(&market_buy(leg(), pair("BTC", "USDC")))
        .await
        .expect_err("too expensive");
    assert!(
        matches!(poor, ExchangeError::InsufficientFunds { .. }),
        "{poor:?}"
    );
    let mut tiny = market_buy(leg(), pair("BTC", "USDC"));
    tiny.base_size = d("0.00000001");
    let tiny = exchange.place_order(&tiny).await.expect_err("tiny");
    assert!(
        matches!(tiny, ExchangeError::BelowMinimum { .. }),
        "{tiny:?}"
    );
    let unknown = exchange
        .place_order(&market_buy(leg(), pair("ETH", "USDC")))
        .await
        .expect_err("no market");
    assert!(
        matches!(unknown, ExchangeError::InvalidSymbol { .. }),
        "{unknown:?}"
    );
    let elsewhere = exchange
        .withdrawal_terms(&asset("USDC"), &"eip155:1".parse().expect("chain"))
        .await
        .expect_err("no network");
    assert!(
        matches!(elsewhere, ExchangeError::Unsupported { .. }),
        "{elsewhere:?}"
    );
    let stranger = exchange
        .withdraw(&usdc_withdrawal(leg(), "100"))
        .await
        .expect_err("not whitelisted");
    assert!(
        matches!(stranger, ExchangeError::AddressNotWhitelisted { .. }),
        "{stranger:?}"
    );
    assert_eq!(
        (sandbox.executed_orders(), sandbox.executed_withdrawals()),
        (0, 0)
    );
}

/// Every fault, in turn, on one order and one withdrawal: each is executed exactly once.
async fn nothing_executes_twice<E: Exchange>(sandbox: &Sandbox, exchange: &E, quote: &str) {
    let faults = [
        Fault::RateLimit {
            retry_after_secs: 0,
        },
        Fault::Outage,
        Fault::ErrorAfterExecuting,
        Fault::SlowAfterExecuting {
            delay: Duration::from_secs(3),
        },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let leg: rialto_core::id::LegId = rialto_core::id::LegId::generate();
        sandbox.inject(Operation::PlaceOrder, fault);
        let order = market_buy(leg, pair("BTC", quote));
        let placed = place_order_once(exchange, &order, &fast_policy())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(sandbox.executed_orders(), i + 1, "order under {fault:?}");
        assert!(!placed.venue_order_id.is_empty());

        sandbox.inject(Operation::Withdraw, fault);
        withdraw_once(
            exchange,
            &usdc_withdrawal(leg, &format!("{}", 10 + i)),
            &fast_policy(),
        )
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(
            sandbox.executed_withdrawals(),
            i + 1,
            "withdrawal under {fault:?}"
        );
        assert_eq!(
            sandbox.duplicate_submissions(),
            0,
            "nothing was resent after it executed ({fault:?})"
        );
    }
}

#[tokio::test]
async fn under_injected_429s_5xx_and_timeouts_no_order_or_withdrawal_executes_twice() {
    for venue in ["kraken", "binance", "coinbase"] {
        let sandbox = sandbox(Arc::new(RecordingSink::default())).await;
        let url = sandbox.base_url();
        match venue {
            "kraken" => nothing_executes_twice(&sandbox, &kraken(&url), "USD").await,
            "binance" => nothing_executes_twice(&sandbox, &binance(&url), "USDC").await,
            _ => nothing_executes_twice(&sandbox, &coinbase(&url), "USD").await,
        }
    }
}

#[tokio::test]
async fn injected_failures_reach_the_caller_as_the_right_typed_error() {
    let sandbox = sandbox(Arc::new(RecordingSink::default())).await;
    let url = sandbox.base_url();
    let clients: Vec<(Box<dyn Exchange>, &str)> = vec![
        (Box::new(kraken(&url)), "USD"),
        (Box::new(binance(&url)), "USDC"),
        (Box::new(coinbase(&url)), "USD"),
    ];
    for (exchange, quote) in clients {
        let venue = exchange.venue();
        sandbox.inject(
            Operation::Read,
            Fault::RateLimit {
                retry_after_secs: 9,
            },
        );
        let limited = exchange.balances().await.expect_err("429");
        assert_eq!(
            limited.retry_after(),
            Some(Duration::from_secs(9)),
            "{venue}: {limited:?}"
        );
        sandbox.inject(Operation::Read, Fault::Outage);
        let down = exchange
            .quote(&pair("BTC", quote), Side::Buy, d("0.1"))
            .await
            .expect_err("503");
        assert!(
            matches!(down, ExchangeError::Unavailable { .. }),
            "{venue}: {down:?}"
        );
        sandbox.inject(
            Operation::PlaceOrder,
            Fault::SlowAfterExecuting {
                delay: Duration::from_secs(3),
            },
        );
        let lost = exchange
            .place_order(&market_buy(
                rialto_core::id::LegId::generate(),
                pair("BTC", quote),
            ))
            .await
            .expect_err("timeout");
        assert!(lost.is_unknown_outcome(), "{venue}: {lost:?}");
        let mut big = market_buy(rialto_core::id::LegId::generate(), pair("BTC", quote));
        big.base_size = d("6");
        let poor = exchange.place_order(&big).await.expect_err("too expensive");
        assert!(
            matches!(poor, ExchangeError::InsufficientFunds { .. }),
            "{venue}: {poor:?}"
        );
        let small = exchange
            .withdraw(&usdc_withdrawal(rialto_core::id::LegId::generate(), "1"))
            .await
            .expect_err("below minimum");
        assert!(
            matches!(small, ExchangeError::BelowMinimum { .. }),
            "{venue}: {small:?}"
        );
    }
}

#[tokio::test]
async fn an_ioc_limit_fills_only_what_the_book_offers_at_its_price_on_every_client() {
    use rialto_connectors::exchange::{OrderKind, OrderStatus};
    for venue in ["kraken", "binance", "coinbase"] {
        let sandbox = sandbox(Arc::new(RecordingSink::default())).await;
        let url = sandbox.base_url();
        let (exchange, quote): (Box<dyn Exchange>, &str) = match venue {
            "kraken" => (Box::new(kraken(&url)), "USD"),
            "binance" => (Box::new(binance(&url)), "USDC"),
            _ => (Box::new(coinbase(&url)), "USD"),
        };
        let mut order = market_buy(known_leg(), pair("BTC", quote));
        order.base_size = d("3");
        order.kind = OrderKind::LimitIoc {
            limit_price: d("60005"),
        };
        let placed = exchange.place_order(&order).await.expect("placed");
        let status = exchange
            .order_status(&order.pair, &placed.venue_order_id)
            .await
            .expect("status");
        // Only the 1 BTC at 60000 is at or under the limit; the rest of the IOC is dropped.
        assert_eq!(
            (status.filled_base, status.filled_quote),
            (d("1"), d("60000")),
            "{venue}"
        );
        assert!(
            matches!(status.status, OrderStatus::Canceled | OrderStatus::Expired),
            "{venue}: {:?}",
            status.status
        );
        assert!(status.status.is_final());
    }
}

#[tokio::test]
async fn a_stuck_withdrawal_stays_pending_without_a_hash_and_never_reaches_the_chain() {
    let sink = Arc::new(RecordingSink::default());
    let mut config = SandboxConfig::new(sink.clone());
    config.balances = BTreeMap::from([(asset("USDC"), d("1000"))]);
    config.stuck_withdrawals = true;
    config.networks = vec![SandboxNetwork {
        asset: asset("USDC"),
        chain: base_chain(),
        binance: "BASE".into(),
        kraken: "Base".into(),
        coinbase: "base".into(),
        withdrawal_fee: d("0.5"),
        withdrawal_minimum: d("5"),
        deposit_address: DEPOSIT.into(),
    }];
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let client = binance(&sandbox.base_url());
    let sent = client
        .withdraw(&usdc_withdrawal(known_leg(), "100"))
        .await
        .expect("accepted");
    let status = client
        .withdrawal_status(&asset("USDC"), &sent.venue_withdrawal_id)
        .await
        .expect("status");
    assert!(!status.status.is_final(), "{status:?}");
    assert_eq!(status.tx_hash, None);
    assert!(sink.transfers().is_empty());
    assert_eq!(
        sandbox.balance(&asset("USDC")),
        d("900"),
        "the funds are held while stuck"
    );
}
