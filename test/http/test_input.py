"""What a request may carry, through namaskahd: bodies are read in linear
time within stated limits, a member name twice is refused, and every route
refuses the query parameters and body members it does not take, the same
way (issue findings 4, 5 and 6 of the outside review)."""
import json
import time
import uuid

import pytest
import requests

from conftest import psql
from test_verifications import sign

UNKNOWN = "zz_unknown"


def post_raw(base_url, path, raw, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return requests.post(base_url + path, data=raw, headers=h, timeout=30)


def problem(r, status, code):
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["code"] == code, doc
    return doc


@pytest.fixture(scope="module")
def account(base_url):
    email, password = f"input-{uuid.uuid4().hex[:10]}@example.test", "input test password 9"
    r = requests.post(base_url + "/api/auth/register",
                      json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 201, r.text
    return email, password


def token_for(base_url, email, password):
    r = requests.post(base_url + "/api/auth/login",
                      json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def tokens(base_url, account):
    email, password = f"input-admin-{uuid.uuid4().hex[:8]}@example.test", "administrator password 9"
    psql(f"SELECT namaskah.create_admin('{email}', '{password}')")
    return {None: token_for(base_url, *account), "admin": token_for(base_url, email, password)}


# ---- 5. duplicate member names ------------------------------------------------

def test_a_duplicate_password_member_does_not_log_in(base_url, account):
    email, password = account
    raw = '{"email": %s, "password": "wrong password!", "password": %s}' % (
        json.dumps(email), json.dumps(password))
    doc = problem(post_raw(base_url, "/api/auth/login", raw), 400, "duplicate_member")
    assert "access_token" not in doc
    # also through an escape, and nested
    raw = '{"email": %s, "password": %s, "p\\u0061ssword": "x"}' % (
        json.dumps(email), json.dumps(password))
    problem(post_raw(base_url, "/api/auth/login", raw), 400, "duplicate_member")
    raw = '{"email": "a@example.test", "password": {"x": 1, "x": 2}}'
    problem(post_raw(base_url, "/api/auth/login", raw), 400, "duplicate_member")


# ---- 4. what a body costs ------------------------------------------------------

HOSTILE = {
    "10000 members": ("{" + ",".join(f'"k{i}": 0' for i in range(10000)) + "}",
                      "members_per_object", 64),
    "5000 members named alike": ("{" + ",".join('"k": 0' for _ in range(5000)) + "}",
                                 None, None),
    "deep nesting": ('{"a": ' + "[" * 50000 + "]" * 50000 + "}", "depth", 16),
    "a long string": ('{"email": "' + "x" * 900000 + '"}', "string_length", 16384),
    "a long array": ('{"a": [' + ",".join("0" for _ in range(200000)) + "]}", "values", 4096),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_refused_naming_the_limit(base_url, name):
    raw, limit, maximum = HOSTILE[name]
    assert len(raw) <= 1048576
    r = post_raw(base_url, "/api/auth/login", raw)
    if limit is None:
        problem(r, 400, "duplicate_member")
        return
    doc = problem(r, 400, "body_limit_exceeded")
    assert doc["limit"] == limit and doc["max"] == maximum
    assert str(maximum) in doc["detail"]


def test_a_body_within_the_limits_is_validated_as_before(base_url):
    body = {f"k{i}": "v" * 100 for i in range(60)}
    doc = problem(post_raw(base_url, "/api/auth/login", json.dumps(body)), 400, "validation_failed")
    assert {"field": "k0", "code": "unexpected"} in doc["errors"]
    assert {"field": "email", "code": "required"} in doc["errors"]


def test_a_statement_timeout_is_temporarily_unavailable(instance):
    """A statement the database cancels (statement_timeout) is the documented
    503 temporarily_unavailable, not database_unavailable."""
    slow = instance({"PGOPTIONS": "-c statement_timeout=300", "REQUEST_TIMEOUT_MS": "10000"})
    psql("CREATE OR REPLACE FUNCTION public.nk_test_slow() RETURNS trigger LANGUAGE plpgsql "
         "AS $$BEGIN IF NEW.status <> 503 THEN PERFORM pg_sleep(1); END IF; RETURN NEW; END$$")
    psql("CREATE TRIGGER nk_test_slow BEFORE INSERT ON namaskah.audit_log "
         "FOR EACH ROW EXECUTE FUNCTION public.nk_test_slow()")
    try:
        r = requests.get(slow.url + "/api/version", timeout=10)
    finally:
        psql("DROP TRIGGER nk_test_slow ON namaskah.audit_log")
        psql("DROP FUNCTION public.nk_test_slow()")
    problem(r, 503, "temporarily_unavailable")
    assert r.headers["Retry-After"] == "1"


# ---- 6. every route refuses what it does not take -----------------------------

def client_routes():
    """Every route a client can reach through namaskahd: method, path, auth, role."""
    rows = psql("SELECT method, path_template, auth, coalesce(required_role, '') "
                "FROM namaskah.routes WHERE path_template LIKE '/api/%' "
                "OR path_template = '/health/ready' ORDER BY 2, 1")
    return [tuple(line.split("|")) for line in rows.splitlines()]


def send(base_url, tokens, method, template, auth, role, query, body):
    path = template.replace("{id}", str(uuid.uuid4()))
    raw = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if raw is not None else {}
    if auth == "bearer":
        h["Authorization"] = "Bearer " + tokens[role or None]
    if auth == "webhook":
        raw = raw or b"{}"
        ts = str(int(time.time()))
        h.update({"Content-Type": "application/json", "X-Namaskah-Timestamp": ts,
                  "X-Namaskah-Signature": sign(ts, raw)})
    return requests.request(method, base_url + path, params=query, data=raw,
                            headers=h, timeout=10)


def test_the_route_list_is_complete():
    templates = {r[1] for r in client_routes()}
    assert {"/api/version", "/api/auth/me", "/api/auth/logout", "/api/auth/refresh",
            "/api/openapi.json", "/api/verifications/{id}", "/api/webhooks/sms",
            "/health/ready"} <= templates


def test_every_route_refuses_an_unknown_query_parameter(base_url, tokens):
    wrong = []
    for method, template, auth, role in client_routes():
        r = send(base_url, tokens, method, template, auth, role, {UNKNOWN: "1"}, None)
        doc = r.json() if r.headers.get("Content-Type", "").startswith("application/problem") else {}
        if r.status_code != 400 or doc.get("code") != "invalid_query" or \
                {"field": UNKNOWN, "code": "unexpected"} not in doc.get("errors", []):
            wrong.append((method, template, r.status_code, doc.get("code")))
    assert wrong == []


def test_every_route_refuses_an_unknown_body_member(base_url, tokens):
    wrong = []
    for method, template, auth, role in client_routes():
        r = send(base_url, tokens, method, template, auth, role, None, {UNKNOWN: 1})
        doc = r.json() if r.headers.get("Content-Type", "").startswith("application/problem") else {}
        if r.status_code != 400 or doc.get("code") != "validation_failed" or \
                {"field": UNKNOWN, "code": "unexpected"} not in doc.get("errors", []):
            wrong.append((method, template, r.status_code, doc.get("code")))
    assert wrong == []


def test_routes_without_input_still_answer(base_url, tokens):
    r = requests.get(base_url + "/api/version", timeout=10)
    assert r.status_code == 200
    r = requests.get(base_url + "/api/auth/me", timeout=10,
                     headers={"Authorization": "Bearer " + tokens[None],
                              "Content-Type": "application/json"}, data="{}")
    assert r.status_code == 200
