//! The broker: what it owns, how it starts, its background work, and how it stops.
//!
//! [`start_broker`] validates the configuration, opens the data directory (`meta.properties`
//! with the cluster id, the producer-id block, every topic's partitions with recovery after an
//! unclean stop, committed offsets from `__consumer_offsets`), binds the Kafka listener and
//! starts serving. Background tasks, each on its configured period: group timers (100 ms),
//! retention (`log.retention.check.interval.ms`), compaction (`log.cleaner.backoff.ms`),
//! `flush.ms` (`log.flush.scheduler.interval.ms`), offset expiry
//! (`offsets.retention.check.interval.ms`) and idle producer state
//! (`producer.id.expiration.check.interval.ms`).
//!
//! Shutdown ([`RunningBroker::shutdown`]): readiness goes false, the listener stops accepting
//! and connections stop reading, JoinGroup and SyncGroup calls waiting on a rebalance are
//! answered COORDINATOR_NOT_AVAILABLE (clients look for the coordinator again), requests in
//! flight get `shutdown.timeout.ms` to be answered, and every partition log is closed cleanly (flushed, indexes synced, clean-shutdown marker). Nothing acknowledged depends
//! on the clean path: an append is answered only once it is in its segment file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fastdata_log::SystemClock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{BrokerConfig, ConfigError};
use crate::group::GroupCoordinator;
use crate::metrics::Metrics;
use crate::producer_ids::ProducerIds;
use crate::topics::{TopicError, TopicRegistry};

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading topics: {0}")]
    Topics(#[from] TopicError),
    #[error("{0}")]
    Invalid(String),
}

/// Everything the request handlers share.
pub struct Broker {
    /// The configuration in force.
    pub config: Arc<BrokerConfig>,
    /// Topics and partitions.
    pub topics: Arc<TopicRegistry>,
    /// Consumer groups and committed offsets.
    pub groups: Arc<GroupCoordinator>,
    /// InitProducerId's ids.
    pub producer_ids: ProducerIds,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// This cluster's id (from `meta.properties`).
    pub cluster_id: String,
    advertised_host: String,
    advertised_port: i32,
    ready: AtomicBool,
    /// Cancelled when the broker stops.
    pub shutdown: CancellationToken,
    /// Every task the broker spawned (connections, background work).
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("node_id", &self.config.node_id)
            .field("advertised", &(&self.advertised_host, self.advertised_port))
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// The host and port clients are told to connect to.
    pub fn advertised(&self) -> (&str, i32) {
        (&self.advertised_host, self.advertised_port)
    }

    /// The leader epoch of every partition: one broker, never re-elected.
    pub fn leader_epoch(&self) -> i32 {
        0
    }

    /// Whether the broker serves requests (the admin port's `/ready`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The Prometheus text of `/metrics`.
    pub fn render_metrics(&self) -> String {
        self.metrics
            .render(self.topics.partitions().len(), self.groups.group_count())
    }
}

/// A started broker.
pub struct RunningBroker {
    broker: Arc<Broker>,
    /// The bound Kafka listener.
    pub kafka_addr: SocketAddr,
}

impl RunningBroker {
    /// The broker's shared state.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Stop: see the module documentation.
    pub async fn shutdown(self) {
        let broker = self.broker;
        broker.ready.store(false, Ordering::Release);
        info!("broker shutting down");
        broker.shutdown.cancel();
        broker.groups.shutdown();
        broker.tasks.close();
        let timeout =
            Duration::from_millis(u64::try_from(broker.config.shutdown_timeout_ms).unwrap_or(0));
        if tokio::time::timeout(timeout, broker.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                timeout_ms = broker.config.shutdown_timeout_ms,
                "requests still in flight at the shutdown timeout; closing the logs anyway"
            );
        }
        let topics = broker.topics.clone();
        let _ = tokio::task::spawn_blocking(move || topics.close_all()).await;
        info!("broker stopped");
    }
}

/// `meta.properties`: the cluster id (made once) and the node id it belongs to.
fn load_meta(data_dir: &Path, node_id: i32) -> Result<String, StartError> {
    let path = data_dir.join("meta.properties");
    let io = |what: &str, source| StartError::Io {
        what: format!("{what} {}", path.display()),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let value = |key: &str| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().to_string())
            };
            let cluster_id = value("cluster.id")
                .ok_or_else(|| StartError::Invalid(format!("{}: no cluster.id", path.display())))?;
            if let Some(stored) = value("node.id") {
                if stored != node_id.to_string() {
                    return Err(StartError::Invalid(format!(
                        "{}: the data directory belongs to node.id {stored}, not {node_id}",
                        path.display()
                    )));
                }
            }
            Ok(cluster_id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = uuid::Uuid::new_v4().simple().to_string();
            let text = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
            fastdata_log::storage::write_atomically(
                &fastdata_log::storage::RealStorage,
                &path,
                text.as_bytes(),
            )
            .map_err(|e| io("writing", e))?;
            Ok(cluster_id)
        }
        Err(e) => Err(io("reading", e)),
    }
}

/// Resolve a HOST:PORT (a name is looked up; the first address wins).
async fn resolve(address: &str, key: &str) -> Result<SocketAddr, StartError> {
    let mut addrs = tokio::net::lookup_host(address)
        .await
        .map_err(|e| StartError::Invalid(format!("{key} = '{address}': {e}")))?;
    addrs
        .next()
        .ok_or_else(|| StartError::Invalid(format!("{key} = '{address}' resolves to no address")))
}

/// Bind the listener `key` names.
pub async fn bind(address: &str, key: &str) -> Result<TcpListener, StartError> {
    let addr = resolve(address, key).await?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            address: format!("{key} = {address}"),
            source,
        })
}

