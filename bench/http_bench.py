#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP probe benchmark: vigie-agent against blackbox_exporter on the same local nginx targets.

Every probe opens a fresh connection to one of --targets URLs served by a local nginx. Measured:
  - vigie: the real agent runs --targets http probes whose interval gives each --rates value;
    after a warm-up interval, over a --seconds window: probe runs (vigie_probe_runs_total), failed
    runs, CPU seconds of the agent (utime+stime, /metrics scrapes included) per 1,000 probes.
    A rate is "sustained" when at least 95% of the due runs happened and at most 1% failed.
  - vigie RSS (VmRSS and peak VmHWM) with --rss-probes http probes configured and running.
  - blackbox_exporter: its binary on a loopback port with an http_2xx module, driven through
    /probe by wrk (keep-alive to the exporter, a fresh connection per probe to nginx) over the
    same targets for --seconds; CPU seconds of the exporter per 1,000 probes (its /probe
    serving included) and its probe rate.
Loopback only; bounded in time (about 2 minutes with the defaults). Usage:
  bench/http_bench.py --agent build-release/agent/app/vigie-agent
"""

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from agent_harness import cpu_seconds, memory_mib, parse_metrics  # noqa: E402
from http_test_server import Nginx, free_port  # noqa: E402


def runs(samples):
    total = failed = 0.0
    for (name, labels), value in samples.items():
        if name == "vigie_probe_runs_total":
            total += value
            if dict(labels).get("result") != "ok":
                failed += value
    return total, failed


class QuietAgent:
    """vigie-agent at log level warning (info logs every run, which would be measured too)."""

    def __init__(self, binary, config_text):
        self.dir = tempfile.TemporaryDirectory(prefix="vigie-bench-")
        self.port = free_port()
        path = os.path.join(self.dir.name, "vigie.yaml")
        with open(path, "w") as f:
            f.write(config_text.replace("PORT", str(self.port))
                    .replace("STATE_DIR", os.path.join(self.dir.name, "state")))
        self.log = open(os.path.join(self.dir.name, "agent.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/healthy", timeout=5)
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    raise RuntimeError("agent did not start:\n" + self.log.read())
                time.sleep(0.05)

    def metrics(self):
        return parse_metrics(self.scrape())

    def scrape(self):
        """The /metrics body. The loop may be busy for seconds after start (first results of
        every probe go through the alert state store), long enough for the endpoint to drop a
        large answer: retried."""
        for attempt in range(5):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",
                                            timeout=60) as r:
                    return r.read().decode()
            except (OSError, http.client.HTTPException):
                if attempt == 4:
                    raise
                time.sleep(1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()
        self.dir.cleanup()


def agent_config(count, interval_ms, base_url):
    lines = ["agent:\n  listen: \"127.0.0.1:PORT\"\n  state_dir: STATE_DIR\n"
             f"  max_concurrent_probes: {max(1000, count)}\n  log_level: warning\nprobes:\n"]
    for i in range(count):
        lines.append(f"  - name: t{i}\n    type: http\n    interval: {interval_ms}ms\n"
                     f"    timeout: {min(interval_ms, 2000)}ms\n"
                     f"    http: {{ url: \"{base_url}/t/{i}\" }}\n")
    return "".join(lines)


def measure_vigie(binary, targets, rate, seconds, base_url):
    interval_ms = max(1, round(targets * 1000 / rate))
    agent = QuietAgent(binary, agent_config(targets, interval_ms, base_url))
    try:
        time.sleep(interval_ms / 1000 + 2)
        agent.metrics()  # the first scrape waits for the start-up burst to settle
        before_cpu, before_runs = cpu_seconds(agent.proc.pid), runs(agent.metrics())
        started = time.monotonic()
        time.sleep(seconds)
        after_runs = runs(agent.metrics())
        after_cpu, elapsed = cpu_seconds(agent.proc.pid), time.monotonic() - started
        done = after_runs[0] - before_runs[0]
        failed = after_runs[1] - before_runs[1]
        expected = targets * 1000 / interval_ms * elapsed
        return {"rate": rate, "achieved": done / elapsed, "failed": failed, "done": done,
                "cpu_per_1000": (after_cpu - before_cpu) / done * 1000 if done else float("nan"),
                "cpu_share": (after_cpu - before_cpu) / elapsed,
                "sustained": done >= 0.95 * expected and failed <= 0.01 * done}
    finally:
        agent.stop()


def measure_rss(binary, count, base_url):
    # Every probe runs every 10 s, so the figure includes probes in flight, not only configs.
    agent = QuietAgent(binary, agent_config(count, 10000, base_url))
    try:
        time.sleep(15)
        samples = agent.metrics()
        return {"rss": memory_mib(agent.proc.pid, "VmRSS"),
                "hwm": memory_mib(agent.proc.pid, "VmHWM"), "runs": runs(samples)}
    finally:
        agent.stop()


WRK_SCRIPT = """
local counter = 0
request = function()
  counter = counter + 1
  local path = "/probe?module=http_2xx&target=" .. "%s/t/" .. (counter %% %d)
  return wrk.format("GET", path)
