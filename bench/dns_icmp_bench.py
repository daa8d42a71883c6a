#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""dns and icmp probes: vigie-agent against blackbox_exporter on the same targets, same run.

Targets: a private unbound on loopback (tests/support/unbound_server.py; www.vigie.test A, with
the same answer regex on both sides) for dns; 127.0.0.1 and ::1 in turn for icmp (one echo per
probe on both sides: blackbox sends one). For each type, two schedules:
  - flat out: blackbox_exporter's /probe driven by wrk (keep-alive, --connections) for
    --seconds; then vigie-agent with --targets probes at the rate blackbox reached, over the
    same length of time (CPU per probe falls as the rate rises, for both: compared at one rate);
  - steady: --targets targets every --interval seconds, vigie-agent and blackbox_exporter (driven
    as Prometheus would, bench/steady_bench.py's Driver) side by side in the same window.
Measured: probes done and failed, CPU seconds (utime+stime of the process, its own /metrics or
/probe serving included) per 1,000 probes, and the ratio blackbox / vigie (target: >= 5x).
As root here both use raw ICMP sockets (ping_group_range excludes root); the agent under its
systemd unit uses datagram ones. Bounded: about 3 minutes with the defaults. Usage:
  bench/dns_icmp_bench.py --agent build-release/agent/app/vigie-agent
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from agent_harness import cpu_seconds  # noqa: E402
from http_bench import QuietAgent, runs  # noqa: E402
from steady_bench import Blackbox, Driver  # noqa: E402
from unbound_server import Unbound, free_port  # noqa: E402

ANSWER = r"192\.0\.2\.10"


def blackbox_config(folder):
    path = os.path.join(folder, "blackbox.yml")
    with open(path, "w") as f:
        f.write(f"""modules:
  dns:
    prober: dns
    timeout: 5s
    dns:
      query_name: www.vigie.test
      query_type: A
      preferred_ip_protocol: ip4
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['{ANSWER}']
  icmp:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
""")
    return path


class Exporter(Blackbox):
    """blackbox_exporter with the dns and icmp modules."""

    def __init__(self, binary):  # noqa: super's config is http only
        self.dir = tempfile.TemporaryDirectory(prefix="vigie-bb-")
        config = blackbox_config(self.dir.name)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/healthy", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("blackbox_exporter did not start")

    def check(self, module, target):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/probe?module={module}"
                                    f"&target={target}", timeout=10) as r:
            body = r.read().decode()
        if "probe_success 1" not in body:
            raise RuntimeError(f"blackbox_exporter {module} probe of {target} failed:\n{body}")


def probe_block(kind, target):
    if kind == "dns":
        return (f"dns: {{ server: \"{target}\", query_name: www.vigie.test, "
                f"validate_answer_rrs: {{ fail_if_not_matches_regexp: ['{ANSWER}'] }} }}")
    return f"icmp: {{ host: \"{target}\", packets: 1 }}"


def agent_config(kind, targets, count, interval_ms):
    lines = ["agent:\n  listen: \"127.0.0.1:PORT\"\n  state_dir: STATE_DIR\n"
             f"  max_concurrent_probes: {max(1000, count)}\n  log_level: warning\nprobes:\n"]
    for i in range(count):
        lines.append(f"  - name: t{i}\n    type: {kind}\n    interval: {interval_ms}ms\n"
                     f"    timeout: {min(interval_ms, 2000)}ms\n"
                     f"    {probe_block(kind, targets[i % len(targets)])}\n")
    return "".join(lines)


def vigie_window(agent, seconds):
    agent.metrics()  # the first scrape waits for the start-up burst to settle
    cpu0, (runs0, failed0), t0 = cpu_seconds(agent.proc.pid), runs(agent.metrics()), time.monotonic()
    time.sleep(seconds)
    (runs1, failed1) = runs(agent.metrics())
    cpu1, t1 = cpu_seconds(agent.proc.pid), time.monotonic()
    done = runs1 - runs0
    return {"done": done, "failed": failed1 - failed0, "rate": done / (t1 - t0),
            "per_1000": (cpu1 - cpu0) / done * 1000 if done else float("nan"),
            "share": (cpu1 - cpu0) / (t1 - t0)}


WRK_SCRIPT = """
local counter = 0
local targets = {%s}
request = function()
  counter = counter + 1
  return wrk.format("GET", "/probe?module=%s&target=" .. targets[counter %% #targets + 1])
end
"""


