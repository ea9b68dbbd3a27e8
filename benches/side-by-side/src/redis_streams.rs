//! `redis`: Redis streams with the `redis` crate on one multiplexed connection. XADD: each
//! operation is one `XADD <stream> * v <value>` awaiting its reply, the workers' operations
//! pipelined on the connection. XREAD: the stream from the start to its length at the start in
//! `XREAD COUNT <batch>` calls. The reports give the server's version and persistence settings
//! as `INFO` and `CONFIG GET` tell them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use fastdata_benches::load::letters;
use fastdata_benches::load::{self, BoxError, Done, LoadConfig, Report, Workload};
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::rngs::SmallRng;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use crate::read::{read_all, BatchSource, Limits, Read};

/// Where and what.
pub struct Settings {
    /// The server's `HOST:PORT`.
    pub addr: String,
    /// The stream's key.
    pub stream: String,
    /// Bytes of each entry's value.
    pub record_size: usize,
    /// Entries per XREAD.
    pub batch: usize,
}

/// The longest a reply may take (an XREAD of a big batch included).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

async fn connect(addr: &str) -> anyhow::Result<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{addr}/"))
        .with_context(|| format!("the address {addr:?}"))?;
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("connecting")
}

/// `CONFIG GET name`'s value.
async fn config_get(conn: &mut MultiplexedConnection, name: &str) -> anyhow::Result<String> {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .with_context(|| format!("CONFIG GET {name}"))?;
    match pair.as_slice() {
        [_, value] => Ok(value.clone()),
        other => bail!("CONFIG GET {name} answered {other:?}"),
    }
}

/// The report's settings that describe the server: its version and how durable a write is.
async fn describe(conn: &mut MultiplexedConnection, report: Report) -> anyhow::Result<Report> {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .context("INFO server")?;
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("unknown");
    let durability = format!(
        "appendonly {}, appendfsync {}, save {:?} (the server's config)",
        config_get(conn, "appendonly").await?,
        config_get(conn, "appendfsync").await?,
        config_get(conn, "save").await?,
    );
    Ok(report
        .with("server", format!("redis {}", version.trim()))
        .with("durability", durability))
}

struct XAdd {
    conn: MultiplexedConnection,
    /// The same command every time (the value does not change).
    command: Arc<redis::Cmd>,
    bytes: u64,
}

impl Workload for XAdd {
    fn kinds(&self) -> &'static [&'static str] {
        &["xadd"]
    }

    fn start(
        &self,
        _worker: usize,
        _seq: u64,
        _rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>> {
        let (mut conn, command, bytes) = (self.conn.clone(), self.command.clone(), self.bytes);
        async move {
            command.query_async::<()>(&mut conn).await?;
            Ok(Done { kind: 0, bytes })
        }
        .boxed()
    }
}

/// Appends to the stream as `config` paces it and reports entries/s, MB/s and latencies.
pub async fn xadd(settings: &Settings, config: &LoadConfig) -> anyhow::Result<Report> {
    let mut conn = connect(&settings.addr).await?;
    let mut command = redis::cmd("XADD");
    command
        .arg(&settings.stream)
        .arg("*")
        .arg("v")
        .arg(&letters(settings.record_size, 1)[..]);
    let workload = Arc::new(XAdd {
        conn: conn.clone(),
        command: Arc::new(command),
        bytes: settings.record_size as u64,
    });
    let report = load::run("redis xadd", workload, config).await;
    let report = describe(&mut conn, report).await?;
    Ok(report
        .with("stream", &settings.stream)
        .with(
            "record size",
            format!("{} B (one field)", settings.record_size),
        )
        .with(
            "connection",
            "one multiplexed connection (the XADDs in flight pipelined)",
        ))
}

struct XRead {
    conn: MultiplexedConnection,
    stream: String,
    batch: u64,
    /// The id of the last entry read (XREAD returns the entries after it).
    last: String,
}

/// XREAD's reply: per stream, its entries as (id, [field, value, ...]); nil when none.
type XReadReply = Option<Vec<(String, Vec<(String, Vec<Vec<u8>>)>)>>;

impl BatchSource for XRead {
    async fn next_batch(&mut self, want: u64) -> anyhow::Result<Read> {
        let reply: XReadReply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(want.min(self.batch))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(&self.last)
            .query_async(&mut self.conn)
            .await
            .with_context(|| format!("XREAD after {}", self.last))?;
        let mut read = Read::default();
        for (_, entries) in reply.into_iter().flatten() {
            for (id, fields) in entries {
                read.records += 1;
                read.bytes += fields
                    .iter()
                    .skip(1)
                    .step_by(2)
                    .map(|value| value.len() as u64)
                    .sum::<u64>();
                self.last = id;
            }
        }
        Ok(read)
    }
}

/// Reads the stream from the start to its length at the start and reports entries/s and MB/s
/// (field values).
pub async fn xread(settings: &Settings, limits: &Limits) -> anyhow::Result<Report> {
    let mut conn = connect(&settings.addr).await?;
    let length: u64 = redis::cmd("XLEN")
        .arg(&settings.stream)
        .query_async(&mut conn)
        .await
        .with_context(|| format!("XLEN {}", settings.stream))?;
    if length == 0 {
        bail!(
            "the stream {:?} is empty (run --op xadd first)",
            settings.stream
        );
    }
    let mut source = XRead {
        conn: conn.clone(),
        stream: settings.stream.clone(),
        batch: settings.batch as u64,
        last: "0-0".to_string(),
    };
    let report = read_all("redis xread", &mut source, length, limits).await?;
    let report = describe(&mut conn, report).await?;
    Ok(report
        .with("stream", &settings.stream)
        .with("batch", format!("XREAD COUNT {}", settings.batch)))
}
