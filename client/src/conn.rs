//! One TCP connection to one broker: pipelined requests matched to their responses by
//! correlation id, in order, with a bound on requests in flight and a timeout per request.
//!
//! [`Connection::connect`] dials, sends ApiVersions (v3, falling back to the version the broker
//! lists when it answers with the v0 UNSUPPORTED_VERSION response) and keeps, per API, the
//! highest version both sides speak. Two tasks then own the socket: a writer that takes
//! requests from a bounded queue, waits for a free in-flight slot, numbers and writes them; and
//! a reader that decodes each response frame (bounded by `max_frame_bytes`) against the oldest
//! outstanding request. A response whose correlation id is not the oldest one, a frame that does
//! not decode, an I/O error or a request older than its timeout closes the connection and fails
//! every outstanding request, as the Java client does: a broker answers in order, so a late
//! answer means the connection is unusable. Requests that expect no answer (Produce with
//! `acks=0`) complete as soon as they are written.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use fastdata_protocol::kafka::{
    decode_response, encode_request, FrameDecoder, Request, RequestBody, ResponseBody,
    SUPPORTED_APIS,
};
use fastdata_protocol::kafka_protocol::messages::*;
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use fastdata_protocol::ProtocolError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::wire::sleep_until;

/// How a connection is set up and bounded.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionConfig {
    /// Sent in every request header (`client.id`).
    pub client_id: String,
    /// Default per-request timeout (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// Bound on the TCP connect plus the ApiVersions exchange
    /// (`socket.connection.setup.timeout.ms`).
    pub connect_timeout: Duration,
    /// Requests written and not yet answered (`max.in.flight.requests.per.connection`).
    pub max_in_flight: usize,
    /// Largest response frame accepted.
    pub max_frame_bytes: usize,
}

/// Requests waiting for the writer beyond the in-flight ones.
const QUEUE_SLACK: usize = 32;

/// What negotiation found for one API.
#[derive(Debug, Clone, Copy)]
enum Negotiated {
    /// The highest version both sides speak.
    Version(i16),
    /// No overlap; the broker's range (-1, -1 if it does not serve the API).
    Unsupported { broker_min: i16, broker_max: i16 },
}

/// The outcome of negotiation for every API this client speaks.
#[derive(Debug, Clone)]
struct VersionTable {
    versions: Vec<(ApiKey, Negotiated)>,
}

impl VersionTable {
    /// Only ApiVersions, at our highest version, before negotiation.
    fn initial() -> Self {
        VersionTable {
            versions: vec![(
                ApiKey::ApiVersions,
                Negotiated::Version(our_range(ApiKey::ApiVersions).1),
            )],
        }
    }

    fn negotiate(broker: &ApiVersionsResponse) -> Self {
        let versions = SUPPORTED_APIS
            .iter()
            .map(|api| {
                let theirs = broker
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == api.api_key as i16)
                    .map(|k| (k.min_version, k.max_version));
                let chosen = match theirs {
                    Some((min, max)) if max.min(api.max) >= min.max(api.min_served) => {
                        Negotiated::Version(max.min(api.max))
                    }
                    Some((min, max)) => Negotiated::Unsupported {
                        broker_min: min,
                        broker_max: max,
                    },
                    None => Negotiated::Unsupported {
                        broker_min: -1,
                        broker_max: -1,
                    },
                };
                (api.api_key, chosen)
            })
            .collect();
        VersionTable { versions }
    }
}

/// The versions this client speaks for `api` (the broker table's served range: the client
/// encodes and decodes exactly what `fastdata-protocol` does).
fn our_range(api: ApiKey) -> (i16, i16) {
    SUPPORTED_APIS
        .iter()
        .find(|a| a.api_key == api)
        .map_or((-1, -1), |a| (a.min_served, a.max))
}

/// One request handed to the writer.
struct Outgoing {
    body: RequestBody,
    api_version: i16,
    expect_response: bool,
    timeout: Duration,
    reply: oneshot::Sender<Result<Option<ResponseBody>>>,
}

/// A request written and waiting for its response.
struct Pending {
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
    deadline: Instant,
    timeout: Duration,
    reply: oneshot::Sender<Result<Option<ResponseBody>>>,
    _permit: OwnedSemaphorePermit,
}

