//! [`SolanaNode`]: the [`ChainNode`] role on one Solana cluster: what the engine's flows read of
//! the chain beside its rail. Slots stand for block numbers; a transaction's reference is its
//! first signature (base58, case-sensitive, never lower-cased); what a transaction paid is read
//! from its token balance changes.
//!
//! Ed25519 signatures do not recover their signer: [`ChainNode::recover_signer`] always
//! declines, and a payer's proof is checked against each sender of the transaction by
//! [`ChainNode::contract_accepts_signature`] (an offline ed25519 verification; no contract
//! wallets on Solana).

use async_trait::async_trait;
use rialto_connectors::chain::{
    ChainError, ChainNode, FeeQuote, ObservedTransfer, Receipt, SenderPart, TokenCall, TransferLog,
};
use rialto_connectors::rail::{FeeLimits, LegAction, PlannedLeg, Rail, RailJournal, SigningKey};
use rialto_core::address::Address;
use rialto_core::payment_uri::solana_pay::TransferRequest;
use rialto_core::ChainNamespace;
use rust_decimal::Decimal;
use solana_client::rpc_config::{RpcBlockConfig, RpcTransactionConfig};
use solana_commitment_config::CommitmentConfig;
use solana_signature::Signature;
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, TransactionDetails, UiTransactionEncoding,
};

use crate::balances::{token_deltas, TokenDelta};
use crate::chain::SolanaChain;
use crate::keys::keypair_of;
use crate::rail::SolanaRail;
use crate::{tx, SolanaError};

/// Lamports a signature costs (the base fee).
const LAMPORTS_PER_SIGNATURE: u128 = 5_000;
/// Rent of a token account (165 bytes) a leg may create for its recipient, in lamports.
const TOKEN_ACCOUNT_RENT: u128 = 2_039_280;

/// One Solana cluster behind the engine's chain role.
#[derive(Debug, Clone)]
pub struct SolanaNode {
    pub chain: SolanaChain,
}

fn node_error(err: SolanaError) -> ChainError {
    ChainError::Node(Box::new(err))
}

fn rpc_error(err: solana_client::client_error::ClientError) -> ChainError {
    node_error(err.into())
}

fn address(text: &str) -> Option<Address> {
    Address::parse(text, ChainNamespace::Solana).ok()
}

impl SolanaNode {
    pub fn new(chain: SolanaChain) -> Self {
        Self { chain }
    }

    fn signature(&self, tx: &str) -> Result<Signature, ChainError> {
        tx.parse().map_err(|_| ChainError::TxRef(tx.to_owned()))
    }

    pub(crate) async fn transaction(
        &self,
        tx: &str,
    ) -> Result<Option<EncodedConfirmedTransactionWithStatusMeta>, ChainError> {
        let signature = self.signature(tx)?;
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            max_supported_transaction_version: Some(0),
        };
        match self
            .chain
            .rpc()
            .get_transaction_with_config(&signature, config)
            .await
        {
            Ok(found) => Ok(Some(found)),
            // The node answers `null` for a transaction it does not know, which the client
            // reports as a decoding error of the result.
            Err(err)
                if matches!(
                    err.kind(),
                    solana_client::client_error::ClientErrorKind::SerdeJson(_)
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(rpc_error(err)),
        }
    }

    /// Slots on top of (and including) `slot`, capped at what finality needs; 0 below the
    /// configured commitment.
    async fn depth(&self, signature: &Signature, slot: u64) -> Result<u64, ChainError> {
        let status = self
            .chain
            .rpc()
            .get_signature_statuses_with_history(std::slice::from_ref(signature))
            .await
            .map_err(rpc_error)?
            .value
            .into_iter()
            .next()
            .flatten();
        let Some(status) = status else { return Ok(0) };
        if status.satisfies_commitment(CommitmentConfig::finalized()) {
            return Ok(32);
        }
        if !status.satisfies_commitment(self.chain.commitment.config()) {
            return Ok(0);
        }
        let head = self.head().await?;
        Ok(head.saturating_sub(slot).saturating_add(1).clamp(1, 31))
    }
}

