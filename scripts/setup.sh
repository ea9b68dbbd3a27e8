#!/usr/bin/env bash
# Installs what a fresh Debian machine (with a Rust toolchain) lacks to build and test fastdata.
#
#   bash scripts/setup.sh          what building and running needs
#   bash scripts/setup.sh --test   also what the test command needs: cargo-fuzz, Debian's kcat and curl,
#                                  and a Python virtualenv with the Kafka clients, cassandra-driver
#                                  and cqlsh pinned in tests/clients/requirements.txt
#                                  (FASTDATA_VENV, default ~/.cache/fastdata-venv, outside the
#                                  clone so CI runs reuse it; cqlsh is $FASTDATA_VENV/bin/cqlsh)
#
# Idempotent and quick when everything is present: each package is checked with `dpkg -s` and
# apt-get runs (update once, then install) only if something is missing; the virtualenv is
# reinstalled only when the requirements file changed or an import fails, and recreated when its
# interpreter is broken. Uses sudo when not run as root. Safe without a terminal (CI).
set -euo pipefail

test_mode=0
for arg in "$@"; do
    case "$arg" in
        --test) test_mode=1 ;;
        -h | --help)
            sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

say() { printf 'setup: %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install a Rust toolchain first (https://rustup.rs)" >&2
    exit 1
fi

# System packages: a C toolchain and pkg-config for -sys crates; clang and libclang-dev for the
# RocksDB bindings (bindgen) that the store will use.
packages=(build-essential pkg-config clang libclang-dev)

venv="${FASTDATA_VENV:-$HOME/.cache/fastdata-venv}"
requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients/requirements.txt"

if ((test_mode)); then
    # kcat 1.7.1 on librdkafka 2.0.2 (Debian 12): the old-librdkafka client of the tests;
    # curl for the README tour (tests/tests/readme_tour.rs runs it).
    packages+=(kcat curl)
    # Debian's python3 lacks ensurepip (so `python3 -m venv` fails) until python3-venv is in.
    if ! command -v python3 >/dev/null 2>&1; then
        packages+=(python3 python3-venv)
    elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        packages+=(python3-venv)
    fi
fi

if command -v dpkg >/dev/null 2>&1; then
    missing=()
    for pkg in "${packages[@]}"; do
        if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} > 0)); then
        sudo=()
        if [[ "$(id -u)" != 0 ]]; then
            if ! command -v sudo >/dev/null 2>&1; then
                echo "setup: need root to install ${missing[*]}, and sudo is not available" >&2
                exit 1
            fi
            sudo=(sudo)
        fi
        say "installing ${missing[*]}"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        say "system packages present (${packages[*]})"
    fi
else
    say "no dpkg: not Debian; make sure these (or your distribution's equivalents) are installed: ${packages[*]}"
fi

if ((test_mode)); then
    if cargo fuzz --version >/dev/null 2>&1; then
        say "$(cargo fuzz --version) present"
    else
        # Another `cargo install cargo-fuzz` may be under way (a first setup in another shell):
        # wait for it rather than build it twice.
        while pgrep -f 'cargo install cargo-fuzz' >/dev/null 2>&1; do
            say "waiting for a running 'cargo install cargo-fuzz' to finish"
            sleep 10
        done
        if ! cargo fuzz --version >/dev/null 2>&1; then
            say "installing cargo-fuzz into ~/.cargo/bin (takes a few minutes)"
            # Its own temporary target dir: not the workspace's shared one.
            env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked
        fi
        say "$(cargo fuzz --version) present"
    fi

    # The Python clients. One setup at a time touches the virtualenv (a lock beside it).
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9
    stamp="$venv/.fastdata-requirements"
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    imports='import kafka, confluent_kafka, lz4.frame, snappy, zstandard, crc32c, cassandra.cluster, cqlshlib.cqlshmain'
    if [[ -e "$venv" ]] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        say "virtualenv $venv is broken (its python or pip does not run); recreating it"
        rm -rf "$venv"
    fi
    if [[ ! -e "$venv" ]]; then
        say "creating the virtualenv $venv"
        python3 -m venv "$venv"
    fi
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]] || ! "$venv/bin/python" -c "$imports" >/dev/null 2>&1; then
        say "installing the Python clients (tests/clients/requirements.txt) into $venv"
        rm -f "$stamp"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            --only-binary ':all:' --requirement "$requirements"
        "$venv/bin/python" -c "$imports"
        echo "$want" >"$stamp"
    fi
    say "$("$venv/bin/python" -c 'import sys, kafka, confluent_kafka as ck; print("python %s: kafka-python %s, confluent-kafka %s (librdkafka %s)" % (sys.version.split()[0], kafka.__version__, ck.version(), ck.libversion()[0]))') in $venv"
    say "$("$venv/bin/python" -c 'import cassandra; from cassandra.cython_deps import HAVE_CYTHON; print("cassandra-driver %s (%s)" % (cassandra.__version__, "C extensions" if HAVE_CYTHON else "pure Python"))'), $("$venv/bin/cqlsh" --version)"
    say "$(kcat -V 2>&1 | grep -m1 '^Version')"
    exec 9>&-
fi
