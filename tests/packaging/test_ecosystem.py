#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The files shipped for operators: Prometheus rules (promtool check and unit tests), the scrape
configuration example, the Grafana dashboard and the man pages."""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = None

# Series Prometheus itself makes.
PROMETHEUS_SERIES = {"up", "ALERTS"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "le", "time", "sort", "sum", "avg", "count", "rate",
                "avg_over_time", "histogram_quantile", "label_values", "inf", "nan"}


def path(*parts):
    return os.path.join(SOURCE, *parts)


def documented_metrics():
    names = set()
    for doc in glob.glob(path("docs", "*.md")) + [path("README.md")]:
        with open(doc) as f:
            names.update(re.findall(r"`((?:probe|vigie)_[a-z0-9_]+)", f.read()))
    return names


def metric_names(expr):
    """Names of the series an expression selects (identifiers followed by { or standing alone,
    minus PromQL's own words and label names inside braces)."""
    without_braces = re.sub(r"\{[^}]*\}", "{}", expr)
    without_strings = re.sub(r'"[^"]*"', '""', without_braces)
    without_grouping = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                              "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_grouping)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("__")}


def base_name(metric):
    return re.sub(r"_(bucket|count|sum)$", "", metric)


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


@unittest.skipUnless(shutil.which("promtool"), "promtool not installed")
class PrometheusFilesTest(unittest.TestCase):
    def test_rules_pass_promtool_check(self):
        result = run("promtool", "check", "rules", path("packaging", "prometheus",
                                                         "vigie-rules.yml"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS: 10 rules found", result.stdout)

    def test_rules_unit_tests(self):
        result = run("promtool", "test", "rules", "vigie-rules.test.yml",
                     cwd=path("packaging", "prometheus", "tests"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS", result.stdout)

    def test_rules_cover_the_operational_alerts(self):
        with open(path("packaging", "prometheus", "vigie-rules.yml")) as f:
            text = f.read()
        alerts = set(re.findall(r"- alert: (\w+)", text))
        self.assertEqual(alerts, {"VigieAgentDown", "VigieProbeDown",
                                  "VigieCertificateExpiringSoon", "VigieForwarderBacklog",
                                  "VigieConfigReloadFailed", "VigieStateDatabaseUnhealthy"})
        self.assertIn("< 14 * 86400", text)

    def test_scrape_config_example_is_valid(self):
        with tempfile.TemporaryDirectory(prefix="vigie-scrape-") as tmp:
            with open(path("packaging", "prometheus", "scrape-config.example.yml")) as f:
                text = f.read()
            # The files it names exist on a Prometheus server, not here: point them at copies.
            shutil.copy(path("packaging", "prometheus", "vigie-rules.yml"), tmp)
            for name in ("vigie-ca.crt", "vigie-password"):
                open(os.path.join(tmp, name), "w").close()
            text = text.replace("/etc/prometheus/rules/", tmp + "/").replace(
                "/etc/prometheus/", tmp + "/")
            config = os.path.join(tmp, "prometheus.yml")
            with open(config, "w") as f:
                f.write(text)
            result = run("promtool", "check", "config", config)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


class DashboardTest(unittest.TestCase):
    def setUp(self):
        with open(path("packaging", "grafana", "vigie-dashboard.json")) as f:
            self.dashboard = json.load(f)
        self.panels = [p for p in self.dashboard["panels"] if p["type"] != "row"]
        self.exprs = [t["expr"] for p in self.panels for t in p.get("targets", [])]

    def test_shape(self):
        self.assertEqual(self.dashboard["uid"], "vigie-portfolio")
        ids = [p["id"] for p in self.dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        titles = " ".join(p["title"] for p in self.panels)
        for topic in ("per application", "by phase", "Certificate expiry", "DB", "Alert state",
                      "Forwarder"):
            self.assertIn(topic, titles)
        variables = {v["name"] for v in self.dashboard["templating"]["list"]}
        for expr in self.exprs:
            for used in re.findall(r"\$(\w+)", expr):
                self.assertTrue(used.startswith("__") or used in variables, (used, expr))

    def test_panels_do_not_overlap(self):
        cells = set()
        for p in self.dashboard["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, p["title"])
                    cells.add((x, y))

    def test_every_metric_is_documented(self):
        documented = documented_metrics()
        self.assertIn("probe_success", documented)  # the scan itself works
        with open(path("packaging", "prometheus", "vigie-rules.yml")) as f:
            rule_exprs = re.findall(r"expr: >-\n((?:\s{10}.*\n)+)|expr: (.*)", f.read())
        exprs = self.exprs + [a or b for a, b in rule_exprs]
        for expr in exprs:
            for metric in metric_names(expr):
                name = base_name(metric)
                self.assertTrue(name in documented or name in PROMETHEUS_SERIES,
                                f"{name} in {expr!r} is not documented")

    @unittest.skipUnless(shutil.which("promtool"), "promtool not installed")
    def test_every_query_parses(self):
        # promtool has no expression checker; recording rules made of the queries are checked.
        rules = {"groups": [{"name": "dashboard", "rules": []}]}
        for i, expr in enumerate(self.exprs):
            concrete = expr.replace("$__rate_interval", "5m")
            concrete = re.sub(r"\$\w+", ".*", concrete)
            rules["groups"][0]["rules"].append({"record": f"dashboard_query_{i}",
                                                "expr": concrete})
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            json.dump(rules, f)  # JSON is YAML
            f.flush()
            result = run("promtool", "check", "rules", f.name)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


@unittest.skipUnless(shutil.which("groff"), "groff not installed")
class ManPageTest(unittest.TestCase):
    def test_pages_render_without_warnings(self):
        for page in ("vigie-agent.8", "vigie.yaml.5", "vigiectl.1"):
            result = run("groff", "-man", "-Tutf8", "-ww", "-z", path("docs", "man", page),
                         env={**os.environ, "LC_ALL": "C.UTF-8"})
            self.assertEqual((result.returncode, result.stderr), (0, ""), page)
            text = run("man", "-l", path("docs", "man", page),
                       env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""}).stdout
            self.assertIn("SEE ALSO", text)

    def test_agent_page_lists_every_option_of_help(self):
        agent_help = run(AGENT, "--help").stdout if AGENT else ""
        with open(path("docs", "man", "vigie-agent.8")) as f:
            page = f.read().replace("\\-", "-")
        for option in set(re.findall(r"--[a-z-]+", agent_help)):
            self.assertIn(option, page)


AGENT = None

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--agent")
    args, rest = parser.parse_known_args()
    SOURCE = args.source
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
