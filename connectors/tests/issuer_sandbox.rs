//! `IssuerHttpClient` against the sandbox issuing bank: onboarding, mints, redemptions, the
//! reference that executes once, cut-off, injected faults and signatures, with every USD and
//! token amount checked exactly on the bank's and the token's side.
#![cfg(feature = "sandbox")]

mod issuer_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use issuer_support::*;
use rialto_connectors::issuer::sandbox::{BankOperation, Fault};
use rialto_connectors::issuer::{
    CutOffWindow, Issuer, IssuerError, MintGuard, RedemptionRequest, RejectionCode, RequestStatus,
    UncheckedMintGuard,
};
use rialto_core::clock::ManualClock;
use rialto_core::ChainId;
use rust_decimal::Decimal;

#[tokio::test]
async fn onboarding_then_a_mint_completes_with_the_usd_debited_exactly_and_the_token_minted_once() {
    let bank = start().await;
    let onboarded = bank
        .client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    assert_eq!(onboarded.status, RequestStatus::Completed);
    assert!(onboarded.tx_hash.is_some());
    assert_eq!(bank.sink.allow_calls(), 1);
    let minted = bank
        .client
        .mint(&mint("mint-1", WALLET, "250.00"), &UncheckedMintGuard)
        .await
        .expect("mint");
    assert_eq!(minted.status, RequestStatus::Completed);
    // 0.25 + 250.00 × 0.0005 = 0.375, rounded up to 0.38.
    assert_eq!(
        (minted.fee, minted.usd_amount),
        (d("0.38"), Some(d("250.38")))
    );
    let status = bank.client.request("mint-1").await.expect("status");
    assert_eq!(status, minted);
    assert_eq!(
        bank.client.balance().await.expect("balance").available,
        d("9749.62")
    );
    assert_eq!(
        bank.sink.mints(),
        vec![(base(), WALLET.to_owned(), d("250.00"))]
    );
    assert_eq!(bank.sink.balance(&base(), WALLET), d("250.00"));
}

#[tokio::test]
async fn a_retry_with_the_same_reference_answers_the_first_result_and_mints_once() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    let request = mint("mint-1", WALLET, "100.00");
    let first = bank
        .client
        .mint(&request, &UncheckedMintGuard)
        .await
        .expect("mint");
    let again = bank
        .client
        .mint(&request, &UncheckedMintGuard)
        .await
        .expect("retry");
    assert_eq!(again, first);
    assert_eq!(bank.sink.mints().len(), 1);
    assert_eq!(bank.bank.usd(KEY), d("9899.70"));
    // The same reference for another amount is refused, not executed.
    let other = mint("mint-1", WALLET, "200.00");
    let err = bank.client.mint(&other, &UncheckedMintGuard).await;
    assert_eq!(
        err,
        Ok(first),
        "the client looks the reference up before sending"
    );
    let reused = bank.client.onboard(&onboarding("mint-1", WALLET)).await;
    assert!(
        matches!(reused, Err(IssuerError::ReferenceReused { .. })),
        "{reused:?}"
    );
    assert_eq!(bank.sink.mints().len(), 1);
}

#[tokio::test]
async fn a_mint_to_a_wallet_not_on_the_allow_list_is_rejected_with_its_code_and_moves_nothing() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    let refused = bank
        .client
        .mint(&mint("mint-x", STRANGER, "50.00"), &UncheckedMintGuard)
        .await
        .expect("an answer");
    assert_eq!(refused.status, RequestStatus::Rejected);
    let rejection = refused.rejection.expect("why");
    assert_eq!(rejection.code, RejectionCode::WalletNotAllowListed);
    assert_eq!(rejection.code.as_str(), "wallet_not_allow_listed");
    assert_eq!(bank.bank.usd(KEY), d("10000.00"));
    assert!(bank.sink.mints().is_empty());
}

