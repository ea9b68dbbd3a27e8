//! `fastdata bench store`: YCSB's core workloads over CQL with the `scylla` driver, against any
//! CQL node (ours, Cassandra, ScyllaDB).
//!
//! The table is YCSB's: `usertable (y_id text PRIMARY KEY, field0 text, ..., fieldN text)`
//! in a keyspace with SimpleStrategy and one replica, created if missing. Keys are `user<n>`.
//! Every statement is prepared, at the consistency asked. The workloads (YCSB's
//! `workloads/workload[a-f]`):
//!
//! | workload | operations | keys |
//! |---|---|---|
//! | load | insert records 0..N, every field | in order |
//! | a | 50% read, 50% update | zipfian |
//! | b | 95% read, 5% update | zipfian |
//! | c | 100% read | zipfian |
//! | d | 95% read, 5% insert of new records | latest |
//! | f | 50% read, 50% read-modify-write | zipfian |
//!
//! A read selects every field; an update writes one field chosen at random, as YCSB does by
//! default (`writeallfields=false`); a read-modify-write reads the record and then updates one
//! field, its latency being both.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use rand::rngs::SmallRng;
use rand::Rng;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use crate::load::keys::{KeyChooser, KeyDistribution};
use crate::load::{self, letters, BoxError, Done, LoadConfig, Pace, Report, Workload};

/// One of YCSB's core workloads, or the load phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YcsbWorkload {
    /// Insert every record once.
    Load,
    /// Update heavy.
    A,
    /// Read mostly.
    B,
    /// Read only.
    C,
    /// Read latest.
    D,
    /// Read-modify-write.
    F,
}

impl FromStr for YcsbWorkload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "load" => Ok(YcsbWorkload::Load),
            "a" => Ok(YcsbWorkload::A),
            "b" => Ok(YcsbWorkload::B),
            "c" => Ok(YcsbWorkload::C),
            "d" => Ok(YcsbWorkload::D),
            "f" => Ok(YcsbWorkload::F),
            other => Err(format!("{other:?} is not load, a, b, c, d or f")),
        }
    }
}

/// The kinds of operation, in the order of [`Mix`]'s fields.
const KINDS: &[&str] = &["read", "update", "insert", "rmw"];
const READ: usize = 0;
const UPDATE: usize = 1;
const INSERT: usize = 2;

/// Proportions of reads, updates, inserts and read-modify-writes, in percent.
struct Mix([u32; 4]);

impl YcsbWorkload {
    fn mix(self) -> Mix {
        Mix(match self {
            YcsbWorkload::Load => [0, 0, 100, 0],
            YcsbWorkload::A => [50, 50, 0, 0],
            YcsbWorkload::B => [95, 5, 0, 0],
            YcsbWorkload::C => [100, 0, 0, 0],
            YcsbWorkload::D => [95, 0, 5, 0],
            YcsbWorkload::F => [50, 0, 0, 50],
        })
    }

    /// YCSB's request distribution of the workload.
    pub fn default_distribution(self) -> KeyDistribution {
        match self {
            YcsbWorkload::D => KeyDistribution::Latest,
            _ => KeyDistribution::Zipfian,
        }
    }

    fn name(self) -> &'static str {
        match self {
            YcsbWorkload::Load => "load",
            YcsbWorkload::A => "a",
            YcsbWorkload::B => "b",
            YcsbWorkload::C => "c",
            YcsbWorkload::D => "d",
            YcsbWorkload::F => "f",
        }
    }
}

/// Where and what to run.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// A node's `HOST:PORT`.
    pub contact: String,
    /// The keyspace holding `usertable`.
    pub keyspace: String,
    /// Records in the table (the load phase inserts this many).
    pub records: u64,
    /// Fields per record.
    pub fields: usize,
    /// Bytes per field.
    pub field_bytes: usize,
    /// The workload.
    pub workload: YcsbWorkload,
    /// The request distribution (default: the workload's).
    pub distribution: Option<KeyDistribution>,
    /// The consistency level of every statement.
    pub consistency: Consistency,
}

struct Statements {
    read: PreparedStatement,
    /// One per field: `UPDATE usertable SET field<i> = ? WHERE y_id = ?`.
    update: Vec<PreparedStatement>,
    insert: PreparedStatement,
}

struct StoreLoad {
    session: Session,
    statements: Statements,
    workload: YcsbWorkload,
    keys: KeyChooser,
    /// Records that exist (or are being inserted): the next insert's number.
    inserted: AtomicU64,
    records: u64,
    value: String,
    fields: usize,
}

/// The key of record `n`, as YCSB names them (`user<n>`).
pub fn key(n: u64) -> String {
    format!("user{n}")
}

impl StoreLoad {
    fn pick_kind(&self, rng: &mut SmallRng) -> usize {
        let mut roll = rng.gen_range(0..100);
        for (kind, share) in self.workload.mix().0.iter().enumerate() {
            if roll < *share {
                return kind;
            }
            roll -= share;
        }
        READ
    }

