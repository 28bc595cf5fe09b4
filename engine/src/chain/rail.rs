//! The gateway's outgoing EVM transactions ([`Rail`] for EVM chains).
//!
//! A leg is named by `(purpose, reference)`. [`EvmRail::send`] estimates gas (a call that would
//! revert fails here, before a nonce is spent), then the store allocates the sender's next
//! nonce, the leg is signed and stored as `pending` in one database transaction, and only then
//! is it broadcast. A crash anywhere after the commit leaves a stored raw transaction that
//! [`EvmRail::drive`] re-broadcasts: the same bytes, so the same hash and nonce, which the chain
//! can include at most once. Asking for the same leg again returns the stored one.

use async_trait::async_trait;
use rialto_core::address::Address;
use rialto_core::id::{LegId, PaymentIntentId};
use rialto_evm::sender::{self, CallSpec, PrivateKeySigner, SignedTx, TokenMetadata};
use rialto_evm::EvmError;

use super::{block_i64, EvmChain};
use crate::store::chain::{ChainTransfer, LegStatus, SignedLeg, TransferDraft};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RailError {
    #[error("chain: {0}")]
    Chain(#[from] EvmError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("screening the funds failed: {0}")]
    Screening(String),
    #[error("deposit keys: {0}")]
    Keys(String),
    #[error("ledger: {0}")]
    Ledger(String),
}

/// What to send.
#[derive(Debug, Clone)]
pub struct LegRequest {
    pub purpose: &'static str,
    pub reference: String,
    pub payment_intent_id: Option<PaymentIntentId>,
    /// The sending key (hot wallet or a deposit address's derived key).
    pub signer: PrivateKeySigner,
    /// The transaction's `to`.
    pub to: Address,
    /// Wei sent along.
    pub value: u128,
    pub data: Vec<u8>,
    /// For token legs: the token and base units it moves (recorded for reconciliation).
    pub token: Option<(Address, u128)>,
    /// Never pay more than this per gas (wei): a sweep can only spend the gas it was sent.
    pub max_fee_cap: Option<u128>,
    /// Gas on top of the estimate and its margin, for calls whose cost depends on the block
    /// they land in (see [`SWAP_GAS_HEADROOM`]). Unused gas is not paid for.
    pub extra_gas: u64,
}

/// A Uniswap V2 pair writes its price accumulators only when the block's timestamp moved past
/// its last update. A swap estimated in the pool's last-update second and mined in a later one
/// needs two more storage writes than its estimate: on a pool never swapped before, two
/// zero-to-non-zero writes (2 × 22,100 gas), more than the estimate's 20 % margin covers
/// (measured on the devnet: 116,922 estimated, 151,414 used).
pub const SWAP_GAS_HEADROOM: u64 = 50_000;

/// A token transfer estimated while its recipient holds some of the token, and mined after a
/// concurrent leg emptied that balance, writes a zero slot to non-zero: 17,100 gas more than
/// its estimate, about twice the 20 % margin of a 45,000-gas transfer. Route legs pass on
/// exactly what arrived, so the hot wallet's balances return to zero all the time.
pub const TOKEN_GAS_HEADROOM: u64 = 25_000;

/// A chain the gateway can move money on. Every method is safe to call again after a crash or
/// timeout: `send` is idempotent per leg, `drive` only advances stored legs.
#[async_trait]
pub trait Rail: Send + Sync {
    /// Records (signed, before sending) and broadcasts the leg, or returns the stored one.
    async fn send(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError>;

    /// The token's symbol and decimals as its contract reports them.
    async fn token_metadata(&self, token: &Address) -> Result<TokenMetadata, RailError>;

    /// `owner`'s balance in base units: of `token`, or of the native coin (wei) for `None`.
    async fn balance(&self, token: Option<&Address>, owner: &Address) -> Result<u128, RailError>;

    /// Re-broadcasts stored legs the node does not have and moves mined ones to `confirmed`
    /// (at the chain's confirmations) or `failed`. Returns how many legs changed status.
    async fn drive(&self, now_ms: i64) -> Result<usize, RailError>;
}

/// [`Rail`] over one EVM chain and the gateway's store.
#[derive(Debug)]
pub struct EvmRail<'a> {
    pub chain: &'a EvmChain,
    pub store: &'a dyn Store,
}

#[async_trait]
impl Rail for EvmRail<'_> {
    async fn send(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError> {
        let store = self.store;
        let chain = self.chain;
        if let Some(leg) = store
            .get_chain_transfer(request.purpose, &request.reference)
            .await?
        {
            return Ok(leg);
        }
        let signer = &request.signer;
        let from = sender::signer_address(signer);
        let mut spec = CallSpec {
            chain_id: chain.chain_id,
            to: request.to,
            value: request.value,
            data: request.data.clone().into(),
            gas_limit: 0,
        };
        spec.gas_limit = sender::estimate_gas(chain.rpc_url(), &from, &spec)
            .await?
            .saturating_add(request.extra_gas);
        let mut fees = sender::estimate_fees(chain.rpc_url()).await?;
        if let Some(cap) = request.max_fee_cap {
            fees.max_fee_per_gas = fees.max_fee_per_gas.min(cap);
            fees.max_priority_fee_per_gas = fees.max_priority_fee_per_gas.min(cap);
        }
        let chain_nonce = sender::pending_nonce(chain.rpc_url(), &from).await?;
        let draft = TransferDraft {
            leg_id: LegId::generate().to_string(),
            purpose: request.purpose.to_owned(),
            reference: request.reference.clone(),
            payment_intent_id: request.payment_intent_id,
            chain_id: chain.caip2.clone(),
            from: from.to_string(),
            to: request.to.to_string(),
            token: request.token.map(|(t, _)| t.to_string()),
            amount_units: request.token.map(|(_, units)| units.to_string()),
            created_at_ms: now_ms,
        };
        let sign = |nonce: u64| {
            sender::sign_call(signer, &spec, nonce, fees)
                .map(|s| SignedLeg {
                    raw_tx: s.raw,
                    tx_hash: s.hash,
                })
                .map_err(|e| e.to_string())
        };
        let leg = store
            .record_chain_transfer(&draft, chain_nonce, &sign)
            .await?;
        if leg.status == LegStatus::Pending {
            self.broadcast(&leg, now_ms).await?;
        }
        Ok(leg)
    }

    async fn token_metadata(&self, token: &Address) -> Result<TokenMetadata, RailError> {
        Ok(sender::token_metadata(self.chain.rpc_url(), token).await?)
    }

    async fn balance(&self, token: Option<&Address>, owner: &Address) -> Result<u128, RailError> {
        let rpc = self.chain.rpc_url();
        Ok(match token {
            Some(token) => sender::token_balance(rpc, token, owner).await?,
            None => u128::try_from(sender::native_balance(rpc, owner).await?)
                .map_err(|_| EvmError::Key("native balance over 128 bits".into()))?,
        })
    }

    async fn drive(&self, now_ms: i64) -> Result<usize, RailError> {
        let mut changed = 0;
        for leg in self
            .store
            .open_chain_transfers(&self.chain.caip2, 200)
            .await?
        {
            // One leg the node cannot answer for must not stop the others.
            let mined = match sender::mined(self.chain.rpc_url(), &leg.tx_hash).await {
                Ok(mined) => mined,
                Err(err) => {
                    tracing::warn!(leg = %leg.draft.leg_id, error = %err, "leg status unavailable; will retry");
                    continue;
                }
            };
            match mined {
                // A revert counts once it is as deep as a success would need to be: a reorg
                // can still re-include the transaction and let it succeed.
                Some(m) if !m.success && m.confirmations >= self.chain.confirmations => {
                    self.store
                        .set_chain_transfer_status(
                            &leg.draft.leg_id,
                            LegStatus::Failed,
                            Some((block_i64(m.block_number), m.block_hash, Some(m.fee_wei))),
                            Some("reverted on chain"),
                            now_ms,
                        )
                        .await?;
                    changed += 1;
                }
                Some(m) if m.confirmations >= self.chain.confirmations => {
                    self.store
                        .set_chain_transfer_status(
                            &leg.draft.leg_id,
                            LegStatus::Confirmed,
                            Some((block_i64(m.block_number), m.block_hash, Some(m.fee_wei))),
                            None,
                            now_ms,
                        )
                        .await?;
                    changed += 1;
                }
                Some(_) => {} // mined, not yet deep enough
                // Not mined: never sent, dropped from the pool, or reorged out. Send the same
                // bytes again; the chain includes them at most once.
                None => {
                    if let Err(err) = self.broadcast(&leg, now_ms).await {
                        tracing::warn!(leg = %leg.draft.leg_id, error = %err, "re-broadcast failed; will retry");
                    }
                }
            }
        }
        Ok(changed)
    }
}

impl EvmRail<'_> {
    async fn broadcast(&self, leg: &ChainTransfer, now_ms: i64) -> Result<(), RailError> {
        let signed = SignedTx {
            raw: leg.raw_tx.clone(),
            hash: leg.tx_hash.clone(),
        };
        match sender::broadcast(self.chain.rpc_url(), &signed).await {
            Ok(()) => {
                if leg.status == LegStatus::Pending {
                    self.store
                        .set_chain_transfer_status(
                            &leg.draft.leg_id,
                            LegStatus::Submitted,
                            None,
                            None,
                            now_ms,
                        )
                        .await?;
                }
                Ok(())
            }
            // Kept pending with its nonce: the next drive tries the same bytes again.
            Err(EvmError::Broadcast(reason)) => {
                tracing::warn!(leg = %leg.draft.leg_id, %reason, "broadcast refused; will retry");
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}
