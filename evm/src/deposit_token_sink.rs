//! [`DevnetDepositTokenSink`]: the sandbox issuing bank's hands on the devnet's `JPMD-DEV`
//! contract (`rialto_connectors::issuer::DepositTokenSink`). It signs with the issuing bank's
//! key from the devnet manifest (anvil #4, a public test key): `setAllowed` to onboard, `mint`
//! to issue, `burn(from, amount)` to redeem for a holder that asks it to, and it reads a redemption from the burn's `Transfer` logs. Devnet only: a real
//! bank keeps its own keys and never hands them to Rialto.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use async_trait::async_trait;
use rialto_connectors::issuer::{DepositTokenSink, Redemption, TokenSinkError};
use rialto_core::address::Address;
use rialto_core::{ChainId, Currency, CurrencyKind, Money};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use crate::contracts::{from_wire, to_wire};
use crate::deposit_token::IDepositToken;
use crate::manifest::DevnetManifest;

/// One chain's deposit token and the bank's signing provider on it.
#[derive(Debug)]
struct TokenOnChain {
    token: WireAddress,
    decimals: u32,
    /// Signs as the issuing bank. Behind a lock: one bank key sends one transaction at a time,
    /// so two requests never race for a nonce.
    bank: Mutex<DynProvider>,
    bank_address: WireAddress,
}

/// The devnet deposit token `symbol` on every manifest chain that deployed it.
#[derive(Debug, Clone)]
pub struct DevnetDepositTokenSink {
    chains: Arc<BTreeMap<ChainId, TokenOnChain>>,
}

fn sink_error(err: impl std::fmt::Display) -> TokenSinkError {
    TokenSinkError(err.to_string())
}

impl DevnetDepositTokenSink {
    /// The sink for `symbol` (`JPMD-DEV`) on the manifest's chains; `None` when no chain has
    /// it (a manifest written before the institutional rails).
    pub async fn from_manifest(
        manifest: &DevnetManifest,
        symbol: &str,
    ) -> Result<Option<Self>, TokenSinkError> {
        let mut chains = BTreeMap::new();
        for chain in &manifest.chains {
            let Some(rails) = &chain.institutional else {
                continue;
            };
            let Some(entry) = rails.deposit_tokens.get(symbol) else {
                continue;
            };
            let key: PrivateKeySigner = rails
                .issuing_bank
                .private_key
                .expose_secret()
                .parse()
                .map_err(sink_error)?;
            let bank_address = key.address();
            let bank = ProviderBuilder::new()
                .wallet(key)
                .connect(&chain.rpc_url)
                .await
                .map_err(sink_error)?
                .erased();
            let on_chain = TokenOnChain {
                token: to_wire(&entry.address).map_err(sink_error)?,
                decimals: u32::from(entry.decimals),
                bank: Mutex::new(bank),
                bank_address,
            };
            let id: ChainId = chain.chain_id.to_string().parse().map_err(sink_error)?;
            chains.insert(id, on_chain);
        }
        Ok((!chains.is_empty()).then(|| Self {
            chains: Arc::new(chains),
        }))
    }

    fn on(&self, chain: &ChainId) -> Result<&TokenOnChain, TokenSinkError> {
        self.chains
            .get(chain)
            .ok_or_else(|| TokenSinkError(format!("no deposit token on {chain}")))
    }
}

impl TokenOnChain {
    fn currency(&self) -> Currency {
        Currency::new("deposit-token", self.decimals, CurrencyKind::DepositToken)
    }

    fn units(&self, amount: Decimal) -> Result<U256, TokenSinkError> {
        let money = Money::from_decimal(amount, self.currency()).map_err(sink_error)?;
        Ok(U256::from(money.to_base_units().map_err(sink_error)?))
    }
}

fn holder(wallet: &str) -> Result<WireAddress, TokenSinkError> {
    let parsed = Address::parse(wallet, rialto_core::ChainNamespace::Eip155).map_err(sink_error)?;
    to_wire(&parsed).map_err(sink_error)
}

/// How often a transaction that lost its nonce to another sender is sent again.
const NONCE_RACE_ATTEMPTS: u32 = 5;