/// Why a connection closed; turned into an [`Error`] for every request it fails.
#[derive(Debug, Clone)]
enum CloseReason {
    Io(String),
    Timeout { api: ApiKey, timeout: Duration },
    Protocol(ProtocolError),
    Invalid { api: ApiKey, reason: String },
    Shutdown,
}

/// State the reader, the writer and the handle share.
struct Shared {
    address: String,
    pending: Mutex<VecDeque<Pending>>,
    pending_added: Notify,
    closed: CancellationToken,
    reason: Mutex<Option<CloseReason>>,
}

impl Shared {
    fn error(&self) -> Error {
        let reason = lock(&self.reason).clone();
        self.error_for(reason.unwrap_or(CloseReason::Shutdown))
    }

    fn error_for(&self, reason: CloseReason) -> Error {
        let broker = self.address.clone();
        match reason {
            CloseReason::Io(reason) => Error::Network { broker, reason },
            CloseReason::Timeout { api, timeout } => Error::RequestTimeout {
                broker,
                api,
                timeout_ms: timeout.as_millis() as u64,
            },
            CloseReason::Protocol(source) => Error::Protocol { broker, source },
            CloseReason::Invalid { api, reason } => Error::InvalidResponse {
                broker,
                api,
                reason,
            },
            CloseReason::Shutdown => Error::Network {
                broker,
                reason: "connection closed".to_owned(),
            },
        }
    }

    /// Records the first reason, closes, and fails every outstanding request.
    fn close(&self, reason: CloseReason) {
        {
            let mut slot = lock(&self.reason);
            if slot.is_none() {
                tracing::debug!(broker = %self.address, ?reason, "closing connection");
                *slot = Some(reason);
            }
        }
        self.closed.cancel();
        let pending: Vec<Pending> = lock(&self.pending).drain(..).collect();
        for p in pending {
            let _ = p.reply.send(Err(self.error()));
        }
    }
}

/// Locks a std mutex, recovering from poisoning (every critical section here leaves the data
/// consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Aborts its tasks when dropped.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A live connection to one broker. Cheap to share (`Arc`); dropping the last handle closes
/// it.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Outgoing>,
    versions: Mutex<VersionTable>,
    request_timeout: Duration,
    _tasks: Tasks,
}

/// A typed request: its API, the body variant and the response it gets.
pub(crate) trait ApiRequest: Sized {
    /// The API.
    const KEY: ApiKey;
    /// The response body.
    type Response;
    /// Into the protocol crate's body enum.
    fn into_body(self) -> RequestBody;
    /// Out of the protocol crate's response enum (`None` if the variant does not match).
    fn response(body: ResponseBody) -> Option<Self::Response>;
}

macro_rules! api_requests {
    ($($variant:ident => $request:ident, $response:ident;)*) => {
        $(
            impl ApiRequest for $request {
                const KEY: ApiKey = ApiKey::$variant;
                type Response = $response;
                fn into_body(self) -> RequestBody {
                    RequestBody::$variant(self)
                }
                fn response(body: ResponseBody) -> Option<$response> {
                    match body {
                        ResponseBody::$variant(r) => Some(r),
                        _ => None,
                    }
                }
            }
        )*
    };
}

api_requests! {
    Produce => ProduceRequest, ProduceResponse;
    Fetch => FetchRequest, FetchResponse;
    ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
    Metadata => MetadataRequest, MetadataResponse;
    OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
    FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup => JoinGroupRequest, JoinGroupResponse;
    Heartbeat => HeartbeatRequest, HeartbeatResponse;
    LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
    SyncGroup => SyncGroupRequest, SyncGroupResponse;
    DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups => ListGroupsRequest, ListGroupsResponse;
    ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
    InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
    DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
    CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
}

/// Why [`Connection::try_send`] could not queue a request.
#[derive(Debug)]
pub(crate) enum TrySendError {
    /// The queue is full; try again later.
    Busy,
    /// The connection is closed.
    Closed,
}

/// A response on its way.
pub(crate) type ResponseReceiver = oneshot::Receiver<Result<Option<ResponseBody>>>;

