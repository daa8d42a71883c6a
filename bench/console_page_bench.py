#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Operator console benchmark: the real vigie-agent with 10,000 cheap probes (tcp to a local
listener, with labels), on loopback.

Measures:
  - the time to serve the status page `/` (request sent to last byte received, on loopback, so
    server time plus a negligible transfer): median and p99 over --requests requests, without
    and with `Accept-Encoding: gzip`, and the bytes transferred (head and body);
  - the same for a probe page and for the API's probe list (`/api/v1/probes`);
  - vigie_scheduler_lateness_seconds p99 over a window without any page request, then over a
    window where an operator refreshes `/` every --refresh seconds (histogram increases,
    interpolated as Prometheus' histogram_quantile does).
Targets (issue #13): `/` < 100 ms and < 2 MB compressed; lateness p99 unchanged.
Usage: bench/console_page_bench.py --agent build-release/agent/app/vigie-agent [--probes 10000]
"""

import argparse
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from agent_harness import Agent, Listener  # noqa: E402
from scheduler_bench import lateness_buckets, quantile  # noqa: E402


def fetch(port, path, gzip):
    """One request on a fresh connection (the agent serves one per connection); returns the
    seconds from sending to the last byte, the bytes received and the status line."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if gzip:
        head += "Accept-Encoding: gzip\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        sock.sendall((head + "\r\n").encode())
        chunks = []
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        elapsed = time.perf_counter() - started
    data = b"".join(chunks)
    status = data.split(b"\r\n", 1)[0].decode()
    encoded = b"content-encoding: gzip" in data.split(b"\r\n\r\n", 1)[0].lower()
    return elapsed, len(data), status, encoded


def measure(port, path, gzip, requests):
    times, sizes, encoded_any = [], [], False
    for _ in range(requests):
        elapsed, size, status, encoded = fetch(port, path, gzip)
        if not status.endswith("200 OK"):
            raise AssertionError(f"{path}: {status}")
        times.append(elapsed)
        sizes.append(size)
        encoded_any |= encoded
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    label = f"{path} {'gzip' if gzip else 'identity'}"
    print(f"{label:<36} median {statistics.median(times) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
          f"  {statistics.median(sizes) / 1e6:6.2f} MB transferred"
          f"{'  (gzip-encoded)' if encoded_any else ('  (not compressed)' if gzip else '')}")
    return statistics.median(times), p99, statistics.median(sizes)


def lateness_window(agent, seconds, refresh):
    before = agent.metrics()
    end = time.time() + seconds
    refreshes = 0
    while time.time() < end:
        if refresh:
            fetch(agent.port, "/", gzip=True)
            refreshes += 1
            time.sleep(max(0.0, min(refresh, end - time.time())))
        else:
            time.sleep(max(0.0, end - time.time()))
    after = agent.metrics()
    b, a = lateness_buckets(before), lateness_buckets(after)
    return quantile(0.50, b, a), quantile(0.99, b, a), refreshes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30, help="seconds")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--window", type=int, default=60, help="seconds per lateness window")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between refreshes")
    args = parser.parse_args()

    listener = Listener(backlog=4096)
    lines = ['agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }',
             f"defaults: {{ interval: {args.interval}s, timeout: 5s }}", "probes:"]
    for i in range(args.probes):
        lines.append(f"  - {{ name: p{i:05d}, type: tcp, labels: {{ app: app{i % 50}, "
                     f"environment: production, hosting_center: dc{i % 3} }}, "
                     f"tcp: {{ address: \"127.0.0.1:{listener.port}\" }} }}")
    agent = Agent(args.agent, "\n".join(lines) + "\n")
    try:
        time.sleep(args.interval + 5)  # every probe has run once
        print(f"{args.probes} tcp probes every {args.interval}s "
              f"({args.probes / args.interval:.0f} runs/s)")
        page_median, page_p99, _ = measure(agent.port, "/", False, args.requests)
        gzip_median, gzip_p99, gzip_bytes = measure(agent.port, "/", True, args.requests)
        measure(agent.port, "/?status=critical,unknown,warning", True, args.requests)
        measure(agent.port, "/?group=app", True, args.requests)
        measure(agent.port, "/probes/p00042", True, args.requests)
        api_median, _, _ = measure(agent.port, "/api/v1/probes", False, args.requests)
        quiet = lateness_window(agent, args.window, 0)
        busy = lateness_window(agent, args.window, args.refresh)
        print(f"lateness without page requests:     p50 {quiet[0] * 1000:6.2f} ms  "
              f"p99 {quiet[1] * 1000:6.2f} ms")
        print(f"lateness, / every {args.refresh:g}s ({busy[2]} requests): p50 {busy[0] * 1000:6.2f} ms  "
              f"p99 {busy[1] * 1000:6.2f} ms")
        print(f"targets: / < 100 ms ({'met' if page_p99 < 0.1 and gzip_p99 < 0.1 else 'NOT met'}, "
              f"p99 {page_p99 * 1000:.0f} / {gzip_p99 * 1000:.0f} ms), < 2 MB compressed "
              f"({'met' if gzip_bytes < 2e6 else 'NOT met'}, {gzip_bytes / 1e6:.2f} MB), "
              f"API list < 50 ms ({'met' if api_median < 0.05 else 'NOT met'}, median "
              f"{api_median * 1000:.0f} ms)")
    finally:
        agent.stop()
        listener.close()


if __name__ == "__main__":
    main()