/// The transfer to `to` in `token` that `deltas` show: what `to` gained, and who lost it.
fn matching(
    deltas: &[TokenDelta],
    token: &Address,
    to: &Address,
) -> Option<(u128, Vec<SenderPart>)> {
    let mint = token.to_string();
    let recipient = to.to_string();
    let gained: i128 = deltas
        .iter()
        .filter(|d| d.mint == mint && d.owner == recipient && d.delta > 0)
        .map(|d| d.delta)
        .sum();
    if gained <= 0 {
        return None;
    }
    let senders = deltas
        .iter()
        .filter(|d| d.mint == mint && d.delta < 0 && d.owner != recipient)
        .filter_map(|d| {
            Some(SenderPart {
                from: address(&d.owner)?,
                amount_units: u128::try_from(-d.delta).ok()?,
            })
        })
        .collect();
    Some((u128::try_from(gained).ok()?, senders))
}

/// The wallet a leg's transaction pays, read from its idempotent token-account creation
/// (`[payer, account, wallet, mint, system, token program]`), and whether it is a token
/// transfer (`transfer_checked`, instruction 12, of either token program).
fn token_call_of(raw_tx: &str) -> Option<TokenCall> {
    let signed = tx::decode(raw_tx).ok()?;
    let keys = &signed.message.account_keys;
    let program = |ix: &solana_message::compiled_instruction::CompiledInstruction| {
        keys.get(usize::from(ix.program_id_index)).copied()
    };
    let is_transfer = signed.message.instructions.iter().any(|ix| {
        program(ix).is_some_and(|p| crate::token::TokenProgram::of_owner(&p).is_some())
            && ix.data.first() == Some(&12)
    });
    if !is_transfer {
        return None;
    }
    let create = signed
        .message
        .instructions
        .iter()
        .find(|ix| program(ix) == Some(spl_associated_token_account_interface::program::ID))?;
    let wallet = keys.get(usize::from(*create.accounts.get(2)?))?;
    Some(TokenCall::Transfer {
        to: crate::keys::address_of(wallet),
    })
}

/// The node has no block at that slot: it says so (`RpcError`) or answers `null`, which the
/// client reports as a result it could not decode.
fn no_block(err: &solana_client::client_error::ClientError) -> bool {
    use solana_client::client_error::ClientErrorKind;
    matches!(
        err.kind(),
        ClientErrorKind::RpcError(_) | ClientErrorKind::SerdeJson(_)
    )
}

