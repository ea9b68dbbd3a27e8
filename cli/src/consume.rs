//! `fastdata consume`: print records, one per line (the value by default), in the manner of
//! `kafka-console-consumer.sh`, with kcat-style `--format` templates.
//!
//! With `--group G` the consumer joins the group (partitions assigned by the group, starting
//! from its committed offsets, `--from-beginning` applying only where it has none) and, when it
//! exits (after `--max` records, `--timeout-ms` without a record, or Ctrl-C / SIGTERM), commits
//! the offsets of exactly what it printed. Without a group it reads every partition (or the
//! one `--partition` names) from the end, the beginning, or `--offset`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use fastdata_client::admin::{Admin, AdminConfig};
use fastdata_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
use fastdata_client::types::{OffsetAndMetadata, TopicPartition};

use crate::client_args::{interrupted, runtime, Bootstrap};

/// How long one `poll` waits before the loop checks for an interrupt.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// `fastdata consume ...`
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    /// The topic to read.
    #[arg(long)]
    topic: String,
    /// Consume as a member of this group (committing what was printed on exit).
    #[arg(long)]
    group: Option<String>,
    /// Start from the earliest offset (with a group: where the group has no committed offset).
    #[arg(long)]
    from_beginning: bool,
    /// Read only this partition (no group).
    #[arg(long, conflicts_with = "group")]
    partition: Option<i32>,
    /// Start at this offset of --partition.
    #[arg(long, requires = "partition")]
    offset: Option<i64>,
    /// Exit after this many records.
    #[arg(long)]
    max: Option<u64>,
    /// Exit when no record arrives for this long.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Output: value (default), key-value (KEY<TAB>VALUE), json, or a template with %t topic,
    /// %p partition, %o offset, %k key, %v or %s value, %T timestamp (ms), %h headers, %%,
    /// and \n, \t escapes, e.g. '%p %o %k %s\n'.
    #[arg(long, default_value = "value")]
    format: String,
}

/// How each record is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    Json,
    Template(String),
}

impl Format {
    fn parse(spec: &str) -> Format {
        match spec {
            "value" => Format::Template("%v\n".to_string()),
            "key-value" => Format::Template("%k\t%v\n".to_string()),
            "json" => Format::Json,
            template => Format::Template(template.replace("\\n", "\n").replace("\\t", "\t")),
        }
    }

    fn render(&self, r: &ConsumerRecord, out: &mut Vec<u8>) {
        match self {
            Format::Json => {
                let text = |b: &Option<bytes::Bytes>| {
                    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
                };
                let headers: serde_json::Map<String, serde_json::Value> = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.key.clone(),
                            text(&h.value)
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                let line = serde_json::json!({
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "timestamp": r.timestamp_ms,
                    "key": text(&r.key),
                    "value": text(&r.value),
                    "headers": headers,
                });
                out.extend_from_slice(line.to_string().as_bytes());
                out.push(b'\n');
            }
            Format::Template(template) => {
                let mut chars = template.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        continue;
                    }
                    match chars.next() {
                        Some('t') => out.extend_from_slice(r.topic.as_bytes()),
                        Some('p') => out.extend_from_slice(r.partition.to_string().as_bytes()),
                        Some('o') => out.extend_from_slice(r.offset.to_string().as_bytes()),
                        Some('T') => out.extend_from_slice(r.timestamp_ms.to_string().as_bytes()),
                        Some('k') => out.extend_from_slice(r.key.as_deref().unwrap_or_default()),
                        Some('v' | 's') => {
                            out.extend_from_slice(r.value.as_deref().unwrap_or_default())
                        }
                        Some('h') => {
                            let headers: Vec<String> = r
                                .headers
                                .iter()
                                .map(|h| {
                                    format!(
                                        "{}={}",
                                        h.key,
                                        String::from_utf8_lossy(
                                            h.value.as_deref().unwrap_or_default()
                                        )
                                    )
                                })
                                .collect();
                            out.extend_from_slice(headers.join(",").as_bytes());
                        }
                        Some('%') => out.push(b'%'),
                        Some(other) => {
                            out.push(b'%');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                        }
                        None => out.push(b'%'),
                    }
                }
            }
        }
    }
}

