//! [`SolanaRail`]: the [`Rail`] role on one Solana cluster, over the caller's [`RailJournal`].
//!
//! [`Rail::send`] builds the leg's transaction (the recipient's token account created when
//! missing, paid by the sender; `transfer_checked` on the mint's own program; the leg id in a
//! memo; the configured priority fee) against a recent blockhash, signs it and **simulates** it:
//! a leg the chain would refuse fails here, before anything is recorded. The journal then records
//! the signed bytes (the sequence number it allocates is only a counter on Solana) and only then
//! is the transaction broadcast.
//!
//! A Solana transaction lives as long as its blockhash (about 150 slots). [`Rail::drive`] looks a
//! recorded leg's signature up (with history) before doing anything: found, it follows it to the
//! chain's commitment; not found while its blockhash is still valid, it broadcasts the same bytes
//! again (the chain includes one signature at most once); not found once the blockhash expired
//! (checked, then the signature looked up once more) the transaction can never land, so the leg
//! is `failed` with nothing moved. A resend therefore never pays twice: no second transaction is
//! ever signed for a leg.

use async_trait::async_trait;
use rialto_connectors::rail::{
    ChainTransfer, LegAction, LegRequest, LegStatus, Mined, Rail, RailError, RailJournal,
    SignedLeg, SigningKey, TokenMetadata, TransferDraft,
};
use rialto_core::address::Address;
use rialto_core::id::LegId;
use solana_client::rpc_config::{
    RpcBlockConfig, RpcSimulateTransactionConfig, RpcTransactionConfig,
};
use solana_client::rpc_request::RpcRequest;
use solana_commitment_config::CommitmentConfig;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction_status_client_types::{TransactionDetails, UiTransactionEncoding};

use crate::chain::SolanaChain;
use crate::keys::{address_of, keypair_of, pubkey_of};
use crate::token::{self, MintInfo};
use crate::{tx, SolanaError};

/// [`Rail`] over one Solana cluster and a journal.
#[derive(Debug)]
pub struct SolanaRail<'a> {
    pub chain: &'a SolanaChain,
    pub journal: &'a dyn RailJournal,
}

fn chain_error(err: SolanaError) -> RailError {
    RailError::Chain(Box::new(err))
}

/// What a leg's transaction does, with the draft fields it records.
struct Plan {
    instructions: Vec<Instruction>,
    to: Address,
    moves: Option<(Address, u128)>,
}

/// Reads blockhashes and statuses at `confirmed`: a finalized blockhash has 32 fewer slots to
/// live, and a status is followed to the configured commitment separately.
fn confirmed() -> CommitmentConfig {
    CommitmentConfig::confirmed()
}

impl<'a> SolanaRail<'a> {
    pub fn new(chain: &'a SolanaChain, journal: &'a dyn RailJournal) -> Self {
        Self { chain, journal }
    }

    /// What the leg does; `payer` pays the rent of a token account it creates.
    async fn plan(
        &self,
        payer: &Pubkey,
        from: &Pubkey,
        action: &LegAction,
    ) -> Result<Plan, SolanaError> {
        match action {
            LegAction::Transfer {
                asset: Some(mint),
                to,
                amount,
            } => {
                let units = u64::try_from(*amount).map_err(|_| SolanaError::Amount(*amount))?;
                let info =
                    token::read_mint(self.chain.rpc(), &pubkey_of(mint)?, confirmed()).await?;
                Ok(Plan {
                    instructions: token::transfer_instructions(
                        payer,
                        from,
                        &pubkey_of(to)?,
                        &info,
                        units,
                    )?,
                    to: *to,
                    moves: Some((*mint, *amount)),
                })
            }
            LegAction::Transfer {
                asset: None,
                to,
                amount,
            } => {
                let lamports = u64::try_from(*amount).map_err(|_| SolanaError::Amount(*amount))?;
                Ok(Plan {
                    instructions: vec![solana_system_interface::instruction::transfer(
                        from,
                        &pubkey_of(to)?,
                        lamports,
                    )],
                    to: *to,
                    moves: None,
                })
            }
            // An EVM call is an address and calldata; a Solana instruction also needs every
            // account it touches, which `LegAction::Call` cannot carry.
            LegAction::Call { .. } => Err(SolanaError::Unsupported(
                "contract calls (a Solana instruction needs its account list)",
            )),
        }
    }