end
"""


def measure_blackbox(binary, targets, seconds, base_url, connections):
    folder = tempfile.mkdtemp(prefix="vigie-bb-")
    config = os.path.join(folder, "blackbox.yml")
    with open(config, "w") as f:
        f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                "    http:\n      preferred_ip_protocol: ip4\n")
    script = os.path.join(folder, "probe.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % (base_url, targets))
    port = free_port()
    proc = subprocess.Popen([binary, f"--config.file={config}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(
                        f"{url}/probe?module=http_2xx&target={base_url}/t/0", timeout=5) as r:
                    check = r.read().decode()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("blackbox_exporter did not start")
        if "probe_success 1" not in check:
            raise RuntimeError("blackbox_exporter probe failed:\n" + check)
        before = cpu_seconds(proc.pid)
        started = time.monotonic()
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", script,
                              url], capture_output=True, text=True, check=True).stdout
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(proc.pid) - before
        done = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {"done": done, "achieved": done / elapsed, "cpu_per_1000": cpu / done * 1000,
                "cpu_share": cpu / elapsed, "errors": int(errors.group(1)) if errors else 0,
                "rss": memory_mib(proc.pid, "VmRSS")}
    finally:
        proc.terminate()
        proc.wait(10)
        subprocess.run(["rm", "-rf", folder], check=False)


def main():
    # A SIGTERM (e.g. from `timeout`) still stops nginx, the agents and the exporter.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--blackbox", default="/usr/bin/prometheus-blackbox-exporter")
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--rates", default="1000,2500,5000,7500,10000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rss-probes", type=int, default=10000)
    parser.add_argument("--blackbox-connections", type=int, default=16)
    args = parser.parse_args()

    nginx = Nginx([("targets", "backlog=4096", None,
                    "location /t/ { default_type text/plain; return 200 \"ok\\n\"; }")],
                  workers=1)
    base_url = f"http://127.0.0.1:{nginx.ports['targets']}"
    try:
        print(f"nginx on {base_url}, {args.targets} targets, fresh connection per probe")
        print("\nvigie-agent:")
        print(f"  {'rate/s':>8} {'achieved':>9} {'failed':>7} {'CPU-s/1000':>11} {'CPU %':>6}"
              "  sustained")
        results = []
        for rate in (int(r) for r in args.rates.split(",")):
            try:
                r = measure_vigie(args.agent, args.targets, rate, args.seconds, base_url)
            except (OSError, http.client.HTTPException) as e:
                # An overloaded loop cannot serve /metrics either: that rate is not sustained.
                print(f"  {rate:>8}  agent unresponsive ({e.__class__.__name__}): not sustained")
                continue
            results.append(r)
            print(f"  {rate:>8} {r['achieved']:>9.0f} {r['failed']:>7.0f} "
                  f"{r['cpu_per_1000']:>11.4f} {r['cpu_share'] * 100:>5.0f}%  "
                  f"{'yes' if r['sustained'] else 'no'}", flush=True)
        sustained = [r["rate"] for r in results if r["sustained"]]
        rss = measure_rss(args.agent, args.rss_probes, base_url)
        print(f"  highest sustained rate: {max(sustained) if sustained else 0} probes/s")
        print(f"  RSS with {args.rss_probes} http probes (each every 10s): "
              f"{rss['rss']:.1f} MiB, peak {rss['hwm']:.1f} MiB")

        bb = measure_blackbox(args.blackbox, args.targets, args.seconds, base_url,
                              args.blackbox_connections)
        print("\nblackbox_exporter (wrk driving /probe):")
        print(f"  {bb['done']} probes in {args.seconds:.0f}s = {bb['achieved']:.0f}/s, "
              f"{bb['errors']} errors, CPU-s/1000: {bb['cpu_per_1000']:.4f}, "
              f"CPU {bb['cpu_share'] * 100:.0f}%, RSS {bb['rss']:.1f} MiB")

        # CPU per probe falls as the rate rises (more work per wake-up), for both: vigie is
        # measured again at the rate blackbox_exporter reached, and compared there.
        same = measure_vigie(args.agent, args.targets, round(bb["achieved"]), args.seconds,
                             base_url)
        print(f"\nCPU-s per 1,000 probes at {bb['achieved']:.0f}/s: vigie "
              f"{same['cpu_per_1000']:.4f} ({same['achieved']:.0f}/s, {same['failed']:.0f} failed) "
              f"vs blackbox {bb['cpu_per_1000']:.4f}: "
              f"blackbox / vigie = {bb['cpu_per_1000'] / same['cpu_per_1000']:.1f}x")
    finally:
        nginx.close()


if __name__ == "__main__":
    main()
