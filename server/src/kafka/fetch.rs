//! Fetch: whole batches as stored, with long polling.
//!
//! Each partition is read from `fetch_offset` (the batch holding it may start earlier; clients
//! skip the records before their position) up to `partition_max_bytes`, never past the high
//! watermark, and the whole response stays within `max_bytes` (capped by the broker's
//! `fetch.max.bytes`), except that the first batch of the first partition with data is returned
//! even if it is larger (KIP-74), so a consumer can always make progress. If fewer than
//! `min_bytes` are available the request waits, up to `max_wait_ms`, for any of its partitions'
//! high watermarks to move. The last stable offset is the high watermark (no transactions),
//! the log start offset is reported (v5+), and no fetch session is created (session id 0,
//! KIP-227: clients then send full requests).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fastdata_log::batch::{BatchHeader, HEADER_LEN};
use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::fetch_response::{
    EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use fastdata_protocol::kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;

use super::errors::KafkaError;
use super::{blocking, RequestContext};
use crate::broker::Broker;
use crate::topics::Partition;

/// Longest a fetch may wait, whatever it asks (Kafka has no such cap; a client's request
/// timeout is shorter anyway).
const MAX_WAIT_CAP: Duration = Duration::from_secs(60);

struct Wanted {
    topic: String,
    index: i32,
    fetch_offset: i64,
    max_bytes: usize,
    current_leader_epoch: i32,
    last_fetched_epoch: i32,
}

/// The offset after the last whole batch in `records`.
fn next_offset_after(records: &[u8]) -> Option<i64> {
    let mut position = 0usize;
    let mut next = None;
    while position + HEADER_LEN <= records.len() {
        let header = BatchHeader::parse(&records[position..]).ok()?;
        position = position.checked_add(header.total_size())?;
        if position > records.len() {
            break;
        }
        next = Some(header.next_offset());
    }
    next
}

/// Read one partition: batches from `w.fetch_offset`, at most `budget` bytes (or the first
/// batch alone when `min_one_batch` and it is larger), crossing segments as needed.
fn read_partition(
    partition: &Partition,
    w: &Wanted,
    budget: usize,
    min_one_batch: bool,
) -> Result<(Bytes, i64, i64), KafkaError> {
    let high_watermark = partition.high_watermark();
    let (log_start, log_end) = (
        partition.log.log_start_offset(),
        partition.log.log_end_offset(),
    );
    if w.fetch_offset < log_start || w.fetch_offset > log_end {
        return Err(KafkaError::new(
            ResponseError::OffsetOutOfRange,
            format!(
                "fetch offset {} is out of range [{log_start}, {log_end}]",
                w.fetch_offset
            ),
        ));
    }
    let mut offset = w.fetch_offset;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let mut log_start = log_start;
    while offset < high_watermark && total < budget {
        let read = partition
            .log
            .read(
                offset,
                budget - total,
                Some(high_watermark),
                min_one_batch && total == 0,
            )
            .map_err(|e| super::errors::from_log(&e))?;
        log_start = read.log_start_offset;
        if read.records.is_empty() {
            break;
        }
        let Some(next) = next_offset_after(&read.records) else {
            break;
        };
        total += read.records.len();
        chunks.push(read.records);
        if next <= offset {
            break;
        }
        offset = next;
    }
    let records = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut joined = BytesMut::with_capacity(total);
            for c in chunks {
                joined.extend_from_slice(&c);
            }
            joined.freeze()
        }
    };
    Ok((records, high_watermark, log_start))
}

