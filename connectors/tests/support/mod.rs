//! Helpers shared by the connector test binaries. Each binary uses a different subset, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rialto_connectors::exchange::{
    AssetCode, Clock, OrderKind, OrderRequest, Pair, RetryPolicy, Side, WithdrawalRequest,
};
use rialto_core::id::LegId;
use rialto_core::ChainId;
use rust_decimal::Decimal;

pub const MERCHANT: &str = "0x1111111111111111111111111111111111111111";
pub const DEPOSIT: &str = "0x2222222222222222222222222222222222222222";
pub const TX_HASH: &str = "0x5d1e0c7c3e6f8a0b9c2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b";

/// The leg whose order and withdrawal the recorded answers describe.
pub fn known_leg() -> LegId {
    "leg_01kbd3s0m8x7q9w2e4r6t8y0v2".parse().expect("leg id")
}

/// A leg the venue has never seen.
pub fn other_leg() -> LegId {
    "leg_01kbd3s0m8x7q9w2e4r6t8y0v3".parse().expect("leg id")
}

pub fn d(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

pub fn asset(code: &str) -> AssetCode {
    AssetCode::new(code).expect("asset code")
}

pub fn base_chain() -> ChainId {
    "eip155:8453".parse().expect("chain id")
}

pub fn pair(base: &str, quote: &str) -> Pair {
    Pair::new(asset(base), asset(quote))
}

pub fn market_buy(leg: LegId, pair: Pair) -> OrderRequest {
    OrderRequest {
        leg,
        pair,
        side: Side::Buy,
        base_size: d("0.25"),
        kind: OrderKind::Market,
    }
}

pub fn usdc_withdrawal(leg: LegId, amount: &str) -> WithdrawalRequest {
    WithdrawalRequest {
        leg,
        asset: asset("USDC"),
        network: base_chain(),
        address: MERCHANT.to_owned(),
        amount: d(amount),
    }
}

/// Reads `tests/fixtures/<venue>/<name>`, filling `{{CL_ORD_ID}}` and `{{WITHDRAW_REF}}`.
pub fn fixture(venue: &str, name: &str, cl_ord_id: &str, withdraw_ref: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{venue}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
        .replace("{{CL_ORD_ID}}", cl_ord_id)
        .replace("{{WITHDRAW_REF}}", withdraw_ref)
}

/// Quick retries so the send-once tests run in milliseconds.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_sends: 3,
        max_lookups: 3,
        settle_delay: Duration::from_millis(5),
        backoff: Duration::from_millis(5),
        max_wait: Duration::from_millis(50),
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).expect("small duration");
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// An address nothing listens on: connecting fails at once.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// How many requests the server received for `path`.
pub async fn requests_to(server: &wiremock::MockServer, path: &str) -> usize {
    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    requests.iter().filter(|r| r.url.path() == path).count()
}

/// A check on an error, for table-driven cases.
pub type ErrorCheck = fn(&rialto_connectors::exchange::ExchangeError) -> bool;
