//! Chainlink CCIP between the two devnet chains: the `CcipBridge` speaking Chainlink's real
//! `Router` (getFee, ccipSend), the devnet DON stand-in carrying each message through the
//! stand-in off-ramp and the destination router, and the unknown state of an undelivered
//! message. Each test starts its own anvil pair.

mod common;

use std::time::Duration;

use alloy::primitives::{Bytes, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolValue;
use common::{balance, key, reader, start, token, wallet};
use rialto_connectors::bridge::{Bridge, BridgeStatus, BridgeTransfer, LaneKind, BRIDGE_BURN};
use rialto_connectors::rail::MemoryJournal;
use rialto_core::Address;
use rialto_evm::ccip::{
    evm_extra_args_v1, token_transfer_message, ICcipRouter, IDevnetCcipOffRamp, IDevnetCcipOnRamp,
    IDevnetCcipReceiver,
};
use rialto_evm::ccip_bridge::{CcipBridge, CCIP_VENUE};
use rialto_evm::chain::EvmChain;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::devnet::Devnet;
use rialto_evm::devnet_don::DevnetDonStandIn;
use rialto_evm::manifest::{ChainManifest, InstitutionalManifest};
use rust_decimal::Decimal;

/// How many DON stand-in passes a test runs before it gives up on a delivery.
const DON_PASSES: usize = 5;

fn rails(chain: &ChainManifest) -> &InstitutionalManifest {
    chain.institutional.as_ref().expect("institutional rails")
}

fn evm_chain(c: &ChainManifest) -> EvmChain {
    let mut chain = EvmChain::new(
        c.chain_id.to_string(),
        c.chain_id.evm_chain_id().unwrap(),
        c.alias.clone(),
        false,
        vec![c.rpc_url.clone()],
        1,
    );
    chain.hot_wallet = Some(c.gateway_hot_wallet.private_key.clone());
    chain
}

fn bridge(devnet: &Devnet, delivery: Duration) -> CcipBridge {
    let chains: Vec<EvmChain> = devnet.manifest().chains.iter().map(evm_chain).collect();
    CcipBridge::from_manifest(devnet.manifest(), &chains, delivery).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn transfer(from: &ChainManifest, to: &ChainManifest, asset: &str, amount: &str) -> BridgeTransfer {
    BridgeTransfer {
        from_chain: from.chain_id.to_string(),
        to_chain: to.chain_id.to_string(),
        asset: asset.into(),
        amount: d(amount),
        fee: Decimal::ZERO,
        venue: Some(CCIP_VENUE.into()),
    }
}

/// Gives Rialto's hot wallet on `chain` `units` of USDC from a payer.
async fn fund_hot_wallet(chain: &ChainManifest, units: u64) {
    let payer = wallet(chain, key(&chain.payers[0])).await;
    let usdc = IERC20::new(to_wire(&token(chain, "USDC")).unwrap(), &payer);
    let to = to_wire(&chain.gateway_hot_wallet.address).unwrap();
    let r = usdc.transfer(to, U256::from(units)).send().await.unwrap();
    assert!(r.get_receipt().await.unwrap().status());
}

/// Drives the bridge as the engine does, running the DON stand-in's pass when `don` is given,
/// until the leg is neither starting nor in flight; `now` advances a second per step.
async fn drive(
    bridge: &CcipBridge,
    journal: &MemoryJournal,
    t: &BridgeTransfer,
    don: Option<&DevnetDonStandIn>,
    start_ms: i64,
) -> BridgeStatus {
    bridge.burn(journal, "leg_1", t, start_ms).await.unwrap();
    for step in 1..60 {
        let now = start_ms + step * 1_000;
        if let Some(don) = don {
            don.pass().await.unwrap();
        }
        match bridge.status(journal, "leg_1", t, now).await.unwrap() {
            BridgeStatus::Burning => bridge.burn(journal, "leg_1", t, now).await.unwrap(),
            BridgeStatus::Burned => bridge.mint(journal, "leg_1", t, now).await.unwrap(),
            BridgeStatus::Minting | BridgeStatus::NotStarted => {}
            done => return done,
        }
    }
    panic!("the CCIP leg never finished")
}

async fn sequence(p: &DynProvider, chain: &ChainManifest, peer: &ChainManifest) -> u64 {
    let lane = &rails(chain).ccip.lanes[&peer.alias];
    IDevnetCcipOnRamp::new(to_wire(&lane.on_ramp).unwrap(), p)
        .sequenceNumber()
        .call()
        .await
        .unwrap()
}

#[tokio::test]
async fn usdc_crosses_through_ccip_whole_with_the_router_fee_paid_in_native_coin_once_the_don_stand_in_delivers(
) {
    let devnet = start().await;
    let [a, b] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    let bridge = bridge(&devnet, Duration::from_secs(600));
    let lane = bridge
        .lanes()
        .into_iter()
        .find(|l| l.asset == "USDC" && l.from_chain == a.chain_id.to_string())
        .expect("a USDC lane");
    assert_eq!(lane.venue, "ccip");
    let fee_wei = rails(a).ccip.lanes[&b.alias].native_fee_wei;
    assert_eq!(
        lane.kind,
        LaneKind::Ccip {
            native_fee_units: u128::from(fee_wei)
        }
    );
    fund_hot_wallet(a, 25_000_000).await;
    let (ra, rb) = (reader(a).await, reader(b).await);
    let usdc_b = token(b, "USDC");
    let hot_b = b.gateway_hot_wallet.address;
    let before = balance(&rb, &usdc_b, &hot_b).await;
    let don = DevnetDonStandIn::from_manifest(devnet.manifest())
        .await
        .unwrap();
    let journal = MemoryJournal::new();
    let t = transfer(a, b, "USDC", "25");

    let done = drive(&bridge, &journal, &t, Some(&don), 1_000_000).await;

    let BridgeStatus::Minted { received, .. } = done else {
        panic!("not delivered: {done:?}")
    };
    assert_eq!(received, d("25"), "the amount arrives whole");
    assert_eq!(
        balance(&rb, &usdc_b, &hot_b).await - before,
        U256::from(25_000_000u64)
    );
    let fees = bridge.network_fees(&journal, "leg_1", &t).await.unwrap();
    assert_eq!(fees.len(), 1);
    assert_eq!(fees[0].units, u128::from(fee_wei), "getFee's quote, paid");
    assert_eq!(fees[0].chain, a.chain_id.to_string());
    assert_eq!(sequence(&ra, a, b).await, 1, "one message sent");
    assert!(
        don.pass().await.unwrap().is_empty(),
        "a second pass delivers nothing again"
    );
}

#[tokio::test]
async fn an_undelivered_ccip_message_becomes_unknown_and_is_never_sent_again() {
    let devnet = start().await;
    let [a, b] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    let bridge = bridge(&devnet, Duration::from_secs(30));
    fund_hot_wallet(a, 10_000_000).await;
    let journal = MemoryJournal::new();
    let t = transfer(a, b, "USDC", "10");

    // No DON stand-in runs: the message is sent and never executed.
    let done = drive(&bridge, &journal, &t, None, 1_000_000).await;

    let BridgeStatus::Unknown { why } = done else {
        panic!("expected unknown, got {done:?}")
    };
    assert!(why.contains("not sent again"), "{why}");
    for later in [2_000_000, 3_000_000] {
        bridge.burn(&journal, "leg_1", &t, later).await.unwrap();
        assert!(matches!(
            bridge.status(&journal, "leg_1", &t, later).await.unwrap(),
            BridgeStatus::Unknown { .. }
        ));
    }
    let sends = journal
        .legs()
        .into_iter()
        .filter(|l| l.draft.purpose == BRIDGE_BURN && l.draft.reference.ends_with(":ccip_send"))
        .count();
    assert_eq!(sends, 1, "one ccipSend recorded");
    assert_eq!(
        sequence(&reader(a).await, a, b).await,
        1,
        "one message on chain"
    );
}

#[tokio::test]
async fn the_deposit_token_crosses_through_ccip_between_allow_listed_holders_and_reaches_ccip_receive(
) {
    let devnet = start().await;
    let [a, b] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    let symbol = "JPMD-DEV";
    let jpmd_a = rails(a).deposit_tokens[symbol].address;
    let jpmd_b = rails(b).deposit_tokens[symbol].address;
    let inst = wallet(a, key(&rails(a).institution_payer)).await;
    let lane = &rails(a).ccip.lanes[&b.alias];
    let router = ICcipRouter::new(to_wire(&rails(a).ccip.router).unwrap(), &inst);
    let erc20 = IERC20::new(to_wire(&jpmd_a).unwrap(), &inst);
    let amount = U256::from(40_000_000u64);
    let r = erc20.approve(*router.address(), amount * U256::from(3));
    assert!(r
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());
    let send = |receiver: Address, data: Bytes| {
        let mut m = token_transfer_message(&receiver, &jpmd_a, amount).unwrap();
        if !data.is_empty() {
            m.data = data;
            m.extraArgs = evm_extra_args_v1(200_000);
        }
        let fee = U256::from(lane.native_fee_wei);
        let call = router.ccipSend(lane.dest_chain_selector, m).value(fee);
        async move {
            let id = call.call().await.unwrap();
            assert!(call
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap()
                .status());
            id
        }
    };
    let rb = reader(b).await;
    let holder = rails(b).institution_payer.address;
    let stranger = b.payers[0].address;
    let before = balance(&rb, &jpmd_b, &holder).await;
    // A receiver contract on b, deployed by the DON stand-in's account for the test.
    let deployer = wallet(b, key(&b.payers[1])).await;
    let receiver = deploy_receiver(&deployer, b).await;
    let allow = wallet(b, key(&rails(b).issuing_bank)).await;
    let token_b = rialto_evm::deposit_token::IDepositToken::new(to_wire(&jpmd_b).unwrap(), &allow);
    let r = token_b.setAllowed(to_wire(&receiver).unwrap(), true);
    assert!(r
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());

    let to_holder = send(holder, Bytes::new()).await;
    let to_stranger = send(stranger, Bytes::new()).await;
    let to_contract = send(receiver, Bytes::from(b"invoice 42".to_vec())).await;
    let don = DevnetDonStandIn::from_manifest(devnet.manifest())
        .await
        .unwrap();
    // Bounded: the stand-in's passes run until the two deliverable messages are carried, or
    // the test fails with what was delivered (never waits for delivery without end).
    let mut ids = Vec::new();
    for _ in 0..DON_PASSES {
        let delivered = don.pass().await.unwrap();
        ids.extend(delivered.iter().map(|d| d.message_id));
        if ids.len() >= 2 {
            break;
        }
    }
    assert_eq!(
        ids,
        vec![to_holder, to_contract],
        "within {DON_PASSES} passes, the holder's and the contract's are delivered, the stranger's is refused"
    );
    assert!(
        don.pass().await.unwrap().is_empty(),
        "the stranger's stays refused, nothing is delivered twice"
    );
    assert_eq!(balance(&rb, &jpmd_b, &holder).await - before, amount);
    assert_eq!(balance(&rb, &jpmd_b, &stranger).await, U256::ZERO);
    let off_ramp = rails(b).ccip.lanes[&a.alias].off_ramp.unwrap();
    let off_ramp = IDevnetCcipOffRamp::new(to_wire(&off_ramp).unwrap(), &rb);
    assert_eq!(
        off_ramp.executionState(to_stranger).call().await.unwrap(),
        0
    );
    let contract = IDevnetCcipReceiver::new(to_wire(&receiver).unwrap(), &rb);
    assert_eq!(contract.received().call().await.unwrap(), U256::from(1));
    assert_eq!(contract.lastMessageId().call().await.unwrap(), to_contract);
    assert_eq!(
        contract.lastData().call().await.unwrap(),
        Bytes::from(b"invoice 42".to_vec())
    );
    assert_eq!(balance(&rb, &jpmd_b, &receiver).await, amount);
}

async fn deploy_receiver(p: &DynProvider, chain: &ChainManifest) -> Address {
    use alloy::network::TransactionBuilder;
    use alloy::providers::Provider;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/artifacts/DevnetCcipReceiverStandIn.json"
    );
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: Bytes = artifact["bytecode"].as_str().unwrap().parse().unwrap();
    let router = to_wire(&rails(chain).ccip.router).unwrap();
    let data: Bytes = [code.as_ref(), &router.abi_encode()].concat().into();
    let tx = alloy::rpc::types::TransactionRequest::default().with_deploy_code(data);
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    rialto_evm::contracts::from_wire(receipt.contract_address.unwrap())
}