fn advertised_address(
    config: &BrokerConfig,
    bound: SocketAddr,
) -> Result<(String, i32), StartError> {
    let advertised = config.advertised_address();
    if advertised.is_empty() {
        if bound.ip().is_unspecified() {
            return Err(StartError::Invalid(format!(
                "listeners = {} binds every interface: set advertised.listeners to the HOST:PORT clients should connect to",
                config.listeners
            )));
        }
        return Ok((bound.ip().to_string(), i32::from(bound.port())));
    }
    let (host, port) = advertised.rsplit_once(':').ok_or_else(|| {
        StartError::Invalid(format!(
            "advertised.listeners = '{advertised}' is not HOST:PORT"
        ))
    })?;
    let port: u16 = port.parse().map_err(|_| {
        StartError::Invalid(format!("advertised.listeners = '{advertised}': bad port"))
    })?;
    let port = if port == 0 { bound.port() } else { port };
    Ok((
        host.trim_matches(|c| c == '[' || c == ']').to_string(),
        i32::from(port),
    ))
}

/// Open everything and start serving Kafka on the configured listener.
pub async fn start_broker(config: BrokerConfig) -> Result<RunningBroker, StartError> {
    config.validate()?;
    let config = Arc::new(config);
    let data_dir = PathBuf::from(&config.data_dir);
    std::fs::create_dir_all(&data_dir).map_err(|source| StartError::Io {
        what: format!("creating {}", data_dir.display()),
        source,
    })?;
    let cluster_id = load_meta(&data_dir, config.node_id)?;
    let producer_ids = ProducerIds::open(&data_dir).map_err(|source| StartError::Io {
        what: "reading the producer-id block".to_string(),
        source,
    })?;
    let (topics, groups) = {
        let config = config.clone();
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<_, StartError> {
            let topics = Arc::new(TopicRegistry::open(
                &dir,
                config.clone(),
                Arc::new(SystemClock),
            )?);
            let groups = Arc::new(GroupCoordinator::new(config, topics.clone()));
            groups.load()?;
            Ok((topics, groups))
        })
        .await
        .map_err(|e| StartError::Invalid(format!("loading the data directory failed: {e}")))??
    };
    let listener = bind(config.listener_address(), "listeners").await?;
    let kafka_addr = listener.local_addr().map_err(|source| StartError::Io {
        what: "reading the listener address".to_string(),
        source,
    })?;
    let (advertised_host, advertised_port) = advertised_address(&config, kafka_addr)?;
    let broker = Arc::new(Broker {
        config,
        topics,
        groups,
        producer_ids,
        metrics: Metrics::new(),
        cluster_id,
        advertised_host,
        advertised_port,
        ready: AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    });
    broker
        .tasks
        .spawn(crate::kafka::serve(broker.clone(), listener));
    spawn_background(&broker);
    broker.ready.store(true, Ordering::Release);
    info!(%kafka_addr, advertised = ?broker.advertised(), cluster_id = %broker.cluster_id, "broker serving");
    Ok(RunningBroker { broker, kafka_addr })
}

fn period(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(1).max(1))
}

/// Run `work` on a blocking thread every `every`, until shutdown.
fn spawn_periodic(
    broker: &Arc<Broker>,
    every: Duration,
    work: impl Fn(&Broker) + Send + Sync + 'static,
) {
    let b = broker.clone();
    let work = Arc::new(work);
    broker.tasks.spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = b.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let (b2, w) = (b.clone(), work.clone());
            if tokio::task::spawn_blocking(move || w(&b2)).await.is_err() {
                warn!("a background task panicked");
            }
        }
    });
}

/// Run `work` on every partition of the topics `wanted` selects, logging what fails as `what`.
fn each_partition<T>(
    broker: &Broker,
    wanted: impl Fn(&crate::topics::Topic) -> bool,
    what: &str,
    work: impl Fn(&fastdata_log::PartitionLog) -> fastdata_log::Result<T>,
) {
    for topic in broker.topics.list().iter().filter(|t| wanted(t)) {
        for p in &topic.partitions {
            if let Err(e) = work(&p.log) {
                warn!(topic = %p.topic, partition = p.index, %e, "{what} failed");
            }
        }
    }
}

fn spawn_background(broker: &Arc<Broker>) {
    let config = broker.config.clone();
    spawn_periodic(broker, Duration::from_millis(100), |b| b.groups.tick());
    spawn_periodic(
        broker,
        period(config.log_retention_check_interval_ms),
        |b| {
            each_partition(b, |_| true, "retention", |log| log.delete_old_segments());
        },
    );
    if config.log_cleaner_enable {
        spawn_periodic(broker, period(config.log_cleaner_backoff_ms), |b| {
            let compacted = |t: &crate::topics::Topic| t.settings.log.cleanup_policy.compact;
            each_partition(b, compacted, "compaction", |log| log.clean());
        });
    }
    spawn_periodic(
        broker,
        period(config.log_flush_scheduler_interval_ms),
        |b| {
            let timed = |t: &crate::topics::Topic| t.settings.log.flush_ms != i64::MAX;
            each_partition(b, timed, "flush.ms", |log| log.flush_if_due());
        },
    );
    spawn_periodic(
        broker,
        period(config.offsets_retention_check_interval_ms),
        |b| {
            b.groups.expire_offsets();
        },
    );
    spawn_periodic(
        broker,
        period(config.producer_id_expiration_check_interval_ms),
        |b| {
            each_partition(
                b,
                |_| true,
                "producer expiry",
                |log| {
                    log.expire_producers();
                    Ok(())
                },
            );
        },
    );
}
