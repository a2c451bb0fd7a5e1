#!/usr/bin/env bash
# first_hour — a new operator's first hour, typed as they would type it, on
# a copy of this checkout: 'make start'; docs/api.md's walkthrough, run from
# its own code blocks; the dev limits used up (registering until 429); then
# the operator scripts with no set-up step of their own: create_admin,
# backup, restore_backup --force into a scratch database, smoke_checks
# --register twice, run_security_tests, load_test --duration 5; then the
# process handling (a second start, a port taken by another program,
# 'make stop'). Only the ports may differ from the defaults, when those are
# taken on this machine. Ends with "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/namaskah-first-hour.XXXXXX)
# shellcheck source=test/ops/lib.inc
. "$top/test/ops/lib.inc"

# A new user's shell: none of the test runner's database or secret variables.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD DATABASE_URL ADMIN_DATABASE_URL \
    SECRET_KEY JWT_SECRET_KEY RATE_LIMIT_REQUESTS RATE_LIMIT_WINDOW ENV_FILE \
    NAMASKAH_URL NAMASKAH_METRICS_URL NAMASKAH_LOG NAMASKAH_PGDIR NAMASKAH_PGPORT \
    NAMASKAH_BIN NAMASKAH_PGLOG_OFFSET METRICS_URL LISTEN METRICS_LISTEN \
    ASAN_OPTIONS UBSAN_OPTIONS

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { if port_free "$1"; then echo "$1"; else free_port; fi; }
api_port=$(pick_port 8080)
metrics_port=$(pick_port 9464)
pg_port=$(pick_port 54329)
if [ "$api_port:$metrics_port:$pg_port" != 8080:9464:54329 ]; then
    export LISTEN=127.0.0.1:$api_port METRICS_LISTEN=127.0.0.1:$metrics_port NAMASKAH_DEV_PGPORT=$pg_port
    export NAMASKAH_URL=http://127.0.0.1:$api_port
fi
API=http://127.0.0.1:$api_port

copy=$work/namaskah
mkdir -p "$copy"
chmod 0755 "$work" "$copy"
tar -C "$top" --exclude=./.run --exclude=./.env -cf - . | tar -C "$copy" -xf -
cd "$copy" || exit 1
cleanup() {
    (cd "$copy" && scripts/dev stop >/dev/null 2>&1)
    [ -n "${squatter:-}" ] && kill "$squatter" 2>/dev/null
    if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "first_hour: scratch kept in $work"; fi
}
trap cleanup EXIT

# run NAME COMMAND...: the output goes to $work/NAME.out; the status is returned.
run() { local name=$1; shift; "$@" >"$work/$name.out" 2>&1; }
has() { grep -qE -- "$2" "$work/$1.out"; }
show() { sed 's/^/    /' "$work/$1.out" | tail -"${2:-15}"; }
expect() { # description name command...: passes when the command exits 0
    local what=$1 name=$2; shift 2
    if run "$name" "$@"; then pass "$what"; else fail "$what"; show "$name"; fi
}

# --- make start ----------------------------------------------------------
expect "make start brings the stack up" start make start
if has start 'dev: namaskahd on http://127.0.0.1:'"$api_port" && [ "$(wc -l <"$work/start.out")" -le 12 ]; then
    pass "make start says where it serves in a few lines ($(wc -l <"$work/start.out") lines)"
else
    fail "make start output"; show start 30
fi

# --- docs/api.md's walkthrough, from its own code blocks ------------------
# Every sh block up to "## Rules every endpoint follows", minus 'make start'
# (done above); the API address follows the port in use.
awk '/^## Rules every endpoint follows/ { exit }
     /^```sh$/ { inblock = 1; next }
     /^```$/ { inblock = 0; next }
     inblock' docs/api.md |
    grep -v '^make start' | sed "s#http://127.0.0.1:8080#$API#g" >"$work/walkthrough.sh"
expect "docs/api.md's walkthrough runs word for word" walkthrough bash -euo pipefail "$work/walkthrough.sh"
if has walkthrough '"code": "48291"' && has walkthrough '"status": "completed"'; then
    pass "the walkthrough reads the code the webhook delivered"
else
    fail "the walkthrough did not read the code"; show walkthrough 30
fi

# --- the dev limits used up -------------------------------------------------
for i in $(seq 10); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$API/api/auth/register" -H 'Content-Type: application/json' \
        -d "{\"email\": \"eager-$i@example.com\", \"password\": \"a long enough password\"}")
    [ "$code" = 429 ] && break
