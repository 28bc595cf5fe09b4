//! Issue 17's institutional rails on a real devnet: the JPMD-shaped deposit token (allow-list,
//! pause, upgrade), Proof of Reserve (breach, staleness, secure mint) and Chainlink's CCIP
//! router (fee quote, send). Each test starts its own anvil pair.

mod common;

use alloy::primitives::{Address as WireAddress, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolEvent;
use common::{block_time, key, reader, start, wallet};
use rialto_core::{Address, Currency, CurrencyKind, Money, PorGuard, ReserveBreach};
use rialto_evm::ccip::{token_transfer_message, ICcipRouter, IDevnetCcipOnRamp};
use rialto_evm::contracts::{from_wire, to_wire, IMockV3Aggregator, IERC20};
use rialto_evm::deposit_token::{
    implementation, is_allowed, DepositTokenRole, IDepositToken, IDepositToken::IDepositTokenErrors,
};
use rialto_evm::manifest::{ChainManifest, InstitutionalManifest};
use rialto_evm::reserves::{check_reserves, check_secure_mint};

const SYMBOL: &str = "JPMD-DEV";

fn rails(chain: &ChainManifest) -> &InstitutionalManifest {
    chain
        .institutional
        .as_ref()
        .expect("the devnet deploys the institutional rails")
}

fn jpmd(chain: &ChainManifest) -> Address {
    rails(chain).deposit_tokens[SYMBOL].address
}

fn currency() -> Currency {
    Currency::new(SYMBOL, 6, CurrencyKind::DepositToken)
}

fn units(text: &str) -> U256 {
    U256::from(
        Money::parse(text, currency())
            .unwrap()
            .to_base_units()
            .unwrap(),
    )
}

fn money(text: &str) -> Money {
    Money::parse(text, currency()).unwrap()
}

async fn bank(chain: &ChainManifest) -> DynProvider {
    wallet(chain, key(&rails(chain).issuing_bank)).await
}

async fn institution(chain: &ChainManifest) -> DynProvider {
    wallet(chain, key(&rails(chain).institution_payer)).await
}

/// The revert of a call made with `eth_call`, decoded as one of the token's errors.
fn token_error<T>(result: Result<T, alloy::contract::Error>) -> IDepositTokenErrors {
    let Err(err) = result else {
        panic!("the call was expected to revert")
    };
    err.as_decoded_interface_error::<IDepositTokenErrors>()
        .unwrap_or_else(|| panic!("not a DepositToken error: {err:?}"))
}

#[tokio::test]
async fn the_deposit_token_moves_only_between_allow_listed_holders_and_mints_come_from_zero() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[1];
    let p = reader(chain).await;
    let token_address = jpmd(chain);
    let institution_address = rails(chain).institution_payer.address;
    let treasury = chain.gateway_hot_wallet.address;
    let stranger = chain.payers[0].address;
    assert!(is_allowed(&p, &token_address, &institution_address)
        .await
        .unwrap());
    assert!(is_allowed(&p, &token_address, &treasury).await.unwrap());
    assert!(!is_allowed(&p, &token_address, &stranger).await.unwrap());

    let inst = institution(chain).await;
    let token = IDepositToken::new(to_wire(&token_address).unwrap(), &inst);
    assert_eq!(token.decimals().call().await.unwrap(), 6);
    let ok = token.transfer(to_wire(&treasury).unwrap(), units("25.50"));
    assert!(ok
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());
    assert_eq!(
        token
            .balanceOf(to_wire(&treasury).unwrap())
            .call()
            .await
            .unwrap(),
        units("25.50")
    );

    let refused = token
        .transfer(to_wire(&stranger).unwrap(), units("1"))
        .call()
        .await;
    assert!(matches!(
        token_error(refused),
        IDepositTokenErrors::HolderNotAllowed(e) if e.holder == to_wire(&stranger).unwrap()
    ));

    let b = bank(chain).await;
    let by_bank = IDepositToken::new(to_wire(&token_address).unwrap(), &b);
    let mint_to_stranger = by_bank
        .mint(to_wire(&stranger).unwrap(), units("1"))
        .call()
        .await;
    assert!(matches!(
        token_error(mint_to_stranger),
        IDepositTokenErrors::HolderNotAllowed(_)
    ));
    let receipt = by_bank
        .mint(to_wire(&treasury).unwrap(), units("5"))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let transfer = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| IDepositToken::Transfer::decode_log(&log.inner).ok())
        .expect("a mint emits Transfer");
    assert_eq!(
        transfer.from,
        WireAddress::ZERO,
        "a mint is a Transfer from zero"
    );
    assert_eq!(transfer.value, units("5"));
}

