//! What the chain side persists: payment transactions with their confirmation state, the
//! gateway's own outgoing transactions (the rails' journal: recorded, signed and given a nonce
//! before they are sent), deposit addresses and the watcher's scan cursor.

use std::collections::HashMap;

use async_trait::async_trait;
use rialto_connectors::chain::ChainError;
use rialto_core::address::Address;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};

use super::{CasOutcome, IntentChange, PaymentTransaction, StoreError};

/// The legs a rail records (its journal's types, from `rialto-connectors`).
pub use rialto_connectors::rail::{
    ChainTransfer, LegStatus, Mined, Replacement, ReplacementKind, SignFn, SignedLeg, TransferDraft,
};

/// A per-intent deposit address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositAddress {
    pub payment_intent_id: PaymentIntentId,
    pub chain_id: String,
    pub derivation_index: u32,
    pub address: String,
    pub created_at_ms: i64,
}

pub use super::{PaymentSource, PaymentTxStatus};

#[async_trait]
pub trait ChainStore: Send + Sync + 'static {
    /// Returns the leg stored under `(draft.purpose, draft.reference)` if there is one; else
    /// allocates the next nonce of `draft.from` on `draft.chain_id` (at least `chain_nonce`, the
    /// node's pending count), calls `sign` with it and stores the signed leg as `pending`, all
    /// in one transaction. Never signs twice for one leg; never hands one nonce to two legs.
    async fn record_chain_transfer(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, StoreError>;

    async fn get_chain_transfer(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, StoreError>;

    /// The legs stored under `reference` for any of `purposes` (each at most once), in the
    /// order of `purposes`: what [`Self::get_chain_transfer`] answers for each, in one read.
    async fn get_chain_transfers(
        &self,
        purposes: &[&str],
        reference: &str,
    ) -> Result<Vec<ChainTransfer>, StoreError> {
        let mut legs = Vec::new();
        for purpose in purposes {
            legs.extend(self.get_chain_transfer(purpose, reference).await?);
        }
        Ok(legs)
    }

    /// The gateway's own leg whose transaction is `tx_hash` on `chain_id`, if any: its recorded
    /// transaction or any of its replacements.
    async fn chain_transfer_by_hash(
        &self,
        chain_id: &str,
        tx_hash: &str,
    ) -> Result<Option<ChainTransfer>, StoreError>;

    /// Legs of `chain_id` still `pending` or `submitted`, oldest first.
    async fn open_chain_transfers(
        &self,
        chain_id: &str,
        limit: u32,
    ) -> Result<Vec<ChainTransfer>, StoreError>;

    /// Moves a leg forward; a leg that is already `confirmed` or `failed` is left as it is. A
    /// `mined` naming a replacement makes it the leg's transaction (hash and raw bytes).
    async fn set_chain_transfer_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Stores the replacement ladder of a leg, once (a leg that has one keeps it).
    async fn add_chain_transfer_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), StoreError>;

    /// A leg's replacements, by `seq`.
    async fn chain_transfer_replacements(
        &self,
        leg_id: &str,
    ) -> Result<Vec<Replacement>, StoreError>;

    /// Notes when replacement `seq` of a leg was first broadcast.
    async fn set_chain_transfer_replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Payment transactions of `chain_id` in `status`, oldest first.
    async fn payment_transactions_in(
        &self,
        chain_id: &str,
        status: PaymentTxStatus,
        limit: u32,
    ) -> Result<Vec<PaymentTransaction>, StoreError>;

    /// The payment transactions bound to an intent.
    async fn payment_transactions_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<PaymentTransaction>, StoreError>;

    /// [`Self::payment_transactions_of`] for each of `intents`, in one read where the store
    /// can: every intent is a key, with no transactions if it has none.
    async fn payment_transactions_of_intents(
        &self,
        intents: &[PaymentIntentId],
    ) -> Result<HashMap<PaymentIntentId, Vec<PaymentTransaction>>, StoreError> {
        let mut of = HashMap::with_capacity(intents.len());
        for intent in intents {
            of.insert(*intent, self.payment_transactions_of(intent).await?);
        }
        Ok(of)
    }

    /// Updates a payment transaction's status, amount, block and payer, compare-and-set on its stored
    /// status being `expected`, and, when given, applies the intent change in the same
    /// transaction. `Conflict`, nothing written, if either moved meanwhile.
    async fn set_payment_transaction(
        &self,
        tx: &PaymentTransaction,
        expected: PaymentTxStatus,
        intent: Option<&IntentChange>,
        now_ms: i64,
    ) -> Result<CasOutcome, StoreError>;

    /// The intent's deposit address, creating it (next free derivation index, address from
    /// `derive`) on first call. Idempotent per intent.
    async fn deposit_address(
        &self,
        intent: &PaymentIntentId,
        chain_id: &str,
        derive: &(dyn Fn(u32) -> Result<Address, ChainError> + Send + Sync),
        now_ms: i64,
    ) -> Result<DepositAddress, StoreError>;

    /// Deposit addresses on `chain_id` whose intent still awaits funds, or expired at or after
    /// `late_since_ms` (late funds are still attributed, then accepted or refunded).
    async fn watched_deposit_addresses(
        &self,
        chain_id: &str,
        late_since_ms: i64,
    ) -> Result<Vec<DepositAddress>, StoreError>;

    /// The deposit address of an intent, if it has one.
    async fn get_deposit_address(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<DepositAddress>, StoreError>;

    async fn chain_cursor(&self, chain_id: &str) -> Result<Option<(u64, String)>, StoreError>;

    async fn set_chain_cursor(
        &self,
        chain_id: &str,
        block_number: u64,
        block_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Intents in `status` of one mode (any merchant) with a confirmed payment transaction on
    /// `chain_id`, least recently changed first: what the rail's workers settle and re-check.
    /// Filtered here, not by the caller, so intents funded some other way (a sandbox helper,
    /// another chain) can never crowd the page.
    async fn chain_funded_intents(
        &self,
        chain_id: &str,
        livemode: bool,
        status: PaymentStatus,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError>;

    /// Intents awaiting funds in one mode that settle on `chain_id`, carry a payment
    /// reference and have no payment transaction bound yet, oldest first (then by id), after
    /// `after` (the last one of the previous page): what the reference watcher looks for on
    /// chain, page by page.
    async fn reference_intents(
        &self,
        chain_id: &str,
        livemode: bool,
        after: Option<&PaymentIntent>,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError>;
}
