//! The Kafka listener: accepting connections, and per connection reading frames, handling
//! requests concurrently and writing answers back in request order.
//!
//! A connection is one task. It reads frames (Produce at most `socket.request.max.bytes`, every
//! other API at most `nonproduce.request.max.bytes`: a decoded request can be tens of times its
//! frame), reserving each frame's bytes from the broker-wide `queued.max.request.bytes` before
//! reading it, so the memory all clients can make the broker hold is bounded; it decodes
//! them ([`fastdata_protocol::kafka::decode_request`]) and spawns one task per request, at most
//! `max.inflight.requests.per.connection` at a time; past that it stops reading until answers
//! drain, so a client that pipelines without bound meets backpressure, not memory growth.
//! Answers are written in request order (a `FuturesOrdered` of the request tasks), as Kafka
//! clients require; `acks=0` produce requests get no answer. Produce requests of one connection
//! append in request order (each waits for the previous one's appends), which keeps an
//! idempotent producer's pipelined batches in sequence, while their fsync waits overlap.
//!
//! A decode error closes the connection after logging it, as Kafka does, with the exception
//! Kafka clients rely on: ApiVersions at an unsupported version is answered with a v0 body and
//! UNSUPPORTED_VERSION so the client retries at a version from its key list.

mod admin;
mod errors;
mod fetch;
mod groups;
mod metadata;
mod produce;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fastdata_protocol::kafka::{self as wire, FrameDecoder, Request, RequestBody, ResponseBody};
use fastdata_protocol::kafka_protocol::messages::ApiKey;
use fastdata_protocol::ProtocolError;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

use crate::broker::Broker;

/// What a handler wants sent back.
pub(crate) enum Reply {
    /// An answer.
    Body(ResponseBody),
    /// No answer (acks=0 produce).
    Nothing,
    /// No answer, and close the connection (acks=0 produce that failed: Kafka's way of telling
    /// the client).
    Close,
}

/// What a handler knows of the request besides its body.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    pub api_version: i16,
    pub client_id: String,
    pub peer: SocketAddr,
}

/// What the connection must do before reading the rest of the frame at the front of its
/// buffer.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Not enough bytes yet to tell.
    MoreBytes,
    /// The frame breaks a size limit: close the connection.
    Reject(String),
    /// Reserve this many bytes of `queued.max.request.bytes`, then read it.
    Reserve(u32),
}

/// Size limits of request frames by API.
#[derive(Debug, Clone, Copy)]
struct FrameLimits {
    produce: usize,
    other: usize,
}

/// Check the frame at the front of `buf` as soon as its length and API key are in: Produce
/// frames may use `socket.request.max.bytes`, every other API `nonproduce.request.max.bytes`.
fn admission(buf: &[u8], limits: FrameLimits) -> Admission {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Admission::MoreBytes;
    };
    let length = i32::from_be_bytes(*prefix);
    let Ok(length) = usize::try_from(length) else {
        return Admission::Reject(format!("frame length {length} is negative"));
    };
    // A frame too short for an API key fails to decode later; admit it as it is.
    let limit = if length < 2 {
        limits.produce
    } else {
        let Some(&[hi, lo]) = buf.get(4..6).and_then(|b| b.first_chunk::<2>()) else {
            return Admission::MoreBytes;
        };
        if i16::from_be_bytes([hi, lo]) == ApiKey::Produce as i16 {
            limits.produce
        } else {
            limits.other
        }
    };
    if length > limit {
        return Admission::Reject(format!(
            "frame of {length} bytes exceeds the limit of {limit} bytes for its API \
             (socket.request.max.bytes for Produce, nonproduce.request.max.bytes otherwise)"
        ));
    }
    Admission::Reserve(u32::try_from(length.saturating_add(4)).unwrap_or(u32::MAX))
}

