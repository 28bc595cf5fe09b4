//! How many items a batch may carry on its chain: at most the configured `max_batch`, and no
//! more than the chain's block can hold. A node refuses a transaction whose gas limit exceeds
//! the block gas limit, so a batch too large for its chain would be recorded, refused at every
//! broadcast and never mined, and its payments would wait for ever (found with `max_batch =
//! 250` on the devnet's 30M-gas blocks).

use std::sync::Mutex;

use rialto_engine::chain::rail::FlowError;
use rialto_evm::batch_relay::{items_within, GAS_PER_ITEM};

/// How long a chain's block gas limit is trusted before it is read again. Chains change it
/// rarely and slowly; a stale one only makes batches smaller than they could be, unless the
/// chain lowered it.
const REFRESH_MS: i64 = 10 * 60 * 1000;

/// The chain's block gas limit, as last read, and when.
#[derive(Debug, Default)]
pub struct BlockGas(Mutex<Option<(u64, i64)>>);

impl BlockGas {
    /// The most items one batch may carry now: `max_batch`, or fewer if the chain's block
    /// holds fewer. An error if the block gas limit cannot be read and none is known, or if
    /// not even one item fits (the items stay queued; the pass fails and says why).
    pub async fn cap(
        &self,
        rpc_url: &str,
        max_batch: usize,
        now_ms: i64,
    ) -> Result<usize, FlowError> {
        let limit = match self.known(now_ms) {
            Some(limit) => limit,
            None => match read_block_gas_limit(rpc_url).await {
                Ok(limit) => {
                    *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((limit, now_ms));
                    limit
                }
                // A read that failed: the last known limit, however old, beats none.
                Err(err) => self.last().ok_or(err)?,
            },
        };
        match items_within(GAS_PER_ITEM, limit).min(max_batch) {
            0 => Err(super::invalid(format!(
                "the chain's block gas limit ({limit}) cannot hold one batched authorization"
            ))),
            cap => Ok(cap),
        }
    }

    fn known(&self, now_ms: i64) -> Option<u64> {
        let seen = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.filter(|(_, at)| now_ms - at < REFRESH_MS)
            .map(|(limit, _)| limit)
    }

    fn last(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(limit, _)| limit)
    }
}

async fn read_block_gas_limit(rpc_url: &str) -> Result<u64, FlowError> {
    let chain_error = |e: rialto_evm::EvmError| FlowError::Chain(e.into());
    let provider = rialto_evm::provider::provider(rpc_url).map_err(chain_error)?;
    let block = alloy::providers::Provider::get_block_by_number(
        &provider,
        alloy::eips::BlockNumberOrTag::Latest,
    )
    .await
    .map_err(|e| chain_error(rialto_evm::EvmError::from(e)))?;
    block
        .map(|b| b.header.gas_limit)
        .ok_or_else(|| super::invalid("the chain answered no latest block".into()))
}
