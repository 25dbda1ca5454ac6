#!/usr/bin/env bash
# Signing through the hardware providers: ours and upstream parsec-service 1.5.0's, against
# direct in-process use of the same devices (cryptoki on a SoftHSM2 token, tss-esapi on swtpm).
#
#   bench/run-hardware.sh [hardware-bench flags, e.g. --slices 10 --seconds 1 --clients 1,4]
#
# Installs what is missing (softhsm2, swtpm, libtss2-dev, pkg-config, cmake, libclang-dev),
# builds upstream 1.5.0 from crates.io with its PKCS#11 and TPM providers once (about 8 minutes
# on 2 cores) into $PARSEC_BENCH_CACHE (default ~/.cache/parsec-rs/bench), outside the
# repository, then prints a Markdown table (see BENCHMARKS.md). Not part of the test command.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PARSEC_BENCH_CACHE:-$HOME/.cache/parsec-rs/bench}"
UPSTREAM_VERSION=1.5.0
UPSTREAM_ROOT="$CACHE/upstream-hw"
UPSTREAM="$UPSTREAM_ROOT/bin/parsec"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf 'bench: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null &&
        compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' >/dev/null
}

missing=()
# Upstream's build needs cmake (its Mbed TLS) and libclang (bindgen), even with only the
# hardware providers.
command -v cc >/dev/null || missing+=(build-essential)
command -v cmake >/dev/null || missing+=(cmake)
have_libclang || missing+=(libclang-dev)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v swtpm >/dev/null || missing+=(swtpm)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists tss2-esys 2>/dev/null || missing+=(libtss2-dev)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$UPSTREAM" ] ||
    ! grep -qF "\"parsec-service $UPSTREAM_VERSION " "$UPSTREAM_ROOT/.crates.toml" 2>/dev/null; then
    log "building upstream parsec-service $UPSTREAM_VERSION (PKCS#11 and TPM providers) into $UPSTREAM_ROOT"
    CARGO_TARGET_DIR="$CACHE/upstream-hw-build" nice cargo install --locked \
        parsec-service --version "$UPSTREAM_VERSION" --no-default-features \
        --features "pkcs11-provider,tpm-provider,direct-authenticator" --root "$UPSTREAM_ROOT"
    rm -rf "$CACHE/upstream-hw-build"
fi

log "building our daemon and the driver (release, with the TPM provider)"
cd "$ROOT"
cargo build --release --quiet -p parsec-service-rs --features tpm --bin parsec
cargo build --release --quiet -p parsec-bench --features tpm --bin hardware-bench

log "running (about 2 minutes)"
"$TARGET_DIR/release/hardware-bench" --upstream "$UPSTREAM" --ours "$TARGET_DIR/release/parsec" "$@"
