//! The rail role: moving money on one chain, whatever the chain.
//!
//! A rail sends *legs*. A leg is named by `(purpose, reference)`; asking for the same leg again
//! returns the first one, never a second transaction. Before anything reaches the chain the
//! rail records the leg, signed, in its [`RailJournal`] (the caller's store: the rail knows
//! nothing of it beyond this port), with the sequence number (an EVM nonce) the journal
//! allocated. A crash after that commit leaves a recorded leg that [`Rail::drive`] broadcasts
//! again: the same bytes, which the chain can include at most once. `drive` also follows every
//! open leg to `confirmed` (at the chain's confirmations) or `failed`.
//!
//! Everything here speaks in CAIP ids, base units, leg names and transaction references (an
//! EVM hash, a Solana signature); nothing is specific to one chain family. The generic
//! [`conformance`] suite states the contract and runs against every implementation.
//!
//! # Layout
//! - this module: [`Rail`], [`RailJournal`] and the types they exchange.
//! - [`memory`]: [`MemoryJournal`], a journal in memory (tests, tools).
//! - [`conformance`]: the rail conformance suite, generic over a [`conformance::RailHarness`].

pub mod conformance;
pub mod memory;

use async_trait::async_trait;
use rialto_core::address::Address;
use rialto_core::id::PaymentIntentId;
use secrecy::SecretString;

pub use memory::MemoryJournal;

/// Where a leg stands (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegStatus {
    /// Signed and recorded; the node may or may not have it yet.
    Pending,
    /// The node accepted it.
    Submitted,
    /// Included and successful, with the required confirmations.
    Confirmed,
    /// Included and failed (reverted).
    Failed,
}

impl LegStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LegStatus::Pending => "pending",
            LegStatus::Submitted => "submitted",
            LegStatus::Confirmed => "confirmed",
            LegStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            LegStatus::Pending,
            LegStatus::Submitted,
            LegStatus::Confirmed,
            LegStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_open(self) -> bool {
        matches!(self, LegStatus::Pending | LegStatus::Submitted)
    }
}

/// A leg to record, before it has a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferDraft {
    pub leg_id: String,
    /// `eip3009_relay`, `sweep_gas`, `sweep`, `payout`, …
    pub purpose: String,
    /// With `purpose`, names the leg uniquely: asking twice returns the first leg.
    pub reference: String,
    pub payment_intent_id: Option<PaymentIntentId>,
    /// CAIP-2.
    pub chain_id: String,
    pub from: String,
    /// Where the transaction goes (a token contract for EVM token transfers).
    pub to: String,
    /// The token moved and its amount in base units, where the leg moves one.
    pub token: Option<String>,
    pub amount_units: Option<String>,
    pub created_at_ms: i64,
}

/// A signed transaction, as the signing callback returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLeg {
    /// The chain's own encoding of the signed transaction (EVM: `0x` EIP-2718 hex).
    pub raw_tx: String,
    /// The transaction's reference on the chain (EVM: hash; Solana: signature).
    pub tx_hash: String,
}

/// A recorded leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTransfer {
    pub draft: TransferDraft,
    /// The sequence number the journal allocated (EVM: the nonce).
    pub nonce: u64,
    pub raw_tx: String,
    pub tx_hash: String,
    pub status: LegStatus,
    pub block_number: Option<i64>,
    pub block_hash: Option<String>,
    pub failure: Option<String>,
    pub updated_at_ms: i64,
    /// What the sender paid the network once included, in the native coin's base units (wei,
    /// lamports): the ledger's `network_fee`.
    pub fee_units: Option<u128>,
}

/// Signing a leg failed (a key that cannot sign this transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// Signs the draft at the sequence number the journal allocated. Must be pure and fast: it runs
/// inside the journal's transaction that reserves the number.
pub type SignFn<'a> = &'a (dyn Fn(u64) -> Result<SignedLeg, SignError> + Send + Sync);

/// Where an included leg landed and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    pub block_number: i64,
    pub block_hash: String,
    /// Native base units paid for it, where known.
    pub fee_units: Option<u128>,
    /// The transaction that landed when it is one of the leg's [`Replacement`]s rather than
    /// the one first recorded: the journal makes it the leg's `tx_hash` and `raw_tx`.
    pub replacement: Option<String>,
}

/// What a pre-signed replacement of a leg's transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacementKind {
    /// The same call at higher fees (EVM: same nonce, both fee caps bumped).
    SpeedUp,
    /// Nothing at all: a zero-value transfer to the sender itself that uses up the sequence
    /// number, so the leg's call can never land afterwards.
    Cancel,
}

impl ReplacementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplacementKind::SpeedUp => "speed_up",
            ReplacementKind::Cancel => "cancel",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ReplacementKind::SpeedUp, ReplacementKind::Cancel]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A transaction that replaces a leg's recorded one at the same sequence number. The rail
/// signs a leg's whole ladder of replacements right after recording it (it holds the key
/// then, not later), so every transaction that can ever land for the leg is in the journal,
/// and whichever lands is recognised as the leg's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// 1 for the first replacement, then 2, …: each one outbids the one before.
    pub seq: u32,
    pub kind: ReplacementKind,
    pub raw_tx: String,
    pub tx_hash: String,
    /// When it was first broadcast; `None` while it is held back.
    pub sent_at_ms: Option<i64>,
}

/// The journal failed; its own error is the source.
#[derive(Debug, thiserror::Error)]
#[error("journal: {0}")]
pub struct JournalError(#[source] pub Box<dyn std::error::Error + Send + Sync + 'static>);

/// Where a rail records its legs before sending them: the caller's store, seen through this
/// port only.
#[async_trait]
pub trait RailJournal: Send + Sync {
    /// Returns the leg recorded under `(draft.purpose, draft.reference)` if there is one; else
    /// allocates the next sequence number of `draft.from` on `draft.chain_id` (at least
    /// `chain_nonce`, what the chain counts), calls `sign` with it and records the signed leg
    /// as `pending`, atomically. Never signs twice for one leg; never hands one sequence number
    /// to two legs.
    async fn record(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, JournalError>;

    /// The leg recorded under `(purpose, reference)`, if any.
    async fn find(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, JournalError>;

    /// Legs of `chain_id` still `pending` or `submitted`, oldest first.
    async fn open(&self, chain_id: &str, limit: u32) -> Result<Vec<ChainTransfer>, JournalError>;

    /// Stores the replacement ladder of an open leg, once: a leg that already has replacements
    /// keeps them (a second rail instance signing its own ladder changes nothing).
    async fn add_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), JournalError>;

    /// The leg's replacements, by `seq`.
    async fn replacements(&self, leg_id: &str) -> Result<Vec<Replacement>, JournalError>;

    /// Notes when replacement `seq` was first broadcast (a later call keeps the first time).
    async fn replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), JournalError>;

    /// Moves a leg forward; a leg already `confirmed` or `failed` is left as it is. A `mined`
    /// naming a replacement makes that replacement the leg's transaction.
    async fn set_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), JournalError>;
}

impl std::fmt::Debug for dyn RailJournal + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RailJournal")
    }
}

/// The key a leg is signed with, in the chain's own private-key text (EVM: `0x` and 64 hex
/// digits). Never shown: its `Debug` says only that it is a key.
#[derive(Clone)]
pub struct SigningKey(pub SecretString);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl From<SecretString> for SigningKey {
    fn from(secret: SecretString) -> Self {
        SigningKey(secret)
    }
}

/// What a leg does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegAction {
    /// Moves `amount` base units of `asset` (a token contract or mint; `None`: the native coin)
    /// to `to`.
    Transfer {
        asset: Option<Address>,
        to: Address,
        amount: u128,
    },
    /// Calls a contract or program at `to` with the chain's own encoding of the call, sending
    /// `value` base units of the native coin; `moves` names the token and base units the call
    /// moves, for reconciliation.
    Call {
        to: Address,
        value: u128,
        data: Vec<u8>,
        moves: Option<(Address, u128)>,
    },
}

