#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One root cause, one alert: a real PostgreSQL stopped under four probes that depend on the
probe of the server itself gives exactly one trigger to the webhook, the server's, naming the
four; its restart gives exactly one resolve. The server is this test's own (initdb in a
temporary folder, loopback, ephemeral port): the shared database fixture is never touched."""

import argparse
import json
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_harness import Agent, closed_port, value  # noqa: E402
from forward_harness import Switch, Webhook  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standins"))
from itop_standin import ItopStandIn  # noqa: E402

AGENT = None


class Postgres:
    """A private PostgreSQL server (as the postgres user when run as root, like
    tests/db/db_servers.sh), started and stopped at will on one port."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(p.split("/")[-2]))
        if not bins:
            raise unittest.SkipTest("PostgreSQL server binaries are not installed")
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="vigie-pg-")
        self.port = closed_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust")

    def run(self, tool, *args):
        command = [os.path.join(self.bin, tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w",
                 "start", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def close(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: it-deps }}
defaults: {{ interval: 1s, timeout: 800ms }}
forwarding:
  heartbeat_interval: 1h
  backoff_base: 50ms
  backoff_cap: 300ms
  webhook:
    - name: crt
      url: "{url}"
      timeout: 1s
probes:
  - name: pg
    type: postgres
    interval: 3s
    max_attempts: 2
    retry_interval: 1s
    flapping: false
    labels: {{ app: sysca, environment: production, ci: PG-SYSCA }}
    postgres: {{ host: 127.0.0.1, port: {port}, user: postgres, dbname: postgres,
                sslmode: disable }}
  - name: pg-port
    type: tcp
    max_attempts: 1
    flapping: false
    depends_on: pg
    tcp: {{ address: "127.0.0.1:{port}" }}
  - name: pg-health-query
    type: postgres
    max_attempts: 1
    flapping: false
    depends_on: pg
    postgres: {{ host: 127.0.0.1, port: {port}, user: postgres, dbname: postgres,
                sslmode: disable, query: "SELECT 1" }}
  - name: pg-connections
    type: postgres
    max_attempts: 1
    flapping: false
    depends_on: pg
    postgres: {{ host: 127.0.0.1, port: {port}, user: postgres, dbname: postgres,
                sslmode: disable, query: "SELECT count(*) FROM pg_stat_activity" }}
  - name: app-db-check
    type: tcp
    max_attempts: 2
    flapping: false
    depends_on: pg
    tcp: {{ address: "127.0.0.1:{port}" }}
"""

CHILDREN = {"pg-port", "pg-health-query", "pg-connections", "app-db-check"}


class DependenciesTest(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.close)
        self.pg.start()
        self.state = tempfile.mkdtemp(prefix="vigie-deps-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.webhook = Webhook()
        self.addCleanup(self.webhook.close)

    def test_a_stopped_postgres_is_one_trigger_naming_its_four_dependents(self):
        agent = Agent(AGENT, CONFIG.format(state=self.state, url=self.webhook.url,
                                           port=self.pg.port))
        self.addCleanup(agent.stop)
        all_ok = lambda s: all(value(s, "vigie_probe_state", probe=p) == 0  # noqa: E731
                               and value(s, "probe_success", probe=p) == 1
                               for p in CHILDREN | {"pg"})
        agent.wait_for(all_ok, "every probe OK")
        self.pg.stop()
        agent.wait_for(lambda s: value(s, "vigie_probe_state_hard", probe="pg") == 1
                       and value(s, "vigie_probe_state", probe="pg") == 2, "pg HARD CRITICAL")
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        # Every child has failed and had the time to go HARD on its own (1 s interval).
        samples = agent.wait_for(
            lambda s: all(value(s, "vigie_probe_unreachable", probe=p) == 1 for p in CHILDREN),
            "the four children unreachable")
        time.sleep(3)
        triggers = self.webhook.events("trigger")
        self.assertEqual(len(triggers), 1, [t["check"]["name"] for t in triggers])
        trigger = triggers[0]
        self.assertEqual(trigger["check"]["name"], "pg")
        self.assertEqual(set(trigger["affected_probes"]), CHILDREN, trigger)
        for child in CHILDREN:
            self.assertIn(child, trigger["description"])
        self.assertEqual(trigger["resource"]["environment"], "production")
        self.assertEqual(trigger["resource"]["app"], "sysca")
        self.assertIn("(Europe/Paris)", trigger["description"])
        for child in CHILDREN:
            self.assertEqual(value(samples, "vigie_probe_state", probe=child), 2, child)
        self.assertEqual(value(samples, "vigie_forwarder_destinations", type="webhook"), 1)
        self.assertEqual(value(samples, "vigie_forwarder_destinations", type="alertmanager"), 0)
        logs = agent.logs()
        self.assertIn("probe=pg: HARD critical reason=", logs)

        self.pg.start()
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve", timeout=30)
        agent.wait_for(all_ok, "every probe OK again", timeout=30)
        time.sleep(2)
        alerts = self.webhook.alerts()
        self.assertEqual([(e["action"], e["check"]["name"]) for e in alerts],
                         [("trigger", "pg"), ("resolve", "pg")])


RETIRE_CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: it-retire }}
defaults: {{ interval: 200ms, timeout: 150ms }}
forwarding:
  heartbeat_interval: 1h
  backoff_base: 50ms
  backoff_cap: 300ms
  webhook:
    - name: crt
      url: "{url}"
      timeout: 1s
  itop:
    - name: cmdb
      url: "{itop}"
      timeout: 1s
      auth: form
      username: vigie
      password_file: "{password_file}"
      organization: 'SELECT Organization WHERE name = "DNE"'
      on_resolve: autoresolve
probes:
{probes}"""

WEB = """  - name: web
    type: tcp
    max_attempts: 1
    flapping: false
    labels: {{ ci: PORTAIL-X }}
    tcp: {{ address: "127.0.0.1:{port}" }}
"""


class RetireTest(unittest.TestCase):
    """Finding 5: a probe removed from the configuration while its alert is open."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-retire-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        self.webhook = Webhook()
        self.addCleanup(self.webhook.close)
        self.itop = ItopStandIn(user="vigie", password="pa55word")
        self.addCleanup(self.itop.close)
        self.password_file = os.path.join(self.state, "itop.pwd")
        with open(self.password_file, "w") as f:
            f.write("pa55word\n")

    def config(self, probes):
        return RETIRE_CONFIG.format(state=self.state, url=self.webhook.url, itop=self.itop.url,
                                    password_file=self.password_file, probes=probes)

    def test_a_removed_probe_retires_its_alert_and_never_resolves_it(self):
        agent = Agent(AGENT, self.config(WEB.format(port=self.target.port)))
        self.addCleanup(agent.stop)
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "web OK")
        self.target.down()
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        deadline = time.time() + 20
        while time.time() < deadline and len(self.itop.snapshot()) != 1:
            time.sleep(0.05)
        self.assertEqual(len(self.itop.snapshot()), 1, "no ticket")
        agent.write_config(self.config("  []\n").replace("probes:\n  []", "probes: []"))
        status, body = agent.post("/-/reload")
        self.assertEqual(status, 200, body)
        self.webhook.wait(lambda w: w.events("retire"), "the retire event")
        retire = self.webhook.events("retire")[0]
        self.assertEqual(retire["status"], "retired")
        self.assertIn("retirée de la configuration", retire["summary"])
        self.assertNotIn("rétablie", retire["summary"])
        self.assertEqual(self.webhook.events("resolve"), [])
        deadline = time.time() + 20
        while time.time() < deadline:
            ticket = next(iter(self.itop.snapshot().values()))
            if any("retirée" in line for line in ticket["log"]):
                break
            time.sleep(0.05)
        ticket = next(iter(self.itop.snapshot().values()))
        self.assertTrue(any("retirée" in line for line in ticket["log"]), ticket)
        self.assertEqual(ticket["status"], "new", "a retired alert must not resolve the ticket")
        self.assertNotIn("Rétablissement", json.dumps(ticket, ensure_ascii=False))


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = os.path.abspath(args.agent)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
