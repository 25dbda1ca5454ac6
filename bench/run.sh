#!/usr/bin/env bash
# Benchmarks this Parsec service against upstream parsec-service 1.5.0, side by side.
#
#   bench/run.sh [parsec-bench flags, e.g. --rounds 5 --seconds 5]
#
# Installs what is missing, then prints a Markdown table (see BENCHMARKS.md):
#   - upstream parsec-service 1.5.0 from crates.io with the C tool chain it needs, built once by
#     bench/install-upstream.sh into $PARSEC_BENCH_CACHE (default ~/.cache/parsec-rs, where the
#     test command installs it too), outside the repository;
#   - our daemon and the driver, in release mode.
# Not part of the test command: speed is shown here, never in timed tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PARSEC_BENCH_CACHE:-$HOME/.cache/parsec-rs}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf 'bench: %s\n' "$*" >&2; }

UPSTREAM=$("$ROOT/bench/install-upstream.sh" "$CACHE")

log "building our daemon and the driver (release)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec
cargo build --release --quiet -p parsec-bench

# The release link lays out the functions startup.order names first (crates/service/build.rs);
# names the build no longer has are skipped, which shows here as idle memory creeping back up.
order="$ROOT/crates/service/startup.order"
found=$(nm --defined-only "$TARGET_DIR/release/parsec" |
    awk 'NR == FNR { want[$0] = 1; next } ($3 in want) { n++ } END { print n + 0 }' "$order" -)
listed=$(wc -l <"$order")
log "startup.order: $found of $listed functions found (bench/startup-order.sh renews it)"
if [ "$found" -lt "$listed" ]; then
    # Each start-up function outside the list costs a 64 KiB window: 29 stale names of 1978
    # once cost 0.9 MiB of idle RSS (BENCHMARKS.md).
    log "WARNING: startup.order is stale; idle RSS will be higher until bench/startup-order.sh renews it"
fi

log "running (targets one after the other; about 4 minutes)"
"$TARGET_DIR/release/parsec-bench" --upstream "$UPSTREAM" --ours "$TARGET_DIR/release/parsec" "$@"
