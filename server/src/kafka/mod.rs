//! The Kafka listener: accepting connections, and per connection reading frames, handling
//! requests concurrently and writing answers back in request order.
//!
//! A connection is one task. It reads frames (at most `socket.request.max.bytes` each), decodes
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
use tokio::sync::oneshot;
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

/// Accept connections until shutdown; each is served by its own task.
pub(crate) async fn serve(broker: Arc<Broker>, listener: TcpListener) {
    let limit = usize::try_from(broker.config.max_connections).unwrap_or(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(limit));
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
        broker.tasks.spawn(async move {
            b.metrics.connection(1);
            if let Err(e) = serve_connection(&b, stream, peer).await {
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
) -> std::io::Result<()> {
    let decoder =
        FrameDecoder::new(usize::try_from(broker.config.socket_request_max_bytes).unwrap_or(0));
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
    loop {
        // Take every whole frame already buffered, while there is room in flight.
        while !closing && pending.len() < max_inflight {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    warn!(%peer, %e, "bad frame; closing the connection");
                    closing = true;
                    break;
                }
            };
            match wire::decode_request(frame) {
                Ok(request) => {
                    let handle = dispatch(broker, request, peer, &mut produce_chain);
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
        let can_read = !closing && pending.len() < max_inflight;
        tokio::select! {
            biased;
            // Shutdown: read no more requests, answer those in flight, then close.
            _ = broker.shutdown.cancelled(), if !closing => closing = true,
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
    fn api_names_follow_the_version_table() {
        for (support, name) in wire::SUPPORTED_APIS.iter().zip(API_NAMES) {
            assert_eq!(format!("{:?}", support.api_key), name);
        }
    }
}
