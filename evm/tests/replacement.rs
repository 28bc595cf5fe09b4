//! Stuck legs replaced at their nonce, on anvil with automine off, with the in-memory journal
//! (`rialto_evm::devnet::replacement_check`; the gateway runs the same checks with its SQL
//! store in `gateway/tests/rail_conformance.rs`).

mod common;

use rialto_connectors::rail::MemoryJournal;
use rialto_evm::devnet::rail_harness::AnvilRailHarness;
use rialto_evm::devnet::replacement_check;

#[tokio::test]
async fn a_leg_left_unmined_is_replaced_at_its_nonce_or_cancelled_and_lands_once() {
    let harness = AnvilRailHarness::new(common::start().await).await;
    replacement_check::a_stuck_leg_is_replaced_at_its_nonce_and_lands_once(
        &harness,
        &MemoryJournal::new(),
    )
    .await;
    replacement_check::a_stuck_leg_configured_to_cancel_is_cancelled_and_moves_nothing(
        &harness,
        &MemoryJournal::new(),
    )
    .await;
}

/// A `GasPriceOracle` stand-in for anvil (which has no OP-stack predeploys): whatever it is
/// asked, it answers 12,345,678 wei (`PUSH4 … PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN`).
const ORACLE_STAND_IN: &str = "0x6300bc614e60005260206000f3";

#[tokio::test]
async fn an_op_stack_chains_fee_quote_carries_the_l1_data_fee_its_gas_price_oracle_names() {
    use alloy::providers::Provider;
    use rialto_connectors::chain::ChainNode;
    use rialto_connectors::rail::conformance::RailHarness;
    use rialto_connectors::rail::LegAction;
    use rialto_evm::l1_fee::{oracle_of, GAS_PRICE_ORACLE};
    use rialto_evm::node::EvmNode;

    let harness = AnvilRailHarness::new(common::start().await).await;
    let mut chain = harness.chain().clone();
    let node = rialto_evm::provider::provider(chain.rpc_url()).unwrap();
    let _: serde_json::Value = node
        .raw_request(
            "anvil_setCode".into(),
            serde_json::json!([GAS_PRICE_ORACLE, ORACLE_STAND_IN]),
        )
        .await
        .unwrap();
    let key = harness.funded_key().await;
    let from = rialto_evm::sender::signer_address(&rialto_evm::rail::signer_of(&key).unwrap());
    let action = LegAction::Transfer {
        asset: Some(harness.token()),
        to: harness.recipient(),
        amount: 1,
    };
    let plain = EvmNode::new(chain.clone())
        .fee_quote(&from, &action)
        .await
        .unwrap();
    assert_eq!(plain.fixed_fee, 0, "a chain that is no rollup charges none");
    chain.l1_fee_oracle = oracle_of(8453);
    assert!(chain.l1_fee_oracle.is_some(), "Base is an OP-stack chain");
    let rollup = EvmNode::new(chain).fee_quote(&from, &action).await.unwrap();
    assert_eq!(rollup.fixed_fee, 12_345_678);
    assert_eq!(rollup.units, plain.units);
}
