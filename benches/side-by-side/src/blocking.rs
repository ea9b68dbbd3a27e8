//! Workloads whose operations are blocking calls (file writes, RocksDB): each operation runs on
//! its worker's thread inside `tokio::task::block_in_place`, so it costs no hand-off to another
//! thread and the runtime moves its other tasks (the progress line, other workers) elsewhere.
//! A worker with a window of 1 is then a plain loop of calls.

use std::sync::Arc;

use fastdata_benches::load::{BoxError, Done, Workload};
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::rngs::SmallRng;

/// The operations of a blocking workload.
pub trait BlockingOps: Send + Sync + 'static {
    /// What [`BlockingOps::draw`] picks for one operation (a key, ...).
    type Input: Send + 'static;
    /// Names of the kinds of operation (see [`Workload::kinds`]).
    fn kinds(&self) -> &'static [&'static str];
    /// Picks what the next operation of `worker` needs from the worker's random stream.
    fn draw(&self, worker: usize, rng: &mut SmallRng) -> Self::Input;
    /// One operation of `worker`.
    fn run(&self, worker: usize, input: Self::Input) -> anyhow::Result<Done>;
}

/// A [`Workload`] running `O`'s operations with `block_in_place`.
pub struct Blocking<O>(pub Arc<O>);

impl<O: BlockingOps> Workload for Blocking<O> {
    fn kinds(&self) -> &'static [&'static str] {
        self.0.kinds()
    }

    fn start(
        &self,
        worker: usize,
        _seq: u64,
        rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>> {
        let ops = self.0.clone();
        let input = ops.draw(worker, rng);
        async move {
            tokio::task::block_in_place(|| ops.run(worker, input))
                // The whole chain of context: the engine keeps the first error's text.
                .map_err(|e| BoxError::from(format!("{e:#}")))
        }
        .boxed()
    }
}
