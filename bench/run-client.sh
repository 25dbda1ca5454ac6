#!/usr/bin/env bash
# Benchmarks our client library against upstream's parsec-client 0.16, both against our daemon
# in the same run, with the bare-socket limit beside them (ping and ECDSA P-256 sign, one thread
# and eight), and prints a Markdown table (see BENCHMARKS.md, "Client library").
#
#   bench/run-client.sh [--rounds 3] [--seconds 2] [--threads 8]
#
# Not part of the test command: speed is shown here, never in timed tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec
cargo build --release --quiet -p parsec-bench --bin client-bench
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
"$TARGET_DIR/release/client-bench" --ours "$TARGET_DIR/release/parsec" "$@"
