"""Log injection, over HTTP: a catalogue of payloads (CR/LF raw and
percent-encoded, double-encoded, NEL, U+2028/2029, ANSI escapes, NUL,
invalid UTF-8, format strings) sent in the path, the query, headers and the
body. Each request must yield exactly one access-log line and exactly one
audit record, all valid JSON, and nothing of the payload's control bytes may
reach either."""
import json

import pytest

from conftest import psql, raw_http

PAYLOADS = {
    "crlf_encoded": b"%0d%0aInjected:%20yes",
    "crlf_double_encoded": b"%250d%250aInjected:%20yes",
    "nel": b"%c2%85Injected",
    "line_separator": b"%e2%80%a8Injected%e2%80%a9",
    "ansi": b"%1b%5b31mRED%1b%5b0m",
    "nul": b"%00Injected",
    "invalid_utf8": b"%ff%feInjected",
    "format_string": b"%25s%25n%25x%25d",
}
RAW_HEADER_PAYLOADS = {
    "crlf_raw": b"ok\r\nInjected: yes",
    "nel_raw": b"ok\xc2\x85Injected",
    "line_separator_raw": b"ok\xe2\x80\xa8Injected",
    "ansi_raw": b"ok\x1b[31mRED\x1b[0m",
    "invalid_utf8_raw": b"ok\xff\xfeInjected",
    "format_raw": b"%s%n%x%d",
}
CONTROL = set(range(0x00, 0x20)) | {0x7f}


def send(hostport, request):
    host, port = hostport
    status, headers, body, _ = raw_http(host, port, request)
    assert status is not None, request
    return status, headers


def audit_mark():
    return int(psql("SELECT coalesce(max(id), 0) FROM namaskah.audit_log"))


def audit_since(mark):
    rows = psql(f"SELECT row_to_json(a)::text FROM (SELECT request_id, actor, method, route, status, "
                f"outcome, details FROM namaskah.audit_log WHERE id > {mark} ORDER BY id) a")
    return [json.loads(line) for line in rows.splitlines() if line]


def check_one_request(nk_log, hostport, request):
    log_mark, db_mark = nk_log.mark(), audit_mark()
    status, headers = send(hostport, request)
    records = nk_log.wait_for(log_mark, lambda r: r.get("event") == "request")
    raw = nk_log.raw_since(log_mark)
    # every log line is one JSON object and no control byte escaped into it
    for line in raw.split(b"\n")[:-1]:
        json.loads(line)
        assert not (set(line) & CONTROL), line
        assert b"\xe2\x80\xa8" not in line and b"\xc2\x85" not in line, line
    access = [r for r in records if r.get("event") == "request"]
    assert len(access) == 1, access
    assert access[0]["request_id"] == headers["x-request-id"]
    audit = audit_since(db_mark)
    assert len(audit) == 1, audit
    assert audit[0]["request_id"] == headers["x-request-id"]
    assert audit[0]["status"] == status
    for value in (json.dumps(audit[0]),):
        assert "\r" not in value and "\n" not in value.replace("\\n", "")
    return status


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payload_in_path(nk_log, hostport, name):
    status = check_one_request(
        nk_log, hostport, b"GET /api/probe/" + PAYLOADS[name] + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (400, 404)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payload_in_query(nk_log, hostport, name):
    status = check_one_request(
        nk_log, hostport, b"GET /api/version?q=" + PAYLOADS[name] + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (200, 400)


@pytest.mark.parametrize("name", sorted(RAW_HEADER_PAYLOADS))
def test_payload_in_headers(nk_log, hostport, name):
    value = RAW_HEADER_PAYLOADS[name]
    status = check_one_request(
        nk_log, hostport, b"GET /api/version HTTP/1.1\r\nHost: x\r\nUser-Agent: " + value
        + b"\r\nX-Custom: " + value + b"\r\nConnection: close\r\n\r\n")
    assert status in (200, 400)


@pytest.mark.parametrize("name", sorted(RAW_HEADER_PAYLOADS))
def test_payload_in_body(nk_log, hostport, name):
    body = b'{"email": "' + RAW_HEADER_PAYLOADS[name].replace(b"\r\n", b"\\r\\n") + b'", "password": "x"}'
    status = check_one_request(
        nk_log, hostport, b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    assert status in (400, 401)
