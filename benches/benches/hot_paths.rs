//! Criterion micro-benchmarks of the hot paths, each beside a baseline over the same bytes
//! measured in the same run:
//!
//! - `kafka`: `decode_request` of a Produce v9 frame (one partition, a 16 KiB batch) and a Fetch
//!   v12 frame (four partitions), against CRC-32C of the frame; `encode_response_into` of a
//!   Produce v9 response and a Fetch v12 response carrying 1 MiB of batches, into a reused
//!   buffer as the connection loop does, against copying the encoded frame into one.
//! - `kv`: a row cell key (text partition key, int clustering column), against
//!   `extend_from_slice` of its bytes; LWW reconciliation of 2 and 5 cells (the merge operator's
//!   function and its copy), against copying the winner; Murmur3 tokens, against CRC-32C.
//! - `cql`: `parse_statement` of an INSERT, a SELECT and a CREATE TABLE, against the lexer.
//! - `store`: `Store` executing a prepared INSERT and SELECT by key through the node's
//!   `Backend` (no network), against raw RocksDB `put`/`get` with the same options (`open_plain`).
//!
//! After each group: time per operation, the ratio to its baseline, peak RSS. Measure with
//! `cargo bench -p fastdata-benches --bench hot_paths`; `cargo test` runs each benchmark once.

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use fastdata_benches::{
    bench_root, format_rate, is_bench_mode, make_batch, rss_line, Tally, BATCH_BYTES,
    RECORD_VALUE_BYTES,
};
use fastdata_cql::{lexer, parse_statement, Value};
use fastdata_kv::api::{BoundValue, BoundValues, QueryResult, Request};
use fastdata_kv::engine::{open_plain, EngineConfig};
use fastdata_kv::{cell, keys, token, Store, StoreConfig};
use fastdata_protocol::kafka::{self as wire, RequestBody, ResponseBody};
use fastdata_protocol::kafka_protocol::messages::{
    fetch_request as fetch_req, fetch_response as fetch_resp, produce_request as produce_req,
    produce_response as produce_resp, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse,
    TopicName,
};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use fastdata_server::node::Backend;

/// Criterion samples per benchmark; the summaries use the median of the same samples.
const SAMPLES: usize = 20;
/// Produce v9 and Fetch v12: the highest versions the broker serves that librdkafka uses.
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
/// The batch of the Produce request.
const PRODUCE_BATCH_BYTES: usize = 16 * 1024;
/// Batches of `BATCH_BYTES` in the Fetch response: 1 MiB.
const FETCH_BATCHES: usize = 16;
/// Bytes of each value in the store benchmarks (as in `node.rs`).
const VALUE_BYTES: usize = 100;
/// Keys written before reads are timed (reads pick among them; writes cycle over them).
const KEYS: u64 = 100_000;

/// One criterion group and the tally behind its summary: every benchmark is recorded under
/// `group/name` with its bytes per operation and, for ours, the baseline it is compared with.
struct Hot<'c> {
    name: &'static str,
    group: BenchmarkGroup<'c, WallTime>,
    tally: Tally,
    /// (benchmark, bytes per operation, its baseline) in the order they ran.
    figures: Vec<(String, u64, Option<String>)>,
}

impl<'c> Hot<'c> {
    fn new(c: &'c mut Criterion, name: &'static str) -> Self {
        Hot {
            name,
            group: c.benchmark_group(name),
            tally: Tally::new(),
            figures: Vec::new(),
        }
    }

