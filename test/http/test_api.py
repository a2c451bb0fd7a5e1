"""HTTP black-box tests of the API through a real namaskahd and database:
routing and the problem format, the auth endpoints and their attack cases.

Needs NAMASKAH_URL (a running namaskahd) and the libpq environment of a
superuser (PGHOST, PGPORT, PGUSER, PGDATABASE) for the few state checks."""
import base64
import json
import os
import subprocess
import uuid

import pytest
import requests

URL = os.environ.get("NAMASKAH_URL", "http://127.0.0.1:8080")
PROBLEM = "application/problem+json; charset=utf-8"


def sql(statement):
    """Runs one statement as the test superuser; returns stdout, stripped."""
    return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
                          check=True, capture_output=True, text=True).stdout.strip()


def call(method, path, token=None, body=None, headers=None, **kw):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    return requests.request(method, URL + path, headers=h, data=data, timeout=10, **kw)


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM
    doc = r.json()
    assert doc["status"] == status
    assert doc["code"] == code
    assert doc["type"] == f"urn:namaskah:problem:{code}"
    assert doc["request_id"] == r.headers["X-Request-Id"]
    for member in ("title", "detail", "instance"):
        assert isinstance(doc[member], str) and doc[member]
    return doc


def new_account(password="correct horse battery staple"):
    email = f"user-{uuid.uuid4().hex[:12]}@example.test"
    r = call("POST", "/api/auth/register", body={"email": email, "password": password})
    assert r.status_code == 201, r.text
    return email, password, r.json()["id"]


