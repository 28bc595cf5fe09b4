//! A pass's items on the runtime's threads. A pass works on many intents at once, and most of
//! an intent's step is CPU (screening, the events' JSON, rows to encode and decode) between
//! its reads. Polled as futures of the pass's own task, all of that runs on one thread at a
//! time however many there are; [`spread`] and [`spread_ordered`] give each item its own task,
//! so the runtime spreads them over every worker thread. Each item is as independent as
//! before (every step is compare-and-set): nothing about what is written changes, only where
//! the work runs.

use std::future::Future;

use futures::stream::{self, StreamExt};

/// Runs `work` over `items`, at most `width` at once, each on its own task; answers the sum of
/// what they answer. An item whose task panicked counts nothing (it is logged; the next pass
/// tries it again).
pub(crate) async fn spread<T, F, Fut>(
    items: impl IntoIterator<Item = T>,
    width: usize,
    work: F,
) -> usize
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = usize> + Send + 'static,
{
    stream::iter(items)
        .map(|item| tokio::spawn(work(item)))
        .buffer_unordered(width)
        .fold(0, |sum, done| async move {
            match done {
                Ok(n) => sum + n,
                Err(err) => {
                    tracing::error!(error = %err, "a chain worker item failed; will retry");
                    sum
                }
            }
        })
        .await
}

/// [`spread`], answering each item's result in the order of `items`; a panicked item's is
/// `None`.
pub(crate) async fn spread_ordered<T, R, F, Fut>(
    items: impl IntoIterator<Item = T>,
    width: usize,
    work: F,
) -> Vec<Option<R>>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    stream::iter(items)
        .map(|item| tokio::spawn(work(item)))
        .buffered(width)
        .map(|done| match done {
            Ok(r) => Some(r),
            Err(err) => {
                tracing::error!(error = %err, "a chain worker item failed; will retry");
                None
            }
        })
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_run_on_their_own_tasks_at_most_width_at_once_and_a_panic_counts_nothing() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let total = spread(0..40usize, 4, |i| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                assert!(i != 7, "item 7 fails");
                i
            }
        })
        .await;
        assert_eq!(total, (0..40).sum::<usize>() - 7);
        assert!(most.load(Ordering::SeqCst) <= 4);
        assert!(most.load(Ordering::SeqCst) > 1);
        let ordered = spread_ordered(0..10u32, 3, |i| async move {
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(10 - i))).await;
            assert!(i != 3);
            i * 2
        })
        .await;
        let expected: Vec<Option<u32>> = (0..10).map(|i| (i != 3).then_some(i * 2)).collect();
        assert_eq!(ordered, expected);
    }
}
