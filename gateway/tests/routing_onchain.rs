//! The on-chain legs of routes on a real devnet (two anvil chains): Uniswap V2 swaps from the
//! hot wallet (with a revert that leaves the input intact), the devnet's burn/mint USDC bridge,
//! a token transfer, and quotes that route a wallet's USDT through the DEX and the bridge.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use std::sync::Arc;

use common::devnet::{intent, pay_usdc, payer_wallet, start, start_clocked, DevnetApp};
use rialto_core::id::LegId;
use rialto_evm::contracts::{to_wire, ITetherLike, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::routing::onchain::{self, ChainLeg, LegProgress};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `of`'s balance of `symbol` on `chain`, in whole units (all sandbox tokens have 6 decimals).
async fn balance(chain: &ChainManifest, symbol: &str, of: &str) -> Decimal {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let units = IERC20::new(to_wire(&chain.tokens[symbol].address).unwrap(), &node)
        .balanceOf(of.parse().unwrap())
        .call()
        .await
        .unwrap();
    Decimal::from_i128_with_scale(units.to::<i128>(), 6)
}

async fn supply(chain: &ChainManifest, symbol: &str) -> Decimal {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let units = IERC20::new(to_wire(&chain.tokens[symbol].address).unwrap(), &node)
        .totalSupply()
        .call()
        .await
        .unwrap();
    Decimal::from_i128_with_scale(units.to::<i128>(), 6)
}

async fn allowance(chain: &ChainManifest, symbol: &str, owner: &str) -> U256 {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    IERC20::new(to_wire(&chain.tokens[symbol].address).unwrap(), &node)
        .allowance(owner.parse().unwrap(), to_wire(&chain.dex.router).unwrap())
        .call()
        .await
        .unwrap()
}

async fn nonce(chain: &ChainManifest, of: &str) -> u64 {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    node.get_transaction_count(of.parse().unwrap())
        .await
        .unwrap()
}

fn hot(chain: &ChainManifest) -> String {
    chain.gateway_hot_wallet.address.to_string()
}

/// Payer 0 sends `whole` USDT (no return value on `transfer`) to `to`.
async fn pay_usdt(chain: &ChainManifest, to: &str, whole: u64) {
    let receipt = ITetherLike::new(
        to_wire(&chain.tokens["USDT"].address).unwrap(),
        payer_wallet(chain, 0).await,
    )
    .transfer(to.parse().unwrap(), U256::from(whole * 1_000_000))
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(receipt.status());
}

/// Drives the leg until it is no longer pending; fails after 30 s.
async fn settle(setup: &DevnetApp, leg: &LegId, spec: &ChainLeg) -> LegProgress {
    let started = Instant::now();
    loop {
        let state = &setup.app.state;
        match onchain::progress(state, false, leg, spec, now_ms()).await {
            Ok(LegProgress::Pending) => {}
            Ok(done) => return done,
            Err(why) => panic!("progress of {leg}: {why}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "leg {leg} still pending"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn swap(chain: &ChainManifest, amount_in: &str, min_out: &str) -> ChainLeg {
    ChainLeg::Swap {
        chain: chain.chain_id.to_string(),
        token_in: "USDT".into(),
        token_out: "USDC".into(),
        amount_in: dec(amount_in),
        min_out: dec(min_out),
    }
}

#[tokio::test]
async fn a_usdt_to_usdc_swap_lands_exactly_and_is_never_sent_twice() {
    let setup = start(1).await;
    let state = &setup.app.state;
    let eth = &setup.other_chain;
    let hot = hot(eth);
    pay_usdt(eth, &hot, 500).await;
    let usdc_before = balance(eth, "USDC", &hot).await;
    let usdt_before = balance(eth, "USDT", &hot).await;

    let leg = LegId::generate();
    let spec = swap(eth, "100", "99");
    onchain::submit(state, false, &leg, &spec, now_ms())
        .await
        .unwrap();
    let LegProgress::Confirmed {
        received,
        tx_hash,
        block,
    } = settle(&setup, &leg, &spec).await
    else {
        panic!("the swap did not confirm");
    };
    let gained = balance(eth, "USDC", &hot).await - usdc_before;
    assert_eq!(received, gained, "received is the balance change");
    assert!(received >= dec("99"), "at least min_out: {received}");
    assert!(received < dec("100"), "the pool takes its fee: {received}");
    assert_eq!(usdt_before - balance(eth, "USDT", &hot).await, dec("100"));
    assert_eq!(
        allowance(eth, "USDT", &hot).await,
        U256::ZERO,
        "exact approval spent"
    );

    // The same leg again: nothing new is signed or sent, the same outcome is reported.
    let sent = nonce(eth, &hot).await;
    let swap_leg = state
        .store
        .get_chain_transfer("route_swap", &leg.to_string())
        .await
        .unwrap()
        .unwrap();
    onchain::submit(state, false, &leg, &spec, now_ms())
        .await
        .unwrap();
    assert_eq!(
        settle(&setup, &leg, &spec).await,
        LegProgress::Confirmed {
            received,
            tx_hash,
            block
        }
    );
    assert!(block.is_some(), "the swap's block is recorded");
    assert_eq!(nonce(eth, &hot).await, sent, "no new transaction");
    let again = state
        .store
        .get_chain_transfer("route_swap", &leg.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.tx_hash, swap_leg.tx_hash);
    assert_eq!(balance(eth, "USDC", &hot).await - usdc_before, received);
}

#[tokio::test]
async fn a_swap_that_cannot_meet_min_out_fails_reverted_and_leaves_usdt_and_later_swaps_intact() {
    let setup = start(1).await;
    let state = &setup.app.state;
    let eth = &setup.other_chain;
    let hot = hot(eth);
    pay_usdt(eth, &hot, 500).await;
    let usdt_before = balance(eth, "USDT", &hot).await;
    let usdc_before = balance(eth, "USDC", &hot).await;

    let leg = LegId::generate();
    let impossible = swap(eth, "100", "150");
    onchain::submit(state, false, &leg, &impossible, now_ms())
        .await
        .unwrap();
    match settle(&setup, &leg, &impossible).await {
        LegProgress::Failed { reverted, why } => {
            assert!(reverted, "{why}");
            assert!(why.contains("min_out"), "{why}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(balance(eth, "USDT", &hot).await, usdt_before, "USDT intact");
    assert_eq!(balance(eth, "USDC", &hot).await, usdc_before);
    assert_eq!(
        allowance(eth, "USDT", &hot).await,
        U256::ZERO,
        "approval revoked"
    );
    assert!(
        state
            .store
            .get_chain_transfer("route_swap", &leg.to_string())
            .await
            .unwrap()
            .is_none(),
        "no swap was ever sent"
    );
    // Still failed when asked again; nothing is sent.
    let sent = nonce(eth, &hot).await;
    assert!(matches!(
        settle(&setup, &leg, &impossible).await,
        LegProgress::Failed { reverted: true, .. }
    ));
    assert_eq!(nonce(eth, &hot).await, sent);

    // More USDT than the hot wallet holds: refused before anything is approved or sent.
    let short = onchain::submit(
        state,
        false,
        &LegId::generate(),
        &swap(eth, "100000", "1"),
        now_ms(),
    )
    .await;
    assert!(short.unwrap_err().to_string().contains("holds"));
    assert_eq!(nonce(eth, &hot).await, sent);

    // A leg abandoned after its approval leaves an allowance behind; a new leg with another
    // amount still swaps (USDT refuses non-zero to non-zero approvals: it resets first).
    let abandoned = LegId::generate();
    onchain::submit(state, false, &abandoned, &swap(eth, "40", "1"), now_ms())
        .await
        .unwrap();
    let started = Instant::now();
    while allowance(eth, "USDT", &hot).await == U256::ZERO {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "approval not mined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retry = LegId::generate();
    let feasible = swap(eth, "100", "99");
    onchain::submit(state, false, &retry, &feasible, now_ms())
        .await
        .unwrap();
    let LegProgress::Confirmed { received, .. } = settle(&setup, &retry, &feasible).await else {
        panic!("the retry did not swap");
    };
    assert!(received >= dec("99"));
    assert_eq!(usdt_before - balance(eth, "USDT", &hot).await, dec("100"));
}

#[tokio::test]
async fn a_bridge_leg_burns_on_one_chain_and_mints_less_the_fee_on_the_other() {
    let setup = start(1).await;
    let state = &setup.app.state;
    let (eth, base) = (&setup.other_chain, &setup.chain);
    let (hot_eth, hot_base) = (hot(eth), hot(base));
    pay_usdc(eth, 0, &hot_eth, U256::from(80_000_000u64)).await;
    let before = (
        balance(eth, "USDC", &hot_eth).await,
        supply(eth, "USDC").await,
        balance(base, "USDC", &hot_base).await,
        supply(base, "USDC").await,
    );
    let minter = eth.minter.address.to_string();
    let minter_before = balance(eth, "USDC", &minter).await;

    let leg = LegId::generate();
    let spec = ChainLeg::Bridge {
        from_chain: eth.chain_id.to_string(),
        to_chain: base.chain_id.to_string(),
        asset: "USDC".into(),
        amount: dec("50"),
        fee: dec("0.25"),
        venue: None,
    };
    onchain::submit(state, false, &leg, &spec, now_ms())
        .await
        .unwrap();
    let done = settle(&setup, &leg, &spec).await;
    assert!(
        matches!(&done, LegProgress::Confirmed { received, tx_hash, block: Some(_) }
            if *received == dec("49.75") && tx_hash.starts_with("0x")),
        "{done:?}"
    );
    assert_eq!(before.0 - balance(eth, "USDC", &hot_eth).await, dec("50"));
    assert_eq!(before.1 - supply(eth, "USDC").await, dec("50"), "burned");
    assert_eq!(balance(eth, "USDC", &minter).await, minter_before);
    assert_eq!(
        balance(base, "USDC", &hot_base).await - before.2,
        dec("49.75")
    );
    assert_eq!(
        supply(base, "USDC").await - before.3,
        dec("49.75"),
        "minted"
    );

    // Asking again changes nothing.
    onchain::submit(state, false, &leg, &spec, now_ms())
        .await
        .unwrap();
    assert!(matches!(
        settle(&setup, &leg, &spec).await,
        LegProgress::Confirmed { .. }
    ));
    assert_eq!(supply(base, "USDC").await - before.3, dec("49.75"));
    assert_eq!(before.1 - supply(eth, "USDC").await, dec("50"));

    // Live mode has no bridge.
    let refused = onchain::submit(state, true, &LegId::generate(), &spec, now_ms()).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_transfer_leg_delivers_the_exact_amount_to_its_recipient() {
    let setup = start(1).await;
    let state = &setup.app.state;
    let eth = &setup.other_chain;
    let hot = hot(eth);
    pay_usdt(eth, &hot, 100).await;
    let to = "0x000000000000000000000000000000000000bEEF";
    let leg = LegId::generate();
    let spec = ChainLeg::Transfer {
        chain: "devnet-ethereum".into(),
        asset: "USDT".into(),
        to: to.into(),
        amount: dec("12.5"),
    };
    onchain::submit(state, false, &leg, &spec, now_ms())
        .await
        .unwrap();
    let done = settle(&setup, &leg, &spec).await;
    assert!(
        matches!(&done, LegProgress::Confirmed { received, tx_hash, block: Some(_) }
            if *received == dec("12.5") && tx_hash.starts_with("0x")),
        "{done:?}"
    );
    assert_eq!(balance(eth, "USDT", to).await, dec("12.5"));
    assert_eq!(balance(eth, "USDT", &hot).await, dec("87.5"));
    // More decimals than the token has is refused before anything is sent.
    let precise = ChainLeg::Transfer {
        chain: "devnet-ethereum".into(),
        asset: "USDT".into(),
        to: to.into(),
        amount: dec("1.0000001"),
    };
    assert!(
        onchain::submit(state, false, &LegId::generate(), &precise, now_ms())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_wallets_usdt_on_one_chain_is_quoted_through_the_dex_and_the_bridge() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as Arc<dyn Clock>)).await;
    common::devnet::past_the_deploy(&setup, &clock).await;
    let app = &setup.app;
    let paying = intent(app, "25.00").await;
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(
            &format!("/v1/payment_intents/{id}/quotes"),
            &app.merchant.publishable_key,
        )
        .json(&json!({
            "source": {"type": "wallet", "chain": "devnet-ethereum", "asset": "usdt"},
            "client_secret": paying["client_secret"],
        }))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let best = &body["data"][0];
    assert_eq!(best["source"]["asset"], "USDT", "{best}");
    let kinds: Vec<&str> = best["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["dex_swap", "bridge"], "{best}");
    let legs = best["legs"].as_array().unwrap();
    assert_eq!(legs[0]["venue"], "uniswap-v2:eip155:31337");
    assert_eq!(legs[1]["venue"], "devnet-burn-mint");
    let payer: Decimal = best["payer_amount"].as_str().unwrap().parse().unwrap();
    let merchant: Decimal = best["merchant_amount"].as_str().unwrap().parse().unwrap();
    assert!(merchant >= dec("25"), "{best}");
    // The pool's 0.3 % and the bridge fee: the payer pays more than the intent.
    assert!(payer > dec("25.08"), "payer pays {payer}");
    assert!(best["price_sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pair"] == "USDT/USD"));
}
