//! Solana Pay detection: a transfer request carries a `reference` key the wallet adds to the
//! transfer instruction as a read-only account, so the gateway finds the payment with
//! `getSignaturesForAddress(reference)` and then checks it against the request before binding
//! it: recipient, mint and the exact amount from the chain's token balance changes (never from
//! the wallet), and the memo, which must be an SPL Memo instruction of the transaction with
//! exactly the requested text.

use rialto_connectors::chain::{ChainError, ChainNode, ObservedTransfer};
use rialto_core::address::Address;
use solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_commitment_config::CommitmentConfig;
use solana_signature::Signature;

use crate::keys::pubkey_of;
use crate::node::SolanaNode;
use crate::token::MEMO_PROGRAM;

/// What a transfer request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub recipient: Address,
    pub mint: Address,
    /// Exactly this many base units must reach the recipient.
    pub units: u128,
    pub memo: Option<String>,
}

/// Why a transaction found by reference does not pay the request.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    #[error("it moved {paid} base units, not the {asked} requested")]
    Amount { paid: u128, asked: u128 },
    #[error("its memo is not the requested one")]
    Memo,
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// The oldest successful transaction naming `reference`, if any (a reference is fresh per
/// request, so anything later is a second payment someone must look at, not this one).
pub async fn find_by_reference(
    node: &SolanaNode,
    reference: &Address,
) -> Result<Option<String>, ChainError> {
    Ok(transactions_naming(node, reference, None)
        .await?
        .into_iter()
        .next())
}

/// Signatures the node answers per `getSignaturesForAddress` call at most.
const SIGNATURES_PER_PAGE: usize = 1_000;
/// Pages read per lookup at most: anyone can name a reference in a transaction, so a key may
/// be flooded; past this the lookup fails (and is retried) rather than skip the oldest.
const MAX_PAGES: usize = 50;

/// Every successful transaction naming `reference` after `after` (a signature naming it, as
/// [`transactions_naming`] answered it earlier; everything when `None`), oldest first. The
/// node is asked only for what is newer (`until`), page after page (`before`), so a caller
/// that remembers the newest one it judged pays for new transactions only.
pub async fn transactions_naming(
    node: &SolanaNode,
    reference: &Address,
    after: Option<&str>,
) -> Result<Vec<String>, ChainError> {
    let key = pubkey_of(reference).map_err(|e| ChainError::Invalid(e.to_string()))?;
    let until = after
        .map(|text| {
            text.parse::<Signature>()
                .map_err(|_| ChainError::TxRef(text.to_owned()))
        })
        .transpose()?;
    let mut newest_first = Vec::new();
    let mut before = None;
    for _ in 0..MAX_PAGES {
        let config = GetConfirmedSignaturesForAddress2Config {
            before,
            until,
            limit: Some(SIGNATURES_PER_PAGE),
            commitment: Some(CommitmentConfig::confirmed()),
        };
        let page = node
            .chain
            .rpc()
            .get_signatures_for_address_with_config(&key, config)
            .await
            .map_err(|e| ChainError::Node(Box::new(crate::SolanaError::from(e))))?;
        let full = page.len() >= SIGNATURES_PER_PAGE;
        before = match page.last() {
            Some(oldest) => Some(
                oldest
                    .signature
                    .parse()
                    .map_err(|_| ChainError::TxRef(oldest.signature.clone()))?,
            ),
            None => None,
        };
        newest_first.extend(
            page.into_iter()
                .filter(|s| s.err.is_none())
                .map(|s| s.signature),
        );
        if !full {
            newest_first.reverse();
            return Ok(newest_first);
        }
    }
    Err(ChainError::Invalid(format!(
        "more than {} transactions name reference {reference}",
        MAX_PAGES * SIGNATURES_PER_PAGE
    )))
}

/// A fresh reference key: the public half of a new ed25519 keypair whose secret is dropped
/// (nobody needs to sign with it; it only has to be unique and unguessable).
pub fn fresh_reference() -> Address {
    crate::keys::keypair_address(&solana_keypair::Keypair::new())
}

/// The unsigned transaction of a Solana Pay transaction request: `payer` (the fee payer and
/// only signer) creates `to`'s token account if it is missing and sends exactly `units` of
/// `mint` with `transferChecked`, which names `reference` as a read-only account so the
/// watcher finds it. Base64 of the serialized transaction, signature slot empty.
pub async fn payment_transaction(
    node: &SolanaNode,
    payer: &Address,
    mint: &Address,
    to: &Address,
    units: u128,
    reference: &Address,
) -> Result<String, ChainError> {
    let invalid = |e: crate::SolanaError| ChainError::Invalid(e.to_string());
    let (payer, to) = (
        pubkey_of(payer).map_err(invalid)?,
        pubkey_of(to).map_err(invalid)?,
    );
    let (mint, reference) = (
        pubkey_of(mint).map_err(invalid)?,
        pubkey_of(reference).map_err(invalid)?,
    );
    let units = u64::try_from(units).map_err(|_| ChainError::Invalid("amount too large".into()))?;
    let rpc = node.chain.rpc();
    let commitment = node.chain.commitment.config();
    let info = crate::token::read_mint(rpc, &mint, commitment)
        .await
        .map_err(|e| ChainError::Node(Box::new(e)))?;
    let mut instructions =
        crate::token::transfer_instructions(&payer, &payer, &to, &info, units).map_err(invalid)?;
    if let Some(transfer) = instructions.last_mut() {
        transfer
            .accounts
            .push(solana_instruction::AccountMeta::new_readonly(
                reference, false,
            ));
    }
    let blockhash = rpc
        .get_latest_blockhash()
        .await
        .map_err(|e| ChainError::Node(Box::new(crate::SolanaError::from(e))))?;
    let message =
        solana_message::Message::new_with_blockhash(&instructions, Some(&payer), &blockhash);
    crate::tx::encode(&solana_transaction::Transaction::new_unsigned(message)).map_err(invalid)
}

/// Checks transaction `signature` pays `requested` (module docs): the observed transfer when it
/// does.
pub async fn validate(
    node: &SolanaNode,
    signature: &str,
    requested: &Requested,
) -> Result<ObservedTransfer, Mismatch> {
    let observed = node
        .observe_transfer(signature, &requested.mint, &requested.recipient)
        .await?;
    if observed.amount_units != requested.units {
        return Err(Mismatch::Amount {
            paid: observed.amount_units,
            asked: requested.units,
        });
    }
    if let Some(memo) = &requested.memo {
        if !memos(node, signature).await?.iter().any(|m| m == memo) {
            return Err(Mismatch::Memo);
        }
    }
    Ok(observed)
}

/// The texts of the transaction's SPL Memo instructions.
async fn memos(node: &SolanaNode, signature: &str) -> Result<Vec<String>, ChainError> {
    let found = node
        .transaction(signature)
        .await?
        .ok_or_else(|| ChainError::TxNotFound(signature.to_owned()))?;
    let Some(tx) = found.transaction.transaction.decode() else {
        return Ok(Vec::new());
    };
    let keys = tx.message.static_account_keys();
    Ok(tx
        .message
        .instructions()
        .iter()
        .filter(|ix| keys.get(usize::from(ix.program_id_index)) == Some(&MEMO_PROGRAM))
        .filter_map(|ix| String::from_utf8(ix.data.clone()).ok())
        .collect())
}
