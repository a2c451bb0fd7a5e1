#!/usr/bin/env bash
# secret_rule.sh — one secret rule, judged alike everywhere: every line of
# test/secrets/borderline.tsv goes to the extension (install_app_secret's
# check_secret_strength, and install_signing_key's _jwt_key_fingerprint for
# HS256), namaskahd --check-secret, scripts/validate_config and
# scripts/manage_secrets check; each must accept exactly the "ok" lines and
# give the table's reason for the others. Prints "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=$(mktemp -d /tmp/nk-secret.XXXXXX)
. test/ops/lib.inc
trap 'ops_cluster_stop; if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
bin=$top/frontend/namaskahd
[ -x "$bin" ] || { fail "no namaskahd at $bin (make)"; summary; exit 1; }
ops_cluster_start || { fail "private cluster"; summary; exit 1; }
q postgres "CREATE DATABASE secrets" >/dev/null
q secrets "CREATE EXTENSION namaskah" >/dev/null

# The words of each verdict in every judge's message.
reason_words() {
    case $1 in
    placeholder) echo "placeholder" ;;
    too_short) echo "too short" ;;
    low_entropy) echo "too little entropy" ;;
    *) echo "acceptable" ;;
    esac
}
# The extension's verdict: "ok" or the message of its refusal.
sql_verdict() { # sql-with-:'v' secret
    local out
    if out=$(printf '%s\n' "$2" | psql -X -q -At -v ON_ERROR_STOP=1 -d secrets \
        -c "CREATE TEMP TABLE incoming (v text); COPY incoming FROM STDIN; $1" 2>&1); then
        echo acceptable
    else
        echo "$out"
    fi
}
# One judge's answer against the table: accepted iff "ok", reason named.
judged() { # judge verdict line-no rc message
    local judge=$1 want=$2 n=$3 rc=$4 msg=$5 words
    words=$(reason_words "$want")
    if { [ "$want" = ok ] && [ "$rc" = 0 ]; } || { [ "$want" != ok ] && [ "$rc" != 0 ]; }; then
        if grep -qF -- "$words" <<<"$msg"; then pass "line $n ($want): $judge"; return; fi
    fi
    fail "line $n ($want): $judge answered rc $rc: $(head -c 300 <<<"$msg")"
}

n=0 cases=0 jwt_key=$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')
while IFS= read -r line; do
    n=$((n + 1))
    case $line in '#'* | '') continue ;; esac
    want=${line%%$'\t'*} secret=${line#*$'\t'}
    cases=$((cases + 1))
    for name in SECRET_KEY JWT_SECRET_KEY; do
        msg=$(printf '%s\n' "$secret" | "$bin" --check-secret $name 2>&1); rc=$?
        judged "namaskahd --check-secret $name" "$want" $n $rc "$msg"
    done
    msg=$(sql_verdict "SELECT namaskah.check_secret_strength(v) FROM incoming" "$secret")
    [ "$msg" = acceptable ]; judged "extension: SECRET_KEY (check_secret_strength)" "$want" $n $? "$msg"
    msg=$(sql_verdict "SELECT namaskah._jwt_key_fingerprint(v, 'HS256') FROM incoming" "$secret")
    [ "$msg" = acceptable ]; judged "extension: JWT key HS256 (_jwt_key_fingerprint)" "$want" $n $? "$msg"

    # The scripts read the secret from an env file, as operators keep it.
    env=$work/case.env
    {
        echo "DATABASE_URL=postgresql://namaskah_frontend@127.0.0.1:$PGPORT/secrets"
        echo "SECRET_KEY=$secret"
        echo "JWT_SECRET_KEY=$jwt_key"
    } >"$env"
    chmod 600 "$env"
    msg=$(scripts/validate_config --env-file "$env" --no-database --binary "$bin" 2>&1); rc=$?
    judged "validate_config" "$want" $n $rc "$(grep 'SECRET_KEY ' <<<"$msg" | grep -v JWT_)"
    msg=$(scripts/manage_secrets check --env-file "$env" --no-database --binary "$bin" 2>&1); rc=$?
    judged "manage_secrets check" "$want" $n $rc "$(grep 'SECRET_KEY' <<<"$msg" | grep -v JWT_)"
done <test/secrets/borderline.tsv
if [ "$cases" -ge 20 ]; then pass "$cases borderline secrets judged"; else fail "only $cases cases in the table"; fi
summary
