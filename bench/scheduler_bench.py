#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Scheduler benchmark: N TCP probes at a fixed interval against a local listener.

Runs the real vigie-agent, lets one interval pass to warm up, then measures over a window:
  - start lateness p50/p99 (from vigie_scheduler_lateness_seconds, interpolated within buckets
    as Prometheus' histogram_quantile does),
  - CPU seconds of the agent per 1,000 probe runs (utime+stime from /proc/PID/stat),
  - RSS and peak RSS (/proc/PID/status),
  - the time a /metrics scrape takes with all probes reporting.
A scraper fetches /metrics every --scrape-interval seconds during the window, as Prometheus
would, so the lateness figures include the stalls scrapes cause. Loopback only; bounded in
time. Usage:
  bench/scheduler_bench.py --agent build-release/agent/app/vigie-agent [--probes 10000]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from agent_harness import Agent, Listener, cpu_seconds, memory_mib, parse_metrics  # noqa: E402


def lateness_buckets(samples):
    buckets = []
    for (name, labels), value in samples.items():
        if name == "vigie_scheduler_lateness_seconds_bucket":
            le = dict(labels)["le"]
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
    return sorted(buckets)


def quantile(q, before, after):
    """histogram_quantile over the increase between two snapshots."""
    increase = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = increase[-1][1]
    if total == 0:
        return float("nan")
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in increase:
        if count >= rank:
            if le == float("inf"):
                return lower_le
            return lower_le + (le - lower_le) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_le, lower_count = le, count
    return float("nan")


def runs_total(samples):
    return sum(v for (n, _), v in samples.items() if n == "vigie_probe_runs_total")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=15, help="seconds")
    parser.add_argument("--window", type=int, default=45, help="measured seconds")
    parser.add_argument("--scrape-interval", type=float, default=15, help="seconds, 0 for none")
    args = parser.parse_args()

    listener = Listener(backlog=4096)
    port = listener.port

    lines = ['agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }',
             f"defaults: {{ interval: {args.interval}s, timeout: 5s }}", "probes:"]
    for i in range(args.probes):
        lines.append(f'  - {{ name: p{i}, type: tcp, tcp: {{ address: "127.0.0.1:{port}" }} }}')
    agent = Agent(args.agent, "\n".join(lines) + "\n")
    try:
        pid = agent.proc.pid
        time.sleep(args.interval + 5)  # every probe has run once
        before = agent.metrics()
        cpu_before = cpu_seconds(pid)
        window_end = time.time() + args.window
        scrape_seconds = []
        while time.time() < window_end:
            time.sleep(min(args.scrape_interval or args.window, max(window_end - time.time(), 0)))
            if args.scrape_interval and time.time() < window_end:
                scrape_started = time.time()
                agent.get("/metrics")
                scrape_seconds.append(time.time() - scrape_started)
        cpu_after = cpu_seconds(pid)
        scrape_started = time.time()
        status, body = agent.get("/metrics")
        scrape_seconds.append(time.time() - scrape_started)
        after = parse_metrics(body)
        runs = runs_total(after) - runs_total(before)
        failures = sum(v for (n, ls), v in after.items()
                       if n == "vigie_probe_runs_total" and dict(ls)["result"] != "ok")
        b, a = lateness_buckets(before), lateness_buckets(after)
        print(f"probes configured:          {args.probes} at {args.interval}s "
              f"({args.probes / args.interval:.0f} runs/s expected)")
        print(f"runs in {args.window}s window:      {runs:.0f} ({runs / args.window:.0f}/s), "
              f"failed runs since start: {failures:.0f}")
        print(f"lateness p50:               {quantile(0.50, b, a) * 1000:.3f} ms")
        print(f"lateness p99:               {quantile(0.99, b, a) * 1000:.3f} ms   (target < 20 ms)")
        print(f"CPU per 1,000 probe runs:   {(cpu_after - cpu_before) / runs * 1000:.4f} s")
        print(f"agent CPU use:              {(cpu_after - cpu_before) / args.window * 100:.1f} % of one core")
        print(f"RSS:                        {memory_mib(pid, 'VmRSS'):.1f} MiB "
              f"(peak {memory_mib(pid, 'VmHWM'):.1f} MiB)   (target < 60 MB)")
        print(f"/metrics scrapes:           {len(scrape_seconds)}, slowest "
              f"{max(scrape_seconds) * 1000:.0f} ms, {len(body) / 1e6:.1f} MB each")
    finally:
        agent.stop()
        listener.close()


if __name__ == "__main__":
    main()
