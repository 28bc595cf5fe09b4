//! [`MemoryJournal`]: a [`RailJournal`] in memory, with the same guarantees as the gateway's
//! store (one leg per name, one sequence number per leg, at least the chain's count). For tests
//! and tools; it forgets everything when dropped.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    ChainTransfer, JournalError, LegStatus, Mined, RailJournal, Replacement, SignFn, TransferDraft,
};

#[derive(Debug, Default)]
struct Inner {
    /// Legs in the order they were recorded.
    legs: Vec<ChainTransfer>,
    /// Next sequence number per `(chain, from)`.
    next: BTreeMap<(String, String), u64>,
    /// Replacement ladders per leg id.
    replacements: BTreeMap<String, Vec<Replacement>>,
}

/// A journal in memory.
#[derive(Debug, Default)]
pub struct MemoryJournal(Mutex<Inner>);

impl MemoryJournal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every recorded leg, oldest first.
    pub fn legs(&self) -> Vec<ChainTransfer> {
        self.0.lock().map(|i| i.legs.clone()).unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, JournalError> {
        self.0
            .lock()
            .map_err(|_| JournalError("memory journal poisoned".into()))
    }
}

#[async_trait]
impl RailJournal for MemoryJournal {
    async fn record(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, JournalError> {
        let mut inner = self.lock()?;
        if let Some(found) = inner
            .legs
            .iter()
            .find(|l| l.draft.purpose == draft.purpose && l.draft.reference == draft.reference)
        {
            return Ok(found.clone());
        }
        let key = (draft.chain_id.clone(), draft.from.to_ascii_lowercase());
        let nonce = inner.next.get(&key).copied().unwrap_or(0).max(chain_nonce);
        let signed = sign(nonce).map_err(|e| JournalError(Box::new(e)))?;
        let leg = ChainTransfer {
            draft: draft.clone(),
            nonce,
            raw_tx: signed.raw_tx,
            tx_hash: signed.tx_hash,
            status: LegStatus::Pending,
            block_number: None,
            block_hash: None,
            failure: None,
            updated_at_ms: draft.created_at_ms,
            fee_units: None,
        };
        inner.next.insert(key, nonce + 1);
        inner.legs.push(leg.clone());
        Ok(leg)
    }

    async fn find(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, JournalError> {
        Ok(self
            .lock()?
            .legs
            .iter()
            .find(|l| l.draft.purpose == purpose && l.draft.reference == reference)
            .cloned())
    }

    async fn open(&self, chain_id: &str, limit: u32) -> Result<Vec<ChainTransfer>, JournalError> {
        Ok(self
            .lock()?
            .legs
            .iter()
            .filter(|l| l.draft.chain_id == chain_id && l.status.is_open())
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn set_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        let mut inner = self.lock()?;
        if let Some(leg) = inner
            .legs
            .iter_mut()
            .find(|l| l.draft.leg_id == leg_id && l.status.is_open())
        {
            leg.status = status;
            if let Some(m) = mined {
                leg.block_number = Some(m.block_number);
                leg.block_hash = Some(m.block_hash);
                leg.fee_units = m.fee_units.or(leg.fee_units);
                if let Some(landed) = m.replacement {
                    leg.tx_hash = landed;
                }
            }
            leg.failure = failure.map(str::to_owned);
            leg.updated_at_ms = now_ms;
        }
        let Inner {
            legs, replacements, ..
        } = &mut *inner;
        // A replacement that landed becomes the leg's transaction, raw bytes included.
        if let Some(leg) = legs.iter_mut().find(|l| l.draft.leg_id == leg_id) {
            if let Some(r) = replacements
                .get(leg_id)
                .and_then(|rs| rs.iter().find(|r| r.tx_hash == leg.tx_hash))
            {
                leg.raw_tx = r.raw_tx.clone();
            }
        }
        Ok(())
    }

    async fn add_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), JournalError> {
        self.lock()?
            .replacements
            .entry(leg_id.to_owned())
            .or_insert_with(|| replacements.to_vec());
        Ok(())
    }

    async fn replacements(&self, leg_id: &str) -> Result<Vec<Replacement>, JournalError> {
        Ok(self
            .lock()?
            .replacements
            .get(leg_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        if let Some(r) = self
            .lock()?
            .replacements
            .get_mut(leg_id)
            .and_then(|rs| rs.iter_mut().find(|r| r.seq == seq))
        {
            r.sent_at_ms.get_or_insert(now_ms);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rail::{SignError, SignedLeg};

    fn draft(reference: &str) -> TransferDraft {
        TransferDraft {
            leg_id: format!("leg_{reference}"),
            purpose: "payout".into(),
            reference: reference.into(),
            payment_intent_id: None,
            chain_id: "eip155:1".into(),
            from: "0xAbC".into(),
            to: "0xdef".into(),
            token: None,
            amount_units: None,
            created_at_ms: 1,
        }
    }

    fn signer(nonce: u64) -> Result<SignedLeg, SignError> {
        Ok(SignedLeg {
            raw_tx: format!("raw{nonce}"),
            tx_hash: format!("hash{nonce}"),
        })
    }

    #[tokio::test]
    async fn one_leg_per_name_and_one_nonce_per_leg_at_least_the_chains_count() {
        let journal = MemoryJournal::new();
        let a = journal.record(&draft("a"), 5, &signer).await.unwrap();
        let again = journal.record(&draft("a"), 9, &signer).await.unwrap();
        let b = journal.record(&draft("b"), 0, &signer).await.unwrap();
        assert_eq!((a.nonce, again.nonce, b.nonce), (5, 5, 6));
        assert_eq!(journal.legs().len(), 2);
        let refused = |_: u64| Err(SignError("no key".into()));
        assert!(journal.record(&draft("c"), 0, &refused).await.is_err());
        assert_eq!(
            journal.legs().len(),
            2,
            "a leg that could not be signed is not recorded"
        );
        journal
            .set_status(&a.draft.leg_id, LegStatus::Confirmed, None, None, 2)
            .await
            .unwrap();
        journal
            .set_status(&a.draft.leg_id, LegStatus::Failed, None, None, 3)
            .await
            .unwrap();
        let a = journal.find("payout", "a").await.unwrap().unwrap();
        assert_eq!(
            a.status,
            LegStatus::Confirmed,
            "a finished leg stays finished"
        );
        assert_eq!(journal.open("eip155:1", 10).await.unwrap().len(), 1);
    }
}
