#!/usr/bin/env bash
# check.sh — the observability checks of 'make test' (issue 7).
#
#   NAMASKAH_METRICS_URL=http://127.0.0.1:PORT test/metrics/check.sh
#
# Runs after the HTTP suite against the namaskahd it exercised:
#   * promtool check rules / test rules on docs/prometheus/alerts*.yml;
#   * a real scrape of NAMASKAH_METRICS_URL/metrics: its Content-Type, and
#     promtool check metrics on it;
#   * the alert rules and the Grafana dashboard (docs/grafana/namaskah.json)
#     name only metrics that the scrape really has;
#   * the scrape shows non-zero values for every family the HTTP suite
#     exercised: requests, the latency histogram, authentication failures,
#     rate-limit refusals and security events. The database folds audit
#     records into its counters after security.rollup_lag_seconds, so these
#     are re-scraped for up to NAMASKAH_METRICS_WAIT seconds (default 20).
# Optional: NAMASKAH_METRICS_TOKEN (sent as a bearer token).
# Prints one line per check and "N passed, N failed"; exits 1 on a failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
alerts=$top/docs/prometheus/alerts.yml
alert_tests=$top/docs/prometheus/alerts.test.yml
dashboard=$top/docs/grafana/namaskah.json
url=${NAMASKAH_METRICS_URL:-}
wait_s=${NAMASKAH_METRICS_WAIT:-20}
work=$(mktemp -d /tmp/namaskah-metrics.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

# Scrapes into $work/scrape.txt (headers in $work/scrape.head); 0 on HTTP 200.
scrape() {
    local auth=()
    [ -n "${NAMASKAH_METRICS_TOKEN:-}" ] &&
        auth=(-H "Authorization: Bearer $NAMASKAH_METRICS_TOKEN")
    curl -sS --max-time 15 "${auth[@]}" -D "$work/scrape.head" \
        -o "$work/scrape.txt" -w '%{http_code}' "$url/metrics" >"$work/scrape.code" 2>"$work/scrape.err" &&
        [ "$(cat "$work/scrape.code")" = 200 ]
}

# Sum of the samples of a metric in the last scrape (0 when absent).
sample_sum() { # name
    awk -v n="$1" '$0 !~ /^#/ { split($1, a, "{"); if (a[1] == n) s += $NF } END { printf "%.17g\n", s + 0 }' \
        "$work/scrape.txt"
}

# --- rules -------------------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1; then
    bad "promtool is not installed (Debian package prometheus; scripts/bootstrap)"
    finish
fi
if promtool check rules "$alerts" >"$work/rules.log" 2>&1; then
    ok "promtool check rules $(basename "$alerts")"
else
    cat "$work/rules.log"
    bad "promtool check rules $(basename "$alerts")"
fi
if (cd "$(dirname "$alert_tests")" && promtool test rules "$(basename "$alert_tests")") \
    >"$work/rules-test.log" 2>&1; then
    ok "promtool test rules $(basename "$alert_tests")"
else
    cat "$work/rules-test.log"
    bad "promtool test rules $(basename "$alert_tests")"
fi

# --- a real scrape ----------------------------------------------------------------
if [ -z "$url" ]; then
    bad "NAMASKAH_METRICS_URL is not set: no scrape to check"
    finish
fi
if ! scrape; then
    cat "$work/scrape.err" "$work/scrape.txt" 2>/dev/null | head -5
    bad "scrape of $url/metrics (HTTP $(cat "$work/scrape.code" 2>/dev/null))"
    finish
fi
ok "scrape of $url/metrics"
ctype=$(grep -i '^content-type:' "$work/scrape.head" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//')
if [ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ]; then
    ok "Content-Type $ctype"
else
    bad "Content-Type is '$ctype'"
fi
if promtool check metrics <"$work/scrape.txt" >"$work/check-metrics.log" 2>&1; then
    ok "promtool check metrics on the scrape"
else
    cat "$work/check-metrics.log"
    bad "promtool check metrics on the scrape"
fi
if [ "$(sample_sum namaskah_db_up)" = 1 ]; then
    ok "namaskah_db_up is 1"
else
    bad "namaskah_db_up is $(sample_sum namaskah_db_up)"
fi

# --- the rules and the dashboard name real metrics only ------------------------------
if /usr/bin/python3 - "$work/scrape.txt" "$alerts" "$dashboard" <<'PY'; then
import json, re, sys
import yaml
scrape, alerts, dashboard = sys.argv[1:4]
families = {}
for line in open(scrape):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        families[m.group(1)] = m.group(2)
known = {"up"} | set(families)
for name, kind in families.items():
    if kind == "histogram":
        known |= {name + "_bucket", name + "_sum", name + "_count"}
problems = 0
def check(what, text):
    global problems
    names = set(re.findall(r"\bnamaskah_[a-z0-9_]+\b", text))
    for n in sorted(names - known):
        print(f"{what}: unknown metric {n}")
        problems += 1
    return names
rules = yaml.safe_load(open(alerts))["groups"]
used = check("alerts.yml", "\n".join(r["expr"] for g in rules for r in g["rules"]))
doc = json.load(open(dashboard))
exprs = []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "expr" and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(doc)
if not exprs:
    print("namaskah.json: no panel queries found")
    problems += 1
used |= check("namaskah.json", "\n".join(exprs))
print(f"{len(exprs)} dashboard queries, {len(used)} metric names checked")
sys.exit(1 if problems else 0)
PY
    ok "alerts and dashboard reference only metrics of the scrape"
else
    bad "alerts or dashboard reference metrics that do not exist"
fi

# --- every family the HTTP suite exercised is non-zero --------------------------------
families="namaskah_http_requests_total namaskah_http_request_duration_seconds_count
namaskah_auth_failures_total namaskah_rate_limited_total namaskah_security_events_total"
deadline=$((SECONDS + wait_s))
while :; do
    missing=
    for f in $families; do
        v=$(sample_sum "$f")
        awk -v v="$v" 'BEGIN { exit !(v > 0) }' || missing="$missing $f"
    done
    [ -z "$missing" ] && break
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 1
    scrape || true
done
for f in $families; do
    v=$(sample_sum "$f")
    if awk -v v="$v" 'BEGIN { exit !(v > 0) }'; then
        ok "$f = $v after the HTTP suite"
    else
        bad "$f is $v after the HTTP suite (expected > 0)"
    fi
done
finish
