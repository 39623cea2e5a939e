//! Coalescing calls that AWS accepts in one request. EC2 meters writes per account with token
//! buckets ("Request throttling" in the EC2 API reference: mutating actions share one bucket), and
//! AuthorizeSecurityGroupIngress / RevokeSecurityGroupIngress take several permissions at once. So
//! the operations on one group's rules that start together (the executor starts a group's ready
//! rule steps together, see `crate::engine::execute`) are sent as one call, and its answer is
//! handed back to each of them: every rule keeps its own step, progress line and result.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// The items waiting for one call, each with where its answer goes.
type Queue<I, O> = Vec<(I, oneshot::Sender<O>)>;

/// Items waiting under each key for the call that will carry them.
pub struct Coalescer<K, I, O> {
    queues: Mutex<HashMap<K, Queue<I, O>>>,
}

impl<K, I, O> Default for Coalescer<K, I, O> {
    fn default() -> Self {
        Coalescer {
            queues: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, I, O> Coalescer<K, I, O> {
    /// Queues `item` under `key`. The first caller of a key lets the futures polled beside it
    /// (those started in the same step of the executor) queue theirs, then takes every item of
    /// the key and runs `run` on them once; `run` returns one answer per item, in order. `None`
    /// when the caller that took this item was cancelled before answering.
    pub async fn submit<F, Fut>(&self, key: K, item: I, run: F) -> Option<O>
    where
        F: FnOnce(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut q = self.queues.lock().ok()?;
            let v = q.entry(key.clone()).or_default();
            v.push((item, tx));
            v.len() == 1
        };
        if first {
            // Yield once: the futures that were started with this one are polled before it is
            // polled again, and queue their items meanwhile.
            tokio::task::yield_now().await;
            let taken = self
                .queues
                .lock()
                .ok()
                .and_then(|mut q| q.remove(&key))
                .unwrap_or_default();
            let (items, senders): (Vec<I>, Vec<oneshot::Sender<O>>) = taken.into_iter().unzip();
            let answers = run(items).await;
            for (tx, answer) in senders.into_iter().zip(answers) {
                let _ = tx.send(answer);
            }
        }
        rx.await.ok()
    }
}

/// One rule's part of a batched AuthorizeSecurityGroupIngress or RevokeSecurityGroupIngress.
pub struct RuleItem {
    pub address: String,
    pub permission: aws_sdk_ec2::types::IpPermission,
    /// The groups the permission names (its own and a source group), for
    /// [`super::Ctx::while_new_groups_propagate`].
    pub named: Vec<String>,
}

/// Batched rule calls, keyed by the group's id.
pub type RuleCalls = Coalescer<String, RuleItem, crate::error::Result<()>>;

/// The batchers of one apply.
#[derive(Default)]
pub struct Batches {
    pub authorize: RuleCalls,
    pub revoke: RuleCalls,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn items_submitted_together_go_in_one_run_per_key_and_each_gets_its_answer() {
        let c: Coalescer<&str, u32, u32> = Coalescer::default();
        let runs = AtomicUsize::new(0);
        let run = |items: Vec<u32>| {
            runs.fetch_add(1, Ordering::SeqCst);
            async move { items.iter().map(|i| i * 10).collect::<Vec<_>>() }
        };
        let (a, b, c1, d) = tokio::join!(
            c.submit("g1", 1, run),
            c.submit("g1", 2, run),
            c.submit("g1", 3, run),
            c.submit("g2", 4, run),
        );
        assert_eq!((a, b, c1, d), (Some(10), Some(20), Some(30), Some(40)));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one run for g1, one for g2");
        // Later submissions start a new batch.
        assert_eq!(c.submit("g1", 5, run).await, Some(50));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_missing_answer_is_none_not_a_hang() {
        let c: Coalescer<&str, u32, u32> = Coalescer::default();
        let (a, b) = tokio::join!(
            c.submit("g", 1, |_| async { vec![7] }),
            c.submit("g", 2, |_| async { vec![7] }),
        );
        assert_eq!((a, b), (Some(7), None));
    }
}