    /// Benchmark `op` (one operation on `bytes` bytes per iteration) as `name`; with a
    /// `baseline` (a benchmark of the same bytes per operation), the summary compares the two.
    fn run(&mut self, name: &str, bytes: u64, baseline: Option<&str>, mut op: impl FnMut()) {
        let full = format!("{}/{name}", self.name);
        let tally = &self.tally;
        self.group.throughput(Throughput::BytesDecimal(bytes));
        self.group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    op();
                }
                let took = start.elapsed();
                tally.record(&full, iters * bytes, took);
                took
            })
        });
        let baseline = baseline.map(|base| format!("{}/{base}", self.name));
        self.figures.push((full, bytes, baseline));
    }

    /// Benchmark a baseline, then ours compared with it: (name, operation) each.
    fn pair(&mut self, bytes: u64, base: (&str, impl FnMut()), ours: (&str, impl FnMut())) {
        self.run(base.0, bytes, None, base.1);
        self.run(ours.0, bytes, Some(base.0), ours.1);
    }

    /// Close the group and print "ours: time per op (rate) = ratio × baseline (its time)".
    fn finish(self, title: &str) {
        self.group.finish();
        let bench = is_bench_mode();
        let last = if bench { SAMPLES } else { 1 };
        let note = if bench {
            ""
        } else {
            "  (test mode: one run each, not a measurement)"
        };
        let per_op = |name: &str, bytes: u64| {
            let rate = self.tally.median(name, last)?;
            Some((per_op_time(bytes as f64 / rate), rate))
        };
        println!("\n== {title} summary{note}");
        for (name, bytes, baseline) in &self.figures {
            let Some(base) = baseline else { continue };
            let short = base.rsplit('/').next().unwrap_or(base);
            let short = short.strip_prefix("baseline-").unwrap_or(short);
            match (per_op(name, *bytes), per_op(base, *bytes)) {
                (Some((ours_t, ours_r)), Some((base_t, base_r))) => println!(
                    "  {name}: {ours_t} per op ({}) = {:.2} × baseline {short} ({base_t})",
                    format_rate(ours_r),
                    ours_r / base_r,
                ),
                _ => println!("  {name}: no samples of it or of {base}"),
            }
        }
        println!("  {}\n", rss_line());
    }
}

/// "412 ns", "3.20 µs", "1.05 ms".
fn per_op_time(secs: f64) -> String {
    match secs {
        s if s < 1e-6 => format!("{:.0} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s => format!("{:.2} ms", s * 1e3),
    }
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str("bench-topic"))
}

/// A request frame's payload as `FrameDecoder` yields it (a client's encoding, without the
/// length prefix), checked to decode back to the request.
fn request_frame(body: RequestBody, api_version: i16) -> Bytes {
    let request = wire::Request {
        api_key: body.api_key(),
        api_version,
        correlation_id: 42,
        client_id: Some(StrBytes::from_static_str("rdkafka")),
        body,
    };
    let payload = wire::encode_request(&request)
        .expect("encode a request")
        .slice(4..);
    let decoded = wire::decode_request(payload.clone()).expect("decode a request");
    assert_eq!(decoded, request, "the request survives the round trip");
    payload
}

/// Produce (acks=1) of `batch` to partition 0.
fn produce_request(batch: Bytes) -> RequestBody {
    let mut partition = produce_req::PartitionProduceData::default();
    partition.records = Some(batch);
    let mut topic = produce_req::TopicProduceData::default();
    (topic.name, topic.partition_data) = (topic_name(), vec![partition]);
    let mut request = ProduceRequest::default();
    (request.acks, request.timeout_ms, request.topic_data) = (1, 30_000, vec![topic]);
    RequestBody::Produce(request)
}

/// A consumer's Fetch of four partitions, 1 MiB each at most.
fn fetch_request() -> RequestBody {
    let partition = |i| {
        let mut p = fetch_req::FetchPartition::default();
        (p.partition, p.fetch_offset, p.partition_max_bytes) = (i, 1_000_000, 1 << 20);
        (p.current_leader_epoch, p.last_fetched_epoch) = (0, 0);
        p
    };
    let mut topic = fetch_req::FetchTopic::default();
    (topic.topic, topic.partitions) = (topic_name(), (0..4).map(partition).collect());
    let mut request = FetchRequest::default();
    (request.max_wait_ms, request.min_bytes, request.max_bytes) = (500, 1, 50 << 20);
    (request.session_epoch, request.topics) = (-1, vec![topic]);
    RequestBody::Fetch(request)
}

