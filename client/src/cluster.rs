//! The shared core of the producer, the consumer and the admin client: the bootstrap list, one
//! connection per broker (dialled on demand, redialled with exponential backoff after a
//! failure), and the metadata cache.
//!
//! Brokers are reached at the addresses Metadata advertises; the bootstrap list is only used to
//! find them. The cache holds the topics the owner tracks ([`Cluster::track_topics`]) and is
//! refreshed on demand ([`Cluster::refresh_metadata`], deduplicated: callers that ask while a
//! refresh runs share it), when a caller reports stale metadata
//! ([`Cluster::request_metadata_refresh`], served by a background task), and every
//! `metadata.max.age.ms`. Every task the cluster spawns stops on [`Cluster::shutdown`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use fastdata_protocol::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use fastdata_protocol::kafka_protocol::messages::{ApiKey, MetadataRequest, TopicName};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use rand::Rng;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::conn::{lock, ApiRequest, Connection, ConnectionConfig};
use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// Network settings every client has, under the Java client's names.
#[derive(Debug, Clone)]
pub(crate) struct NetworkConfig {
    /// Parsed `bootstrap.servers`.
    pub bootstrap: Vec<String>,
    /// Per-connection settings.
    pub connection: ConnectionConfig,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// Whether Metadata requests may auto-create topics (`allow.auto.create.topics`).
    pub allow_auto_create_topics: bool,
}

/// Parses `HOST:PORT[,HOST:PORT...]` (IPv6 hosts in brackets).
pub(crate) fn parse_bootstrap(servers: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in servers.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((host, port)) = entry.rsplit_once(':') else {
            return Err(Error::config(
                "bootstrap.servers",
                format!("{entry:?} is not HOST:PORT"),
            ));
        };
        let host_ok = !host.is_empty()
            && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
        if !host_ok || port.parse::<u16>().is_err() {
            return Err(Error::config(
                "bootstrap.servers",
                format!("{entry:?} is not HOST:PORT"),
            ));
        }
        out.push(entry.to_owned());
    }
    if out.is_empty() {
        return Err(Error::config("bootstrap.servers", "no server given"));
    }
    Ok(out)
}

/// One broker address's connection, and its reconnect backoff.
#[derive(Default)]
struct Slot {
    conn: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// See the module documentation.
pub(crate) struct Cluster {
    config: NetworkConfig,
    shutdown: CancellationToken,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    metadata: watch::Sender<Arc<Metadata>>,
    tracked: Mutex<BTreeSet<String>>,
    refresh_lock: tokio::sync::Mutex<()>,
    refresh_wanted: Notify,
    refresher: Mutex<Option<JoinHandle<()>>>,
    /// Addresses being dialled by [`Cluster::connect_in_background`].
    connecting: Mutex<HashSet<String>>,
}

impl Cluster {
    /// A cluster reached through `config.bootstrap`, with its background metadata refresher.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn new(config: NetworkConfig) -> Result<Arc<Cluster>> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| Error::NoRuntime(e.to_string()))?;
        let cluster = Arc::new(Cluster {
            config,
            shutdown: CancellationToken::new(),
            slots: Mutex::new(HashMap::new()),
            metadata: watch::channel(Arc::new(Metadata::default())).0,
            tracked: Mutex::new(BTreeSet::new()),
            refresh_lock: tokio::sync::Mutex::new(()),
            refresh_wanted: Notify::new(),
            refresher: Mutex::new(None),
            connecting: Mutex::new(HashSet::new()),
        });
        let task = runtime.spawn(refresh_loop(Arc::downgrade(&cluster)));
        *lock(&cluster.refresher) = Some(task);
        Ok(cluster)
    }

    /// The network settings.
    pub(crate) fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// Closes every connection and stops every background task; later calls fail.
    pub(crate) fn shutdown(&self) {
        self.shutdown.cancel();
        if let Some(task) = lock(&self.refresher).take() {
            task.abort();
        }
        let slots: Vec<_> = lock(&self.slots).drain().collect();
        for (_, slot) in slots {
            if let Ok(slot) = slot.try_lock() {
                if let Some(conn) = &slot.conn {
                    conn.close();
                }
            }
        }
    }

    /// Whether [`Cluster::shutdown`] was called.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// A token cancelled at shutdown, for the owner's own tasks.
    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    fn slot(&self, address: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        lock(&self.slots)
            .entry(address.to_owned())
            .or_default()
            .clone()
    }

    /// The live connection to `address`, if there is one right now (never dials).
    pub(crate) fn ready_connection(&self, address: &str) -> Option<Arc<Connection>> {
        let slot = self.slot(address);
        let slot = slot.try_lock().ok()?;
        slot.conn.clone().filter(|c| !c.is_closed())
    }