    /// The compute budget a leg asks for and the priority fee it offers (capped by the leg's
    /// fee limit, in micro-lamports per compute unit).
    fn budget(&self, request: &LegRequest) -> Vec<Instruction> {
        let mut price = self.chain.priority_fee_micro_lamports;
        if let Some(cap) = request.fees.max_fee_per_unit {
            price = price.min(u64::try_from(cap).unwrap_or(u64::MAX));
        }
        let limit =
            u64::from(self.chain.compute_unit_limit).saturating_add(request.fees.extra_units);
        let mut budget = vec![ComputeBudgetInstruction::set_compute_unit_limit(
            u32::try_from(limit).unwrap_or(u32::MAX),
        )];
        if price > 0 {
            budget.push(ComputeBudgetInstruction::set_compute_unit_price(price));
        }
        budget
    }

    /// Builds, signs and simulates the leg's transaction, then records it; does not broadcast.
    /// With a `fee_payer`, that key pays the fee and any rent and signs first (the
    /// transaction's reference is its signature); `request.from` signs for what it moves.
    async fn record(
        &self,
        request: &LegRequest,
        fee_payer: Option<&SigningKey>,
        now_ms: i64,
    ) -> Result<ChainTransfer, RailError> {
        let keypair = keypair_of(&request.from).map_err(|e| RailError::Key(Box::new(e)))?;
        let sponsor = fee_payer
            .map(keypair_of)
            .transpose()
            .map_err(|e| RailError::Key(Box::new(e)))?;
        let from = keypair.pubkey();
        let payer = sponsor.as_ref().map_or(from, Signer::pubkey);
        let plan = self
            .plan(&payer, &from, &request.action)
            .await
            .map_err(chain_error)?;
        let leg_id = LegId::generate().to_string();
        let mut instructions = self.budget(request);
        instructions.extend(plan.instructions);
        instructions.push(token::memo(&format!("rialto leg {leg_id}"), &from));
        let (blockhash, _) = self
            .chain
            .rpc()
            .get_latest_blockhash_with_commitment(confirmed())
            .await
            .map_err(|e| chain_error(e.into()))?;
        let signed = match &sponsor {
            Some(sponsor) => tx::signed_sponsored(sponsor, &keypair, &instructions, blockhash)
                .map_err(chain_error)?,
            None => tx::signed(&keypair, &instructions, blockhash),
        };
        self.simulate(&signed).await.map_err(chain_error)?;
        let raw_tx = tx::encode(&signed).map_err(chain_error)?;
        let tx_hash = tx::reference(&signed);
        let draft = TransferDraft {
            leg_id,
            purpose: request.purpose.to_owned(),
            reference: request.reference.clone(),
            payment_intent_id: request.payment_intent_id,
            chain_id: self.chain.caip2.clone(),
            from: address_of(&from).to_string(),
            to: plan.to.to_string(),
            token: plan.moves.map(|(t, _)| t.to_string()),
            amount_units: plan.moves.map(|(_, units)| units.to_string()),
            created_at_ms: now_ms,
        };
        // Solana has no account nonce: the journal's sequence number only orders a sender's
        // legs. The bytes were signed above; the callback hands the same ones over.
        let sign = |_sequence: u64| {
            Ok(SignedLeg {
                raw_tx: raw_tx.clone(),
                tx_hash: tx_hash.clone(),
            })
        };
        Ok(self.journal.record(&draft, 0, &sign).await?)
    }

    async fn simulate(&self, signed: &solana_transaction::Transaction) -> Result<(), SolanaError> {
        let outcome = self
            .chain
            .rpc()
            .simulate_transaction_with_config(
                signed,
                RpcSimulateTransactionConfig {
                    sig_verify: true,
                    commitment: Some(confirmed()),
                    ..Default::default()
                },
            )
            .await?
            .value;
        match outcome.err {
            None => Ok(()),
            Some(err) => {
                let logs = outcome.logs.unwrap_or_default().join("; ");
                Err(SolanaError::Simulation(format!("{err} ({logs})")))
            }
        }
    }

    /// Sends the recorded bytes (no preflight: they were simulated before recording, and a
    /// resend must reach the chain even if it now fails there).
    async fn broadcast(&self, leg: &ChainTransfer, now_ms: i64) -> Result<(), RailError> {
        let params = serde_json::json!([
            leg.raw_tx,
            {"encoding": "base64", "skipPreflight": true, "maxRetries": 0}
        ]);
        match self
            .chain
            .rpc()
            .send::<String>(RpcRequest::SendTransaction, params)
            .await
        {
            Ok(_) => {
                if leg.status == LegStatus::Pending {
                    self.journal
                        .set_status(&leg.draft.leg_id, LegStatus::Submitted, None, None, now_ms)
                        .await?;
                }
                Ok(())
            }
            Err(err) => {
                // Kept as it is: the next drive looks the signature up and tries again.
                tracing::warn!(leg = %leg.draft.leg_id, error = %err, "broadcast refused; will retry");
                Ok(())
            }
        }
    }
}

