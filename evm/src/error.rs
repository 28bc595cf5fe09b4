//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `rialto-evm`: starting anvil, loading artifacts, deploying,
/// talking JSON-RPC and judging a Chainlink answer.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error(
        "anvil not found at {path}: run tools/devnet/install.sh (it prints the binary path), \
         or point ANVIL_BIN at an anvil binary"
    )]
    AnvilNotFound { path: PathBuf },

    #[error("could not start anvil {path}: {source}")]
    AnvilSpawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("anvil for chain {chain_id} exited before answering ({status}); stderr: {stderr}")]
    AnvilExited {
        chain_id: u64,
        status: String,
        stderr: String,
    },

    #[error("anvil for chain {chain_id} did not answer on {rpc_url} within {secs}s")]
    AnvilTimeout {
        chain_id: u64,
        rpc_url: String,
        secs: u64,
    },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot parse {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("artifact {name}: {reason}")]
    Artifact { name: String, reason: String },

    #[error("sandbox file {path}: {reason}")]
    SandboxFile { path: PathBuf, reason: String },

    #[error(
        "{symbol} on {chain} landed at {actual}, but sandbox.json fixes it at {expected}: \
         the deployer's nonces are out of order or the chain was not fresh"
    )]
    AddressMismatch {
        chain: String,
        symbol: String,
        expected: String,
        actual: String,
    },

    #[error("chain {chain}: {reason}")]
    Devnet { chain: String, reason: String },

    #[error("json-rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),

    #[error("contract call: {0}")]
    Contract(#[from] alloy::contract::Error),

    #[error("{label}: transaction {tx} reverted")]
    Reverted { label: String, tx: String },

    #[error("{label}: no receipt for {tx} after {secs}s")]
    NoReceipt {
        label: String,
        tx: String,
        secs: u64,
    },

    #[error("invalid amount: {0}")]
    Amount(#[from] rialto_core::MoneyError),

    #[error("not an EVM address: {0}")]
    NotEvmAddress(String),

    #[error("feed {feed}: answer {answer} is not positive")]
    FeedAnswerNotPositive { feed: String, answer: String },

    #[error(
        "feed {feed}: round {round_id} is incomplete \
         (answered in round {answered_in_round}, updated at {updated_at})"
    )]
    FeedRoundIncomplete {
        feed: String,
        round_id: u128,
        answered_in_round: u128,
        updated_at: u64,
    },

    #[error("feed {feed}: answer is {age_secs}s old, over the {heartbeat_secs}s heartbeat")]
    FeedStale {
        feed: String,
        age_secs: u64,
        heartbeat_secs: u64,
    },

    #[error("feed {feed}: answer {answer} with {decimals} decimals does not fit a decimal price")]
    FeedAnswerOutOfRange {
        feed: String,
        answer: String,
        decimals: u8,
    },

    #[error("not a transaction hash (0x and 64 hex digits): {0:?}")]
    TxHash(String),

    #[error("transaction {0} is not mined (or unknown to this chain)")]
    TxNotFound(String),

    #[error("transaction {0} failed")]
    TxFailed(String),

    #[error("transaction {tx} moved no {token} to {recipient}")]
    NoMatchingTransfer {
        tx: String,
        token: String,
        recipient: String,
    },

    #[error("key: {0}")]
    Key(String),

    #[error("the call would revert: {0}")]
    WouldRevert(String),

    #[error("the node refused the transaction: {0}")]
    Broadcast(String),

    #[error("waiting for a shutdown signal: {0}")]
    Signal(std::io::Error),
}
