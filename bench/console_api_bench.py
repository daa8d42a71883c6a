#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Console API benchmark: server time of GET /api/v1/probes with 10,000 probes (docs/API.md;
the target is < 50 ms).

The real agent runs --probes tcp probes (a third against a listener that accepts, the rest
against a closed port, so the list has failing probes first and labels to filter on) at a 60 s
interval; once every probe has a result, the list is fetched --runs times over loopback and the
median and worst wall times printed, with the body's size, then a filtered list
(problems=1&label.app=app-3) and one probe's page, and the agent's RSS. The CPU time of the list
alone is printed by tests/console (ConsoleTest.ListOfTenThousandProbesTiming): on a loaded
machine the wall time here includes waiting for the loop.
Usage:
  bench/console_api_bench.py --agent build-release/agent/app/vigie-agent [--probes 10000]
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from agent_harness import Agent, Listener, closed_port, memory_mib  # noqa: E402


def fetch(port, path):
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def measure(port, path, runs):
    times = []
    body = b""
    for _ in range(runs):
        elapsed, body = fetch(port, path)
        times.append(elapsed)
    print(f"GET {path}: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms, "
          f"{len(body) / 1024:.0f} KiB")
    return body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--probes", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    listener = Listener(backlog=4096)
    closed = closed_port()
    lines = ["agent: { listen: \"127.0.0.1:0\", state_dir: STATE_DIR, name: bench,"
             " max_concurrent_probes: 2000 }",
             "defaults: { interval: 60s, timeout: 5s }", "probes:"]
    for i in range(args.probes):
        port = listener.port if i % 3 == 0 else closed
        lines.append(f"  - {{ name: probe-{i:05d}, type: tcp, max_attempts: 1, labels: "
                     f"{{ app: app-{i % 50}, environment: production }}, "
                     f"tcp: {{ address: \"127.0.0.1:{port}\" }} }}")
    agent = Agent(args.agent, "\n".join(lines) + "\n")
    try:
        deadline = time.time() + 120
        while True:
            _, body = fetch(agent.port, "/api/v1/probes?status=pending")
            if not json.loads(body)["probes"]:
                break
            if time.time() > deadline:
                raise SystemExit("probes did not all run within 120 s")
            time.sleep(1)
        # The first results' state writes are done: what is measured is the list, not them.
        time.sleep(15)
        print(f"agent RSS with {args.probes} probes and their recent results: "
              f"{memory_mib(agent.proc.pid, 'VmRSS'):.0f} MiB")
        listing = json.loads(measure(agent.port, "/api/v1/probes", args.runs))
        print(f"  {len(listing['probes'])} probes, counts {listing['counts']}")
        measure(agent.port, "/api/v1/probes?problems=1&label.app=app-3", args.runs)
        measure(agent.port, "/api/v1/probes/probe-00001", args.runs)
    finally:
        agent.stop(timeout=60)
        listener.close()


if __name__ == "__main__":
    main()