/// Runs `fastdata consume`.
pub fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format);
    runtime()?.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::spawn(async move {
            interrupted().await;
            flag.store(true, Ordering::SeqCst);
        });
        let config = ConsumerConfig {
            group_id: args.group.clone(),
            client_id: "fastdata-consume".to_string(),
            enable_auto_commit: false,
            auto_offset_reset: if args.from_beginning {
                OffsetReset::Earliest
            } else {
                OffsetReset::Latest
            },
            ..ConsumerConfig::new(args.bootstrap.bootstrap.clone())
        };
        let mut consumer = Consumer::new(config)?;
        if args.group.is_some() {
            consumer.subscribe([args.topic.clone()])?;
        } else {
            let partitions = match args.partition {
                Some(p) => vec![p],
                None => topic_partitions(&args.bootstrap.bootstrap, &args.topic).await?,
            };
            let tps: Vec<TopicPartition> = partitions
                .iter()
                .map(|&p| TopicPartition::new(args.topic.clone(), p))
                .collect();
            consumer.assign(tps.clone())?;
            match (args.offset, args.from_beginning) {
                (Some(offset), _) => {
                    for tp in &tps {
                        consumer.seek(tp, offset)?;
                    }
                }
                (None, true) => consumer.seek_to_beginning(&tps)?,
                (None, false) => consumer.seek_to_end(&tps)?,
            }
        }
        let outcome = consume(&mut consumer, &args, &format, &stop).await;
        let (printed, result) = match outcome {
            Ok(printed) => (printed, Ok(())),
            Err((printed, e)) => (printed, Err(e)),
        };
        if args.group.is_some() && !printed.is_empty() {
            consumer
                .commit_offsets_sync(printed)
                .await
                .context("committing the offsets of what was printed")?;
        }
        consumer.close().await.context("closing the consumer")?;
        result.map(|()| ExitCode::SUCCESS)
    })
}

type Printed = BTreeMap<TopicPartition, OffsetAndMetadata>;

/// Poll and print until `--max`, `--timeout-ms` or an interrupt. Returns the next offset of
/// every partition printed from, also when polling failed.
async fn consume(
    consumer: &mut Consumer,
    args: &ConsumeArgs,
    format: &Format,
    stop: &AtomicBool,
) -> Result<Printed, (Printed, anyhow::Error)> {
    let mut printed = Printed::new();
    let mut count = 0u64;
    let mut last_record = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let timeout = args.timeout_ms.map(Duration::from_millis);
    while !stop.load(Ordering::SeqCst) && args.max.is_none_or(|max| count < max) {
        if timeout.is_some_and(|t| last_record.elapsed() >= t) {
            break;
        }
        let records = match consumer.poll(POLL_INTERVAL).await {
            Ok(records) => records,
            Err(e) => return Err((printed, anyhow::Error::new(e).context("polling"))),
        };
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for r in records {
            if args.max.is_some_and(|max| count >= max) {
                break;
            }
            format.render(&r, &mut out);
            printed.insert(
                TopicPartition::new(r.topic.clone(), r.partition),
                OffsetAndMetadata::new(r.offset + 1),
            );
            count += 1;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
            // A closed pipe (| head) ends the command; what was written counts as printed.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err((printed, anyhow::Error::new(e).context("writing to stdout")));
        }
        out.clear();
    }
    Ok(printed)
}

async fn topic_partitions(bootstrap: &str, topic: &str) -> anyhow::Result<Vec<i32>> {
    let admin = Admin::new(AdminConfig::new(bootstrap.to_string()))?;
    let mut described = admin.describe_topics(&[topic]).await;
    admin.close();
    let description = match described.as_mut().map(|d| d.remove(topic)) {
        Ok(Some(Ok(d))) => d,
        Ok(Some(Err(e))) => return Err(e).with_context(|| format!("describing topic {topic}")),
        Ok(None) => bail!("topic {topic} is not in the broker's answer"),
        Err(e) => bail!("describing topic {topic}: {e}"),
    };
    Ok(description.partitions.iter().map(|p| p.partition).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use fastdata_client::consumer::TimestampType;
    use fastdata_client::types::Header;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 17,
            timestamp_ms: 1000,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![Header::new("h", Some(Bytes::from_static(b"x")))],
            leader_epoch: Some(0),
        }
    }

    fn render(spec: &str) -> String {
        let mut out = Vec::new();
        Format::parse(spec).render(&record(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_print_what_they_name() {
        assert_eq!(render("value"), "v\n");
        assert_eq!(render("key-value"), "k\tv\n");
        assert_eq!(
            render("%t %p %o %k %s %T %h %% %q\\n"),
            "t 2 17 k v 1000 h=x % %q\n"
        );
        let json: serde_json::Value = serde_json::from_str(&render("json")).unwrap();
        assert_eq!(json["offset"], 17);
        assert_eq!(json["value"], "v");
        assert_eq!(json["headers"]["h"], "x");
    }
}
