#!/usr/bin/env bash
# Installs npm unicrypto (pinned by package-lock.json beside this script) into a cache
# directory, once, and prints the node_modules path to use as PARSEC_NODE_MODULES.
#
#   crates/parsec1/tests/node/install.sh <cache-dir>
#
# Used by ./test.sh (interop tests) and bench/run-parsec1.sh (benchmarks). Needs node and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$1/node-unicrypto"
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules/unicrypto" ]; then
  printf 'installing unicrypto (npm ci, once, into %s)\n' "$dir" >&2
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
printf '%s\n' "$dir/node_modules"
