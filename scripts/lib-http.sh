# lib-http.sh — shared by the operator scripts that talk HTTP to namaskahd:
# turning a 429's rate-limit fields into one line saying which policy
# refused, what it allows and when to retry, and where to change it.

# describe_refusal POLICY_HEADER RETRY_AFTER
#   POLICY_HEADER: the RateLimit-Policy field, e.g. "auth_register";q=5;w=3600
describe_refusal() {
    local header=${1:-} retry=${2:-} name quota window
    name=$(sed -nE 's/^"?([^";]+)"?;.*/\1/p' <<<"$header")
    quota=$(sed -nE 's/.*;q=([0-9]+).*/\1/p' <<<"$header")
    window=$(sed -nE 's/.*;w=([0-9]+).*/\1/p' <<<"$header")
    if [ -z "$name" ]; then
        printf 'refused with 429 (no RateLimit-Policy field)%s' "${retry:+; retry in $retry s}"
        return
    fi
    printf 'refused by rate-limit policy %s (%s per %s s)%s; policies are rows of namaskah.rate_limit_policies (docs/rate-limiting.md; make psql opens a shell on the development database)' \
        "$name" "${quota:-?}" "${window:-?}" "${retry:+, retry in $retry s}"
}
