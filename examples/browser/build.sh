#!/usr/bin/env bash
# Builds the browser client (crates/web/build.sh) and puts it beside this page as parsec1.js.
# Serve this directory with any static server, e.g. `python3 -m http.server -d examples/browser`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bundle=$("$here/../../crates/web/build.sh")
cp "$bundle" "$here/parsec1.js"
printf '%s\n' "$here/parsec1.js"
