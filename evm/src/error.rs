//! The crate's one error type.

use std::path::PathBuf;

use alloy::primitives::{B256, U256};
use rialto_core::Address;

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

    /// Shown with its innermost cause: reqwest's own message only says "error sending
    /// request", while the cause says what went wrong (a refused connection, a certificate
    /// from an untrusted issuer or for another host name).
    #[error("json-rpc: {0}{cause}", cause = root_cause(.0))]
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

    #[error(
        "token {token}: DOMAIN_SEPARATOR() is {onchain}, but its {domain} gives {computed}; \
         refusing to sign or verify against a guessed domain"
    )]
    DomainMismatch {
        token: String,
        /// Name, version and chain id as read, in words.
        domain: String,
        onchain: B256,
        computed: B256,
    },

    #[error("invalid signature: {0}")]
    InvalidSignature(&'static str),

    /// A batch relay's receipt that does not describe the batch sent (an event for an item it
    /// does not have, or naming another authorization): no item is decided from it.
    #[error("batch relay receipt: {0}")]
    Batch(String),

    #[error("signing failed: {0}")]
    Signing(String),

    /// Never carries the phrase or any word of it: the reason is one of a few fixed texts.
    #[error("the deposit mnemonic is not a valid BIP-39 English phrase: {0}")]
    InvalidMnemonic(&'static str),

    #[error(
        "deposit index {0} is in BIP-32's hardened range (>= 2^31); deposit addresses use \
         non-hardened indexes only"
    )]
    DepositIndexOutOfRange(u32),

    #[error("deposit key derivation failed at index {index}")]
    DepositDerivation { index: u32 },

    #[error("sequencer uptime feed {feed}: the sequencer is down (since {since})")]
    SequencerDown { feed: String, since: u64 },

    #[error(
        "sequencer uptime feed {feed}: the sequencer came back {elapsed_secs}s ago, inside the \
         {grace_secs}s grace period"
    )]
    SequencerGracePeriod {
        feed: String,
        elapsed_secs: u64,
        grace_secs: u64,
    },

    #[error("sequencer uptime feed {feed}: invalid round ({reason})")]
    SequencerRoundInvalid { feed: String, reason: String },

    #[error("feed {feed}: decimals() is {actual}, but the feed registry says {expected}")]
    FeedDecimalsMismatch {
        feed: String,
        expected: u8,
        actual: u8,
    },

    #[error("no {pair} price feed is known on chain {chain_id}")]
    UnknownPriceFeed { chain_id: u64, pair: String },

    #[error("no RPC URL is configured for chain {chain_id}")]
    NoRpcForChain { chain_id: u64 },

    #[error("RPC endpoint {url:?} cannot be used: {reason}")]
    Endpoint { url: String, reason: String },

    #[error("RPC URL {url:?} for chain {chain_id} is not a URL: {reason}")]
    InvalidRpcUrl {
        chain_id: u64,
        url: String,
        reason: String,
    },

    #[error("feed registry: {0}")]
    FeedRegistry(String),
}

/// Why an EIP-3009 authorization is not accepted. One variant per reason, so the gateway can
/// map each to its own stable API error code; only [`AuthorizationError::Chain`] says nothing
/// about the authorization itself (the node could not be asked) and is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    #[error("the signature is malformed: {0}")]
    BadSignature(&'static str),

    #[error("the authorization is signed by {signer}, not by its payer {from}")]
    SignerMismatch { signer: Address, from: Address },

    #[error("the authorization pays {actual}, not {expected}")]
    WrongRecipient { expected: Address, actual: Address },

    #[error("the authorization moves {actual} base units, less than the {minimum} due")]
    WrongAmount { minimum: U256, actual: U256 },

    #[error("the authorization is only valid after {valid_after} (now {now})")]
    NotYetValid { valid_after: u64, now: u64 },

    #[error("the authorization expired at {valid_before} (now {now})")]
    Expired { valid_before: u64, now: u64 },

    #[error("the authorization is signed for chain {actual}, not chain {expected}")]
    WrongChain { expected: u64, actual: u64 },

    #[error("the authorization is signed for token {actual}, not {expected}")]
    WrongToken { expected: Address, actual: Address },

    #[error("the authorization's nonce {actual} is not this payment intent's nonce {expected}")]
    WrongNonce { expected: B256, actual: B256 },

    #[error(
        "a receiveWithAuthorization can only be submitted by its payee {to}, not by relayer \
         {relayer}"
    )]
    ReceiveNeedsPayee { to: Address, relayer: Address },

    #[error("nonce {nonce} of {from} is already used or canceled on chain")]
    NonceUsed { from: Address, nonce: B256 },

    #[error("{from} holds {balance} base units, less than the {value} authorized")]
    InsufficientBalance {
        from: Address,
        balance: U256,
        value: U256,
    },

    #[error("the token would revert the authorization: {0}")]
    WouldRevert(String),

    #[error("could not check the authorization on chain: {0}")]
    Chain(#[source] Box<EvmError>),
}

impl AuthorizationError {
    /// Only a failed read says nothing about the authorization; every other variant is a
    /// verdict that the same input will get again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AuthorizationError::Chain(_))
    }
}

impl From<EvmError> for AuthorizationError {
    fn from(e: EvmError) -> Self {
        AuthorizationError::Chain(Box::new(e))
    }
}

/// `": <innermost cause>"` of `error`, or nothing when it has no source.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error.source();
    let mut last = None;
    while let Some(inner) = cause {
        last = Some(inner);
        cause = inner.source();
    }
    last.map(|inner| format!(": {inner}")).unwrap_or_default()
}
