"""HTTP black-box tests of namaskahd's own behaviour (the transport layer).

Runs against the namaskahd at NAMASKAH_URL and, for signal, proxy and
configuration cases, private instances of NAMASKAH_BIN on free ports. For
/api/ paths only statuses the real pipeline also gives are asserted (503
when the database is down, anything non-5xx when it is up): the database's
own answers are tested elsewhere. The database-outage test stops and
restarts the cluster, so it is the last test of this file.
Run: /usr/bin/python3 -m pytest test/http/test_frontend.py
"""
import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import (SECURITY_HEADERS, UUID_RE, free_port, metric,
                      parse_metrics, pgcluster, psql, raw_http)

PROBLEM_TYPE = "application/problem+json; charset=utf-8"
# An unknown /api/ path: a full database round trip (the pipeline answers
# 404) that spends no rate-limit budget.
API_PATH = "/api/frontend-test/probe"


def check_security_headers(r_headers):
    h = {k.lower(): v for k, v in r_headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert h.get(name.lower()) == value, f"{name}: {h.get(name.lower())!r}"
    assert "cache-control" in h
    rid = h.get("x-request-id", "")
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", rid), rid
    return h


def check_problem(r, status, code):
    assert r.status_code == status, r.text
    h = check_security_headers(r.headers)
    assert h["content-type"] == PROBLEM_TYPE
    assert h["cache-control"] == "no-store"
    assert int(h["content-length"]) == len(r.content)
    doc = r.json()
    assert doc["type"] == f"urn:namaskah:problem:{code}"
    assert doc["code"] == code
    assert doc["status"] == status
    assert doc["request_id"] == h["x-request-id"]
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["detail"], str) and doc["detail"]
    assert isinstance(doc["instance"], str)
    return doc


def raw_problem(status, headers, body, code):
    assert status is not None, "no HTTP response"
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value
    assert headers["content-type"] == PROBLEM_TYPE
    assert int(headers["content-length"]) == len(body)
    doc = json.loads(body)
    assert doc["code"] == code and doc["status"] == status
    assert doc["request_id"] == headers["x-request-id"]
    return doc


# ---- health and routing -------------------------------------------------

