//! The sandbox exchange's withdrawals on a chain reached through the connectors' roles (the
//! devnet's Solana simnet): a real token transfer (on Solana an SPL `transfer_checked`, the
//! recipient's token account created when missing) from the exchange's omnibus wallet, sent
//! through the chain's own rail, and only reported once the chain confirmed it.
//!
//! The journal is the sink's own, in memory: these are the sandbox exchange's transfers, not
//! Rialto's legs, so they are kept out of Rialto's store and books (as the EVM sink's are).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rialto_connectors::chain::ChainNode;
use rialto_connectors::exchange::sandbox::SinkError;
use rialto_connectors::rail::{LegRequest, LegStatus, MemoryJournal, RailJournal, SigningKey};
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_core::money::{Currency, CurrencyKind, Money};
use rust_decimal::Decimal;
use tokio::sync::Mutex;

/// The purpose the sink's transfers are recorded under in its own journal.
const SANDBOX_WITHDRAWAL: &str = "sandbox_withdrawal";
/// How long a withdrawal is waited for before its reference is reported anyway.
const WAIT: Duration = Duration::from_secs(30);

/// One chain the sink withdraws to through its rail.
#[derive(Debug)]
pub struct RailSinkChain {
    pub node: Arc<dyn ChainNode>,
    /// The omnibus wallet's key on this chain.
    pub omnibus: SigningKey,
    /// By upper-case symbol (`USDC`): the token and its decimals.
    pub tokens: BTreeMap<String, (Address, u32)>,
    journal: MemoryJournal,
    sending: Mutex<()>,
}

impl RailSinkChain {
    pub fn new(
        node: Arc<dyn ChainNode>,
        omnibus: SigningKey,
        tokens: BTreeMap<String, (Address, u32)>,
    ) -> Self {
        Self {
            node,
            omnibus,
            tokens,
            journal: MemoryJournal::new(),
            sending: Mutex::new(()),
        }
    }

    /// Sends `amount` of `symbol` to `address` and waits for the chain; the transaction's
    /// reference. A transfer the chain refuses in simulation is an error with nothing sent.
    pub async fn transfer(
        &self,
        symbol: &str,
        address: &str,
        amount: Decimal,
    ) -> Result<String, SinkError> {
        let chain = self.node.chain_id().to_owned();
        let (token, decimals) = self
            .tokens
            .get(&symbol.to_ascii_uppercase())
            .ok_or_else(|| format!("no {symbol} on {chain}"))?;
        let namespace = chain
            .parse::<rialto_core::ChainId>()
            .map(|c| c.namespace())
            .map_err(|e| format!("chain {chain}: {e}"))?;
        let to = Address::parse(address, namespace).map_err(|e| e.to_string())?;
        let currency = Currency::new(
            &symbol.to_ascii_lowercase(),
            *decimals,
            CurrencyKind::Stablecoin,
        );
        let units = Money::parse(&amount.normalize().to_string(), currency)
            .and_then(|m| m.to_base_units())
            .map_err(|e| format!("amount {amount}: {e}"))?;
        let planned = self.node.token_transfer(token, &to, units);
        let request = LegRequest {
            purpose: SANDBOX_WITHDRAWAL,
            reference: LegId::generate().to_string(),
            payment_intent_id: None,
            from: self.omnibus.clone(),
            action: planned.action,
            fees: planned.fees,
        };
        let _one_at_a_time = self.sending.lock().await;
        let rail = self.node.rail(&self.journal);
        let sent = rail
            .send(&request, 0)
            .await
            .map_err(|e| format!("withdrawal on {chain}: {e}"))?;
        let started = Instant::now();
        loop {
            rail.drive(0)
                .await
                .map_err(|e| format!("withdrawal on {chain}: {e}"))?;
            let now = self
                .journal
                .find(SANDBOX_WITHDRAWAL, &request.reference)
                .await
                .map_err(|e| e.to_string())?;
            match now.map(|leg| leg.status) {
                Some(LegStatus::Confirmed) => return Ok(sent.tx_hash),
                Some(LegStatus::Failed) => {
                    return Err(SinkError(format!("withdrawal {} failed", sent.tx_hash)))
                }
                _ => {}
            }
            if started.elapsed() > WAIT {
                // Sent is sent: report it (never "failed", which could make the exchange
                // refund and send again); the gateway follows it on chain from here.
                return Ok(sent.tx_hash);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The devnet's Solana simnet as a withdrawal chain of the sandbox exchange, when the devnet
/// manifest at `path` has one: the omnibus wallet is the manifest's last Solana payer (funded
/// with SOL and every stand-in token), as on the EVM chains. The alias and the chain.
pub fn devnet_solana(path: &std::path::Path) -> anyhow::Result<Option<(String, RailSinkChain)>> {
    use anyhow::Context;
    use rialto_solana::chain::{Commitment, SolanaChain};
    use rialto_solana::devnet::manifest::SolanaManifest;
    let Some(manifest) = SolanaManifest::read(path)
        .with_context(|| format!("the Solana part of {}", path.display()))?
    else {
        return Ok(None);
    };
    let omnibus = manifest
        .payers
        .last()
        .context("the devnet manifest lists no Solana payers")?;
    let chain = SolanaChain::new(
        manifest.chain_id.clone(),
        manifest.alias.clone(),
        false,
        vec![manifest.rpc_url.clone()],
        Commitment::Confirmed,
        Duration::from_secs(10),
    );
    let mut tokens = BTreeMap::new();
    for (symbol, entry) in &manifest.tokens {
        let mint = Address::parse(&entry.mint, rialto_core::ChainNamespace::Solana)
            .with_context(|| format!("devnet Solana mint {symbol}"))?;
        tokens.insert(
            symbol.to_ascii_uppercase(),
            (mint, u32::from(entry.decimals)),
        );
    }
    let node = Arc::new(rialto_solana::node::SolanaNode::new(chain));
    let omnibus = SigningKey(omnibus.secret_key.clone());
    Ok(Some((
        manifest.alias,
        RailSinkChain::new(node, omnibus, tokens),
    )))
}