def login(email, password):
    r = call("POST", "/api/auth/login", body={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def account():
    email, password, user_id = new_account()
    return {"email": email, "password": password, "id": user_id}


# --- routing and the problem format -------------------------------------------

def test_version_is_public_json():
    r = call("GET", "/api/version")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == {"api_version": "2.4.0", "extension_version": "2.4.0"}
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "RateLimit" in r.headers and "RateLimit-Policy" in r.headers


def test_unknown_api_path_is_404_problem():
    r = call("GET", "/api/nope")
    assert_problem(r, 404, "not_found")
    assert "x-namaskah-route" not in {k.lower() for k in r.headers}


def test_wrong_method_is_405_with_allow():
    r = call("DELETE", "/api/version")
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_options_lists_methods():
    r = call("OPTIONS", "/api/auth/login")
    assert r.status_code == 204
    assert r.headers["Allow"] == "OPTIONS, POST"


def test_head_has_no_body():
    r = call("HEAD", "/api/version")
    assert r.status_code == 200
    assert r.content == b""


def test_trace_is_refused():
    r = call("TRACE", "/api/version")
    assert r.status_code in (405, 501)


def test_body_must_be_json():
    r = requests.post(URL + "/api/auth/login", data="email=a&password=b",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert_problem(r, 415, "unsupported_media_type")
    r = requests.post(URL + "/api/auth/login", data="{not json",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert_problem(r, 400, "invalid_json")


def test_repeated_query_parameter_is_refused():
    r = call("GET", "/api/version?a=1&a=2")
    assert_problem(r, 400, "invalid_query")


# --- registration -------------------------------------------------------------

def test_register_rejects_mass_assignment():
    r = call("POST", "/api/auth/register",
             body={"email": "mallory@example.test", "password": "x" * 16, "role": "admin"})
    doc = assert_problem(r, 400, "validation_failed")
    assert {"field": "role", "code": "unexpected"} in doc["errors"]
    assert sql("SELECT count(*) FROM namaskah.users WHERE email_key = 'mallory@example.test'") == "0"


def test_register_validates_fields_without_echoing():
    r = call("POST", "/api/auth/register",
             body={"email": "<script>alert(1)</script>", "password": "short", "phone": "12345"})
    doc = assert_problem(r, 400, "validation_failed")
    fields = {e["field"]: e["code"] for e in doc["errors"]}
    assert fields == {"email": "format", "password": "too_short", "phone": "format"}
    assert "<script>" not in r.text


def test_register_duplicate_email_is_409(account):
    r = call("POST", "/api/auth/register",
             body={"email": account["email"].upper(), "password": "another long password"})
    doc = assert_problem(r, 409, "registration_conflict")
    assert account["email"].lower() not in r.text.lower()


def test_password_is_stored_hashed(account):
    stored = sql(f"SELECT password_hash FROM namaskah.users WHERE id = '{account['id']}'")
    assert account["password"] not in stored
    assert stored.startswith("$scrypt$")


# --- login, me, logout, refresh ------------------------------------------------

def test_login_me_logout(account):
    token = login(account["email"], account["password"])
    r = call("GET", "/api/auth/me", token=token)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == account["id"]
    assert r.json()["role"] == "user"
    assert r.headers["Cache-Control"] == "no-store"
    r = call("POST", "/api/auth/logout", token=token)
    assert r.status_code == 204
    r = call("GET", "/api/auth/me", token=token)
    assert_problem(r, 401, "revoked")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_case_insensitive(account, scheme):
    token = login(account["email"], account["password"])
    r = call("GET", "/api/auth/me", headers={"Authorization": f"{scheme} {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == account["id"]


@pytest.mark.parametrize("sub", ["a\r\nb", "a\x0bb", "a\x0cb", "a\u0085b", "a\u2028b",
                                 "a\u2029b", "a\x1b[31mb", "a\x07b", "a\x7fb"])
def test_a_signed_subject_reaches_the_audit_log_sanitized(sub):
    """A validly signed token (the server's own key, minted by the superuser)
    whose sub holds control characters: its audit record shows them escaped."""
    claims = json.dumps({"sub": sub, "role": "user"}).replace("'", "''")
    token = sql(f"SELECT namaskah.jwt_issue('{claims}'::jsonb)")
    r = call("GET", "/api/auth/me", token=token)
    rid = r.headers["X-Request-Id"]
    actor = sql("SELECT actor FROM namaskah.audit_log WHERE request_id = '" + rid + "'")
    assert actor.startswith("user:a"), actor
    raw = sql("SELECT count(*) FROM namaskah.audit_log WHERE request_id = '" + rid
              + r"' AND actor ~ E'[\\x01-\\x1f\\x7f-\\x9f\\u2028\\u2029]'")
    assert raw == "0", repr(actor)


def test_login_response_shape(account):
    r = call("POST", "/api/auth/login", body={"email": account["email"], "password": account["password"]})
    doc = r.json()
    assert doc["token_type"] == "Bearer"
    assert doc["expires_in"] == int(sql("SELECT namaskah.setting('jwt.expire_minutes')")) * 60
    assert len(doc["access_token"].split(".")) == 3


def test_refresh_replaces_the_token(account):
    token = login(account["email"], account["password"])
    r = call("POST", "/api/auth/refresh", token=token)
    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert fresh != token
    assert call("GET", "/api/auth/me", token=fresh).status_code == 200
    assert_problem(call("GET", "/api/auth/me", token=token), 401, "revoked")
    # a revoked token cannot be refreshed into a new one
    assert_problem(call("POST", "/api/auth/refresh", token=token), 401, "revoked")


def test_wrong_password_and_unknown_email_look_the_same(account):
    a = call("POST", "/api/auth/login", body={"email": account["email"], "password": "wrong password!"})
    b = call("POST", "/api/auth/login", body={"email": "nobody@example.test", "password": "wrong password!"})
    assert_problem(a, 401, "invalid_credentials")
    assert_problem(b, 401, "invalid_credentials")
    assert a.json()["detail"] == b.json()["detail"]
    sql(f"UPDATE namaskah.users SET failed_logins = 0 WHERE id = '{account['id']}'")


def test_an_admin_lock_refuses_the_right_password():
    """Failed logins are throttled (test_ratelimit.py), never locked; only an
    admin's lock refuses the owner."""
    email, password, user_id = new_account()
    for _ in range(5):
        call("POST", "/api/auth/login", body={"email": email, "password": "not the password"})
    assert call("POST", "/api/auth/login", body={"email": email, "password": password}).status_code == 200
    sql(f"UPDATE namaskah.users SET locked_until = 'infinity' WHERE id = '{user_id}'")
    r = call("POST", "/api/auth/login", body={"email": email, "password": password})
    assert_problem(r, 401, "account_locked")


# --- tokens under attack ----------------------------------------------------------

PROTECTED = [("GET", "/api/auth/me"), ("POST", "/api/auth/logout"), ("POST", "/api/auth/refresh")]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_protected_routes_need_a_token(method, path):
    r = call(method, path)
    assert_problem(r, 401, "missing_token")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, payload, signature=b"x" * 32):
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()),
                     b64url(signature)])


def split(token):
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)
    return (json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s)


def test_token_attacks_each_get_401_with_reason(account):
    token = login(account["email"], account["password"])
    header, payload, sig = split(token)
    cases = {
        "alg_none": (forge(dict(header, alg="none"), payload, b""), {"alg_not_allowed", "malformed"}),
        "alg_mismatch": (forge(dict(header, alg="HS512"), payload), {"alg_not_allowed"}),
        "tampered_payload": (".".join([token.split(".")[0], b64url(json.dumps(dict(payload, role="admin")).encode()), sig]),
                             {"bad_signature"}),
        "bad_signature": (token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), {"bad_signature", "malformed"}),
        "unknown_kid": (forge(dict(header, kid="nope"), payload), {"unknown_kid"}),
        "expired": (forge(header, dict(payload, exp=1000)), {"bad_signature", "token_expired"}),
        "garbage": ("not.a.token", {"malformed"}),
    }
    for name, (bad, reasons) in cases.items():
        r = call("GET", "/api/auth/me", token=bad)
        assert r.status_code == 401, name
        doc = r.json()
        assert doc["code"] in reasons, (name, doc["code"])
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"], name
        assert bad not in r.text, name


def test_token_in_query_string_is_not_accepted(account):
    token = login(account["email"], account["password"])
    r = call("GET", f"/api/auth/me?access_token={token}")
    assert_problem(r, 401, "missing_token")


# --- CORS ------------------------------------------------------------------------

@pytest.fixture
def cors_origin():
    sql("SELECT namaskah.set_setting('cors.allowed_origins', 'https://app.example.test')")
    yield "https://app.example.test"
    sql("SELECT namaskah.set_setting('cors.allowed_origins', '')")


def test_cors_is_off_by_default():
    r = call("GET", "/api/version", headers={"Origin": "https://app.example.test"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_allowlist_and_preflight(cors_origin):
    r = call("GET", "/api/version", headers={"Origin": cors_origin})
    assert r.headers["Access-Control-Allow-Origin"] == cors_origin
    assert r.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in r.headers
    other = call("GET", "/api/version", headers={"Origin": "https://evil.example.test"})
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = call("OPTIONS", "/api/verifications",
               headers={"Origin": cors_origin, "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == cors_origin
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
