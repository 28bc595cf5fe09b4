//! [`EvmRail`]: the [`Rail`] role on one EVM chain, over the caller's [`RailJournal`].
//!
//! [`Rail::send`] estimates gas first (a call that would revert fails here, before a nonce is
//! spent), then the journal allocates the sender's next nonce and the leg is signed and
//! recorded as `pending` in one journal transaction, and only then is it broadcast. A crash
//! anywhere after the commit leaves a recorded raw transaction that [`Rail::drive`]
//! re-broadcasts: the same bytes, so the same hash and nonce, which the chain can include at
//! most once. Asking for the same leg again returns the recorded one.
//!
//! Where the chain's [`ReplacementPolicy`](crate::replace::ReplacementPolicy) says so, a leg
//! also gets a ladder of pre-signed replacements at its nonce (`crate::replace`), and a leg left
//! unmined for the policy's time is replaced by the next one. `drive` looks for a receipt of
//! every transaction of the leg that was sent, so whichever lands finishes the leg, once.

use async_trait::async_trait;
use rialto_connectors::rail::{
    ChainTransfer, FeeLimits, LegAction, LegRequest, LegStatus, Mined, Rail, RailError,
    RailJournal, ReplacementKind, SignError, SignedLeg, SigningKey, TokenMetadata, TransferDraft,
};
use rialto_core::address::Address;
use rialto_core::id::LegId;

use crate::chain::EvmChain;
use crate::sender::{self, CallSpec, PrivateKeySigner, SignedTx};
use crate::EvmError;

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

/// [`Rail`] over one EVM chain and a journal.
#[derive(Debug)]
pub struct EvmRail<'a> {
    pub chain: &'a EvmChain,
    pub journal: &'a dyn RailJournal,
}

fn chain_error(err: EvmError) -> RailError {
    RailError::Chain(Box::new(err))
}

/// The signer of a leg's key.
pub fn signer_of(key: &SigningKey) -> Result<PrivateKeySigner, RailError> {
    sender::signer_from_key(&key.0).map_err(|e| RailError::Key(Box::new(e)))
}

/// A leg's action as one EVM call: `to`, wei sent, calldata, and the token and base units it
/// moves.
pub(crate) struct Call {
    pub(crate) to: Address,
    pub(crate) value: u128,
    pub(crate) data: Vec<u8>,
    pub(crate) moves: Option<(Address, u128)>,
}

/// The transaction a leg's action is.
pub(crate) fn call_of(action: &LegAction) -> Result<Call, RailError> {
    let evm = |a: &Address| match a {
        Address::Evm(_) => Ok(*a),
        other => Err(RailError::ForeignAddress(other.to_string())),
    };
    Ok(match action {
        LegAction::Transfer {
            asset: Some(token),
            to,
            amount,
        } => {
            let data = sender::erc20_transfer_data(&evm(to)?, *amount).map_err(chain_error)?;
            Call {
                to: evm(token)?,
                value: 0,
                data: data.to_vec(),
                moves: Some((*token, *amount)),
            }
        }
        LegAction::Transfer {
            asset: None,
            to,
            amount,
        } => Call {
            to: evm(to)?,
            value: *amount,
            data: Vec::new(),
            moves: None,
        },
        LegAction::Call {
            to,
            value,
            data,
            moves,
        } => Call {
            to: evm(to)?,
            value: *value,
            data: data.clone(),
            moves: *moves,
        },
    })
}

impl<'a> EvmRail<'a> {
    pub fn new(chain: &'a EvmChain, journal: &'a dyn RailJournal) -> Self {
        Self { chain, journal }
    }

