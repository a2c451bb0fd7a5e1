"""Runs after the rest of the HTTP suite (file name order): scans what the
suite left behind — namaskahd's log, the PostgreSQL server log written during
the suite, and the audit table — for bearer tokens, the suite's passwords and
unmasked email addresses or phone numbers. None may be there."""
import os
import re

import pytest

from conftest import need_env, psql

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")
# The suite's test addresses and sandbox numbers, unmasked.
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@(example\.test|example\.com)")
PHONE = re.compile(rb"\+1555\d{6,7}")
PASSWORDS = [b"correct horse battery staple", b"another long password", b"hook password 1234",
             b"not the password", b"wrong password!"]


def findings(data):
    found = []
    for name, pattern in (("bearer token", JWT), ("email", EMAIL), ("phone", PHONE)):
        m = pattern.search(data)
        if m:
            found.append(f"{name}: {m.group(0)[:40]!r}")
    for pw in PASSWORDS:
        if pw in data:
            found.append(f"password {pw!r}")
    return found


def test_frontend_log_holds_no_secret_or_personal_data():
    with open(need_env("NAMASKAH_LOG"), "rb") as f:
        assert findings(f.read()) == []


def test_postgres_log_holds_no_secret_or_personal_data():
    path = os.path.join(need_env("NAMASKAH_PGDIR"), "postgres.log")
    offset = int(os.environ.get("NAMASKAH_PGLOG_OFFSET", "0"))
    with open(path, "rb") as f:
        f.seek(offset)
        assert findings(f.read()) == []


def test_audit_table_holds_no_secret_or_personal_data():
    need_env("PGDATABASE")
    rows = psql("SELECT count(*) FROM namaskah.audit_log")
    assert int(rows) > 0
    dump = psql("SELECT string_agg(concat_ws(' ', request_id, actor, method, route, outcome, "
                "details::text), E'\\n') FROM namaskah.audit_log")
    assert findings(dump.encode()) == []
