#!/usr/bin/env bash
# run.sh — the web console's browser suite (console.test.mjs) in Debian's
# headless Chromium, behind 'make test' (test/run_all runs it after the HTTP
# suite, against the same namaskahd).
#   puppeteer-core comes from package-lock.json ('npm ci' into the
#   git-ignored node_modules/ when missing; PUPPETEER_SKIP_DOWNLOAD: no
#   browser is ever fetched); the browser is /usr/bin/chromium (CHROMIUM).
# Needs NAMASKAH_URL, SECRET_KEY and a superuser libpq environment (PGHOST,
# PGPORT, PGUSER, PGDATABASE). Screenshots go to CONSOLE_SHOTS. Last line:
# "N passed, N failed"; exit status 1 on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

case ${1:-} in
-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

fail_setup() { echo "FAILED: $1"; echo "0 passed, 1 failed"; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
    fail_setup "node and npm are needed (scripts/bootstrap installs them)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || fail_setup "no browser at $chromium (scripts/bootstrap installs chromium)"
[ -n "${NAMASKAH_URL:-}" ] || fail_setup "NAMASKAH_URL is not set"
[ -n "${SECRET_KEY:-}" ] || fail_setup "SECRET_KEY is not set (webhooks are signed with it)"
if [ ! -d "$here/node_modules/puppeteer-core" ]; then
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
        fail_setup "npm ci in test/browser"
fi
export CHROMIUM=$chromium CONSOLE_SHOTS=${CONSOLE_SHOTS:-${TMPDIR:-/tmp}/namaskah-console-shots}
# bounded: a hung browser must not hold 'make test'
timeout 300 node "$here/console.test.mjs"
rc=$?
[ $rc -eq 124 ] && echo "FAILED: the browser suite ran past 300 s" && echo "0 passed, 1 failed"
exit $rc
