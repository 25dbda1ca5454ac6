#!/usr/bin/env bash
# The software provider's rows through our daemon with its key store on SQLite and on
# PostgreSQL (one node), side by side in one run (see BENCHMARKS.md).
#
#   bench/run-store.sh [store-bench flags, e.g. --rounds 5 --seconds 5]
#
# Needs Debian's postgresql package (installed when missing); the cluster is made in a
# temporary directory and run as `nobody` when run as root. Not part of the test command.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf 'bench: %s\n' "$*" >&2; }

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    log "installing postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
cd "$ROOT"
log "building our daemon and the driver (release)"
cargo build --release --quiet -p parsec-service-rs --bin parsec
cargo build --release --quiet -p parsec-bench --bin store-bench
"$TARGET_DIR/release/store-bench" --ours "$TARGET_DIR/release/parsec" "$@"