/// Accept connections until shutdown; each is served by its own task.
pub(crate) async fn serve(broker: Arc<Broker>, listener: TcpListener) {
    let limit = usize::try_from(broker.config.max_connections).unwrap_or(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(limit));
    let budget = Arc::new(Semaphore::new(
        usize::try_from(broker.config.queued_max_request_bytes).unwrap_or(0),
    ));
    loop {
        let accepted = tokio::select! {
            _ = broker.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(%e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            warn!(%peer, limit, "max.connections reached; closing the new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let b = broker.clone();
        let budget = budget.clone();
        broker.tasks.spawn(async move {
            b.metrics.connection(1);
            if let Err(e) = serve_connection(&b, stream, peer, budget).await {
                debug!(%peer, %e, "connection closed");
            }
            b.metrics.connection(-1);
            drop(permit);
        });
    }
}

type Pending = FuturesOrdered<tokio::task::JoinHandle<Option<(i16, i32, Reply)>>>;

async fn serve_connection(
    broker: &Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    budget: Arc<Semaphore>,
) -> std::io::Result<()> {
    let limits = FrameLimits {
        produce: usize::try_from(broker.config.socket_request_max_bytes).unwrap_or(0),
        other: usize::try_from(broker.config.nonproduce_request_max_bytes).unwrap_or(0),
    };
    let decoder = FrameDecoder::new(limits.produce.max(limits.other));
    let max_inflight =
        usize::try_from(broker.config.max_inflight_requests_per_connection).unwrap_or(1);
    let idle = Duration::from_millis(
        u64::try_from(broker.config.connections_max_idle_ms).unwrap_or(u64::MAX),
    );
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::new();
    let mut pending: Pending = FuturesOrdered::new();
    // The previous produce request's "appended" signal: the next one appends after it.
    let mut produce_chain: Option<oneshot::Receiver<()>> = None;
    let mut closing = false;
    let mut last_activity = Instant::now();
    // The reservation of the frame being read, and the size of one waited for.
    let mut admitted: Option<OwnedSemaphorePermit> = None;
    let mut wanted: Option<u32> = None;
    loop {
        // Take every whole frame already buffered, while there is room in flight. A frame's
        // bytes are reserved from queued.max.request.bytes before the rest of it is read.
        while !closing && wanted.is_none() && pending.len() < max_inflight {
            if admitted.is_none() {
                match admission(&buf, limits) {
                    Admission::MoreBytes => break,
                    Admission::Reject(reason) => {
                        warn!(%peer, %reason, "closing the connection");
                        closing = true;
                        break;
                    }
                    Admission::Reserve(n) => match budget.clone().try_acquire_many_owned(n) {
                        Ok(permit) => admitted = Some(permit),
                        Err(_) => {
                            wanted = Some(n);
                            break;
                        }
                    },
                }
            }
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    warn!(%peer, %e, "bad frame; closing the connection");
                    closing = true;
                    break;
                }
            };
            let permit = admitted.take();
            match wire::decode_request(frame) {
                Ok(request) => {
                    let handle = dispatch(broker, request, peer, &mut produce_chain, permit);
                    pending.push_back(handle);
                }
                Err(ProtocolError::UnsupportedVersion {
                    api_key: ApiKey::ApiVersions,
                    api_version,
                    correlation_id,
                    ..
                }) => {
                    let reply = Reply::Body(wire::api_versions_response().into());
                    pending.push_back(tokio::spawn(async move {
                        Some((api_version, correlation_id, reply))
                    }));
                }
                Err(e) => {
                    warn!(%peer, %e, "undecodable request; closing the connection");
                    closing = true;
                }
            }
        }
        if closing && pending.is_empty() {
            writer.flush().await?;
            return Ok(());
        }
        let can_read = !closing && wanted.is_none() && pending.len() < max_inflight;
        let want = wanted.unwrap_or(0);
        tokio::select! {
            biased;
            // Shutdown: read no more requests, answer those in flight, then close.
            _ = broker.shutdown.cancelled(), if !closing => closing = true,
            permit = budget.clone().acquire_many_owned(want), if wanted.is_some() && !closing => {
                admitted = permit.ok();
                wanted = None;
            }
            Some(done) = pending.next(), if !pending.is_empty() => {
                last_activity = Instant::now();
                let Ok(Some((api_version, correlation_id, reply))) = done else {
                    warn!(%peer, "a request handler failed; closing the connection");
                    return Ok(());
                };
                match reply {
                    Reply::Body(body) => {
                        if let Err(e) = wire::encode_response_into(&mut out, api_version, correlation_id, &body) {
                            warn!(%peer, %e, "cannot encode a response; closing the connection");
                            return Ok(());
                        }
                    }
                    Reply::Nothing => {}
                    Reply::Close => closing = true,
                }
                // Write once nothing else is ready, so pipelined answers share a write.
                if !out.is_empty() && (pending.is_empty() || out.len() >= 64 * 1024) {
                    writer.write_all(&out).await?;
                    out.clear();
                }
            }
            read = reader.read_buf(&mut buf), if can_read => {
                last_activity = Instant::now();
                if read? == 0 {
                    closing = true;
                }
            }
            _ = tokio::time::sleep_until((last_activity + idle).into()), if pending.is_empty() => {
                debug!(%peer, "closing an idle connection (connections.max.idle.ms)");
                return Ok(());
            }
        }
        if !out.is_empty() && pending.is_empty() {
            writer.write_all(&out).await?;
            out.clear();
        }
    }
}

/// Spawn the task answering one request. Produce requests are chained so their appends keep
/// the connection's order.
fn dispatch(
    broker: &Arc<Broker>,
    request: Request,
    peer: SocketAddr,
    produce_chain: &mut Option<oneshot::Receiver<()>>,
    permit: Option<OwnedSemaphorePermit>,
) -> tokio::task::JoinHandle<Option<(i16, i32, Reply)>> {
    let Request {
        api_key,
        api_version,
        correlation_id,
        client_id,
        body,
    } = request;
    let ctx = RequestContext {
        api_version,
        client_id: client_id.map(|c| c.to_string()).unwrap_or_default(),
        peer,
    };
    let broker = broker.clone();
    let started = Instant::now();
    let api = api_name(api_key);
    let chain = match &body {
        RequestBody::Produce(_) => {
            let (appended, next) = oneshot::channel();
            Some((produce_chain.replace(next), appended))
        }
        _ => None,
    };
    tokio::spawn(async move {
        let reply = match body {
            RequestBody::Produce(req) => {
                let (previous, appended) = chain?;
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                produce::handle_produce(&broker, &ctx, req, appended).await
            }
            other => handle(&broker, &ctx, other).await,
        };
        broker.metrics.request(api, started.elapsed().as_secs_f64());
        drop(permit);
        Some((api_version, correlation_id, reply))
    })
}

/// Every API but Produce.
async fn handle(broker: &Arc<Broker>, ctx: &RequestContext, body: RequestBody) -> Reply {
    let body: ResponseBody = match body {
        RequestBody::ApiVersions(_) => wire::api_versions_response().into(),
        RequestBody::Metadata(req) => metadata::handle_metadata(broker, ctx, req).await.into(),
        RequestBody::Fetch(req) => fetch::handle_fetch(broker, ctx, req).await.into(),
        RequestBody::ListOffsets(req) => {
            metadata::handle_list_offsets(broker, ctx, req).await.into()
        }
        RequestBody::OffsetForLeaderEpoch(req) => {
            metadata::handle_offset_for_leader_epoch(broker, req).into()
        }
        RequestBody::InitProducerId(req) => {
            produce::handle_init_producer_id(broker, req).await.into()
        }
        RequestBody::FindCoordinator(req) => groups::handle_find_coordinator(broker, ctx, req)
            .await
            .into(),
        RequestBody::JoinGroup(req) => groups::handle_join_group(broker, ctx, req).await.into(),
        RequestBody::SyncGroup(req) => groups::handle_sync_group(broker, ctx, req).await.into(),
        RequestBody::Heartbeat(req) => groups::handle_heartbeat(broker, req).into(),
        RequestBody::LeaveGroup(req) => groups::handle_leave_group(broker, ctx, req).into(),
        RequestBody::OffsetCommit(req) => groups::handle_offset_commit(broker, req).await.into(),
        RequestBody::OffsetFetch(req) => groups::handle_offset_fetch(broker, ctx, req).into(),
        RequestBody::DescribeGroups(req) => groups::handle_describe_groups(broker, ctx, req).into(),
        RequestBody::ListGroups(req) => groups::handle_list_groups(broker, req).into(),
        RequestBody::CreateTopics(req) => {
            admin::handle_create_topics(broker, ctx, req).await.into()
        }
        RequestBody::DeleteTopics(req) => {
            admin::handle_delete_topics(broker, ctx, req).await.into()
        }
        RequestBody::CreatePartitions(req) => {
            admin::handle_create_partitions(broker, req).await.into()
        }
        RequestBody::DescribeConfigs(req) => {
            admin::handle_describe_configs(broker, ctx, req).into()
        }
        RequestBody::AlterConfigs(req) => admin::handle_alter_configs(broker, req).await.into(),
        RequestBody::IncrementalAlterConfigs(req) => {
            admin::handle_incremental_alter_configs(broker, req)
                .await
                .into()
        }
        RequestBody::Produce(_) => {
            info!("a produce request reached the generic dispatcher");
            return Reply::Close;
        }
    };
    Reply::Body(body)
}

/// The API's name for metrics and logs.
fn api_name(api_key: ApiKey) -> &'static str {
    wire::SUPPORTED_APIS
        .iter()
        .position(|s| s.api_key == api_key)
        .and_then(|i| API_NAMES.get(i))
        .copied()
        .unwrap_or("Unknown")
}

