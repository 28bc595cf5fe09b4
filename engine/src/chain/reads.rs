//! What one worker pass reads of a chain, read once per transaction.
//!
//! A batch relay pays up to a few hundred intents in one transaction: each of its payment
//! transactions names the same hash, and without this every one of them would read the same
//! receipt (and its hundreds of logs) twice. A [`PassReads`] lives for one pass of the chain
//! worker and is dropped at its end, so nothing read here outlives the pass: the next pass
//! reads the chain again (a reorg between passes is seen as before). Concurrent readers of
//! one key wait for the first read rather than sending their own. A failed read is not kept:
//! the next reader tries again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use rialto_connectors::chain::{ChainError, ChainNode, ObservedTransfer, Receipt};
use rialto_core::address::Address;
use tokio::sync::OnceCell;

/// What a transaction paid an address in a token, as the chain answered in this pass.
#[derive(Debug, Clone)]
pub(super) enum Observed {
    Paid(Box<ObservedTransfer>),
    /// Failed, or no transfer of the token to the address (`TxFailed`, `NoMatchingTransfer`).
    Gone,
}

/// One pass's reads of a chain (through its node). Shared by the pass's tasks.
pub(super) struct PassReads {
    node: Arc<dyn ChainNode>,
    receipts: Memo<String, Option<Receipt>>,
    observed: Memo<(String, String, String), Observed>,
}

impl PassReads {
    pub(super) fn new(node: Arc<dyn ChainNode>) -> Self {
        Self {
            node,
            receipts: Memo::default(),
            observed: Memo::default(),
        }
    }

    /// The receipt of `tx`, if it is mined.
    pub(super) async fn receipt(&self, tx: &str) -> Result<Option<Receipt>, ChainError> {
        self.receipts
            .get_or_read(tx.to_owned(), || self.node.receipt(tx))
            .await
    }

    /// What `tx` paid `to` in `token`.
    pub(super) async fn observe(
        &self,
        tx: &str,
        token: &Address,
        to: &Address,
    ) -> Result<Observed, ChainError> {
        let key = (tx.to_owned(), token.to_string(), to.to_string());
        self.observed
            .get_or_read(key, || async {
                match self.node.observe_transfer(tx, token, to).await {
                    Ok(observed) => Ok(Observed::Paid(Box::new(observed))),
                    Err(ChainError::NoMatchingTransfer { .. } | ChainError::TxFailed(_)) => {
                        Ok(Observed::Gone)
                    }
                    Err(other) => Err(other),
                }
            })
            .await
    }
}

/// Values read at most once per key (single flight); failures are not kept.
struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    async fn get_or_read<F, Fut, E>(&self, key: K, read: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            cells.entry(key).or_default().clone()
        };
        cell.get_or_try_init(read).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_read_per_key_and_failures_are_read_again() {
        let memo: Memo<&str, u32> = Memo::default();
        let reads = AtomicUsize::new(0);
        let read = |v: Result<u32, &'static str>| {
            reads.fetch_add(1, Ordering::SeqCst);
            async move { v }
        };
        assert_eq!(
            memo.get_or_read("a", || read(Err("down"))).await,
            Err("down")
        );
        assert_eq!(memo.get_or_read("a", || read(Ok(7))).await, Ok(7));
        assert_eq!(memo.get_or_read("a", || read(Ok(8))).await, Ok(7));
        assert_eq!(memo.get_or_read("b", || read(Ok(9))).await, Ok(9));
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }
}
