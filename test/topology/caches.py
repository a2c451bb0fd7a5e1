#!/usr/bin/env python3
"""caches.py — the extension's per-backend caches stay correct when
consecutive requests land on different backends.

Through haproxy, two namaskahd and pgbouncer in transaction mode (several
server connections), every check first warms the caches of every backend
(a burst of parallel requests), then changes the state in the database and
requires that every one of the next requests — sequential and parallel,
whichever namaskahd and whichever server connection serves them — sees the
change: a key rotation (new tokens carry the new kid; the old key refused
once its grace is set to 0), a revocation (logout), a policy change (a
limit lowered to 1, then raised again) and a setting change. Ends with
'N passed, N failed'."""
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

from topo import Checks, jwt_header, loosen_auth_limits, psql, register_and_login, topology_env

BURST = 48  # parallel requests: more than the server connections in use


def burst(fn, n=BURST):
    with ThreadPoolExecutor(max_workers=16) as ex:
        return list(ex.map(lambda _: fn(), range(n)))


def me(url, token):
    return requests.get(url + "/api/auth/me", headers={"Authorization": "Bearer " + token},
                        timeout=10).status_code


def login(url, email):
    r = requests.post(url + "/api/auth/login",
                      json={"email": email, "password": "a long enough password 0k"}, timeout=10)
    return r.json().get("access_token") if r.status_code == 200 else None


def backends(env):
    return int(psql(env, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'namaskah_frontend'"))


def seen_everywhere(url, fn, want):
    """The next request, then a parallel burst, all answer want."""
    first = fn()
    rest = burst(fn)
    bad = [x for x in [first] + rest if x != want]
    return not bad, f"want {want}, got {sorted(set(map(str, bad)))[:4]}"


def check_rotation(c, env, url, email):
    token = login(url, email)
    old_kid = jwt_header(token)["kid"]
    burst(lambda: me(url, token))
    new_kid = psql(env, f"SELECT namaskah.rotate_signing_key('{secrets.token_urlsafe(48)}')")
    ok, why = seen_everywhere(url, lambda: jwt_header(login(url, email))["kid"], new_kid)
    c.check("key rotation: every next login signs with the new kid", ok and new_kid != old_kid, why)
    ok, why = seen_everywhere(url, lambda: me(url, token), 200)
    c.check("key rotation: the old key still verifies within its grace", ok, why)
    psql(env, "SELECT namaskah.set_setting('jwt.key_grace_minutes', '0')")
    ok, why = seen_everywhere(url, lambda: me(url, token), 401)
    c.check("setting change: grace 0 refuses the retired key on every backend", ok, why)
    psql(env, "SELECT namaskah.reset_setting('jwt.key_grace_minutes')")
    ok, why = seen_everywhere(url, lambda: me(url, token), 200)
    c.check("setting reset: the grace is back on every backend", ok, why)


def check_revocation(c, url, email):
    token = login(url, email)
    warm = burst(lambda: me(url, token))
    c.check("revocation: the token works everywhere before", set(warm) == {200}, str(set(warm)))
    r = requests.post(url + "/api/auth/logout", headers={"Authorization": "Bearer " + token}, timeout=10)
    c.check("revocation: logout answered", r.status_code in (200, 204), str(r.status_code))
    ok, why = seen_everywhere(url, lambda: me(url, token), 401)
    c.check("revocation: the next requests, on any backend, refuse the token", ok, why)


def check_policy(c, env, url, email):
    token = login(url, email)
    psql(env, "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope) "
              "VALUES ('topology_cache', 'fixed_window', 1000000, 3600, 'user') ON CONFLICT (name) DO UPDATE SET \"limit\" = 1000000; "
              "UPDATE namaskah.routes SET rate_limit_policy = 'topology_cache' WHERE path_template = '/api/auth/me'")
    warm = burst(lambda: me(url, token))
    c.check("policy: generous limit answers 200 everywhere", set(warm) == {200}, str(set(warm)))
    # from 1000000 to 1 changes the policy's number of slots, which resets
    # its state (docs/rate-limiting.md): exactly one of the next requests,
    # whichever backends serve them, may pass
    psql(env, "UPDATE namaskah.rate_limit_policies SET \"limit\" = 1 WHERE name = 'topology_cache'")
    got = [me(url, token)] + burst(lambda: me(url, token))
    c.check("policy: a limit lowered to 1 holds across every backend (exactly one 200, then 429)",
            got.count(200) == 1 and got.count(429) == len(got) - 1,
            f"{got.count(200)} x 200, {got.count(429)} x 429 of {len(got)}")
    psql(env, "UPDATE namaskah.rate_limit_policies SET \"limit\" = 1000000 WHERE name = 'topology_cache'")
    ok, why = seen_everywhere(url, lambda: me(url, token), 200)
    c.check("policy: the limit raised again is seen everywhere", ok, why)
    psql(env, "UPDATE namaskah.routes SET rate_limit_policy = NULL WHERE path_template = '/api/auth/me'")


def main():
    env = topology_env()
    url = env["TOPOLOGY_URL"]
    c = Checks()
    loosen_auth_limits(env)
    email = f"caches-{secrets.token_hex(4)}@example.com"
    register_and_login(url, email)
    burst(lambda: me(url, login(url, email)))
    n = backends(env)
    c.check(f"requests are spread over several server connections ({n})", n >= 4, str(n))
    check_rotation(c, env, url, email)
    check_revocation(c, url, email)
    check_policy(c, env, url, email)
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
