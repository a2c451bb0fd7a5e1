"""Rate limiting over HTTP: 429 problem with Retry-After and the IETF
RateLimit fields, headers on allowed answers, client keys that a spoofed
X-Forwarded-For cannot change, trusted proxies, and one limit shared by two
namaskahd processes."""
import concurrent.futures
import re
import uuid

import pytest
import requests

from conftest import clear_of_window_edge, psql


@pytest.fixture
def tight_route():
    """A public route under a policy of its own: 3 per hour per client."""
    name = "t_" + uuid.uuid4().hex[:10]
    path = f"/api/test-limits/{name}"
    psql(f"""INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
             VALUES ('{name}', 'fixed_window', 3, 3600, 'client');
             INSERT INTO namaskah.routes (method, path_template, target, auth, rate_limit_policy)
             VALUES ('GET', '{path}', 'api.version(jsonb)', 'public', '{name}');""")
    yield name, path
    psql(f"""DELETE FROM namaskah.routes WHERE path_template = '{path}';
             DELETE FROM namaskah.rate_limit_state WHERE policy = '{name}';
             DELETE FROM namaskah.rate_limit_policies WHERE name = '{name}';""")


def test_over_the_limit_is_429_problem(base_url, tight_route):
    name, path = tight_route
    answers = [requests.get(base_url + path, timeout=10) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    ok, limited = answers[0], answers[3]
    assert ok.headers["RateLimit-Policy"] == f'"{name}";q=3;w=3600'
    assert ok.headers["RateLimit"].startswith(f'"{name}";r=2;t=')
    assert answers[2].headers["RateLimit"].startswith(f'"{name}";r=0;t=')
    assert limited.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    doc = limited.json()
    assert doc["code"] == "rate_limited" and doc["status"] == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["RateLimit"].startswith(f'"{name}";r=0;t=')
    assert limited.headers["X-Content-Type-Options"] == "nosniff"


def test_spoofed_forwarded_for_changes_nothing(base_url, tight_route):
    _, path = tight_route
    codes = [requests.get(base_url + path, timeout=10,
                          headers={"X-Forwarded-For": f"203.0.113.{i}",
                                   "Forwarded": f"for=198.51.100.{i}"}).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_trusted_proxy_keys_by_forwarded_address(instance, tight_route):
    _, path = tight_route
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    for client in ("203.0.113.10", "203.0.113.11"):
        codes = [requests.get(proxy.url + path, timeout=10,
                              headers={"X-Forwarded-For": client}).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429], client


def test_two_frontends_share_one_limit(base_url, instance, tight_route):
    _, path = tight_route
    other = instance()
    urls = [base_url + path, other.url + path] * 10
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda u: requests.get(u, timeout=10).status_code, urls))
    assert codes.count(200) == 3
    assert codes.count(429) == 17


def test_rejections_are_audited_as_rate_limited(base_url, tight_route):
    name, path = tight_route
    for _ in range(4):
        requests.get(base_url + path, timeout=10)
    assert psql(f"SELECT count(*) FROM namaskah.audit_log WHERE route = '{path}' "
                "AND status = 429 AND outcome = 'rate_limited'") == "1"


def test_failed_authentication_counts_against_the_address(instance):
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    client = "203.0.113.77"
    psql("UPDATE namaskah.rate_limit_policies SET \"limit\" = 5 WHERE name = 'auth_failures'")
    clear_of_window_edge(60, 10)
    try:
        answers = [requests.get(proxy.url + "/api/auth/me", timeout=10,
                                headers={"X-Forwarded-For": client,
                                         "Authorization": "Bearer not.a.token"})
                   for _ in range(7)]
        window = psql("SELECT window_seconds FROM namaskah.rate_limit_policies WHERE name = 'auth_failures'")
    finally:
        psql("UPDATE namaskah.rate_limit_policies SET \"limit\" = 1000000 WHERE name = 'auth_failures';"
             "DELETE FROM namaskah.rate_limit_state WHERE policy = 'auth_failures'")
    assert [r.status_code for r in answers] == [401] * 5 + [429, 429]
    limited = answers[5]
    assert limited.json()["policy"] == "auth_failures"
    assert limited.headers["RateLimit-Policy"] == f'"auth_failures";q=5;w={window}'
    assert int(limited.headers["Retry-After"]) > 0


LOGIN_POLICIES = {"auth_login_account_client": 5, "auth_login_account": 100}


