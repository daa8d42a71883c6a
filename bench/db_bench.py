#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Database probe benchmark: client CPU seconds per 1,000 PostgreSQL probes (fresh connection +
SELECT 1) for vigie, Nagios' check_pgsql and the floor `pgbench -C -S`, in one run, as ratios.

A private PostgreSQL is started with tests/db/db_servers.sh (loopback, ephemeral port) and
stopped afterwards. Two setups, each client getting the same one:
  - scram+tls: SCRAM-SHA-256 password and libpq's default sslmode=prefer (TLS), as in
    production; the handshake crypto is most of every client's cost.
  - trust, no TLS: what is left is each client's own per-probe overhead.
Only the client side is measured; the server's work is the same for all three.
  - vigie: the real agent with N postgres probes at a 1s interval, for each N of --probes (runs
    spread over the second: each one wakes the agent on its own at low rates, where pgbench
    runs back to back); utime+stime of the agent process (/proc/PID/stat) over a window,
    divided by the runs counted in /metrics.
  - check_pgsql: --runs sequential executions; children's rusage.
  - pgbench: `pgbench -C -S -n -c 1 -t RUNS` after `pgbench -i -s 1`; children's rusage.
  - with --loop, also bench/db_probe_loop: the same probe run back to back in one process, as
    pgbench does (the probe's own cost, without the agent's scheduling and idle wake-ups).
Usage:
  bench/db_bench.py --agent build-release/agent/app/vigie-agent \
      [--loop build-release/bench/db_probe_loop] [--runs 1000]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from agent_harness import Agent, cpu_seconds  # noqa: E402

SERVERS = os.path.join(HERE, "..", "tests", "db", "db_servers.sh")
CHECK_PGSQL = "/usr/lib/nagios/plugins/check_pgsql"


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def runs_by_result(agent):
    runs = {}
    for (name, labels), value in agent.metrics().items():
        if name == "vigie_probe_runs_total":
            result = dict(labels)["result"]
            runs[result] = runs.get(result, 0) + value
    return runs


class Setup:
    def __init__(self, name, port, user, password, sslmode):
        self.name, self.port, self.user = name, port, user
        self.password, self.sslmode = password, sslmode

    def libpq_env(self):
        env = dict(os.environ, PGSSLMODE=self.sslmode)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def bench_vigie(agent_binary, setup, probes, window):
    lines = ['agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }',
             "defaults: { interval: 1s, timeout: 1s }", "probes:"]
    for i in range(probes):
        lines.append(f"  - {{ name: pg{i}, type: postgres, postgres: {probe_block(setup)} }}")
    agent = Agent(agent_binary, "\n".join(lines) + "\n")
    try:
        time.sleep(2)  # every probe has run once
        before = runs_by_result(agent)
        cpu_before = cpu_seconds(agent.proc.pid)
        time.sleep(window)
        cpu_after = cpu_seconds(agent.proc.pid)
        after = runs_by_result(agent)
    finally:
        agent.stop()
    runs = sum(after.values()) - sum(before.values())
    failed = runs - (after.get("ok", 0) - before.get("ok", 0))
    return (cpu_after - cpu_before) / runs * 1000, runs, failed


def probe_block(setup):
    password = f', password: "{setup.password}"' if setup.password else ""
    return (f'{{ host: "127.0.0.1", port: {setup.port}, dbname: vigie, user: {setup.user}'
            f"{password}, sslmode: {setup.sslmode} }}")


