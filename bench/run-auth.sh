#!/usr/bin/env bash
# What authentication costs per request in our daemon: Direct, JWT (RS256, ES256) and JWT-SVID,
# side by side in one run (see BENCHMARKS.md, "Token authentication").
#
#   bench/run-auth.sh [auth-bench flags, e.g. --rounds 5 --seconds 5]
#
# Not part of the test command: speed is shown here, never in timed tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
printf 'bench: building our daemon and the driver (release)\n' >&2
cargo build --release --quiet -p parsec-service-rs --bin parsec
cargo build --release --quiet -p parsec-bench --bin auth-bench
"$TARGET_DIR/release/auth-bench" --ours "$TARGET_DIR/release/parsec" "$@"
