#!/usr/bin/env bash
# Installs the pinned npm packages (package-lock.json beside this script) into a cache
# directory, once, and prints the node_modules path to use as PARSEC_NODE_MODULES:
# - unicrypto 1.14.1: BOSS, Parsec.1 primitives (interop tests and benchmarks);
# - universa-core 1.6.4: Universa contracts and the node client protocol. Its package holds
#   TypeScript only, and its install script fails under Node 20: scripts are skipped and the
#   package is compiled here with its own tsconfig (TypeScript 3.9, pinned).
#
#   crates/parsec1/tests/node/install.sh <cache-dir>
#
# Used by ./test.sh (interop tests) and bench/run-parsec1.sh (benchmarks). Needs node and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$1/node-unicrypto"
core="$dir/node_modules/universa-core"
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules/unicrypto" ] \
  || [ ! -f "$core/lib/index.js" ]; then
  printf 'installing unicrypto and universa-core (npm ci, once, into %s)\n' "$dir" >&2
  mkdir -p "$dir"
  rm -f "$dir/package-lock.json"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  # The output must sit two levels below the package (its code requires ../../mainnet.json).
  (cd "$core" && ../.bin/tsc -p tsconfig.json --outDir lib --target es2018 --sourceMap false --types node >&2)
fi
printf '%s\n' "$dir/node_modules"
