"""A database crash under load: no request namaskahd acknowledged (2xx-4xx)
may lack its audit record afterwards. Stops the suite's cluster with
"pg_ctl stop -m immediate" (crash recovery on restart), so it runs after
the other suites (file name) and leaves the cluster running again.
"""
import os
import subprocess
import threading
import time

import requests

from conftest import need_env, pgcluster, psql

PGBIN = "/usr/lib/postgresql/15/bin"


def crash_database():
    data = os.path.join(need_env("NAMASKAH_PGDIR"), "data")
    cmd = [f"{PGBIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def wait_for_service(base_url, seconds=30):
    """Until GET /api/version answers 200 again after a restart."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(base_url + "/api/version", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("the service did not come back after the crash")


class Client(threading.Thread):
    def __init__(self, url, stop):
        super().__init__(daemon=True)
        self.url, self.stop = url, stop
        self.acknowledged, self.failed = [], 0

    def run(self):
        session = requests.Session()
        while not self.stop.is_set():
            try:
                r = session.get(self.url, timeout=10)
            except requests.RequestException:
                self.failed += 1
                time.sleep(0.01)
                continue
            if r.status_code < 500:
                self.acknowledged.append(r.headers["X-Request-Id"])
            else:
                self.failed += 1
                time.sleep(0.01)


def test_no_acknowledged_request_is_lost_in_a_database_crash(base_url):
    stop = threading.Event()
    clients = [Client(base_url + "/api/version", stop) for _ in range(8)]
    for c in clients:
        c.start()
    time.sleep(2.0)
    try:
        crash_database()
        time.sleep(0.5)
    finally:
        pgcluster("start")
    wait_for_service(base_url)
    time.sleep(0.5)
    stop.set()
    for c in clients:
        c.join(15)
    acknowledged = [rid for c in clients for rid in c.acknowledged]
    assert len(acknowledged) > 100 and sum(c.failed for c in clients) > 0
    missing = []
    for i in range(0, len(acknowledged), 1000):
        batch = acknowledged[i:i + 1000]
        found = set(psql("SELECT request_id FROM namaskah.audit_log WHERE request_id IN ("
                         + ",".join(f"'{rid}'" for rid in batch) + ")").split())
        missing += [rid for rid in batch if rid not in found]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged without a record"
