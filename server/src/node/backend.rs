//! What the node needs of its store, as one small trait: run a statement, prepare one,
//! execute a prepared one by id, run a batch, report figures, close. `fastdata_kv::Store`
//! implements it; the connection tests drive the node through a scripted one, and a seeded
//! simulation can later drive it the same way (STYLE: storage as a small trait at the
//! protocol core).
//!
//! Every method may block (RocksDB, fsync in batch commitlog mode): the node calls them on
//! blocking threads, except executions that [`Backend::runs_briefly`] vouches for, which it runs
//! on its async workers with [`Request::no_wait`] (for a cached read or an unsynced write, the
//! hand-off to a blocking thread and back costs more than the call itself).

use fastdata_kv::api::{
    BatchStatement, BatchType, Error, Prepared, QueryResult, Request, StoreMetrics,
};

/// The node's store.
pub trait Backend: Send + Sync + 'static {
    /// Run one statement (any CQL the store speaks, system tables and DESCRIBE included).
    fn query(&self, query: &str, request: &Request) -> Result<QueryResult, Error>;

    /// Prepare a statement in `keyspace` (the connection's, for unqualified names); the
    /// store keeps it under its id until evicted.
    fn prepare(&self, query: &str, keyspace: Option<&str>) -> Result<Prepared, Error>;

    /// Execute the prepared statement `id` ([`Error::Unprepared`] if the store does not
    /// have it: the driver re-prepares).
    fn execute(&self, id: &[u8; 16], request: &Request) -> Result<QueryResult, Error>;

    /// Whether executing the prepared statement `id` is brief and waits for nothing (no sync to
    /// disk, no schema change, a bounded amount of work), so that it may run on an async worker.
    /// The connection then runs it with [`Request::no_wait`]; if it answers
    /// [`Error::WouldWait`] (a write the engine would have held back: nothing was done), the
    /// connection runs it again on a blocking thread without `no_wait`.
    fn runs_briefly(&self, id: &[u8; 16]) -> bool;

    /// Run a BATCH with the request's consistency, timestamp and keyspace.
    fn batch(
        &self,
        batch_type: BatchType,
        statements: &[BatchStatement],
        request: &Request,
    ) -> Result<QueryResult, Error>;

    /// The store's figures, for `/metrics`.
    fn metrics(&self) -> StoreMetrics;

    /// Flush and close (the node stops using the store after this).
    fn close(&self) -> Result<(), Error>;
}

/// The store itself. It keeps prepared statements (bounded by
/// `prepared.statements.cache.size`); an id it no longer holds is [`Error::Unprepared`].
impl Backend for fastdata_kv::Store {
    fn query(&self, query: &str, request: &Request) -> Result<QueryResult, Error> {
        fastdata_kv::Store::query(self, query, request)
    }
    fn prepare(&self, query: &str, keyspace: Option<&str>) -> Result<Prepared, Error> {
        fastdata_kv::Store::prepare(self, query, keyspace)
    }
    fn execute(&self, id: &[u8; 16], request: &Request) -> Result<QueryResult, Error> {
        self.execute_id(id, request)
    }
    fn runs_briefly(&self, id: &[u8; 16]) -> bool {
        fastdata_kv::Store::runs_briefly(self, id)
    }
    fn batch(
        &self,
        batch_type: BatchType,
        statements: &[BatchStatement],
        request: &Request,
    ) -> Result<QueryResult, Error> {
        fastdata_kv::Store::batch(self, batch_type, statements, request)
    }
    fn metrics(&self) -> StoreMetrics {
        fastdata_kv::Store::metrics(self)
    }
    fn close(&self) -> Result<(), Error> {
        fastdata_kv::Store::close(self)
    }
}

/// A shared store is a store (the node and whoever else holds it).
impl<B: Backend + ?Sized> Backend for std::sync::Arc<B> {
    fn query(&self, query: &str, request: &Request) -> Result<QueryResult, Error> {
        (**self).query(query, request)
    }
    fn prepare(&self, query: &str, keyspace: Option<&str>) -> Result<Prepared, Error> {
        (**self).prepare(query, keyspace)
    }
    fn execute(&self, id: &[u8; 16], request: &Request) -> Result<QueryResult, Error> {
        (**self).execute(id, request)
    }
    fn runs_briefly(&self, id: &[u8; 16]) -> bool {
        (**self).runs_briefly(id)
    }
    fn batch(
        &self,
        batch_type: BatchType,
        statements: &[BatchStatement],
        request: &Request,
    ) -> Result<QueryResult, Error> {
        (**self).batch(batch_type, statements, request)
    }
    fn metrics(&self) -> StoreMetrics {
        (**self).metrics()
    }
    fn close(&self) -> Result<(), Error> {
        (**self).close()
    }
}
