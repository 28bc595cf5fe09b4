//! The rails as the engine reaches them: the chain-agnostic [`Rail`] role of
//! `rialto-connectors` (each chain's node hands out its rail: `Chain::rail`), and
//! [`StoreJournal`], the engine's store as the rails' journal. The errors of the flows that
//! move money on chain ([`FlowError`]) live here too.

use async_trait::async_trait;
pub use rialto_connectors::chain::ChainError;
use rialto_connectors::rail::{
    ChainTransfer, JournalError, LegStatus, Mined, Replacement, SignFn, TransferDraft,
};
pub use rialto_connectors::rail::{
    FeeLimits, LegAction, LegRequest, PlannedLeg, Rail, RailError, RailJournal, SigningKey,
};

use crate::error::EngineError;
use crate::store::{Store, StoreError};

/// The engine's store as a rail's journal: legs are recorded in `chain_transfers`.
#[derive(Debug, Clone, Copy)]
pub struct StoreJournal<'a>(pub &'a dyn Store);

fn journal_error(err: StoreError) -> JournalError {
    JournalError(Box::new(err))
}

#[async_trait]
impl RailJournal for StoreJournal<'_> {
    async fn record(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, JournalError> {
        self.0
            .record_chain_transfer(draft, chain_nonce, sign)
            .await
            .map_err(journal_error)
    }

    async fn find(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, JournalError> {
        self.0
            .get_chain_transfer(purpose, reference)
            .await
            .map_err(journal_error)
    }

    async fn open(&self, chain_id: &str, limit: u32) -> Result<Vec<ChainTransfer>, JournalError> {
        self.0
            .open_chain_transfers(chain_id, limit)
            .await
            .map_err(journal_error)
    }

    async fn set_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.0
            .set_chain_transfer_status(leg_id, status, mined, failure, now_ms)
            .await
            .map_err(journal_error)
    }

    async fn add_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), JournalError> {
        self.0
            .add_chain_transfer_replacements(leg_id, replacements)
            .await
            .map_err(journal_error)
    }

    async fn replacements(&self, leg_id: &str) -> Result<Vec<Replacement>, JournalError> {
        self.0
            .chain_transfer_replacements(leg_id)
            .await
            .map_err(journal_error)
    }

    async fn replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.0
            .set_chain_transfer_replacement_sent(leg_id, seq, now_ms)
            .await
            .map_err(journal_error)
    }
}

/// Why a step that moves money on chain (settling, watching, sweeping, refunds, payouts)
/// could not finish. Every such step is retried by its worker.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("rail: {0}")]
    Rail(#[from] RailError),
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("screening the funds failed: {0}")]
    Screening(#[source] EngineError),
    #[error("deposit keys: {0}")]
    Keys(#[source] ChainError),
    #[error("ledger: {0}")]
    Ledger(String),
}
