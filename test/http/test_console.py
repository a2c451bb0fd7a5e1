"""How namaskahd serves the web console (frontend/console.c, http.c): from
memory, under its own Content-Security-Policy with Trusted Types, the
document never stored, hashed assets immutable, GET and HEAD only, nothing
read from the file system; the API keeps its own policy. The console's
behaviour in a browser is test/browser's."""
import hashlib
import re

import pytest
import requests

from conftest import SECURITY_HEADERS, raw_http

CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
               "require-trusted-types-for 'script'; trusted-types 'none'")


def assets(base_url):
    html = requests.get(base_url + "/console/", timeout=10).text
    return re.findall(r'(?:src|href)="(/console/app\.[0-9a-f]{12}\.(?:js|css))"', html)


@pytest.mark.parametrize("path", ["/", "/console"])
def test_root_redirects_to_the_console(base_url, path):
    r = requests.get(base_url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"] == "/console/"


def test_document_has_the_console_policy_and_is_not_stored(base_url):
    r = requests.get(base_url + "/console/", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == CONSOLE_CSP
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # no inline script or style: every script and style sheet is a file of ours
    assert "<style" not in r.text and " style=" not in r.text
    assert re.findall(r"<script[^>]*>", r.text) == [f'<script src="{a}" defer>' for a in assets(base_url)
                                                    if a.endswith(".js")]


def test_assets_are_content_hashed_and_immutable(base_url):
    found = assets(base_url)
    assert sorted(a.rsplit(".", 1)[1] for a in found) == ["css", "js"]
    for a in found:
        r = requests.get(base_url + a, timeout=10)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["Content-Security-Policy"] == CONSOLE_CSP
        assert hashlib.sha256(r.content).hexdigest()[:12] == a.split(".")[1]
    js = requests.get(base_url + [a for a in found if a.endswith(".js")][0], timeout=10).text
    # the SVG namespace is a name, not an address anything is fetched from
    js = js.replace("'http://www.w3.org/2000/svg'", "")
    for forbidden in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML",
                      "document.write", "localStorage", "sessionStorage", "http://", "https://"):
        assert forbidden not in js, forbidden


def test_first_load_is_under_100_kb(base_url):
    total = len(requests.get(base_url + "/console/", timeout=10).content)
    total += sum(len(requests.get(base_url + a, timeout=10).content) for a in assets(base_url))
    assert total < 100 * 1024


def test_head_answers_without_a_body(hostport):
    status, headers, body, _ = raw_http(*hostport, b"HEAD /console/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and body == b""
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_405(base_url, method):
    r = requests.request(method, base_url + "/console/", timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert r.headers["Content-Type"] == "application/problem+json; charset=utf-8"


@pytest.mark.parametrize("path", ["/console/index.html", "/console/app.js", "/console/app.000000000000.js",
                                  "/console/../etc/passwd", "/console/%2e%2e/%2e%2e/etc/passwd",
                                  "/console/app.css%00.js", "/etc/passwd", "/favicon.ico"])
def test_nothing_else_is_served(base_url, path):
    r = requests.get(base_url + path, timeout=10)
    assert r.status_code in (400, 404), (path, r.status_code)
    assert r.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    assert "root:" not in r.text


def test_the_api_keeps_its_own_policy(base_url):
    r = requests.get(base_url + "/api/version", timeout=10)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
