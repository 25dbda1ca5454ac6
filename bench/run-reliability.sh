#!/usr/bin/env bash
# The reliability runs of RELIABILITY.md: the service under load (Unix socket and Parsec.1),
# a well-behaved client beside each attack of the hardening issue, and a full disk. Loopback
# and the Unix socket only; bounded in time. Run it as root (one attacker runs as `nobody`; the
# full disk is a small tmpfs). Not part of the test command.
#   bench/run-reliability.sh [--seconds 60] [--unix-clients 1000] [--parsec1-clients 200]
#                            [--attack-seconds 10] [--only load|attacks|disk]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec -p parsec-bench --bin reliability
target="${CARGO_TARGET_DIR:-$ROOT/target}/release"
# 1,000 client threads and the daemon's 1,000 connection threads need descriptors.
if [ "$(ulimit -n)" -lt 8192 ]; then ulimit -n 8192; fi
# The attacker run as `nobody` re-executes this binary: it must be reachable by that user.
exec "$target/reliability" "$target/parsec" "$@"
