//! The rail's side of replacing stuck legs (`crate::replace` has the fee ladder): signing a
//! leg's ladder when it is sent, and, when it is driven, finding which of its transactions
//! landed or sending the next replacement.

use rialto_connectors::rail::{ChainTransfer, LegRequest, RailError, Replacement};

use crate::rail::{signer_of, EvmRail};
use crate::sender::{self, SignedTx};
use crate::EvmError;

impl EvmRail<'_> {
    /// Signs and stores the leg's replacement ladder, unless the chain replaces nothing, the
    /// caller pinned the leg's hash, or it has its ladder already. A failure here leaves the
    /// leg as it was (sent again as it is, never replaced), so it is logged, not returned.
    pub(crate) async fn prepare_replacements(&self, leg: &ChainTransfer, request: &LegRequest) {
        let policy = &self.chain.replacement;
        if policy.after_ms.is_none() || request.fees.pinned || !leg.status.is_open() {
            return;
        }
        let result = async {
            if !self
                .journal
                .replacements(&leg.draft.leg_id)
                .await?
                .is_empty()
            {
                return Ok(());
            }
            let signer = signer_of(&request.from)?;
            let ladder = crate::replace::sign_ladder(
                &signer,
                &leg.raw_tx,
                request.fees.max_fee_per_unit,
                policy,
            )
            .map_err(|e| RailError::Key(Box::new(e)))?;
            self.journal
                .add_replacements(&leg.draft.leg_id, &ladder)
                .await?;
            Ok::<(), RailError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(leg = %leg.draft.leg_id, error = %err, "replacements not prepared; the leg will only be sent again as it is");
        }
    }

    /// The leg's replacements, where the chain replaces legs at all.
    pub(crate) async fn replacements_of(
        &self,
        leg: &ChainTransfer,
    ) -> Result<Vec<Replacement>, RailError> {
        if self.chain.replacement.after_ms.is_none() {
            return Ok(Vec::new());
        }
        Ok(self.journal.replacements(&leg.draft.leg_id).await?)
    }

    /// Which of the leg's transactions is mined, if any: the recorded one (`None`) or a sent
    /// replacement. They share one nonce, so at most one of them is.
    pub(crate) async fn landed<'r>(
        &self,
        leg: &ChainTransfer,
        replacements: &'r [Replacement],
    ) -> Result<Option<(Option<&'r Replacement>, sender::Mined)>, EvmError> {
        let rpc = self.chain.rpc_url();
        if let Some(m) = sender::mined(rpc, &leg.tx_hash).await? {
            return Ok(Some((None, m)));
        }
        for r in replacements.iter().filter(|r| r.sent_at_ms.is_some()) {
            if let Some(m) = sender::mined(rpc, &r.tx_hash).await? {
                return Ok(Some((Some(r), m)));
            }
        }
        Ok(None)
    }

    /// A leg none of whose transactions is mined: sends the next replacement when the latest
    /// sent one waited the policy's time, else sends the latest again (the same bytes, which
    /// the chain includes at most once). Failures are retried on the next drive.
    pub(crate) async fn resend_or_replace(
        &self,
        leg: &ChainTransfer,
        replacements: &[Replacement],
        now_ms: i64,
    ) {
        let leg_id = &leg.draft.leg_id;
        let latest = replacements.iter().rfind(|r| r.sent_at_ms.is_some());
        let waited_since = latest
            .and_then(|r| r.sent_at_ms)
            .unwrap_or(leg.updated_at_ms);
        let next = replacements
            .iter()
            .find(|r| r.seq == latest.map_or(1, |l| l.seq + 1));
        let due = self
            .chain
            .replacement
            .after_ms
            .is_some_and(|after| now_ms.saturating_sub(waited_since) >= after);
        if let (true, Some(next)) = (due, next) {
            let signed = SignedTx {
                raw: next.raw_tx.clone(),
                hash: next.tx_hash.clone(),
            };
            match sender::broadcast(self.chain.rpc_url(), &signed).await {
                Ok(()) => {
                    tracing::info!(leg = %leg_id, seq = next.seq, kind = next.kind.as_str(), tx = %next.tx_hash, "stuck leg replaced at its nonce");
                    if let Err(err) = self
                        .journal
                        .replacement_sent(leg_id, next.seq, now_ms)
                        .await
                    {
                        tracing::warn!(leg = %leg_id, error = %err, "replacement sent but not noted; it is sent again next time");
                    }
                    return;
                }
                Err(err) => {
                    tracing::warn!(leg = %leg_id, seq = next.seq, error = %err, "replacement refused; sending the latest again");
                }
            }
        }
        let result = match latest {
            Some(r) => {
                let signed = SignedTx {
                    raw: r.raw_tx.clone(),
                    hash: r.tx_hash.clone(),
                };
                sender::broadcast(self.chain.rpc_url(), &signed)
                    .await
                    .map_err(|e| RailError::Chain(Box::new(e)))
            }
            None => self.broadcast(leg, now_ms).await,
        };
        if let Err(err) = result {
            tracing::warn!(leg = %leg_id, error = %err, "re-broadcast failed; will retry");
        }
    }
}
