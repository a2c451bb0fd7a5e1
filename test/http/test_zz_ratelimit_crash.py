"""Rate limits are exact across a database crash: limit 50, 28 paced
requests, "pg_ctl stop -m immediate", start, then 200 concurrent requests:
exactly 22 are allowed, for each of the four algorithms (the UNLOGGED state
is rebuilt from the consumption kept in the audit records). Crashes the
suite's cluster, so it runs after the other suites (file name) and leaves
the cluster running again."""
import concurrent.futures
import time
import uuid

import pytest
import requests

from conftest import pgcluster, psql
from test_zz_edge_crash import crash_database, wait_for_service

ALGORITHMS = ["fixed_window", "sliding_window", "token_bucket", "gcra"]


@pytest.fixture
def limited_routes():
    tag = uuid.uuid4().hex[:8]
    routes = {a: (f"crash_{tag}_{a}", f"/api/crash-limits/{tag}/{a}") for a in ALGORITHMS}
    for a, (policy, path) in routes.items():
        psql(f"""INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
                 VALUES ('{policy}', '{a}', 50, 3600, 'client');
                 INSERT INTO namaskah.routes (method, path_template, target, auth, rate_limit_policy)
                 VALUES ('GET', '{path}', 'api.version(jsonb)', 'public', '{policy}');""")
    yield routes
    for policy, path in routes.values():
        psql(f"""DELETE FROM namaskah.routes WHERE path_template = '{path}';
                 DELETE FROM namaskah.rate_limit_state WHERE policy = '{policy}';
                 DELETE FROM namaskah.rate_limit_policies WHERE name = '{policy}';""")


def every_connection_back(base_url, seconds=30):
    """Until a burst as wide as the test's answers 200 throughout: each of
    namaskahd's pooled connections that the crash cut answers one request
    503 database_unavailable (never retried) before it is opened again, and
    those must not be counted below as neither allowed nor limited."""
    deadline = time.time() + seconds
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        while time.time() < deadline:
            codes = list(pool.map(lambda _: requests.get(base_url + "/api/version",
                                                         timeout=30).status_code, range(32)))
            if codes == [200] * 32:
                return
            time.sleep(0.2)
    raise AssertionError("namaskahd's connections did not all come back")


def test_limits_are_exact_across_a_crash(base_url, limited_routes):
    before = {a: [requests.get(base_url + path, timeout=10).status_code for _ in range(28)]
              for a, (_, path) in limited_routes.items()}
    assert all(codes == [200] * 28 for codes in before.values()), before
    try:
        crash_database()
    finally:
        pgcluster("start")
    wait_for_service(base_url)
    every_connection_back(base_url)
    assert psql("SELECT count(*) FROM namaskah.rate_limit_epoch") == "1"
    after = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for a, (_, path) in limited_routes.items():
            codes = list(pool.map(lambda _: requests.get(base_url + path, timeout=30).status_code,
                                  range(200)))
            after[a] = (codes.count(200), codes.count(429))
    assert after == {a: (22, 178) for a in ALGORITHMS}
    assert int(psql("SELECT events_replayed FROM namaskah.rate_limit_epoch")) >= 4 * 28