#[tokio::test]
async fn a_mint_beyond_the_usd_balance_is_rejected_as_insufficient_funds_and_debits_nothing() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    // 9,999.80 + 0.25 + 5.00 (9,999.80 × 0.0005 = 4.9999, up to 5.00) > 10,000.00.
    let refused = bank
        .client
        .mint(&mint("mint-big", WALLET, "9999.80"), &UncheckedMintGuard)
        .await
        .expect("an answer");
    assert_eq!(refused.status, RequestStatus::Rejected);
    assert_eq!(
        refused.rejection.map(|r| r.code),
        Some(RejectionCode::InsufficientFunds)
    );
    assert_eq!(bank.bank.usd(KEY), d("10000.00"));
    assert!(bank.sink.mints().is_empty());
    let cents = bank
        .client
        .mint(&mint("mint-odd", WALLET, "10.001"), &UncheckedMintGuard)
        .await
        .expect("an answer");
    assert_eq!(
        cents.rejection.map(|r| r.code),
        Some(RejectionCode::InvalidAmount)
    );
}

fn redemption(reference: &str, tx_hash: &str, amount: &str) -> RedemptionRequest {
    RedemptionRequest {
        reference: reference.into(),
        chain: base(),
        tx_hash: Some(tx_hash.into()),
        wallet: None,
        amount: d(amount),
    }
}

#[tokio::test]
async fn a_redemption_credits_the_usd_exactly_minus_the_fee_and_a_burn_is_redeemed_once() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    bank.client
        .mint(&mint("mint-1", WALLET, "250.00"), &UncheckedMintGuard)
        .await
        .expect("mint");
    let burn = bank.sink.burn(&base(), WALLET, d("100.00")).expect("burn");
    let wrong = bank
        .client
        .redeem(&redemption("red-0", &burn, "99.00"))
        .await
        .expect("answer");
    assert_eq!(
        wrong.rejection.map(|r| r.code),
        Some(RejectionCode::RedemptionMismatch)
    );
    let redeemed = bank
        .client
        .redeem(&redemption("red-1", &burn, "100.00"))
        .await
        .expect("redeem");
    assert_eq!(redeemed.status, RequestStatus::Completed);
    assert_eq!(
        (redeemed.fee, redeemed.usd_amount),
        (d("0.10"), Some(d("99.90")))
    );
    // 10,000.00 − 250.38 + 99.90.
    assert_eq!(bank.bank.usd(KEY), d("9849.52"));
    let twice = bank
        .client
        .redeem(&redemption("red-2", &burn, "100.00"))
        .await
        .expect("answer");
    assert_eq!(
        twice.rejection.map(|r| r.code),
        Some(RejectionCode::RedemptionAlreadyClaimed)
    );
    let made_up = "0x00000000000000000000000000000000000000000000000000000000000000aa";
    let none = bank
        .client
        .redeem(&redemption("red-3", made_up, "1.00"))
        .await
        .expect("answer");
    assert_eq!(
        none.rejection.map(|r| r.code),
        Some(RejectionCode::RedemptionNotFound)
    );
    assert_eq!(bank.bank.usd(KEY), d("9849.52"));
}

