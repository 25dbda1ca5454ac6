#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need when it is missing, so that it
# passes on a fresh Debian machine with Rust. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"

cache="${PARSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parsec-rs}"
mkdir -p "$cache"
step() { printf '\n== %s\n' "$*"; }

# Every build below shares one target directory. A clean clone builds each crate once, so
# incremental caches would only take disk (a CI run once failed linking on a full disk).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
disk() { df -h --output=avail,target . | tail -n 1 | awk '{print "free disk: " $1 " on " $2}'; }
disk

# --- tools -------------------------------------------------------------------------------------
apt_updated=
need_apt() { # need_apt COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need_apt openssl openssl
need_apt systemd-socket-activate systemd   # socket-activation test
# The hardware providers' devices: a SoftHSM2 token (PKCS#11) and swtpm (TPM 2.0); the TPM
# provider links tpm2-tss, found through pkg-config.
need_apt softhsm2-util softhsm2
need_apt swtpm swtpm
need_apt pkg-config pkg-config
if ! pkg-config --exists tss2-esys tss2-tctildr tss2-mu; then
  need_apt /nonexistent libtss2-dev
fi

# PostgreSQL, the shared key store: the tests make clusters of their own with initdb.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  need_apt /nonexistent postgresql
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# parsec-tool 0.7.0 from crates.io: an independent client the black-box tests drive, and the
# conformance script its crate ships (tests/parsec-cli-tests.sh), kept beside it.
parsec_tool="$cache/parsec-tool-0.7.0/bin/parsec-tool"
cli_tests="$cache/parsec-tool-0.7.0/parsec-cli-tests.sh"
if [ ! -x "$parsec_tool" ] || [ ! -f "$cli_tests" ]; then
  step "installing parsec-tool 0.7.0 (once, into $cache)"
  cargo install --locked --force parsec-tool --version 0.7.0 --root "$cache/parsec-tool-0.7.0"
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/parsec-tool-0.7.0 | head -n 1)
  cp "$src/tests/parsec-cli-tests.sh" "$cli_tests"
fi
export PARSEC_TOOL="$parsec_tool" PARSEC_CLI_TESTS="$cli_tests"

# Upstream parsec-service 1.5.0 from crates.io (its software provider and Direct
# authenticator): our client library and parsec-tool are tested against it too.
step "upstream parsec-service 1.5.0 (built once into $cache)"
PARSEC_UPSTREAM_SERVICE=$(bench/install-upstream.sh "$cache")
export PARSEC_UPSTREAM_SERVICE

# npm unicrypto 1.14.1, the independent Parsec.1/BOSS implementation the interop tests and
# benchmarks run under Node; pinned by the lock file beside the peer script.
need_apt node nodejs
need_apt npm npm
PARSEC_NODE_MODULES=$(crates/parsec1/tests/node/install.sh "$cache")
export PARSEC_NODE_MODULES

# The browser client: built for WebAssembly with Debian's rustc-web (crates/web/build.sh
# installs it, wasm-bindgen-cli and esbuild when missing), and tested in Debian's Chromium
# driven by playwright-core (no browser download); certutil puts the test CA in the profile.
need_apt chromium chromium
need_apt certutil libnss3-tools
step "browser client (crates/web/build.sh)"
PARSEC_WEB_BUNDLE=$(crates/web/build.sh)
PARSEC_WEB_TOOLS=$(crates/web/tools/install.sh "$cache")
export PARSEC_WEB_BUNDLE PARSEC_WEB_TOOLS

# --- checks ------------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p parsec-parsec1 -p parsec-web --no-default-features --all-targets --locked -- -D warnings

# Every decoder of untrusted bytes has a fuzz target; each runs briefly here so that they keep
# building and a shallow crash is caught. Longer runs: cargo fuzz run <target> (see fuzz/).
if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
# New inputs go to a scratch directory: the corpus kept in fuzz/corpus (from fuzz/run-long.sh)
# is read, never changed, by the test command.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cd fuzz && cargo fuzz list); do
  step "fuzz $target (${PARSEC_FUZZ_SECONDS:-15} s)"
  seeds=()
  [ -d "fuzz/corpus/$target" ] && seeds=("corpus/$target")
  mkdir -p "$scratch/$target"
  # cargo-fuzz needs nightly-only sanitizer flags; RUSTC_BOOTSTRAP lets the stable toolchain
  # accept them (this machine has no other toolchain).
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch/$target" "${seeds[@]}" -- \
     -max_total_time="${PARSEC_FUZZ_SECONDS:-15}" -max_len=4096 -print_final_stats=0 2>&1 | tail -n 3)
done

step "tests"
disk
cargo nextest run --workspace --all-features --locked --no-fail-fast
# The protocol crate as the browser client builds it: without aws-lc (RustCrypto's blinded
# RSA and HMAC).
step "parsec1 without aws-lc (the WebAssembly build's code paths)"
cargo nextest run -p parsec-parsec1 --no-default-features --locked --no-fail-fast
disk
