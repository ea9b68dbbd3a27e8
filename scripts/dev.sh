#!/usr/bin/env bash
# Starts fastdata's main job on its embedded default: `fastdata dev` (one broker and one node in
# one process on loopback, data under ./data). Installs what the machine lacks, builds the binary
# (dev profile, the same build the tests use) and runs it; extra arguments go to `fastdata dev`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fastdata-target}"
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh
cargo build -p fastdata-cli
exec "$CARGO_TARGET_DIR/debug/fastdata" dev "$@"