/// Names in the order of [`wire::SUPPORTED_APIS`]; a test checks they agree.
const API_NAMES: [&str; 22] = [
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "DescribeGroups",
    "ListGroups",
    "ApiVersions",
    "CreateTopics",
    "DeleteTopics",
    "InitProducerId",
    "OffsetForLeaderEpoch",
    "DescribeConfigs",
    "AlterConfigs",
    "CreatePartitions",
    "IncrementalAlterConfigs",
];

/// Group (topic, item) pairs by topic, in order: consecutive items of one topic share an
/// entry, as responses list them.
pub(crate) fn group_by_topic<T>(
    items: impl IntoIterator<Item = (String, T)>,
) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for (topic, item) in items {
        match out.last_mut() {
            Some((t, list)) if *t == topic => list.push(item),
            _ => out.push((topic, vec![item])),
        }
    }
    out
}

/// Run blocking work (file I/O, fsync) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked_against_their_apis_limit_before_they_are_read() {
        let limits = FrameLimits {
            produce: 1000,
            other: 100,
        };
        let frame = |length: i32, api: i16| {
            let mut b = length.to_be_bytes().to_vec();
            b.extend_from_slice(&api.to_be_bytes());
            b
        };
        assert_eq!(admission(&[0, 0], limits), Admission::MoreBytes);
        assert_eq!(admission(&frame(500, 0)[..5], limits), Admission::MoreBytes);
        assert_eq!(admission(&frame(500, 0), limits), Admission::Reserve(504));
        assert!(
            matches!(admission(&frame(500, 3), limits), Admission::Reject(r) if r.contains("500"))
        );
        assert_eq!(admission(&frame(100, 3), limits), Admission::Reserve(104));
        assert!(matches!(
            admission(&frame(1001, 0), limits),
            Admission::Reject(_)
        ));
        assert!(
            matches!(admission(&frame(-1, 0), limits), Admission::Reject(r) if r.contains("negative"))
        );
        // Too short to hold an API key: admitted, and the decoder refuses it.
        assert_eq!(
            admission(&1i32.to_be_bytes(), limits),
            Admission::Reserve(5)
        );
    }

    #[test]
    fn api_names_follow_the_version_table() {
        for (support, name) in wire::SUPPORTED_APIS.iter().zip(API_NAMES) {
            assert_eq!(format!("{:?}", support.api_key), name);
        }
    }
}
