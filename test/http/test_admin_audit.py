"""The admin views of the audit log, security events and rate-limit state:
403 for users, masked content for admins, filters, validated cursors."""
import uuid

import pytest
import requests

from conftest import psql

URL_ENV = "NAMASKAH_URL"
ADMIN_ROUTES = ["/api/admin/audit", "/api/admin/audit/verify", "/api/admin/security-events",
                "/api/admin/rate-limits"]


def token_for(base_url, email, password):
    r = requests.post(base_url + "/api/auth/login", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def admin_token(base_url):
    email, password = f"audit-admin-{uuid.uuid4().hex[:8]}@example.test", "administrator password 9"
    psql(f"SELECT namaskah.create_admin('{email}', '{password}')")
    return token_for(base_url, email, password)


@pytest.fixture(scope="module")
def user_token(base_url):
    email, password = f"audit-user-{uuid.uuid4().hex[:8]}@example.test", "plain user password 9"
    r = requests.post(base_url + "/api/auth/register", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 201, r.text
    return token_for(base_url, email, password)


def get(base_url, path, token, **params):
    return requests.get(base_url + path, params=params, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("path", ADMIN_ROUTES)
def test_users_get_403(base_url, user_token, path):
    r = get(base_url, path, user_token)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


@pytest.mark.parametrize("path", ADMIN_ROUTES)
def test_anonymous_get_401(base_url, path):
    assert requests.get(base_url + path, timeout=10).status_code == 401


def test_audit_lists_masked_records_newest_first(base_url, admin_token):
    marker = uuid.uuid4().hex
    requests.get(base_url + f"/api/nope-{marker}", headers={"User-Agent": f"probe {marker} carol@example.test"},
                 timeout=10)
    r = get(base_url, "/api/admin/audit", admin_token, limit=50, route="unmatched")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids, reverse=True)
    mine = [i for i in items if marker in i["details"].get("path", "")]
    assert len(mine) == 1
    assert mine[0]["status"] == 404 and mine[0]["outcome"] == "not_found"
    assert "carol@example.test" not in r.text
    assert mine[0]["actor"].startswith(("client:", "net:"))
    assert "127.0.0.1" not in r.text


def test_audit_filters_and_cursor(base_url, admin_token):
    for i in range(5):
        requests.get(base_url + f"/api/nope-cursor-{i}", timeout=10)
    first = get(base_url, "/api/admin/audit", admin_token, limit=2, status=404)
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and all(i["status"] == 404 for i in page["items"])
    assert page["next_cursor"]
    second = get(base_url, "/api/admin/audit", admin_token, limit=2, status=404, cursor=page["next_cursor"])
    assert second.status_code == 200
    assert max(i["id"] for i in second.json()["items"]) < min(i["id"] for i in page["items"])
    since = get(base_url, "/api/admin/audit", admin_token, limit=5, **{"from": "2999-01-01T00:00:00Z"})
    assert since.json()["items"] == []


@pytest.mark.parametrize("params,field", [
    ({"cursor": "not-a-cursor-at-all"}, "cursor"),
    ({"from": "yesterday"}, "from"),
    ({"status": "abc"}, "status"),
    ({"limit": "0"}, "limit"),
    ({"surprise": "1"}, "surprise"),
])
def test_audit_query_is_validated(base_url, admin_token, params, field):
    r = get(base_url, "/api/admin/audit", admin_token, **params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_query"
    assert field in [e["field"] for e in r.json()["errors"]]
    if field == "cursor":
        assert "next_cursor of the previous page" in r.json()["detail"]


def test_security_events_show_a_flood_once_per_minute(base_url, admin_token):
    for _ in range(12):
        requests.get(base_url + "/api/auth/me", headers={"Authorization": "Bearer x.y.z"}, timeout=10)
    r = get(base_url, "/api/admin/security-events", admin_token)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert any(t["type"] == "auth_failure" and t["total"] >= 12 for t in doc["totals"])
    flood = [e for e in doc["events"] if e["type"] == "auth_failure" and e["count"] >= 12]
    assert flood, doc["events"][:5]
    # recorded as one row per actor and minute, however many requests
    actor = flood[0]["actor"]
    rows, total = psql("SELECT count(*), sum(count) FROM namaskah.security_events "
                       f"WHERE type = 'auth_failure' AND actor = '{actor}' "
                       "AND minute >= now() - interval '2 minutes'").split("|")
    assert int(rows) <= 2 and int(total) >= 12


def test_rate_limit_keys_are_pseudonymized(base_url, admin_token):
    r = get(base_url, "/api/admin/rate-limits", admin_token, limit=100)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items
    for item in items:
        assert item["key"].startswith("ps_")
        assert {"policy", "limit", "remaining", "reset_after", "expires_at"} <= set(item)
    assert "127.0.0.1" not in r.text and "user:" not in r.text


def test_audit_verify_whole_log_and_a_range(base_url, admin_token):
    whole = get(base_url, "/api/admin/audit/verify", admin_token)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["ok"] is True and body["first_bad_id"] is None and body["checked"] > 0
    assert body["from_id"] is None and body["to_id"] is None
    top = int(psql("SELECT max(id) FROM namaskah.audit_log"))
    part = get(base_url, "/api/admin/audit/verify", admin_token, from_id=1, to_id=top).json()
    assert part["ok"] is True and part["from_id"] == 1 and part["to_id"] == top
    assert part["checked"] == int(psql(f"SELECT count(*) FROM namaskah.audit_log WHERE id <= {top}"))
    assert get(base_url, "/api/admin/audit/verify", admin_token, from_id=top + 10**6).json()["checked"] == 0


@pytest.mark.parametrize("params,field,code", [
    ({"from_id": "5", "to_id": "4"}, "to_id", "out_of_range"),
    ({"from_id": "0"}, "from_id", "out_of_range"),
    ({"to_id": "x"}, "to_id", "type"),
    ({"chain": "1"}, "chain", "unexpected"),
])
def test_audit_verify_query_is_validated(base_url, admin_token, params, field, code):
    r = get(base_url, "/api/admin/audit/verify", admin_token, **params)
    assert r.status_code == 400, r.text
    assert {"field": field, "code": code} in r.json()["errors"]
