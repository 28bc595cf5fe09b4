//! Rialto's Solana side: the [`rail::SolanaRail`] (the `connectors` rail role) over
//! `solana-client` 4.2, moving SPL Token and Token-2022 stablecoins, and the test support that
//! runs it against a local simnet.
//!
//! # Layout
//! - [`chain`]: [`chain::SolanaChain`], one cluster: CAIP-2 id, RPC endpoints with fail-over and
//!   timeouts, commitment, priority fee, hot wallet, served tokens.
//! - [`keys`]: signing keys as Solana keypairs, workspace addresses as public keys.
//! - [`token`]: the two token programs, mints, associated token accounts, the transfer and
//!   memo instructions.
//! - [`deposit`]: per-intent deposit wallets derived from the deposit phrase
//!   ([`deposit::SolanaDepositKeys`], the `DepositKeyring` role).
//! - [`tx`]: a leg's signed transaction as the journal records it.
//! - [`rail`]: the rail role, [`rail::SolanaRail`].
//! - [`node`]: [`node::SolanaNode`], the `ChainNode` role (slots, signatures, what a transaction
//!   paid, the payer's ed25519 proof, Solana Pay URIs).
//! - [`pay`]: Solana Pay detection: a payment found by its reference key and checked against
//!   the request (recipient, mint, exact amount, memo).
//! - [`balances`]: a transaction's token balance changes per mint and owner.
//! - [`devnet`]: the local simnet (the `rialto-solana-simnet` binary), a pausable RPC front for
//!   the rail conformance suite, and its harness. Test and devnet support only.
//! - [`error`]: its error type, [`SolanaError`].

pub mod balances;
pub mod chain;
pub mod deposit;
pub mod devnet;
pub mod error;
pub mod keys;
pub mod node;
pub mod pay;
pub mod rail;
pub mod token;
pub mod tx;

pub use error::SolanaError;

/// The Solana SDK types the rail's callers (the gateway's tests, tools) need, re-exported so
/// they pin no Solana crate of their own.
pub mod sdk {
    pub use solana_keypair::Keypair;
    pub use solana_pubkey::Pubkey;
    pub use solana_signer::Signer;
}