#[tokio::test]
async fn a_paused_deposit_token_refuses_transfers_until_the_pauser_unpauses_it() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let token_address = to_wire(&jpmd(chain)).unwrap();
    let treasury = to_wire(&chain.gateway_hot_wallet.address).unwrap();
    let inst = institution(chain).await;
    let by_institution = IDepositToken::new(token_address, &inst);
    let not_pauser = by_institution.pause().call().await;
    assert!(matches!(
        token_error(not_pauser),
        IDepositTokenErrors::AccessControlUnauthorizedAccount(_)
    ));

    let b = bank(chain).await;
    let by_bank = IDepositToken::new(token_address, &b);
    by_bank
        .pause()
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(by_bank.paused().call().await.unwrap());
    let paused = by_institution.transfer(treasury, units("1")).call().await;
    assert!(matches!(
        token_error(paused),
        IDepositTokenErrors::EnforcedPause(_)
    ));

    by_bank
        .unpause()
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let sent = by_institution
        .transfer(treasury, units("1"))
        .send()
        .await
        .unwrap();
    assert!(sent.get_receipt().await.unwrap().status());
}

#[tokio::test]
async fn an_upgrade_keeps_balances_roles_and_the_allow_list_and_only_the_upgrader_may_upgrade() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let p = reader(chain).await;
    let token_address = jpmd(chain);
    let institution_address = to_wire(&rails(chain).institution_payer.address).unwrap();
    let bank_address = to_wire(&rails(chain).issuing_bank.address).unwrap();
    let old = implementation(&p, &token_address).await.unwrap();
    assert_eq!(old, rails(chain).deposit_tokens[SYMBOL].implementation);
    let inst = institution(chain).await;
    let take_over = IDepositToken::new(to_wire(&old).unwrap(), &inst)
        .initialize("x".into(), "x".into(), institution_address)
        .call()
        .await;
    assert!(
        matches!(
            token_error(take_over),
            IDepositTokenErrors::InvalidInitialization(_)
        ),
        "the bare implementation cannot be initialized"
    );

    // A second implementation from the committed artifact, as an upgrade would deploy.
    let artifact: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            rialto_evm::DevnetConfig::default_repo_root()
                .join("contracts/artifacts/DepositToken.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let code: Bytes = artifact["bytecode"].as_str().unwrap().parse().unwrap();
    let b = bank(chain).await;
    let tx = alloy::rpc::types::TransactionRequest::default()
        .from(bank_address)
        .input(code.into());
    let tx = alloy::network::TransactionBuilder::into_create(tx);
    let receipt = b
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let new_impl = receipt.contract_address.unwrap();

    let token = IDepositToken::new(to_wire(&token_address).unwrap(), &b);
    let balance_before = token.balanceOf(institution_address).call().await.unwrap();
    let supply_before = token.totalSupply().call().await.unwrap();
    let stranger = IDepositToken::new(to_wire(&token_address).unwrap(), &inst)
        .upgradeToAndCall(new_impl, Bytes::new())
        .call()
        .await;
    assert!(matches!(
        token_error(stranger),
        IDepositTokenErrors::AccessControlUnauthorizedAccount(_)
    ));
    let upgraded = token
        .upgradeToAndCall(new_impl, Bytes::new())
        .send()
        .await
        .unwrap();
    assert!(upgraded.get_receipt().await.unwrap().status());

    assert_eq!(
        implementation(&p, &token_address).await.unwrap(),
        from_wire(new_impl)
    );
    assert_ne!(from_wire(new_impl), old);
    assert_eq!(
        token.balanceOf(institution_address).call().await.unwrap(),
        balance_before
    );
    assert_eq!(token.totalSupply().call().await.unwrap(), supply_before);
    assert!(token.isAllowed(institution_address).call().await.unwrap());
    assert!(token
        .hasRole(DepositTokenRole::Minter.id(), bank_address)
        .call()
        .await
        .unwrap());
    assert_eq!(token.symbol().call().await.unwrap(), SYMBOL);
}

#[tokio::test]
async fn a_reserve_breach_and_a_stale_feed_are_detected_and_the_guard_lifts_when_reserves_cover_supply(
) {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[1];
    let p = reader(chain).await;
    let feed = &rails(chain).reserve_feeds[SYMBOL];
    let guard = PorGuard {
        heartbeat_secs: feed.heartbeat_secs,
    };
    let token = jpmd(chain);
    let now = block_time(&p).await;
    let healthy = check_reserves(&p, &token, currency(), &feed.address, guard, now)
        .await
        .unwrap();
    assert_eq!(healthy.verdict, Ok(()));
    // The institution's funding (10,000) and the CCIP stand-in off-ramp's liquidity on this
    // chain (`CCIP_POOL_LIQUIDITY`, 1,000,000; one lane per chain on the devnet).
    assert_eq!(
        healthy.supply,
        money("1010000"),
        "the institution's funding and the off-ramp's liquidity are the supply"
    );
    assert_eq!(healthy.report.reserves, feed.initial_reserves);

    // The bank's reserves drop one cent below the supply.
    let b = bank(chain).await;
    let aggregator = IMockV3Aggregator::new(to_wire(&feed.address).unwrap(), &b);
    let below = alloy::primitives::I256::try_from(100_999_999_000_000i64).unwrap(); // 1009999.99 at 8 decimals
    aggregator
        .updateAnswer(below)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let now = block_time(&p).await;
    let breached = check_reserves(&p, &token, currency(), &feed.address, guard, now)
        .await
        .unwrap();
    assert_eq!(
        breached.verdict,
        Err(ReserveBreach::Undercollateralized {
            reserves: "1009999.99".parse().unwrap(),
            supply: "1010000".parse().unwrap()
        })
    );

    let exact = alloy::primitives::I256::try_from(101_000_000_000_000i64).unwrap(); // 1010000
    aggregator
        .updateAnswer(exact)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let updated_at = block_time(&p).await;
    let lifted = check_reserves(&p, &token, currency(), &feed.address, guard, updated_at)
        .await
        .unwrap();
    assert_eq!(lifted.verdict, Ok(()), "reserves equal to supply cover it");

    let late = updated_at + feed.heartbeat_secs + 1;
    let stale = check_reserves(&p, &token, currency(), &feed.address, guard, late)
        .await
        .unwrap();
    assert!(
        matches!(stale.verdict, Err(ReserveBreach::Stale { heartbeat_secs, .. }) if heartbeat_secs == feed.heartbeat_secs),
        "{stale:?}"
    );
}

