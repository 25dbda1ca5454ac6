#!/usr/bin/env bash
# Benchmarks the Parsec.1 primitives (BOSS, EtA) against npm unicrypto 1.14.1 under Node, on
# the same inputs, and prints a Markdown table (see BENCHMARKS.md). Installs unicrypto into
# ~/.cache/parsec-rs (as ./test.sh does); needs node and npm. Not part of the test command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cache="${PARSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parsec-rs}"
PARSEC_NODE_MODULES=$(crates/parsec1/tests/node/install.sh "$cache")
export PARSEC_NODE_MODULES
cargo build --release --quiet -p parsec-bench --bin parsec1-bench
"${CARGO_TARGET_DIR:-$ROOT/target}/release/parsec1-bench" "$@"