done
if [ "$code" = 429 ]; then pass "registering again and again ends in 429 (after $i)"; else fail "no 429 after 10 registrations ($code)"; fi

# --- the operator scripts, as typed ------------------------------------------
printf 'a long admin password\n' >"$work/admin-password"
expect "scripts/create_admin finds the dev database by itself" create_admin \
    bash -c 'scripts/create_admin ops@example.com < "$1"' _ "$work/admin-password"
if has create_admin 'using database namaskah on the development cluster'; then pass "create_admin says which database"; else fail "create_admin does not say which database"; show create_admin; fi
admin_token=$(curl -sS "$API/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email": "ops@example.com", "password": "a long admin password"}' |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin).get("access_token", ""))' 2>/dev/null)
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/api/admin/users?limit=5" -H "Authorization: Bearer $admin_token")
if [ "$code" = 200 ]; then pass "the new admin logs in and lists users"; else fail "admin users answered $code"; fi

expect "scripts/backup" backup scripts/backup
expect "scripts/restore_backup --force into a scratch database" restore \
    scripts/restore_backup --latest .run/backups --database namaskah_scratch --force
has restore "audit" || { fail "restore_backup did not report the audit chain"; show restore; }

expect "scripts/smoke_checks --register (first)" smoke1 scripts/smoke_checks --register
expect "scripts/smoke_checks --register (second)" smoke2 scripts/smoke_checks --register
if has smoke2 'created in database namaskah instead|POST /api/auth/register 201'; then
    pass "smoke_checks says how its account was made"
else
    fail "smoke_checks account"; show smoke2
fi

expect "scripts/run_security_tests against the dev stack" security scripts/run_security_tests
if has security 'auth rate limits lifted for the run \(development cluster\)' && has security 'auth rate limits restored'; then
    pass "run_security_tests lifts the dev auth limits for its run and puts them back"
else
    fail "run_security_tests limits"; show security 20
fi
if has security '[0-9]+ passed' && ! has security '[0-9]+ (failed|error)'; then
    pass "run_security_tests: $(grep -oE '[0-9]+ passed[^=]*' "$work/security.out" | tail -1)"
else
    fail "run_security_tests summary"; show security 30
fi

expect "scripts/load_test --duration 5" load scripts/load_test --duration 5
if has load '^load_test: successful \(2xx\) +[0-9]+' && has load 'throughput [0-9.]+ successful requests/s'; then
    pass "load_test counts successes and refusals apart"
else
    fail "load_test report"; show load 20
fi
if has load '^load_test: refused \(429\) +0 ' || has load 'refused by rate-limit policy default'; then
    pass "load_test names the policy behind any refusal"
else
    fail "load_test refusals unexplained"; show load 20
fi

# --- process handling ----------------------------------------------------------
expect "a second make start says it is running" start2 scripts/dev start
has start2 'already running' || { fail "second start"; show start2; }
expect "make stop" stop make stop
if has stop 'stopped namaskahd \(PID [0-9]+\)' && has stop 'database: stopped|dev: database stopped' && port_free "$api_port"; then
    pass "make stop stops namaskahd and the database and frees the port"
else
    fail "make stop"; show stop
fi
expect "make stop again" stop2 make stop
has stop2 'namaskahd was not running' && pass "a second make stop says nothing was running" ||
    { fail "second make stop"; show stop2; }

squat_port=$(free_port)
/usr/bin/python3 -m http.server "$squat_port" --bind 127.0.0.1 >/dev/null 2>&1 &
squatter=$!
for _ in $(seq 50); do port_free "$squat_port" || break; sleep 0.1; done
if LISTEN=127.0.0.1:$squat_port run squat timeout 60 scripts/dev start; then
    fail "dev start started on a port another program holds"
elif has squat 'already in use by another process'; then
    pass "make start refuses a port another program holds, and says so"
else
    fail "dev start on a taken port"; show squat
fi
kill "$squatter" 2>/dev/null; squatter=

# 'make run' in one shell, 'make stop' in another: the foreground server stops too.
scripts/dev run >"$work/run.out" 2>&1 &
runner=$!
for _ in $(seq 100); do curl -fsS -m 1 "$API/health" >/dev/null 2>&1 && break; sleep 0.1; done
expect "make stop while make run serves" stop3 make stop
for _ in $(seq 50); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "$runner" 2>/dev/null && port_free "$api_port" && has stop3 'stopped namaskahd \(PID'; then
    pass "make stop stops the server of make run, which exits"
else
    fail "make stop after make run"; show stop3; show run; kill "$runner" 2>/dev/null
fi

summary
