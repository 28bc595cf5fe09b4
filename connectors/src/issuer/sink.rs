//! The issuing bank's chain side: what the bank does to its deposit token when a request
//! executes. The devnet implementation calls the deposit-token contract (`allow`, `mint`, and
//! reads `Transfer` logs for burns); [`MemoryTokenSink`] stands in where no chain runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// The chain refused or could not be reached; the request is rejected with `chain_failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenSinkError(pub String);

/// A burn of the token (a `Transfer` to the zero address) or a transfer to the bank's
/// redemption address, as the bank reads it from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub from: String,
    pub amount: Decimal,
}

/// The bank's hands on its deposit token. Amounts are whole tokens.
#[async_trait]
pub trait DepositTokenSink: Send + Sync + std::fmt::Debug {
    /// Puts `wallet` on the token's allow-list; returns the transaction hash.
    async fn allow(&self, chain: &ChainId, wallet: &str) -> Result<String, TokenSinkError>;
    /// Whether `wallet` is on the allow-list now (the chain's word, not the bank's records).
    async fn is_allowed(&self, chain: &ChainId, wallet: &str) -> Result<bool, TokenSinkError>;
    /// Mints `amount` to `wallet`; returns the transaction hash.
    async fn mint(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError>;
    /// Burns `amount` from `wallet` with the bank's burner role (a redemption the holder asked
    /// the bank to execute); returns the transaction hash.
    async fn burn_from(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError>;
    /// The redemption made by `tx_hash`, if it is one.
    async fn redemption(
        &self,
        chain: &ChainId,
        tx_hash: &str,
    ) -> Result<Option<Redemption>, TokenSinkError>;
}

#[derive(Debug, Default)]
struct Ledger {
    allowed: BTreeSet<(ChainId, String)>,
    balances: BTreeMap<(ChainId, String), Decimal>,
    mints: Vec<(ChainId, String, Decimal)>,
    allow_calls: usize,
    burns: BTreeMap<(ChainId, String), Redemption>,
}

/// A token with no chain behind it (tests, and the sandbox until a devnet token backs it):
/// an allow-list, balances, and made-up deterministic transaction hashes.
#[derive(Debug, Default)]
pub struct MemoryTokenSink {
    ledger: Mutex<Ledger>,
}

fn hash(parts: &str) -> String {
    format!("0x{}", hex::encode(Sha256::digest(parts)))
}

impl MemoryTokenSink {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every mint the bank made: (chain, wallet, amount).
    pub fn mints(&self) -> Vec<(ChainId, String, Decimal)> {
        self.ledger().mints.clone()
    }

    pub fn allow_calls(&self) -> usize {
        self.ledger().allow_calls
    }

    pub fn balance(&self, chain: &ChainId, wallet: &str) -> Decimal {
        let key = (chain.clone(), wallet.to_ascii_lowercase());
        self.ledger()
            .balances
            .get(&key)
            .copied()
            .unwrap_or_default()
    }

    /// The holder burns `amount` of its tokens (what a redeeming institution does on chain);
    /// returns the burn's transaction hash.
    pub fn burn(
        &self,
        chain: &ChainId,
        from: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError> {
        let mut ledger = self.ledger();
        let key = (chain.clone(), from.to_ascii_lowercase());
        let held = ledger.balances.get(&key).copied().unwrap_or_default();
        if held < amount {
            return Err(TokenSinkError(format!("{from} holds {held}, not {amount}")));
        }
        ledger.balances.insert(key.clone(), held - amount);
        let tx = hash(&format!(
            "burn|{chain}|{from}|{amount}|{}",
            ledger.burns.len()
        ));
        let burn = Redemption {
            from: key.1,
            amount,
        };
        ledger.burns.insert((chain.clone(), tx.clone()), burn);
        Ok(tx)
    }
}

#[async_trait]
impl DepositTokenSink for MemoryTokenSink {
    async fn allow(&self, chain: &ChainId, wallet: &str) -> Result<String, TokenSinkError> {
        let mut ledger = self.ledger();
        ledger.allow_calls += 1;
        ledger
            .allowed
            .insert((chain.clone(), wallet.to_ascii_lowercase()));
        Ok(hash(&format!(
            "allow|{chain}|{wallet}|{}",
            ledger.allow_calls
        )))
    }

    async fn is_allowed(&self, chain: &ChainId, wallet: &str) -> Result<bool, TokenSinkError> {
        let key = (chain.clone(), wallet.to_ascii_lowercase());
        Ok(self.ledger().allowed.contains(&key))
    }

    async fn mint(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError> {
        let mut ledger = self.ledger();
        let key = (chain.clone(), wallet.to_ascii_lowercase());
        if !ledger.allowed.contains(&key) {
            // The contract's own rule: only allow-listed holders receive tokens.
            return Err(TokenSinkError(format!("{wallet} is not allow-listed")));
        }
        *ledger.balances.entry(key).or_default() += amount;
        ledger
            .mints
            .push((chain.clone(), wallet.to_owned(), amount));
        Ok(hash(&format!(
            "mint|{chain}|{wallet}|{amount}|{}",
            ledger.mints.len()
        )))
    }

    async fn burn_from(
        &self,
        chain: &ChainId,
        wallet: &str,
        amount: Decimal,
    ) -> Result<String, TokenSinkError> {
        self.burn(chain, wallet, amount)
    }

    async fn redemption(
        &self,
        chain: &ChainId,
        tx_hash: &str,
    ) -> Result<Option<Redemption>, TokenSinkError> {
        let key = (chain.clone(), tx_hash.to_ascii_lowercase());
        Ok(self.ledger().burns.get(&key).cloned())
    }
}
