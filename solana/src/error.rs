//! [`SolanaError`]: what can go wrong talking to a Solana node or building a transaction.

use solana_client::client_error::ClientError;

/// Why a Solana call failed.
#[derive(Debug, thiserror::Error)]
pub enum SolanaError {
    /// The node failed, timed out or could not be reached; safe to retry.
    #[error("solana rpc: {0}")]
    Rpc(#[from] Box<ClientError>),
    /// The node would refuse the transaction (its simulation failed): nothing was sent.
    #[error("the transaction would fail: {0}")]
    Simulation(String),
    /// A mint the rail cannot move: missing, or owned by neither token program.
    #[error("{0} is not a token mint of SPL Token or Token-2022")]
    NotAMint(String),
    /// An amount beyond what SPL tokens carry (u64 base units).
    #[error("amount {0} is beyond what a Solana token transfer carries")]
    Amount(u128),
    /// A signing key that is not a Solana keypair.
    #[error("not a Solana keypair: expected base58 of 64 bytes or a JSON array of 64 numbers")]
    Key,
    /// A leg action this rail does not perform.
    #[error("unsupported on Solana: {0}")]
    Unsupported(&'static str),
    /// A recorded transaction that does not decode.
    #[error("recorded transaction does not decode: {0}")]
    Decode(String),
    /// Building an instruction failed.
    #[error("instruction: {0}")]
    Instruction(String),
}

impl From<ClientError> for SolanaError {
    fn from(err: ClientError) -> Self {
        SolanaError::Rpc(Box::new(err))
    }
}
