#!/usr/bin/env bash
# Benchmarks this Parsec service against upstream parsec-service 1.5.0, side by side.
#
#   bench/run.sh [parsec-bench flags, e.g. --rounds 5 --seconds 5]
#
# Installs what is missing, then prints a Markdown table (see BENCHMARKS.md):
#   - the C tool chain upstream needs (cmake for Mbed TLS, libclang for bindgen), with apt-get;
#   - upstream parsec-service 1.5.0 from crates.io, built once (about 5 minutes on 2 cores) into
#     $PARSEC_BENCH_CACHE (default ~/.cache/parsec-rs/bench), outside the repository;
#   - our daemon and the driver, in release mode.
# Not part of the test command: speed is shown here, never in timed tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PARSEC_BENCH_CACHE:-$HOME/.cache/parsec-rs/bench}"
UPSTREAM_VERSION=1.5.0
UPSTREAM_FEATURES=mbed-crypto-provider,direct-authenticator
UPSTREAM_ROOT="$CACHE/upstream"
UPSTREAM="$UPSTREAM_ROOT/bin/parsec"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf 'bench: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null &&
        compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' >/dev/null
}

install_build_deps() {
    local missing=()
    command -v cc >/dev/null || missing+=(build-essential)
    command -v cmake >/dev/null || missing+=(cmake)
    have_libclang || missing+=(libclang-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]} (needed to build upstream's Mbed TLS and its bindings)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# cargo install records what it installed; the upstream binary has no --version flag.
if [ ! -x "$UPSTREAM" ] ||
    ! grep -qF "\"parsec-service $UPSTREAM_VERSION " "$UPSTREAM_ROOT/.crates.toml" 2>/dev/null; then
    install_build_deps
    log "building upstream parsec-service $UPSTREAM_VERSION from crates.io into $UPSTREAM_ROOT"
    start=$(date +%s)
    # Default features (unix-peer-credentials-authenticator) plus the two the bench uses.
    # A private target dir, so the workspace's build lock is not held for the whole build.
    CARGO_TARGET_DIR="$CACHE/upstream-build" nice cargo install --locked \
        parsec-service --version "$UPSTREAM_VERSION" \
        --features "$UPSTREAM_FEATURES" --root "$UPSTREAM_ROOT"
    rm -rf "$CACHE/upstream-build"
    log "upstream built in $(($(date +%s) - start)) s"
fi

log "building our daemon and the driver (release)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --bin parsec
cargo build --release --quiet -p parsec-bench

log "running (targets one after the other; about 4 minutes)"
"$TARGET_DIR/release/parsec-bench" --upstream "$UPSTREAM" --ours "$TARGET_DIR/release/parsec" "$@"
