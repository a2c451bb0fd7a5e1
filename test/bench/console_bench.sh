#!/bin/sh
# console_bench.sh — the web console's first load (bytes transferred) and
# time to an interactive login form in headless Chromium, beside a GET
# /health round trip in the same run (test/browser/bench.mjs). Needs
# NAMASKAH_URL (bench/run exports it), node, and /usr/bin/chromium;
# puppeteer-core comes from test/browser's lock file. Exit status 0 when it
# ran.
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
here=$(cd "$(dirname "$0")/../browser" && pwd)
[ -n "${NAMASKAH_URL:-}" ] || { echo "console_bench: NAMASKAH_URL is not set"; exit 1; }
if [ ! -d "$here/node_modules/puppeteer-core" ]; then
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
timeout 120 node "$here/bench.mjs"