/// One pass over every wanted partition; the response and how many bytes it carries.
fn read_all(
    broker: &Broker,
    wanted: &[Wanted],
    max_bytes: usize,
    api_version: i16,
) -> (Vec<(String, PartitionData)>, usize, bool) {
    let mut remaining = max_bytes;
    let mut total = 0usize;
    let mut any_error = false;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let mut data = PartitionData::default().with_partition_index(w.index);
        let partition = broker
            .topics
            .get(&w.topic)
            .and_then(|t| t.partition(w.index).cloned());
        let result = match partition {
            None => Err(KafkaError::new(ResponseError::UnknownTopicOrPartition, "")),
            Some(p) => {
                if w.current_leader_epoch > broker.leader_epoch() {
                    Err(KafkaError::new(ResponseError::UnknownLeaderEpoch, ""))
                } else if w.current_leader_epoch >= 0
                    && w.current_leader_epoch < broker.leader_epoch()
                {
                    Err(KafkaError::new(ResponseError::FencedLeaderEpoch, ""))
                } else {
                    let diverging = (api_version >= 12 && w.last_fetched_epoch >= 0)
                        .then(|| p.log.end_offset_for_epoch(w.last_fetched_epoch))
                        .filter(|&(epoch, end)| {
                            epoch >= 0 && (epoch < w.last_fetched_epoch || end < w.fetch_offset)
                        });
                    if let Some((epoch, end_offset)) = diverging {
                        data.diverging_epoch = EpochEndOffset::default()
                            .with_epoch(epoch)
                            .with_end_offset(end_offset);
                        data.high_watermark = p.high_watermark();
                        data.last_stable_offset = data.high_watermark;
                        data.log_start_offset = p.log.log_start_offset();
                        Ok(None)
                    } else {
                        let budget = w.max_bytes.min(remaining);
                        read_partition(&p, w, budget, total == 0).map(Some)
                    }
                }
            }
        };
        match result {
            Ok(Some((records, high_watermark, log_start))) => {
                data.high_watermark = high_watermark;
                data.last_stable_offset = high_watermark;
                if api_version >= 5 {
                    data.log_start_offset = log_start;
                }
                remaining = remaining.saturating_sub(records.len());
                total += records.len();
                data.records = Some(records);
                data.aborted_transactions = Some(Vec::new());
            }
            Ok(None) => {
                data.records = Some(Bytes::new());
                data.aborted_transactions = Some(Vec::new());
            }
            Err(e) => {
                any_error = true;
                broker.metrics.error("Fetch", e.code);
                data.error_code = e.code;
                data.high_watermark = -1;
                data.last_stable_offset = -1;
                data.records = Some(Bytes::new());
            }
        }
        if api_version < 5 {
            data.log_start_offset = -1;
        }
        out.push((w.topic.clone(), data));
    }
    (out, total, any_error)
}

/// Fetch: see the module documentation.
pub(crate) async fn handle_fetch(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: FetchRequest,
) -> FetchResponse {
    let wanted: Vec<Wanted> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| Wanted {
                topic: t.topic.0.to_string(),
                index: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: p.last_fetched_epoch,
            })
        })
        .collect();
    let fetch_cap = usize::try_from(broker.config.fetch_max_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0).min(fetch_cap);
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let max_wait =
        Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::now() + max_wait;
    let wanted = Arc::new(wanted);

    // Subscribe before reading, so an append between the read and the wait is not missed.
    let mut watches: Vec<watch::Receiver<i64>> = wanted
        .iter()
        .filter_map(|w| {
            broker
                .topics
                .get(&w.topic)?
                .partition(w.index)
                .map(|p| p.watch_high_watermark())
        })
        .collect();
    let (partitions, total) = loop {
        for w in &mut watches {
            w.borrow_and_update();
        }
        let b = broker.clone();
        let ws = wanted.clone();
        let version = ctx.api_version;
        let Some((partitions, total, any_error)) =
            blocking(move || read_all(&b, &ws, max_bytes, version)).await
        else {
            break (Vec::new(), 0);
        };
        let expired = tokio::time::Instant::now() >= deadline;
        if total >= min_bytes.max(1)
            || any_error
            || expired
            || max_wait.is_zero()
            || watches.is_empty()
        {
            break (partitions, total);
        }
        let changed =
            futures::future::select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = broker.shutdown.cancelled() => {}
        }
        if broker.shutdown.is_cancelled() {
            break (partitions, total);
        }
    };
    broker.metrics.fetched(total as u64);

    let responses = super::group_by_topic(partitions)
        .into_iter()
        .map(|(topic, partitions)| {
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_string(topic)))
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default()
        .with_session_id(0)
        .with_responses(responses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_log::batch::{BatchBuilder, Compression};

    #[test]
    fn next_offset_follows_the_last_whole_batch() {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(1, None, Some(b"a"), &[]);
        b.append(1, None, Some(b"b"), &[]);
        let mut batch = b.build().unwrap().to_vec();
        fastdata_log::batch::stamp(&mut batch, 10, 0);
        let mut two = batch.clone();
        let mut second = batch.clone();
        fastdata_log::batch::stamp(&mut second, 12, 0);
        two.extend_from_slice(&second);
        assert_eq!(next_offset_after(&batch), Some(12));
        assert_eq!(next_offset_after(&two), Some(14));
        assert_eq!(next_offset_after(&two[..two.len() - 1]), Some(12));
        assert_eq!(next_offset_after(&[]), None);
    }
}
