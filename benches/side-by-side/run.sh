#!/usr/bin/env bash
# The side-by-side runner: in one run, with the same record sizes and settings, it measures the
# machine's physical baselines, one fastdata broker and one fastdata node, and the peers a user
# would pick instead (Tansu, NATS JetStream, Redis streams; latte and confluent-kafka as outside
# clients), then writes docs/benchmarks/side-by-side.md and its plots (PNG) from the results.
#
#   bash benches/side-by-side/run.sh            setup (once), every measurement, the report
#   bash benches/side-by-side/run.sh --setup    only the setup
#   bash benches/side-by-side/run.sh --report DIR
#                                               only the report, from an earlier run's results
#
# The setup installs what is missing and caches it under $FASTDATA_BENCH_HOME (default
# ~/.cache/fastdata-bench): Debian's redis-server and nats-server; Tansu and latte
# (cargo install, 9 to 25 and 6 to 8 minutes on 2 cores, once); a virtualenv with confluent-kafka
# and matplotlib; and a release build of fastdata and of the runner's drivers. Servers bind
# 127.0.0.2x addresses and are stopped at the end (or on an error). Each figure is measured
# for FASTDATA_BENCH_SECONDS (default 8) after a 2 s warm-up.
#
# Tansu on PostgreSQL (Debian's postgresql, installed by the setup then) is measured only when
# FASTDATA_BENCH_TANSU_PG_SCHEMA names Tansu's schema, etc/initdb.d/010-schema.sql of Tansu
# v0.6.0's git repository (it is not in the crates.io package, and it is not ours to ship).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fastdata-target}"
export PATH="$HOME/.cargo/bin:$PATH"
home="${FASTDATA_BENCH_HOME:-$HOME/.cache/fastdata-bench}"
tools="$home/tools"
venv="$home/venv"
seconds="${FASTDATA_BENCH_SECONDS:-8}"
# Pinned so that runs compare: the peers' versions are part of every figure.
tansu_version=0.6.0
latte_version=0.29.0
# Tansu's PostgreSQL schema, supplied by the user (see the top); without it those rows are skipped.
tansu_pg_schema="${FASTDATA_BENCH_TANSU_PG_SCHEMA:-}"
have_tansu_pg_schema() { [[ -n "$tansu_pg_schema" && -f "$tansu_pg_schema" ]]; }
say() { printf '\n== %s\n' "$*"; }

setup() {
    local packages=(redis-server nats-server python3-venv) missing=()
    if have_tansu_pg_schema; then
        packages+=(postgresql)
    else
        say "Tansu on PostgreSQL will not be measured: FASTDATA_BENCH_TANSU_PG_SCHEMA names no file"
    fi
    for pkg in "${packages[@]}"; do
        dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]} > 0)); then
        say "installing ${missing[*]}"
        local sudo=()
        [[ "$(id -u)" == 0 ]] || sudo=(sudo)
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}"
    fi
    bash scripts/setup.sh
    mkdir -p "$tools"
    # A separate target dir: the tools' builds must not evict fastdata's.
    if [[ ! -x "$tools/bin/tansu" ]]; then
        say "installing tansu $tansu_version (once, 9 to 25 minutes on 2 cores)"
        # Without --locked its postgres feature fails to build against a newer deadpool.
        CARGO_TARGET_DIR="$home/build" cargo install --locked "tansu@$tansu_version" \
            --features dynostore,libsql,postgres --root "$tools"
    fi
    if [[ ! -x "$tools/bin/latte" ]]; then
        say "installing latte $latte_version (once)"
        CARGO_TARGET_DIR="$home/build" cargo install --locked "latte-cli@$latte_version" \
            --root "$tools"
    fi
    local requirements="$root/benches/side-by-side/requirements.txt"
    if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
        say "creating the virtualenv $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --only-binary :all: -r "$requirements"
        cp "$requirements" "$venv/requirements.txt"
    fi
    say "building fastdata and the drivers (release)"
    cargo build --release -q -p fastdata-cli -p fastdata-side-by-side
}