/// The answer to [`produce_request`], as the broker builds it.
fn produce_response() -> ResponseBody {
    let mut partition = produce_resp::PartitionProduceResponse::default();
    (partition.base_offset, partition.log_start_offset) = (1_000_000, 0);
    let mut topic = produce_resp::TopicProduceResponse::default();
    (topic.name, topic.partition_responses) = (topic_name(), vec![partition]);
    ProduceResponse::default()
        .with_responses(vec![topic])
        .into()
}

/// A Fetch answer of one partition carrying `records`, as the broker builds it.
fn fetch_response(records: Bytes) -> ResponseBody {
    let mut p = fetch_resp::PartitionData::default();
    (p.high_watermark, p.last_stable_offset, p.log_start_offset) = (2_000_000, 2_000_000, 0);
    (p.aborted_transactions, p.records) = (Some(Vec::new()), Some(records));
    let mut topic = fetch_resp::FetchableTopicResponse::default();
    (topic.topic, topic.partitions) = (topic_name(), vec![p]);
    FetchResponse::default().with_responses(vec![topic]).into()
}

/// Benchmark `decode_request` of `frame`, beside CRC-32C of the same bytes.
fn bench_decode(hot: &mut Hot<'_>, name: &str, frame: Bytes) {
    let base = format!("baseline-crc32c-{name}");
    let crc = || {
        black_box(crc32c::crc32c(black_box(&frame)));
    };
    let decode = || {
        black_box(wire::decode_request(frame.clone()).expect("decode the frame"));
    };
    let ours = format!("decode-{name}");
    hot.pair(frame.len() as u64, (&base, crc), (&ours, decode));
}

/// Benchmark `encode_response_into` of `body` into a reused buffer (as the connection loop
/// does), beside copying the encoded frame into a reused buffer.
fn bench_encode(hot: &mut Hot<'_>, name: &str, api_version: i16, body: &ResponseBody) {
    let encode = |out: &mut BytesMut| {
        out.clear();
        wire::encode_response_into(out, api_version, 42, body).expect("encode the response");
        black_box(&out);
    };
    let mut out = BytesMut::new();
    encode(&mut out);
    let frame = out.split().freeze();
    let mut copy = BytesMut::new();
    let memcpy = || {
        copy.clear();
        copy.extend_from_slice(black_box(&frame));
        black_box(&copy);
    };
    let base = format!("baseline-memcpy-{name}");
    let ours = format!("encode-{name}");
    hot.pair(
        frame.len() as u64,
        (&base, memcpy),
        (&ours, || encode(&mut out)),
    );
}

fn kafka_benches(c: &mut Criterion) {
    let batch = make_batch(PRODUCE_BATCH_BYTES, RECORD_VALUE_BYTES).expect("build the batch");
    let big = make_batch(BATCH_BYTES, RECORD_VALUE_BYTES).expect("build the 64 KiB batch");
    let records = Bytes::from(big.repeat(FETCH_BATCHES));
    let mut hot = Hot::new(c, "kafka");
    let produce = request_frame(produce_request(batch), PRODUCE_VERSION);
    bench_decode(&mut hot, "produce-16KiB", produce);
    let fetch = request_frame(fetch_request(), FETCH_VERSION);
    bench_decode(&mut hot, "fetch-4-partitions", fetch);
    let produce = produce_response();
    bench_encode(&mut hot, "produce-response", PRODUCE_VERSION, &produce);
    let fetch = fetch_response(records);
    bench_encode(&mut hot, "fetch-response-1MiB", FETCH_VERSION, &fetch);
    hot.finish("kafka (request decode, response encode)");
}

