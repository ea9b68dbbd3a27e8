//! The node: the store served over the CQL native protocol v4, beside the broker.
//!
//! [`start_node`] validates the configuration, binds the native transport (first, so a port
//! of 0 is known before the store records where clients reach it), opens the store on a
//! blocking thread, and serves; [`start_node_with`] does the same over any [`Backend`].
//! [`RunningNode`] mirrors [`RunningBroker`](crate::RunningBroker): the bound address, the
//! shared [`Node`] (an [`AdminService`] named `node` for `/ready` and `/metrics`), and a clean
//! [`shutdown`](RunningNode::shutdown): readiness goes false, the listener stops accepting,
//! connections stop reading and answer what is in flight within `shutdown.timeout.ms`, then
//! the store is closed.
//!
//! The connection's protocol state lives in `session`, the socket loop in `connection`, the
//! translation between wire and store types in `convert`. The store decides everything a
//! statement means (keyspaces, consistency levels, prepared ids, paging); the node never
//! looks inside a statement.

pub mod backend;
pub mod config;
mod connection;
mod convert;
#[cfg(test)]
mod driver_tests;
pub mod metrics;
mod session;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fastdata_protocol::cql::SchemaChange;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use backend::Backend;
pub use config::NodeConfig;
pub use metrics::NodeMetrics;

use crate::admin_http::AdminService;
use crate::config::ConfigError;

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot bind native.transport.address:native.transport.port = {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("opening the store: {0}")]
    Store(#[from] fastdata_kv::api::Error),
}

/// Everything the connections share.
pub struct Node {
    /// The configuration in force.
    pub config: Arc<NodeConfig>,
    backend: Arc<dyn Backend>,
    /// Prometheus metrics.
    pub metrics: NodeMetrics,
    /// Schema changes, for connections that REGISTERed (bounded by
    /// `native.transport.event.queue.size` per receiver).
    events: broadcast::Sender<SchemaChange>,
    ready: AtomicBool,
    /// Cancelled when the node stops.
    pub shutdown: CancellationToken,
    /// Every task the node spawned (the listener, connections).
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("cluster_name", &self.config.cluster_name)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Whether the node serves requests (the admin port's `/ready`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The Prometheus text of `/metrics`: the native transport's and the store's figures.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(self.backend.metrics())
    }
}

impl AdminService for Node {
    fn name(&self) -> &'static str {
        "node"
    }
    fn is_ready(&self) -> bool {
        Node::is_ready(self)
    }
    fn metrics(&self) -> String {
        self.render_metrics()
    }
}

/// A started node.
pub struct RunningNode {
    node: Arc<Node>,
    /// The bound CQL native transport.
    pub cql_addr: SocketAddr,
}

impl RunningNode {
    /// The node's shared state (for the admin port).
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stop: see the module documentation.
    pub async fn shutdown(self) {
        let node = self.node;
        node.ready.store(false, Ordering::Release);
        info!("node shutting down");
        node.shutdown.cancel();
        node.tasks.close();
        let timeout =
            Duration::from_millis(u64::try_from(node.config.shutdown_timeout_ms).unwrap_or(0));
        if tokio::time::timeout(timeout, node.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                timeout_ms = node.config.shutdown_timeout_ms,
                "requests still in flight at the shutdown timeout; closing the store anyway"
            );
        }
        let backend = node.backend.clone();
        match tokio::task::spawn_blocking(move || backend.close()).await {
            Ok(Ok(())) => info!("node stopped"),
            Ok(Err(e)) => warn!(%e, "closing the store failed"),
            Err(e) => warn!(%e, "closing the store panicked"),
        }
    }
}

/// Bind the native transport.
async fn bind(config: &NodeConfig) -> Result<(TcpListener, SocketAddr), StartError> {
    let address = config.native_transport_listener();
    let bind_error = |source| StartError::Bind {
        address: address.clone(),
        source,
    };
    let listener = TcpListener::bind(&address).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((listener, bound))
}

/// Where clients reach the node: `broadcast.rpc.address` (an IP) at the bound port, or the
/// bound address itself.
fn rpc_address(config: &NodeConfig, bound: SocketAddr) -> Result<SocketAddr, StartError> {
    let broadcast = config.broadcast_rpc_address.trim();
    if broadcast.is_empty() {
        if bound.ip().is_unspecified() {
            return Err(StartError::Invalid(format!(
                "native.transport.address = {} binds every interface: set broadcast.rpc.address to the address clients should connect to",
                config.native_transport_address
            )));
        }
        return Ok(bound);
    }
    let ip: IpAddr = broadcast
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|e| {
            StartError::Invalid(format!(
                "broadcast.rpc.address = '{broadcast}' is not an IP address: {e}"
            ))
        })?;
    Ok(SocketAddr::new(ip, bound.port()))
}

/// Serve `backend` on `listener` (already bound at `cql_addr`).
fn serve(
    config: Arc<NodeConfig>,
    backend: Arc<dyn Backend>,
    listener: TcpListener,
    cql_addr: SocketAddr,
) -> RunningNode {
    let capacity = usize::try_from(config.native_transport_event_queue_size)
        .unwrap_or(1)
        .max(1);
    let (events, _) = broadcast::channel(capacity);
    let node = Arc::new(Node {
        config,
        backend,
        metrics: NodeMetrics::new(),
        events,
        ready: AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    });
    node.tasks.spawn(connection::serve(node.clone(), listener));
    node.ready.store(true, Ordering::Release);
    info!(%cql_addr, "node serving");
    RunningNode { node, cql_addr }
}

/// Bind the native transport and serve `open(rpc_address)`'s backend on it: the backend is
/// opened on a blocking thread once the listener's address (where clients reach the node,
/// for `system.local`) is known.
pub async fn start_node_with<B, F>(config: NodeConfig, open: F) -> Result<RunningNode, StartError>
where
    B: Backend,
    F: FnOnce(SocketAddr) -> Result<B, StartError> + Send + 'static,
{
    config.validate()?;
    let config = Arc::new(config);
    let (listener, cql_addr) = bind(&config).await?;
    let rpc = rpc_address(&config, cql_addr)?;
    let backend = tokio::task::spawn_blocking(move || open(rpc))
        .await
        .map_err(|e| StartError::Invalid(format!("opening the store failed: {e}")))??;
    Ok(serve(config, Arc::new(backend), listener, cql_addr))
}

/// Open the store in `config.data.dir` and serve it: see the module documentation.
pub async fn start_node(config: NodeConfig) -> Result<RunningNode, StartError> {
    let store_config = config.clone();
    start_node_with(config, move |rpc_address| {
        let store = fastdata_kv::Store::open(store_config.store_config(rpc_address)?)?;
        Ok(store)
    })
    .await
}
