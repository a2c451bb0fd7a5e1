#!/usr/bin/env python3
"""routes.py — compares docs/openapi.yaml with the route table of a database
(namaskah.routes, read with psql through the libpq environment) and, when
NAMASKAH_URL is set, with the document served at /api/openapi.json.

The document describes the API listener only: a registered route namaskahd
never forwards from a client (internal, such as GET /internal/metrics, which
only the metrics listener calls) must not be documented; every other one
must be.

Each check prints "ok: ..." or "FAILED: ..."; the last line is
"N passed, N failed"; exit status 1 on any failure.
usage: routes.py docs/openapi.yaml"""
import json
import os
import subprocess
import sys
import urllib.request

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def forwarded(path):
    """Whether namaskahd's API listener forwards a client's request for this
    path template to the database (frontend/http.c: /api/... and
    /health/ready; everything else is its own or 404)."""
    return path.startswith("/api/") or path == "/health/ready"
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAILED: {what}")


def registered_routes():
    out = subprocess.run(
        ["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c",
         "SELECT method, path_template, auth, coalesce(required_role, '') "
         "FROM namaskah.routes ORDER BY path_template, method"],
        check=True, capture_output=True, text=True).stdout
    return {(m, p): (a, r) for m, p, a, r in
            (line.split("\t") for line in out.splitlines() if line)}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    documented = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                documented[(method.upper(), path)] = op
    try:
        routes = registered_routes()
    except (OSError, subprocess.CalledProcessError) as e:
        check(False, f"reading namaskah.routes with psql ({e})")
        return
    check(len(routes) > 0, f"{len(routes)} registered routes read")
    for key in sorted(routes):
        if forwarded(key[1]):
            check(key in documented, f"registered route {key[0]} {key[1]} is documented")
        else:
            check(key not in documented,
                  f"internal route {key[0]} {key[1]} (not served on the API listener) is not documented")
    for key in sorted(documented):
        check(key in routes, f"documented operation {key[0]} {key[1]} is a registered route")
    # Authentication and authorization as documented.
    global_security = doc.get("security", [])
    for key, (auth, role) in sorted(routes.items()):
        op = documented.get(key)
        if op is None:
            continue
        security = op.get("security", global_security)
        schemes = sorted(name for requirement in security for name in requirement)
        want = {"public": [], "bearer": ["bearerAuth"], "webhook": ["webhookSignature"]}[auth]
        check(schemes == want, f"{key[0]} {key[1]}: security {schemes} matches auth '{auth}'")
        responses = op.get("responses", {})
        if auth == "bearer":
            check("401" in responses, f"{key[0]} {key[1]}: documents 401")
        if role:
            check("403" in responses, f"{key[0]} {key[1]}: documents 403 (role {role})")
        if "{" in key[1]:
            check("404" in responses, f"{key[0]} {key[1]}: documents 404")
        check("500" in responses, f"{key[0]} {key[1]}: documents 500")
    # The served document is the YAML.
    url = os.environ.get("NAMASKAH_URL")
    if url:
        try:
            with urllib.request.urlopen(url + "/api/openapi.json", timeout=10) as r:
                served = json.load(r)
                ctype = r.headers.get("Content-Type", "")
            check(served == json.loads(json.dumps(doc)), "GET /api/openapi.json serves docs/openapi.yaml")
            check(ctype.startswith("application/json"), f"served as {ctype}")
        except OSError as e:
            check(False, f"GET /api/openapi.json ({e})")


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
