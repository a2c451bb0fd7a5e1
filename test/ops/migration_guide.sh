#!/usr/bin/env bash
# migration_guide.sh — runs docs/MIGRATION.md end to end on a private
# cluster: every ```sh block marked <!-- step: NAME --> is executed line by
# line, in the guide's order, with ENV, DB, BACKUPS, PREFIX and URL pointing
# at scratch places, starting from a 2.3.0 database with accounts and
# verifications: secrets → config → backup (and a proven restore) →
# migrate → validate → deploy (PID-file mode) → smoke → a failing deploy
# that rolls itself back → rollback to 2.3.0 → validate → upgrade again.
# Between steps it checks the version, that no account or verification was
# lost, that the service answers when it should, and the audit chain. Also
# checks that every command shown in the guide is one of scripts/*, and
# exercises rollback_deployment --version=previous. Prints "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
guide=docs/MIGRATION.md
work=$(mktemp -d /tmp/nk-guide.XXXXXX)
. test/ops/lib.inc
cleanup() {
    [ -f "$work/opt/run/namaskahd.pid" ] && kill "$(cat "$work/opt/run/namaskahd.pid")" 2>/dev/null
    ops_cluster_stop
    rm -f "$top/.run/migrate-${DB:-guide}.snapshot"
    if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

# ---- the guide's commands are scripts --------------------------------------
bad=$(awk '/^```sh/{f=1; next} /^```/{f=0} f && !/^[[:space:]]*(#|$)/ && !/^scripts\/[a-z_]+( |$)/' "$guide")
if [ -z "$bad" ]; then pass "every command in $guide is one of scripts/*"; else fail "commands that are not scripts: $bad"; fi
missing=
for s in $(grep -oE '^scripts/[a-z_]+' "$guide" | sort -u); do [ -x "$s" ] || missing="$missing $s"; done
if [ -z "$missing" ]; then pass "every script the guide names exists"; else fail "missing:$missing"; fi

# ---- a 2.3.0 database with rows ----------------------------------------------
ops_cluster_start || { fail "private cluster"; summary; exit 1; }
export DB=guide ENV=$work/namaskah.env BACKUPS=$work/backups PREFIX=$work/opt
http_port=$(free_port)
export URL=http://127.0.0.1:$http_port
q postgres "CREATE DATABASE $DB" >/dev/null
q "$DB" "CREATE EXTENSION namaskah VERSION '2.3.0'" >/dev/null
q "$DB" "INSERT INTO namaskah.users (email, password_hash, role)
         SELECT 'user' || g || '@example.com', namaskah.legacy_password_hash('password number ' || g), 'user'
         FROM generate_series(1, 40) g;
         INSERT INTO namaskah.users (email, password_hash) VALUES
             ('smoke@example.com', namaskah.legacy_password_hash('smoke account password'));
         INSERT INTO namaskah.verifications (user_id, service, phone_number, status, code, expires_at)
         SELECT u.id, 'telegram', '+1555020' || lpad(row_number() OVER ()::text, 4, '0'),
                CASE WHEN row_number() OVER () % 3 = 0 THEN 'completed' ELSE 'expired' END,
                '123456', now() - interval '1 day'
         FROM namaskah.users u" >/dev/null
users0=$(q "$DB" "SELECT count(*) FROM namaskah.users")
ver0=$(q "$DB" "SELECT count(*) FROM namaskah.verifications")
echo "setup: 2.3.0 database $DB with $users0 accounts and $ver0 verifications"
(umask 077 && cat >"$ENV") <<ENVFILE
DATABASE_URL=postgresql://namaskah_frontend:$(openssl rand -hex 16)@127.0.0.1:$PGPORT/$DB
LISTEN=127.0.0.1:$http_port
METRICS_LISTEN=off
WORKER_THREADS=4
SMOKE_EMAIL=smoke@example.com
SMOKE_PASSWORD=smoke account password
ENVFILE

counts_kept() { # where
    local u v
    u=$(q "$DB" "SELECT count(*) FROM namaskah.users") v=$(q "$DB" "SELECT count(*) FROM namaskah.verifications")
    if [ "$u" = "$users0" ] && [ "$v" = "$ver0" ]; then pass "$1: all $u accounts and $v verifications there"
    else fail "$1: $u accounts (had $users0), $v verifications (had $ver0)"; fi
}
version_is() { # where version
    local v
    v=$(q "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'namaskah'")
    if [ "$v" = "$2" ]; then pass "$1: extension at $2"; else fail "$1: extension at '$v', expected $2"; fi
}
answering() { [ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL/health/ready")" = 200 ]; }

# ---- the guide's steps ---------------------------------------------------------
run_step() { # name [expect-fail]
    local name=$1 expect=${2:-ok} lines line n=0 rc
    lines=$(awk -v s="<!-- step: $name" 'index($0, s) == 1 {f=1; next} f && /^```sh/ {g=1; next} g && /^```/ {exit} g && !/^[[:space:]]*(#|$)/' "$guide")
    [ -n "$lines" ] || { fail "step $name: not found in $guide"; return; }
    while IFS= read -r line; do
        n=$((n + 1))
        # PID-file mode and the binaries already built: no systemd here.
        case $line in
        scripts/deploy_production*) line="$line --skip-build --mode pidfile" ;;
        scripts/rollback_deployment*) line="$line --mode pidfile" ;;
        esac
        echo "--- step $name: $line" >>"$work/steps.log"
        bash -c "$line" >>"$work/steps.log" 2>&1
        rc=$?
        if [ "$expect" = expect-fail ]; then
            if [ $rc -ne 0 ]; then pass "step $name: '$line' failed as intended"; else fail "step $name: '$line' should have failed"; fi
        elif [ $rc -eq 0 ]; then
            pass "step $name: $line"
        else
            fail "step $name: $line (exit $rc)"
            sed -n "/^--- step $name: ${line%% *}/,\$p" "$work/steps.log" | tail -15 | sed 's/^/    /'
        fi
    done <<<"$lines"
}

