#!/usr/bin/env python3
"""failover.py — no acknowledged request is lost when a namaskahd dies or
the primary fails over.

32 clients drive the topology through haproxy, each as its own user,
recording every answer with the request id it sent (X-Request-Id; haproxy
is a trusted proxy): a stream of GET /api/auth/me and, about once a second,
POST /api/verifications under a policy of LIMIT per user. Meanwhile:

 1. one namaskahd is killed (SIGKILL): haproxy routes around it; the only
    failures are answers from haproxy (or broken connections) for requests
    that process held, at most one per client;
 2. the primary is stopped with -m immediate and, a moment later, the
    standby promoted (scripts/topology failover): meanwhile the service
    answers 503 database_unavailable, then recovers by itself.

Afterwards, on the new primary: every acknowledged request (an answer from
namaskahd below 500) has its audit record, every created verification
exists, audit_verify() is ok, and no user got more than LIMIT creations
across the failover (the unlogged rate-limit state is rebuilt from the
audit records). Then (3) slow clients (slowhttptest -c 4000 -H, bounded)
against haproxy while a probe measures /health: its p99 stays under 200 ms.
The figures go to FIGURES (TOPOLOGY_FIGURES, default: stdout only). Ends
with 'N passed, N failed'."""
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

import requests

from topo import REPO, Checks, loosen_auth_limits, psql, register_and_login, topology_env

CLIENTS = 32
LIMIT = 12            # creations per user and hour in the test's policy
KILL_AT = 4.0         # seconds after the start
STOP_PRIMARY_AT = 9.0
DETECT_SECONDS = 2.0  # the operator's (or a monitor's) reaction time
RUN_AFTER = 12.0      # seconds of traffic after the failover
CREATE_EVERY = 1.0    # each client's creation interval (s)


class Client(threading.Thread):
    def __init__(self, url, token, stop):
        super().__init__(daemon=True)
        self.url, self.token, self.stop = url, token, stop
        self.s = requests.Session()
        self.answers = []  # (t_sent, t_done, kind, request_id, status, code, vid)

    def one(self, kind):
        rid = str(uuid.uuid4())
        h = {"Authorization": "Bearer " + self.token, "X-Request-Id": rid}
        t0 = time.monotonic()
        status, code, vid, via = None, None, None, None
        try:
            if kind == "create":
                r = self.s.post(self.url + "/api/verifications", json={"service": "telegram"},
                                headers=h, timeout=20)
            else:
                r = self.s.get(self.url + "/api/auth/me", headers=h, timeout=20)
            status = r.status_code
            via = r.headers.get("X-Request-Id")  # set by namaskahd only
            if status >= 400 and "json" in r.headers.get("Content-Type", ""):
                code = r.json().get("code")
            if kind == "create" and status == 201:
                vid = r.json()["id"]
        except (requests.RequestException, ValueError) as e:
            code = type(e).__name__
            self.s = requests.Session()
        self.answers.append((t0, time.monotonic(), kind, rid, status, code, vid, via))

    def run(self):
        next_create = time.monotonic() + secrets.randbelow(1000) / 1000
        while not self.stop.is_set():
            if time.monotonic() >= next_create:
                next_create += CREATE_EVERY
                self.one("create")
            else:
                self.one("me")
                time.sleep(0.02)


def setup(env, url):
    loosen_auth_limits(env)
    psql(env, "INSERT INTO namaskah.rate_limit_policies (name, algorithm, \"limit\", window_seconds, scope) "
              f"VALUES ('topology_exact', 'fixed_window', {LIMIT}, 3600, 'user') "
              f"ON CONFLICT (name) DO UPDATE SET \"limit\" = {LIMIT}; "
              "UPDATE namaskah.routes SET rate_limit_policy = 'topology_exact' "
              "WHERE method = 'POST' AND path_template = '/api/verifications'")
    tag = secrets.token_hex(4)
    return [register_and_login(url, f"fo-{tag}-{i}@example.com") for i in range(CLIENTS)]


