//! The rail conformance suite of `rialto-connectors` (unchanged, generic over the rail) run
//! against [`EvmRail`] on a real anvil chain of the devnet, with the suite's in-memory journal.
//! The gateway runs it once more over its SQLite store as the journal
//! (`gateway/tests/rail_conformance.rs`).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use alloy::network::TransactionBuilder;
use alloy::primitives::{keccak256, Address as WireAddress, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use rialto_connectors::rail::conformance::{self, RailHarness};
use rialto_connectors::rail::{RailJournal, SigningKey};
use rialto_core::address::Address;
use rialto_evm::chain::EvmChain;
use rialto_evm::contracts::{from_wire, to_wire, IFiatToken};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::rail::EvmRail;
use rialto_evm::Devnet;
use secrecy::{ExposeSecret, SecretString};

/// What each funded key holds: 1 USDC.
const UNITS: u128 = 1_000_000;

struct AnvilHarness {
    _devnet: Devnet,
    manifest: ChainManifest,
    chain: EvmChain,
    node: DynProvider,
    next: AtomicU64,
}

impl AnvilHarness {
    async fn start() -> Self {
        let devnet = common::start().await;
        let manifest = devnet.manifest().chains[0].clone();
        let caip2 = manifest.chain_id.to_string();
        let chain_id = manifest.chain_id.evm_chain_id().unwrap();
        let chain = EvmChain::new(
            caip2,
            chain_id,
            manifest.alias.clone(),
            false,
            vec![manifest.rpc_url.clone()],
            2,
        );
        let node = ProviderBuilder::new()
            .connect(&manifest.rpc_url)
            .await
            .unwrap()
            .erased();
        Self {
            _devnet: devnet,
            manifest,
            chain,
            node,
            next: AtomicU64::new(1),
        }
    }

    fn usdc(&self) -> WireAddress {
        to_wire(&self.manifest.tokens["USDC"].address).unwrap()
    }

    async fn rpc(&self, method: &'static str, params: serde_json::Value) {
        let _: serde_json::Value = self
            .node
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }

    /// Sends `data` to the token from the impersonated `from` and waits for its block.
    async fn as_account(&self, from: WireAddress, data: Vec<u8>) {
        self.rpc("anvil_impersonateAccount", serde_json::json!([from]))
            .await;
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(self.usdc())
            .with_input(data);
        let pending = self.node.send_transaction(tx).await.unwrap();
        self.rpc("evm_mine", serde_json::json!([])).await;
        let receipt = pending.get_receipt().await.unwrap();
        assert!(receipt.status(), "the harness's own transaction succeeds");
    }
}

#[async_trait]
impl RailHarness for AnvilHarness {
    type Rail<'a> = EvmRail<'a>;

    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> EvmRail<'a> {
        EvmRail::new(&self.chain, journal)
    }

    async fn funded_key(&self) -> SigningKey {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let secret: B256 = keccak256(format!("rialto rail conformance key {n}"));
        let signer = PrivateKeySigner::from_bytes(&secret).unwrap();
        let address = signer.address();
        self.rpc(
            "anvil_setBalance",
            serde_json::json!([address, "0xde0b6b3a7640000"]),
        )
        .await;
        let minter: PrivateKeySigner = self
            .manifest
            .minter
            .private_key
            .expose_secret()
            .parse()
            .unwrap();
        self.as_account(
            minter.address(),
            IFiatToken::mintCall {
                to: address,
                amount: U256::from(UNITS),
            }
            .abi_encode(),
        )
        .await;
        SigningKey(SecretString::from(format!(
            "0x{}",
            alloy::hex::encode(secret)
        )))
    }

    fn token(&self) -> Address {
        self.manifest.tokens["USDC"].address
    }

    fn token_decimals(&self) -> u8 {
        self.manifest.tokens["USDC"].decimals
    }

    fn token_units(&self) -> u128 {
        UNITS
    }

    fn recipient(&self) -> Address {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let mut bytes = [0x5a; 20];
        bytes[12..].copy_from_slice(&n.to_be_bytes());
        from_wire(WireAddress::from(bytes))
    }

    fn confirmations(&self) -> u64 {
        self.chain.confirmations
    }

    async fn pause_blocks(&self, paused: bool) {
        self.rpc("evm_setAutomine", serde_json::json!([!paused]))
            .await;
    }

    async fn produce_blocks(&self, n: u64) {
        for _ in 0..n {
            self.rpc("evm_mine", serde_json::json!([])).await;
        }
    }

    async fn drop_pending(&self, tx_ref: &str) {
        self.rpc("anvil_dropTransaction", serde_json::json!([tx_ref]))
            .await;
    }

    async fn doom(&self, key: &SigningKey) {
        let signer: PrivateKeySigner = key.0.expose_secret().parse().unwrap();
        let deployer = to_wire(&self.manifest.deployer).unwrap();
        self.as_account(
            deployer,
            IFiatToken::blacklistCall {
                account: signer.address(),
            }
            .abi_encode(),
        )
        .await;
    }
}

#[tokio::test]
async fn evm_rail_passes_the_rail_conformance_suite_on_anvil() {
    let harness = AnvilHarness::start().await;
    conformance::run_all(&harness).await;
}
