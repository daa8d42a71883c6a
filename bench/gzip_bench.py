#!/usr/bin/env python3
"""What gzip costs and saves on the endpoint, with the real agent.

Runs vigie-agent with 10,000 tcp probes (to a closed loopback port: every one fails fast),
saves its /metrics once every probe has a result, writes a 2 MB HTML status page shaped like the
console's (one table row per probe), and runs gzip_bench (zlib levels 1-6 on both). Then times
whole /metrics requests over the agent's local socket with and without Accept-Encoding: gzip.

Usage: bench/gzip_bench.py --agent build-release/agent/app/vigie-agent
                           --bench build-release/bench/gzip_bench
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time

PROBES = 10_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--bench", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        socket_path = os.path.join(work, "vigie.sock")
        config = os.path.join(work, "vigie.yaml")
        with open(config, "w") as f:
            f.write(f"agent:\n  listen: '127.0.0.1:0'\n  socket: {socket_path}\n"
                    f"  state_dir: {work}/state\n  log_level: error\nprobes:\n")
            for i in range(PROBES):
                f.write(f"  - {{name: probe-{i:05d}, type: tcp, interval: 60s, timeout: 2s, "
                        f"labels: {{app: app-{i % 50}, environment: production}}, "
                        f"tcp: {{address: '127.0.0.1:1'}}}}\n")
        agent = subprocess.Popen([args.agent, "--config", config])
        try:
            metrics = os.path.join(work, "metrics.txt")
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                time.sleep(2)
                result = subprocess.run(["curl", "-sf", "--unix-socket", socket_path,
                                         "http://localhost/metrics", "-o", metrics])
                if result.returncode == 0:
                    with open(metrics) as f:
                        done = sum(1 for line in f if line.startswith("probe_success{"))
                    if done >= PROBES:
                        break
            page = os.path.join(work, "status.html")
            with open(page, "w") as f:
                f.write("<!DOCTYPE html><html lang=fr><body><table><caption>Sondes</caption>")
                i = 0
                while f.tell() < 2_000_000:
                    f.write(f"<tr><th scope=row><a href=\"/probes/probe-{i:05d}\">probe-{i:05d}"
                            f"</a></th><td class=critical>CRITIQUE</td><td>HARD</td>"
                            f"<td>30/11/2026 03:{i % 60:02d}:{i * 7 % 60:02d}</td>"
                            f"<td>connection refused: 127.0.0.1:1</td><td>app-{i % 50}</td></tr>\n")
                    i += 1
                f.write("</table></body></html>\n")
            subprocess.run([args.bench, metrics, page], check=True)
            for encoding in ([], ["-H", "Accept-Encoding: gzip"]):
                times = []
                for _ in range(9):
                    out = subprocess.run(
                        ["curl", "-s", "--unix-socket", socket_path, *encoding, "-o", os.devnull,
                         "-w", "%{time_total} %{size_download}", "http://localhost/metrics"],
                        capture_output=True, text=True, check=True).stdout.split()
                    times.append(float(out[0]))
                print(f"GET /metrics {'gzip' if encoding else 'plain'}: "
                      f"median {statistics.median(times) * 1000:.1f} ms, {out[1]} bytes")
        finally:
            agent.terminate()
            agent.wait()


if __name__ == "__main__":
    main()
