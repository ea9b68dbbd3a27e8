//! Topics and their partitions: names, ids, partition counts and config overrides, persisted in
//! `<data dir>/topics.json`, and one open [`PartitionLog`] per partition in
//! `<data dir>/<topic>-<partition>/` (Kafka's layout).
//!
//! [`TopicRegistry`] is the broker's metadata store until the Raft metadata quorum arrives with
//! replication: every change (create, delete, add partitions, alter configs) is serialized by one
//! lock, written to `topics.json` atomically (temporary file, fsync, rename, directory fsync)
//! and only then published, so a crash leaves either the old or the new metadata. Readers get
//! an `Arc<Topic>` snapshot without locking anything for long.
//!
//! Each partition directory holds a `partition.metadata` file naming its topic id. A directory
//! whose id does not match (a topic deleted and recreated while the broker was down, or a crash
//! between the metadata change and the directory's removal) is stray: it is set aside as
//! `<name>.<id>-stray`, never served as the new topic's data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use fastdata_log::storage::{write_atomically, RealStorage, Storage};
use fastdata_log::{Clock, PartitionLog};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::topic_config::{self, TopicSettings};

/// The internal topic of committed offsets.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";

/// Kafka's limit on topic name length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Most partitions one topic may have (Kafka has no fixed limit; every partition costs open
/// files and index mappings, so this one is bounded).
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

const TOPICS_FILE: &str = "topics.json";
const PARTITION_METADATA: &str = "partition.metadata";

