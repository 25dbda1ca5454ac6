#!/usr/bin/env bash
# Installs upstream parsec-service 1.5.0 from crates.io into a cache outside the repository
# (once; about 5 minutes on 2 cores) and prints the path of its `parsec` binary.
#
#   bench/install-upstream.sh CACHE_DIR
#
# Used by the test command (the client library and parsec-tool are tested against it) and by
# the benchmarks. Installs the C tool chain upstream needs (cmake for Mbed TLS, libclang for
# bindgen) with apt-get when missing. Progress goes to stderr.
set -euo pipefail

CACHE="${1:?usage: install-upstream.sh CACHE_DIR}"
VERSION=1.5.0
# Default features (unix-peer-credentials-authenticator) plus the software provider and the
# Direct authenticator, which parsec-tool's own test script uses, and the PKCS#11 and TPM
# providers, whose keys `parsec migrate` takes over (tests/migrate.rs). The TPM provider links
# Debian's libtss2 (libtss2-dev, which the test command installs for ours).
FEATURES=mbed-crypto-provider,direct-authenticator,pkcs11-provider,tpm-provider
ROOT="$CACHE/parsec-service-$VERSION"
BIN="$ROOT/bin/parsec"

log() { printf 'install-upstream: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null &&
        compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' >/dev/null
}

# cargo install records what it installed (version and features); the upstream binary has no
# --version flag.
installed_features() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k,v in d.get("installs",{}).items():
    if k.startswith("parsec-service "): print(",".join(sorted(v.get("features",[]))))' "$ROOT/.crates2.json" 2>/dev/null
}
wanted=$(echo "$FEATURES" | tr ',' '\n' | sort | paste -sd, -)
if [ ! -x "$BIN" ] ||
    ! grep -qF "\"parsec-service $VERSION " "$ROOT/.crates.toml" 2>/dev/null ||
    [ "$(installed_features)" != "$wanted" ]; then
    missing=()
    command -v cc >/dev/null || missing+=(build-essential)
    command -v cmake >/dev/null || missing+=(cmake)
    have_libclang || missing+=(libclang-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]} (to build upstream's Mbed TLS and its bindings)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    log "building parsec-service $VERSION from crates.io into $ROOT"
    start=$(date +%s)
    # A private target dir, so the workspace's build lock is not held for the whole build.
    CARGO_TARGET_DIR="$CACHE/parsec-service-build" nice cargo install --locked --quiet \
        parsec-service --version "$VERSION" --features "$FEATURES" --root "$ROOT" >&2
    rm -rf "$CACHE/parsec-service-build"
    log "built in $(($(date +%s) - start)) s"
fi
echo "$BIN"