def kill_frontend(env, n):
    pid = int(open(os.path.join(env["TOPOLOGY_DIR"], f"namaskahd{n}", "namaskahd.pid")).read())
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def stop_primary(env):
    node = env["PRIMARY"]
    data = os.path.join(env["TOPOLOGY_DIR"], node, "data")
    pg_ctl = os.path.join(os.environ["PGBIN"], "pg_ctl")
    cmd = [pg_ctl, "-D", data, "-m", "immediate", "stop"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    t = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return t


def failover():
    subprocess.run([str(REPO / "scripts/topology"), "failover"], check=True, timeout=60)
    return time.monotonic()


def from_namaskahd(a):
    return a[7] is not None and a[7] == a[3]


def check_kill(c, answers, t_kill, t_stop):
    # answered before the primary stops: failures later belong to phase 2
    window = [a for a in answers if t_kill - 0.5 <= a[0] and a[1] < t_stop]
    bad = [a for a in window if a[4] is None or a[4] >= 500]
    c.check(f"1. after a namaskahd is killed, at most its in-flight requests fail ({len(bad)} of {len(window)})",
            len(bad) <= CLIENTS and all(not from_namaskahd(a) for a in bad),
            str([(a[4], a[5]) for a in bad[:5]]))
    late = [a for a in bad if a[0] > t_kill + 0.2]
    c.check("1. requests sent after the kill are routed around it", not late,
            str([(round(a[0] - t_kill, 2), a[4], a[5]) for a in late[:5]]))


def check_failover(c, answers, t_stop, t_promoted):
    outage = [a for a in answers if a[1] >= t_stop and a[4] is not None and a[4] >= 500]
    dbu = [a for a in outage if a[5] == "database_unavailable"]
    other = [a for a in outage if a[5] != "database_unavailable"]
    c.check(f"2. the outage is answered 503 database_unavailable ({len(dbu)} answers)", dbu,
            "no database_unavailable answer")
    c.check("2. no other 5xx during the failover", not other,
            str(sorted({(a[4], a[5]) for a in other})))
    ok_after = [a for a in answers if a[0] >= t_promoted and a[4] is not None and a[4] < 500]
    c.check("2. the service recovers by itself after the promotion", ok_after, "no success after it")
    first_503 = min(a[1] for a in dbu) - t_stop if dbu else None
    first_ok = min(a[1] for a in ok_after) if ok_after else None
    last_bad = max((a[1] for a in outage if first_ok is None or a[1] <= first_ok + 5), default=t_stop)
    return {
        "time_to_first_503_s": round(first_503, 3) if first_503 is not None else None,
        "detection_delay_s": DETECT_SECONDS,
        "promotion_s": round(t_promoted - t_stop - DETECT_SECONDS, 3),
        "time_to_recovery_s": round(first_ok - t_stop, 3) if first_ok else None,
        "recovery_after_promotion_s": round(first_ok - t_promoted, 3) if first_ok else None,
        "last_failure_after_stop_s": round(last_bad - t_stop, 3),
        "answers_503": len(dbu),
    }


def in_db(env, table_sql, ids):
    """How many of ids table_sql finds (ids travel as COPY data, not SQL)."""
    if not ids:
        return 0
    sql = ("CREATE TEMP TABLE ids (id text);\nCOPY ids FROM STDIN;\n" + "\n".join(ids)
           + "\n\\.\n" + f"SELECT count(*) FROM ids v WHERE EXISTS ({table_sql});\n")
    return int(psql(env, sql))


def check_durable(c, env, answers):
    acked = [a for a in answers if a[4] is not None and a[4] < 500 and from_namaskahd(a)]
    found = in_db(env, "SELECT FROM namaskah.audit_log l WHERE l.request_id = v.id", [a[3] for a in acked])
    c.check(f"2. every acknowledged request has its audit record on the new primary ({found} of {len(acked)})",
            found == len(acked))
    vids = [a[6] for a in answers if a[6]]
    found = in_db(env, "SELECT FROM namaskah.verifications x WHERE x.id::text = v.id", vids)
    c.check(f"2. every created verification exists ({found} of {len(vids)})", found == len(vids))
    v = psql(env, "SELECT ok FROM namaskah.audit_verify()")
    c.check("2. audit_verify() is ok on the new primary", v == "t", v)
    return len(acked)


def check_limits(c, clients):
    counts = [sum(1 for a in cl.answers if a[2] == "create" and a[4] == 201) for cl in clients]
    limited = sum(1 for cl in clients if any(a[2] == "create" and a[4] == 429 for a in cl.answers))
    c.check(f"2. no user got more than {LIMIT} creations across the failover (most: {max(counts)})",
            max(counts) <= LIMIT, str(counts))
    c.check(f"2. the limit was reached and enforced ({limited} of {CLIENTS} users saw 429)", limited > 0)


def slow_clients(c, url):
    """slowhttptest -H (slow heads) against haproxy, bounded to 15 s, while a
    probe measures GET /health through haproxy."""
    port = url.rsplit(":", 1)[1]
    slow = subprocess.Popen(
        ["slowhttptest", "-c", "4000", "-H", "-i", "10", "-r", "400", "-l", "15", "-s", "8192",
         "-u", f"http://127.0.0.1:{port}/health", "-x", "24", "-p", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_nofile)
    lat, errors = [], 0
    try:
        time.sleep(3)  # let the slow connections pile up
        s = requests.Session()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                ok = s.get(url + "/health", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            lat.append((time.monotonic() - t0) * 1000)
            errors += not ok
            time.sleep(0.05)
    finally:
        slow.terminate()
        try:
            slow.wait(10)
        except subprocess.TimeoutExpired:
            slow.kill()
    p99 = statistics.quantiles(lat, n=100)[98] if len(lat) >= 2 else None
    c.check(f"3. under 4000 slow clients, /health through haproxy answers ({errors} errors of {len(lat)})",
            errors == 0)
    c.check(f"3. probe p99 under 200 ms with 4000 slow clients ({p99:.1f} ms)", p99 is not None and p99 < 200)
    return {"slow_clients_probe_p50_ms": round(statistics.median(lat), 1), "slow_clients_probe_p99_ms": round(p99, 1)}


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))


def main():
    env = topology_env()
    url = env["TOPOLOGY_URL"]
    c = Checks()
    tokens = setup(env, url)
    stop = threading.Event()
    clients = [Client(url, t, stop) for t in tokens]
    t_start = time.monotonic()
    for cl in clients:
        cl.start()
    time.sleep(KILL_AT)
    t_kill = kill_frontend(env, 1)
    time.sleep(STOP_PRIMARY_AT - KILL_AT)
    t_stop = stop_primary(env)
    time.sleep(DETECT_SECONDS)
    t_promoted = failover()
    time.sleep(RUN_AFTER)
    stop.set()
    for cl in clients:
        cl.join(30)
    answers = sorted(a for cl in clients for a in cl.answers)
    env = topology_env()  # the primary changed
    check_kill(c, answers, t_kill, t_stop)
    figures = check_failover(c, answers, t_stop, t_promoted)
    figures["acknowledged"] = check_durable(c, env, answers)
    figures["answers"] = len(answers)
    figures["acknowledged_lost"] = 0 if c.failed == 0 else None
    check_limits(c, clients)
    figures.update(slow_clients(c, url))
    figures["run_s"] = round(time.monotonic() - t_start, 1)
    print("figures: " + json.dumps(figures), flush=True)
    if os.environ.get("TOPOLOGY_FIGURES"):
        with open(os.environ["TOPOLOGY_FIGURES"], "w") as f:
            json.dump(figures, f, indent=1)
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
