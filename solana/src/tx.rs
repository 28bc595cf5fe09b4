//! A leg's transaction in the rail's record: a legacy transaction, signed by its one signer (or
//! by a fee payer and the owner of what it moves),
//! kept as base64 of its wire bytes (what `sendTransaction` takes), named by its signature.

use base64::Engine as _;
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::Message;
use solana_signer::Signer;
use solana_transaction::Transaction;

use crate::SolanaError;

/// `instructions`, paid and signed by `signer`, valid while `blockhash` is.
pub fn signed(signer: &Keypair, instructions: &[Instruction], blockhash: Hash) -> Transaction {
    let message = Message::new_with_blockhash(instructions, Some(&signer.pubkey()), &blockhash);
    Transaction::new(&[signer], message, blockhash)
}

/// `instructions`, paid by `fee_payer` (it signs first, so the transaction is named by its
/// signature) and signed by `owner` too, valid while `blockhash` is.
pub fn signed_sponsored(
    fee_payer: &Keypair,
    owner: &Keypair,
    instructions: &[Instruction],
    blockhash: Hash,
) -> Result<Transaction, SolanaError> {
    let message = Message::new_with_blockhash(instructions, Some(&fee_payer.pubkey()), &blockhash);
    let mut tx = Transaction::new_unsigned(message);
    // `try_sign` refuses (rather than panics on) a key the message does not name.
    tx.try_sign(&[fee_payer, owner], blockhash)
        .map_err(|e| SolanaError::Instruction(format!("signing: {e}")))?;
    Ok(tx)
}

/// The transaction's wire bytes in base64.
pub fn encode(tx: &Transaction) -> Result<String, SolanaError> {
    let bytes = bincode::serialize(tx).map_err(|e| SolanaError::Decode(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A recorded transaction back from [`encode`]'s text.
pub fn decode(raw: &str) -> Result<Transaction, SolanaError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|e| SolanaError::Decode(e.to_string()))?;
    bincode::deserialize(&bytes).map_err(|e| SolanaError::Decode(e.to_string()))
}

/// The transaction's reference: its first signature, base58.
pub fn reference(tx: &Transaction) -> String {
    tx.signatures
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_transaction_decodes_to_the_same_signature() {
        let signer = Keypair::new_from_array([9; 32]);
        let ix = crate::token::memo("rialto leg test", &signer.pubkey());
        let tx = signed(&signer, &[ix], Hash::new_from_array([1; 32]));
        let raw = encode(&tx).unwrap();
        let back = decode(&raw).unwrap();
        assert_eq!(reference(&back), reference(&tx));
        assert_eq!(back.message.recent_blockhash, Hash::new_from_array([1; 32]));
        assert!(decode("not base64 at all!").is_err());
    }
}
