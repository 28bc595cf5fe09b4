//! Deposit addresses on a real devnet: derived from anvil's own mnemonic, paid through the values
//! of an EIP-681 URI, and swept without gas on the deposit address by an EIP-3009 authorization.

mod common;

use alloy::primitives::U256;
use alloy::providers::Provider;
use common::{balance, block_time, key, merchant, reader, send_call, start, token, wallet};
use rialto_core::payment_uri::{Eip681Call, Eip681Request};
use rialto_core::Address;
use rialto_evm::contracts::{from_wire, to_wire, IERC20};
use rialto_evm::deposit::{eip681_token_transfer, DepositKeys};
use rialto_evm::eip3009::{
    calldata, check_onchain, intent_nonce, read_domain, sign, simulate, verify_offchain,
    Authorization, AuthorizationKind, ExpectedPayment,
};
use secrecy::SecretString;

/// The mnemonic anvil derives its accounts from (public; devnet only).
const ANVIL_MNEMONIC: &str = "test test test test test test test test test test test junk";

fn keys() -> DepositKeys {
    DepositKeys::from_mnemonic(&SecretString::from(ANVIL_MNEMONIC)).unwrap()
}

#[tokio::test]
async fn deposit_addresses_from_anvils_mnemonic_are_the_accounts_anvil_reports() {
    let devnet = start().await;
    let p = reader(&devnet.manifest().chains[0]).await;
    let accounts = p.get_accounts().await.unwrap();
    assert_eq!(
        accounts.len(),
        12,
        "the devnet starts anvil with twelve accounts"
    );
    let keys = keys();
    for (i, account) in accounts.into_iter().enumerate() {
        assert_eq!(
            keys.address(i as u32).unwrap(),
            from_wire(account),
            "index {i}"
        );
    }
}

/// Reads `ethereum:<token>@<chain>/transfer?address=<to>&uint256=<units>` back into its parts
/// with core's strict EIP-681 parser (the one `rialto uri parse` uses), as a wallet would.
fn parse_eip681(uri: &str) -> (Address, u64, Address, U256) {
    let request = Eip681Request::parse(uri).unwrap();
    let Some(Eip681Call::Erc20Transfer { to, amount }) = request.call else {
        panic!("not an ERC-20 transfer: {uri}");
    };
    (
        request.target,
        request.chain_id.unwrap(),
        to,
        amount.to_string().parse().unwrap(),
    )
}

#[tokio::test]
async fn a_payment_to_an_eip681_deposit_address_is_swept_by_a_gasless_authorization() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[1];
    let p = reader(chain).await;
    let chain_id = p.get_chain_id().await.unwrap();
    let usdc = token(chain, "USDC");
    let keys = keys();
    // Far from anvil's ten accounts: an address nobody funded with ETH.
    let index = 4_000_017;
    let deposit = keys.address(index).unwrap();

    let uri = eip681_token_transfer(chain_id, &usdc, &deposit, U256::from(25_500_000u64));
    let (uri_token, uri_chain, uri_to, units) = parse_eip681(&uri);
    assert_eq!((uri_token, uri_chain, uri_to), (usdc, chain_id, deposit));
    let payer = wallet(chain, key(&chain.payers[1])).await;
    let paid = IERC20::new(to_wire(&uri_token).unwrap(), &payer)
        .transfer(to_wire(&uri_to).unwrap(), units)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(paid.status());
    assert_eq!(balance(&p, &usdc, &deposit).await, units);

    // The sweep: the deposit key signs, the hot wallet pays the gas.
    let settlement = merchant(0x77);
    let domain = read_domain(&p, &usdc).await.unwrap();
    let now = block_time(&p).await;
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: deposit,
        to: settlement,
        value: units,
        valid_after: 0,
        valid_before: now + 600,
        nonce: intent_nonce("pi_sweep", chain_id, &usdc),
    };
    let signature = sign(&keys.signer(index).unwrap(), &domain, &auth).unwrap();
    let hot = chain.gateway_hot_wallet.address;
    let expected = ExpectedPayment {
        chain_id,
        token: usdc,
        to: settlement,
        min_value: units,
        nonce: auth.nonce,
        relayer: hot,
    };
    verify_offchain(&domain, &auth, &signature, &expected, now).unwrap();
    check_onchain(&p, &usdc, &auth).await.unwrap();
    let data = calldata(&auth, &signature).unwrap();
    simulate(&p, &hot, &usdc, &data).await.unwrap();
    let relayer = wallet(chain, key(&chain.gateway_hot_wallet)).await;
    assert!(send_call(&relayer, &usdc, data).await.status());

    assert_eq!(balance(&p, &usdc, &deposit).await, U256::ZERO);
    assert_eq!(balance(&p, &usdc, &settlement).await, units);
    let deposit_eth = p.get_balance(to_wire(&deposit).unwrap()).await.unwrap();
    assert_eq!(
        deposit_eth,
        U256::ZERO,
        "the deposit address never needed gas"
    );
}