/// Where a leg stands on chain.
enum Seen {
    /// Known to the node at this slot, with its outcome, deep enough or not.
    At {
        slot: u64,
        failure: Option<String>,
        deep_enough: bool,
    },
    NotFound,
}

impl SolanaRail<'_> {
    async fn look_up(&self, signature: &Signature) -> Result<Seen, SolanaError> {
        let statuses = self
            .chain
            .rpc()
            .get_signature_statuses_with_history(std::slice::from_ref(signature))
            .await?
            .value;
        Ok(match statuses.into_iter().next().flatten() {
            Some(status) => Seen::At {
                slot: status.slot,
                failure: status.err.as_ref().map(ToString::to_string),
                deep_enough: status.satisfies_commitment(self.chain.commitment.config()),
            },
            None => Seen::NotFound,
        })
    }

    /// The block of `slot` and what the sender paid for `signature` (fee and the rent of the
    /// accounts it created: both leave the sender's balance for the network's sake).
    async fn mined_at(
        &self,
        slot: u64,
        signature: &Signature,
        leg: &ChainTransfer,
    ) -> Result<Mined, SolanaError> {
        let rpc = self.chain.rpc();
        let block = rpc
            .get_block_with_config(
                slot,
                RpcBlockConfig {
                    transaction_details: Some(TransactionDetails::None),
                    rewards: Some(false),
                    commitment: Some(confirmed()),
                    max_supported_transaction_version: Some(0),
                    ..Default::default()
                },
            )
            .await?;
        let tx = rpc
            .get_transaction_with_config(
                signature,
                RpcTransactionConfig {
                    encoding: Some(UiTransactionEncoding::Base64),
                    commitment: Some(confirmed()),
                    max_supported_transaction_version: Some(0),
                },
            )
            .await?;
        let meta = tx
            .transaction
            .meta
            .ok_or_else(|| SolanaError::Decode("transaction without its meta".into()))?;
        let spent = match (meta.pre_balances.first(), meta.post_balances.first()) {
            (Some(pre), Some(post)) => pre.saturating_sub(*post),
            _ => meta.fee,
        };
        // A native transfer's amount left the sender too; it is not a fee.
        let moved = match (&leg.draft.token, &leg.draft.amount_units) {
            (None, Some(units)) if meta.err.is_none() => units.parse::<u64>().unwrap_or(0),
            _ => 0,
        };
        Ok(Mined {
            block_number: i64::try_from(slot).unwrap_or(i64::MAX),
            block_hash: block.blockhash,
            fee_units: Some(u128::from(spent.saturating_sub(moved).max(meta.fee))),
            // A Solana leg is never replaced: a blockhash that expires ends it instead.
            replacement: None,
        })
    }

    /// Moves one open leg on (module docs). Whether its status changed.
    async fn advance(&self, leg: &ChainTransfer, now_ms: i64) -> Result<bool, RailError> {
        // One leg the node cannot answer for must not stop the others.
        match self.try_advance(leg, now_ms).await {
            Ok(changed) => Ok(changed),
            Err(RailError::Chain(err)) => {
                tracing::warn!(leg = %leg.draft.leg_id, error = %err, "leg status unavailable; will retry");
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    async fn try_advance(&self, leg: &ChainTransfer, now_ms: i64) -> Result<bool, RailError> {
        let signature: Signature = leg
            .tx_hash
            .parse()
            .map_err(|_| chain_error(SolanaError::Decode(format!("signature {}", leg.tx_hash))))?;
        let seen = self.look_up(&signature).await.map_err(chain_error)?;
        let (status, slot, failure) = match seen {
            Seen::At {
                deep_enough: false, ..
            } => {
                if leg.status == LegStatus::Pending {
                    self.journal
                        .set_status(&leg.draft.leg_id, LegStatus::Submitted, None, None, now_ms)
                        .await?;
                    return Ok(true);
                }
                return Ok(false);
            }
            Seen::At {
                slot,
                failure: Some(reason),
                ..
            } => (LegStatus::Failed, slot, Some(reason)),
            Seen::At {
                slot,
                failure: None,
                ..
            } => (LegStatus::Confirmed, slot, None),
            Seen::NotFound => return self.not_found(leg, &signature, now_ms).await,
        };
        let mined = self
            .mined_at(slot, &signature, leg)
            .await
            .map_err(chain_error)?;
        self.journal
            .set_status(
                &leg.draft.leg_id,
                status,
                Some(mined),
                failure.as_deref(),
                now_ms,
            )
            .await?;
        Ok(true)
    }

    /// A leg the node does not know: broadcast again while its blockhash lives; once it has
    /// expired (and the signature is still unknown after that) it can never land: `failed`.
    async fn not_found(
        &self,
        leg: &ChainTransfer,
        signature: &Signature,
        now_ms: i64,
    ) -> Result<bool, RailError> {
        let recorded = tx::decode(&leg.raw_tx).map_err(chain_error)?;
        let alive = self
            .chain
            .rpc()
            .is_blockhash_valid(&recorded.message.recent_blockhash, confirmed())
            .await
            .map_err(|e| chain_error(e.into()))?;
        if alive {
            self.broadcast(leg, now_ms).await?;
            return Ok(false);
        }
        if !matches!(
            self.look_up(signature).await.map_err(chain_error)?,
            Seen::NotFound
        ) {
            return Ok(false); // it landed meanwhile: the next drive follows it
        }
        self.journal
            .set_status(
                &leg.draft.leg_id,
                LegStatus::Failed,
                None,
                Some("expired: its blockhash expired before it was included, so it can never land; nothing moved"),
                now_ms,
            )
            .await?;
        Ok(true)
    }
}

#[async_trait]
impl Rail for SolanaRail<'_> {
    fn chain_id(&self) -> &str {
        &self.chain.caip2
    }

    fn address_of(&self, key: &SigningKey) -> Result<Address, RailError> {
        let keypair: Keypair = keypair_of(key).map_err(|e| RailError::Key(Box::new(e)))?;
        Ok(address_of(&keypair.pubkey()))
    }

    async fn send(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError> {
        if let Some(leg) = self
            .journal
            .find(request.purpose, &request.reference)
            .await?
        {
            return Ok(leg);
        }
        let leg = self.record(request, None, now_ms).await?;
        if leg.status == LegStatus::Pending {
            self.broadcast(&leg, now_ms).await?;
        }
        Ok(leg)
    }

    /// The hot wallet pays a deposit wallet's sweep: the deposit wallet never holds SOL.
    async fn send_sponsored(
        &self,
        request: &LegRequest,
        fee_payer: &SigningKey,
        now_ms: i64,
    ) -> Result<ChainTransfer, RailError> {
        if let Some(leg) = self
            .journal
            .find(request.purpose, &request.reference)
            .await?
        {
            return Ok(leg);
        }
        let leg = self.record(request, Some(fee_payer), now_ms).await?;
        if leg.status == LegStatus::Pending {
            self.broadcast(&leg, now_ms).await?;
        }
        Ok(leg)
    }

    async fn token_metadata(&self, token: &Address) -> Result<TokenMetadata, RailError> {
        let mint = pubkey_of(token).map_err(|_| RailError::ForeignAddress(token.to_string()))?;
        let info: MintInfo =
            token::read_mint(self.chain.rpc(), &mint, self.chain.commitment.config())
                .await
                .map_err(chain_error)?;
        // Classic SPL mints carry no symbol on chain: the configuration names them, else the
        // mint's own address stands for it.
        let symbol = self
            .chain
            .symbol_of(token)
            .map(str::to_owned)
            .unwrap_or_else(|| token.to_string());
        Ok(TokenMetadata {
            symbol,
            decimals: info.decimals,
        })
    }

    async fn balance(&self, token: Option<&Address>, owner: &Address) -> Result<u128, RailError> {
        let owner = pubkey_of(owner).map_err(|_| RailError::ForeignAddress(owner.to_string()))?;
        let commitment = self.chain.commitment.config();
        let rpc = self.chain.rpc();
        match token {
            Some(token) => {
                let mint =
                    pubkey_of(token).map_err(|_| RailError::ForeignAddress(token.to_string()))?;
                let info = token::read_mint(rpc, &mint, commitment)
                    .await
                    .map_err(chain_error)?;
                let units = token::ata_balance(rpc, &owner, &info, commitment)
                    .await
                    .map_err(chain_error)?;
                Ok(u128::from(units))
            }
            None => rpc
                .get_balance_with_commitment(&owner, commitment)
                .await
                .map(|r| u128::from(r.value))
                .map_err(|e| chain_error(e.into())),
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