/// Limits on what a leg may pay the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeeLimits {
    /// Never pay more than this per unit of work (EVM: wei per gas): a sweep can only spend
    /// what it was given.
    pub max_fee_per_unit: Option<u128>,
    /// Work units on top of the estimate and its margin, for calls whose cost depends on the
    /// block they land in. Unused units are not paid for.
    pub extra_units: u64,
    /// The caller binds the leg's first transaction reference elsewhere (a relay's payment
    /// transaction is watched by its hash): the rail never replaces it, only sends it again.
    pub pinned: bool,
    /// Work units the caller has computed itself (EVM: the gas limit), sent as they are with no
    /// estimate: for calls whose cost is bounded by construction (a batch of `n` items with a
    /// fixed allowance each), where an estimate would execute the whole call several times.
    /// Without the estimate nothing checks before the nonce is spent that the call succeeds,
    /// so only a call that cannot revert for its inputs may use it.
    pub fixed_units: Option<u64>,
}

/// A leg's action with the fee limits it needs, as a connector prepares it (a DEX call, a
/// route's token transfer); the caller names it and picks who signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLeg {
    pub action: LegAction,
    pub fees: FeeLimits,
}

/// A leg to send.
#[derive(Debug, Clone)]
pub struct LegRequest {
    pub purpose: &'static str,
    pub reference: String,
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Who signs and pays for it.
    pub from: SigningKey,
    pub action: LegAction,
    pub fees: FeeLimits,
}

/// A token's symbol and decimals as its contract or mint reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMetadata {
    pub symbol: String,
    pub decimals: u8,
}

/// Why a rail call failed.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// The chain or its node failed, or refused the leg before it was recorded (a call that
    /// would fail). Nothing was recorded by this call; safe to retry.
    #[error("chain: {0}")]
    Chain(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The signing key is not a key of this chain.
    #[error("signing key: {0}")]
    Key(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An address of another chain family.
    #[error("{0} is not an address of this chain")]
    ForeignAddress(String),
    /// Something this chain's rail cannot do (a sponsored leg on EVM). Nothing was recorded.
    #[error("not supported on this chain: {0}")]
    Unsupported(&'static str),
}

/// A chain the gateway moves money on. Every method is safe to call again after a crash or a
/// timeout: `send` is idempotent per leg, `drive` only advances recorded legs.
#[async_trait]
pub trait Rail: Send + Sync {
    /// The chain, CAIP-2.
    fn chain_id(&self) -> &str;

    /// The address `key` signs as on this chain.
    fn address_of(&self, key: &SigningKey) -> Result<Address, RailError>;

    /// Records (signed, before sending) and broadcasts the leg, or returns the recorded one
    /// (broadcast or not: `drive` sends what the node does not have).
    async fn send(&self, request: &LegRequest, now_ms: i64) -> Result<ChainTransfer, RailError>;

    /// [`Rail::send`], with `fee_payer` paying the network (the fee, and the rent of an
    /// account the leg creates) while `request.from` only signs for what it moves: a deposit
    /// address holding tokens and no native coin can then be swept without first being sent
    /// gas. The same guarantees as `send` (recorded before broadcast, idempotent per
    /// `(purpose, reference)`); the recorded leg's `fee_units` is what the fee payer spent.
    /// Chains whose transactions have one payer (EVM) answer [`RailError::Unsupported`].
    async fn send_sponsored(
        &self,
        _request: &LegRequest,
        _fee_payer: &SigningKey,
        _now_ms: i64,
    ) -> Result<ChainTransfer, RailError> {
        Err(RailError::Unsupported(
            "a leg whose network fee another key pays",
        ))
    }

    /// The token's symbol and decimals.
    async fn token_metadata(&self, token: &Address) -> Result<TokenMetadata, RailError>;

    /// `owner`'s balance in base units: of `token`, or of the native coin for `None`.
    async fn balance(&self, token: Option<&Address>, owner: &Address) -> Result<u128, RailError>;

    /// Broadcasts recorded legs the node does not have and moves included ones to `confirmed`
    /// (at the chain's confirmations) or `failed`. Returns how many legs changed status.
    async fn drive(&self, now_ms: i64) -> Result<usize, RailError>;
}
