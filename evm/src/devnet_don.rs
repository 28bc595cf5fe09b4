//! [`DevnetDonStandIn`]: **the devnet stand-in for Chainlink's DON**, which carries CCIP
//! messages between the devnet chains. It is not Chainlink's: on a live chain the DON commits
//! and executes messages through Chainlink's own off-ramps, and Rialto runs nothing of it.
//!
//! What it does, each pass: on every chain, it reads the `DevnetCcipSendRequested` events of
//! the stand-in on-ramps (one per destination, behind Chainlink's real `Router`) since its
//! cursor, and for each message not yet executed on the destination it calls that chain's
//! `DevnetCcipOffRamp.execute` with its key (the only executor the off-ramp accepts). The
//! off-ramp releases the tokens to the receiver (mapped from the source token to the same
//! symbol on the destination) and, for a contract receiver with data or a gas limit, delivers
//! through the destination `Router.routeMessage` → `ccipReceive`, then emits
//! `ExecutionStateChanged(..., messageId, SUCCESS)`: the event a sender tracks delivery by.
//! The off-ramp refuses a second execution of a message, so a restart (which rescans from the
//! first block) delivers nothing twice. A message it cannot execute (a receiver the deposit
//! token does not allow-list, say) is retried every pass and logged; it is never delivered
//! around the contract.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address as WireAddress, Bytes, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolEvent, SolValue};

use crate::ccip::{evm_receiver, gas_limit_of, Client, IDevnetCcipOffRamp, IDevnetCcipOnRamp};
use crate::contracts::to_wire;
use crate::manifest::{CcipEntry, ChainManifest, DevnetManifest};
use crate::EvmError;

/// How it names itself in logs and errors.
pub const DON_STAND_IN: &str = "devnet DON stand-in";

/// How long a pass waits for an `execute` receipt before it gives up on the message for this
/// pass (an error, retried next pass), so a pass never hangs on a transaction that is not mined.
const RECEIPT_WAIT: Duration = Duration::from_secs(30);

/// One chain as the stand-in sees it.
#[derive(Debug)]
struct DonChain {
    alias: String,
    provider: DynProvider,
    /// The stand-in's account (the off-ramps' only executor); its nonce is read per execute.
    executor: WireAddress,
    ccip: CcipEntry,
    /// Lane tokens by address (lower-case hex) → symbol, and symbol → address.
    symbols: BTreeMap<WireAddress, String>,
    tokens: BTreeMap<String, WireAddress>,
}

/// One message carried, as a pass reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: B256,
    pub from: String,
    pub to: String,
    /// The destination's `execute` transaction.
    pub tx_hash: B256,
}

/// The devnet DON stand-in (see the module docs).
#[derive(Debug)]
pub struct DevnetDonStandIn {
    chains: Vec<DonChain>,
    /// Next block to scan, per source chain alias.
    cursors: Mutex<BTreeMap<String, u64>>,
}

fn fail(reason: String) -> EvmError {
    EvmError::Devnet {
        chain: DON_STAND_IN.into(),
        reason,
    }
}

async fn don_chain(chain: &ChainManifest) -> Result<Option<DonChain>, EvmError> {
    let Some(rails) = &chain.institutional else {
        return Ok(None);
    };
    let signer = crate::sender::signer_from_key(&rails.ccip.relayer.private_key)?;
    let executor = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect(&chain.rpc_url)
        .await?
        .erased();
    let mut tokens = BTreeMap::new();
    if let Some(usdc) = chain.tokens.get("USDC") {
        tokens.insert("USDC".to_owned(), to_wire(&usdc.address)?);
    }
    for (symbol, entry) in &rails.deposit_tokens {
        tokens.insert(symbol.clone(), to_wire(&entry.address)?);
    }
    let symbols = tokens.iter().map(|(s, a)| (*a, s.clone())).collect();
    Ok(Some(DonChain {
        alias: chain.alias.clone(),
        provider,
        executor,
        ccip: rails.ccip.clone(),
        symbols,
        tokens,
    }))
}

impl DevnetDonStandIn {
    /// Over every chain of `manifest` that has the CCIP rails, signing with the manifest's
    /// relayer key.
    pub async fn from_manifest(manifest: &DevnetManifest) -> Result<Self, EvmError> {
        let mut chains = Vec::new();
        for chain in &manifest.chains {
            if let Some(c) = don_chain(chain).await? {
                chains.push(c);
            }
        }
        Ok(Self {
            chains,
            cursors: Mutex::new(BTreeMap::new()),
        })
    }

    /// Whether no chain has the CCIP rails (nothing to carry).
    pub fn is_empty(&self) -> bool {
        self.chains.len() < 2
    }