/// Why a topic operation failed; each maps to one Kafka error code at the protocol edge.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("This server does not host this topic-partition: {0}")]
    Unknown(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    DeletionDisabled,
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<fastdata_log::Error> for TopicError {
    fn from(e: fastdata_log::Error) -> Self {
        TopicError::Storage(e.to_string())
    }
}

fn io_error(path: &Path, e: std::io::Error) -> TopicError {
    TopicError::Storage(format!("{}: {e}", path.display()))
}

/// Check a topic name as Kafka does (`Topic.validate`): 1 to 249 characters of `[a-zA-Z0-9._-]`,
/// and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let invalid = |why: String| Err(TopicError::InvalidName(why));
    if name.is_empty() {
        return invalid("Topic name is illegal, it can't be empty".to_string());
    }
    if name == "." || name == ".." {
        return invalid("Topic name cannot be \".\" or \"..\"".to_string());
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return invalid(format!(
            "Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LEN} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// One partition: its log and a watch of its high watermark that long-polling fetches wait on.
pub struct Partition {
    /// The topic's name.
    pub topic: Arc<str>,
    /// The partition index.
    pub index: i32,
    /// The log.
    pub log: PartitionLog,
    high_watermark: watch::Sender<i64>,
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.index)
    }
}

impl Partition {
    /// The high watermark: what consumers may read. With one replica it is the log end.
    pub fn high_watermark(&self) -> i64 {
        *self.high_watermark.borrow()
    }

    /// Publish the log end as the new high watermark (after an append), waking fetchers.
    pub fn advance_high_watermark(&self) {
        let end = self.log.log_end_offset();
        self.high_watermark.send_if_modified(|hw| {
            let moved = *hw != end;
            *hw = end;
            moved
        });
    }

    /// A receiver that sees every change of the high watermark.
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }
}

/// A topic as the broker serves it. Immutable: a change publishes a new `Arc<Topic>` sharing the
/// unchanged partitions.
#[derive(Debug)]
pub struct Topic {
    /// Its name.
    pub name: Arc<str>,
    /// Its id (stable across restarts; Metadata v10+ reports it).
    pub id: Uuid,
    /// Its partitions, by index.
    pub partitions: Vec<Arc<Partition>>,
    /// The configs set on it.
    pub overrides: BTreeMap<String, String>,
    /// What its configs resolve to.
    pub settings: TopicSettings,
}

impl Topic {
    /// Whether this is an internal topic (clients may read it, not write it).
    pub fn is_internal(&self) -> bool {
        &*self.name == CONSUMER_OFFSETS
    }

    /// The partition with `index`.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TopicsFile {
    version: u32,
    topics: Vec<TopicRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicRecord {
    name: String,
    id: Uuid,
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

/// The broker's topics.
pub struct TopicRegistry {
    data_dir: PathBuf,
    broker: Arc<BrokerConfig>,
    clock: Arc<dyn Clock>,
    storage: Arc<dyn Storage>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes changes (and their writes of `topics.json`).
    changes: Mutex<()>,
}

impl std::fmt::Debug for TopicRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicRegistry")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

fn relock<G>(r: std::sync::LockResult<G>) -> G {
    r.unwrap_or_else(|e| e.into_inner())
}

impl TopicRegistry {
    /// Load the topics of `data_dir` and open (recovering as needed) every partition log.
    pub fn open(
        data_dir: &Path,
        broker: Arc<BrokerConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<TopicRegistry, TopicError> {
        std::fs::create_dir_all(data_dir).map_err(|e| io_error(data_dir, e))?;
        remove_deleted_dirs(data_dir);
        let path = data_dir.join(TOPICS_FILE);
        let records = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: TopicsFile = serde_json::from_slice(&bytes).map_err(|e| {
                    TopicError::Storage(format!("{}: not a topics file: {e}", path.display()))
                })?;
                file.topics
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&path, e)),
        };
        let registry = TopicRegistry {
            data_dir: data_dir.to_path_buf(),
            broker,
            clock,
            storage: Arc::new(RealStorage),
            topics: RwLock::new(BTreeMap::new()),
            changes: Mutex::new(()),
        };
        let mut topics = BTreeMap::new();
        for record in records {
            let settings = topic_config::resolve(&registry.broker, &record.configs)
                .map_err(|e| TopicError::InvalidConfig(format!("topic {}: {e}", record.name)))?;
            let name: Arc<str> = Arc::from(record.name.as_str());
            let mut partitions = Vec::new();
            for index in 0..record.partitions {
                partitions.push(registry.open_partition(&name, record.id, index, &settings)?);
            }
            topics.insert(
                record.name.clone(),
                Arc::new(Topic {
                    name,
                    id: record.id,
                    partitions,
                    overrides: record.configs,
                    settings,
                }),
            );
        }
        info!(topics = topics.len(), dir = %data_dir.display(), "loaded topics");
        *relock(registry.topics.write()) = topics;
        Ok(registry)
    }

    fn partition_dir(&self, topic: &str, index: i32) -> PathBuf {
        self.data_dir.join(format!("{topic}-{index}"))
    }

    fn open_partition(
        &self,
        topic: &Arc<str>,
        id: Uuid,
        index: i32,
        settings: &TopicSettings,
    ) -> Result<Arc<Partition>, TopicError> {
        let dir = self.partition_dir(topic, index);
        let marker = dir.join(PARTITION_METADATA);
        let expected = format!("version: 0\ntopic_id: {id}\n");
        match std::fs::read_to_string(&marker) {
            Ok(found) if found == expected => {}
            Ok(found) => {
                let stray = self
                    .data_dir
                    .join(format!("{topic}-{index}.{}-stray", Uuid::new_v4().simple()));
                warn!(dir = %dir.display(), found = found.trim(), expected = %id, "partition directory belongs to another topic id; setting it aside");
                std::fs::rename(&dir, &stray).map_err(|e| io_error(&dir, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&marker, e)),
        }
        if !marker.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            write_atomically(self.storage.as_ref(), &marker, expected.as_bytes())
                .map_err(|e| io_error(&marker, e))?;
        }
        let log = PartitionLog::open(
            &dir,
            settings.log.clone(),
            self.storage.clone(),
            self.clock.clone(),
        )?;
        let (high_watermark, _) = watch::channel(log.log_end_offset());
        Ok(Arc::new(Partition {
            topic: topic.clone(),
            index,
            log,
            high_watermark,
        }))
    }

    /// The topic named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        relock(self.topics.read()).get(name).cloned()
    }

    /// Every topic, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        relock(self.topics.read()).values().cloned().collect()
    }

    /// Every partition of every topic.
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        relock(self.topics.read())
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Check a CreateTopics request without changing anything; returns the partition count
    /// and the resolved settings.
    pub fn check_create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(i32, TopicSettings), TopicError> {
        validate_topic_name(name)?;
        let partitions = if partitions == -1 {
            self.broker.num_partitions
        } else {
            partitions
        };
        if partitions <= 0 {
            return Err(TopicError::InvalidPartitions(
                "Number of partitions must be larger than 0.".to_string(),
            ));
        }
        if partitions > MAX_PARTITIONS_PER_TOPIC {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {partitions} exceeds the limit of {MAX_PARTITIONS_PER_TOPIC}."
            )));
        }
        let replication_factor = if replication_factor == -1 {
            self.broker.default_replication_factor
        } else {
            replication_factor
        };
        if replication_factor <= 0 {
            return Err(TopicError::InvalidReplicationFactor(
                "Replication factor must be larger than 0.".to_string(),
            ));
        }
        if replication_factor > 1 {
            return Err(TopicError::InvalidReplicationFactor(format!(
                "Replication factor: {replication_factor} larger than available brokers: 1."
            )));
        }
        for (key, value) in overrides {
            topic_config::validate_override(key, value).map_err(TopicError::InvalidConfig)?;
        }
        let settings =
            topic_config::resolve(&self.broker, overrides).map_err(TopicError::InvalidConfig)?;
        let topics = relock(self.topics.read());
        if topics.contains_key(name) {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        let collision_key = name.replace('.', "_");
        if let Some(other) = topics.keys().find(|t| t.replace('.', "_") == collision_key) {
            return Err(TopicError::InvalidName(format!(
                "Topic '{name}' collides with existing topic: {other}"
            )));
        }
        Ok((partitions, settings))
    }

    /// Create a topic (`partitions` -1: `num.partitions`; replication factor -1: the default).
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        overrides: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _change = relock(self.changes.lock());
        let (partitions, settings) =
            self.check_create(name, partitions, replication_factor, &overrides)?;
        let id = Uuid::new_v4();
        let record = TopicRecord {
            name: name.to_string(),
            id,
            partitions,
            configs: overrides.clone(),
        };
        let name: Arc<str> = Arc::from(name);
        let mut opened = Vec::new();
        for index in 0..partitions {
            opened.push(self.open_partition(&name, id, index, &settings)?);
        }
        let topic = Arc::new(Topic {
            name: name.clone(),
            id,
            partitions: opened,
            overrides,
            settings,
        });
        self.persist_with(Some(record), None)?;
        relock(self.topics.write()).insert(name.to_string(), topic.clone());
        info!(topic = %name, partitions, %id, "created topic");
        Ok(topic)
    }

    /// Delete a topic: the metadata change is durable first, then its partitions are closed and
    /// their directories removed.
    pub fn delete(&self, name: &str) -> Result<(), TopicError> {
        if !self.broker.delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        let _change = relock(self.changes.lock());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        if topic.is_internal() {
            return Err(TopicError::InvalidRequest(format!(
                "Cannot delete internal topic {name}"
            )));
        }
        self.persist_with(None, Some(name))?;
        relock(self.topics.write()).remove(name);
        for partition in &topic.partitions {
            if let Err(e) = partition.log.close() {
                warn!(topic = name, partition = partition.index, %e, "closing a deleted partition");
            }
            let dir = self.partition_dir(name, partition.index);
            let doomed = self.data_dir.join(format!(
                "{name}-{}.{}-delete",
                partition.index,
                topic.id.simple()
            ));
            if let Err(e) = std::fs::rename(&dir, &doomed) {
                warn!(dir = %dir.display(), %e, "cannot set a deleted partition aside");
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(&doomed) {
                warn!(dir = %doomed.display(), %e, "cannot remove a deleted partition; it is removed at the next start");
            }
        }
        info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Check that `name` can grow to `count` partitions.
    pub fn check_add_partitions(&self, name: &str, count: i32) -> Result<Arc<Topic>, TopicError> {
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let current = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        if count < current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested {count}."
            )));
        }
        if count == current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic already has {current} partitions."
            )));
        }
        if count > MAX_PARTITIONS_PER_TOPIC {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {count} exceeds the limit of {MAX_PARTITIONS_PER_TOPIC}."
            )));
        }
        if topic.is_internal() {
            return Err(TopicError::InvalidRequest(format!(
                "Cannot add partitions to internal topic {name}"
            )));
        }
        Ok(topic)
    }

    /// Grow a topic to `count` partitions.
    pub fn add_partitions(&self, name: &str, count: i32) -> Result<Arc<Topic>, TopicError> {
        let _change = relock(self.changes.lock());
        let topic = self.check_add_partitions(name, count)?;
        let mut partitions = topic.partitions.clone();
        let first_new = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        for index in first_new..count {
            partitions.push(self.open_partition(&topic.name, topic.id, index, &topic.settings)?);
        }
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            overrides: topic.overrides.clone(),
            settings: topic.settings.clone(),
        });
        self.persist_with(Some(record_of(&updated)), None)?;
        relock(self.topics.write()).insert(name.to_string(), updated.clone());
        info!(topic = name, partitions = count, "added partitions");
        Ok(updated)
    }

    /// Check a topic's complete new set of overrides; returns the resolved settings.
    pub fn check_configs(
        &self,
        name: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(Arc<Topic>, TopicSettings), TopicError> {
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        for (key, value) in overrides {
            topic_config::validate_override(key, value).map_err(TopicError::InvalidConfig)?;
        }
        let settings =
            topic_config::resolve(&self.broker, overrides).map_err(TopicError::InvalidConfig)?;
        Ok((topic, settings))
    }

    /// Replace a topic's overrides (AlterConfigs semantics; IncrementalAlterConfigs computes
    /// the new set first). The partitions' logs take the new settings at once.
    pub fn set_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _change = relock(self.changes.lock());
        let (topic, settings) = self.check_configs(name, &overrides)?;
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            overrides,
            settings,
        });
        self.persist_with(Some(record_of(&updated)), None)?;
        for partition in &updated.partitions {
            partition.log.set_config(updated.settings.log.clone())?;
        }
        relock(self.topics.write()).insert(name.to_string(), updated.clone());
        info!(topic = name, configs = ?updated.overrides, "altered topic configs");
        Ok(updated)
    }

    /// Write `topics.json` with `upsert` replacing (or adding) its topic and `remove` gone.
    fn persist_with(
        &self,
        upsert: Option<TopicRecord>,
        remove: Option<&str>,
    ) -> Result<(), TopicError> {
        let mut records: BTreeMap<String, TopicRecord> = relock(self.topics.read())
            .values()
            .map(|t| (t.name.to_string(), record_of(t)))
            .collect();
        if let Some(record) = upsert {
            records.insert(record.name.clone(), record);
        }
        if let Some(name) = remove {
            records.remove(name);
        }
        let file = TopicsFile {
            version: 1,
            topics: records.into_values().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| TopicError::Storage(format!("encoding topics.json: {e}")))?;
        let path = self.data_dir.join(TOPICS_FILE);
        write_atomically(self.storage.as_ref(), &path, &bytes).map_err(|e| io_error(&path, e))
    }

    /// Close every partition log cleanly (clean-shutdown markers).
    pub fn close_all(&self) {
        for partition in self.partitions() {
            if let Err(e) = partition.log.close() {
                warn!(topic = %partition.topic, partition = partition.index, %e, "closing a partition log");
            }
        }
    }
}

