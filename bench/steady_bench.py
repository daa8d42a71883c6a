#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Steady-state benchmark: N targets every --interval seconds, as an operator runs the agent.

For each schedule (N targets, each checked once per interval, fresh connection per check, all
served by one local nginx) three subjects run side by side in the same window, so they share the
machine's noise and every figure is a ratio between peers measured together:
  - vigie: the real agent with N http(s) probes, scraped once per interval as Prometheus would;
  - blackbox_exporter: the same N targets through /probe at the same rate, sent by a
    Prometheus-like driver (keep-alive connections, each target at its own phase);
  - floor (http only): bench/steady_floor, one epoll thread and no library doing the same
    connect + GET + close at the same rate: what the kernel makes unavoidable here. It runs
    twice: "floor" wakes for each check on its own; "floor/win" starts the checks due in one
    window together, with the window vigie-agent uses for that interval (start_window below).
For https the floor is wrk's CPU per request with a full handshake per request (nginx has
session tickets and its session cache off, so nobody resumes), measured flat out.

Reported per subject: % of one core, CPU-s per 1,000 probes, RSS, wake-ups per probe
(voluntary + involuntary context switches of all threads, /proc/PID/task/*/status) and system
calls per probe (perf stat -e raw_syscalls:sys_enter over one extra interval, kept out of the
CPU window because tracing costs CPU). Noise: the CPU share of every interval of the window is
kept, and the spread (max-min over mean) is printed, with how busy the whole machine was.

Bounded in time: about 8 minutes with the defaults, under a minute with --quick. Usage:
  bench/steady_bench.py --agent build-release/agent/app/vigie-agent \\
      --floor build-release/bench/steady_floor [--quick] [--compare OLD-vigie-agent]
"""

import argparse
import asyncio
import http.client
import os
import re
import mmap
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from agent_harness import context_switches, cpu_seconds, memory_mib  # noqa: E402
from http_bench import QuietAgent  # noqa: E402
from http_test_server import Nginx, TestPki, free_port  # noqa: E402


def count_runs(body):
    """(runs, failed runs) of vigie_probe_runs_total in a /metrics body, read only as far as
    needed: a full parse of 10,000 probes' samples takes seconds of the bench's own CPU."""
    total = failed = 0.0
    for line in body.splitlines():
        if line.startswith("vigie_probe_runs_total{"):
            value = float(line.rsplit(" ", 1)[1])
            total += value
            if 'result="ok"' not in line:
                failed += value
    return total, failed


def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Subject:
    """A measured process: its counters are read at the same instants as its peers'."""

    def __init__(self, name, pid, count):
        self.name, self.pid, self.count = name, pid, count  # count(): probes done so far
        self.marks = []
        self.syscalls_per_second = None

    def mark(self):
        self.marks.append((time.monotonic(), cpu_seconds(self.pid),
                           context_switches(self.pid), self.count()))

    def summary(self):
        (t0, cpu0, ctx0, n0), (t1, cpu1, ctx1, n1) = self.marks[0], self.marks[-1]
        probes = max(n1 - n0, 1)
        shares = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(self.marks, self.marks[1:])]
        mean = sum(shares) / len(shares)
        rate = (n1 - n0) / (t1 - t0)
        syscalls = self.syscalls_per_second / rate if self.syscalls_per_second and rate else None
        return {"rate": (n1 - n0) / (t1 - t0), "share": (cpu1 - cpu0) / (t1 - t0),
                "per_1000": (cpu1 - cpu0) / probes * 1000, "wakeups": (ctx1 - ctx0) / probes,
                "spread": (max(shares) - min(shares)) / mean if mean else 0.0,
                "rss": memory_mib(self.pid, "VmRSS"), "syscalls": syscalls}


class Driver(threading.Thread):
    """Prometheus-like /probe traffic to blackbox_exporter: each target at its own phase of the
    interval, on keep-alive connections, on an asyncio loop of its own. When the exporter
    falls behind, at most MAX_IN_FLIGHT probes wait for it; the others are skipped."""

    MAX_IN_FLIGHT = 256

    def __init__(self, port, module, urls, interval):
        super().__init__(daemon=True)
        self.port, self.module, self.urls, self.interval = port, module, urls, interval
        self.done = self.failed = self.skipped = 0
        self.stopping = False

    def run(self):
        asyncio.run(self.drive())

    async def drive(self):
        idle = []
        loop = asyncio.get_running_loop()
        start, n, count = loop.time(), 0, len(self.urls)
        tasks = set()
        while not self.stopping:
            due = start + self.interval * (n // count) + self.interval * (n % count) / count
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            if len(tasks) >= self.MAX_IN_FLIGHT:
                self.skipped += 1  # as Prometheus would: that scrape is not sent at all
                continue
            task = asyncio.create_task(self.probe(idle, self.urls[(n - 1) % count]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()
        for _, writer in idle:
            writer.close()

    async def probe(self, idle, url):
        path = f"/probe?module={self.module}&target={urllib.parse.quote(url, safe='')}"
        conn = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = conn
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            length = re.search(r"content-length: (\d+)", head)
            if length:
                body = await reader.readexactly(int(length.group(1)))
            else:  # chunked
                body = b""
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    body += (await reader.readexactly(size + 2))[:size]
                    if size == 0:
                        break
            if b"probe_success 1" in body:
                self.done += 1
            else:
                self.failed += 1
            idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.failed += 1
            writer.close()


class Blackbox:
    def __init__(self, binary, ca_file):
        self.dir = tempfile.TemporaryDirectory(prefix="vigie-bb-")
        config = os.path.join(self.dir.name, "blackbox.yml")
        with open(config, "w") as f:
            f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n"
                    "      preferred_ip_protocol: ip4\n"
                    f"      tls_config: {{ ca_file: {ca_file} }}\n")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("blackbox_exporter did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()


def start_window(interval):
    """Milliseconds of the agent's start window for an interval (scheduler startWindow())."""
    target = min(max(int(interval * 1000) // 64, 1), 256)
    return 1 << (target.bit_length() - 1)


class Floor:
    """bench/steady_floor; its counts are read from a file it keeps mapped."""

    def __init__(self, binary, port, targets, interval, seconds, window_ms=1):
        self.counters = tempfile.NamedTemporaryFile(prefix="vigie-floor-")
        self.counters.write(bytes(16))
        self.counters.flush()
        self.map = mmap.mmap(self.counters.fileno(), 16)
        self.proc = subprocess.Popen(
            [binary, "127.0.0.1", str(port), str(targets), str(int(interval * 1000)),
             str(int(seconds)), str(window_ms), self.counters.name], stdout=subprocess.DEVNULL)

    @property
    def done(self):
        return struct.unpack("qq", self.map[:16])[0]

    @property
    def failed(self):
        return struct.unpack("qq", self.map[:16])[1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.map.close()
        self.counters.close()


def count_syscalls(subjects, seconds):
    """System calls per second of each subject (all its threads) over the same `seconds`."""
    tracers = [subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                                 str(subject.pid), "--", "sleep", str(seconds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for subject in subjects]
    for subject, perf in zip(subjects, tracers):
        match = re.search(r"^(\d+),", perf.communicate()[1], re.M)
        subject.syscalls_per_second = int(match.group(1)) / seconds if match else None


def agent_config(count, interval, base_url, ca_file):
    lines = ["agent:\n  listen: \"127.0.0.1:PORT\"\n  state_dir: STATE_DIR\n"
             f"  max_concurrent_probes: {max(1000, count)}\n  log_level: warning\nprobes:\n"]
    tls = f", tls_ca_file: \"{ca_file}\"" if base_url.startswith("https") else ""
    for i in range(count):
        lines.append(f"  - name: t{i}\n    type: http\n    interval: {int(interval * 1000)}ms\n"
                     f"    timeout: 2s\n    http: {{ url: \"{base_url}/t/{i}\"{tls} }}\n")
    return "".join(lines)


def measure(args, protocol, targets, base_url, port, ca_file):
    interval = args.interval
    urls = [f"{base_url}/t/{i}" for i in range(targets)]
    config = agent_config(targets, interval, base_url, ca_file)
    agents = [("vigie", QuietAgent(args.agent, config))]
    if args.compare:
        agents.append(("vigie-old", QuietAgent(args.compare, config)))
    blackbox = Blackbox(args.blackbox, ca_file)
    driver = Driver(blackbox.port, "http_2xx", urls, interval)
    driver.start()
    total_seconds = 3600  # stopped by the bench; the agents may take long to start
    floors = []
    if protocol == "http":
        floors = [("floor", Floor(args.floor, port, targets, interval, total_seconds)),
                  ("floor/win", Floor(args.floor, port, targets, interval, total_seconds,
                                      start_window(interval)))]
    agent_runs = {name: (0.0, 0.0) for name, _ in agents}  # (runs, failed runs)

    def scrape():
        """The Prometheus scrape of each agent, counted in its CPU like any other. Returns how
        to read their runs: the caller marks every subject first, at the instant of the scrape."""
        bodies = [(name, agent.scrape()) for name, agent in agents]
        return lambda: agent_runs.update({name: count_runs(body) for name, body in bodies})

    subjects = [Subject(name, agent.proc.pid, lambda name=name: agent_runs[name][0])
                for name, agent in agents]
    subjects.append(Subject("blackbox", blackbox.proc.pid, lambda: driver.done))
    for name, floor in floors:
        subjects.append(Subject(name, floor.proc.pid, lambda floor=floor: floor.done))

    def failures():
        return ([agent_runs[name][1] for name, _ in agents] + [driver.failed + driver.skipped]
                + [f.failed for _, f in floors])

    try:
        next_scrape = time.monotonic()
        for _ in range(args.warmup_intervals):
            next_scrape += interval
            time.sleep(max(0.0, next_scrape - time.monotonic()))
            scrape()()
        failed_before = failures()
        busy0 = machine_busy()
        for i in range(args.intervals + 1):
            if i:
                next_scrape += interval
                time.sleep(max(0.0, next_scrape - time.monotonic()))
            read_runs = scrape()
            for subject in subjects:
                subject.mark()
            read_runs()
            for subject in subjects[:len(agents)]:
                subject.marks[-1] = subject.marks[-1][:3] + (subject.count(),)
        busy1 = machine_busy()
        failed = [a - b for a, b in zip(failures(), failed_before)]
        # One more interval, under perf, the agents scraped at its end as before.
        next_scrape += interval
        counter = threading.Thread(target=count_syscalls, args=(subjects, interval - 1))
        counter.start()
        time.sleep(max(0.0, next_scrape - time.monotonic()))
        scrape()()
        counter.join()
        machine = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
        return ({s.name: s.summary() for s in subjects}, failed, machine,
                {name: memory_mib(agent.proc.pid, "VmHWM") for name, agent in agents})
    finally:
        driver.stopping = True
        driver.join(10)
        for _, agent in agents:
            agent.stop()
        blackbox.stop()
        for _, floor in floors:
            floor.stop()


def wrk_floor(url, seconds):
    """CPU-s per 1,000 requests of wrk, a fresh connection (and handshake) per request."""
    proc = subprocess.Popen(["wrk", "-t1", "-c8", f"-d{seconds}s", "-H", "Connection: close",
                             url], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return {"per_1000": (usage.ru_utime + usage.ru_stime) / done * 1000, "rate": done / seconds,
            "errors": errors.group(0) if errors else "none"}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--floor", required=True, help="build-.../bench/steady_floor")
    parser.add_argument("--compare", help="another vigie-agent binary (e.g. before a change), "
                        "run side by side with --agent in the same windows")
    parser.add_argument("--blackbox", default="/usr/bin/prometheus-blackbox-exporter")
    parser.add_argument("--targets", default="1000,5000,10000", help="http schedules")
    parser.add_argument("--https-targets", default="1000",
                        help="https schedules (each probe a full handshake: 1,000 every 15 s "
                        "already costs more than the http schedules)")
    parser.add_argument("--protocols", default="http,https")
    parser.add_argument("--interval", type=float, default=15)
    parser.add_argument("--warmup-intervals", type=int, default=1)
    parser.add_argument("--intervals", type=int, default=2, help="intervals in the CPU window")
    parser.add_argument("--wrk-seconds", type=int, default=8)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1,000 targets every 5 s, one-interval windows")
    args = parser.parse_args()
    if args.quick:
        args.targets, args.https_targets = "1000", "1000"
        args.interval, args.warmup_intervals, args.intervals, args.wrk_seconds = 5, 2, 1, 3
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    pki = TestPki()
    quiet_tls = "ssl_session_tickets off; ssl_session_cache off;"
    target = "location /t/ { default_type text/plain; return 200 \"ok\\n\"; }"
    nginx = Nginx([("http", "backlog=4096", None, target),
                   ("https", "ssl backlog=4096", pki.good, quiet_tls + target)], workers=1)
    try:
        print(f"nginx on loopback, each target checked every {args.interval:g} s on a fresh "
              f"connection; started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", flush=True)
        floors = {}
        for protocol in args.protocols.split(","):
            port = nginx.ports[protocol]
            floors[protocol] = wrk_floor(f"{protocol}://127.0.0.1:{port}/t/0", args.wrk_seconds)
            w = floors[protocol]
            print(f"wrk {protocol}, Connection: close, flat out: {w['rate']:.0f} req/s, "
                  f"{w['per_1000']:.4f} CPU-s/1000, errors: {w['errors']}", flush=True)
        for protocol in args.protocols.split(","):
            port = nginx.ports[protocol]
            base_url = f"{protocol}://127.0.0.1:{port}"
            schedules = args.targets if protocol == "http" else args.https_targets
            for targets in (int(t) for t in schedules.split(",")):
                try:
                    result, failed, machine, peaks = measure(args, protocol, targets, base_url,
                                                             port, pki.ca_crt)
                except (OSError, http.client.HTTPException) as e:
                    # An overloaded agent cannot answer /metrics either: no figure for it.
                    print(f"\n{protocol}, {targets} targets: an agent stopped answering /metrics "
                          f"({e.__class__.__name__}): not sustained", flush=True)
                    continue
                print(f"\n{protocol}, {targets} targets / {args.interval:g} s "
                      f"({targets / args.interval:.0f} probes/s); whole machine "
                      f"{machine * 100:.0f}% busy; peak RSS "
                      + ", ".join(f"{name} {hwm:.1f} MiB" for name, hwm in peaks.items()))
                print(f"  {'':9} {'probes/s':>8} {'failed':>6} {'% core':>7} {'spread':>6} "
                      f"{'CPU-s/1000':>10} {'RSS MiB':>7} {'wake/probe':>10} {'sysc/probe':>10}")
                for (name, r), bad in zip(result.items(), failed):
                    syscalls = f"{r['syscalls']:.1f}" if r["syscalls"] else "n/a"
                    print(f"  {name:9} {r['rate']:8.1f} {bad:6.0f} {r['share'] * 100:6.2f}% "
                          f"{r['spread'] * 100:5.0f}% {r['per_1000']:10.4f} {r['rss']:7.1f} "
                          f"{r['wakeups']:10.2f} {syscalls:>10}")
                vigie = result["vigie"]["per_1000"]
                line = f"  blackbox / vigie {result['blackbox']['per_1000'] / vigie:.1f}x"
                if "floor" in result:
                    line += (f", vigie / floor {vigie / result['floor']['per_1000']:.2f}x, "
                             f"vigie / floor/win {vigie / result['floor/win']['per_1000']:.2f}x")
                line += f", vigie / wrk {protocol} {vigie / floors[protocol]['per_1000']:.2f}x"
                if "vigie-old" in result:
                    line += (f", vigie-old / vigie "
                             f"{result['vigie-old']['per_1000'] / vigie:.2f}x")
                print(line, flush=True)
    finally:
        nginx.close()
        pki.close()


if __name__ == "__main__":
    main()