def flat_out(kind, targets, args, exporter):
    with tempfile.TemporaryDirectory(prefix="vigie-wrk-") as folder:
        script = os.path.join(folder, "probe.lua")
        quoted = ", ".join(f'"{urllib.request.quote(t, safe="")}"' for t in targets)
        with open(script, "w") as f:
            f.write(WRK_SCRIPT % (quoted, kind))
        cpu0, t0 = cpu_seconds(exporter.proc.pid), time.monotonic()
        out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{int(args.seconds)}s",
                              "-s", script, f"http://127.0.0.1:{exporter.port}"],
                             capture_output=True, text=True, check=True).stdout
        cpu1, t1 = cpu_seconds(exporter.proc.pid), time.monotonic()
    done = int(re.search(r"(\d+) requests in", out).group(1))
    bb = {"done": done, "rate": done / (t1 - t0), "per_1000": (cpu1 - cpu0) / done * 1000,
          "share": (cpu1 - cpu0) / (t1 - t0)}
    interval_ms = max(1, round(args.targets * 1000 / bb["rate"]))
    agent = QuietAgent(args.agent, agent_config(kind, targets, args.targets, interval_ms))
    try:
        time.sleep(min(interval_ms / 1000, 5) + 2)
        vigie = vigie_window(agent, args.seconds)
    finally:
        agent.stop()
    return vigie, bb


def steady(kind, targets, args, exporter):
    interval_ms = int(args.interval * 1000)
    agent = QuietAgent(args.agent, agent_config(kind, targets, args.targets, interval_ms))
    urls = [targets[i % len(targets)] for i in range(args.targets)]
    driver = Driver(exporter.port, kind, urls, args.interval)
    try:
        driver.start()
        time.sleep(args.interval)  # a whole interval: every probe has started once
        bb_cpu0, bb_done0, bb_failed0 = cpu_seconds(exporter.proc.pid), driver.done, driver.failed
        t0 = time.monotonic()
        vigie = vigie_window(agent, args.interval * args.windows)
        elapsed = time.monotonic() - t0
        bb_cpu = cpu_seconds(exporter.proc.pid) - bb_cpu0
        done = driver.done - bb_done0
        bb = {"done": done, "failed": driver.failed - bb_failed0, "rate": done / elapsed,
              "per_1000": bb_cpu / done * 1000 if done else float("nan"),
              "share": bb_cpu / elapsed}
    finally:
        driver.stopping = True
        driver.join(10)
        agent.stop()
    return vigie, bb


def report(title, vigie, bb):
    print(f"  {title}:")
    print(f"    vigie     {vigie['done']:>7.0f} probes ({vigie['rate']:>6.0f}/s, "
          f"{vigie['failed']:.0f} failed), CPU-s/1000 {vigie['per_1000']:.4f}, "
          f"CPU {vigie['share'] * 100:.1f}%")
    print(f"    blackbox  {bb['done']:>7.0f} probes ({bb['rate']:>6.0f}/s, "
          f"{bb.get('failed', 0):.0f} failed), CPU-s/1000 {bb['per_1000']:.4f}, "
          f"CPU {bb['share'] * 100:.1f}%")
    ratio = bb["per_1000"] / vigie["per_1000"]
    print(f"    blackbox / vigie = {ratio:.1f}x {'(>= 5x)' if ratio >= 5 else '(BELOW 5x)'}",
          flush=True)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--blackbox", default="/usr/bin/prometheus-blackbox-exporter")
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=15)
    parser.add_argument("--windows", type=int, default=2, help="steady intervals measured")
    parser.add_argument("--seconds", type=float, default=10, help="flat-out window")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--types", default="dns,icmp")
    args = parser.parse_args()

    unbound = Unbound()
    exporter = Exporter(args.blackbox)
    try:
        all_targets = {"dns": [unbound.address], "icmp": ["127.0.0.1", "::1"]}
        for kind in args.types.split(","):
            targets = all_targets[kind]
            for target in targets:
                exporter.check(kind, urllib.request.quote(target, safe=""))
            print(f"\n{kind} ({', '.join(targets)}), {args.targets} probes:")
            report(f"flat out ({args.seconds:.0f}s, blackbox by wrk -c{args.connections}, vigie "
                   "at the rate blackbox reached)", *flat_out(kind, targets, args, exporter))
            report(f"steady: {args.targets} targets every {args.interval:.0f}s, side by side "
                   f"over {args.windows} intervals", *steady(kind, targets, args, exporter))
    finally:
        exporter.stop()
        unbound.close()


if __name__ == "__main__":
    main()