#[tokio::test]
async fn a_mint_after_the_cut_off_waits_pending_for_the_next_window_then_completes_once() {
    let sink = Arc::new(rialto_connectors::issuer::MemoryTokenSink::default());
    // 18:00 UTC, after a 09:00–17:00 window.
    let clock = Arc::new(ManualClock::new(MORNING_MS + 8 * 3_600_000));
    let mut config = config(sink.clone(), clock.clone());
    config.window = Some(CutOffWindow {
        opens_at_secs: 9 * 3600,
        closes_at_secs: 17 * 3600,
    });
    let bank = start_with(config, sink, clock).await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    let next_opening = u64::try_from(MORNING_MS + 23 * 3_600_000).expect("ms");
    let quote = bank
        .client
        .quote(rialto_connectors::issuer::RequestKind::Mint, d("100.00"))
        .await
        .expect("quote");
    assert_eq!(quote.executes_at_ms, next_opening);
    let pending = bank
        .client
        .mint(&mint("mint-late", WALLET, "100.00"), &UncheckedMintGuard)
        .await
        .expect("mint");
    assert_eq!(pending.status, RequestStatus::Pending);
    assert_eq!(pending.executes_at_ms, next_opening);
    assert!(
        bank.sink.mints().is_empty(),
        "nothing minted before the window"
    );
    assert_eq!(bank.bank.usd(KEY), d("9899.70"), "debited at acceptance");
    bank.clock.advance_ms(15 * 3_600_000 - 1);
    let still = bank.client.request("mint-late").await.expect("status");
    assert_eq!(still.status, RequestStatus::Pending);
    bank.clock.advance_ms(1);
    let done = bank.client.request("mint-late").await.expect("status");
    assert_eq!(done.status, RequestStatus::Completed);
    bank.client.request("mint-late").await.expect("status");
    assert_eq!(
        bank.sink.mints(),
        vec![(base(), WALLET.to_owned(), d("100.00"))]
    );
    assert_eq!(bank.bank.usd(KEY), d("9899.70"));
}

#[tokio::test]
async fn injected_faults_surface_as_retryable_and_a_retry_with_the_same_reference_never_mints_twice(
) {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    let guard = UncheckedMintGuard;

    bank.bank
        .inject(BankOperation::Mint, Fault::ErrorAfterExecuting);
    let err = bank
        .client
        .mint(&mint("m-500", WALLET, "10.00"), &guard)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), "issuer_unavailable");
    let retried = bank
        .client
        .mint(&mint("m-500", WALLET, "10.00"), &guard)
        .await
        .expect("retry");
    assert_eq!(retried.status, RequestStatus::Completed);
    assert_eq!(bank.sink.mints().len(), 1);

    let impatient = client_for(
        &bank.bank,
        SECRET,
        bank.clock.clone(),
        Duration::from_millis(300),
    );
    let slow = Fault::SlowAfterExecuting {
        delay: Duration::from_secs(3),
    };
    bank.bank.inject(BankOperation::Mint, slow);
    let err = impatient
        .mint(&mint("m-slow", WALLET, "20.00"), &guard)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IssuerError::Timeout { .. }) && err.is_retryable(),
        "{err:?}"
    );
    let retried = impatient
        .mint(&mint("m-slow", WALLET, "20.00"), &guard)
        .await
        .expect("retry");
    assert_eq!(retried.status, RequestStatus::Completed);
    assert_eq!(bank.sink.mints().len(), 2);

    bank.bank.inject(BankOperation::Mint, Fault::Outage);
    let err = bank
        .client
        .mint(&mint("m-503", WALLET, "30.00"), &guard)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(bank.sink.mints().len(), 2, "an outage executes nothing");
    bank.client
        .mint(&mint("m-503", WALLET, "30.00"), &guard)
        .await
        .expect("retry");
    let minted: Decimal = bank.sink.mints().iter().map(|m| m.2).sum();
    assert_eq!((bank.sink.mints().len(), minted), (3, d("60.00")));
    // 60.00, three fixed fees of 0.25, and 0.0005 of 10, 20 and 30 rounded up: 0.01, 0.01, 0.02.
    assert_eq!(
        bank.bank.usd(KEY),
        d("10000.00") - d("60.00") - d("0.75") - d("0.04")
    );
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_secret_or_an_old_timestamp_is_refused_and_moves_nothing() {
    let bank = start().await;
    let forger = client_for(
        &bank.bank,
        "not-the-secret",
        bank.clock.clone(),
        Duration::from_secs(5),
    );
    let err = forger
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "issuer_auth_failed");
    assert!(!err.is_retryable());
    let late_clock = Arc::new(ManualClock::new(MORNING_MS + 60_000));
    let replayer = client_for(&bank.bank, SECRET, late_clock, Duration::from_secs(5));
    let err = replayer.balance().await.unwrap_err();
    assert!(
        matches!(&err, IssuerError::Auth { message } if message.contains("timestamp_out_of_window")),
        "{err:?}"
    );
    assert_eq!(bank.sink.allow_calls(), 0);
    let err = bank.client.request("onb-1").await.unwrap_err();
    assert_eq!(err.code(), "issuer_request_not_found");
}