run_step secrets
check "secrets file has mode 0600" test "$(stat -c %a "$ENV")" = 600
run_step config
run_step backup
check "restored copy has every account" test "$(q "${DB}_restore_check" 'SELECT count(*) FROM namaskah.users')" = "$users0"
run_step migrate
version_is "after migrate" 2.4.0
counts_kept "after migrate"
run_step validate
run_step deploy
check "service answers after deploy" answering
first_release=$(readlink "$PREFIX/current")
run_step smoke
check "smoke login upgraded the legacy hash to scrypt" test \
    "$(q "$DB" "SELECT left(password_hash, 8) FROM namaskah.users WHERE email = 'smoke@example.com'")" = '$scrypt$'
audit1=$(q "$DB" "SELECT count(*) FROM namaskah.audit_log")
run_step drill expect-fail
check "service answers after the failed deploy rolled back" answering
check "the failed deploy left the running release current" test "$(readlink "$PREFIX/current")" = "$first_release"
counts_kept "after the drill"

# rollback_deployment --version=previous: a second release, then back.
sleep 1
check "a second release deploys" scripts/deploy_production --env-file "$ENV" --prefix "$PREFIX" --skip-build --mode pidfile
check "rollback_deployment --version=previous" scripts/rollback_deployment --version=previous --env-file "$ENV" --prefix "$PREFIX" --mode pidfile
check "the previous release is current again" test "$(readlink "$PREFIX/current")" = "$first_release"
check "service answers after rollback to previous" answering

run_step rollback
version_is "after rollback" 2.3.0
counts_kept "after rollback"
check "namaskahd stopped with the database at 2.3.0" bash -c '! curl -s -m 2 -o /dev/null '"$URL"'/health'
check "audit log held in namaskah_holding" test "$(q "$DB" 'SELECT count(*) FROM namaskah_holding.audit_log')" -ge "$audit1"
run_step upgrade-again
version_is "after upgrading again" 2.4.0
counts_kept "after upgrading again"
check "audit chain intact and complete" test "$(q "$DB" "SELECT ok AND checked >= $audit1 FROM namaskah.audit_verify()")" = t
check "no holding schema left" test -z "$(q "$DB" "SELECT to_regnamespace('namaskah_holding')")"
check "the smoke account's scrypt hash survived the round trip" test \
    "$(q "$DB" "SELECT left(password_hash, 8) FROM namaskah.users WHERE email = 'smoke@example.com'")" = '$scrypt$'

summary