def test_health_is_ok_without_database(base_url):
    r = requests.get(base_url + "/health", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    h = check_security_headers(r.headers)
    assert h["content-type"].startswith("application/json")
    assert UUID_RE.match(h["x-request-id"])


def test_health_ready_reports_the_extension_version(base_url):
    r = requests.get(base_url + "/health/ready", timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["extension_version"] == "2.4.0"
    check_security_headers(r.headers)


# ("/" redirects to the web console: test_console.py)
@pytest.mark.parametrize("path", ["/nope", "/apix", "/api", "/index.html", "/consolex",
                                  "/etc/passwd", "/../../etc/passwd",
                                  "/health/x"])
def test_unknown_path_is_404_problem(base_url, path, nk_log):
    mark = nk_log.mark()
    r = requests.get(base_url + path, timeout=5)
    doc = check_problem(r, 404, "not_found")
    assert doc["title"] == "Not Found"
    assert doc["instance"].startswith("/")
    rid = r.headers["X-Request-Id"]
    recs = nk_log.wait_for(mark, lambda x: x.get("request_id") == rid)
    acc = [x for x in recs if x.get("event") == "request" and x.get("request_id") == rid]
    assert len(acc) == 1 and acc[0]["route"] == "unmatched" and acc[0]["status"] == 404


# One HTTP vocabulary (extension/core/nk_http.c): the status line's reason
# phrase is the problem's title, from namaskahd and from the database alike,
# never civetweb's own text ("Request Entity Too Large", "Request Time-out").
def test_status_line_phrase_is_the_problem_title(base_url):
    answers = [
        (requests.get(base_url + "/nope", timeout=5), 404, "Not Found"),
        (requests.get(base_url + API_PATH, timeout=5), 404, "Not Found"),
        (requests.get(base_url + "/nope%FF", timeout=5), 400, "Bad Request"),
        (requests.post(base_url + API_PATH, data=b"a" * (2 * 1024 * 1024),
                       headers={"Content-Type": "application/json"}, timeout=10),
         413, "Content Too Large"),
    ]
    for r, status, phrase in answers:
        assert r.status_code == status, r.text
        assert r.reason == phrase
        assert r.json()["title"] == phrase
    ok = requests.get(base_url + "/health", timeout=5)
    assert ok.status_code == 200 and ok.reason == "OK"


def test_own_and_database_problems_are_the_same_bytes(base_url):
    """namaskahd's own problem and the pipeline's: same members in the same
    order (by name length, then name), same separators, same escaping."""
    own = requests.get(base_url + "/nope", timeout=5)  # namaskahd's 404
    db = requests.get(base_url + API_PATH, timeout=5)  # the pipeline's 404
    bodies = []
    for r in (own, db):
        doc = check_problem(r, 404, "not_found")
        assert list(doc) == ["code", "type", "title", "detail", "status",
                             "instance", "request_id"]
        bodies.append(r.content.replace(r.headers["X-Request-Id"].encode(), b"RID")
                      .replace(json.dumps(doc["instance"]).encode(), b'"I"'))
    assert bodies[0] == bodies[1]


def test_head_has_headers_but_no_body(base_url, hostport):
    status, headers, body, _ = raw_http(
        *hostport, b"HEAD /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert status == 404
    assert headers["content-type"] == PROBLEM_TYPE
    assert int(headers["content-length"]) > 0
    assert body == b""


def test_security_headers_and_request_id_on_every_response(base_url):
    responses = [
        requests.get(base_url + "/health", timeout=5),
        requests.get(base_url + "/nope", timeout=5),
        requests.get(base_url + API_PATH, timeout=5),
        requests.get(base_url + "/api/definitely/not/a/route", timeout=5),
        requests.get(base_url + "/api/%FF", timeout=5),
        requests.post(base_url + API_PATH, data=b"x" * (2 * 1024 * 1024), timeout=10),
    ]
    ids = set()
    for r in responses:
        h = check_security_headers(r.headers)
        assert int(h["content-length"]) == len(r.content)
        ids.add(h["x-request-id"])
    assert len(ids) == len(responses), "request ids must be unique"


def test_api_reaches_the_database(base_url):
    r = requests.get(base_url + "/api/version", timeout=5)
    assert r.status_code < 500, r.text
    check_security_headers(r.headers)


# ---- body limits ----------------------------------------------------------

def test_declared_2mib_body_gets_413_without_being_read(hostport):
    # only the headers are sent: the answer must come without the body
    req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n")
    status, headers, body, elapsed = raw_http(*hostport, req, timeout=3)
    assert status == 413
    assert elapsed < 1.0
    assert headers.get("connection", "").lower() == "close"
    doc = raw_problem(status, headers, body, "payload_too_large")
    assert doc["instance"] == API_PATH


def test_2mib_post_gets_413_fast(base_url):
    t0 = time.time()
    r = requests.post(base_url + API_PATH, data=b"a" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert time.time() - t0 < 2.0
    check_problem(r, 413, "payload_too_large")
    assert r.headers["Connection"].lower() == "close"


def test_2mib_chunked_body_gets_413(hostport):
    piece = b"a" * 65536
    chunks = b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(32))
    req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    status, headers, body, _ = raw_http(*hostport, req, timeout=5)
    assert status == 413
    raw_problem(status, headers, body, "payload_too_large")


def test_small_body_is_forwarded(base_url):
    r = requests.post(base_url + API_PATH, data='{"a": "é"}'.encode(),
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code < 500
    if r.status_code == 400:
        assert r.json()["code"] != "invalid_encoding"


# ---- encoding -------------------------------------------------------------

@pytest.mark.parametrize("target", [
    API_PATH + "%FF", "/api/a%00b", "/nope%C0%AF", "/api/%ED%A0%80",
    API_PATH + "?q=%FF", API_PATH + "?q=a%00b", API_PATH + "?q=%E2%82",
    "/nope?q=%FE",
])
def test_invalid_utf8_or_nul_in_path_or_query_is_400(hostport, target):
    req = ("GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").encode()
    status, headers, body, _ = raw_http(*hostport, req)
    assert status == 400
    raw_problem(status, headers, body, "invalid_encoding")


# One percent-decoder (nk_percent_decode), strict: a '%' not followed by two
# hex digits is refused, never kept as it is (namaskahd kept it in paths).
@pytest.mark.parametrize("target", [
    "/nope%zz", "/nope%", "/health%4", "/api/100%", API_PATH + "%%41",
    API_PATH + "?q=100%", API_PATH + "?q=%4g", "/health?a=%", "/nope?%u0041",
])
def test_stray_percent_in_path_or_query_is_400(hostport, target):
    req = ("GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").encode()
    status, headers, body, _ = raw_http(*hostport, req)
    assert status == 400
    doc = raw_problem(status, headers, body, "invalid_encoding")
    assert "percent sign" in doc["detail"]


def test_raw_non_utf8_bytes_in_query_are_400(hostport):
    req = b"GET " + API_PATH.encode() + b"?q=\xff\xfe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    status, headers, body, _ = raw_http(*hostport, req)
    assert status == 400


@pytest.mark.parametrize("payload", [b'{"a":"\xff"}', b'{"a":"x\x00y"}', b"\xc0\xaf",
                                     b'{"a":"\xed\xa0\x80"}'])
def test_invalid_utf8_or_nul_in_body_is_400(base_url, payload):
    r = requests.post(base_url + API_PATH, data=payload,
                      headers={"Content-Type": "application/json"}, timeout=5)
    check_problem(r, 400, "invalid_encoding")


def test_invalid_utf8_in_header_value_is_400(hostport):
    req = (b"GET " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nX-Thing: a\xffb\r\n"
           b"Connection: close\r\n\r\n")
    status, headers, body, _ = raw_http(*hostport, req)
    assert status == 400
    raw_problem(status, headers, body, "invalid_encoding")


# ---- access log -----------------------------------------------------------

def test_access_log_is_one_json_line_per_request_even_for_hostile_input(base_url, hostport, nk_log):
    mark = nk_log.mark()
    hostile = [
        b"GET /api/x%0d%0a%7b%22level%22:%22error%22%7d%1b%5b31m HTTP/1.1\r\nHost: t\r\n",
        b"GET /nope%0aFAKE%0d%0a?q=%0d%0ainjected%1b]0;title%07 HTTP/1.1\r\nHost: t\r\n",
        b"GET " + API_PATH.encode() + b"?a=\x1b[2J&b=%E2%80%A8x HTTP/1.1\r\nHost: t\r\n"
        b"User-Agent: evil\x1b[31m\",\"status\":1\r\nX-Request-Id: a\x1b[0m\r\n",
        b"GET /api/%E2%80%A8%C2%85 HTTP/1.1\r\nHost: t\r\nReferer: \x1b]8;;x\x07\r\n",
    ]
    ids = []
    for req in hostile:
        status, headers, _, _ = raw_http(*hostport, req + b"Connection: close\r\n\r\n")
        assert status is not None
        ids.append(headers["x-request-id"])
    recs = nk_log.wait_for(mark, lambda x: x.get("request_id") == ids[-1])
    raw = nk_log.raw_since(mark)
    for line in raw.split(b"\n")[:-1]:
        rec = json.loads(line)  # every line is one JSON object
        assert isinstance(rec, dict) and "ts" in rec and "event" in rec
        assert not re.search(rb"[\x00-\x1f\x7f]", line), line
        assert "\u2028".encode() not in line and "\x85".encode() not in line
    for rid in ids:
        acc = [x for x in recs if x.get("event") == "request" and x.get("request_id") == rid]
        assert len(acc) == 1, rid
        a = acc[0]
        for field in ("ts", "level", "method", "route", "status", "duration_ms", "bytes", "client"):
            assert field in a
        assert a["ts"].endswith("Z")


def test_access_log_never_shows_credentials_or_bodies(base_url, nk_log):
    mark = nk_log.mark()
    r = requests.post(base_url + API_PATH + "?x=1", data='{"password":"BodySecret-77"}',
                      headers={"Authorization": "Bearer TokenSecret-42.abc.def",
                               "Cookie": "session=CookieSecret-13",
                               "Content-Type": "application/json"}, timeout=5)
    rid = r.headers["X-Request-Id"]
    nk_log.wait_for(mark, lambda x: x.get("request_id") == rid)
    raw = nk_log.raw_since(mark)
    for secret in (b"BodySecret-77", b"TokenSecret-42", b"CookieSecret-13"):
        assert secret not in raw


# ---- client address and request id -----------------------------------------

def _access(inst, rid):
    recs = inst.log.wait_for(0, lambda x: x.get("request_id") == rid)
    acc = [x for x in recs if x.get("event") == "request" and x.get("request_id") == rid]
    assert len(acc) == 1
    return acc[0]


def test_spoofed_forwarding_headers_from_untrusted_peer_change_nothing(instance):
    inst = instance({"TRUSTED_PROXIES": ""})
    r = requests.get(inst.url + API_PATH, timeout=5,
                     headers={"X-Forwarded-For": "203.0.113.77",
                              "Forwarded": "for=203.0.113.78",
                              "X-Request-Id": "spoofed-id-1"})
    assert r.status_code < 500
    rid = r.headers["X-Request-Id"]
    assert rid != "spoofed-id-1" and UUID_RE.match(rid)
    assert _access(inst, rid)["client"] == "127.0.0.1"


def test_forwarding_headers_from_trusted_proxy_are_believed(instance):
    # the positive control: the same request through a trusted peer
    inst = instance({"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, 2001:db8::/32"})
    r = requests.get(inst.url + API_PATH, timeout=5,
                     headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.77, 10.1.2.3",
                              "X-Request-Id": "proxy-id:1.2"})
    assert r.headers["X-Request-Id"] == "proxy-id:1.2"
    assert _access(inst, "proxy-id:1.2")["client"] == "203.0.113.77"
    # malformed entries are not believed; a bad request id is replaced
    r = requests.get(inst.url + API_PATH, timeout=5,
                     headers={"X-Forwarded-For": "1.2.3.4\u001b[31m".encode(),
                              "X-Request-Id": "bad id\twith spaces"})
    rid = r.headers["X-Request-Id"]
    assert UUID_RE.match(rid)
    assert _access(inst, rid)["client"] == "127.0.0.1"
    r = requests.get(inst.url + API_PATH, timeout=5,
                     headers={"Forwarded": 'for="[2001:db8::7]:443";proto=https, for=10.0.0.1'})
    rid = r.headers["X-Request-Id"]
    assert _access(inst, rid)["client"] == "2001:db8::7"


def test_private_instance_never_logs_the_database_password(instance):
    inst = instance()
    requests.get(inst.url + API_PATH, timeout=5)
    config = [x for x in inst.log.records_since(0) if x.get("event") == "config"]
    assert len(config) == 1
    if inst.password:
        assert inst.password.encode() not in inst.log.raw_since(0)
        assert ":***@" in config[0]["database_url"]


# ---- configuration --------------------------------------------------------

def run_config(nk_bin, env, *args):
    fd, envfile = tempfile.mkstemp(suffix=".env")
    os.close(fd)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": envfile}
    base.update(env)
    try:
        return subprocess.run([nk_bin, *(args or ("--check-config",))], env=base,
                              capture_output=True, text=True, timeout=10)
    finally:
        os.unlink(envfile)


GOOD_URL = "postgresql://namaskah_frontend:Hunter2Secret@127.0.0.1:5432/namaskah"


@pytest.mark.parametrize("env,variable", [
    ({}, "DATABASE_URL"),
    ({"DATABASE_URL": "mysql://root:Hunter2Secret@127.0.0.1/namaskah"}, "DATABASE_URL"),
    ({"DATABASE_URL": "Hunter2Secret"}, "DATABASE_URL"),
    ({"DATABASE_URL": GOOD_URL, "WORKER_THREADS": "lots"}, "WORKER_THREADS"),
    ({"DATABASE_URL": GOOD_URL, "WORKER_THREADS": "0"}, "WORKER_THREADS"),
    ({"DATABASE_URL": GOOD_URL, "LISTEN": "garbage"}, "LISTEN"),
    ({"DATABASE_URL": GOOD_URL, "LISTEN": "127.0.0.1:99999"}, "LISTEN"),
    ({"DATABASE_URL": GOOD_URL, "MAX_BODY_BYTES": "1e6"}, "MAX_BODY_BYTES"),
    ({"DATABASE_URL": GOOD_URL, "TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"}, "TRUSTED_PROXIES"),
    ({"DATABASE_URL": GOOD_URL, "LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ({"DATABASE_URL": GOOD_URL, "DB_STATEMENTS": "prepared"}, "DB_STATEMENTS"),
])
def test_bad_config_exits_2_naming_the_variable(nk_bin, env, variable):
    env = dict(env, SECRET_KEY="UnrelatedSecretValue", JWT_SECRET_KEY="OtherSecretValue")
    p = run_config(nk_bin, env)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert variable in lines[0]
    for secret in ("Hunter2Secret", "UnrelatedSecretValue", "OtherSecretValue"):
        assert secret not in p.stdout + p.stderr


def test_several_problems_give_one_line_each(nk_bin):
    p = run_config(nk_bin, {"DATABASE_URL": "mysql://u:Hunter2Secret@h/d",
                            "WORKER_THREADS": "x", "LISTEN": "nowhere"})
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 3
    for variable in ("DATABASE_URL", "WORKER_THREADS", "LISTEN"):
        assert sum(variable in line for line in lines) == 1
    assert "Hunter2Secret" not in p.stderr


def test_good_config_passes_check(nk_bin):
    p = run_config(nk_bin, {"DATABASE_URL": GOOD_URL, "LISTEN": "0.0.0.0:8081",
                            "TRUSTED_PROXIES": "10.0.0.0/8, ::1, 192.0.2.7"})
    assert p.returncode == 0, p.stderr
    assert "Hunter2Secret" not in p.stdout + p.stderr


def test_env_file_is_read_and_environment_wins(nk_bin, tmp_path):
    envfile = tmp_path / "test.env"
    envfile.write_text("# comment\nexport DATABASE_URL='" + GOOD_URL + "'\n"
                       'LISTEN="127.0.0.1:notaport"\nSECRET_KEY=ignored # trailing\n')
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": str(envfile)}
    p = subprocess.run([nk_bin, "--check-config"], env=env, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and "LISTEN" in p.stderr
    env["LISTEN"] = "127.0.0.1:8080"
    p = subprocess.run([nk_bin, "--check-config"], env=env, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    envfile.write_text("this is not a setting\n")
    p = subprocess.run([nk_bin, "--check-config"], env=env, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and "ENV_FILE" in p.stderr


def test_help_lists_every_setting(nk_bin):
    p = run_config(nk_bin, {}, "--help")
    assert p.returncode == 0
    for name in ("DATABASE_URL", "LISTEN", "WORKER_THREADS", "MAX_BODY_BYTES",
                 "MAX_HEADER_BYTES", "REQUEST_TIMEOUT_MS", "KEEP_ALIVE_TIMEOUT_MS",
                 "DB_CONNECT_TIMEOUT_S", "DB_RETRY_INTERVAL_MS", "TRUSTED_PROXIES",
                 "LOG_LEVEL", "SHUTDOWN_GRACE_MS", "METRICS_LISTEN", "METRICS_TOKEN"):
        assert name in p.stdout
    p = run_config(nk_bin, {}, "--version")
    assert p.returncode == 0 and "2.4.0" in p.stdout


def test_port_in_use_exits_1(nk_bin, base_url, hostport):
    host, port = hostport
    p = run_config(nk_bin, {"DATABASE_URL": GOOD_URL, "LISTEN": f"{host}:{port}"}, "--dummy")
    assert p.returncode == 2  # unknown option
    fd, envfile = tempfile.mkstemp(suffix=".env")
    os.close(fd)
    try:
        p = subprocess.run([nk_bin], env={"PATH": "/usr/bin:/bin", "ENV_FILE": envfile,
                                          "DATABASE_URL": GOOD_URL,
                                          "LISTEN": f"{host}:{port}"},
                           capture_output=True, text=True, timeout=10)
    finally:
        os.unlink(envfile)
    assert p.returncode == 1
    assert "Hunter2Secret" not in p.stdout + p.stderr


# ---- shutdown -------------------------------------------------------------

def test_sigterm_finishes_in_flight_request_and_exits_0(instance):
    inst = instance()
    host, port = "127.0.0.1", inst.port
    import socket
    s = socket.create_connection((host, port), timeout=10)
    body = b'{"x": 1}'
    # a request in flight: headers sent, body still missing
    s.sendall(b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body[:3])
    time.sleep(0.3)
    inst.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert inst.proc.poll() is None, "exited before the in-flight request finished"
    s.sendall(body[3:])
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    assert resp.startswith(b"HTTP/1.1 "), resp
    assert int(resp.split()[1]) < 500
    assert inst.proc.wait(15) == 0
    events = [x.get("event") for x in inst.log.records_since(0)]
    assert "stopping" in events and events[-1] == "stopped"


def test_sigint_when_idle_exits_0_quickly(instance):
    inst = instance()
    requests.get(inst.url + "/health", timeout=5)
    t0 = time.time()
    inst.proc.send_signal(signal.SIGINT)
    assert inst.proc.wait(10) == 0
    assert time.time() - t0 < 5


# ---- metrics (separate listener) --------------------------------------------

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_TOKEN = "h6-Metrics-Token-0123456789"


def scrape(url, **kw):
    r = requests.get(url + "/metrics", timeout=15, **kw)
    assert r.status_code == 200, r.text
    return parse_metrics(r.text)


def scrape_until(url, pred, timeout=5.0):
    """Scrapes until pred(samples) holds (a request is counted just after its
    response is written, so a scrape right after it may not show it yet)."""
    deadline = time.time() + timeout
    while True:
        s = scrape(url)
        if pred(s) or time.time() > deadline:
            return s
        time.sleep(0.05)


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/internal/metrics",
                                  "/api/../internal/metrics",
                                  "/api/%2e%2e/internal/metrics"])
def test_metrics_are_not_served_on_the_public_listener(base_url, hostport, path):
    req = ("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").encode()
    status, headers, body, _ = raw_http(*hostport, req)
    assert status == 404, body
    assert headers["content-type"] == PROBLEM_TYPE
    assert b"namaskah_" not in body and b"auth_failures" not in body


def test_main_instance_metrics_listener(metrics_url, base_url):
    requests.get(base_url + "/health", timeout=5)
    r = requests.get(metrics_url + "/metrics", timeout=15)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == METRICS_TYPE
    s = parse_metrics(r.text)
    assert metric(s, "namaskah_http_requests_total", route="/health", status="200") >= 1


def test_metrics_content_type_and_families(instance):
    inst = instance()
    version = requests.get(inst.url + "/api/version", timeout=5).status_code
    requests.get(inst.url + "/health", timeout=5)
    requests.get(inst.url + "/nope/" + "x" * 40, timeout=5)
    scrape_until(inst.metrics_url, lambda s: metric(
        s, "namaskah_http_requests_total", route="unmatched") == 1)
    r = requests.get(inst.metrics_url + "/metrics", timeout=15)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == METRICS_TYPE
    assert r.headers["Cache-Control"] == "no-store"
    text = r.text
    for family, kind in [("namaskah_http_requests_total", "counter"),
                         ("namaskah_http_request_duration_seconds", "histogram"),
                         ("namaskah_http_requests_in_flight", "gauge"),
                         ("namaskah_db_connections", "gauge"),
                         ("namaskah_db_reconnects_total", "counter"),
                         ("namaskah_db_up", "gauge"),
                         ("namaskah_build_info", "gauge"),
                         ("namaskah_auth_failures_total", "counter"),
                         ("namaskah_rate_limited_total", "counter"),
                         ("namaskah_security_events_total", "counter"),
                         ("namaskah_signing_keys", "gauge")]:
        assert f"# TYPE {family} {kind}\n" in text, family
    s = parse_metrics(text)
    assert s[("namaskah_db_up", frozenset())] == 1
    assert metric(s, "namaskah_build_info", version="2.4.0") == 1
    # route templates, never raw paths; unknown paths share "unmatched"
    assert metric(s, "namaskah_http_requests_total", method="GET",
                  route="/api/version", status=str(version)) == 1
    assert metric(s, "namaskah_http_requests_total", route="unmatched", status="404") == 1
    assert "x" * 40 not in text
    assert metric(s, "namaskah_http_request_duration_seconds_count", route="/api/version") == 1
    assert metric(s, "namaskah_http_request_duration_seconds_bucket",
                  route="/api/version", le="+Inf") == 1
    assert metric(s, "namaskah_db_connections", state="open") >= 1
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


def test_metrics_methods_are_normalised(instance, hostport):
    inst = instance()
    for method in ("PROPFIND", "MKCOL", "GET", "DELETE"):
        raw_http("127.0.0.1", inst.port,
                 (method + " /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").encode())
    s = scrape_until(inst.metrics_url, lambda s: metric(
        s, "namaskah_http_requests_total", route="unmatched") == 4)
    methods = {dict(ls)["method"] for (n, ls) in s if n == "namaskah_http_requests_total"}
    assert methods == {"GET", "DELETE", "OTHER"}
    assert metric(s, "namaskah_http_requests_total", method="OTHER") == 2


def test_metrics_listener_serves_only_get_metrics(instance):
    inst = instance()
    assert requests.get(inst.metrics_url + "/", timeout=5).status_code == 404
    assert requests.get(inst.metrics_url + "/api/version", timeout=5).status_code == 404
    assert requests.get(inst.metrics_url + "/health", timeout=5).status_code == 404
    r = requests.post(inst.metrics_url + "/metrics", data="x", timeout=5)
    assert r.status_code == 405 and r.reason == "Method Not Allowed"
    assert requests.get(inst.metrics_url + "/", timeout=5).reason == "Not Found"
    # the public listener of that instance: 404 for /metrics
    assert requests.get(inst.url + "/metrics", timeout=5).status_code == 404


def test_metrics_token_is_enforced(instance):
    inst = instance({"METRICS_TOKEN": METRICS_TOKEN})
    r = requests.get(inst.metrics_url + "/metrics", timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "namaskah_" not in r.text
    for bad in ("Bearer wrong-token-0123456789", "Bearer " + METRICS_TOKEN[:-1],
                "Bearer " + METRICS_TOKEN + "x", "Basic " + METRICS_TOKEN, METRICS_TOKEN):
        r = requests.get(inst.metrics_url + "/metrics", timeout=5,
                         headers={"Authorization": bad})
        assert r.status_code == 401, bad
    r = requests.get(inst.metrics_url + "/metrics", timeout=15,
                     headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == METRICS_TYPE
    assert "namaskah_build_info" in r.text
    raw = inst.log.raw_since(0)
    assert METRICS_TOKEN.encode() not in raw
    config = [x for x in inst.log.records_since(0) if x.get("event") == "config"]
    assert config[0]["metrics_token"] == "set"


def test_metrics_without_database_report_db_up_0(instance):
    dead = f"postgresql://namaskah_frontend:DeadPw123@127.0.0.1:{free_port()}/nowhere"
    inst = instance({"DATABASE_URL": dead})
    requests.get(inst.url + "/api/version", timeout=5)
    scrape_until(inst.metrics_url, lambda s: metric(
        s, "namaskah_http_requests_total", status="503") == 1)
    t0 = time.time()
    r = requests.get(inst.metrics_url + "/metrics", timeout=15)
    assert time.time() - t0 < 5
    assert r.status_code == 200
    s = parse_metrics(r.text)
    assert s[("namaskah_db_up", frozenset())] == 0
    assert metric(s, "namaskah_http_requests_total", route="unmatched", status="503") == 1
    assert metric(s, "namaskah_db_connections", state="open") == 0
    # the database's families are left out, not reported as zero
    assert "namaskah_auth_failures_total" not in r.text


def test_database_counters_reach_the_scrape(instance, db):
    inst = instance()
    before = scrape(inst.metrics_url)
    r = requests.get(inst.url + "/api/auth/me", timeout=5,
                     headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    lag = float(db("SELECT namaskah.setting('security.rollup_lag_seconds')"))
    deadline = time.time() + lag + 10
    while True:
        after = scrape(inst.metrics_url)
        grew = (metric(after, "namaskah_auth_failures_total")
                > metric(before, "namaskah_auth_failures_total")
                and metric(after, "namaskah_security_events_total", type="auth_failure")
                > metric(before, "namaskah_security_events_total", type="auth_failure"))
        if grew or time.time() > deadline:
            break
        time.sleep(0.5)
    assert grew


def test_scrapes_do_not_block_requests(instance):
    inst = instance()
    stop = time.time() + 2
    errors = []

    def scraper():
        while time.time() < stop:
            try:
                requests.get(inst.metrics_url + "/metrics", timeout=15)
            except requests.RequestException as e:
                errors.append(e)

    t = threading.Thread(target=scraper)
    t.start()
    slowest = 0.0
    n = 0
    while time.time() < stop:
        t0 = time.time()
        r = requests.get(inst.url + "/api/version", timeout=5)
        slowest = max(slowest, time.time() - t0)
        assert r.status_code == 200
        n += 1
    t.join()
    assert not errors
    assert slowest < 1.0
    s = scrape_until(inst.metrics_url, lambda s: metric(
        s, "namaskah_http_requests_total", route="/api/version") == n)
    assert metric(s, "namaskah_http_requests_total", route="/api/version") == n


def test_health_ready_reports_pool_state(base_url):
    r = requests.get(base_url + "/health/ready", timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["extension_version"] == "2.4.0"
    pool = doc["pool"]
    assert set(pool) == {"size", "open", "busy", "waiting"}
    assert all(isinstance(v, int) and v >= 0 for v in pool.values())
    assert 1 <= pool["open"] <= pool["size"] and pool["busy"] <= pool["size"]
    assert "postgresql://" not in r.text and "password" not in r.text.lower()


@pytest.mark.parametrize("env,variable", [
    ({"METRICS_LISTEN": "nowhere"}, "METRICS_LISTEN"),
    ({"METRICS_LISTEN": "127.0.0.1:0"}, "METRICS_LISTEN"),
    ({"METRICS_LISTEN": "127.0.0.1:8080", "LISTEN": "127.0.0.1:8080"}, "METRICS_LISTEN"),
    ({"METRICS_TOKEN": "Short-Secret"}, "METRICS_TOKEN"),
    ({"METRICS_TOKEN": "Secret with spaces in it 123"}, "METRICS_TOKEN"),
])
def test_bad_metrics_config_exits_2(nk_bin, env, variable):
    p = run_config(nk_bin, dict(env, DATABASE_URL=GOOD_URL))
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and variable in lines[0], lines
    for secret in ("Short-Secret", "Secret with spaces", "Hunter2Secret"):
        assert secret not in p.stdout + p.stderr


def test_metrics_listen_off_is_valid(nk_bin):
    p = run_config(nk_bin, {"DATABASE_URL": GOOD_URL, "METRICS_LISTEN": "off",
                            "METRICS_TOKEN": METRICS_TOKEN})
    assert p.returncode == 0, p.stderr


# ---- audit of requests namaskahd refuses itself (issue 5) -------------------

def audit_of(db, rid):
    return db("SELECT route || '|' || status || '|' || outcome FROM namaskah.audit_log "
              f"WHERE request_id = '{rid}'")


@pytest.mark.parametrize("kind", ["path", "query", "header", "body", "too_large",
                                  "stray_percent"])
def test_transport_errors_under_api_are_audited(hostport, db, kind):
    if kind == "path":
        req = b"GET /api/x%FF HTTP/1.1\r\nHost: t\r\n"
    elif kind == "stray_percent":
        req = b"GET /api/x%zz HTTP/1.1\r\nHost: t\r\n"
    elif kind == "query":
        req = b"GET " + API_PATH.encode() + b"?q=%00 HTTP/1.1\r\nHost: t\r\n"
    elif kind == "header":
        req = b"GET " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\nX-A: \xff\r\n"
    elif kind == "body":
        req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
               b"Content-Length: 3\r\n\r\na\xffb")
    else:
        req = (b"POST " + API_PATH.encode() + b" HTTP/1.1\r\nHost: t\r\n"
               b"Content-Length: 9999999\r\n")
    if not req.endswith(b"a\xffb"):
        req += b"User-Agent: agent\xe2\x80\xa8x\r\nConnection: close\r\n\r\n"
    status, headers, body, _ = raw_http(*hostport, req)
    code = "payload_too_large" if kind == "too_large" else "invalid_encoding"
    assert status == (413 if kind == "too_large" else 400)
    doc = raw_problem(status, headers, body, code)
    rid = doc["request_id"]
    assert audit_of(db, rid) == f"unmatched|{status}|{code}"
    if kind != "body":
        ua = db("SELECT details->>'user_agent' FROM namaskah.audit_log "
                f"WHERE request_id = '{rid}'")
        assert ua.startswith("agent") and "\u2028" not in ua


def test_transport_errors_outside_api_stay_local(hostport, db):
    req = b"GET /nope%FF HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    status, headers, body, _ = raw_http(*hostport, req)
    doc = raw_problem(status, headers, body, "invalid_encoding")
    assert audit_of(db, doc["request_id"]) == ""


def test_malformed_api_request_refused_by_civetweb_is_audited(hostport, db):
    req = (b"POST /api/version HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
           b"Connection: close\r\n\r\n")
    status, headers, body, _ = raw_http(*hostport, req)
    doc = raw_problem(status, headers, body, "bad_request")
    assert status == 400 and doc["instance"] == "/api/version"
    assert audit_of(db, doc["request_id"]) == "unmatched|400|bad_request"


def test_client_cannot_send_internal_headers(base_url):
    for name in ("X-Namaskah-Transport-Error", "x-namaskah-transport-error",
                 "X-NAMASKAH-ROUTE"):
        r = requests.get(base_url + "/api/version", timeout=5,
                         headers={name: "payload_too_large"})
        assert r.status_code == 200, (name, r.text)


# ---- the database connection pool -------------------------------------------

class PipelineLocked:
    """Holds ACCESS EXCLUSIVE on namaskah.audit_log in another session until
    release(): every pipeline call blocks inside the database meanwhile (at
    its audit record, the one table every request writes; the routes are
    read from each backend's copy), holding its pooled connection."""

    def __init__(self):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                                     stdin=subprocess.PIPE, text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE namaskah.audit_log IN ACCESS EXCLUSIVE MODE;\n")
        self.proc.stdin.flush()
        wait_sql("SELECT count(*) FROM pg_locks WHERE relation = "
                 "'namaskah.audit_log'::regclass AND mode = 'AccessExclusiveLock' "
                 "AND granted", "1")

    def release(self):
        self.proc.stdin.write("COMMIT;\n")
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0, self.proc.stderr.read()


def wait_sql(sql, want, timeout=10):
    deadline = time.time() + timeout
    while psql(sql) != want:
        assert time.time() < deadline, f"{sql} never gave {want}"
        time.sleep(0.02)


def blocked_in_pipeline():
    return ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%handle_request%'")


def get_in_thread(url, results, key):
    def run():
        try:
            r = requests.get(url, timeout=30)
            results[key] = r.status_code
        except requests.RequestException as e:  # recorded, asserted later
            results[key] = repr(e)
    t = threading.Thread(target=run)
    t.start()
    return t


def test_pool_size_defaults_and_caps(instance):
    inst = instance({"WORKER_THREADS": "3"})
    r = requests.get(inst.url + "/health/ready", timeout=5)
    assert r.status_code == 200, r.text
    # four per CPU by default, but never more than the worker threads
    assert r.json()["pool"]["size"] == min(3, 4 * os.cpu_count())
    start = [json.loads(line) for line in inst.log.path.read_text().splitlines()
             if '"event":"start"' in line]
    assert start and start[0]["db_pool_size"] == min(3, 4 * os.cpu_count())


def test_pool_requests_wait_for_the_one_connection(instance):
    inst = instance({"DB_POOL_SIZE": "1", "WORKER_THREADS": "8",
                     "DB_POOL_TIMEOUT_MS": "10000"})
    assert requests.get(inst.url + API_PATH, timeout=5).status_code == 404
    lock = PipelineLocked()
    results, threads = {}, []
    try:
        threads.append(get_in_thread(inst.url + API_PATH, results, 0))
        # the first request holds the only connection, blocked in the database
        wait_sql(blocked_in_pipeline(), "1")
        for i in range(1, 6):
            threads.append(get_in_thread(inst.url + API_PATH, results, i))
        time.sleep(0.5)
        # still one backend at work: the others wait in namaskahd, not in
        # PostgreSQL
        assert psql(blocked_in_pipeline()) == "1"
    finally:
        lock.release()
    for t in threads:
        t.join(30)
    assert all(results.get(i) == 404 for i in range(6)), results
    m = parse_metrics(requests.get(inst.metrics_url + "/metrics", timeout=10).text)
    assert metric(m, "namaskah_db_pool_size") == 1
    assert metric(m, "namaskah_db_pool_waiting") == 0
    assert metric(m, "namaskah_db_pool_waits_total") >= 5
    assert metric(m, "namaskah_db_pool_wait_seconds_total") >= 5 * 0.4
    assert metric(m, "namaskah_db_pool_timeouts_total") == 0


def test_pool_timeout_sheds_load_with_503(instance):
    inst = instance({"DB_POOL_SIZE": "1", "WORKER_THREADS": "4",
                     "DB_POOL_TIMEOUT_MS": "300", "REQUEST_TIMEOUT_MS": "10000"})
    assert requests.get(inst.url + API_PATH, timeout=5).status_code == 404
    lock = PipelineLocked()
    results = {}
    try:
        first = get_in_thread(inst.url + API_PATH, results, "first")
        wait_sql(blocked_in_pipeline(), "1")
        t0 = time.time()
        r = requests.get(inst.url + API_PATH, timeout=10)
        elapsed = time.time() - t0
    finally:
        lock.release()
    check_problem(r, 503, "server_busy")
    assert r.headers["Retry-After"] == "1"
    assert 0.25 <= elapsed < 2.0, elapsed
    first.join(30)
    # the request that held the connection was served, not cut short
    assert results["first"] == 404, results
    m = parse_metrics(requests.get(inst.metrics_url + "/metrics", timeout=10).text)
    assert metric(m, "namaskah_db_pool_timeouts_total") == 1
    assert requests.get(inst.url + API_PATH, timeout=5).status_code == 404


def test_a_full_pool_queue_sheds_at_once_with_503(instance):
    inst = instance({"DB_POOL_SIZE": "1", "WORKER_THREADS": "8", "DB_POOL_QUEUE_MAX": "1",
                     "DB_POOL_TIMEOUT_MS": "10000", "REQUEST_TIMEOUT_MS": "10000"})
    assert requests.get(inst.url + API_PATH, timeout=5).status_code == 404
    lock = PipelineLocked()
    results = {}
    try:
        first = get_in_thread(inst.url + API_PATH, results, "first")
        wait_sql(blocked_in_pipeline(), "1")
        queued = get_in_thread(inst.url + API_PATH, results, "queued")
        time.sleep(0.3)
        t0 = time.time()
        r = requests.get(inst.url + API_PATH, timeout=10)
        elapsed = time.time() - t0
    finally:
        lock.release()
    check_problem(r, 503, "server_busy")
    assert r.headers["Retry-After"] == "1"
    assert elapsed < 1.0, elapsed  # at once, not after DB_POOL_TIMEOUT_MS
    first.join(30)
    queued.join(30)
    assert results == {"first": 404, "queued": 404}, results
    m = parse_metrics(requests.get(inst.metrics_url + "/metrics", timeout=10).text)
    assert metric(m, "namaskah_db_pool_rejected_total") == 1
    assert metric(m, "namaskah_db_pool_timeouts_total") == 0


# ---- database outage: keep LAST -------------------------------------------

def test_zz_database_down_gives_fast_503_then_recovers(base_url, db):
    # the pooled connections should be live first
    for _ in range(40):
        requests.get(base_url + API_PATH, timeout=5)
    pgcluster("stop")
    try:
        for _ in range(40):
            t0 = time.time()
            r = requests.get(base_url + API_PATH, timeout=5)
            elapsed = time.time() - t0
            assert elapsed < 1.0, elapsed
            check_problem(r, 503, "database_unavailable")
            assert r.headers["Retry-After"] == "1"
        r = requests.get(base_url + "/health", timeout=5)
        assert r.status_code == 200  # liveness does not need the database
        r = requests.get(base_url + "/health/ready", timeout=5)
        check_problem(r, 503, "database_unavailable")
    finally:
        pgcluster("start")
    deadline = time.time() + 10
    ok = 0
    while time.time() < deadline and ok < 40:
        r = requests.get(base_url + API_PATH, timeout=5)
        ok = ok + 1 if r.status_code < 500 else 0
        if r.status_code >= 500:
            time.sleep(0.1)
    assert ok >= 40, "did not recover within 10 s"
    assert db("SELECT 1") == "1"


def test_unnamed_statements_answer_like_named(instance):
    """DB_STATEMENTS=unnamed (for pgbouncer in transaction mode) answers as
    the default does, and the config line says which is in use; that it
    survives transaction pooling is test/topology/caches.py's part."""
    inst = instance({"DB_STATEMENTS": "unnamed"})
    for _ in range(3):
        r = requests.get(inst.url + "/api/version", timeout=10)
        assert r.status_code == 200, r.text
    r = requests.get(inst.url + "/api/auth/me", headers={"Authorization": "Bearer x.y.z"}, timeout=10)
    assert r.status_code == 401
    assert '"db_statements":"unnamed"' in inst.log.path.read_text(errors="replace")
