"""HTTP black-box tests of verifications, the signed SMS webhook and the admin
endpoints through a real namaskahd and database: the full flow, pagination,
cancel and expiry, cross-user access, admin authorization, webhook attacks,
mass assignment, wrongly typed, non-JSON, oversized and nested bodies, XSS
payloads, lock and statement timeouts, and the served OpenAPI document.

Needs NAMASKAH_URL (a running namaskahd), the libpq environment of a
superuser (PGHOST, PGPORT, PGUSER, PGDATABASE) for state checks, and
SECRET_KEY (to sign webhooks as a provider would; without it the key is read
from the database)."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid

import pytest
import requests

URL = os.environ.get("NAMASKAH_URL", "http://127.0.0.1:8080")
PROBLEM = "application/problem+json; charset=utf-8"
JSON = "application/json; charset=utf-8"
SANDBOX = re.compile(r"^\+1555010[0-9]{4}$")


def sql(statement):
    """Runs one statement as the test superuser; returns stdout, stripped."""
    return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
                          check=True, capture_output=True, text=True).stdout.strip()


def call(method, path, token=None, body=None, headers=None, raw=None, **kw):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    return requests.request(method, URL + path, headers=h, data=data, timeout=15, **kw)


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    doc = r.json()
    assert doc["status"] == status and doc["code"] == code, doc
    assert doc["request_id"] == r.headers["X-Request-Id"]
    return doc


def new_user():
    email = f"vfy-{uuid.uuid4().hex[:12]}@example.test"
    password = "correct horse battery staple"
    r = call("POST", "/api/auth/register", body={"email": email, "password": password})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = call("POST", "/api/auth/login", body={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"id": user_id, "email": email, "password": password,
            "token": r.json()["access_token"]}


def login(email, password):
    return call("POST", "/api/auth/login", body={"email": email, "password": password})


def create(user, service="telegram", **extra):
    r = call("POST", "/api/verifications", user["token"], body={"service": service, **extra})
    assert r.status_code == 201, r.text
    return r.json()


# --- webhook signing, as docs/webhooks.md tells a provider -------------------

def webhook_key():
    secret = os.environ.get("SECRET_KEY")
    if secret:
        return hmac.new(secret.encode(), b"namaskah:webhook", hashlib.sha256).digest()
    return bytes.fromhex(sql("SELECT encode(namaskah.derive_key('webhook'), 'hex')"))


def sign(ts, raw, key=None):
    mac = hmac.new(key or webhook_key(), f"{ts}.".encode() + raw, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def sms(to, text, message_id=None, ts=None, signature=None, raw=None, headers=None):
    """POSTs a signed SMS webhook; raw overrides the body bytes."""
    if raw is None:
        raw = json.dumps({"message_id": message_id or f"msg-{uuid.uuid4().hex}",
                          "to": to, "from": "+15550100999", "text": text}).encode()
    ts = str(int(time.time()) if ts is None else ts)
    h = {"Content-Type": "application/json", "X-Namaskah-Timestamp": ts,
         "X-Namaskah-Signature": signature or sign(ts, raw)}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    return requests.post(URL + "/api/webhooks/sms", data=raw, headers=h, timeout=15)


@pytest.fixture(scope="module")
def alice():
    return new_user()


@pytest.fixture(scope="module")
def bob():
    return new_user()


@pytest.fixture(scope="module")
def admin():
    email = f"vfy-admin-{uuid.uuid4().hex[:8]}@example.test"
    password = "administrator password 1"
    sql(f"SELECT namaskah.create_admin('{email}', '{password}')")
    r = login(email, password)
    assert r.status_code == 200, r.text
    return {"email": email, "token": r.json()["access_token"]}


# --- the full flow --------------------------------------------------------------

def test_full_flow_register_login_verify_read():
    user = new_user()
    v = create(user, "telegram")
    assert v["status"] == "pending" and v["service"] == "telegram" and v["country"] == "US"
    assert SANDBOX.match(v["phone_number"]) and v["provider"] == "sandbox"
    assert v["code"] is None and v["expires_at"] > v["created_at"]

    r = sms(v["phone_number"], "Your Telegram code: 73519. Do not share it.")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "accepted", "result": "completed"}

    r = call("GET", f"/api/verifications/{v['id']}", user["token"])
    assert r.status_code == 200
    assert r.headers["Content-Type"] == JSON
    assert r.headers["Cache-Control"] == "no-store"
    got = r.json()
    assert got["status"] == "completed" and got["code"] == "73519" and got["completed_at"]

    r = call("GET", "/api/verifications?status=completed", user["token"])
    assert [i["id"] for i in r.json()["items"]] == [v["id"]]
    # A completed verification cannot be cancelled.
    r = call("POST", f"/api/verifications/{v['id']}/cancel", user["token"])
    assert_problem(r, 409, "verification_not_pending")


def test_list_pagination_with_opaque_cursor():
    user = new_user()
    made = [create(user, f"svc{i}")["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/verifications?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = call("GET", path, user["token"])
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert pages == 3
    assert seen == list(reversed(made))          # newest first, each once
    r = call("GET", "/api/verifications", user["token"])
    assert len(r.json()["items"]) == 5 and r.json()["next_cursor"] is None


@pytest.mark.parametrize("query,field,code", [
    ("limit=0", "limit", "out_of_range"), ("limit=101", "limit", "out_of_range"),
    ("limit=abc", "limit", "type"), ("status=done", "status", "enum"),
    ("cursor=bm90LWEtY3Vyc29y", "cursor", "format"), ("cursor=%3Cscript%3E", "cursor", "format"),
    ("order=id", "order", "unexpected"),
])
def test_list_query_is_validated(alice, query, field, code):
    r = call("GET", f"/api/verifications?{query}", alice["token"])
    doc = assert_problem(r, 400, "invalid_query")
    assert {"field": field, "code": code} in doc["errors"]
    assert "<script>" not in r.text


def test_a_bad_cursor_says_what_to_send_instead(alice, admin):
    """A cursor typed by hand (here: a real cursor's first characters) is 400
    invalid_query naming the field, and the detail tells what to pass."""
    for path, token in (("/api/verifications", alice["token"]), ("/api/admin/users", admin["token"])):
        r = call("GET", f"{path}?limit=1&cursor=MTc2NDI2", token)
        doc = assert_problem(r, 400, "invalid_query")
        assert doc["errors"] == [{"code": "format", "field": "cursor"}]
        assert "next_cursor" in doc["detail"], doc["detail"]


def test_timestamps_are_utc_with_z_everywhere(alice, admin):
    """GET /api/auth/me, verifications and the admin listing write times alike
    (namaskah.json_time), whatever the database's TimeZone."""
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    me = call("GET", "/api/auth/me", alice["token"]).json()
    v = create(alice, "telegram")
    assert stamp.match(me["created_at"]), me
    assert stamp.match(v["created_at"]) and stamp.match(v["expires_at"]), v
    found, cursor = [], None
    while not found:
        page = call("GET", "/api/admin/users?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                    admin["token"]).json()
        found = [u["created_at"] for u in page["items"] if u["id"] == me["id"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert found == [me["created_at"]]


def test_cancel_then_webhook_does_not_complete(alice):
    v = create(alice, "signal")
    r = call("POST", f"/api/verifications/{v['id']}/cancel", alice["token"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancelled_at"]
    r = sms(v["phone_number"], "code 1234")
    assert r.json()["result"] == "no_pending_verification"
    r = call("GET", f"/api/verifications/{v['id']}", alice["token"])
    assert r.json()["status"] == "cancelled" and r.json()["code"] is None
    r = call("POST", f"/api/verifications/{v['id']}/cancel", alice["token"])
    assert_problem(r, 409, "verification_not_pending")


def test_expiry(alice):
    assert sql("SELECT namaskah.setting('verification.ttl_minutes')") == "20"
    v = create(alice, "viber")
    sql(f"UPDATE namaskah.verifications SET expires_at = now() - interval '1 second' "
        f"WHERE id = '{v['id']}'")
    r = call("GET", f"/api/verifications/{v['id']}", alice["token"])
    assert r.json()["status"] == "expired"
    r = sms(v["phone_number"], "code 5555")
    assert r.status_code == 200 and r.json()["result"] in ("expired", "no_pending_verification")
    r = call("POST", f"/api/verifications/{v['id']}/cancel", alice["token"])
    assert_problem(r, 409, "verification_not_pending")
    assert sql(f"SELECT status || ' ' || coalesce(code, '-') FROM namaskah.verifications "
               f"WHERE id = '{v['id']}'") == "expired -"
    r = call("GET", "/api/verifications?status=expired", alice["token"])
    assert v["id"] in [i["id"] for i in r.json()["items"]]


def test_concurrent_creations_get_distinct_numbers():
    from concurrent.futures import ThreadPoolExecutor
    users = [new_user() for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(
            lambda i: call("POST", "/api/verifications", users[i % 4]["token"],
                           body={"service": f"race{i}"}), range(24)))
    assert [r.status_code for r in answers] == [201] * 24, [r.text for r in answers if r.status_code != 201]
    numbers = [r.json()["phone_number"] for r in answers]
    assert len(set(numbers)) == 24
    assert sql("SELECT count(*) FROM (SELECT phone_number FROM namaskah.verifications "
               "WHERE status = 'pending' GROUP BY 1 HAVING count(*) > 1) d") == "0"


def test_country_without_provider(alice):
    r = call("POST", "/api/verifications", alice["token"], body={"service": "telegram", "country": "DE"})
    assert_problem(r, 422, "country_not_supported")
    assert create(alice, "telegram", country="CA")["country"] == "CA"


# --- authorization --------------------------------------------------------------

def test_other_users_verification_is_404_like_a_missing_one(alice, bob):
    v = create(alice, "wechat")
    missing = str(uuid.uuid4())
    for method, suffix in (("GET", ""), ("POST", "/cancel")):
        answers = []
        for vid in (v["id"], missing, "not-a-uuid", v["id"].upper()):
            r = call(method, f"/api/verifications/{vid}{suffix}", bob["token"])
            doc = assert_problem(r, 404, "not_found")
            answers.append((doc["title"], doc["detail"], doc["type"]))
        assert len(set(answers)) == 1, answers
    r = call("GET", "/api/verifications", bob["token"])
    assert v["id"] not in [i["id"] for i in r.json()["items"]]
    r = call("GET", f"/api/verifications/{v['id']}", alice["token"])
    assert r.json()["status"] == "pending"


def test_verifications_need_a_token():
    for method, path in (("GET", "/api/verifications"), ("POST", "/api/verifications"),
                         ("GET", f"/api/verifications/{uuid.uuid4()}"),
                         ("POST", f"/api/verifications/{uuid.uuid4()}/cancel")):
        r = call(method, path, body={"service": "x"} if method == "POST" else None)
        assert_problem(r, 401, "missing_token")


ADMIN_CALLS = (("GET", "/api/admin/users"), ("POST", "/api/admin/users/{id}/lock"),
               ("POST", "/api/admin/users/{id}/unlock"))


def test_user_token_on_admin_endpoints_is_403(alice, bob):
    for method, path in ADMIN_CALLS:
        r = call(method, path.format(id=bob["id"]), alice["token"])
        assert_problem(r, 403, "forbidden")
        r = call(method, path.format(id=bob["id"]))
        assert_problem(r, 401, "missing_token")
    assert sql(f"SELECT locked_until IS NULL FROM namaskah.users WHERE id = '{bob['id']}'") == "t"


def test_admin_lists_masked_users(admin, alice):
    seen, cursor = [], None
    while True:
        r = call("GET", "/api/admin/users?limit=50" + (f"&cursor={cursor}" if cursor else ""),
                 admin["token"])
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        seen += r.json()["items"]
        assert alice["email"] not in r.text and "example.test" not in r.text
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    mine = [u for u in seen if u["id"] == alice["id"]]
    assert len(mine) == 1 and mine[0]["email"] == "v***@e***.test" and mine[0]["role"] == "user"
    assert len({u["id"] for u in seen}) == len(seen) == int(sql("SELECT count(*) FROM namaskah.users"))
    r = call("GET", "/api/admin/users?role=admin", admin["token"])
    assert all(u["role"] == "admin" for u in r.json()["items"])


def test_admin_lock_revokes_tokens_and_unlock():
    admin_email = f"vfy-admin-{uuid.uuid4().hex[:8]}@example.test"
    sql(f"SELECT namaskah.create_admin('{admin_email}', 'administrator password 2')")
    admin_token = login(admin_email, "administrator password 2").json()["access_token"]
    user = new_user()
    assert call("GET", "/api/auth/me", user["token"]).status_code == 200
    r = call("POST", f"/api/admin/users/{user['id']}/lock", admin_token)
    assert r.status_code == 200, r.text
    assert r.json()["locked"] is True and r.json()["email"] == "v***@e***.test"
    # The token issued before the lock no longer works; logging in is refused.
    r = call("GET", "/api/auth/me", user["token"])
    assert r.status_code == 401
    r = login(user["email"], user["password"])
    assert r.status_code == 401
    # Unknown, malformed and own ids.
    assert_problem(call("POST", f"/api/admin/users/{uuid.uuid4()}/lock", admin_token), 404, "not_found")
    assert_problem(call("POST", "/api/admin/users/42/lock", admin_token), 404, "not_found")
    admin_id = sql(f"SELECT id FROM namaskah.users WHERE email_key = '{admin_email}'")
    assert_problem(call("POST", f"/api/admin/users/{admin_id}/lock", admin_token), 409, "cannot_lock_self")
    r = call("POST", f"/api/admin/users/{user['id']}/lock", admin_token, body={"locked_until": "never"})
    assert_problem(r, 400, "validation_failed")
    # Unlock; a login after the revocation cutoff's second works again.
    r = call("POST", f"/api/admin/users/{user['id']}/unlock", admin_token)
    assert r.status_code == 200 and r.json()["locked"] is False
    time.sleep(1.1)
    r = login(user["email"], user["password"])
    assert r.status_code == 200, r.text
    assert call("GET", "/api/auth/me", r.json()["access_token"]).status_code == 200


def test_create_admin_is_not_reachable_through_the_api():
    r = call("POST", "/api/admin/users", body={"email": "x@example.test"})
    assert r.status_code in (401, 405)
    assert sql("SELECT count(*) FROM namaskah.routes WHERE target::text LIKE '%create_admin%'") == "0"
    assert sql("SELECT has_function_privilege('namaskah_frontend', "
               "'namaskah.create_admin(text, text)', 'EXECUTE')") == "f"


# --- webhook attacks ------------------------------------------------------------

def test_webhook_unsigned_tampered_stale_replayed(alice):
    v = create(alice, "line")
    raw = json.dumps({"message_id": f"m-{uuid.uuid4().hex}", "to": v["phone_number"],
                      "text": "Your code is 240817"}).encode()
    ts = str(int(time.time()))
    good = sign(ts, raw)
    # Unsigned, half-signed.
    r = requests.post(URL + "/api/webhooks/sms", data=raw,
                      headers={"Content-Type": "application/json"}, timeout=15)
    assert_problem(r, 401, "webhook_signature_missing")
    assert_problem(sms(None, None, raw=raw, headers={"X-Namaskah-Timestamp": None}),
                   401, "webhook_signature_missing")
    # A bearer token is no substitute for the signature.
    r = requests.post(URL + "/api/webhooks/sms", data=raw, timeout=15,
                      headers={"Content-Type": "application/json",
                               "Authorization": f"Bearer {alice['token']}"})
    assert_problem(r, 401, "webhook_signature_missing")
    # Tampered body, tampered timestamp, wrong key, garbage signature.
    tampered = raw.replace(b"240817", b"999999")
    assert_problem(sms(None, None, raw=tampered, ts=ts, signature=good), 401, "webhook_signature_invalid")
    assert_problem(sms(None, None, raw=raw, ts=str(int(ts) + 1), signature=good),
                   401, "webhook_signature_invalid")
    assert_problem(sms(None, None, raw=raw, signature=sign(ts, raw, key=b"k" * 32), ts=ts),
                   401, "webhook_signature_invalid")
    assert_problem(sms(None, None, raw=raw, signature="v1=zz"), 401, "webhook_signature_invalid")
    # Stale and future timestamps, correctly signed.
    for skew in (-301, 301):
        old = str(int(time.time()) + skew)
        assert_problem(sms(None, None, raw=raw, ts=old, signature=sign(old, raw)),
                       401, "webhook_timestamp_stale")
    assert sql(f"SELECT status FROM namaskah.verifications WHERE id = '{v['id']}'") == "pending"
    # The genuine call, then its replay (even freshly re-signed).
    r = sms(None, None, raw=raw, ts=ts, signature=good)
    assert r.status_code == 200 and r.json()["result"] == "completed", r.text
    assert_problem(sms(None, None, raw=raw, ts=ts, signature=good), 401, "webhook_replayed")
    assert_problem(sms(None, None, raw=raw), 401, "webhook_replayed")
    got = call("GET", f"/api/verifications/{v['id']}", alice["token"]).json()
    assert got["code"] == "240817"


def test_webhook_body_rules(alice):
    v = create(alice, "kakao")
    r = sms(v["phone_number"], "no digits here")
    assert r.status_code == 200 and r.json()["result"] == "no_code"
    raw = json.dumps({"message_id": "m-extra-" + uuid.uuid4().hex, "to": v["phone_number"],
                      "text": "1234", "status": "completed"}).encode()
    doc = assert_problem(sms(None, None, raw=raw), 400, "validation_failed")
    assert {"field": "status", "code": "unexpected"} in doc["errors"]
    r = requests.post(URL + "/api/webhooks/sms", data=b"to=1&text=1234", timeout=15,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")


# --- bodies: mass assignment, types, non-JSON, size, nesting, XSS ---------------

def test_create_rejects_mass_assignment(alice):
    body = {"service": "telegram", "status": "completed", "code": "1234",
            "user_id": alice["id"], "phone_number": "+15550100001", "expires_at": "2999-01-01",
            "provider": "sandbox", "id": str(uuid.uuid4())}
    doc = assert_problem(call("POST", "/api/verifications", alice["token"], body=body),
                         400, "validation_failed")
    unexpected = {e["field"] for e in doc["errors"] if e["code"] == "unexpected"}
    assert unexpected == set(body) - {"service"}


@pytest.mark.parametrize("body,field,code", [
    ({"service": 42}, "service", "type"), ({"service": ["telegram"]}, "service", "type"),
    ({"service": None}, "service", "required"), ({"service": True}, "service", "type"),
    ({"service": "telegram", "country": 1}, "country", "type"),
    ({"service": "x" * 33}, "service", "too_long"), ({}, "service", "required"),
    ([{"service": "telegram"}], "", "object_required"), ("telegram", "", "object_required"),
    (42, "", "object_required"),
])
def test_create_rejects_wrongly_typed_bodies(alice, body, field, code):
    doc = assert_problem(call("POST", "/api/verifications", alice["token"], body=body),
                         400, "validation_failed")
    assert {"field": field, "code": code} in doc["errors"]


def test_non_json_bodies(alice):
    r = call("POST", "/api/verifications", alice["token"], raw="service=telegram",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")
    r = call("POST", "/api/verifications", alice["token"], raw="<service>x</service>",
             headers={"Content-Type": "text/xml"})
    assert_problem(r, 415, "unsupported_media_type")
    r = call("POST", "/api/verifications", alice["token"], raw='{"service": "telegram"')
    assert_problem(r, 400, "invalid_json")


def test_oversized_and_deeply_nested_bodies(alice):
    r = call("POST", "/api/verifications", alice["token"],
             raw=json.dumps({"service": "oversized", "pad": "x" * (4 << 20)}))
    assert r.status_code == 413 and r.headers["Content-Type"] == PROBLEM
    nested = '{"service": "nested", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    r = call("POST", "/api/verifications", alice["token"], raw=nested)
    assert r.status_code == 400 and r.json()["code"] == "body_limit_exceeded"
    assert sql("SELECT count(*) FROM namaskah.verifications "
               "WHERE service IN ('oversized', 'nested')") == "0"


XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "';alert(1)//",
       "<svg/onload=alert(1)>", "javascript:alert(1)"]


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_every_string_field(alice, payload):
    for body in ({"service": payload}, {"service": "telegram", "country": payload},
                 {"service": "telegram", payload: "x"}):
        r = call("POST", "/api/verifications", alice["token"], body=body)
        assert_problem(r, 400, "validation_failed")
        assert "<" not in r.text and ">" not in r.text
    # A field name is named in errors, escaped.
    r = call("POST", "/api/verifications", alice["token"], body={"service": "telegram", payload: 1})
    if "<" in payload:
        assert "\\u003c" in r.text
    # Query parameters.
    r = requests.get(URL + "/api/verifications", params={"status": payload},
                     headers={"Authorization": f"Bearer {alice['token']}"}, timeout=15)
    assert_problem(r, 400, "invalid_query")
    assert "<" not in r.text
    # The webhook accepts any text (the provider relays what was sent) but
    # never echoes it; message id, numbers are validated.
    v = create(alice, "telegram")
    r = sms(v["phone_number"], f"{payload} code 8080")
    assert r.status_code == 200 and r.headers["Content-Type"] == JSON
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "<" not in r.text
    for field in ("message_id", "to", "from"):
        body = {"message_id": "m-" + uuid.uuid4().hex, "to": v["phone_number"], "text": "x"}
        body[field] = payload if field != "from" else payload * 10
        raw = json.dumps(body).encode()
        r = sms(None, None, raw=raw)
        assert_problem(r, 400, "validation_failed")
        assert "<" not in r.text
    # The path.
    r = call("GET", "/api/verifications/%3Cscript%3E", alice["token"])
    assert r.status_code == 404 and "<" not in r.text


# --- timeouts -------------------------------------------------------------------

def test_frontend_role_has_a_statement_timeout():
    config = sql("SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = 'namaskah_frontend'")
    assert "statement_timeout=10s" in config
    locking = sql("SELECT string_agg(p.proname || ':' || array_to_string(p.proconfig, ','), ' ' "
                  "ORDER BY p.proname) FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace "
                  "AND p.proname IN ('verifications_create', 'verifications_cancel', "
                  "'webhooks_sms', 'admin_user_lock', 'admin_user_unlock')")
    assert locking.count("lock_timeout=2s") == 5, locking


def test_a_locked_row_answers_503_after_the_lock_timeout(alice):
    v = create(alice, "telegram")
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"BEGIN; SELECT 1 FROM namaskah.verifications WHERE id = '{v['id']}' FOR UPDATE; "
         "SELECT pg_sleep(6); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while time.time() < deadline and sql(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(6)%' "
                "AND pid <> pg_backend_pid()") == "0":
            time.sleep(0.05)
        started = time.time()
        r = call("POST", f"/api/verifications/{v['id']}/cancel", alice["token"])
        elapsed = time.time() - started
        doc = assert_problem(r, 503, "temporarily_unavailable")
        assert r.headers["Retry-After"] == "1"
        assert 1.5 < elapsed < 5, elapsed
        assert "lock" not in doc["detail"].lower()
    finally:
        holder.wait(timeout=15)
    r = call("POST", f"/api/verifications/{v['id']}/cancel", alice["token"])
    assert r.status_code == 200


# --- HTTP semantics and the contract ----------------------------------------------

def test_methods_on_verification_routes(alice):
    r = call("OPTIONS", "/api/verifications")
    assert r.status_code == 204 and r.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    r = call("DELETE", f"/api/verifications/{uuid.uuid4()}", alice["token"])
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    r = call("GET", "/api/webhooks/sms")
    assert_problem(r, 405, "method_not_allowed")
    r = call("HEAD", "/api/verifications", alice["token"])
    assert r.status_code == 200 and r.content == b""


def test_openapi_document_is_served():
    r = call("GET", "/api/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == JSON
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    routes = sql("SELECT string_agg(lower(method) || ' ' || path_template, ',') FROM namaskah.routes")
    for route in routes.split(","):
        method, path = route.split(" ")
        if path.startswith("/api/") or path == "/health/ready":
            assert method in doc["paths"].get(path, {}), route
        else:   # internal (GET /internal/metrics): not served on this listener
            assert method not in doc["paths"].get(path, {}), route
            r = call(method.upper(), path)
            assert_problem(r, 404, "not_found")
    assert "/metrics" not in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
