"""The edge of namaskahd: what it acknowledges, how it frames HTTP/1.1, how it
holds up against many, idle and slow clients, and how it drains.

Each test here began as a finding of the outside review (issue "namaskahd's
edge"): it failed on the code of that time and passes now. Raw sockets are
used wherever a client library would normalise what is being tested.
"""
import json
import subprocess
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import metric, parse_metrics, psql

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
    """A deferred constraint trigger on the audit log that fails the commit
    of every request's transaction (superuser, test only). The record of a
    failed request (status 500) namaskahd writes afterwards passes."""
    db("CREATE OR REPLACE FUNCTION public.nk_test_fail_commit() RETURNS trigger "
       "LANGUAGE plpgsql AS $$BEGIN IF NEW.status <> 500 THEN "
       "RAISE EXCEPTION 'injected commit failure'; END IF; RETURN NULL; END$$")
    db("CREATE CONSTRAINT TRIGGER nk_test_fail_commit AFTER INSERT ON namaskah.audit_log "
       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.nk_test_fail_commit()")
    try:
        yield
    finally:
        db("DROP TRIGGER IF EXISTS nk_test_fail_commit ON namaskah.audit_log")
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
        assert r.status_code == 500, (r.status_code, r.text)
        assert r.headers["Content-Type"] == PROBLEM_TYPE
        assert r.json()["code"] == "internal_error"
        assert "injected" not in r.text  # no database text reaches a client
        # the failed request still has its one record, written afterwards
        assert audit_rows(r.headers["X-Request-Id"]) == "unmatched|500|internal_error"
    assert db(f"SELECT count(*) FROM namaskah.users WHERE email = '{email}'") == "0"
    recs = nk_log.wait_for(mark, lambda r: False, timeout=0.5)
    logged = [r for r in recs if r.get("event") == "request"]
    assert len(logged) == len(answers)
    assert all(r["status"] == 500 for r in logged)
    assert sum(1 for r in recs if r.get("event") == "db_commit_failed") == len(answers)


def test_the_pool_recovers_after_failed_commits(base_url, db, failing_commit):
    for _ in range(3):
        requests.get(base_url + "/api/version", timeout=10)
    db("DROP TRIGGER nk_test_fail_commit ON namaskah.audit_log")
    r = requests.get(base_url + "/api/version", timeout=10)
    assert r.status_code == 200
    assert audit_rows(r.headers["X-Request-Id"]).endswith("|200|ok")


def test_a_call_that_times_out_is_answered_503_and_audited(instance, db):
    """The call's transaction is cancelled and rolled back; its record is
    written by a call of its own."""
    inst = instance({"REQUEST_TIMEOUT_MS": "700"})
    db("CREATE OR REPLACE FUNCTION public.nk_test_slow_audit() RETURNS trigger "
       "LANGUAGE plpgsql AS $$BEGIN IF NEW.status <> 503 THEN PERFORM pg_sleep(2); "
       "END IF; RETURN NEW; END$$")
    db("CREATE TRIGGER nk_test_slow_audit BEFORE INSERT ON namaskah.audit_log "
       "FOR EACH ROW EXECUTE FUNCTION public.nk_test_slow_audit()")
    try:
        t0 = time.time()
        r = requests.get(inst.url + "/api/version", timeout=10)
        elapsed = time.time() - t0
    finally:
        db("DROP TRIGGER nk_test_slow_audit ON namaskah.audit_log")
        db("DROP FUNCTION public.nk_test_slow_audit()")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["code"] == "temporarily_unavailable"
    assert elapsed < 2.0
    assert audit_rows(r.headers["X-Request-Id"]) == "unmatched|503|temporarily_unavailable"


# ---- 2. strict HTTP/1.1 framing ---------------------------------------------

def read_all(host, port, data, timeout=3.0):
    """Sends data on one connection and reads until the server closes it."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return buf, True
            buf += chunk
        return buf, False
    finally:
        s.close()


def responses(buf):
    """The (status, headers, body) of each response in buf, in order."""
    out = []
    while buf.startswith(b"HTTP/1.1 "):
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), headers, rest[:n]))
        buf = rest[n:]
    assert buf == b"", f"bytes after the last response: {buf[:80]!r}"
    return out


SMUGGLED = b"GET /api/version HTTP/1.1\r\nHost: t\r\n\r\n"
FILLER = b"".join(b"X-Filler-%d: %d\r\n" % (i, i) for i in range(70))

FRAMING_CASES = {
    # name: (head lines after the request line, body, status)
    "length_and_chunked": (b"Host: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                           b"0\r\n\r\n", 400),
    "chunked_and_length": (b"Host: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                           b"0\r\n\r\n", 400),
    "two_lengths": (b"Host: t\r\nContent-Length: 0\r\nContent-Length: 39\r\n", b"", 400),
    "two_equal_lengths": (b"Host: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n", b"", 400),
    "length_plus": (b"Host: t\r\nContent-Length: +2\r\n", b"{}", 400),
    "length_hex": (b"Host: t\r\nContent-Length: 0x2\r\n", b"{}", 400),
    "length_list": (b"Host: t\r\nContent-Length: 2, 2\r\n", b"{}", 400),
    "length_negative": (b"Host: t\r\nContent-Length: -1\r\n", b"", 400),
    "coding_gzip": (b"Host: t\r\nTransfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n", 400),
    "coding_identity": (b"Host: t\r\nTransfer-Encoding: identity\r\n", b"", 400),
    "two_codings": (b"Host: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                    b"0\r\n\r\n", 400),
    "space_before_colon": (b"Host: t\r\nContent-Length : 39\r\n", b"", 400),
    "space_before_colon_other": (b"Host: t\r\nX-Thing : 1\r\n", b"", 400),
    "obs_fold": (b"Host: t\r\nX-Thing: a\r\n b\r\n", b"", 400),
    "obs_fold_hides_length": (b"Host: t\r\nX-Thing: a\r\n Content-Length: 39\r\n", b"", 400),
    "colon_line_hides_length": (b"Host: t\r\n: x\r\nContent-Length: 39\r\n", b"", 400),
    "no_host": (b"Accept: */*\r\n", b"", 400),
    "two_hosts": (b"Host: a\r\nHost: b\r\n", b"", 400),
    "two_authorizations": (b"Host: t\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n",
                           b"", 400),
    "name_not_token": (b"Host: t\r\nX(Y): 1\r\n", b"", 400),
    "too_many_fields": (b"Host: t\r\n" + FILLER, b"", 431),
    "authorization_after_64_fields": (b"Host: t\r\n" + FILLER + b"Authorization: Bearer x\r\n",
                                      b"", 431),
}


@pytest.mark.parametrize("case", sorted(FRAMING_CASES))
@pytest.mark.parametrize("path", [API_PATH, "/health"], ids=["api", "health"])
def test_ambiguous_framing_is_refused_and_the_connection_closed(hostport, nk_log, case, path):
    lines, body, status = FRAMING_CASES[case]
    mark = nk_log.mark()
    req = b"POST " + path.encode() + b" HTTP/1.1\r\n" + lines + b"\r\n" + body + SMUGGLED
    buf, closed = read_all(*hostport, req)
    assert closed, "the connection stayed open after an ambiguous head"
    got = responses(buf)
    assert len(got) == 1, f"{len(got)} responses: the smuggled request was answered"
    st, headers, payload = got[0]
    assert st == status
    assert headers["connection"] == "close"
    assert headers["content-type"] == PROBLEM_TYPE
    doc = json.loads(payload)
    assert doc["code"] == ("header_fields_too_large" if status == 431 else "bad_request")
    assert doc["status"] == status and doc["request_id"] == headers["x-request-id"]
    recs = nk_log.wait_for(mark, lambda r: r.get("request_id") == doc["request_id"])
    assert [r["status"] for r in recs if r.get("event") == "request"] == [status]
    expected = f"unmatched|{status}|{doc['code']}" if path.startswith("/api/") else ""
    assert audit_rows(doc["request_id"]) == expected


def test_sixty_three_fields_are_accepted(hostport):
    filler = b"".join(b"X-Filler-%d: %d\r\n" % (i, i) for i in range(61))
    req = b"GET /api/version HTTP/1.1\r\nHost: t\r\n" + filler + b"Connection: close\r\n\r\n"
    got = responses(read_all(*hostport, req)[0])
    assert [g[0] for g in got] == [200]


def test_trailing_whitespace_is_not_part_of_a_length(hostport):
    req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2 \r\n"
           b"Connection: close\r\n\r\n{}")
    assert [g[0] for g in responses(read_all(*hostport, req)[0])] == [404]


def test_ordinary_keep_alive_and_chunked_requests_still_work(hostport):
    req = (b"GET /api/version HTTP/1.1\r\nHost: t\r\n\r\n"
           b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n"
           b"Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
           b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
           b"Content-Type: application/json\r\n\r\n{}"
           b"GET /api/version HTTP/1.0\r\n\r\n")
    got = responses(read_all(*hostport, req)[0])
    assert [g[0] for g in got] == [200, 404, 404, 200]


@pytest.mark.parametrize("line", [b"GET  /api/version HTTP/1.1", b"GET /api/version  HTTP/1.1"])
def test_request_line_with_extra_spaces_is_refused(hostport, line):
    got = responses(read_all(*hostport, line + b"\r\nHost: t\r\n\r\n")[0])
    assert [g[0] for g in got] == [400]


@pytest.mark.parametrize("head", [
    b"POST " + API_PATH.encode() + b" HTTP/1.1\n\rContent-Length: 5\r\nHost: t\r\n\r\nhello",
    b"POST " + API_PATH.encode() + b" HTTP/1.1\r\rContent-Length: 5\r\nHost: t\r\n\r\nhello",
    b"GET " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nX: 1\n\n",
    b"GET " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nX: 1\r\n\r\r\n",
], ids=["lf_cr", "cr_cr", "lf_lf_end", "cr_cr_lf_end"])
def test_line_ends_civetweb_would_blur_are_refused(hostport, head):
    """civetweb turns CR and LF into NULs as it parses, so these would look
    like CRLF afterwards: namaskahd reads the line ends as they arrive."""
    buf, closed = read_all(*hostport, head + SMUGGLED)
    assert closed
    got = responses(buf)
    assert [g[0] for g in got] == [400], got
    assert got[0][1]["connection"] == "close"


def test_bare_lf_line_ends_are_refused(hostport):
    got = responses(read_all(*hostport, b"GET /api/version HTTP/1.1\nHost: t\n\n")[0])
    assert [g[0] for g in got] == [400]
    req = b"GET /api/version HTTP/1.1\r\nHost: t\nAccept: x\r\n\r\n"
    assert [g[0] for g in responses(read_all(*hostport, req)[0])] == [400]


# ---- 3. every request gets one answer, one log line, one record -----------------

def test_options_asterisk_is_answered(hostport, nk_log):
    mark = nk_log.mark()
    got = responses(read_all(*hostport, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")[0])
    assert len(got) == 1
    status, headers, body = got[0]
    assert status == 200 and body == b""
    assert "GET" in headers["allow"] and "POST" in headers["allow"]
    assert headers["content-length"] == "0"
    nk_log.wait_for(mark, lambda r: r.get("event") == "request")
    assert [r["status"] for r in log_requests(nk_log, mark)] == [200]


def test_absolute_form_for_this_server_is_answered_as_its_path(hostport):
    host, port = hostport
    req = b"GET http://%s:%d/api/version HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % (
        host.encode(), port)
    got = responses(read_all(*hostport, req)[0])
    assert [g[0] for g in got] == [200]
    assert json.loads(got[0][2])["api_version"]


def test_absolute_form_for_another_server_is_refused_and_audited(hostport, nk_log):
    mark = nk_log.mark()
    req = b"GET http://example.com/api/version HTTP/1.1\r\nHost: example.com\r\n\r\n"
    got = responses(read_all(*hostport, req)[0])
    assert [g[0] for g in got] == [400]
    rid = got[0][1]["x-request-id"]
    assert audit_rows(rid) == "unmatched|400|bad_request"
    assert [r["status"] for r in log_requests(nk_log, mark)] == [400]


@pytest.mark.parametrize("req,status,code", [
    (b"TRACE /api/version HTTP/1.1\r\nHost: t\r\n\r\n", 501, "method_not_implemented"),
    (b"GET /api/version HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http_version_not_supported"),
    (b"GET /api/version HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
     431, "header_fields_too_large"),
    (b"GET /api/version HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 16500 + b"\r\n\r\n",
     431, "header_fields_too_large"),
    (b"POST /api/version HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n",
     413, "payload_too_large"),
], ids=["trace", "http2", "head_over_buffer", "head_over_limit", "body_too_large"])
def test_refusals_under_api_have_one_log_line_and_one_record(hostport, nk_log, req, status, code):
    mark = nk_log.mark()
    got = responses(read_all(*hostport, req)[0])
    assert len(got) == 1
    st, headers, body = got[0]
    assert st == status and json.loads(body)["code"] == code
    rid = headers["x-request-id"]
    nk_log.wait_for(mark, lambda r: r.get("request_id") == rid)
    assert [r["status"] for r in log_requests(nk_log, mark)] == [status]
    assert audit_rows(rid) == f"unmatched|{status}|{code}"


# ---- 4. slow clients: a deadline for the head and for the body -----------------

def trickle(port, head, body_parts, interval, timeout=15.0):
    """Sends head, then body_parts one by one every interval seconds, while
    reading; returns (bytes received, seconds until the server answered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(interval)
    t0 = time.time()
    buf = b""
    try:
        s.sendall(head)
        parts = list(body_parts)
        while time.time() - t0 < timeout:
            try:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if b"\r\n\r\n" in buf:
                    break
            except socket.timeout:
                if parts:
                    try:
                        s.sendall(parts.pop(0))
                    except OSError:
                        break
        return buf, time.time() - t0
    finally:
        s.close()


def test_a_slow_body_is_cut_at_its_deadline_with_408(instance, db):
    inst = instance({"REQUEST_TIMEOUT_MS": "1500"})
    head = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    buf, elapsed = trickle(inst.port, head, [b" "] * 100, 0.25)
    got = responses(buf)
    assert [g[0] for g in got] == [408]
    assert got[0][1]["connection"] == "close"
    assert 1.3 < elapsed < 3.0, elapsed
    doc = json.loads(got[0][2])
    assert doc["code"] == "request_timeout"
    assert audit_rows(doc["request_id"]) == "unmatched|408|request_timeout"


def test_a_body_that_goes_silent_is_answered_408(instance, db):
    inst = instance({"REQUEST_TIMEOUT_MS": "1500"})
    head = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    buf, elapsed = trickle(inst.port, head, [b" "] * 3, 0.25)
    got = responses(buf)
    assert [g[0] for g in got] == [408]
    assert elapsed < 5.0, elapsed  # civetweb's own read timeout ends the wait
    assert audit_rows(json.loads(got[0][2])["request_id"]) == "unmatched|408|request_timeout"


def test_a_broken_chunked_body_is_never_forwarded(hostport):
    for body in (b"zz\r\n", b"5\r\nab"):
        req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        s = socket.create_connection(hostport, timeout=5)
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)  # the client gives up mid-body
        got = responses(read_from(s))
        assert [g[0] for g in got] == [400], (body, got)


def test_a_slow_head_is_cut_at_its_deadline_with_408(instance, db):
    inst = instance({"REQUEST_TIMEOUT_MS": "1500"})
    head = b"GET " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
    buf, elapsed = trickle(inst.port, head, [b"X-A: b\r\n"] * 100, 0.25)
    got = responses(buf)
    assert [g[0] for g in got] == [408]
    assert elapsed < 3.5, elapsed
    doc = json.loads(got[0][2])
    assert doc["code"] == "request_timeout"
    # a head that never completed names no target: audited all the same
    assert audit_rows(doc["request_id"]) == "unmatched|408|request_timeout"
    recs = inst.log.wait_for(0, lambda r: r.get("status") == 408)
    assert [r["status"] for r in recs
            if r.get("event") == "request" and r["route"] != "/health"] == [408]


# ---- 5. the drain ---------------------------------------------------------------

class BusyClient(threading.Thread):
    """Sends requests one after another on keep-alive connections, opening a
    new one whenever the server closes the last, until a connection is
    refused. Records every request written and whether it was answered."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.sent = self.answered = self.refused = 0
        self.unanswered = []

    def run(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                self.refused += 1
                return
            try:
                if not self.serve(s):
                    continue
            finally:
                s.close()

    def serve(self, s):
        """Requests on one connection until it is closed; False to reconnect."""
        while True:
            try:
                s.sendall(b"GET " + self.path.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            except OSError:
                return False  # closed before this request was written
            self.sent += 1
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                head, _, body = buf.partition(b"\r\n\r\n")
                n = int(dict(line.split(": ", 1) for line in
                             head.decode().split("\r\n")[1:]).get("Content-Length", "0"))
                while len(body) < n:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except (OSError, ValueError) as e:
                self.unanswered.append(repr(e))
                return False
            if not head.startswith(b"HTTP/1.1 ") or len(body) < n:
                self.unanswered.append(f"no answer ({len(buf)} bytes)")
                return False
            self.answered += 1
            if b"Connection: close" in head:
                return False


def test_sigterm_under_load_answers_every_accepted_request(instance):
    inst = instance({"WORKER_THREADS": "64", "SHUTDOWN_GRACE_MS": "5000"})
    clients = [BusyClient(inst.port, API_PATH) for _ in range(32)]
    for c in clients:
        c.start()
    time.sleep(1.5)
    t0 = time.time()
    inst.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    # the port refuses new connections at once
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", inst.port), timeout=2).close()
    rc = inst.proc.wait(10)
    stopped = time.time() - t0
    for c in clients:
        c.join(15)
    assert rc == 0 and stopped < 5.0, (rc, stopped)
    unanswered = [u for c in clients for u in c.unanswered]
    assert unanswered == [], f"{len(unanswered)} accepted requests had no answer: {unanswered[:5]}"
    assert sum(c.answered for c in clients) > 32
    assert all(c.refused == 1 for c in clients)
    events = [r.get("event") for r in inst.log.records_since(0)]
    assert "draining" in events and events[-1] == "stopped"


def test_readiness_reports_draining(instance):
    # enough threads that keep-alive is not dropped for scarcity (75%)
    inst = instance({"SHUTDOWN_GRACE_MS": "3000", "WORKER_THREADS": "16"})
    # a request in flight keeps the drain open: its body is still missing
    s = socket.create_connection(("127.0.0.1", inst.port), timeout=10)
    s.sendall(b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
              b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{")
    k = socket.create_connection(("127.0.0.1", inst.port), timeout=10)
    k.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    first = k.recv(65536)
    assert first.startswith(b"HTTP/1.1 200") and b"Connection: close" not in first
    wait_in_flight(inst, 1)
    inst.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # an open keep-alive connection still gets answers, now closing ones
    k.sendall(b"GET /health/ready HTTP/1.1\r\nHost: t\r\n\r\n")
    got = responses(read_from(k))
    assert [g[0] for g in got] == [503]
    assert got[0][1]["connection"] == "close"
    assert json.loads(got[0][2])["code"] == "shutting_down"
    s.sendall(b"}")
    got = responses(read_from(s))
    assert [g[0] for g in got] == [404]
    assert inst.proc.wait(10) == 0


def wait_in_flight(inst, n, timeout=10.0):
    """Waits until namaskahd reports at least n requests being answered."""
    deadline = time.time() + timeout
    while True:
        text = requests.get(inst.metrics_url + "/metrics", timeout=5).text
        if metric(parse_metrics(text), "namaskah_http_requests_in_flight") >= n:
            return
        assert time.time() < deadline, f"fewer than {n} requests in flight"
        time.sleep(0.05)


def read_from(s, timeout=5.0):
    s.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf


# ---- 6. many, idle and slow clients do not starve the others --------------------
# Quick, bounded versions of the figures test/bench/edge_bench.sh reports, with
# namaskahd's default WORKER_THREADS; the bounds here tell service from
# starvation (seconds), they are no speed target.

BENCH = Path(__file__).resolve().parents[1] / "bench"


def probe(port, seconds, *paths, interval=0.1):
    """Runs edge_probe.py; returns {path: {n, ok, p50_ms, p99_ms, max_ms}}."""
    out = subprocess.run(["/usr/bin/python3", str(BENCH / "edge_probe.py"), str(port),
                          str(seconds), str(interval), "5", *paths],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    res = {}
    for line in out.stdout.splitlines():
        path, *kv = line.split()
        res[path] = {k: float(v) for k, v in (x.split("=") for x in kv)}
    return res


def in_background(args, seconds):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_512_keep_alive_clients_each_get_an_answer(instance):
    inst = instance({"WORKER_THREADS": None, "LOG_LEVEL": "warn"})
    crowd = in_background(["/usr/bin/python3", str(BENCH / "edge_clients.py"), str(inst.port),
                           "512", "4", API_PATH], 4)
    time.sleep(0.5)
    health = probe(inst.port, 3, "/health")["/health"]
    out = crowd.communicate(timeout=60)[0]
    figures = dict(x.split("=", 1) for x in out.split())
    assert figures["answered"] == "512", out
    assert float(figures["first_max_ms"]) < 5000, out
    assert figures["errors"] == "0", out
    assert set(s.split(":")[0] for s in figures["statuses"].split(",")) <= {"404", "503"}, out
    assert health["ok"] == health["n"] and health["max_ms"] < 2000, health


def test_idle_connections_do_not_hold_back_a_new_client(instance):
    inst = instance({"WORKER_THREADS": None})
    idle = [socket.create_connection(("127.0.0.1", inst.port)) for _ in range(200)]
    try:
        got = probe(inst.port, 2, "/health", API_PATH)
    finally:
        for s in idle:
            s.close()
    for path, res in got.items():
        assert res["ok"] == res["n"] and res["max_ms"] < 2000, (path, res)


@pytest.mark.parametrize("mode", ["-H", "-B"], ids=["slow_headers", "slow_body"])
def test_slow_clients_do_not_hold_back_the_others(instance, mode):
    inst = instance({"WORKER_THREADS": None, "REQUEST_TIMEOUT_MS": "3000",
                     "LOG_LEVEL": "warn"})
    attack = subprocess.Popen(
        ["slowhttptest", mode, "-c", "400", "-i", "1", "-r", "400", "-x", "8", "-p", "3",
         "-l", "8", "-s", "100000", "-u", f"http://127.0.0.1:{inst.port}{API_PATH}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        got = probe(inst.port, 4, "/health", API_PATH)
    finally:
        attack.kill()
        attack.wait()
    for path, res in got.items():
        assert res["ok"] == res["n"] and res["max_ms"] < 2000, (path, res)