def bench_loop(loop_binary, setup, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
        config.write("probes:\n  - { name: pg, type: postgres, timeout: 5s, postgres: "
                     + probe_block(setup) + " }\n")
        config.flush()
        out = subprocess.run([loop_binary, config.name, str(runs)], check=True,
                             capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def bench_check_pgsql(setup, runs):
    command = [CHECK_PGSQL, "-H", "127.0.0.1", "-P", setup.port, "-d", "vigie", "-l", setup.user]
    if setup.password:
        command += ["-p", setup.password]
    failed = 0
    before = children_cpu()
    for _ in range(runs):
        failed += subprocess.run(command, stdout=subprocess.DEVNULL,
                                 env=setup.libpq_env()).returncode != 0
    return (children_cpu() - before) / runs * 1000, failed


def bench_pgbench(setup, runs, pgbench, env=None):
    before = children_cpu()
    subprocess.run([pgbench, "-C", "-S", "-n", "-c", "1", "-t", str(runs), "-h", "127.0.0.1",
                    "-p", setup.port, "-U", setup.user, "vigie"],
                   env={**setup.libpq_env(), **(env or {})}, check=True, stdout=subprocess.DEVNULL)
    return (children_cpu() - before) / runs * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--loop", help="bench/db_probe_loop binary (optional)")
    parser.add_argument("--runs", type=int, default=1000, help="check_pgsql and pgbench runs")
    parser.add_argument("--probes", default="50,200", help="vigie probes at 1s, comma-separated")
    parser.add_argument("--window", type=int, default=20, help="vigie measured seconds")
    args = parser.parse_args()

    pg_bin = os.path.join("/usr/lib/postgresql",
                          sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1], "bin")
    env_file = os.path.join(tempfile.mkdtemp(prefix="vigie-db-bench-"), "servers.env")
    subprocess.run([SERVERS, "start", env_file], check=True)
    results = []
    try:
        env = dict(line.strip().split("=", 1) for line in open(env_file) if "=" in line)
        scram = Setup("scram+tls", env["PG_PORT"], "vigie", env["DB_PASSWORD"], "prefer")
        trust = Setup("trust, no TLS", env["PG_PORT"], "vigie_trust", "", "disable")
        subprocess.run([os.path.join(pg_bin, "pgbench"), "-i", "-s", "1", "-q", "-h",
                        "127.0.0.1", "-p", scram.port, "-U", scram.user, "vigie"],
                       env=scram.libpq_env(), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(pg_bin, "psql"), "-q", "-h", "127.0.0.1", "-p", scram.port,
                        "-U", scram.user, "-d", "vigie", "-c",
                        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO vigie_trust"],
                       env=scram.libpq_env(), check=True)
        for setup in (scram, trust):
            floor = bench_pgbench(setup, args.runs, os.path.join(pg_bin, "pgbench"))
            # vigie's postgres probe defaults to gssencmode=disable; libpq's own default looks
            # for a Kerberos ticket on every connection. Shown so the comparison stays fair.
            floor_nogss = bench_pgbench(setup, args.runs, os.path.join(pg_bin, "pgbench"),
                                        {"PGGSSENCMODE": "disable"})
            nagios, nagios_failed = bench_check_pgsql(setup, args.runs)
            vigie = [(probes, *bench_vigie(args.agent, setup, probes, args.window))
                     for probes in (int(n) for n in args.probes.split(","))]
            loop = bench_loop(args.loop, setup, args.runs) if args.loop else None
            results.append((setup, floor, floor_nogss, nagios, nagios_failed, vigie, loop))
    finally:
        subprocess.run([SERVERS, "stop", env_file], check=False)
        os.rmdir(os.path.dirname(env_file))

    print("client CPU seconds per 1,000 PostgreSQL probes (fresh connection + SELECT 1)")
    for setup, floor, floor_nogss, nagios, nagios_failed, vigie, loop in results:
        print(f"[{setup.name}]")
        print(f"  pgbench -C -S (floor):  {floor:.3f} s   ({args.runs} transactions)")
        print(f"  same, gssencmode=disable as vigie: {floor_nogss:.3f} s")
        for probes, cpu, runs, failed in vigie:
            if failed > 0.01 * runs:
                # Timeouts mean the server could not keep up: the client did less than asked.
                print(f"  vigie, {probes:>4} probes/s: {failed:.0f} of {runs:.0f} runs failed, the "
                      "server is saturated at this rate: no figure")
                continue
            print(f"  vigie, {probes:>4} probes/s: {cpu:.3f} s   ({runs:.0f} runs, {failed:.0f} failed)"
                  f"   {cpu / floor:.2f}x the floor (target <= 1.5x; {cpu / floor_nogss:.2f}x without "
                  f"GSS), check_pgsql / vigie {nagios / cpu:.1f}x (target >= 10x)")
        if loop:
            print(f"  vigie probe, in a loop: {loop[0]:.3f} s   ({args.runs} runs, {loop[1]} failed)"
                  f"   {loop[0] / floor:.2f}x the floor (db_probe_loop, no scheduling)")
        print(f"  check_pgsql:            {nagios:.3f} s   ({args.runs} runs, {nagios_failed} "
              f"failed)   {nagios / floor:.2f}x the floor")


if __name__ == "__main__":
    main()