impl Connection {
    /// Dials `address` and negotiates API versions, within `config.connect_timeout`. The
    /// connection closes when `parent` is cancelled.
    pub(crate) async fn connect(
        address: &str,
        config: &ConnectionConfig,
        parent: &CancellationToken,
    ) -> Result<Arc<Connection>> {
        let setup = async {
            let stream = TcpStream::connect(address)
                .await
                .map_err(|e| Error::Network {
                    broker: address.to_owned(),
                    reason: format!("connect: {e}"),
                })?;
            let _ = stream.set_nodelay(true);
            let conn = Connection::start(address, stream, config, parent.child_token());
            conn.negotiate().await?;
            Ok(conn)
        };
        match tokio::time::timeout(config.connect_timeout, setup).await {
            Ok(result) => result,
            Err(_) => Err(Error::Network {
                broker: address.to_owned(),
                reason: format!(
                    "connection setup took longer than {} ms",
                    config.connect_timeout.as_millis()
                ),
            }),
        }
    }

    fn start(
        address: &str,
        stream: TcpStream,
        config: &ConnectionConfig,
        closed: CancellationToken,
    ) -> Arc<Connection> {
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            address: address.to_owned(),
            pending: Mutex::new(VecDeque::new()),
            pending_added: Notify::new(),
            closed,
            reason: Mutex::new(None),
        });
        let max_in_flight = config.max_in_flight.max(1);
        let (tx, rx) = mpsc::channel(max_in_flight + QUEUE_SLACK);
        let writer = tokio::spawn(write_loop(
            shared.clone(),
            write,
            rx,
            Arc::new(Semaphore::new(max_in_flight)),
            config.client_id.clone(),
        ));
        let reader = tokio::spawn(read_loop(
            shared.clone(),
            read,
            FrameDecoder::new(config.max_frame_bytes),
        ));
        Arc::new(Connection {
            shared,
            tx,
            versions: Mutex::new(VersionTable::initial()),
            request_timeout: config.request_timeout,
            _tasks: Tasks(vec![writer, reader]),
        })
    }

    /// ApiVersions at our highest version; on the v0 UNSUPPORTED_VERSION answer, once more at
    /// the highest version the broker listed.
    async fn negotiate(&self) -> Result<()> {
        let (ours_min, ours_max) = our_range(ApiKey::ApiVersions);
        let mut version = ours_max;
        for _ in 0..2 {
            let request = ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("fastdata-client"))
                .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
            let response = self.send_at(version, request, self.request_timeout).await?;
            if response.error_code == crate::error::ErrorCode::NONE.0 {
                *lock(&self.versions) = VersionTable::negotiate(&response);
                return Ok(());
            }
            let listed = response
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| (k.min_version, k.max_version));
            match listed {
                Some((min, max))
                    if response.error_code == fastdata_protocol::kafka::UNSUPPORTED_VERSION
                        && max.min(ours_max) >= min.max(ours_min)
                        && max.min(ours_max) < version =>
                {
                    version = max.min(ours_max);
                }
                _ => {
                    return Err(Error::UnsupportedVersion {
                        broker: self.address().to_owned(),
                        api: ApiKey::ApiVersions,
                        broker_min: listed.map_or(-1, |l| l.0),
                        broker_max: listed.map_or(-1, |l| l.1),
                        client_min: ours_min,
                        client_max: ours_max,
                    })
                }
            }
        }
        Err(Error::InvalidResponse {
            broker: self.address().to_owned(),
            api: ApiKey::ApiVersions,
            reason: "UNSUPPORTED_VERSION at the version the broker listed".to_owned(),
        })
    }

    /// `host:port` of the broker.
    pub(crate) fn address(&self) -> &str {
        &self.shared.address
    }

    /// Whether the connection is closed (it will not come back; dial a new one).
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Closes the connection, failing what is outstanding.
    pub(crate) fn close(&self) {
        self.shared.close(CloseReason::Shutdown);
    }

    /// The version to use for `api`: the highest both sides speak.
    pub(crate) fn version(&self, api: ApiKey) -> Result<i16> {
        let found = lock(&self.versions)
            .versions
            .iter()
            .find(|(key, _)| *key == api)
            .map(|(_, n)| *n);
        let (client_min, client_max) = our_range(api);
        let (broker_min, broker_max) = match found {
            Some(Negotiated::Version(version)) => return Ok(version),
            Some(Negotiated::Unsupported {
                broker_min,
                broker_max,
            }) => (broker_min, broker_max),
            None => (-1, -1),
        };
        Err(Error::UnsupportedVersion {
            broker: self.address().to_owned(),
            api,
            broker_min,
            broker_max,
            client_min,
            client_max,
        })
    }

    /// Sends `request` at `version` and waits for its response (at most `timeout`, counted
    /// from when it is written).
    pub(crate) async fn send_at<R: ApiRequest>(
        &self,
        version: i16,
        request: R,
        timeout: Duration,
    ) -> Result<R::Response> {
        let (reply, rx) = oneshot::channel();
        let outgoing = Outgoing {
            body: request.into_body(),
            api_version: version,
            expect_response: true,
            timeout,
            reply,
        };
        tokio::select! {
            sent = self.tx.send(outgoing) => {
                if sent.is_err() {
                    return Err(self.shared.error());
                }
            }
            _ = self.shared.closed.cancelled() => return Err(self.shared.error()),
        }
        let body = self.receive(rx).await?;
        self.typed::<R>(body)
    }

    /// Queues `request` at `version` without waiting (requests queued by one caller are
    /// written in the order queued). With `expect_response` false the receiver yields
    /// `Ok(None)` once the request is written.
    pub(crate) fn try_send(
        &self,
        version: i16,
        body: RequestBody,
        expect_response: bool,
        timeout: Duration,
    ) -> std::result::Result<ResponseReceiver, TrySendError> {
        if self.is_closed() {
            return Err(TrySendError::Closed);
        }
        let (reply, rx) = oneshot::channel();
        let outgoing = Outgoing {
            body,
            api_version: version,
            expect_response,
            timeout,
            reply,
        };
        match self.tx.try_send(outgoing) {
            Ok(()) => Ok(rx),
            Err(mpsc::error::TrySendError::Full(_)) => Err(TrySendError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TrySendError::Closed),
        }
    }

    /// Waits for a queued request's outcome.
    pub(crate) async fn receive(&self, rx: ResponseReceiver) -> Result<Option<ResponseBody>> {
        rx.await.unwrap_or_else(|_| Err(self.shared.error()))
    }

    /// The typed response out of a body.
    pub(crate) fn typed<R: ApiRequest>(&self, body: Option<ResponseBody>) -> Result<R::Response> {
        body.and_then(R::response)
            .ok_or_else(|| Error::InvalidResponse {
                broker: self.address().to_owned(),
                api: R::KEY,
                reason: "no response body of the request's type".to_owned(),
            })
    }

    /// The default request timeout of this connection.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.close(CloseReason::Shutdown);
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
    in_flight: Arc<Semaphore>,
    client_id: String,
) {
    let client_id = StrBytes::from_string(client_id);
    let mut correlation_id: i32 = 0;
    loop {
        let outgoing = tokio::select! {
            _ = shared.closed.cancelled() => break,
            next = rx.recv() => match next {
                Some(outgoing) => outgoing,
                None => break,
            },
        };
        if outgoing.reply.is_closed() {
            continue;
        }
        let permit = tokio::select! {
            _ = shared.closed.cancelled() => {
                let _ = outgoing.reply.send(Err(shared.error()));
                break;
            }
            permit = in_flight.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let api_key = outgoing.body.api_key();
        let request = Request {
            api_key,
            api_version: outgoing.api_version,
            correlation_id,
            client_id: Some(client_id.clone()),
            body: outgoing.body,
        };
        let frame = match encode_request(&request) {
            Ok(frame) => frame,
            Err(source) => {
                let _ = outgoing.reply.send(Err(Error::Protocol {
                    broker: shared.address.clone(),
                    source,
                }));
                continue;
            }
        };
        let this_id = correlation_id;
        correlation_id = if correlation_id == i32::MAX {
            0
        } else {
            correlation_id + 1
        };
        let done = if outgoing.expect_response {
            lock(&shared.pending).push_back(Pending {
                correlation_id: this_id,
                api_key,
                api_version: outgoing.api_version,
                deadline: Instant::now() + outgoing.timeout,
                timeout: outgoing.timeout,
                reply: outgoing.reply,
                _permit: permit,
            });
            shared.pending_added.notify_one();
            None
        } else {
            Some((outgoing.reply, permit))
        };
        let written = tokio::select! {
            _ = shared.closed.cancelled() => break,
            written = write.write_all(&frame) => written,
        };
        if let Err(e) = written {
            shared.close(CloseReason::Io(format!("write: {e}")));
            break;
        }
        if let Some((reply, _permit)) = done {
            let _ = reply.send(Ok(None));
        }
    }
    rx.close();
    while let Ok(outgoing) = rx.try_recv() {
        let _ = outgoing.reply.send(Err(shared.error()));
    }
    let _ = write.shutdown().await;
}

async fn read_loop(shared: Arc<Shared>, mut read: OwnedReadHalf, decoder: FrameDecoder) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => {
                if let Err(reason) = dispatch(&shared, frame) {
                    shared.close(reason);
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                shared.close(CloseReason::Protocol(e));
                return;
            }
        }
        let deadline = lock(&shared.pending)
            .front()
            .map(|p| (p.deadline, p.api_key, p.timeout));
        tokio::select! {
            _ = shared.closed.cancelled() => return,
            _ = shared.pending_added.notified() => {}
            _ = sleep_until(deadline.map(|d| d.0)) => {
                if let Some((_, api, timeout)) = deadline {
                    shared.close(CloseReason::Timeout { api, timeout });
                }
                return;
            }
            read = read.read_buf(&mut buf) => match read {
                Ok(0) => {
                    shared.close(CloseReason::Io("connection closed by the broker".to_owned()));
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    shared.close(CloseReason::Io(format!("read: {e}")));
                    return;
                }
            },
        }
    }
}

