//! EIP-3009 on a real devnet: Circle's FiatToken v2.2 USDC, a payer's signature, the gateway's
//! hot wallet relaying it. Every test starts its own devnet.

mod common;

use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use common::{balance, block_time, key, merchant, reader, send_call, start, token, wallet};
use rialto_core::Address;
use rialto_evm::eip3009::{
    calldata, check_onchain, intent_nonce, read_domain, sign, simulate, verify_offchain,
    Authorization, AuthorizationKind, ExpectedPayment, TokenDomain,
};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::AuthorizationError;

const VALUE: u64 = 12_345_678; // 12.345678 USDC

struct Setup {
    domain: TokenDomain,
    usdc: Address,
    payer: PrivateKeySigner,
    payer_address: Address,
    hot: Address,
    now: u64,
}

async fn setup(chain: &ChainManifest) -> Setup {
    let p = reader(chain).await;
    let usdc = token(chain, "USDC");
    let domain = read_domain(&p, &usdc).await.unwrap();
    Setup {
        domain,
        usdc,
        payer: key(&chain.payers[0]),
        payer_address: chain.payers[0].address,
        hot: chain.gateway_hot_wallet.address,
        now: block_time(&p).await,
    }
}

fn authorization(s: &Setup, intent: &str, to: Address, value: u64) -> Authorization {
    Authorization {
        kind: AuthorizationKind::Transfer,
        from: s.payer_address,
        to,
        value: U256::from(value),
        valid_after: 0,
        valid_before: s.now + 3600,
        nonce: intent_nonce(intent, s.domain.chain_id, &s.usdc),
    }
}

fn expected(s: &Setup, auth: &Authorization, min_value: u64) -> ExpectedPayment {
    ExpectedPayment {
        chain_id: s.domain.chain_id,
        token: s.usdc,
        to: auth.to,
        min_value: U256::from(min_value),
        nonce: auth.nonce,
        relayer: s.hot,
    }
}

#[tokio::test]
async fn the_usdc_domain_is_read_from_the_token_and_matches_its_separator() {
    let devnet = start().await;
    for chain in &devnet.manifest().chains {
        let p = reader(chain).await;
        for (symbol, name) in [("USDC", "USD Coin"), ("EURC", "EURC")] {
            let domain = read_domain(&p, &token(chain, symbol)).await.unwrap();
            assert_eq!(domain.name, name);
            assert_eq!(domain.version, "2");
            assert_eq!(domain.chain_id, p.get_chain_id().await.unwrap());
            assert_eq!(domain.verifying_contract, token(chain, symbol));
        }
    }
}

#[tokio::test]
async fn a_relayed_transfer_authorization_moves_exactly_its_value_and_cannot_be_replayed() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let s = setup(chain).await;
    let p = reader(chain).await;
    let to = merchant(0x42);
    let auth = authorization(&s, "pi_relayed", to, VALUE);
    let signature = sign(&s.payer, &s.domain, &auth).unwrap();

    verify_offchain(
        &s.domain,
        &auth,
        &signature,
        &expected(&s, &auth, VALUE),
        s.now,
    )
    .unwrap();
    check_onchain(&p, &s.usdc, &auth).await.unwrap();
    let data = calldata(&auth, &signature).unwrap();
    simulate(&p, &s.hot, &s.usdc, &data).await.unwrap();

    let payer_before = balance(&p, &s.usdc, &s.payer_address).await;
    let hot = wallet(chain, key(&chain.gateway_hot_wallet)).await;
    let receipt = send_call(&hot, &s.usdc, data.clone()).await;
    assert!(receipt.status());
    assert_eq!(balance(&p, &s.usdc, &to).await, U256::from(VALUE));
    assert_eq!(
        payer_before - balance(&p, &s.usdc, &s.payer_address).await,
        U256::from(VALUE)
    );
    assert_eq!(
        balance(&p, &s.usdc, &s.hot).await,
        U256::ZERO,
        "the relayer only pays gas"
    );

    let replay = check_onchain(&p, &s.usdc, &auth).await.unwrap_err();
    assert!(
        matches!(replay, AuthorizationError::NonceUsed { nonce, .. } if nonce == auth.nonce),
        "{replay:?}"
    );
    match simulate(&p, &s.hot, &s.usdc, &data).await.unwrap_err() {
        AuthorizationError::WouldRevert(reason) => {
            assert!(reason.contains("authorization is used"), "{reason}")
        }
        other => panic!("expected a revert, got {other:?}"),
    }
}

