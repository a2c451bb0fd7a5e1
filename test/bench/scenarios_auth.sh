# scenarios_auth.sh — sourced by test/bench/run: the authenticated pipeline.
#
#   auth_me_spread     GET /api/auth/me with tokens of 1000 users (JWT
#                      verification, rate-limit peek and check per user,
#                      audit, user lookup under row-level security)
#   auth_me_no_audit   the same with auditing off (audit on/off ratio)
#   auth_me_hot_key    one user: every request on the same rate-limit row
#   auth_me_over_limit one user already over a tight limit: every request 429
# Accounts and the tight policy: test/bench/fixtures.sql.

bench_sql -f test/bench/fixtures.sql
bench_sql -c "SELECT (namaskah.issue_access_token(id)).access_token FROM namaskah.users WHERE email LIKE 'bench%' ORDER BY email" >"$work/tokens_1000"
head -1 "$work/tokens_1000" >"$work/tokens_1"
tail -1 "$work/tokens_1000" >"$work/tokens_tight"
curl -s -o /dev/null -H "Authorization: Bearer $(cat "$work/tokens_tight")" "$URL/api/bench/me"

scenario auth_me_spread /api/auth/me "$work/tokens_1000"
bench_sql -c "SELECT namaskah.set_setting('audit.enabled', 'off')" >/dev/null
scenario auth_me_no_audit /api/auth/me "$work/tokens_1000"
bench_sql -c "SELECT namaskah.set_setting('audit.enabled', 'on')" >/dev/null
scenario auth_me_hot_key /api/auth/me "$work/tokens_1"
scenario auth_me_over_limit /api/bench/me "$work/tokens_tight"

# (n/a when BENCH_ONLY left out one side)
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a"}'; }
echo
echo "ratios (HTTP req/s, same run):"
echo "  audit on / off (target >= 0.85):                $(ratio "${rps_auth_me_spread:-}" "${rps_auth_me_no_audit:-}")"
echo "  hot key / spread keys (target >= 0.5):          $(ratio "${rps_auth_me_hot_key:-}" "${rps_auth_me_spread:-}")"
echo "  over limit / spread keys (target >= 1.0):       $(ratio "${rps_auth_me_over_limit:-}" "${rps_auth_me_spread:-}")"
