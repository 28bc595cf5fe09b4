//! Solana Pay detection on the local simnet: a payment carrying a transfer request's reference
//! key is found by that key and checked against the request before anything binds it; a wrong
//! amount, mint, recipient or memo is refused.

use std::time::Duration;

use rialto_solana::chain::{Commitment, SolanaChain};
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::{simnet, SolanaDevnet};
use rialto_solana::keys::address_of;
use rialto_solana::node::SolanaNode;
use rialto_solana::pay::{find_by_reference, validate, Mismatch, Requested};
use rialto_solana::sdk::{Keypair, Signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_found_by_its_reference_and_checked_against_the_request() {
    let bin = simnet::locate_for_tests().unwrap_or_else(|e| panic!("{e}"));
    let devnet = SolanaDevnet::start(&bin, 200).await.unwrap();
    devnet.provision().await.unwrap();
    let node = SolanaNode::new(SolanaChain::new(
        devnet.caip2.clone(),
        "devnet-solana".into(),
        false,
        vec![devnet.rpc_url.clone()],
        Commitment::Confirmed,
        Duration::from_secs(10),
    ));
    let payer = devnet_keypair("payer 1");
    let merchant = Keypair::new().pubkey();
    let reference = Keypair::new().pubkey();
    let nothing_yet = find_by_reference(&node, &address_of(&reference))
        .await
        .unwrap();
    assert_eq!(nothing_yet, None);
    let signature = devnet
        .pay_request(
            &payer,
            &merchant,
            &devnet.usdc,
            25_000_000,
            &reference,
            Some("order 42"),
        )
        .await
        .unwrap();
    let found = find_by_reference(&node, &address_of(&reference))
        .await
        .unwrap();
    assert_eq!(found.as_deref(), Some(signature.as_str()));

    let requested = Requested {
        recipient: address_of(&merchant),
        mint: address_of(&devnet.usdc.mint),
        units: 25_000_000,
        memo: Some("order 42".into()),
    };
    let observed = validate(&node, &signature, &requested).await.unwrap();
    assert_eq!(observed.amount_units, 25_000_000);
    assert_eq!(observed.from, address_of(&payer.pubkey()));

    let more = Requested {
        units: 25_000_001,
        ..requested.clone()
    };
    assert!(matches!(
        validate(&node, &signature, &more).await,
        Err(Mismatch::Amount { .. })
    ));
    let other_memo = Requested {
        memo: Some("order 43".into()),
        ..requested.clone()
    };
    assert!(matches!(
        validate(&node, &signature, &other_memo).await,
        Err(Mismatch::Memo)
    ));
    let other_mint = Requested {
        mint: address_of(&devnet.pyusd.mint),
        ..requested.clone()
    };
    assert!(matches!(
        validate(&node, &signature, &other_mint).await,
        Err(Mismatch::Chain(_))
    ));
    let other_to = Requested {
        recipient: address_of(&Keypair::new().pubkey()),
        ..requested
    };
    assert!(matches!(
        validate(&node, &signature, &other_to).await,
        Err(Mismatch::Chain(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_naming_a_reference_after_one_already_judged_are_only_the_newer_ones() {
    use rialto_connectors::chain::ChainNode;
    let bin = simnet::locate_for_tests().unwrap_or_else(|e| panic!("{e}"));
    let devnet = SolanaDevnet::start(&bin, 200).await.unwrap();
    devnet.provision().await.unwrap();
    let node = SolanaNode::new(SolanaChain::new(
        devnet.caip2.clone(),
        "devnet-solana".into(),
        false,
        vec![devnet.rpc_url.clone()],
        Commitment::Confirmed,
        Duration::from_secs(10),
    ));
    let payer = devnet_keypair("payer 2");
    let merchant = Keypair::new().pubkey();
    let reference = Keypair::new().pubkey();
    let key = address_of(&reference);
    let mut sent = Vec::new();
    for units in [1, 2, 3] {
        let signature = devnet
            .pay_request(&payer, &merchant, &devnet.usdc, units, &reference, None)
            .await
            .unwrap();
        sent.push(signature);
    }
    let all = node.transactions_naming_after(&key, None).await.unwrap();
    assert_eq!(all, sent, "everything, oldest first");
    let after_first = node
        .transactions_naming_after(&key, Some(&sent[0]))
        .await
        .unwrap();
    assert_eq!(
        after_first,
        sent[1..],
        "only what came after the judged one"
    );
    let after_last = node
        .transactions_naming_after(&key, Some(&sent[2]))
        .await
        .unwrap();
    assert!(after_last.is_empty(), "nothing new: {after_last:?}");
}