    /// Estimates, records (signed) and returns the leg; does not broadcast.
    async fn record(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError> {
        let chain = self.chain;
        let signer = signer_of(&request.from)?;
        let from = sender::signer_address(&signer);
        let Call {
            to,
            value,
            data,
            moves,
        } = call_of(&request.action)?;
        let mut spec = CallSpec {
            chain_id: chain.chain_id,
            to,
            value,
            data: data.into(),
            gas_limit: 0,
        };
        let FeeLimits {
            max_fee_per_unit,
            extra_units,
            pinned: _,
            fixed_units,
        } = request.fees;
        let units = match fixed_units {
            Some(units) => units,
            None => sender::estimate_gas(chain.rpc_url(), &from, &spec)
                .await
                .map_err(chain_error)?,
        };
        spec.gas_limit = units.saturating_add(extra_units);
        let mut fees = sender::estimate_fees(chain.rpc_url())
            .await
            .map_err(chain_error)?;
        if let Some(cap) = max_fee_per_unit {
            fees.max_fee_per_gas = fees.max_fee_per_gas.min(cap);
            fees.max_priority_fee_per_gas = fees.max_priority_fee_per_gas.min(cap);
        }
        let chain_nonce = sender::pending_nonce(chain.rpc_url(), &from)
            .await
            .map_err(chain_error)?;
        let draft = TransferDraft {
            leg_id: LegId::generate().to_string(),
            purpose: request.purpose.to_owned(),
            reference: request.reference.clone(),
            payment_intent_id: request.payment_intent_id,
            chain_id: chain.caip2.clone(),
            from: from.to_string(),
            to: to.to_string(),
            token: moves.map(|(t, _)| t.to_string()),
            amount_units: moves.map(|(_, units)| units.to_string()),
            created_at_ms: now_ms,
        };
        let sign = |nonce: u64| {
            sender::sign_call(&signer, &spec, nonce, fees)
                .map(|s| SignedLeg {
                    raw_tx: s.raw,
                    tx_hash: s.hash,
                })
                .map_err(|e| SignError(e.to_string()))
        };
        Ok(self.journal.record(&draft, chain_nonce, &sign).await?)
    }

    pub(crate) async fn broadcast(
        &self,
        leg: &ChainTransfer,
        now_ms: i64,
    ) -> Result<(), RailError> {
        let signed = SignedTx {
            raw: leg.raw_tx.clone(),
            hash: leg.tx_hash.clone(),
        };
        match sender::broadcast(self.chain.rpc_url(), &signed).await {
            Ok(()) => {
                if leg.status == LegStatus::Pending {
                    self.journal
                        .set_status(&leg.draft.leg_id, LegStatus::Submitted, None, None, now_ms)
                        .await?;
                }
                Ok(())
            }
            // Kept pending with its nonce: the next drive tries the same bytes again.
            Err(EvmError::Broadcast(reason)) => {
                tracing::warn!(leg = %leg.draft.leg_id, %reason, "broadcast refused; will retry");
                Ok(())
            }
            Err(other) => Err(chain_error(other)),
        }
    }

    /// Moves one open leg on: finished when one of its transactions is mined deep enough;
    /// when none is mined, the latest sent again, or replaced once it waited the policy's
    /// time. Whether its status changed.
    async fn advance(&self, leg: &ChainTransfer, now_ms: i64) -> Result<bool, RailError> {
        let replacements = self.replacements_of(leg).await?;
        // One leg the node cannot answer for must not stop the others.
        let landed = match self.landed(leg, &replacements).await {
            Ok(landed) => landed,
            Err(err) => {
                tracing::warn!(leg = %leg.draft.leg_id, error = %err, "leg status unavailable; will retry");
                return Ok(false);
            }
        };
        let Some((replacement, m)) = landed else {
            // Not mined: never sent, dropped from the pool, reorged out, or stuck.
            self.resend_or_replace(leg, &replacements, now_ms).await;
            return Ok(false);
        };
        if m.confirmations < self.chain.confirmations {
            return Ok(false); // mined, not yet deep enough
        }
        let (status, failure) = match replacement.map(|r| r.kind) {
            // A cancel took the nonce: the leg's call can never land now.
            Some(ReplacementKind::Cancel) => (
                LegStatus::Failed,
                Some("cancelled: a zero-value transfer to the sender took its nonce"),
            ),
            // A revert counts once it is as deep as a success would need to be: a reorg can
            // still re-include the transaction and let it succeed.
            _ if !m.success => (LegStatus::Failed, Some("reverted on chain")),
            _ => (LegStatus::Confirmed, None),
        };
        let mined = Mined {
            block_number: i64::try_from(m.block_number).unwrap_or(i64::MAX),
            block_hash: m.block_hash.clone(),
            fee_units: Some(m.fee_wei),
            replacement: replacement.map(|r| r.tx_hash.clone()),
        };
        self.journal
            .set_status(&leg.draft.leg_id, status, Some(mined), failure, now_ms)
            .await?;
        Ok(true)
    }
}

#[async_trait]
impl Rail for EvmRail<'_> {
    fn chain_id(&self) -> &str {
        &self.chain.caip2
    }

    fn address_of(&self, key: &SigningKey) -> Result<Address, RailError> {
        Ok(sender::signer_address(&signer_of(key)?))
    }

    async fn send(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError> {
        if let Some(leg) = self
            .journal
            .find(request.purpose, &request.reference)
            .await?
        {
            // A leg recorded by a process that died before signing its ladder gets it now.
            self.prepare_replacements(&leg, request).await;
            return Ok(leg);
        }
        let leg = self.record(request, now_ms).await?;
        self.prepare_replacements(&leg, request).await;
        if leg.status == LegStatus::Pending {
            self.broadcast(&leg, now_ms).await?;
        }
        Ok(leg)
    }

    async fn token_metadata(&self, token: &Address) -> Result<TokenMetadata, RailError> {
        sender::token_metadata(self.chain.rpc_url(), token)
            .await
            .map_err(chain_error)
    }

    async fn balance(&self, token: Option<&Address>, owner: &Address) -> Result<u128, RailError> {
        let rpc = self.chain.rpc_url();
        match token {
            Some(token) => sender::token_balance(rpc, token, owner)
                .await
                .map_err(chain_error),
            None => {
                let wei = sender::native_balance(rpc, owner)
                    .await
                    .map_err(chain_error)?;
                u128::try_from(wei)
                    .map_err(|_| chain_error(EvmError::Key("native balance over 128 bits".into())))
            }
        }
    }

    async fn drive(&self, now_ms: i64) -> Result<usize, RailError> {
        let mut changed = 0;
        for leg in self.journal.open(&self.chain.caip2, 200).await? {
            changed += usize::from(self.advance(&leg, now_ms).await?);
        }
        Ok(changed)
    }
}