/// Bytes that differ per position.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// The key of column 3's cell in the row `clustering` of partition `pk` (its token given), as
/// the executor builds it for a table `(pk text, c int, ..., PRIMARY KEY (pk, c))`.
fn row_cell_key(token: i64, pk: &[u8], clustering: &Value) -> Vec<u8> {
    let prefix = keys::partition_prefix(token, pk);
    let mut ck = Vec::new();
    keys::encode_component(clustering, false, &mut ck);
    keys::row_cell_key(&prefix, &ck, 3, &[])
}

fn kv_benches(c: &mut Criterion) {
    let mut hot = Hot::new(c, "kv");

    let pk = Value::Text("customer-000042@example.com".into()).encode();
    let (tok, ck) = (token::token(&pk), Value::Int(7));
    let key = row_cell_key(tok, &pk, &ck);
    let copy_key = || {
        let mut v = Vec::new();
        v.extend_from_slice(black_box(&key));
        black_box(v);
    };
    let encode_key = || {
        black_box(row_cell_key(black_box(tok), black_box(&pk), black_box(&ck)));
    };
    let base = "baseline-extend_from_slice-key";
    let ours = ("row-cell-key-text-int", encode_key);
    hot.pair(key.len() as u64, (base, copy_key), ours);

    // The merge operands of one cell: live writes of a 100-byte value, an expiring write and a
    // tombstone; the newest live write (last) wins every time.
    let value = pattern(VALUE_BYTES);
    let winner = cell::live(1_700_000_000_000_005, &value);
    let others = [
        cell::live(1_700_000_000_000_001, &value),
        cell::write(1_700_000_000_000_003, 3600, 1_700_000_000, &value),
        cell::tombstone(1_700_000_000_000_002, 1_700_000_000),
        cell::live(1_700_000_000_000_004, &value),
    ];
    // Reconcile the winner and the first n - 1 others, as the merge operator does.
    let merge = |n: usize| {
        let older = others[..n - 1].iter().map(Vec::as_slice);
        let operands: Vec<&[u8]> = older.chain([winner.as_slice()]).collect();
        assert_eq!(cell::reconcile(operands.iter().copied()), Some(&winner[..]));
        move || {
            let merged = cell::reconcile(black_box(&operands).iter().copied());
            black_box(merged.map(<[u8]>::to_vec));
        }
    };
    let copy_cell = || {
        black_box(black_box(&winner[..]).to_vec());
    };
    let (bytes, base) = (winner.len() as u64, "baseline-copy-cell");
    let merge_2 = merge(2);
    hot.pair(bytes, (base, copy_cell), ("merge-2-cells", merge_2));
    hot.run("merge-5-cells", bytes, Some(base), merge(5));

    for len in [16, 100] {
        let key = pattern(len);
        let crc = || {
            black_box(crc32c::crc32c(black_box(&key)));
        };
        let murmur3 = || {
            black_box(token::token(black_box(&key)));
        };
        let (base, ours) = (format!("baseline-crc32c-{len}B"), format!("token-{len}B"));
        hot.pair(len as u64, (&base, crc), (&ours, murmur3));
    }
    hot.finish("kv (keys, cell merge, tokens)");
}

fn cql_benches(c: &mut Criterion) {
    let statements = [
        (
            "insert-10-columns",
            "INSERT INTO shop.orders (customer, placed_at, id, status, total, currency, items, \
             note, region, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        (
            "select-key-and-clustering",
            "SELECT id, status, total, items FROM shop.orders WHERE customer = ? \
             AND placed_at >= ? AND placed_at < ? LIMIT 100",
        ),
        (
            "create-table",
            "CREATE TABLE IF NOT EXISTS shop.orders (customer text, placed_at timestamp, \
             id uuid, status text, total decimal, currency ascii, items map<text, int>, \
             note text, region text, version int, PRIMARY KEY ((customer), placed_at, id)) \
             WITH CLUSTERING ORDER BY (placed_at DESC, id ASC) AND comment = 'orders'",
        ),
    ];
    let mut hot = Hot::new(c, "cql");
    for (name, text) in statements {
        parse_statement(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let tokenize = || {
            black_box(lexer::tokenize(black_box(text)).expect("tokenize"));
        };
        let parse = || {
            black_box(parse_statement(black_box(text)).expect("parse"));
        };
        let (base, ours) = (format!("baseline-tokenize-{name}"), format!("parse-{name}"));
        hot.pair(text.len() as u64, (&base, tokenize), (&ours, parse));
    }
    hot.finish("cql (parse)");
}

/// A key from a counter: consecutive operations spread over the whole key space.
fn key_of(n: u64) -> i64 {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS) as i64
}