#[tokio::test]
async fn expired_underpaying_misdirected_and_wrong_chain_authorizations_are_refused_offchain() {
    let devnet = start().await;
    let [chain, other_chain] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    let s = setup(chain).await;
    let p = reader(chain).await;
    let to = merchant(0x42);

    let expired = Authorization {
        valid_before: s.now - 1,
        ..authorization(&s, "pi_expired", to, VALUE)
    };
    let signature = sign(&s.payer, &s.domain, &expired).unwrap();
    let err = verify_offchain(
        &s.domain,
        &expired,
        &signature,
        &expected(&s, &expired, VALUE),
        s.now,
    )
    .unwrap_err();
    assert!(matches!(err, AuthorizationError::Expired { .. }), "{err:?}");
    let chain_says = simulate(
        &p,
        &s.hot,
        &s.usdc,
        &calldata(&expired, &signature).unwrap(),
    )
    .await;
    assert!(
        matches!(&chain_says, Err(AuthorizationError::WouldRevert(r)) if r.contains("expired")),
        "the token agrees: {chain_says:?}"
    );

    let short = authorization(&s, "pi_short", to, VALUE - 1);
    let signature = sign(&s.payer, &s.domain, &short).unwrap();
    let err = verify_offchain(
        &s.domain,
        &short,
        &signature,
        &expected(&s, &short, VALUE),
        s.now,
    )
    .unwrap_err();
    assert!(
        matches!(err, AuthorizationError::WrongAmount { .. }),
        "{err:?}"
    );

    let elsewhere = authorization(&s, "pi_elsewhere", merchant(0x43), VALUE);
    let signature = sign(&s.payer, &s.domain, &elsewhere).unwrap();
    let intent = ExpectedPayment {
        to,
        ..expected(&s, &elsewhere, VALUE)
    };
    let err = verify_offchain(&s.domain, &elsewhere, &signature, &intent, s.now).unwrap_err();
    assert!(
        matches!(err, AuthorizationError::WrongRecipient { .. }),
        "{err:?}"
    );

    // The payer signed for the other devnet chain's USDC (same address, other chain id).
    let other_domain = read_domain(&reader(other_chain).await, &token(other_chain, "USDC"))
        .await
        .unwrap();
    assert_eq!(other_domain.verifying_contract, s.usdc);
    assert_ne!(other_domain.chain_id, s.domain.chain_id);
    let auth = authorization(&s, "pi_wrong_chain", to, VALUE);
    let signature = sign(&s.payer, &other_domain, &auth).unwrap();
    let exp = expected(&s, &auth, VALUE);
    let err = verify_offchain(&other_domain, &auth, &signature, &exp, s.now).unwrap_err();
    assert!(
        matches!(err, AuthorizationError::WrongChain { expected, actual }
            if expected == s.domain.chain_id && actual == other_domain.chain_id),
        "{err:?}"
    );
    // Checked against this chain's domain instead, the signature recovers to a stranger.
    let err = verify_offchain(&s.domain, &auth, &signature, &exp, s.now).unwrap_err();
    assert!(
        matches!(err, AuthorizationError::SignerMismatch { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_signature_by_another_key_is_a_signer_mismatch_and_the_token_refuses_it_too() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let s = setup(chain).await;
    let p = reader(chain).await;
    let auth = authorization(&s, "pi_forged", merchant(0x42), VALUE);
    let thief = key(&chain.payers[1]);
    let signature = sign(&thief, &s.domain, &auth).unwrap();
    let err = verify_offchain(
        &s.domain,
        &auth,
        &signature,
        &expected(&s, &auth, VALUE),
        s.now,
    )
    .unwrap_err();
    match err {
        AuthorizationError::SignerMismatch { signer, from } => {
            assert_eq!(signer, chain.payers[1].address);
            assert_eq!(from, s.payer_address);
        }
        other => panic!("expected a signer mismatch, got {other:?}"),
    }
    let chain_says = simulate(&p, &s.hot, &s.usdc, &calldata(&auth, &signature).unwrap()).await;
    assert!(
        matches!(&chain_says, Err(AuthorizationError::WouldRevert(r)) if r.contains("invalid signature")),
        "{chain_says:?}"
    );
}

#[tokio::test]
async fn more_than_the_payer_holds_is_refused_on_chain() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let s = setup(chain).await;
    let p = reader(chain).await;
    let held = balance(&p, &s.usdc, &s.payer_address).await;
    let auth = Authorization {
        value: held + U256::from(1),
        ..authorization(&s, "pi_too_much", merchant(0x42), 0)
    };
    let err = check_onchain(&p, &s.usdc, &auth).await.unwrap_err();
    assert!(
        matches!(err, AuthorizationError::InsufficientBalance { balance, .. } if balance == held),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_receive_authorization_only_simulates_from_its_payee() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let s = setup(chain).await;
    let p = reader(chain).await;
    // Paid to the hot wallet itself, the only case where the gateway may submit a Receive.
    let auth = Authorization {
        kind: AuthorizationKind::Receive,
        ..authorization(&s, "pi_receive", s.hot, VALUE)
    };
    let signature = sign(&s.payer, &s.domain, &auth).unwrap();
    let exp = expected(&s, &auth, VALUE);
    verify_offchain(&s.domain, &auth, &signature, &exp, s.now).unwrap();
    let data = calldata(&auth, &signature).unwrap();
    simulate(&p, &s.hot, &s.usdc, &data).await.unwrap();

    let stranger = chain.payers[2].address;
    let as_stranger = ExpectedPayment {
        relayer: stranger,
        ..exp
    };
    let err = verify_offchain(&s.domain, &auth, &signature, &as_stranger, s.now).unwrap_err();
    assert!(
        matches!(err, AuthorizationError::ReceiveNeedsPayee { .. }),
        "{err:?}"
    );
    let chain_says = simulate(&p, &stranger, &s.usdc, &data).await;
    assert!(
        matches!(&chain_says, Err(AuthorizationError::WouldRevert(r)) if r.contains("caller must be the payee")),
        "{chain_says:?}"
    );
}

#[tokio::test]
async fn the_four_reads_in_one_batch_answer_what_the_reads_one_by_one_answer() {
    use rialto_evm::eip3009::read_together;
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let s = setup(chain).await;
    let p = reader(chain).await;
    let verdict = |auth: &Authorization, signature: &[u8]| {
        let data = calldata(auth, signature).unwrap();
        let p = &p;
        let (usdc, hot, domain) = (s.usdc, s.hot, s.domain.clone());
        let auth = auth.clone();
        async move {
            let mut read = read_together(p, &usdc, &auth, &hot, &data).await.unwrap();
            (read.domain(domain).unwrap(), read.verdict(&auth))
        }
    };

    // A good one: the remembered domain still holds, every check passes.
    let auth = authorization(&s, "pi_together", merchant(0x42), VALUE);
    let signature = sign(&s.payer, &s.domain, &auth).unwrap();
    let (domain, ok) = verdict(&auth, &signature).await;
    assert_eq!(domain.as_ref(), Some(&s.domain));
    ok.unwrap();
    // A domain the token does not use is not confirmed: the caller reads it afresh.
    let data = calldata(&auth, &signature).unwrap();
    let mut read = read_together(&p, &s.usdc, &auth, &s.hot, &data)
        .await
        .unwrap();
    let guessed = TokenDomain {
        name: "USDC".into(),
        ..s.domain.clone()
    };
    assert_eq!(read.domain(guessed).unwrap(), None);

    // More than the payer holds: the balance check's answer, as one by one.
    let held = balance(&p, &s.usdc, &s.payer_address).await;
    let too_much = Authorization {
        value: held + U256::from(1),
        ..authorization(&s, "pi_together_much", merchant(0x42), 0)
    };
    let signature_much = sign(&s.payer, &s.domain, &too_much).unwrap();
    let (_, err) = verdict(&too_much, &signature_much).await;
    assert!(
        matches!(err, Err(AuthorizationError::InsufficientBalance { balance, .. }) if balance == held),
        "{err:?}"
    );

    // Signed by another key: the reads pass, the token refuses it in the simulation, with the
    // reason the simulation one by one gives.
    let stranger = key(&chain.payers[1]);
    let forged = sign(&stranger, &s.domain, &auth).unwrap();
    let (_, refused) = verdict(&auth, &forged).await;
    let one_by_one = simulate(&p, &s.hot, &s.usdc, &calldata(&auth, &forged).unwrap()).await;
    match (refused, one_by_one) {
        (Err(AuthorizationError::WouldRevert(a)), Err(AuthorizationError::WouldRevert(b))) => {
            assert_eq!(a, b)
        }
        other => panic!("expected the same revert both ways, got {other:?}"),
    }

    // Once relayed, the nonce's state answers first (before the simulation's revert).
    let hot = wallet(chain, key(&chain.gateway_hot_wallet)).await;
    assert!(send_call(&hot, &s.usdc, data.clone()).await.status());
    let (_, replay) = verdict(&auth, &signature).await;
    assert!(
        matches!(replay, Err(AuthorizationError::NonceUsed { nonce, .. }) if nonce == auth.nonce),
        "{replay:?}"
    );
}
