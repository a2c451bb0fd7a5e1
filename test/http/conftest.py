"""Fixtures for the HTTP black-box suite of namaskahd.

The test runner starts a real namaskahd against a real database and sets:
  NAMASKAH_URL     base URL of the running namaskahd (e.g. http://127.0.0.1:18080)
  NAMASKAH_LOG     the file its stdout (the JSON log) goes to
  NAMASKAH_PGDIR, NAMASKAH_PGPORT
                   its PostgreSQL cluster, controllable with
                   scripts/pgcluster stop|start --dir DIR --port PORT
  NAMASKAH_BIN     the namaskahd binary (config tests, private instances)
  NAMASKAH_METRICS_URL
                   optional: base URL of that namaskahd's metrics listener
                   (METRICS_LISTEN), e.g. http://127.0.0.1:19464
  PGHOST, PGPORT, PGUSER, PGDATABASE
                   a superuser connection for assertions via psql
Run: /usr/bin/python3 -m pytest test/http
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def need_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (the test runner sets it)")
    return value


@pytest.fixture(scope="session")
def base_url():
    return need_env("NAMASKAH_URL").rstrip("/")


@pytest.fixture(scope="session")
def hostport(base_url):
    u = urllib.parse.urlsplit(base_url)
    return u.hostname, u.port or 80


@pytest.fixture(scope="session")
def nk_bin():
    path = need_env("NAMASKAH_BIN")
    if not os.access(path, os.X_OK):
        pytest.skip(f"NAMASKAH_BIN {path} is not executable")
    return path


def psql(sql):
    """Runs sql as the superuser (PG* variables); returns stdout, unaligned."""
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def clear_of_window_edge(window_seconds, needed_seconds):
    """Waits, when needed, until a window boundary is more than
    needed_seconds away. Windows are aligned to the epoch, and a sliding
    window weighs the previous window's count rounded down, so a burst that
    straddles a boundary gets one answer more than the limit: the algorithm,
    not a fault. Tests that count an exact burst start clear of the edge."""
    to_edge = window_seconds - time.time() % window_seconds
    if to_edge < needed_seconds:
        time.sleep(to_edge + 0.5)


@pytest.fixture(scope="session")
def db():
    need_env("PGDATABASE")
    return psql


class LogFile:
    """A namaskahd JSON log: mark() the end, then read what came after."""

    def __init__(self, path):
        self.path = Path(path)

    def mark(self):
        return self.path.stat().st_size if self.path.exists() else 0

    def raw_since(self, mark):
        with open(self.path, "rb") as f:
            f.seek(mark)
            return f.read()

    def lines_since(self, mark):
        """Complete lines written since mark, as bytes (without newline)."""
        data = self.raw_since(mark)
        return data.split(b"\n")[:-1]

    def records_since(self, mark):
        return [json.loads(line) for line in self.lines_since(mark)]

    def wait_for(self, mark, pred, timeout=5.0):
        """Waits until some record since mark satisfies pred; returns them all."""
        deadline = time.time() + timeout
        while True:
            recs = self.records_since(mark)
            if any(pred(r) for r in recs) or time.time() > deadline:
                return recs
            time.sleep(0.05)


@pytest.fixture(scope="session")
def nk_log():
    return LogFile(need_env("NAMASKAH_LOG"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_http(host, port, data, timeout=5.0, send_after=None):
    """Sends raw bytes, reads until close/timeout; returns (status, headers, body, elapsed).

    send_after: optional bytes sent after the first response bytes arrive
    (never, if the server answers first and closes)."""
    t0 = time.time()
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        buf = b""
        while b"\r\n\r\n" not in buf:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            buf += chunk
        # skip an interim 100 Continue
        while buf.startswith(b"HTTP/1.1 100"):
            buf = buf.split(b"\r\n\r\n", 1)[1]
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        elapsed = time.time() - t0
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            return None, {}, b"", elapsed
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            body += chunk
        return status, headers, body, elapsed
    finally:
        s.close()


def database_url():
    """A DATABASE_URL for private namaskahd instances, from the PG* variables.

    Over a Unix socket (trust) a dummy password is put in, so tests can check
    it never reaches a log."""
    host = need_env("PGHOST")
    port = os.environ.get("PGPORT", "5432")
    user = need_env("PGUSER")
    dbname = need_env("PGDATABASE")
    password = os.environ.get("PGPASSWORD")
    if password is None and host.startswith("/"):
        password = "Sup3rS3cretPW"
    q = urllib.parse.urlencode({"host": host, "port": port})
    auth = urllib.parse.quote(user, safe="")
    if password:
        auth += ":" + urllib.parse.quote(password, safe="")
    return f"postgresql://{auth}@/{urllib.parse.quote(dbname)}?{q}", password


class Instance:
    """A private namaskahd on a free port (for signal and config tests)."""

    def __init__(self, binary, extra_env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # every instance gets its own metrics port: the default one
        # (127.0.0.1:9464) may be taken by another namaskahd on this host
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        self.logdir = tempfile.mkdtemp(prefix="nk-http-")
        self.log = LogFile(os.path.join(self.logdir, "namaskahd.log"))
        self.envfile = os.path.join(self.logdir, "empty.env")
        Path(self.envfile).write_text("")
        self.dburl, self.password = database_url()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "ENV_FILE": self.envfile,
               "DATABASE_URL": self.dburl,
               "LISTEN": f"127.0.0.1:{self.port}",
               "METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
               "WORKER_THREADS": "4",
               "SHUTDOWN_GRACE_MS": "5000"}
        if os.environ.get("ASAN_OPTIONS"):
            env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"]
        env.update(extra_env or {})
        # a value of None: the setting's own default
        env = {k: v for k, v in env.items() if v is not None}
        self.out = open(self.log.path, "wb")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("private namaskahd did not start: "
                                   + self.log.path.read_text(errors="replace"))
            time.sleep(0.05)

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def metrics_url():
    return need_env("NAMASKAH_METRICS_URL").rstrip("/")


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels.items())): value}.

    Enough of the format for our own output: no escaped quotes or commas
    inside label values are expected by the tests that use it."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, f"not a sample line: {line!r}"
        labels = {}
        if m.group(3):
            for part in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3)):
                labels[part[0]] = part[1]
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return samples


def metric(samples, name, **labels):
    """Sum of the samples of name whose labels include the given ones."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


@pytest.fixture
def instance(nk_bin):
    """Factory: instance(extra_env) starts a private namaskahd; stopped after."""
    started = []

    def start(extra_env=None):
        inst = Instance(nk_bin, extra_env)
        started.append(inst)
        return inst

    yield start
    for inst in started:
        inst.stop()


def pgcluster(action):
    pgdir = need_env("NAMASKAH_PGDIR")
    pgport = need_env("NAMASKAH_PGPORT")
    subprocess.run([str(REPO / "scripts" / "pgcluster"), action, "--dir", pgdir,
                    "--port", pgport], check=True, capture_output=True, timeout=120)