#[tokio::test]
async fn secure_mint_refuses_a_mint_that_would_take_the_supply_above_the_reserves() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let p = reader(chain).await;
    let feed = &rails(chain).reserve_feeds[SYMBOL];
    let guard = PorGuard {
        heartbeat_secs: feed.heartbeat_secs,
    };
    let token = jpmd(chain);
    let now = block_time(&p).await;
    // Reserves start at the supply (the institution's 10,000 and the CCIP off-ramp's 1,000,000)
    // + 1,000,000 of headroom.
    let up_to = check_secure_mint(&p, &token, &feed.address, guard, &money("1000000"), now)
        .await
        .unwrap();
    assert_eq!(up_to, Ok(()));
    let over = check_secure_mint(
        &p,
        &token,
        &feed.address,
        guard,
        &money("1000000.000001"),
        now,
    )
    .await
    .unwrap();
    assert_eq!(over.unwrap_err().code(), "secure_mint_refused");
}

#[tokio::test]
async fn the_ccip_router_quotes_its_fee_and_a_send_locks_the_tokens_and_records_the_message_for_the_relayer(
) {
    let devnet = start().await;
    let [chain, other] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    let ccip = &rails(chain).ccip;
    let lane = &ccip.lanes[&other.alias];
    assert_eq!(lane.dest_chain_selector, rails(other).ccip.chain_selector);
    let inst = institution(chain).await;
    let router = ICcipRouter::new(to_wire(&ccip.router).unwrap(), &inst);
    assert!(router
        .typeAndVersion()
        .call()
        .await
        .unwrap()
        .starts_with("Router "));

    let receiver = rails(other).institution_payer.address;
    let amount = units("100");
    let message = token_transfer_message(&receiver, &jpmd(chain), amount).unwrap();
    let fee = rialto_evm::ccip::get_fee(
        &inst,
        &ccip.router,
        lane.dest_chain_selector,
        message.clone(),
    )
    .await
    .unwrap();
    assert_eq!(fee, U256::from(lane.native_fee_wei));
    let unknown = router
        .getFee(4242, message.clone())
        .call()
        .await
        .unwrap_err();
    assert!(
        unknown
            .as_decoded_interface_error::<ICcipRouter::ICcipRouterErrors>()
            .is_some(),
        "{unknown:?}"
    );

    let token = IDepositToken::new(to_wire(&jpmd(chain)).unwrap(), &inst);
    let erc20 = IERC20::new(to_wire(&jpmd(chain)).unwrap(), &inst);
    erc20
        .approve(*router.address(), amount)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let send = router
        .ccipSend(lane.dest_chain_selector, message)
        .value(fee);
    let message_id = send.call().await.unwrap();
    let receipt = send.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let on_ramp = to_wire(&lane.on_ramp).unwrap();
    assert_eq!(
        token.balanceOf(on_ramp).call().await.unwrap(),
        amount,
        "locked in the on-ramp's pool"
    );
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| IDevnetCcipOnRamp::DevnetCcipSendRequested::decode_log(&log.inner).ok())
        .expect("the on-ramp records the message");
    assert_eq!(event.messageId, message_id);
    assert_eq!(event.destChainSelector, lane.dest_chain_selector);
    assert_eq!(event.feeTokenAmount, fee);
    assert_eq!(event.message.tokenAmounts[0].amount, amount);
    assert_eq!(
        event.originalSender,
        to_wire(&rails(chain).institution_payer.address).unwrap()
    );
    let weth = IERC20::new(to_wire(&ccip.wrapped_native).unwrap(), &inst);
    assert_eq!(
        weth.balanceOf(on_ramp).call().await.unwrap(),
        fee,
        "the fee, wrapped"
    );
}