    /// The connection to `address`, dialling it if needed (after the backoff of earlier
    /// failures).
    pub(crate) async fn connection(&self, address: &str) -> Result<Arc<Connection>> {
        if self.is_shut_down() {
            return Err(Error::Closed);
        }
        let slot = self.slot(address);
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.conn.clone().filter(|c| !c.is_closed()) {
            return Ok(conn);
        }
        if let Some(retry_at) = slot.retry_at {
            tokio::select! {
                _ = tokio::time::sleep_until(retry_at) => {}
                _ = self.shutdown.cancelled() => return Err(Error::Closed),
            }
        }
        match Connection::connect(address, &self.config.connection, &self.shutdown).await {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.failures = 0;
                slot.retry_at = None;
                Ok(conn)
            }
            Err(e) => {
                slot.conn = None;
                slot.failures = slot.failures.saturating_add(1);
                slot.retry_at = Some(Instant::now() + self.backoff(slot.failures));
                tracing::debug!(broker = address, error = %e, "connection failed");
                Err(e)
            }
        }
    }

    /// Dials `address` in the background (unless that is already under way), then wakes
    /// `notify`.
    pub(crate) fn connect_in_background(self: &Arc<Self>, address: String, notify: Arc<Notify>) {
        if !lock(&self.connecting).insert(address.clone()) {
            return;
        }
        let cluster = self.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = cluster.connection(&address) => {}
            }
            lock(&cluster.connecting).remove(&address);
            notify.notify_one();
        });
    }

    /// Exponential backoff with ±20% jitter, as the Java client's `reconnect.backoff.*`.
    fn backoff(&self, failures: u32) -> Duration {
        let base = self.config.reconnect_backoff.as_millis() as f64;
        let max = self.config.reconnect_backoff_max.as_millis() as f64;
        let exp = base * 2f64.powi(failures.saturating_sub(1).min(30) as i32);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        Duration::from_millis((exp.min(max) * jitter) as u64)
    }

    /// A connection to any broker: a live one if there is one, else the known brokers and
    /// then the bootstrap servers, in order, until one answers.
    pub(crate) async fn any_connection(&self) -> Result<Arc<Connection>> {
        let live: Vec<Arc<Connection>> = {
            let slots: Vec<_> = lock(&self.slots).values().cloned().collect();
            slots
                .iter()
                .filter_map(|s| s.try_lock().ok().and_then(|s| s.conn.clone()))
                .filter(|c| !c.is_closed())
                .collect()
        };
        if let Some(conn) = live.into_iter().next() {
            return Ok(conn);
        }
        let mut candidates: Vec<String> = self
            .metadata
            .borrow()
            .brokers
            .values()
            .map(|b| b.address())
            .collect();
        for b in &self.config.bootstrap {
            if !candidates.contains(b) {
                candidates.push(b.clone());
            }
        }
        let mut last = None;
        for address in candidates {
            match self.connection(&address).await {
                Ok(conn) => return Ok(conn),
                Err(Error::Closed) => return Err(Error::Closed),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config("bootstrap.servers", "no server given")))
    }

    /// Sends `request` to `conn` at its negotiated version (built by `build` for that version)
    /// with the default request timeout plus `extra`.
    pub(crate) async fn send<R: ApiRequest>(
        &self,
        conn: &Connection,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response> {
        let version = conn.version(R::KEY)?;
        let result = conn
            .send_at(version, build(version), conn.request_timeout() + extra)
            .await;
        if let Err(e) = &result {
            if matches!(e, Error::Network { .. } | Error::RequestTimeout { .. }) {
                self.request_metadata_refresh();
            }
        }
        result
    }

    /// The current metadata snapshot.
    pub(crate) fn metadata(&self) -> Arc<Metadata> {
        self.metadata.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    pub(crate) fn watch_metadata(&self) -> watch::Receiver<Arc<Metadata>> {
        self.metadata.subscribe()
    }

    /// Adds topics to those the cache tracks; returns whether any was new.
    pub(crate) fn track_topics<'a>(&self, topics: impl IntoIterator<Item = &'a str>) -> bool {
        let mut tracked = lock(&self.tracked);
        let mut added = false;
        for t in topics {
            added |= tracked.insert(t.to_owned());
        }
        added
    }

    /// Replaces the tracked topics.
    pub(crate) fn set_tracked_topics(&self, topics: impl IntoIterator<Item = String>) {
        *lock(&self.tracked) = topics.into_iter().collect();
    }

    /// Asks the background task for a refresh, without waiting.
    pub(crate) fn request_metadata_refresh(&self) {
        self.refresh_wanted.notify_one();
    }

    /// Fetches the tracked topics' metadata and stores it. Callers that ask while a refresh is
    /// running wait for that one instead of starting another.
    pub(crate) async fn refresh_metadata(&self) -> Result<Arc<Metadata>> {
        let asked_at = Instant::now();
        let _guard = self.refresh_lock.lock().await;
        let current = self.metadata();
        if current.fetched_at.is_some_and(|at| at >= asked_at) {
            return Ok(current);
        }
        let topics: Vec<String> = lock(&self.tracked).iter().cloned().collect();
        let fresh = Arc::new(
            self.fetch_metadata(Some(topics), self.config.allow_auto_create_topics)
                .await?,
        );
        self.metadata.send_replace(fresh.clone());
        Ok(fresh)
    }

    /// Fetches metadata for `topics` (`None`: all topics) without touching the cache.
    pub(crate) async fn fetch_metadata(
        &self,
        topics: Option<Vec<String>>,
        allow_auto_topic_creation: bool,
    ) -> Result<Metadata> {
        let conn = self.any_connection().await?;
        let response = self
            .send(&conn, Duration::ZERO, |version| {
                let topics = match topics {
                    // v0 has no null: an empty list means all topics there.
                    None if version == 0 => Some(Vec::new()),
                    None => None,
                    Some(names) => Some(
                        names
                            .into_iter()
                            .map(|n| {
                                MetadataRequestTopic::default()
                                    .with_name(Some(TopicName(StrBytes::from_string(n))))
                            })
                            .collect(),
                    ),
                };
                let request = MetadataRequest::default().with_topics(topics);
                if version >= 4 {
                    request.with_allow_auto_topic_creation(allow_auto_topic_creation)
                } else {
                    request
                }
            })
            .await?;
        Metadata::from_response(conn.address(), response)
    }

    /// Waits until the metadata has `topic` (with a leader for every partition if
    /// `require_leaders`), refreshing as needed, for at most `timeout`.
    pub(crate) async fn wait_for_topic(
        &self,
        topic: &str,
        timeout: Duration,
        require_leaders: bool,
    ) -> Result<Arc<Metadata>> {
        let usable = |m: &Metadata| {
            m.topic(topic)
                .is_some_and(|t| !require_leaders || t.partitions.iter().all(|p| p.leader >= 0))
        };
        if self.track_topics([topic]) {
            self.request_metadata_refresh();
        }
        let deadline = Instant::now() + timeout;
        let mut backoff = Duration::from_millis(10);
        loop {
            let metadata = self.metadata();
            if usable(&metadata) {
                return Ok(metadata);
            }
            if let Some(t) = metadata.topics.get(topic) {
                if !t.error.is_ok() && !t.error.is_retriable() {
                    return Err(Error::Kafka(
                        crate::error::KafkaError::new(ApiKey::Metadata, t.error).topic(topic),
                    ));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!("waiting for metadata of topic {topic}"),
                    timeout_ms: timeout.as_millis() as u64,
                });
            }
            match tokio::time::timeout_at(deadline, self.refresh_metadata()).await {
                Ok(Ok(fresh)) if usable(&fresh) => return Ok(fresh),
                Ok(Err(Error::Closed)) => return Err(Error::Closed),
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.cancelled() => return Err(Error::Closed),
            }
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// Refreshes when asked (at most every 50 ms) and at least every `metadata.max.age.ms`.
async fn refresh_loop(cluster: Weak<Cluster>) {
    const MIN_INTERVAL: Duration = Duration::from_millis(50);
    loop {
        let Some(strong) = cluster.upgrade() else {
            return;
        };
        let max_age = strong.config.metadata_max_age;
        let shutdown = strong.shutdown.clone();
        let wanted = async {
            strong.refresh_wanted.notified().await;
        };
        let woke = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wanted => true,
            _ = tokio::time::sleep(max_age) => false,
        };
        if woke {
            tracing::trace!("metadata refresh requested");
        }
        if let Err(e) = strong.refresh_metadata().await {
            tracing::debug!(error = %e, "metadata refresh failed");
        }
        drop(strong);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(MIN_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_parse() {
        assert_eq!(
            parse_bootstrap("127.0.0.1:9092, localhost:9093,[::1]:9094").unwrap(),
            ["127.0.0.1:9092", "localhost:9093", "[::1]:9094"]
        );
        for bad in [
            "",
            "host",
            "host:",
            ":9092",
            "host:99999",
            "::1:9092",
            "h:p",
        ] {
            assert!(
                matches!(
                    parse_bootstrap(bad),
                    Err(Error::Config {
                        key: "bootstrap.servers",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
