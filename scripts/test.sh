#!/usr/bin/env bash
# THE test command: what `.ci/run` calls and what passes before anything is merged.
#
#   1. setup:  installs what the machine lacks (scripts/setup.sh --test), the third-party Kafka
#              and CQL clients included, and exports where they are (FASTDATA_PYTHON, the
#              virtualenv's python; FASTDATA_KCAT; FASTDATA_CQLSH, the virtualenv's cqlsh) for the
#              client tests (see tests/src/clients.rs and tests/src/cql_clients.rs)
#   2. build:  the `fastdata` binary, first, and exports FASTDATA_BIN so every end-to-end test
#              runs exactly this binary (see tests/src/binary.rs)
#   3. tests:  `cargo test --workspace --all-targets` (libraries, binaries, integration tests, and
#              criterion benches in test mode under the test profile: each bench runs once), then
#              the doc tests (`--all-targets` leaves them out)
#   4. fuzz:   a bounded run (60 s each) of the fuzz targets of untrusted input: record-batch
#              decoding (log/fuzz, batch_decode), Kafka request decoding (protocol/fuzz,
#              request_decode), CQL frame decoding (protocol/fuzz, cql_frame_decode) and CQL
#              parsing (cql/fuzz, parse_script)
#
# The Cargo target dir lives outside the clone (default ~/.cache/fastdata-target) so repeated runs
# are incremental; the fuzz build has its own (FASTDATA_FUZZ_TARGET_DIR, default
# ~/.cache/fastdata-fuzz-target) since it builds with different flags. Steps 3 and 4 run even if
# an earlier one failed; the exit status is non-zero if any step failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fastdata-target}"
export PATH="$HOME/.cargo/bin:$PATH"
fuzz_seconds="${FASTDATA_FUZZ_SECONDS:-60}"

failed=()
timings=()
section() { printf '\n======== %s ========\n' "$*"; }

# run_step NAME COMMAND...: runs the command, records its duration and whether it failed.
run_step() {
    local name="$1" start=$SECONDS status=0
    shift
    section "$name"
    "$@" || status=$?
    timings+=("$(printf '%-28s %5ss  %s' "$name" $((SECONDS - start)) \
        "$([[ $status == 0 ]] && echo ok || echo "FAILED ($status)")")")
    if [[ $status != 0 ]]; then
        failed+=("$name")
    fi
    return 0
}

summary() {
    section "summary"
    printf '%s\n' "${timings[@]}"
    if ((${#failed[@]} > 0)); then
        printf '\nFAILED: %s\n' "${failed[*]}"
        exit 1
    fi
    echo
    echo "all steps passed"
}

# fuzz_smoke FUZZ_DIR TARGET: a bounded run of one fuzz target from its seeds (and the corpus it
# grew in earlier runs, kept outside git).
fuzz_smoke() {
    local dir="$1" target="$2"
    mkdir -p "$dir/corpus/$target"
    CARGO_TARGET_DIR="${FASTDATA_FUZZ_TARGET_DIR:-$HOME/.cache/fastdata-fuzz-target}" \
        RUSTC_BOOTSTRAP=1 \
        cargo fuzz run "$target" --fuzz-dir "$dir" \
        "$dir/corpus/$target" "$dir/seeds/$target" \
        -- "-max_total_time=$fuzz_seconds"
}

run_step "setup" bash scripts/setup.sh --test
# The whole workspace with every target, as `cargo test` and clippy select it: a narrower selection
# (`-p ...`) unifies build-time features differently and rebuilds RocksDB's C++ (about 15 minutes).
run_step "build (all targets)" cargo build --workspace --all-targets
if ((${#failed[@]} > 0)); then
    echo "setup or build failed; not running the tests" >&2
    summary
fi
export FASTDATA_BIN="$CARGO_TARGET_DIR/debug/fastdata"
export FASTDATA_PYTHON="${FASTDATA_VENV:-$HOME/.cache/fastdata-venv}/bin/python"
export FASTDATA_KCAT="${FASTDATA_KCAT:-$(command -v kcat || echo kcat)}"
export FASTDATA_CQLSH="${FASTDATA_VENV:-$HOME/.cache/fastdata-venv}/bin/cqlsh"
echo "FASTDATA_BIN=$FASTDATA_BIN"
echo "FASTDATA_PYTHON=$FASTDATA_PYTHON"
echo "FASTDATA_KCAT=$FASTDATA_KCAT"
echo "FASTDATA_CQLSH=$FASTDATA_CQLSH"

run_step "cargo test (all targets)" cargo test --workspace --all-targets
run_step "cargo test (doc tests)" cargo test --workspace --doc
run_step "fuzz batch_decode (${fuzz_seconds}s)" fuzz_smoke log/fuzz batch_decode
run_step "fuzz request_decode (${fuzz_seconds}s)" fuzz_smoke protocol/fuzz request_decode
run_step "fuzz cql_frame_decode (${fuzz_seconds}s)" fuzz_smoke protocol/fuzz cql_frame_decode
run_step "fuzz parse_script (${fuzz_seconds}s)" fuzz_smoke cql/fuzz parse_script
summary