/// A request binding `values` (serialized) by position.
fn bound(values: impl IntoIterator<Item = Bytes>) -> Request {
    Request {
        values: BoundValues::Positional(values.into_iter().map(BoundValue::Value).collect()),
        ..Request::default()
    }
}

fn key_bytes(n: u64) -> Bytes {
    Bytes::copy_from_slice(&key_of(n).to_be_bytes())
}

fn store_benches(c: &mut Criterion) {
    let root = bench_root().expect("create the benchmark data directory");
    let config = StoreConfig::new(root.path().join("store"));
    let plain = open_plain(&EngineConfig {
        data_dir: root.path().join("plain"),
        commitlog_sync: config.commitlog_sync,
        commitlog_sync_period_ms: config.commitlog_sync_period_ms,
        commitlog_sync_group_window_ms: config.commitlog_sync_group_window_ms,
        block_cache_size_bytes: config.block_cache_size_bytes,
        memtable_total_size_bytes: config.memtable_total_size_bytes,
    })
    .expect("open the baseline RocksDB");
    let store = Store::open(config).expect("open the store");
    for ddl in [
        "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "CREATE TABLE bench.kv (k bigint PRIMARY KEY, v blob)",
    ] {
        store.query(ddl, &Request::default()).expect(ddl);
    }
    let prepare = |q: &str| Backend::prepare(&store, q, None).expect(q).id;
    let insert = prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)");
    let select = prepare("SELECT v FROM bench.kv WHERE k = ?");
    let value = Bytes::from(pattern(VALUE_BYTES));
    let write = |n: u64| {
        Backend::execute(&store, &insert, &bound([key_bytes(n), value.clone()]))
            .expect("a prepared insert");
    };
    let put = |n: u64| {
        plain
            .put(key_of(n).to_be_bytes(), &value)
            .expect("a baseline put");
    };
    // Every key exists on both sides before reads are timed.
    let keys = if is_bench_mode() { KEYS } else { 1_000 };
    for n in 0..keys {
        write(n);
        put(n);
    }

    let mut hot = Hot::new(c, "store");
    let bytes = VALUE_BYTES as u64;
    let counter = Cell::new(0u64);
    let next = || {
        counter.set(counter.get() + 1);
        counter.get() % keys
    };
    let get = || {
        let got = plain.get(key_of(next()).to_be_bytes()).expect("a get");
        assert!(got.is_some(), "the baseline holds every key");
    };
    let read = || {
        let result = Backend::execute(&store, &select, &bound([key_bytes(next())]));
        match result.expect("a prepared select") {
            QueryResult::Rows(rows) => assert_eq!(rows.rows.len(), 1, "every key exists"),
            other => panic!("a select answered {other:?}"),
        }
    };
    let (put, write) = (
        ("baseline-rocksdb-put", || put(next())),
        ("insert-100B", || write(next())),
    );
    hot.pair(bytes, put, write);
    hot.pair(
        bytes,
        ("baseline-rocksdb-get", get),
        ("select-by-key-100B", read),
    );
    hot.finish("store (prepared statements without the network, vs raw RocksDB)");
    Backend::close(&store).expect("close the store");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = kafka_benches, kv_benches, cql_benches, store_benches
}
criterion_main!(benches);