fn record_of(topic: &Topic) -> TopicRecord {
    TopicRecord {
        name: topic.name.to_string(),
        id: topic.id,
        partitions: i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX),
        configs: topic.overrides.clone(),
    }
}

/// Remove what deletions left behind (`*-delete` directories) before anything is opened.
fn remove_deleted_dirs(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && path.to_string_lossy().ends_with("-delete") {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                warn!(dir = %path.display(), %e, "cannot remove a deleted partition directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_log::SystemClock;

    fn registry(dir: &Path) -> TopicRegistry {
        TopicRegistry::open(
            dir,
            Arc::new(BrokerConfig::default()),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    #[test]
    fn topic_names_are_validated_as_kafka_does() {
        for good in ["a", "orders.v1", "my_topic-2", &"x".repeat(249)] {
            validate_topic_name(good).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "has space",
            "slash/no",
            "ü",
            &"x".repeat(250),
        ] {
            assert!(
                matches!(validate_topic_name(bad), Err(TopicError::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn topics_survive_a_reopen_with_ids_partitions_and_configs() {
        let dir = tempfile::tempdir().unwrap();
        let configs: BTreeMap<_, _> = [("retention.ms".to_string(), "1000".to_string())].into();
        let id = {
            let reg = registry(dir.path());
            let t = reg.create("orders", 3, -1, configs.clone()).unwrap();
            reg.add_partitions("orders", 4).unwrap();
            reg.close_all();
            t.id
        };
        let reg = registry(dir.path());
        let t = reg.get("orders").unwrap();
        assert_eq!((t.id, t.partitions.len()), (id, 4));
        assert_eq!(t.overrides, configs);
        assert_eq!(t.settings.log.retention_ms, 1000);
        assert!(t.partitions[3].log.recovery_report().clean);
    }

    #[test]
    fn create_refuses_duplicates_collisions_and_bad_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path());
        reg.create("a.b", 1, 1, BTreeMap::new()).unwrap();
        assert!(matches!(
            reg.create("a.b", 1, 1, BTreeMap::new()),
            Err(TopicError::AlreadyExists(_))
        ));
        let err = reg.create("a_b", 1, 1, BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("collides"), "{err}");
        assert!(matches!(
            reg.create("c", 0, 1, BTreeMap::new()),
            Err(TopicError::InvalidPartitions(_))
        ));
        let err = reg.create("c", 1, 3, BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("larger than available brokers: 1"),
            "{err}"
        );
        let bad: BTreeMap<_, _> = [("retention.ms".to_string(), "x".to_string())].into();
        assert!(matches!(
            reg.create("c", 1, 1, bad),
            Err(TopicError::InvalidConfig(_))
        ));
        assert!(reg.get("c").is_none());
    }

    #[test]
    fn a_deleted_and_recreated_topic_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path());
        let t = reg.create("t", 1, 1, BTreeMap::new()).unwrap();
        let mut b = fastdata_log::batch::BatchBuilder::new(fastdata_log::batch::Compression::None);
        b.append(1, None, Some(b"v"), &[]);
        t.partitions[0].log.append(b.build().unwrap(), 0).unwrap();
        reg.delete("t").unwrap();
        assert!(reg.get("t").is_none());
        let again = reg.create("t", 1, 1, BTreeMap::new()).unwrap();
        assert_ne!(again.id, t.id);
        assert_eq!(again.partitions[0].log.log_end_offset(), 0);
    }

    #[test]
    fn a_stray_directory_is_set_aside_not_served() {
        let dir = tempfile::tempdir().unwrap();
        {
            let reg = registry(dir.path());
            let t = reg.create("t", 1, 1, BTreeMap::new()).unwrap();
            let mut b =
                fastdata_log::batch::BatchBuilder::new(fastdata_log::batch::Compression::None);
            b.append(1, None, Some(b"old"), &[]);
            t.partitions[0].log.append(b.build().unwrap(), 0).unwrap();
            reg.close_all();
        }
        // The metadata says another topic id (as if deleted and recreated while down).
        let path = dir.path().join(TOPICS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file: TopicsFile = serde_json::from_str(&text).unwrap();
        file.topics[0].id = Uuid::new_v4();
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        let reg = registry(dir.path());
        assert_eq!(reg.get("t").unwrap().partitions[0].log.log_end_offset(), 0);
        let strays = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with("-stray")
            })
            .count();
        assert_eq!(strays, 1);
    }
}