/// A Proof of Reserve stand-in that refuses every mint.
struct NoReserves;

#[async_trait]
impl MintGuard for NoReserves {
    async fn check_mint(&self, _chain: &ChainId, amount: Decimal) -> Result<(), String> {
        Err(format!("supply + {amount} exceeds reserves"))
    }
}

#[tokio::test]
async fn a_mint_the_guard_refuses_is_never_sent_to_the_bank() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    let err = bank
        .client
        .mint(&mint("m-por", WALLET, "10.00"), &NoReserves)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "mint_guard_refused");
    assert!(bank.sink.mints().is_empty());
    assert_eq!(bank.bank.usd(KEY), d("10000.00"));
    let unknown = bank.client.request("m-por").await.unwrap_err();
    assert!(
        matches!(unknown, IssuerError::NotFound { .. }),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_reference_the_status_url_could_not_name_is_refused_before_anything_executes() {
    let bank = start().await;
    for reference in ["onb:1", "onb/1", "", &"x".repeat(65)] {
        let err = bank
            .client
            .onboard(&onboarding(reference, WALLET))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "issuer_invalid_request", "{reference:?}");
    }
    assert_eq!(bank.sink.allow_calls(), 0);
}

#[tokio::test]
async fn a_redemption_naming_an_onboarded_wallet_is_burned_by_the_bank_once_and_credited_minus_the_fee(
) {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    bank.client
        .mint(&mint("mint-1", WALLET, "250.00"), &UncheckedMintGuard)
        .await
        .expect("mint");
    let by_wallet = |reference: &str, wallet: &str, amount: &str| RedemptionRequest {
        reference: reference.into(),
        chain: base(),
        tx_hash: None,
        wallet: Some(wallet.into()),
        amount: d(amount),
    };
    let stranger = "0x00000000000000000000000000000000000000bb";
    let refused = bank
        .client
        .redeem(&by_wallet("red-0", stranger, "1.00"))
        .await
        .expect("answer");
    assert_eq!(
        refused.rejection.map(|r| r.code),
        Some(RejectionCode::RedemptionMismatch)
    );
    let too_much = bank
        .client
        .redeem(&by_wallet("red-1", WALLET, "250.01"))
        .await
        .expect("answer");
    assert_eq!(
        too_much.rejection.map(|r| r.code),
        Some(RejectionCode::ChainFailed)
    );
    assert_eq!(bank.sink.balance(&base(), WALLET), d("250.00"));
    let request = by_wallet("red-2", WALLET, "100.00");
    let redeemed = bank.client.redeem(&request).await.expect("redeem");
    assert_eq!(redeemed.status, RequestStatus::Completed, "{redeemed:?}");
    assert_eq!(
        (redeemed.fee, redeemed.usd_amount),
        (d("0.10"), Some(d("99.90")))
    );
    assert!(redeemed.tx_hash.is_some());
    assert_eq!(bank.sink.balance(&base(), WALLET), d("150.00"));
    // The same reference again answers the first result: burned once, credited once.
    let again = bank.client.redeem(&request).await.expect("retry");
    assert_eq!(again, redeemed);
    assert_eq!(bank.sink.balance(&base(), WALLET), d("150.00"));
    // 10,000.00 − 250.38 + 99.90.
    assert_eq!(bank.bank.usd(KEY), d("9849.52"));
}
