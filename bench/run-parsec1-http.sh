#!/usr/bin/env bash
# Benchmarks the Parsec.1 front (see BENCHMARKS.md): the server's cost per createTSK, and
# tunnelled command round trips per second with our Rust client (1 and 8 clients) against a bare
# HTTP echo on the same stack. Not part of the test command.
#   bench/run-parsec1-http.sh [seconds per case and side, default 10]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec -p parsec-bench --bin parsec1-http-bench
target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
"$target/parsec1-http-bench" "$target/parsec" "$@"