# --- servers: started in the background, logs kept, stopped on exit ---------------------------
declare -A pids=()
run_dir=""
start() { # start NAME COMMAND... (in the current directory)
    local name="$1"
    shift
    "$@" >"$run_dir/logs/$name.log" 2>&1 &
    pids[$name]=$!
}
wait_port() { # wait_port NAME HOST PORT
    local name="$1" host="$2" port="$3"
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "${pids[$name]}" 2>/dev/null; then
            echo "$name exited before listening; its log:" >&2
            tail -20 "$run_dir/logs/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$name did not listen on $host:$port within 30 s" >&2
    return 1
}
# Peak RSS (VmHWM) of a server and its child processes, in KiB, written beside the results.
# Pages they share (mapped files; shared memory, as PostgreSQL's buffers in every backend)
# count once: the sum of each one's peak less its shared pages, plus the most shared.
record_rss() { # record_rss NAME
    local name="$1" pid="${pids[$1]}" p status=()
    for p in "$pid" $(pgrep -P "$pid" || true); do
        [[ -r "/proc/$p/status" ]] && status+=("/proc/$p/status")
    done
    if ((${#status[@]} == 0)); then
        echo 0 >"$run_dir/rss/$name"
        return 0
    fi
    awk '/^VmHWM:/ {peak += $2}
        /^RssFile:/ {shared += $2; if ($2 > file) file = $2}
        /^RssShmem:/ {shared += $2; if ($2 > shmem) shmem = $2}
        END {print peak - shared + file + shmem}' "${status[@]}" 2>/dev/null \
        >"$run_dir/rss/$name" || echo 0 >"$run_dir/rss/$name"
}
stop() { # stop NAME
    local name="$1"
    [[ -n "${pids[$name]:-}" ]] || return 0
    record_rss "$name"
    kill "${pids[$name]}" 2>/dev/null || true
    wait "${pids[$name]}" 2>/dev/null || true
    unset "pids[$name]"
}
stop_all() {
    for name in "${!pids[@]}"; do
        kill "${pids[$name]}" 2>/dev/null || true
    done
}
trap stop_all EXIT

# --- measurements --------------------------------------------------------------------------------
failed=()
measure() { # measure ID SERVER COMMAND... : the command gets --json; SERVER names whose RSS counts
    local id="$1" server="$2"
    shift 2
    say "$id"
    echo "$server" >"$run_dir/server/$id"
    # Every figure starts with no dirty pages left by the one before: past the kernel's dirty
    # limit (vm.dirty_ratio) writers are throttled to the disk's rate, which would make a
    # figure depend on what ran before it.
    sync
    if ! "$@" --json "$run_dir/results/$id.json" 2>"$run_dir/logs/$id.stderr"; then
        failed+=("$id")
        tail -5 "$run_dir/logs/$id.stderr" >&2
    fi
}
json_field() { # json_field ID EXPRESSION (of the report r)
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" \
        "$run_dir/results/$1.json" 2>/dev/null || echo 0
}
half_rate() { json_field "$1" "max(1, int(r['ops_per_sec'] / 2))"; }
# latte_run FUNCTION HOST:PORT --json FILE: latte's own workload (latte.rn) at ONE, its JSON
# report turned into ours; reads run after latte's load phase has written every row.
latte_run() {
    local function="$1" node="$2" json="$4" workload="$root/benches/side-by-side/latte.rn"
    local raw="$run_dir/data/latte-$function.json"
    # latte writes a log file into its working directory: the run's logs, not the checkout.
    (
        cd "$run_dir/logs"
        "$tools/bin/latte" schema "$workload" "$node"
        if [[ "$function" == read ]]; then
            "$tools/bin/latte" load -q --consistency ONE "$workload" "$node"
        fi
        "$tools/bin/latte" run -q -f "$function" --consistency ONE --warmup 2s -d "${seconds}s" \
            -p 128 -o "$raw" "$workload" "$node"
    )
    "$venv/bin/python" benches/side-by-side/latte_report.py "$raw" "$function" "$json"
}

pace=(--warmup 2 --duration "$seconds" --quiet)
fastdata="$CARGO_TARGET_DIR/release/fastdata"
drivers="$CARGO_TARGET_DIR/release/side-by-side"

# The produce settings every Kafka-protocol broker gets (ours and Tansu), 1 KiB records.
produce_1k=(--record-size 1024 --batch-size 65536 --linger-ms 5 --compression none
    --workers 4 --window 512)
# The same with linger.ms 0 (Kafka's default before 4.0): a record does not wait for its batch
# to fill, the setting a user who wants the lowest latency picks.
produce_1k_linger0=(--record-size 1024 --batch-size 65536 --linger-ms 0 --compression none
    --workers 4 --window 512)

kafka_peer() { # kafka_peer ID SERVER BOOTSTRAP: the acks=1 produce figure against a broker
    measure "$1" "$2" "$fastdata" bench log produce --bootstrap "$3" --topic bench-1k \
        --partitions 4 --acks 1 "${produce_1k[@]}" "${pace[@]}"
}

skip() { # skip ID REASON: the report prints the reason in the figure's row
    say "$1: $2"
    echo "$2" >"$run_dir/skipped/$1"
}
pg_bin() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -1; }
logged() { # logged NAME COMMAND...: runs it into logs/NAME.log, shows the log's tail if it fails
    local name="$1"
    shift
    if ! "$@" >"$run_dir/logs/$name.log" 2>&1; then
        echo "$name failed; its log:" >&2
        tail -20 "$run_dir/logs/$name.log" >&2
        return 1
    fi
}

# Tansu on PostgreSQL: a private cluster of Debian's PostgreSQL in the run's data dir that
# answers a commit once its WAL is fsynced (fsync=on, synchronous_commit=on, stated explicitly),
# and Tansu on it: each produce request is one PostgreSQL transaction, so an acknowledgement
# follows an fsync. Measured with the other Tansu rows' flags, and with the flush.messages=1
# row's (4 producers; without --flush-messages, a topic setting Tansu does not act on).
tansu_postgres() { # tansu_postgres DATA_DIR
    local ids=(tansu-postgres-produce-1k tansu-postgres-produce-1k-fsync) id
    if ! have_tansu_pg_schema; then
        for id in "${ids[@]}"; do
            skip "$id" "not measured: needs Tansu's PostgreSQL schema, etc/initdb.d/010-schema.sql of Tansu v0.6.0's git repository; set FASTDATA_BENCH_TANSU_PG_SCHEMA"
        done
        return 0
    fi
    local pgdata="$1/postgres" pwfile="$1/postgres.password" bin password as_postgres=()
    bin="$(pg_bin)"
    # A password (scram), not trust: any local user could reach 127.0.0.26.
    password="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    mkdir -p "$pgdata"
    (umask 077 && echo "$password" >"$pwfile")
    if [[ "$(id -u)" == 0 ]]; then
        # PostgreSQL refuses to run as root: the package's postgres user runs it, with only the
        # right to traverse directories kept (the run's dir may be under root's 0700 home).
        chown postgres: "$pgdata" "$pwfile"
        as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups
            --inh-caps=+dac_read_search --ambient-caps=+dac_read_search)
    fi
    logged initdb "${as_postgres[@]}" "$bin/initdb" -D "$pgdata" -U postgres -E UTF8 \
        --no-locale --auth=scram-sha-256 --pwfile="$pwfile"
    start postgres "${as_postgres[@]}" "$bin/postgres" -D "$pgdata" -c listen_addresses=127.0.0.26 \
        -p 5432 -c unix_socket_directories= -c fsync=on -c synchronous_commit=on
    wait_port postgres 127.0.0.26 5432
    for _ in $(seq 1 300); do # listening is not ready: the psql below fails if it never is
        "$bin/pg_isready" -q -h 127.0.0.26 -p 5432 && break
        sleep 0.1
    done
    PGPASSWORD="$password" logged tansu-pg-schema "$bin/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.26 -p 5432 -U postgres -d postgres -f "$tansu_pg_schema"
    start tansu-postgres "$tools/bin/tansu" broker --listener-url tcp://127.0.0.25:9092 \
        --advertised-listener-url tcp://127.0.0.25:9092 \
        --storage-engine "postgres://postgres:$password@127.0.0.26:5432/postgres"
    wait_port tansu-postgres 127.0.0.25 9092
    kafka_peer tansu-postgres-produce-1k tansu-postgres+postgres 127.0.0.25:9092
    measure tansu-postgres-produce-1k-fsync tansu-postgres+postgres "$fastdata" bench log \
        produce --bootstrap 127.0.0.25:9092 --topic bench-fsync --partitions 4 --acks 1 \
        --producers 4 "${produce_1k[@]}" "${pace[@]}"
    stop tansu-postgres
    stop postgres
    rm -rf "$pgdata" "$pwfile"
}

measure_all() {
    run_dir="$home/runs/$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$run_dir"/{logs,rss,results,server,data,skipped}
    local data="$run_dir/data"
    say "results in $run_dir"
    {
        echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
        echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
        echo "disk: $(df -T "$data" | awk 'NR==2 {print $2}') on $(df "$data" | awk 'NR==2 {print $1}')"
        echo "kernel: $(uname -r)"
        echo "seconds per figure: $seconds (after a 2 s warm-up)"
        echo "tansu: $tansu_version; latte: $latte_version; $(redis-server --version | cut -d' ' -f1-3); nats-server $(nats-server --version | awk '{print $NF}')"
        if have_tansu_pg_schema; then
            echo "postgresql (for Tansu): $("$(pg_bin)/postgres" --version | cut -d' ' -f3-)"
        fi
        echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$run_dir/machine.txt"

    # Physical baselines.
    measure baseline-write none "$drivers" files --dir "$data/files" "${pace[@]}"
    measure baseline-write-fdatasync none "$drivers" files --dir "$data/files" --sync "${pace[@]}"
    measure baseline-write-fdatasync-4 none "$drivers" files --dir "$data/files" --sync \
        --writers 4 "${pace[@]}"
    # The node's options and the block cache the node gets below.
    local rocksdb=(--records 200000 --value-size 1000 --block-cache-size-bytes 536870912)
    measure baseline-rocksdb-put none "$drivers" rocksdb --dir "$data/rocksdb" --op put \
        "${rocksdb[@]}" "${pace[@]}"
    measure baseline-rocksdb-get none "$drivers" rocksdb --dir "$data/rocksdb" --op get \
        "${rocksdb[@]}" "${pace[@]}"
    rm -rf "$data/files" "$data/rocksdb"

    # fastdata: one broker.
    local broker=127.0.0.21:9092
    start fastdata-broker "$fastdata" broker --listeners "$broker" \
        --admin-listener 127.0.0.21:9644 --data-dir "$data/broker"
    wait_port fastdata-broker 127.0.0.21 9092
    kafka_peer fastdata-produce-1k fastdata-broker "$broker"
    measure fastdata-produce-1k-fsync fastdata-broker "$fastdata" bench log produce \
        --bootstrap "$broker" --topic bench-fsync --partitions 4 --flush-messages 1 --acks 1 \
        --producers 4 "${produce_1k[@]}" "${pace[@]}"
    measure fastdata-produce-100b fastdata-broker "$fastdata" bench log produce \
        --bootstrap "$broker" --topic bench-100b --partitions 4 --acks 1 --record-size 100 \
        --batch-size 65536 --linger-ms 5 --workers 4 --window 4096 "${pace[@]}"
    measure fastdata-consume fastdata-broker "$fastdata" bench log consume \
        --bootstrap "$broker" --topic bench-1k --max-seconds 60
    measure fastdata-produce-1k-half-rate fastdata-broker "$fastdata" bench log produce \
        --bootstrap "$broker" --topic bench-1k --acks 1 "${produce_1k[@]}" \
        --rate "$(half_rate fastdata-produce-1k)" "${pace[@]}"
    measure fastdata-produce-1k-half-rate-linger0 fastdata-broker "$fastdata" bench log produce \
        --bootstrap "$broker" --topic bench-1k --acks 1 "${produce_1k_linger0[@]}" \
        --rate "$(half_rate fastdata-produce-1k)" "${pace[@]}"
    measure confluent-produce-1k fastdata-broker "$venv/bin/python" \
        benches/side-by-side/confluent_produce.py --bootstrap "$broker" --topic bench-1k \
        --record-size 1024 --acks 1 --linger-ms 5 --batch-size 65536 --warmup 2 \
        --duration "$seconds"
    stop fastdata-broker

    # Tansu: the same client and settings, on each storage engine.
    start tansu-memory "$tools/bin/tansu" broker --listener-url tcp://127.0.0.23:9092 \
        --advertised-listener-url tcp://127.0.0.23:9092 --storage-engine memory://tansu/
    wait_port tansu-memory 127.0.0.23 9092
    kafka_peer tansu-memory-produce-1k tansu-memory 127.0.0.23:9092
    stop tansu-memory
    mkdir -p "$data/tansu-libsql"
    pushd "$data/tansu-libsql" >/dev/null
    start tansu-libsql "$tools/bin/tansu" broker --listener-url tcp://127.0.0.24:9092 \
        --advertised-listener-url tcp://127.0.0.24:9092 --storage-engine sqlite://tansu.db
    popd >/dev/null
    wait_port tansu-libsql 127.0.0.24 9092
    kafka_peer tansu-libsql-produce-1k tansu-libsql 127.0.0.24:9092
    stop tansu-libsql
    tansu_postgres "$data"

    # NATS JetStream, file store, its default sync (no fsync before the acknowledgement).
    start nats "$(command -v nats-server)" -js -sd "$data/nats" -a 127.0.0.28 -p 4222
    wait_port nats 127.0.0.28 4222
    measure nats-publish-1k nats "$drivers" nats --addr 127.0.0.28:4222 --record-size 1024 \
        --op publish --workers 4 --window 256 "${pace[@]}"
    stop nats

    # Redis streams, appendfsync everysec, then always.
    for fsync in everysec always; do
        start "redis-$fsync" "$(command -v redis-server)" --port 6379 --bind 127.0.0.27 \
            --dir "$data" --appendonly yes --appendfsync "$fsync" --save ""
        wait_port "redis-$fsync" 127.0.0.27 6379
        measure "redis-xadd-1k-$fsync" "redis-$fsync" "$drivers" redis --addr 127.0.0.27:6379 \
            --record-size 1024 --op xadd --workers 4 --window 64 "${pace[@]}"
        stop "redis-$fsync"
        rm -rf "$data/appendonlydir"
    done

    # fastdata: one node, YCSB over CQL at ONE (commitlog_sync periodic, the default), with a
    # 512 MiB block cache (Cassandra's default file cache) instead of the default 64 MiB: with
    # 64 MiB the 400 MB table is read mostly by decompressing lz4 blocks (6k reads/s, not 26k).
    local node=127.0.0.22:9042
    start fastdata-node "$fastdata" node --native-transport-address 127.0.0.22 \
        --native-transport-port 9042 --admin-listener 127.0.0.22:9645 --data-dir "$data/node" \
        --block-cache-size-bytes 536870912
    wait_port fastdata-node 127.0.0.22 9042
    local ycsb=(--contact "$node" --records 200000 --fields 10 --field-size 100 --consistency ONE)
    measure fastdata-ycsb-load fastdata-node "$fastdata" bench store "${ycsb[@]}" --workload load \
        --workers 4 --window 32 "${pace[@]}"
    measure fastdata-ycsb-c fastdata-node "$fastdata" bench store "${ycsb[@]}" --workload c \
        --workers 4 --window 32 "${pace[@]}"
    measure fastdata-ycsb-a fastdata-node "$fastdata" bench store "${ycsb[@]}" --workload a \
        --workers 4 --window 32 "${pace[@]}"
    measure fastdata-ycsb-load-half-rate fastdata-node "$fastdata" bench store "${ycsb[@]}" \
        --keyspace ycsb_rate --workload load --workers 4 --window 32 \
        --rate "$(half_rate fastdata-ycsb-load)" "${pace[@]}"
    measure latte-write fastdata-node latte_run write "$node"
    measure latte-read fastdata-node latte_run read "$node"
    stop fastdata-node
}

main() {
    case "${1:-}" in
        --setup) setup ;;
        --report)
            "$venv/bin/python" benches/side-by-side/report.py "${2:?--report needs a run directory}"
            ;;
        "")
            setup
            local started=$SECONDS
            measure_all
            say "measured in $((SECONDS - started)) s"
            "$venv/bin/python" benches/side-by-side/report.py "$run_dir"
            if ((${#failed[@]} > 0)); then
                echo "failed: ${failed[*]} (their logs are in $run_dir/logs)" >&2
                exit 1
            fi
            ;;
        *)
            sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
            exit 2
            ;;
    esac
}
main "$@"
