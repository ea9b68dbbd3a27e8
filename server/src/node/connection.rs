//! The CQL listener: accepting connections (at most
//! `native.transport.max.concurrent.connections`), and per connection reading frames,
//! running requests concurrently and writing each answer as soon as it is ready, on its
//! stream, whatever the order (CQL streams are independent, unlike Kafka's ordered answers).
//!
//! A connection is one task. It takes whole frames off what it read
//! ([`FrameDecoder`], bounded by `native.transport.max.frame.size.bytes`) and hands each to
//! its [`Session`], which answers at once (OPTIONS, STARTUP, REGISTER, protocol errors) or
//! returns a store call; calls run in batches (those decoded together, at most 64 per
//! batch, at most 4 batches of a connection at once), at most
//! `native.transport.max.requests.per.connection` taken at a time. The calls the backend
//! vouches are brief ([`Backend::runs_briefly`]: reads of one partition, and writes that wait
//! for no sync) run as a task on the async workers, a write with
//! [`Request::no_wait`](fastdata_kv::api::Request::no_wait): one that RocksDB would hold back
//! (a write stall) writes nothing, comes back and is queued again for a blocking thread. The
//! others run on blocking threads, one hand-off per batch, so under load one thread switch
//! serves many calls. Past the limit in flight the connection
//! stops reading until answers drain, so a client that pipelines without bound meets
//! backpressure. Each frame's bytes are also reserved, as soon as its header is in and until
//! it is answered, from `native.transport.max.request.data.in.flight.bytes` across all
//! connections, so what all clients together can make the node hold is bounded; when that
//! budget is spent, connections stop reading. Answers that finish together share one write. A connection that
//! REGISTERed for SCHEMA_CHANGE also receives, on stream -1, an EVENT for every schema
//! change any connection makes (a bounded broadcast).
//!
//! Bad input is answered and the connection goes on (Cassandra's behaviour), except a frame
//! of another protocol version: answered, then closed, as drivers expect when they step down.
//! On shutdown a connection reads no more requests, answers those in flight, then closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fastdata_kv::api::{Error, QueryResult};
use fastdata_protocol::cql::{encode_response, ErrorBody, FrameDecoder, Response, EVENT_STREAM};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::backend::Backend;
use super::convert;
use super::session::{Call, Session, Step};
use super::Node;

/// Output buffered beyond this is written before more frames are taken.
const WRITE_CHUNK_BYTES: usize = 64 * 1024;
/// Room made for each read.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Batches of calls one connection runs at once; the calls decoded meanwhile wait for the next.
const BATCHES_PER_CONNECTION: usize = 4;
/// Calls one batch runs, at most.
const CALLS_PER_BATCH: usize = 64;