/// `units` base units as the decimal a Solana Pay `amount` is (no exponent, no trailing zeros).
#[async_trait]
impl ChainNode for SolanaNode {
    fn chain_id(&self) -> &str {
        &self.chain.caip2
    }

    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> Box<dyn Rail + 'a> {
        Box::new(SolanaRail::new(&self.chain, journal))
    }

    fn fail_over(&self) {
        self.chain.fail_over();
    }

    fn address_of(&self, key: &SigningKey) -> Result<Address, ChainError> {
        keypair_of(key)
            .map(|k| crate::keys::keypair_address(&k))
            .map_err(|e| ChainError::Key(e.to_string()))
    }

    fn parse_tx_ref(&self, text: &str) -> Result<String, ChainError> {
        let text = text.trim();
        let bytes = bs58::decode(text)
            .into_vec()
            .map_err(|_| ChainError::TxRef(text.to_owned()))?;
        if bytes.len() != 64 {
            return Err(ChainError::TxRef(text.to_owned()));
        }
        Ok(bs58::encode(bytes).into_string())
    }

    fn recover_signer(&self, _message: &str, _signature: &[u8]) -> Result<Address, ChainError> {
        Err(ChainError::Signature(
            "ed25519 signatures do not recover their signer; each sender is checked instead".into(),
        ))
    }

    async fn contract_accepts_signature(
        &self,
        account: &Address,
        message: &str,
        signature: &[u8],
    ) -> Result<bool, ChainError> {
        let (Address::Solana(key), Ok(bytes)) = (account, <[u8; 64]>::try_from(signature)) else {
            return Ok(false);
        };
        Ok(Signature::from(bytes).verify(key, message.as_bytes()))
    }

    fn payment_uri(&self, token: &Address, to: &Address, units: u128) -> String {
        // One Solana Pay writer for the gateway, the CLI and the checkout page: core's.
        let mut request = TransferRequest::new(*to);
        request.spl_token = Some(*token);
        // Unknown decimals: no amount rather than a wrong one; the wallet asks the payer.
        request.amount = self.chain.token(token).and_then(|t| {
            let units = i128::try_from(units).ok()?;
            Decimal::try_from_i128_with_scale(units, u32::from(t.decimals)).ok()
        });
        request
            .to_url()
            .unwrap_or_else(|_| format!("solana:{to}?spl-token={token}"))
    }

    fn token_transfer(&self, token: &Address, to: &Address, units: u128) -> PlannedLeg {
        PlannedLeg {
            action: LegAction::Transfer {
                asset: Some(*token),
                to: *to,
                amount: units,
            },
            fees: FeeLimits::default(),
        }
    }

    fn token_call(&self, raw_tx: &str) -> Option<TokenCall> {
        token_call_of(raw_tx)
    }

    async fn head(&self) -> Result<u64, ChainError> {
        self.chain
            .rpc()
            .get_slot_with_commitment(self.chain.commitment.config())
            .await
            .map_err(rpc_error)
    }

    async fn block_hash(&self, number: u64) -> Result<Option<String>, ChainError> {
        let config = RpcBlockConfig {
            transaction_details: Some(TransactionDetails::None),
            rewards: Some(false),
            commitment: Some(CommitmentConfig::confirmed()),
            max_supported_transaction_version: Some(0),
            ..Default::default()
        };
        match self.chain.rpc().get_block_with_config(number, config).await {
            Ok(block) => Ok(Some(block.blockhash)),
            // A skipped, empty (the simnet stores no empty block) or future slot has none.
            Err(err) if no_block(&err) => Ok(None),
            Err(err) => Err(rpc_error(err)),
        }
    }

    async fn transfer_logs(
        &self,
        tokens: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<TransferLog>, ChainError> {
        let mints: Vec<String> = tokens.iter().map(ToString::to_string).collect();
        let mut logs = Vec::new();
        for slot in from..=to {
            let config = RpcBlockConfig {
                encoding: Some(UiTransactionEncoding::Base64),
                transaction_details: Some(TransactionDetails::Full),
                rewards: Some(false),
                commitment: Some(CommitmentConfig::confirmed()),
                max_supported_transaction_version: Some(0),
            };
            let block = match self.chain.rpc().get_block_with_config(slot, config).await {
                Ok(block) => block,
                Err(err) if no_block(&err) => continue,
                Err(err) => return Err(rpc_error(err)),
            };
            for item in block.transactions.unwrap_or_default() {
                let (Some(meta), Some(decoded)) = (item.meta.as_ref(), item.transaction.decode())
                else {
                    continue;
                };
                if meta.err.is_some() {
                    continue;
                }
                let tx_hash = decoded
                    .signatures
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let deltas = token_deltas(meta);
                // A transaction has no logs: its n-th gain (in the deltas' stable order)
                // stands for the n-th log, so two gains of one transaction stay two.
                for (nth, gain) in deltas
                    .iter()
                    .filter(|d| d.delta > 0 && mints.contains(&d.mint))
                    .enumerate()
                {
                    let sender = deltas.iter().find(|d| d.mint == gain.mint && d.delta < 0);
                    let (Some(token), Some(to)) = (address(&gain.mint), address(&gain.owner))
                    else {
                        continue;
                    };
                    logs.push(TransferLog {
                        token,
                        from: sender
                            .and_then(|s| address(&s.owner))
                            .unwrap_or(Address::Solana([0; 32])),
                        to,
                        amount_units: u128::try_from(gain.delta).unwrap_or(0),
                        tx_hash: tx_hash.clone(),
                        block_number: slot,
                        block_hash: block.blockhash.clone(),
                        log_index: nth as u64,
                    });
                }
            }
        }
        Ok(logs)
    }

    async fn observe_transfer(
        &self,
        tx: &str,
        token: &Address,
        to: &Address,
    ) -> Result<ObservedTransfer, ChainError> {
        let signature = self.signature(tx)?;
        let found = self
            .transaction(tx)
            .await?
            .ok_or_else(|| ChainError::TxNotFound(tx.to_owned()))?;
        let meta = found
            .transaction
            .meta
            .as_ref()
            .ok_or_else(|| ChainError::TxNotFound(tx.to_owned()))?;
        if meta.err.is_some() {
            return Err(ChainError::TxFailed(tx.to_owned()));
        }
        let no_match = || ChainError::NoMatchingTransfer {
            tx: tx.to_owned(),
            token: token.to_string(),
            to: to.to_string(),
        };
        let (amount_units, senders) =
            matching(&token_deltas(meta), token, to).ok_or_else(no_match)?;
        let from = senders.first().map(|p| p.from).ok_or_else(no_match)?;
        let block_hash = self.block_hash(found.slot).await?.unwrap_or_default();
        Ok(ObservedTransfer {
            tx_hash: signature.to_string(),
            from,
            senders,
            to: *to,
            token: *token,
            amount_units,
            block_number: found.slot,
            block_hash,
            log_index: 0,
            confirmations: self.depth(&signature, found.slot).await?,
            block_timestamp: found
                .block_time
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(0),
        })
    }

    async fn receipt(&self, tx: &str) -> Result<Option<Receipt>, ChainError> {
        let signature = self.signature(tx)?;
        let Some(found) = self.transaction(tx).await? else {
            return Ok(None);
        };
        let Some(meta) = found.transaction.meta.as_ref() else {
            return Ok(None);
        };
        Ok(Some(Receipt {
            success: meta.err.is_none(),
            block_number: found.slot,
            block_hash: self.block_hash(found.slot).await?.unwrap_or_default(),
            confirmations: self.depth(&signature, found.slot).await?,
            fee_units: u128::from(meta.fee),
        }))
    }

    /// A leg whose blockhash expired unseen is failed by the rail's own drive (it can never
    /// land), so a submitted leg is never "lost" here.
    async fn leg_lost(
        &self,
        _tx: &str,
        _from: &Address,
        _sequence: u64,
    ) -> Result<bool, ChainError> {
        Ok(false)
    }

    /// One signature's base fee, the priority fee on the leg's compute units, and the rent of
    /// the recipient's token account should the leg create it: one unit at that total.
    async fn fee_quote(&self, _from: &Address, action: &LegAction) -> Result<FeeQuote, ChainError> {
        let priority = u128::from(self.chain.priority_fee_micro_lamports)
            * u128::from(self.chain.compute_unit_limit)
            / 1_000_000;
        let rent = match action {
            LegAction::Transfer { asset: Some(_), .. } => TOKEN_ACCOUNT_RENT,
            _ => 0,
        };
        Ok(FeeQuote {
            units: 1,
            max_fee_per_unit: LAMPORTS_PER_SIGNATURE + priority + rent,
            fixed_fee: 0,
        })
    }

    async fn unit_price(&self) -> Result<u128, ChainError> {
        Ok(LAMPORTS_PER_SIGNATURE)
    }

    fn payment_reference(&self) -> Option<Address> {
        Some(crate::pay::fresh_reference())
    }

    async fn transactions_naming(&self, reference: &Address) -> Result<Vec<String>, ChainError> {
        crate::pay::transactions_naming(self, reference, None).await
    }

    async fn transactions_naming_after(
        &self,
        reference: &Address,
        after: Option<&str>,
    ) -> Result<Vec<String>, ChainError> {
        crate::pay::transactions_naming(self, reference, after).await
    }

    async fn payment_transaction(
        &self,
        payer: &Address,
        token: &Address,
        to: &Address,
        units: u128,
        reference: &Address,
    ) -> Result<String, ChainError> {
        crate::pay::payment_transaction(self, payer, token, to, units, reference).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solana_pay_amounts_are_plain_decimals_from_cores_writer() {
        let url = |units: i128| {
            let mut r = TransferRequest::new(
                Address::parse("11111111111111111111111111111111", ChainNamespace::Solana).unwrap(),
            );
            r.amount = Some(Decimal::from_i128_with_scale(units, 6));
            r.to_url().unwrap()
        };
        assert!(url(1_500_000).contains("amount=1.5"));
        assert!(url(2_000_000).contains("amount=2"));
        assert!(url(1).contains("amount=0.000001"));
    }
}