/// Matches a response frame to the oldest outstanding request and answers it.
fn dispatch(shared: &Shared, frame: bytes::Bytes) -> std::result::Result<(), CloseReason> {
    let pending = lock(&shared.pending).pop_front();
    let Some(pending) = pending else {
        return Err(CloseReason::Invalid {
            api: ApiKey::ApiVersions,
            reason: "a response arrived with no request outstanding".to_owned(),
        });
    };
    let decoded =
        decode_response(pending.api_key, pending.api_version, frame.clone()).or_else(|e| {
            match pending.api_key {
                // A broker that does not serve our ApiVersions version answers with a v0 body.
                ApiKey::ApiVersions if pending.api_version > 0 => {
                    decode_response(ApiKey::ApiVersions, 0, frame).map_err(|_| e)
                }
                _ => Err(e),
            }
        });
    let (correlation_id, body) = match decoded {
        Ok(decoded) => decoded,
        Err(e) => {
            let _ = pending.reply.send(Err(Error::Protocol {
                broker: shared.address.clone(),
                source: e.clone(),
            }));
            return Err(CloseReason::Protocol(e));
        }
    };
    if correlation_id != pending.correlation_id {
        let reason = format!(
            "correlation id {correlation_id} answers a request sent as {}",
            pending.correlation_id
        );
        let _ = pending.reply.send(Err(Error::InvalidResponse {
            broker: shared.address.clone(),
            api: pending.api_key,
            reason: reason.clone(),
        }));
        return Err(CloseReason::Invalid {
            api: pending.api_key,
            reason,
        });
    }
    let _ = pending.reply.send(Ok(Some(body)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_protocol::kafka::{api_versions_response, decode_request, encode_response};
    use tokio::net::TcpListener;

    fn config() -> ConnectionConfig {
        ConnectionConfig {
            client_id: "test".to_owned(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_in_flight: 5,
            max_frame_bytes: 1 << 20,
        }
    }

    /// A tiny in-process broker speaking only ApiVersions and Heartbeat; `api_versions_max`
    /// is the highest ApiVersions version it serves (below it, the v0 fallback answer).
    async fn fake_broker(
        api_versions_max: i16,
        heartbeat_delay: Duration,
        reorder: bool,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let decoder = FrameDecoder::new(1 << 20);
            let mut buf = BytesMut::new();
            let mut held = Vec::new();
            loop {
                let frame = loop {
                    if let Some(frame) = decoder.decode(&mut buf).unwrap() {
                        break frame;
                    }
                    if socket.read_buf(&mut buf).await.unwrap() == 0 {
                        return;
                    }
                };
                let (api_key, version, correlation_id) = {
                    use bytes::Buf;
                    let mut f = &frame[..];
                    (f.get_i16(), f.get_i16(), f.get_i32())
                };
                let mut table = api_versions_response();
                for key in &mut table.api_keys {
                    if key.api_key == ApiKey::ApiVersions as i16 {
                        key.max_version = api_versions_max;
                    }
                }
                let answer = if api_key == ApiKey::ApiVersions as i16 && version > api_versions_max
                {
                    // What an older broker sends: a v0 body with UNSUPPORTED_VERSION.
                    encode_response(99, correlation_id, &table.into()).unwrap()
                } else {
                    let request = decode_request(frame).unwrap();
                    match request.body {
                        RequestBody::ApiVersions(_) => {
                            encode_response(version, correlation_id, &table.into()).unwrap()
                        }
                        RequestBody::Heartbeat(h) => {
                            tokio::time::sleep(heartbeat_delay).await;
                            encode_response(
                                version,
                                correlation_id,
                                &HeartbeatResponse::default()
                                    .with_error_code(h.generation_id as i16)
                                    .into(),
                            )
                            .unwrap()
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                };
                if reorder && api_key == ApiKey::Heartbeat as i16 {
                    held.push(answer);
                    if held.len() == 2 {
                        socket.write_all(&held[1]).await.unwrap();
                        socket.write_all(&held[0]).await.unwrap();
                    }
                } else {
                    socket.write_all(&answer).await.unwrap();
                }
            }
        });
        address
    }

    fn heartbeat(generation: i32) -> HeartbeatRequest {
        HeartbeatRequest::default().with_generation_id(generation)
    }

    #[tokio::test]
    async fn negotiates_versions_and_pipelines_in_order() {
        let address = fake_broker(3, Duration::ZERO, false).await;
        let conn = Connection::connect(&address, &config(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(conn.version(ApiKey::Heartbeat).unwrap(), 4);
        assert_eq!(conn.version(ApiKey::Produce).unwrap(), 9);
        let version = conn.version(ApiKey::Heartbeat).unwrap();
        // Ten requests in flight at once; each answer carries its request's generation.
        let answers = futures::future::join_all(
            (0..10).map(|g| conn.send_at(version, heartbeat(g), Duration::from_secs(5))),
        )
        .await;
        for (g, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap().error_code, g as i16);
        }
    }

    #[tokio::test]
    async fn falls_back_to_the_api_versions_version_the_broker_lists() {
        // The broker serves ApiVersions up to v1: it answers our v3 with the v0
        // UNSUPPORTED_VERSION body listing 0..=1, and the client retries at v1.
        let address = fake_broker(1, Duration::ZERO, false).await;
        let conn = Connection::connect(&address, &config(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(conn.version(ApiKey::ApiVersions).unwrap(), 1);
        assert_eq!(conn.version(ApiKey::Heartbeat).unwrap(), 4);
    }

    #[tokio::test]
    async fn request_timeout_closes_the_connection() {
        let address = fake_broker(3, Duration::from_secs(30), false).await;
        let conn = Connection::connect(&address, &config(), &CancellationToken::new())
            .await
            .unwrap();
        let version = conn.version(ApiKey::Heartbeat).unwrap();
        let started = std::time::Instant::now();
        let err = conn
            .send_at(version, heartbeat(1), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RequestTimeout {
                    api: ApiKey::Heartbeat,
                    timeout_ms: 200,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_retriable());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(conn.is_closed());
        assert!(conn
            .send_at(version, heartbeat(1), Duration::from_secs(1))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn an_out_of_order_answer_closes_the_connection() {
        let address = fake_broker(3, Duration::ZERO, true).await;
        let conn = Connection::connect(&address, &config(), &CancellationToken::new())
            .await
            .unwrap();
        let version = conn.version(ApiKey::Heartbeat).unwrap();
        let (a, b) = tokio::join!(
            conn.send_at(version, heartbeat(1), Duration::from_secs(5)),
            conn.send_at(version, heartbeat(2), Duration::from_secs(5)),
        );
        assert!(matches!(a, Err(Error::InvalidResponse { .. })), "{a:?}");
        assert!(b.is_err());
        assert!(conn.is_closed());
    }

    #[tokio::test]
    async fn connect_to_nothing_is_a_network_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = Connection::connect(&address, &config(), &CancellationToken::new())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Network { .. }), "{err}");
        assert!(err.is_retriable());
    }
}
