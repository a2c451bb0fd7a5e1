#!/usr/bin/env bash
# check.sh — the OpenAPI checks of 'make test':
#   1. docs/openapi.yaml is valid OpenAPI 3.1 for a real validator
#      (@apidevtools/swagger-parser, pinned in package-lock.json and installed
#      here with 'npm ci' into the git-ignored node_modules/ when missing);
#   2. every route registered in namaskah.routes is documented, every
#      documented operation is a registered route, and each documents the
#      security and the error responses its route implies (routes.py);
#   3. with NAMASKAH_URL set, GET /api/openapi.json serves the same document.
# Needs node and npm, python3-yaml, and psql reaching a database with the
# extension through the libpq environment (PGHOST, PGPORT, PGUSER,
# PGDATABASE). Last line: "N passed, N failed"; exit status 1 on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
doc=$top/docs/openapi.yaml

case ${1:-} in
-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

passed=0 failed=0
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "FAILED: node and npm are needed (scripts/bootstrap installs them)"
    failed=$((failed + 1))
elif [ ! -d "$here/node_modules/@apidevtools/swagger-parser" ] &&
    ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "FAILED: npm ci in test/openapi"
    failed=$((failed + 1))
elif (cd "$here" && node validate.mjs "$doc"); then
    passed=$((passed + 1))
else
    echo "FAILED: docs/openapi.yaml is not a valid OpenAPI document"
    failed=$((failed + 1))
fi

/usr/bin/python3 "$here/routes.py" "$doc" >"${TMPDIR:-/tmp}/openapi-routes.$$" 2>&1
cat "${TMPDIR:-/tmp}/openapi-routes.$$"
line=$(tail -1 "${TMPDIR:-/tmp}/openapi-routes.$$")
rm -f "${TMPDIR:-/tmp}/openapi-routes.$$"
if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
else
    echo "FAILED: routes.py did not finish"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