    /// Runs passes every `interval` until the task is dropped, logging what it carries.
    pub async fn run(self, interval: Duration) {
        tracing::info!(chains = self.chains.len(), "{DON_STAND_IN} started");
        loop {
            match self.pass().await {
                Ok(done) => {
                    for d in done {
                        tracing::info!(message_id = %d.message_id, from = %d.from, to = %d.to,
                            tx = %d.tx_hash, "{DON_STAND_IN} delivered a CCIP message");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "{DON_STAND_IN} pass failed"),
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// One pass over every chain (see the module docs).
    pub async fn pass(&self) -> Result<Vec<Delivery>, EvmError> {
        let mut done = Vec::new();
        for source in &self.chains {
            let start = self.cursor(&source.alias);
            let head = source.provider.get_block_number().await?;
            if head < start {
                continue;
            }
            let mut next = head + 1;
            for (peer, lane) in &source.ccip.lanes {
                let Some(dest) = self.chains.iter().find(|c| &c.alias == peer) else {
                    continue;
                };
                let filter = Filter::new()
                    .address(to_wire(&lane.on_ramp)?)
                    .event_signature(IDevnetCcipOnRamp::DevnetCcipSendRequested::SIGNATURE_HASH)
                    .from_block(start)
                    .to_block(head);
                for log in source.provider.get_logs(&filter).await? {
                    let block = log.block_number.unwrap_or(start);
                    let event = IDevnetCcipOnRamp::DevnetCcipSendRequested::decode_log(&log.inner)
                        .map_err(|e| fail(format!("undecodable on-ramp event: {e}")))?;
                    match carry(source, dest, &event.data).await {
                        Ok(Some(d)) => done.push(d),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(message_id = %event.messageId, from = %source.alias,
                                to = %dest.alias, error = %e,
                                "{DON_STAND_IN} could not execute a CCIP message; retrying next pass");
                            next = next.min(block);
                        }
                    }
                }
            }
            self.cursors
                .lock()
                .map_err(|_| fail("cursor lock poisoned".into()))?
                .insert(source.alias.clone(), next);
        }
        Ok(done)
    }

    fn cursor(&self, alias: &str) -> u64 {
        self.cursors
            .lock()
            .map(|c| c.get(alias).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// Executes one message on `dest` unless it already was; `None` when it was.
async fn carry(
    source: &DonChain,
    dest: &DonChain,
    event: &IDevnetCcipOnRamp::DevnetCcipSendRequested,
) -> Result<Option<Delivery>, EvmError> {
    let off_ramp = dest
        .ccip
        .lanes
        .get(&source.alias)
        .and_then(|l| l.off_ramp)
        .ok_or_else(|| {
            fail(format!(
                "{} has no off-ramp from {}",
                dest.alias, source.alias
            ))
        })?;
    let off_ramp = IDevnetCcipOffRamp::new(to_wire(&off_ramp)?, &dest.provider);
    if off_ramp.executionState(event.messageId).call().await? != 0 {
        return Ok(None);
    }
    let message = &event.message;
    let receiver = evm_receiver(&message.receiver)
        .ok_or_else(|| fail("the receiver is not an EVM address".into()))?;
    let gas_limit = gas_limit_of(&message.extraArgs)
        .ok_or_else(|| fail("extraArgs are not EVMExtraArgsV1".into()))?;
    let mut dest_tokens = Vec::new();
    for t in &message.tokenAmounts {
        let symbol = source
            .symbols
            .get(&t.token)
            .ok_or_else(|| fail(format!("token {} has no lane", t.token)))?;
        let token = *dest
            .tokens
            .get(symbol)
            .ok_or_else(|| fail(format!("{} has no {symbol}", dest.alias)))?;
        dest_tokens.push(Client::EVMTokenAmount {
            token,
            amount: t.amount,
        });
    }
    let any2evm = Client::Any2EVMMessage {
        messageId: event.messageId,
        sourceChainSelector: source.ccip.chain_selector,
        sender: Bytes::from(event.originalSender.abi_encode()),
        data: message.data.clone(),
        destTokenAmounts: dest_tokens,
    };
    let call = off_ramp.execute(any2evm, event.sequenceNumber, receiver, gas_limit);
    // Simulated first: a message the destination refuses (a receiver the deposit token does not
    // allow-list) fails here, before any nonce is taken. Alloy's cached nonce manager would
    // otherwise spend a nonce on the failed estimate and queue every later execute behind the
    // gap, never mined, with the pass waiting on its receipt forever.
    call.call()
        .await
        .map_err(|e| fail(format!("execute would revert: {e}")))?;
    let nonce = dest
        .provider
        .get_transaction_count(dest.executor)
        .pending()
        .await?;
    let receipt = call
        .nonce(nonce)
        .send()
        .await?
        .with_timeout(Some(RECEIPT_WAIT))
        .get_receipt()
        .await
        .map_err(|e| fail(format!("execute receipt: {e}")))?;
    if !receipt.status() {
        return Err(fail(format!(
            "execute {} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(Some(Delivery {
        message_id: event.messageId,
        from: source.alias.clone(),
        to: dest.alias.clone(),
        tx_hash: receipt.transaction_hash,
    }))
}
