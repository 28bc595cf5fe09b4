//! The sandbox bank set up for the issuer tests: one account, a memory token on Base, the
//! issuer client pointed at it, a manual clock.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::issuer::sandbox::{SandboxBank, SandboxBankAccount, SandboxBankConfig};
use rialto_connectors::issuer::{
    FeeSchedule, IssuerHttpClient, IssuerHttpConfig, MemoryTokenSink, MintRequest,
    OnboardingRequest,
};
use rialto_core::clock::ManualClock;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::SecretString;

pub const KEY: &str = "acct_rialto_treasury";
pub const SECRET: &str = "demo-secret-not-for-production";
pub const WALLET: &str = "0x1111111111111111111111111111111111111111";
pub const STRANGER: &str = "0x3333333333333333333333333333333333333333";
/// 2026-01-01T10:00:00Z, inside a 09:00–17:00 window.
pub const MORNING_MS: i64 = 1_767_261_600_000;

pub fn d(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

pub fn base() -> ChainId {
    "eip155:8453".parse().expect("chain id")
}

pub struct Bank {
    pub bank: SandboxBank,
    pub sink: Arc<MemoryTokenSink>,
    pub clock: Arc<ManualClock>,
    pub client: IssuerHttpClient,
}

/// Mint fee 0.25 + 0.05 %, redemption fee 0.1 %, 10,000 USD in the account.
pub fn config(sink: Arc<MemoryTokenSink>, clock: Arc<ManualClock>) -> SandboxBankConfig {
    let mut config = SandboxBankConfig::new(sink, vec![base()]);
    config.accounts = vec![SandboxBankAccount {
        key: KEY.into(),
        secret: SecretString::from(SECRET),
        usd: d("10000.00"),
    }];
    config.mint_fee = FeeSchedule {
        fixed: d("0.25"),
        rate: d("0.0005"),
    };
    config.redemption_fee = FeeSchedule {
        fixed: Decimal::ZERO,
        rate: d("0.001"),
    };
    config.clock = clock;
    config
}

pub async fn start_with(
    config: SandboxBankConfig,
    sink: Arc<MemoryTokenSink>,
    clock: Arc<ManualClock>,
) -> Bank {
    let bank = SandboxBank::start(config).await.expect("sandbox bank");
    let client = client_for(&bank, SECRET, clock.clone(), Duration::from_secs(5));
    Bank {
        bank,
        sink,
        clock,
        client,
    }
}

pub async fn start() -> Bank {
    let sink = Arc::new(MemoryTokenSink::default());
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    start_with(config(sink.clone(), clock.clone()), sink, clock).await
}

pub fn client_for(
    bank: &SandboxBank,
    secret: &str,
    clock: Arc<ManualClock>,
    timeout: Duration,
) -> IssuerHttpClient {
    let config = IssuerHttpConfig {
        base_url: bank.base_url(),
        key: KEY.into(),
        secret: SecretString::from(secret),
        timeout,
    };
    IssuerHttpClient::with_clock(config, clock).expect("client")
}

pub fn onboarding(reference: &str, wallet: &str) -> OnboardingRequest {
    OnboardingRequest {
        reference: reference.into(),
        institution: "Acme Treasury LLC".into(),
        chain: base(),
        wallet: wallet.into(),
    }
}

pub fn mint(reference: &str, wallet: &str, amount: &str) -> MintRequest {
    MintRequest {
        reference: reference.into(),
        chain: base(),
        wallet: wallet.into(),
        amount: d(amount),
    }
}
