#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need when it is missing, so that it
# passes on a fresh Debian machine with Rust. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"

cache="${PARSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parsec-rs}"
mkdir -p "$cache"
step() { printf '\n== %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------------
apt_updated=
need_apt() { # need_apt COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need_apt openssl openssl

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# parsec-tool 0.7.0 from crates.io: an independent client the black-box tests drive.
parsec_tool="$cache/parsec-tool-0.7.0/bin/parsec-tool"
if [ ! -x "$parsec_tool" ]; then
  step "installing parsec-tool 0.7.0 (once, into $cache)"
  cargo install --locked parsec-tool --version 0.7.0 --root "$cache/parsec-tool-0.7.0"
fi
export PARSEC_TOOL="$parsec_tool"

# --- checks ------------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked
