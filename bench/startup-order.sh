#!/usr/bin/env bash
# Writes crates/service/startup.order: the functions of the release daemon that run from
# start-up to idle (software provider, SQLite store), in their current address order. The
# release link (crates/service/build.rs) puts them side by side, so that the pages the idle
# daemon keeps mapped are few (BENCHMARKS.md, "Memory").
#
#   bench/startup-order.sh
#
# Run it again after a toolchain or dependency update, or when bench/run.sh reports that few
# of the listed functions are still found: the list names symbols, whose hashes change with
# them. It records with valgrind's callgrind (installed with apt-get when missing), which
# counts executed functions exactly; it takes about a minute after the build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/crates/service/startup.order"
log() { printf 'startup-order: %s\n' "$*" >&2; }

if ! command -v valgrind >/dev/null; then
    log "installing valgrind"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec
BIN="$TARGET_DIR/release/parsec"

TOOL="${PARSEC_TOOL:-$HOME/.cache/parsec-rs/parsec-tool-0.7.0/bin/parsec-tool}"
tmp=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cat >"$tmp/config.toml" <<CONFIG
[core_settings]
allow_root = true

[listener]
listener_type = "DomainSocket"
timeout = 3000
socket_path = "$tmp/parsec.sock"

[authenticator]
auth_type = "Direct"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "$tmp/kim.sqlite3"

[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
CONFIG

# record NAME: runs the daemon under callgrind until it is idle (the socket served and the
# random generator seeded, which callgrind slows to seconds) and dumps NAME.1 there.
record() {
    rm -f "$tmp/parsec.sock"
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/$1" \
        "$BIN" -c "$tmp/config.toml" >"$tmp/log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do [ -S "$tmp/parsec.sock" ] && break; sleep 0.1; done
    [ -S "$tmp/parsec.sock" ] || { cat "$tmp/log" >&2; exit 1; }
    sleep 15
    callgrind_control --dump "$pid" >/dev/null 2>&1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
# Every function a dump saw run (as caller or callee).
ran() { grep -hoE '^c?fn=\([0-9]+\) .+' "$@" | sed -E 's/^c?fn=\([0-9]+\) //' | sort -u; }
tool() { PARSEC_SERVICE_ENDPOINT="unix:$tmp/parsec.sock" RUST_LOG=error "$TOOL" "$@" >/dev/null; }

log "recording start-up on a new store"
record fresh
if [ -x "$TOOL" ]; then
    log "recording requests with $TOOL"
    tool ping
    tool create-ecc-key -k startup-order
    tool sign -k startup-order "startup order"
    tool export-public-key -k startup-order
    tool list-keys
    tool generate-random --nbytes 32
fi
stop
ran "$tmp"/fresh.1 >"$tmp/startup"
if [ -x "$TOOL" ]; then
    log "recording start-up on a store that holds a key"
    record holding
    stop
    ran "$tmp"/holding.1 >>"$tmp/startup"
    ran "$tmp"/fresh >"$tmp/requests"
else
    log "no parsec-tool at $TOOL (PARSEC_TOOL): start-up only"
    : >"$tmp/requests"
fi

# Start-up functions first, then those only requests ran, each in the binary's address order;
# only names the binary defines.
nm --defined-only "$BIN" | awk '$2 ~ /^[tT]$/ { print $1, $3 }' | sort >"$tmp/text"
awk 'NR == FNR { ran[$0] = 1; next } ($2 in ran) { print $2 }' "$tmp/startup" "$tmp/text" >"$OUT"
awk 'NR == FNR { ran[$0] = 1; next } FILENAME == ARGV[2] { early[$0] = 1; next }
         ($2 in ran) && !($2 in early) { print $2 }' "$tmp/requests" "$tmp/startup" "$tmp/text" >"$tmp/later"
log "$(wc -l <"$OUT") start-up and $(wc -l <"$tmp/later") request functions written to ${OUT#"$ROOT"/}"
cat "$tmp/later" >>"$OUT"
