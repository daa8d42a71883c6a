#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""LDAP probe benchmark: client CPU seconds per 1,000 LDAP probes (connect, simple bind, search
of one entry) for vigie's ldap type and Nagios' check_ldap forked per check, in one run, on the
same private slapd (tests/support/ldap_test_server.py, loopback, ephemeral ports, stopped
afterwards), as a ratio (target: vigie >= 10x cheaper).

Two setups, each client getting the same one: ldap:// in clear, and ldaps:// verified against
the test CA (the handshake's crypto is then most of every client's cost).
  - vigie: the real agent with N ldap probes at a 1s interval; utime+stime of the agent process
    (/proc/PID/stat) over a window, divided by the runs counted in /metrics.
  - check_ldap: --runs sequential executions (fork + exec each, as Nagios does); children's
    rusage.
Only the client side is measured; the server's work is the same for both.
Usage:
  bench/ldap_bench.py --agent build-release/agent/app/vigie-agent [--runs 500] [--probes 50]
"""

import argparse
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from agent_harness import Agent, cpu_seconds  # noqa: E402
from http_test_server import TestPki  # noqa: E402
from ldap_test_server import ALICE, PASSWORDS, SUFFIX, Slapd  # noqa: E402

CHECK_LDAP = "/usr/lib/nagios/plugins/check_ldap"
BASE = f"ou=people,{SUFFIX}"
FILTER = "(uid=alice)"


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


def bench_vigie(agent_binary, url, ca_file, probes, window):
    tls = f', tls_ca_file: "{ca_file}"' if url.startswith("ldaps") else ""
    block = (f'{{ url: "{url}", bind_dn: "{ALICE}", password: "{PASSWORDS[ALICE]}", '
             f'search_base: "{BASE}", search_filter: "{FILTER}"{tls} }}')
    lines = ['agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }',
             "defaults: { interval: 1s, timeout: 1s }", "probes:"]
    lines += [f"  - {{ name: ldap{i}, type: ldap, ldap: {block} }}" for i in range(probes)]
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


def bench_check_ldap(port, ldaps, ca_file, runs):
    command = [CHECK_LDAP, "-H", "127.0.0.1", "-p", str(port), "-b", BASE, "-a", FILTER,
               "-D", ALICE, "-P", PASSWORDS[ALICE], "-3"]
    if ldaps:
        command.append("-S")
    env = dict(os.environ, LDAPTLS_CACERT=ca_file)
    failed = 0
    before = children_cpu()
    for _ in range(runs):
        failed += subprocess.run(command, stdout=subprocess.DEVNULL, env=env).returncode != 0
    return (children_cpu() - before) / runs * 1000, failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--runs", type=int, default=500, help="check_ldap runs per setup")
    parser.add_argument("--probes", type=int, default=50, help="vigie ldap probes at 1s")
    parser.add_argument("--window", type=int, default=15, help="vigie measured seconds")
    args = parser.parse_args()
    if not os.access(CHECK_LDAP, os.X_OK):
        sys.exit(f"{CHECK_LDAP} missing: apt-get install monitoring-plugins-standard")

    pki = TestPki()
    slapd = Slapd(*pki.good, pki.ca_crt)
    results = []
    try:
        for name, url, port, ldaps in (
                ("ldap://, clear", f"ldap://127.0.0.1:{slapd.port}", slapd.port, False),
                ("ldaps://, verified", f"ldaps://127.0.0.1:{slapd.tls_port}", slapd.tls_port,
                 True)):
            nagios, nagios_failed = bench_check_ldap(port, ldaps, pki.ca_crt, args.runs)
            vigie, runs, failed = bench_vigie(args.agent, url, pki.ca_crt, args.probes,
                                              args.window)
            results.append((name, nagios, nagios_failed, vigie, runs, failed))
    finally:
        slapd.close()
        pki.close()

    print("client CPU seconds per 1,000 LDAP probes (connect, simple bind, search of one entry)")
    for name, nagios, nagios_failed, vigie, runs, failed in results:
        print(f"[{name}]")
        print(f"  check_ldap, forked per check: {nagios:.3f} s   ({args.runs} runs, "
              f"{nagios_failed} failed)")
        print(f"  vigie, {args.probes} probes/s:         {vigie:.3f} s   ({runs:.0f} runs, "
              f"{failed:.0f} failed)")
        print(f"  check_ldap / vigie: {nagios / vigie:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
