//! [`AnvilRailHarness`]: the devnet as the rail conformance suite of `rialto-connectors` needs
//! it, so `EvmRail` runs that suite unchanged, with any journal (`evm/tests/rail_conformance.rs`
//! with the in-memory one, the gateway's tests with its SQL store). Test support: it panics on
//! any failure of the devnet itself, like an assertion.

use std::sync::atomic::{AtomicU64, Ordering};

use alloy::network::TransactionBuilder;
use alloy::primitives::{keccak256, Address as WireAddress, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use rialto_connectors::rail::conformance::RailHarness;
use rialto_connectors::rail::{MemoryJournal, RailJournal, SigningKey};
use rialto_core::address::Address;
use secrecy::{ExposeSecret, SecretString};

use super::Devnet;
use crate::chain::EvmChain;
use crate::contracts::{from_wire, to_wire, IFiatToken};
use crate::manifest::ChainManifest;
use crate::rail::EvmRail;

/// What each funded key holds: 1 USDC.
const UNITS: u128 = 1_000_000;

/// Makes a journal for one check of the suite.
pub type Journals = Box<dyn Fn() -> Box<dyn RailJournal> + Send + Sync>;

/// The first chain of a started devnet, as the rail conformance suite needs it: a rail at two
/// confirmations, keys funded with ETH and 1 USDC (minted by the devnet minter), paused and
/// produced blocks, dropped transactions, and a frozen holder (blacklisted by the deployer, the
/// FiatToken's blacklister).
pub struct AnvilRailHarness {
    _devnet: Devnet,
    manifest: ChainManifest,
    chain: EvmChain,
    node: DynProvider,
    next: AtomicU64,
    journals: Journals,
}

impl std::fmt::Debug for AnvilRailHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnvilRailHarness")
            .field("chain", &self.chain.caip2)
            .finish()
    }
}

impl AnvilRailHarness {
    /// Over `devnet`'s first chain, with an in-memory journal per check.
    pub async fn new(devnet: Devnet) -> Self {
        Self::with_journals(devnet, Box::new(|| Box::new(MemoryJournal::new()))).await
    }

    /// Over `devnet`'s first chain, with the journals `journals` makes (the product's store).
    pub async fn with_journals(devnet: Devnet, journals: Journals) -> Self {
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
            journals,
        }
    }

    /// The chain the harness's rails run on (a test may clone it with another policy).
    pub fn chain(&self) -> &EvmChain {
        &self.chain
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
impl RailHarness for AnvilRailHarness {
    type Rail<'a> = EvmRail<'a>;

    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> EvmRail<'a> {
        EvmRail::new(&self.chain, journal)
    }

    fn journal(&self) -> Box<dyn RailJournal> {
        (self.journals)()
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
