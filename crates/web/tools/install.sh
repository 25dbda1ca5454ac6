#!/usr/bin/env bash
# Installs the pinned npm tools of the browser client (package-lock.json beside this script)
# into a cache directory, once, and prints the node_modules path:
# - esbuild: bundles the JavaScript API, the wasm-bindgen glue and the WebAssembly module into
#   one file (its native binary comes from the npm registry, package @esbuild/linux-x64);
# - playwright-core: drives Debian's /usr/bin/chromium in the browser tests and benchmarks.
#   It never downloads a browser (playwright-core has no install step).
#
#   crates/web/tools/install.sh <cache-dir>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$1/web-tools"
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -x "$dir/node_modules/.bin/esbuild" ] \
  || [ ! -d "$dir/node_modules/playwright-core" ]; then
  printf 'installing esbuild and playwright-core (npm ci, once, into %s)\n' "$dir" >&2
  mkdir -p "$dir"
  rm -f "$dir/package-lock.json"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # esbuild's own install script only checks its binary; the binary comes as a dependency.
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
printf '%s\n' "$dir/node_modules"
