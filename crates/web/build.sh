#!/usr/bin/env bash
# Builds the browser client into one file a page loads: parsec-web for wasm32-unknown-unknown,
# its wasm-bindgen glue, and js/parsec1.js, bundled by esbuild with the WebAssembly module
# inside (Base64) into <out>/parsec1.js (an ES module). Installs what it needs when missing:
# - Debian's Rust for Firefox (rustc-web 1.96 with its std source: rustup here has no wasm32
#   target and no std source, see README "Parsec.1 from a web page");
# - wasm-bindgen-cli, the version of the wasm-bindgen crate in Cargo.lock, into the cache;
# - esbuild from npm (crates/web/tools), into the cache.
#
#   crates/web/build.sh [out-dir]     (default: target/web)
#
# PARSEC_RS_CACHE (default ~/.cache/parsec-rs) is the tools cache; the wasm build shares the
# workspace's target directory (target/wasm), so a second run only relinks what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/target/web}"
cache="${PARSEC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parsec-rs}"
mkdir -p "$cache" "$out"

need_web_rust() {
  dpkg -s rustc-web cargo-web rust-web-src rust-web-llvm lld-22 >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "build.sh: needs Debian's rustc-web; run as root once, or: apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22" >&2
    exit 1
  fi
  echo "build.sh: installing Debian's rustc-web (once)" >&2
  apt-get update -qq
  # rust-web-llvm links /usr/bin/rust-lld to lld-22 without depending on it.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    rustc-web cargo-web rust-web-src rust-web-llvm lld-22 >/dev/null
}
need_web_rust

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")
bindgen="$cache/wasm-bindgen-$version/bin/wasm-bindgen"
if [ ! -x "$bindgen" ]; then
  echo "build.sh: installing wasm-bindgen-cli $version (once, into $cache)" >&2
  # Not --locked: one of its locked dependencies is missing from the registry mirror here.
  cargo install wasm-bindgen-cli --version "$version" --root "$cache/wasm-bindgen-$version" >&2
fi
modules=$("$root/crates/web/tools/install.sh" "$cache")

# Debian's cargo and rustc (rustup's come first in PATH); std built for wasm32 from source.
(cd "$root" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$root/target/wasm" \
  /usr/bin/cargo build --quiet --release --locked --target wasm32-unknown-unknown \
  -Zbuild-std=std,panic_abort -p parsec-web)
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage"
"$bindgen" --target web --out-dir "$stage/pkg" \
  "$root/target/wasm/wasm32-unknown-unknown/release/parsec_web.wasm"
cp "$root/crates/web/js/parsec1.js" "$root/crates/client/src/universa/mainnet.json" "$stage/"
"$modules/.bin/esbuild" "$stage/parsec1.js" --bundle --format=esm --target=es2020 \
  --loader:.wasm=binary --legal-comments=none --log-level=warning --outfile="$out/parsec1.js"
printf '%s\n' "$out/parsec1.js"