/// Accept connections until shutdown; each is served by its own task.
pub(crate) async fn serve(node: Arc<Node>, listener: TcpListener) {
    let limit =
        usize::try_from(node.config.native_transport_max_concurrent_connections).unwrap_or(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(limit));
    let budget = Arc::new(Semaphore::new(
        usize::try_from(
            node.config
                .native_transport_max_request_data_in_flight_bytes,
        )
        .unwrap_or(0),
    ));
    loop {
        let accepted = tokio::select! {
            _ = node.shutdown.cancelled() => break,
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
            warn!(
                %peer,
                limit, "native.transport.max.concurrent.connections reached; closing the new connection"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let n = node.clone();
        let budget = budget.clone();
        node.tasks.spawn(async move {
            n.metrics.connection(1);
            if let Err(e) = serve_connection(&n, stream, peer, budget).await {
                debug!(%peer, %e, "connection closed");
            }
            n.metrics.connection(-1);
            drop(permit);
        });
    }
}

/// A call decoded and not yet handed to a task: where its answer goes.
struct Queued {
    call: Call,
    stream: i16,
    opcode: &'static str,
    started: Instant,
    reserved: Option<OwnedSemaphorePermit>,
}

impl Queued {
    /// The backend vouched that the call is brief: it runs on an async worker, with
    /// `no_wait` (which only such a call carries).
    fn brief(&self) -> bool {
        matches!(&self.call, Call::Execute { request, .. } if request.no_wait)
    }
}

/// A request being answered: where the answer goes and what the store made of it.
struct Done {
    stream: i16,
    opcode: &'static str,
    started: Instant,
    response: Response,
    /// A `USE` the connection must apply.
    keyspace: Option<String>,
    /// The request's bytes, reserved from the node-wide budget until it is answered.
    _reserved: Option<OwnedSemaphorePermit>,
}

/// What became of a call a batch ran.
enum Finished {
    Answered(Done),
    /// A brief write the store would have held back (a write stall): it wrote nothing and
    /// goes to a blocking thread, where it may wait.
    HeldBack(Queued),
}

/// Runs a batch of calls one after the other (on a blocking thread, or on an async worker when
/// every call of it is brief).
fn run_batch(node: &Node, batch: Vec<Queued>) -> Vec<Finished> {
    batch
        .into_iter()
        .map(|mut q| {
            // A panic in the store answers this request with a server error; the others of
            // the batch still run.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(node, &q.call)));
            let (response, keyspace) = match ran {
                Ok(Some(answer)) => answer,
                Ok(None) => {
                    if let Call::Execute { request, .. } = &mut q.call {
                        request.no_wait = false;
                    }
                    return Finished::HeldBack(q);
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_string());
                    (
                        Response::Error(ErrorBody::new(
                            0x0000,
                            format!("the store failed on this request: {what}"),
                        )),
                        None,
                    )
                }
            };
            Finished::Answered(Done {
                stream: q.stream,
                opcode: q.opcode,
                started: q.started,
                response,
                keyspace,
                _reserved: q.reserved,
            })
        })
        .collect()
}

/// Run a call on the store and turn its outcome into an answer; a schema change is announced
/// to every registered connection. `None`: the call was run with [`Request::no_wait`] and the
/// store would have waited (it did nothing).
///
/// [`Request::no_wait`]: fastdata_kv::api::Request::no_wait
fn run(node: &Node, call: &Call) -> Option<(Response, Option<String>)> {
    let backend: &dyn Backend = node.backend.as_ref();
    let (outcome, skip_metadata) = match call {
        Call::Query {
            query,
            request,
            skip_metadata,
        } => (backend.query(query, request), *skip_metadata),
        Call::Execute {
            id,
            request,
            skip_metadata,
        } => match backend.execute(id, request) {
            Err(Error::WouldWait) if request.no_wait => return None,
            outcome => (outcome, *skip_metadata),
        },
        Call::Batch {
            batch_type,
            statements,
            request,
        } => (backend.batch(*batch_type, statements, request), false),
        Call::Prepare { query, keyspace } => {
            return Some(match backend.prepare(query, keyspace.as_deref()) {
                Ok(prepared) => (Response::Result(convert::prepared(&prepared)), None),
                Err(e) => (Response::Error(convert::error(&e)), None),
            });
        }
    };
    Some(match outcome {
        Ok(result) => {
            let keyspace = match &result {
                QueryResult::SetKeyspace(k) => Some(k.clone()),
                QueryResult::SchemaChange(change) => {
                    // No receiver (nobody registered) is fine.
                    let _ = node.events.send(convert::schema_change(change));
                    None
                }
                _ => None,
            };
            (
                Response::Result(convert::result(result, skip_metadata)),
                keyspace,
            )
        }
        Err(e) => (Response::Error(convert::error(&e)), None),
    })
}

/// The next event for a registered connection (pending forever when not registered).
async fn next_event(
    events: &mut Option<broadcast::Receiver<fastdata_protocol::cql::SchemaChange>>,
) -> Result<fastdata_protocol::cql::SchemaChange, broadcast::error::RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn answer(
    node: &Node,
    out: &mut BytesMut,
    session: &Session,
    stream: i16,
    opcode: &'static str,
    response: &Response,
) {
    if let Response::Error(e) = response {
        node.metrics.error(opcode, e.code);
    }
    if let Err(e) = encode_response(out, stream, response, session.compression()) {
        warn!(%e, stream, "cannot encode an answer; answering a server error instead");
        let fallback = Response::Error(ErrorBody::new(0x0000, e));
        // A short error always encodes.
        let _ = encode_response(out, stream, &fallback, session.compression());
    }
}

async fn serve_connection(
    node: &Arc<Node>,
    stream: TcpStream,
    peer: SocketAddr,
    budget: Arc<Semaphore>,
) -> std::io::Result<()> {
    let max_frame_bytes =
        usize::try_from(node.config.native_transport_max_frame_size_bytes).unwrap_or(usize::MAX);
    let mut decoder = FrameDecoder::new(max_frame_bytes);
    let max_inflight =
        usize::try_from(node.config.native_transport_max_requests_per_connection).unwrap_or(1);
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut out = BytesMut::new();
    let mut session = Session::default();
    // Blocking tasks running calls, each answering a batch of them; the calls waiting for one;
    // and the requests taken but not yet answered (queued or running).
    let mut pending = FuturesUnordered::new();
    let mut queued: Vec<Queued> = Vec::new();
    let mut inflight = 0usize;
    let mut events = None;
    let mut closing = false;
    // The reservation of the frame being read, and the size of one waited for.
    let mut admitted: Option<OwnedSemaphorePermit> = None;
    let mut wanted: Option<u32> = None;
    loop {
        // Take every whole frame already read, while there is room in flight. A frame's
        // bytes are reserved from the node-wide budget as soon as its header is in.
        while !closing
            && wanted.is_none()
            && inflight < max_inflight
            && out.len() < WRITE_CHUNK_BYTES
        {
            if admitted.is_none() {
                if let Some(n) = decoder.announced_frame_bytes(&buf) {
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    match budget.clone().try_acquire_many_owned(n) {
                        Ok(permit) => admitted = Some(permit),
                        Err(_) => {
                            wanted = Some(n);
                            break;
                        }
                    }
                }
            }
            let Some(decoded) = decoder.decode(&mut buf) else {
                break;
            };
            let reserved = admitted.take();
            let started = Instant::now();
            let decision = session.step(decoded, max_frame_bytes);
            match decision.step {
                Step::Answer(response) => {
                    answer(
                        node,
                        &mut out,
                        &session,
                        decision.stream,
                        decision.opcode,
                        &response,
                    );
                    node.metrics
                        .request(decision.opcode, started.elapsed().as_secs_f64());
                }
                Step::Close(response) => {
                    debug!(%peer, "closing after a frame of another protocol version");
                    answer(
                        node,
                        &mut out,
                        &session,
                        decision.stream,
                        decision.opcode,
                        &response,
                    );
                    closing = true;
                }
                Step::Call(mut call) => {
                    // A brief call runs on an async worker with `no_wait`: a write the store
                    // holds back comes back without it and goes to a blocking thread.
                    if let Call::Execute { id, request, .. } = &mut call {
                        request.no_wait = node.backend.runs_briefly(id);
                    }
                    queued.push(Queued {
                        call,
                        stream: decision.stream,
                        opcode: decision.opcode,
                        started,
                        reserved,
                    });
                    inflight += 1;
                }
            }
            if events.is_none() && session.wants_schema_events() {
                events = Some(node.events.subscribe());
            }
        }
        // Brief calls run as a task on the async workers (a held-back write comes back to
        // `queued` as a call that is not brief); the others on a blocking thread, one
        // hand-off per batch of calls, not per call: the thread switches and wake-ups cost more
        // than a brief call itself.
        while !queued.is_empty() && pending.len() < BATCHES_PER_CONNECTION {
            let batch = queued.drain(..queued.len().min(CALLS_PER_BATCH));
            let (brief, other): (Vec<Queued>, Vec<Queued>) = batch.partition(Queued::brief);
            if !brief.is_empty() {
                let n = node.clone();
                pending.push(tokio::task::spawn(async move { run_batch(&n, brief) }));
            }
            if !other.is_empty() {
                let n = node.clone();
                pending.push(tokio::task::spawn_blocking(move || run_batch(&n, other)));
            }
        }
        if !out.is_empty() {
            writer.write_all(&out).await?;
            out.clear();
        }
        if closing && inflight == 0 {
            writer.flush().await?;
            return Ok(());
        }
        let can_read = !closing && wanted.is_none() && inflight < max_inflight;
        let want = wanted.unwrap_or(0);
        if can_read && buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(READ_CHUNK_BYTES);
        }
        tokio::select! {
            biased;
            // Shutdown: read no more requests, answer those in flight, then close.
            _ = node.shutdown.cancelled(), if !closing => closing = true,
            permit = budget.clone().acquire_many_owned(want), if wanted.is_some() && !closing => {
                admitted = permit.ok();
                wanted = None;
            }
            Some(finished) = pending.next(), if !pending.is_empty() => {
                let mut batches = vec![finished];
                // Answers finished meanwhile go out in the same write.
                while let Some(Some(finished)) = pending.next().now_or_never() {
                    batches.push(finished);
                }
                for finished in batches {
                    // Only a runtime shutting down cancels a blocking task.
                    let answered = finished.map_err(|e| {
                        std::io::Error::other(format!("a batch of requests was cancelled: {e}"))
                    })?;
                    for outcome in answered {
                        let done = match outcome {
                            Finished::Answered(done) => done,
                            Finished::HeldBack(q) => {
                                node.metrics.held_back();
                                queued.push(q);
                                continue;
                            }
                        };
                        inflight -= 1;
                        if let Some(keyspace) = done.keyspace {
                            session.use_keyspace(keyspace);
                        }
                        answer(node, &mut out, &session, done.stream, done.opcode, &done.response);
                        node.metrics.request(done.opcode, done.started.elapsed().as_secs_f64());
                    }
                }
            }
            event = next_event(&mut events), if !closing => match event {
                Ok(change) => {
                    node.metrics.event();
                    answer(node, &mut out, &session, EVENT_STREAM, "EVENT", &Response::SchemaChangeEvent(change));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(%peer, missed, "a registered connection fell behind; schema-change events dropped (native.transport.event.queue.size)");
                }
                Err(broadcast::error::RecvError::Closed) => events = None,
            },
            read = reader.read_buf(&mut buf), if can_read => {
                if read? == 0 {
                    closing = true;
                }
            }
        }
    }
}