    async fn read(&self, n: u64) -> Result<u64, BoxError> {
        let rows = self
            .session
            .execute_unpaged(&self.statements.read, (key(n),))
            .await?
            .into_rows_result()?
            .rows_num();
        Ok((rows * self.fields * self.value.len()) as u64)
    }

    async fn update(&self, n: u64, field: usize) -> Result<u64, BoxError> {
        let statement = &self.statements.update[field % self.statements.update.len()];
        self.session
            .execute_unpaged(statement, (&self.value, key(n)))
            .await?;
        Ok(self.value.len() as u64)
    }

    async fn insert(&self, n: u64) -> Result<u64, BoxError> {
        let k = key(n);
        let mut row: Vec<&str> = Vec::with_capacity(self.fields + 1);
        row.push(&k);
        row.extend(std::iter::repeat_n(self.value.as_str(), self.fields));
        self.session
            .execute_unpaged(&self.statements.insert, row)
            .await?;
        Ok((self.fields * self.value.len()) as u64)
    }
}

/// The workload's operations run on a shared `StoreLoad`.
struct Shared(Arc<StoreLoad>);

impl Workload for Shared {
    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }

    fn start(
        &self,
        _worker: usize,
        _seq: u64,
        rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>> {
        let this = self.0.clone();
        let kind = this.pick_kind(rng);
        let field = rng.gen_range(0..this.fields.max(1));
        let existing = if this.workload == YcsbWorkload::D {
            this.inserted.load(Ordering::Relaxed)
        } else {
            this.records
        };
        let n = match kind {
            INSERT => this.inserted.fetch_add(1, Ordering::Relaxed),
            _ => this.keys.choose(existing, rng),
        };
        async move {
            let bytes = match kind {
                READ => this.read(n).await?,
                UPDATE => this.update(n, field).await?,
                INSERT => this.insert(n).await?,
                _ => this.read(n).await? + this.update(n, field).await?,
            };
            Ok(Done { kind, bytes })
        }
        .boxed()
    }
}

/// Connects, creates the keyspace and table if missing, and prepares the statements.
async fn connect(settings: &StoreSettings) -> Result<(Session, Statements), BoxError> {
    let session = SessionBuilder::new()
        .known_node(&settings.contact)
        .build()
        .await?;
    let ks = &settings.keyspace;
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = \
                 {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
            ),
            (),
        )
        .await?;
    let fields: Vec<String> = (0..settings.fields.max(1))
        .map(|i| format!("field{i}"))
        .collect();
    let columns: Vec<String> = fields.iter().map(|f| format!("{f} text")).collect();
    session
        .query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.usertable (y_id text PRIMARY KEY, {})",
                columns.join(", ")
            ),
            (),
        )
        .await?;
    let prepare = |cql: String| {
        let session = &session;
        async move {
            let mut statement = session.prepare(cql).await?;
            statement.set_consistency(settings.consistency);
            Ok::<_, BoxError>(statement)
        }
    };
    let read = prepare(format!("SELECT * FROM {ks}.usertable WHERE y_id = ?")).await?;
    let mut update = Vec::with_capacity(fields.len());
    for f in &fields {
        update.push(prepare(format!("UPDATE {ks}.usertable SET {f} = ? WHERE y_id = ?")).await?);
    }
    let marks = vec!["?"; fields.len() + 1].join(", ");
    let insert = prepare(format!(
        "INSERT INTO {ks}.usertable (y_id, {}) VALUES ({marks})",
        fields.join(", ")
    ))
    .await?;
    Ok((
        session,
        Statements {
            read,
            update,
            insert,
        },
    ))
}

/// Runs the workload (for `load`, until every record is inserted or the duration passes).
pub async fn run(settings: &StoreSettings, load: &LoadConfig) -> Result<Report, BoxError> {
    let (session, statements) = connect(settings).await?;
    let distribution = settings
        .distribution
        .unwrap_or(settings.workload.default_distribution());
    let store = Arc::new(StoreLoad {
        session,
        statements,
        workload: settings.workload,
        keys: KeyChooser::new(distribution, settings.records),
        inserted: AtomicU64::new(if settings.workload == YcsbWorkload::Load {
            0
        } else {
            settings.records
        }),
        records: settings.records,
        value: String::from_utf8_lossy(&letters(settings.field_bytes, 2)).into_owned(),
        fields: settings.fields.max(1),
    });
    let mut load = load.clone();
    if settings.workload == YcsbWorkload::Load {
        load.max_ops = Some(settings.records);
        if load.pace == Pace::Closed {
            // As fast as it goes, the load phase ends when every record is in (within an hour).
            load.warmup = Duration::ZERO;
            load.duration = Duration::from_secs(3600);
        }
    }
    let name = format!("store workload {}", settings.workload.name());
    let report = load::run(&name, Arc::new(Shared(store)), &load).await;
    Ok(report
        .with("records", settings.records)
        .with(
            "record size",
            format!("{} fields x {} B", settings.fields, settings.field_bytes),
        )
        .with("distribution", format!("{distribution:?}").to_lowercase()))
}
