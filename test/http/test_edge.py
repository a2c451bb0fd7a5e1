"""The edge of namaskahd: what it acknowledges, how it frames HTTP/1.1, how it
holds up against many, idle and slow clients, and how it drains.

Each test here began as a finding of the outside review (issue "namaskahd's
edge"): it failed on the code of that time and passes now. Raw sockets are
used wherever a client library would normalise what is being tested.
"""
import json
import socket
import threading
import time

import pytest
import requests

from conftest import free_port, psql, raw_http

PROBLEM_TYPE = "application/problem+json; charset=utf-8"
API_PATH = "/api/frontend-test/probe"


def audit_rows(request_id):
    return psql("SELECT route || '|' || status || '|' || outcome FROM namaskah.audit_log "
                f"WHERE request_id = '{request_id}'")


def log_requests(nk_log, mark):
    return [r for r in nk_log.records_since(mark) if r.get("event") == "request"]


# ---- 1. never acknowledge what did not commit -------------------------------

@pytest.fixture
def failing_commit(db):
    """A deferred constraint trigger on the audit log that fails every commit
    of a transaction that wrote an audit record (superuser, test only)."""
    db("CREATE OR REPLACE FUNCTION public.nk_test_fail_commit() RETURNS trigger "
       "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'injected commit failure'; END$$")
    db("CREATE CONSTRAINT TRIGGER nk_test_fail_commit AFTER INSERT ON namaskah.audit_log "
       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.nk_test_fail_commit()")
    try:
        yield
    finally:
        db("DROP TRIGGER nk_test_fail_commit ON namaskah.audit_log")
        db("DROP FUNCTION public.nk_test_fail_commit()")


def test_a_failed_commit_is_never_acknowledged(base_url, db, nk_log, failing_commit):
    mark = nk_log.mark()
    email = f"commit-fail-{time.time_ns()}@example.com"
    answers = [requests.get(base_url + "/api/version", timeout=10),
               requests.get(base_url + API_PATH, timeout=10),
               requests.post(base_url + "/api/auth/register", timeout=10,
                             json={"email": email, "password": "Correct-Horse-9-Battery"})]
    for _ in range(4):
        answers.append(requests.get(base_url + "/api/version", timeout=10))
    for r in answers:
        assert r.status_code >= 500, (r.status_code, r.text)
        assert r.headers["Content-Type"] == PROBLEM_TYPE
        assert "injected" not in r.text  # no database text reaches a client
    assert db(f"SELECT count(*) FROM namaskah.users WHERE email = '{email}'") == "0"
    recs = nk_log.wait_for(mark, lambda r: False, timeout=0.5)
    logged = [r for r in recs if r.get("event") == "request"]
    assert len(logged) == len(answers)
    assert all(r["status"] >= 500 for r in logged)
    assert sum(1 for r in recs if r.get("event") == "db_commit_failed") == len(answers)


def test_the_pool_recovers_after_failed_commits(base_url, db, failing_commit):
    for _ in range(3):
        requests.get(base_url + "/api/version", timeout=10)
    db("DROP TRIGGER nk_test_fail_commit ON namaskah.audit_log")
    db("CREATE CONSTRAINT TRIGGER nk_test_fail_commit AFTER INSERT ON namaskah.audit_log "
       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (false) "
       "EXECUTE FUNCTION public.nk_test_fail_commit()")
    r = requests.get(base_url + "/api/version", timeout=10)
    assert r.status_code == 200
    assert audit_rows(r.headers["X-Request-Id"]).endswith("|200|ok")
