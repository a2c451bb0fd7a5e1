#!/usr/bin/python3
"""edge_clients — many keep-alive clients at once against namaskahd: opens
CONNECTIONS connections together, and on each sends GET PATH again and again
for SECONDS (a new connection when the server closes one). Reports when each
connection got its first answer (a result or a 503), and every status seen.

Prints: "connections=N answered=N first_p50_ms=X first_p99_ms=X
first_max_ms=X requests=N statuses=200:N,503:N errors=N". Stops by itself.

usage: edge_clients.py PORT CONNECTIONS SECONDS PATH
"""
import asyncio
import collections
import sys
import time


async def client(port, path, end, first, statuses, errors, idx):
    t0 = time.monotonic()
    request = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            errors[0] += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.monotonic() < end:
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                              end - time.monotonic() + 5)
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                hdrs = {k.lower(): v for k, _, v in
                        (x.partition(": ") for x in lines[1:] if x)}
                await reader.readexactly(int(hdrs.get("content-length", "0")))
                statuses[status] += 1
                if idx not in first:
                    first[idx] = (time.monotonic() - t0) * 1000
                if hdrs.get("connection", "").lower() == "close":
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                ValueError, IndexError):
            errors[0] += 1
        finally:
            writer.close()


async def main():
    port, n, seconds, path = (int(sys.argv[1]), int(sys.argv[2]),
                              float(sys.argv[3]), sys.argv[4])
    end = time.monotonic() + seconds
    first, statuses, errors = {}, collections.Counter(), [0]
    await asyncio.gather(*(client(port, path, end, first, statuses, errors, i)
                           for i in range(n)))
    v = sorted(first.values()) or [0.0]
    print(f"connections={n} answered={len(first)} "
          f"first_p50_ms={v[len(v) // 2]:.1f} "
          f"first_p99_ms={v[min(len(v) - 1, int(len(v) * 0.99))]:.1f} "
          f"first_max_ms={v[-1]:.1f} requests={sum(statuses.values())} "
          "statuses=" + ",".join(f"{k}:{c}" for k, c in sorted(statuses.items()))
          + f" errors={errors[0]}")


if __name__ == "__main__":
    asyncio.run(main())
