#!/usr/bin/env bash
# Benchmarks the browser client (crates/web) in Debian's Chromium beside our Rust client,
# against one release daemon in the same run: session set-up time and round trips per second,
# reported with their ratio (see BENCHMARKS.md). uparsecjs, the seed authors' TypeScript
# client, is not published on the npm registry, so it cannot be put beside them here.
# Not part of the test command.
#   bench/run-browser.sh [seconds of round trips per side, default 10]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cache="${PARSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parsec-rs}"
cargo build --release --quiet -p parsec-service-rs --bin parsec -p parsec-bench --bin parsec1-http-bench
bundle=$(crates/web/build.sh)
modules=$(crates/web/tools/install.sh "$cache")
target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
"$target/parsec1-http-bench" "$target/parsec" "${1:-10}" --browser "$modules" "$bundle"
