#!/usr/bin/env bash
# dotenv.sh — one .env grammar: the scripts' reader (scripts/lib-env.sh)
# reads the files namaskahd's reader is unit-tested on (test/dotenv/,
# test/unit/test_dotenv.c) as tricky.expected says, refuses every
# bad_*.env at the lines it names, and a script stops on one; namaskahd
# itself reads tricky.env's DATABASE_URL and LOG_LEVEL alike and refuses
# the bad files at the same lines; manage_secrets rewrites a tricky file
# without changing what it reads as. No database needed. Prints
# "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
work=$(mktemp -d /tmp/nk-dotenv.XXXXXX)
. test/ops/lib.inc
web_pid=
trap '[ -z "$web_pid" ] || kill "$web_pid" 2>/dev/null; if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
. scripts/lib-env.sh
dir=test/dotenv
bin=${NAMASKAH_BIN:-$top/frontend/namaskahd} # test/run_all exports its sanitized build

# A value in tricky.expected's visible form: \\ \n \r \t \xHH.
visible() { # value
    local LC_ALL=C v=$1 i c
    v=${v//\\/\\\\} v=${v//$'\n'/\\n} v=${v//$'\r'/\\r} v=${v//$'\t'/\\t}
    for i in {1..8} 11 12 {14..31} 127; do
        printf -v c '%b' "\\$(printf %03o "$i")"
        v=${v//"$c"/\\x$(printf %02x "$i")}
    done
    printf '%s' "$v"
}
# env_file_vars as tricky.expected lists it: KEY=[value], keys in byte order.
listing() {
    local k
    for k in "${!env_file_vars[@]}"; do printf '%s=[%s]\n' "$k" "$(visible "${env_file_vars[$k]}")"; done | LC_ALL=C sort
}
# The lines a bad_*.env says it is refused at ("# refused at line(s) N M: ...").
wanted_lines() { sed -n '1s/^# refused at lines\{0,1\} \([0-9 ]*\):.*/\1/p' "$1" | tr ' ' '\n' | grep .; }

# ---- the scripts' reader -------------------------------------------------------
grep -v '^#' $dir/tricky.expected >"$work/expected"
if env_file_parse $dir/tricky.env 2>"$work/parse.err" && listing >"$work/got" && diff "$work/expected" "$work/got" >"$work/diff"; then
    pass "lib-env.sh reads tricky.env as tricky.expected ($(wc -l <"$work/got") keys)"
else
    fail "lib-env.sh reads tricky.env as tricky.expected"; sed 's/^/    /' "$work/parse.err" "$work/diff" | head -20
fi
check "env_file_value: the last assignment counts" test "$(env_file_value $dir/tricky.env DUP)" = "third and last"
check "env_file_value: a value with a newline, whole" test "$(env_file_value $dir/tricky.env DQ_NEWLINE)" = $'line one\nline two'
check "env_file_value: a key not in the file is empty" test -z "$(env_file_value $dir/tricky.env NOT_THERE)"
check "env_file_value: a missing file is empty, not an error" test -z "$(env_file_value "$work/none.env" DUP)"
# load_env_file: the file's last assignment, and the real environment over it
out=$(env -i PATH="$PATH" PLAIN=from-environment EMPTY_DQ= bash -c '
    . scripts/lib-env.sh; load_env_file "$1" || exit 1
    printf "%s|%s|%s|%s|%s" "$PLAIN" "$DUP" "${EMPTY_DQ-unset}" "$HASH_COMMENT" "$(env | grep -c "^DUP=")"' _ $dir/tricky.env 2>&1)
check "load_env_file: the environment wins, then the file's last assignment, exported ($out)" \
    test "$out" = "from-environment|third and last||a|1"

n=0
for f in "$dir"/bad_*.env; do
    n=$((n + 1))
    want=$(wanted_lines "$f" | sed "s#.*#dotenv.sh: $f line & is not KEY=VALUE#")
    env_file_parse "$f" 2>"$work/bad.err"
    rc=$?
    got="$(cat "$work/bad.err")"$'\n'"rc=$rc keys=${#env_file_vars[@]}"
    if [ "$got" = "$want"$'\nrc=1 keys=0' ]; then
        pass "lib-env.sh refuses $(basename "$f") ($(head -1 "$f" | cut -c3-))"
    else
        fail "lib-env.sh refuses $(basename "$f"): wanted '$want' rc=1, got '$got'"
    fi
    out=$(env -i PATH="$PATH" bash -c '. scripts/lib-env.sh; load_env_file "$1"; echo "rc=$? GOOD=${GOOD-unset}"' _ "$f" 2>/dev/null)
    check "load_env_file on $(basename "$f"): returns 1, exports nothing ($out)" test "$out" = "rc=1 GOOD=unset"
done
check "the bad set was found ($n files)" test "$n" -ge 10

# A script under set -e stops at once, with the one line naming the file and line.
out=$(scripts/provision --env-file $dir/bad_key_dash.env 2>&1)
rc=$?
check "provision stops on a bad line: exit 1, one line ($out)" \
    test "$rc:$out" = "1:provision: $dir/bad_key_dash.env line 3 is not KEY=VALUE"
out=$(scripts/manage_secrets check --no-database --env-file $dir/bad_after_sq.env 2>&1)
rc=$?
check "manage_secrets stops on a bad line: exit 1, one line ($out)" \
    test "$rc:$out" = "1:manage_secrets: $dir/bad_after_sq.env line 3 is not KEY=VALUE"

# ---- manage_secrets rewrites a tricky file, the rest read as before ------------
sec=$work/secrets.env
{ cat $dir/tricky.env; printf '\nSECRET_KEY = "old one" # spaces around =\nexport JWT_SECRET_KEY=old2\nSECRET_KEY=older\n'; } >"$sec"
chmod 0600 "$sec"
if scripts/manage_secrets generate --force --env-file "$sec" >"$work/gen.out" 2>&1; then
    env_file_parse "$sec" 2>"$work/parse.err"
    s=${env_file_vars[SECRET_KEY]-} j=${env_file_vars[JWT_SECRET_KEY]-}
    unset 'env_file_vars[SECRET_KEY]' 'env_file_vars[JWT_SECRET_KEY]'
    listing >"$work/got2"
    check "generate replaced every assignment of both keys (64 characters each)" \
        bash -c "[[ '$s' =~ ^[A-Za-z0-9_-]{64}\$ && '$j' =~ ^[A-Za-z0-9_-]{64}\$ ]] && [ \$(grep -c '^SECRET_KEY=' '$sec') = 1 ] && ! grep -q old '$sec'"
    check "generate kept the other lines: read as tricky.expected still" diff "$work/expected" "$work/got2"
    check "check reads the secrets as generate wrote them" scripts/manage_secrets check --no-database --env-file "$sec"
else
    fail "manage_secrets generate on a tricky file"; sed 's/^/    /' "$work/gen.out"
fi

# ---- namaskahd reads the same files alike -------------------------------------
if [ ! -x "$bin" ]; then
    fail "no $bin (make -C frontend)"
else
    for f in "$dir"/bad_*.env; do
        got=$(env -i PATH="$PATH" ENV_FILE="$f" "$bin" --check-config 2>&1 >/dev/null)
        rc=$?
        lines=$(sed -n "s#^ENV_FILE: $f line \([0-9]*\) is not KEY=VALUE\$#\1#p" <<<"$got" | paste -sd ' ')
        want=$(wanted_lines "$f" | paste -sd ' ')
        check "namaskahd --check-config refuses $(basename "$f") at line(s) $want (exit $rc, line(s) '$lines')" \
            test "$rc:$lines" = "2:$want"
    done
    check "namaskahd --check-config accepts tricky.env" env -i PATH="$PATH" ENV_FILE=$dir/tricky.env "$bin" --check-config
    # The start-up "config" line shows what it read: DATABASE_URL (password
    # masked) and LOG_LEVEL. It is logged at info only: were the first
    # LOG_LEVEL (error) kept, there would be no such line.
    port=$(free_port)
    env -i PATH="$PATH" ENV_FILE=$dir/tricky.env LISTEN=127.0.0.1:"$port" METRICS_LISTEN=off WORKER_THREADS=4 \
        "$bin" >"$work/namaskahd.log" 2>&1 &
    web_pid=$!
    for _ in $(seq 50); do grep -q '"start"' "$work/namaskahd.log" && break; sleep 0.1; done
    kill "$web_pid" 2>/dev/null
    wait "$web_pid" 2>/dev/null
    web_pid=
    config=$(grep -m1 '"config"' "$work/namaskahd.log")
    env_file_parse $dir/tricky.env
    url=${env_file_vars[DATABASE_URL]/:nk_secret@/:***@}
    read -r got_url got_level < <(/usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[1] or "{}"); print(d.get("database_url"), d.get("log_level"))' "$config")
    check "namaskahd reads DATABASE_URL alike: $got_url" test "$got_url" = "$url"
    check "namaskahd takes the last LOG_LEVEL: ${got_level:-no config line}" test "$got_level" = info
fi

summary
