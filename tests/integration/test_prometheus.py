#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end with real parts: Debian's Prometheus scrapes a real vigie-agent over TLS with
basic auth (the shipped scrape configuration's shape), loads the shipped rules, and the test
reads the results back through Prometheus' HTTP API."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from agent_harness import Agent, Listener, closed_port
from test_endpoint_security import Pki, bcrypt

AGENT = None
SOURCE = None
PROMETHEUS = shutil.which("prometheus")

AGENT_CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: STATE_DIR, web_config_file: {web} }}
defaults: {{ interval: 1s, timeout: 500ms }}
probes:
  - name: reachable
    type: tcp
    labels: {{ app: SLO, env: test }}
    tcp: {{ address: "127.0.0.1:{up}" }}
  - name: unreachable
    type: tcp
    labels: {{ app: SLO, env: test }}
    tcp: {{ address: "127.0.0.1:{down}" }}
"""

PROMETHEUS_CONFIG = """
global: {{ scrape_interval: 1s, evaluation_interval: 1s }}
rule_files: ["{rules}"]
scrape_configs:
  - job_name: vigie
    scheme: https
    tls_config: {{ ca_file: "{ca}" }}
    basic_auth: {{ username: prometheus, password_file: "{password}" }}
    static_configs: [{{ targets: ["127.0.0.1:{agent_port}"] }}]
"""


@unittest.skipUnless(PROMETHEUS, "prometheus not installed")
class PrometheusEndToEndTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigie-prom-")
        self.addCleanup(self.tmp.cleanup)
        d = self.tmp.name
        pki = Pki(d)
        with open(os.path.join(d, "password"), "w") as f:
            f.write("scrape-secret\n")
        web = os.path.join(d, "web.yaml")
        with open(web, "w") as f:
            f.write("tls_server_config: { cert_file: server.crt, key_file: server.key }\n"
                    f"basic_auth_users: {{ prometheus: '{bcrypt('scrape-secret')}' }}\n")
        self.listener = Listener()
        self.addCleanup(self.listener.close)
        self.agent = Agent(AGENT, AGENT_CONFIG.format(web=web, up=self.listener.port,
                                                      down=closed_port()))
        self.addCleanup(self.agent.stop)

        # The shipped rules; only the `for:` of the two alerts this test waits for is shortened
        # (2m -> 2s), everything else (expressions, labels, annotations) is as shipped.
        with open(os.path.join(SOURCE, "packaging", "prometheus", "vigie-rules.yml")) as f:
            rules = f.read()
        for alert in ("VigieProbeDown", "VigieAgentDown"):
            rules, count = re.subn(rf"(- alert: {alert}\n(?:.*\n)*?\s+for: )2m", r"\g<1>2s",
                                   rules)
            self.assertEqual(count, 1, alert)
        rules_file = os.path.join(d, "vigie-rules.yml")
        with open(rules_file, "w") as f:
            f.write(rules)
        config = os.path.join(d, "prometheus.yml")
        with open(config, "w") as f:
            f.write(PROMETHEUS_CONFIG.format(rules=rules_file, ca=pki.path("ca.crt"),
                                             password=os.path.join(d, "password"),
                                             agent_port=self.agent.port))
        self.prometheus_port = closed_port()
        self.prometheus_log = open(os.path.join(d, "prometheus.log"), "w+")
        self.prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={d}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.prometheus_port}"],
            stdout=self.prometheus_log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_prometheus)

    def stop_prometheus(self):
        self.prometheus.terminate()
        try:
            self.prometheus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.prometheus.kill()
            self.prometheus.wait()
        self.prometheus_log.close()

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success")
        return body["data"]

    def wait(self, fetch, predicate, what, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                value = fetch()
                if predicate(value):
                    return value
            except OSError:
                value = "unreachable"  # Prometheus still starting
            if time.time() > deadline:
                self.prometheus_log.seek(0)
                raise AssertionError(f"timed out waiting for {what}: {value}\nprometheus:\n"
                                     f"{self.prometheus_log.read()[-3000:]}\nagent:\n"
                                     f"{self.agent.logs()}")
            time.sleep(0.25)

    def query(self, expr):
        return {frozenset((k, v) for k, v in s["metric"].items()): float(s["value"][1])
                for s in self.api("query", query=expr)["result"]}

    def firing(self, alertname):
        return [a["labels"] for a in self.api("alerts")["alerts"]
                if a["labels"]["alertname"] == alertname and a["state"] == "firing"]

    def test_metrics_arrive_and_shipped_alerts_fire(self):
        agent_instance = f"127.0.0.1:{self.agent.port}"
        # The scrape over TLS with basic auth works.
        self.wait(lambda: self.query('up{job="vigie"}'), lambda r: list(r.values()) == [1.0],
                  "up == 1")
        results = self.wait(lambda: self.query("probe_success"), lambda r: len(r) == 2,
                            "both probe_success series")
        expected = {"job": "vigie", "instance": agent_instance, "type": "tcp", "app": "SLO",
                    "env": "test"}
        by_probe = {dict(labels)["probe"]: (dict(labels), value)
                    for labels, value in results.items()}
        self.assertEqual(by_probe["reachable"],
                         ({"__name__": "probe_success", "probe": "reachable", **expected}, 1.0))
        self.assertEqual(by_probe["unreachable"],
                         ({"__name__": "probe_success", "probe": "unreachable", **expected}, 0.0))
        reasons = self.query('vigie_probe_failure_info{probe="unreachable"}')
        self.assertEqual([dict(l)["reason"] for l in reasons], ["connect"])
        self.assertGreater(min(self.query("probe_duration_seconds").values()), 0)
        self.assertEqual(list(self.query('vigie_config_last_reload_successful').values()), [1.0])

        # The recording rules evaluate on the real series.
        ratio = self.wait(lambda: self.query("app:probe_success:ratio"), lambda r: len(r) == 1,
                          "app:probe_success:ratio")
        self.assertEqual(ratio, {frozenset({("__name__", "app:probe_success:ratio"),
                                            ("app", "SLO")}): 0.5})

        # The shipped "probe down" alert fires for the failing probe, and only for it.
        alerts = self.wait(lambda: self.firing("VigieProbeDown"), lambda a: len(a) >= 1,
                           "VigieProbeDown firing")
        self.assertEqual([(a["probe"], a["severity"], a["app"]) for a in alerts],
                         [("unreachable", "critical", "SLO")])

        # Stop the agent: up drops to 0 and VigieAgentDown fires.
        self.agent.stop()
        alerts = self.wait(lambda: self.firing("VigieAgentDown"), lambda a: len(a) >= 1,
                           "VigieAgentDown firing")
        self.assertEqual([(a["instance"], a["severity"]) for a in alerts],
                         [(agent_instance, "critical")])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--source", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    SOURCE = args.source
    unittest.main(argv=[sys.argv[0], "-v", *rest])
