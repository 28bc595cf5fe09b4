//! Proof of Reserve state: one row per (mode, chain, asset) with the guard's last verdict, so
//! every gateway instance halts and lifts an asset together (`crate::reserves`).

use async_trait::async_trait;
use rialto_core::id::MerchantId;

use super::{CasOutcome, Event, StoreError};
use crate::reserves::{ReserveState, ReserveStatus};

#[async_trait]
pub trait ReserveStore: Send + Sync + 'static {
    /// Every stored reserve state, any mode.
    async fn reserve_states(&self) -> Result<Vec<ReserveState>, StoreError>;

    /// Writes `state` if the stored row's status is still `expected` (`None`: no row yet),
    /// with `events` in the same transaction; `Conflict` (nothing written) when another
    /// instance moved it first. A reading that keeps the status passes `expected =
    /// Some(state.status)` and no events.
    async fn save_reserve_state(
        &self,
        expected: Option<ReserveStatus>,
        state: &ReserveState,
        events: &[Event],
    ) -> Result<CasOutcome, StoreError>;

    /// Every merchant's id: a halt or a lift is announced to each of them.
    async fn merchant_ids(&self) -> Result<Vec<MerchantId>, StoreError>;
}
