#!/usr/bin/python3
"""edge_probe — a well-behaved client's view of namaskahd while it is under
attack or load: for SECONDS, every INTERVAL, one request on a new connection
to each URL path, timed from connect to the last byte of the answer.

Prints one line per path: "path n=N ok=N p50_ms=X p99_ms=X max_ms=X" (ok:
answered at all, any status; a refused, reset or timed-out request counts
against it and as TIMEOUT in the latencies). Used by test/bench/edge_bench.sh
and the edge tests; stops by itself.

usage: edge_probe.py PORT SECONDS INTERVAL TIMEOUT PATH...
"""
import socket
import sys
import time


def one(port, path, timeout):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(max(0.01, timeout - (time.monotonic() - t0)))
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: probe\r\n"
                  b"Connection: close\r\n\r\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        ok = buf.startswith(b"HTTP/1.1 ")
    except OSError:
        ok = False
    return ok, (time.monotonic() - t0) * 1000


def main():
    port, seconds, interval, timeout = (int(sys.argv[1]), float(sys.argv[2]),
                                        float(sys.argv[3]), float(sys.argv[4]))
    paths = sys.argv[5:]
    times = {p: [] for p in paths}
    oks = {p: 0 for p in paths}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        for p in paths:
            ok, ms = one(port, p, timeout)
            oks[p] += ok
            times[p].append(ms if ok else timeout * 1000)
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    for p in paths:
        v = sorted(times[p])
        n = len(v)
        if n == 0:
            print(f"{p} n=0 ok=0 p50_ms=0 p99_ms=0 max_ms=0")
            continue
        print(f"{p} n={n} ok={oks[p]} p50_ms={v[n // 2]:.1f} "
              f"p99_ms={v[min(n - 1, int(n * 0.99))]:.1f} max_ms={v[-1]:.1f}")


if __name__ == "__main__":
    main()