/// The node refused a transaction because another sender of the bank key took its nonce first
/// (two sandbox banks on one devnet: two gateway instances, each with its own): nothing of it
/// was accepted, so sending it again under the next nonce does it once.
fn lost_nonce_race(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "transaction already imported",
        "already known",
        "nonce too low",
        "replacement transaction underpriced",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Sends `data` to `token` as the bank and waits for its receipt; a revert is an error naming
/// the transaction. The lock is held throughout, so this process's nonces go out one by one;
/// a nonce another process took first is retried (`lost_nonce_race`).
async fn send_as_bank(on: &TokenOnChain, data: Vec<u8>) -> Result<String, TokenSinkError> {
    let bank = on.bank.lock().await;
    let mut attempt = 0;
    let pending = loop {
        // The nonce as the node has it now (a cached one would lag behind the other sender's).
        let nonce = bank
            .get_transaction_count(on.bank_address)
            .pending()
            .await
            .map_err(sink_error)?;
        let request = TransactionRequest::default()
            .from(on.bank_address)
            .to(on.token)
            .nonce(nonce)
            .input(data.clone().into());
        match bank.send_transaction(request).await {
            Ok(pending) => break pending,
            Err(err) if attempt + 1 < NONCE_RACE_ATTEMPTS && lost_nonce_race(&err.to_string()) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
            }
            Err(err) => return Err(sink_error(err)),
        }
    };
    let receipt = pending.get_receipt().await.map_err(sink_error)?;
    if !receipt.status() {
        return Err(TokenSinkError(format!(
            "transaction {:#x} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(format!("{:#x}", receipt.transaction_hash))
}

#[async_trait]
impl DepositTokenSink for DevnetDepositTokenSink {
    async fn allow(&self, chain: &ChainId, wallet: &str) -> Result<String, TokenSinkError> {
        let on = self.on(chain)?;
        let call = IDepositToken::setAllowedCall {
            holder: holder(wallet)?,
            allowed: true,
        };
        send_as_bank(on, call.abi_encode()).await
    }

    async fn is_allowed(&self, chain: &ChainId, wallet: &str) -> Result<bool, TokenSinkError> {
        let on = self.on(chain)?;
        let bank = on.bank.lock().await;
        let token = IDepositToken::new(on.token, &*bank);
        token
            .isAllowed(holder(wallet)?)
            .call()
            .await
            .map_err(sink_error)
    }

    async fn mint(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError> {
        let on = self.on(chain)?;
        let call = IDepositToken::mintCall {
            to: holder(wallet)?,
            amount: on.units(amount)?,
        };
        send_as_bank(on, call.abi_encode()).await
    }

    async fn burn_from(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError> {
        let on = self.on(chain)?;
        let call = IDepositToken::burnCall {
            from: holder(wallet)?,
            amount: on.units(amount)?,
        };
        send_as_bank(on, call.abi_encode()).await
    }

    async fn redemption(
        &self,
        chain: &ChainId,
        tx_hash: &str,
    ) -> Result<Option<Redemption>, TokenSinkError> {
        let on = self.on(chain)?;
        let hash = crate::transfers::parse_tx_hash(tx_hash).map_err(sink_error)?;
        let bank = on.bank.lock().await;
        let Some(receipt) = bank
            .get_transaction_receipt(hash)
            .await
            .map_err(sink_error)?
        else {
            return Ok(None);
        };
        if !receipt.status() {
            return Ok(None);
        }
        // A burn is a `Transfer` of this token to the zero address; its sender redeems.
        let mut burned: Option<(WireAddress, U256)> = None;
        for log in receipt.inner.logs() {
            if log.address() != on.token {
                continue;
            }
            let Ok(event) = IDepositToken::Transfer::decode_log(&log.inner) else {
                continue;
            };
            if event.to != WireAddress::ZERO {
                continue;
            }
            let total = burned.map_or(U256::ZERO, |(_, v)| v) + event.value;
            burned = Some((event.from, total));
        }
        let Some((from, value)) = burned else {
            return Ok(None);
        };
        let units = u128::try_from(value).map_err(sink_error)?;
        let amount = Money::from_base_units(units, on.currency())
            .map_err(sink_error)?
            .amount();
        Ok(Some(Redemption {
            from: from_wire(from).to_string().to_ascii_lowercase(),
            amount,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::lost_nonce_race;

    #[test]
    fn only_a_nonce_taken_by_another_sender_is_sent_again() {
        assert!(lost_nonce_race(
            "server returned an error response: error code -32003: transaction already imported"
        ));
        assert!(lost_nonce_race("nonce too low: next nonce 7, tx nonce 6"));
        assert!(!lost_nonce_race("execution reverted: not allowed"));
        assert!(!lost_nonce_race(
            "error sending request: connection refused"
        ));
    }
}
