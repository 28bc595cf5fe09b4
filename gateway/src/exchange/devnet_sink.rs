//! The sandbox exchange's withdrawals as real ERC-20 transfers on the devnet, sent from the
//! exchange's omnibus wallet (a funded devnet account), one at a time so its nonces never
//! collide, and only reported once mined. Chains reached through the connectors' roles (the
//! Solana simnet) go through their rail instead ([`super::rail_sink`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rialto_connectors::exchange::sandbox::{SettlementSink, SinkError};
use rialto_connectors::exchange::AssetCode;
use rialto_core::address::Address;
use rialto_core::money::{Currency, CurrencyKind, Money};
use rialto_core::{ChainId, ChainNamespace};
use rialto_evm::sender::{self, CallSpec, PrivateKeySigner};
use rust_decimal::Decimal;
use tokio::sync::Mutex;

use super::rail_sink::RailSinkChain;

/// A token the sink can send on one chain.
#[derive(Debug, Clone)]
pub struct SinkToken {
    /// The ERC-20 contract.
    pub contract: Address,
    /// Its decimals, to turn a withdrawal amount into base units.
    pub decimals: u32,
}

/// One devnet chain the sink sends on.
#[derive(Debug, Clone)]
pub struct SinkChain {
    /// The EIP-155 chain id transactions are signed for.
    pub chain_id: u64,
    /// The devnet node's JSON-RPC endpoint.
    pub rpc_url: String,
    /// By upper-case symbol (`USDC`).
    pub tokens: BTreeMap<String, SinkToken>,
}

/// The sandbox exchange's [`SettlementSink`]: withdrawals paid from the omnibus wallet on the
/// devnet chains it knows.
#[derive(Debug)]
pub struct DevnetSink {
    signer: PrivateKeySigner,
    /// By CAIP-2.
    chains: BTreeMap<String, SinkChain>,
    /// Chains sent on through their rail, by CAIP-2.
    rails: BTreeMap<String, RailSinkChain>,
    sending: Mutex<()>,
}

impl DevnetSink {
    /// A sink sending from `signer`'s address on `chains` (by CAIP-2).
    pub fn new(signer: PrivateKeySigner, chains: BTreeMap<String, SinkChain>) -> Self {
        Self {
            signer,
            chains,
            rails: BTreeMap::new(),
            sending: Mutex::new(()),
        }
    }

    /// Withdrawals to `chain` go through its rail.
    pub fn with_rail(mut self, chain: RailSinkChain) -> Self {
        self.rails.insert(chain.node.chain_id().to_owned(), chain);
        self
    }

    /// The omnibus wallet withdrawals come from.
    pub fn address(&self) -> Address {
        sender::signer_address(&self.signer)
    }
}

#[async_trait]
impl SettlementSink for DevnetSink {
    async fn transfer(
        &self,
        asset: &AssetCode,
        chain: &ChainId,
        address: &str,
        amount: Decimal,
    ) -> Result<String, SinkError> {
        if let Some(rail) = self.rails.get(&chain.to_string()) {
            return rail.transfer(&asset.to_string(), address, amount).await;
        }
        let target = self
            .chains
            .get(&chain.to_string())
            .ok_or_else(|| format!("the sandbox exchange does not withdraw to {chain}"))?;
        let token = target
            .tokens
            .get(&asset.to_string().to_ascii_uppercase())
            .ok_or_else(|| format!("no {asset} on {chain}"))?;
        let to = Address::parse(address, ChainNamespace::Eip155).map_err(|e| e.to_string())?;
        let currency = Currency::new(
            &asset.to_string().to_ascii_lowercase(),
            token.decimals,
            CurrencyKind::Stablecoin,
        );
        let units = Money::parse(&amount.normalize().to_string(), currency)
            .and_then(|m| m.to_base_units())
            .map_err(|e| format!("amount {amount}: {e}"))?;
        let data = sender::erc20_transfer_data(&to, units).map_err(|e| e.to_string())?;
        let _one_at_a_time = self.sending.lock().await;
        let rpc = target.rpc_url.as_str();
        let from = self.address();
        let mut spec = CallSpec {
            chain_id: target.chain_id,
            to: token.contract,
            value: 0,
            data,
            gas_limit: 0,
        };
        spec.gas_limit = sender::estimate_gas(rpc, &from, &spec)
            .await
            .map_err(|e| e.to_string())?;
        let fees = sender::estimate_fees(rpc)
            .await
            .map_err(|e| e.to_string())?;
        let nonce = sender::pending_nonce(rpc, &from)
            .await
            .map_err(|e| e.to_string())?;
        let signed =
            sender::sign_call(&self.signer, &spec, nonce, fees).map_err(|e| e.to_string())?;
        sender::broadcast(rpc, &signed)
            .await
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        loop {
            if let Some(mined) = sender::mined(rpc, &signed.hash)
                .await
                .map_err(|e| e.to_string())?
            {
                if !mined.success {
                    return Err(SinkError(format!("withdrawal {} reverted", signed.hash)));
                }
                return Ok(signed.hash);
            }
            if started.elapsed() > Duration::from_secs(30) {
                // Sent is sent: report the hash (never "failed", which could make the exchange
                // refund and send again); the chain watcher follows it from here.
                return Ok(signed.hash);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