@pytest.fixture
def login_policies():
    """The login throttles at their shipped values (the suite raises every
    auth policy); set(name=limit) changes one for a test."""
    def set_limit(name, limit):
        psql(f"UPDATE namaskah.rate_limit_policies SET \"limit\" = {limit} WHERE name = '{name}'")

    for name, limit in LOGIN_POLICIES.items():
        set_limit(name, limit)
    clear_of_window_edge(900, 30)  # both windows (900 s, 3600 s) end on 900 s boundaries
    yield set_limit
    for name in LOGIN_POLICIES:
        set_limit(name, 1000000)
        psql(f"DELETE FROM namaskah.rate_limit_state WHERE policy = '{name}'")


def register(url):
    email = f"acct-{uuid.uuid4().hex[:10]}@example.test"
    password = "account limit password 1"
    r = requests.post(url + "/api/auth/register", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 201, r.text
    return email, password


def login_from(url, client, email, password):
    return requests.post(url + "/api/auth/login", timeout=30, headers={"X-Forwarded-For": client},
                         json={"email": email, "password": password})


def shape(r):
    """What a client sees of an answer, but for ids and clocks (a window's
    reset time, t=, moves on with the clock between the two runs)."""
    headers = {k.lower(): re.sub(r";t=\d+", ";t=…", v) for k, v in r.headers.items()
               if k.lower() not in ("date", "x-request-id", "retry-after", "content-length")}
    doc = r.json()
    return (r.status_code, doc.get("code"), doc.get("policy"), doc.get("detail"),
            sorted(headers.items()), "retry-after" in {k.lower() for k in r.headers})


def test_existing_and_unknown_accounts_answer_alike(instance, login_policies):
    """Seven wrong passwords: the same statuses, codes, headers and bodies
    whether the account exists or not (from two addresses, so neither run
    changes the other's per-address counts)."""
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    email, _ = register(proxy.url)
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.test"
    existing = [login_from(proxy.url, "203.0.113.21", email, "wrong password!") for _ in range(7)]
    missing = [login_from(proxy.url, "203.0.113.22", unknown, "wrong password!") for _ in range(7)]
    assert [r.status_code for r in existing] == [401] * 5 + [429] * 2
    assert [shape(r) for r in existing] == [shape(r) for r in missing]
    assert existing[5].json()["policy"] == "auth_login_account_client"
    for a, b in zip(existing[5:], missing[5:]):
        assert abs(int(a.headers["Retry-After"]) - int(b.headers["Retry-After"])) <= 2


def test_a_guesser_at_one_address_cannot_lock_the_owner_out(instance, login_policies):
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    email, password = register(proxy.url)
    guesses = [login_from(proxy.url, "203.0.113.31", email, "wrong password!") for _ in range(10)]
    assert [r.status_code for r in guesses] == [401] * 5 + [429] * 5
    # the guesser's address stays throttled, the right password included
    assert login_from(proxy.url, "203.0.113.31", email, password).status_code == 429
    # the owner, elsewhere, logs in at once
    owner = login_from(proxy.url, "198.51.100.7", email, password)
    assert owner.status_code == 200, owner.text
    assert psql("SELECT locked_until IS NULL FROM namaskah.users "
                f"WHERE email_key = '{email}'") == "t"


def test_guessing_from_many_addresses_stays_bounded(instance, login_policies):
    """auth_login_account counts one name's attempts from all addresses
    together (100 an hour shipped; 12 here to keep the test short)."""
    login_policies("auth_login_account", 12)
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    email, password = register(proxy.url)
    codes = [login_from(proxy.url, f"203.0.113.{40 + i // 4}", email, "wrong password!").status_code
             for i in range(16)]
    assert codes == [401] * 12 + [429] * 4
    late = login_from(proxy.url, "198.51.100.8", email.upper(), password)
    assert late.status_code == 429 and late.json()["policy"] == "auth_login_account"
    assert int(late.headers["Retry-After"]) > 0


def test_successful_logins_are_not_throttled(instance, login_policies):
    """Only failures count: an owner (or a smoke check) logging in again and
    again is never refused for it."""
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1"})
    email, password = register(proxy.url)
    codes = [login_from(proxy.url, "203.0.113.51", email, password).status_code for _ in range(8)]
    assert codes == [200] * 8


def test_guesses_sent_at_once_are_bounded_exactly(instance, login_policies):
    """Attempts on one name wait for each other: ten wrong passwords sent
    together from one address are five 401s and five 429s, not ten 401s."""
    proxy = instance({"TRUSTED_PROXIES": "127.0.0.1", "WORKER_THREADS": "16"})
    email, _ = register(proxy.url)
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: login_from(proxy.url, "203.0.113.61", email,
                                                   "wrong password!").status_code,
                              range(10)))
    assert sorted(codes) == [401] * 5 + [429] * 5
