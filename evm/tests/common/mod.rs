//! What the chain tests of eip3009.rs, deposit.rs and sequencer.rs share: starting a devnet and
//! talking to it (the same steps as devnet.rs).
#![allow(dead_code)]

use std::path::PathBuf;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address as WireAddress, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionInput, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use rialto_core::Address;
use rialto_evm::contracts::{from_wire, to_wire, IERC20};
use rialto_evm::manifest::{Account, ChainManifest};
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use secrecy::ExposeSecret;

pub async fn start() -> Devnet {
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = match locate_anvil(&root, explicit) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    };
    let config = DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    };
    match Devnet::start(config).await {
        Ok(devnet) => devnet,
        Err(e) => panic!("devnet did not start: {e}"),
    }
}

pub fn key(account: &Account) -> PrivateKeySigner {
    let signer: PrivateKeySigner = account.private_key.expose_secret().parse().unwrap();
    assert_eq!(from_wire(signer.address()), account.address);
    signer
}

/// A provider that signs as `signer`.
pub async fn wallet(chain: &ChainManifest, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

pub async fn reader(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

pub fn token(chain: &ChainManifest, symbol: &str) -> Address {
    chain.tokens[symbol].address
}

pub async fn balance(p: &DynProvider, token: &Address, who: &Address) -> U256 {
    IERC20::new(to_wire(token).unwrap(), p)
        .balanceOf(to_wire(who).unwrap())
        .call()
        .await
        .unwrap()
}

pub async fn block_time(p: &DynProvider) -> u64 {
    let block = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    block.header.timestamp
}

/// Sends `data` to `to` from the wallet of `p` and waits for the receipt.
pub async fn send_call(p: &DynProvider, to: &Address, data: Bytes) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .to(to_wire(to).unwrap())
        .input(TransactionInput::new(data));
    p.send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
}

/// An address nobody has a key for in the sandbox: a merchant's settlement address.
pub fn merchant(byte: u8) -> Address {
    from_wire(WireAddress::repeat_byte(byte))
}
