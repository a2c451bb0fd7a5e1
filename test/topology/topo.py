"""topo.py — helpers shared by the topology tests (test/topology/).

They run against a topology that scripts/topology brought up; its ports and
directories come from 'scripts/topology env' (TOPOLOGY_DIR names it). psql
reaches the current primary as the superuser over its private socket."""
import json
import os
import subprocess
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def topology_env():
    out = subprocess.run([str(REPO / "scripts/topology"), "env"], check=True,
                         capture_output=True, text=True, timeout=30)
    env = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


class Checks:
    """Counts checks and prints the closing 'N passed, N failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}", flush=True)
        return ok

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def psql(env, sql, node=None, db="namaskah", timeout=60):
    node = node or env["PRIMARY"]
    port = env[node.upper() + "_PORT"]
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h",
         os.path.join(env["TOPOLOGY_DIR"], node), "-p", port, "-U", "postgres",
         "-d", db],
        input=sql, capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout.strip()


def register_and_login(url, email, password="a long enough password 0k"):
    s = requests.Session()
    r = s.post(url + "/api/auth/register", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 201, (r.status_code, r.text)
    r = s.post(url + "/api/auth/login", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["access_token"]


def jwt_header(token):
    import base64
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def loosen_auth_limits(env):
    """Tests log in far more often than the built-in per-address auth
    policies allow one address (every client here is 127.0.0.1)."""
    psql(env, "UPDATE namaskah.rate_limit_policies SET \"limit\" = 1000000 WHERE name LIKE 'auth%'")


def wait_until(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False
