#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The shipped probe samples (config/probes.d/*.yaml.sample) and config/vigie.yaml: every one
passes `vigie-agent --check-config` (secrets given as the service gets them, through
CREDENTIALS_DIRECTORY), carries the documented label set, and the recipes that can run here do,
with `vigie-agent --probe`: the http ones against nginx (Apache/Shibboleth front, Spring Boot
actuator, Symfony health, an ElasticSearch _cluster/health shape), the postgres ones and the
SYSCA batch-duration thresholds against the real PostgreSQL of the db fixture. Each runnable
sample is run as shipped except its address (host, port, database, CA file)."""

import argparse
import copy
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from http_test_server import Nginx  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standins"))
from form_login_app import FormLoginApp  # noqa: E402

SOURCE = None
AGENT = None
DB_ENV = None

# Debian's CA bundle stands for the samples' RHEL path /etc/pki/tls/certs/internal-ca.pem.
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
LABELS = {"app", "environment", "hosting_center", "ci"}
SECRETS = ["sla-db", "sla-es", "sla-sso", "slo-db2", "affelnet-db2", "siecle-db2", "sysca-db",
           "esculape-login", "incluscol-login", "itop-password"]


def samples():
    return sorted(glob.glob(os.path.join(SOURCE, "config", "probes.d", "*.yaml.sample")))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def sample_probes(name):
    return {p["name"]: p for p in load(os.path.join(SOURCE, "config", "probes.d", name))["probes"]}


class Scratch:
    """A folder with the credentials every sample names, and configs written into it."""

    def __init__(self, secrets=None):
        self.dir = tempfile.mkdtemp(prefix="vigie-samples-")
        self.credentials = os.path.join(self.dir, "credentials")
        os.makedirs(self.credentials)
        for name in SECRETS:
            self.secret(name, (secrets or {}).get(name, "not-the-real-" + name))

    def secret(self, name, value):
        with open(os.path.join(self.credentials, name), "w") as f:
            f.write(value + "\n")

    def config(self, probes=None, include=None, name="vigie.yaml"):
        document = {"agent": {"listen": "127.0.0.1:0",
                              "state_dir": os.path.join(self.dir, "state")}}
        if include:
            document["include"] = include
        if probes:
            document["probes"] = probes
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            yaml.safe_dump(document, f, sort_keys=False)
        return path

    def run(self, *args):
        return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CREDENTIALS_DIRECTORY": self.credentials})

    def probe(self, spec):
        """Runs one probe given as a dict; returns (exit code, output)."""
        result = self.run("--probe", spec["name"], "--config", self.config([spec]))
        return result.returncode, result.stdout + result.stderr

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.scratch = Scratch()

    def tearDown(self):
        self.scratch.close()

    def test_the_portfolio_is_there(self):
        names = {os.path.basename(p).split(".")[0] for p in samples()}
        self.assertTrue({"example", "sla", "slo", "affelnet", "siecle", "sysca", "esculape",
                         "incluscol"} <= names, names)

    def test_every_sample_passes_check_config_alone_and_all_together(self):
        total = 0
        for path in samples():
            count = len(load(path)["probes"])
            total += count
            result = self.scratch.run("--check-config", "--config",
                                      self.scratch.config(include=[path]))
            self.assertEqual(result.returncode, 0, f"{path}:\n{result.stderr}")
            self.assertIn(f"OK, {count} probes", result.stdout)
        result = self.scratch.run("--check-config", "--config",
                                  self.scratch.config(include=samples()))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"OK, {total} probes", result.stdout)

    def test_a_missing_secret_is_reported(self):
        os.remove(os.path.join(self.scratch.credentials, "sysca-db"))
        path = os.path.join(SOURCE, "config", "probes.d", "sysca.yaml.sample")
        result = self.scratch.run("--check-config", "--config", self.scratch.config(include=[path]))
        self.assertEqual(result.returncode, 1)
        self.assertIn("sysca-db", result.stderr)

    def test_every_probe_carries_the_documented_labels_and_instructions(self):
        for path in samples():
            for probe in load(path)["probes"]:
                where = f"{path}: {probe['name']}"
                self.assertEqual(set(probe.get("labels", {})), LABELS, where)
                # What level 1 does, in French: who to call is never left to guess at 3 a.m.
                self.assertRegex(probe.get("instructions", ""), r"(?i)\bappeler\b", where)

    def test_shipped_config_with_its_forwarding_block_uncommented(self):
        with open(os.path.join(SOURCE, "config", "vigie.yaml")) as f:
            text = f.read()
        self.assertIn("\n#forwarding:\n", text)
        block = text[text.index("\n#forwarding:\n") + 1:]
        uncommented = text[:text.index("\n#forwarding:\n") + 1] + re.sub(
            r"(?m)^#", "", block)
        uncommented = uncommented.replace("/var/lib/vigie", os.path.join(self.scratch.dir, "state"))
        uncommented = uncommented.replace("/etc/pki/tls/certs/internal-ca.pem", SYSTEM_CA)
        os.makedirs(os.path.join(self.scratch.dir, "shipped", "probes.d"))
        path = os.path.join(self.scratch.dir, "shipped", "vigie.yaml")
        with open(path, "w") as f:
            f.write(uncommented)
        result = self.scratch.run("--check-config", "--config", path)
        self.assertEqual(result.returncode, 0, result.stderr + uncommented)
        self.assertIn("forwarding:\n  alertmanager:", uncommented)


def reasons_in_code():
    """Every failure reason a probe can emit, read from the C++ sources: the first argument of
    fail()/critical()/unknown()/warning() (not config.fail, which names a key), a literal
    assigned to a result's reason, a JsonFailure's reason, and the literals returned by the reason-mapping functions
    (reasonFor, connectFailureReason, connectReason, queryReason...)."""
    found = set()
    # agent/src/forward is left out: its reasons (itop_config, itop_internal...) are a
    # destination's delivery outcomes, covered by the forwarder's runbook, not probe failures.
    forward = os.path.join(SOURCE, "agent", "src", "forward", "")
    sources = glob.glob(os.path.join(SOURCE, "probes", "**", "*.cc"), recursive=True) + \
        [path for path in glob.glob(os.path.join(SOURCE, "agent", "src", "**", "*.cc"),
                                    recursive=True) if not path.startswith(forward)]
    for source in sources:
        with open(source) as f:
            text = f.read()
        found.update(re.findall(
            r'(?<![\w.])(?:fail|critical|unknown|warning)\(\s*"([a-z_]+)"', text))
        found.update(re.findall(r'\breason\s*=[^;]*?"([a-z_]+)"\s*;', text))
        found.update(re.findall(r'\bJsonFailure\{\s*"([a-z_]+)"', text))
        function = ""
        for line in text.splitlines():
            if re.match(r"^\S.*\b(\w+)\(.*\)\s*(const\s*)?\{\s*$", line):
                function = line
            match = re.match(r'^\s+return "([a-z_]+)";', line)
            if match and re.search(r"[Rr]eason\w*\(", function):
                found.add(match.group(1))
    return found


class RunbooksTest(unittest.TestCase):
    def runbooks(self, kind):
        folder = os.path.join(SOURCE, "docs", "runbooks", kind)
        return {os.path.splitext(name)[0] for name in os.listdir(folder) if name.endswith(".md")}

    def test_every_failure_reason_the_code_emits_has_a_runbook(self):
        reasons = reasons_in_code()
        # The scan itself works: a reason of each probe family is found.
        self.assertTrue({"dns", "tls_verify", "json_assertion", "auth", "expectation", "exec",
                         "timeout", "probe_error", "plugin_error"} <= reasons, reasons)
        self.assertEqual(reasons - self.runbooks("reasons"), set())

    def test_every_documented_reason_has_a_runbook(self):
        with open(os.path.join(SOURCE, "docs", "CONFIGURATION.md")) as f:
            text = f.read()
        documented = set()
        # Tables whose first column is headed "reason", and the inline "Failure reasons" lists.
        for table in re.findall(r"(?m)^\| reason \|.*\n((?:\|.*\n)+)", text):
            documented.update(re.findall(r"(?m)^\| `([a-z_]+)` \|", table))
        for line in re.findall(r"Failure reasons[^:]*:([^.]*)\.", text):
            documented.update(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", line)))
        self.assertIn("redirect_limit", documented)
        self.assertEqual(documented - self.runbooks("reasons"), set())

    def test_every_alert_rule_links_its_runbook(self):
        rules = load(os.path.join(SOURCE, "packaging", "prometheus", "vigie-rules.yml"))
        alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
        self.assertLessEqual({"VigieAgentDown", "VigieProbeDown", "VigieCertificateExpiringSoon",
                              "VigieForwarderBacklog", "VigieConfigReloadFailed",
                              "VigieStateDatabaseUnhealthy"}, {rule["alert"] for rule in alerts})
        base = "https://github.com/vigie-supervision/vigie/blob/main/docs/runbooks/"
        for rule in alerts:
            url = rule["annotations"]["runbook_url"]
            self.assertEqual(url, f"{base}alerts/{rule['alert']}.md")
            self.assertTrue(os.path.exists(os.path.join(SOURCE, "docs", "runbooks", "alerts",
                                                        rule["alert"] + ".md")), url)
        self.assertEqual(self.runbooks("alerts"), {rule["alert"] for rule in alerts})

    def test_index_links_every_runbook_and_every_link_resolves(self):
        index_path = os.path.join(SOURCE, "docs", "runbooks", "README.md")
        with open(index_path) as f:
            index = f.read()
        for kind in ("reasons", "alerts", "agent"):
            for name in self.runbooks(kind):
                self.assertIn(f"]({kind}/{name}.md)", index)
        for doc in glob.glob(os.path.join(SOURCE, "docs", "**", "*.md"), recursive=True) + [
                os.path.join(SOURCE, "README.md")]:
            with open(doc) as f:
                text = f.read()
            # The docs stand alone: every relative link resolves to a file of this repository.
            for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
                path = os.path.realpath(os.path.join(os.path.dirname(doc), target))
                self.assertTrue(os.path.exists(path), f"{doc}: broken link {target}")
                self.assertTrue(path.startswith(os.path.realpath(SOURCE) + os.sep),
                                f"{doc}: {target} leaves the repository")


ES_HEALTH = ('{"cluster_name":"sla","status":"%s","number_of_nodes":%d,"unassigned_shards":%d,'
             '"active_shards_percent_as_number":100.0}')
SPRING_UP = ('{"status":"UP","components":{"db":{"status":"UP"},"diskSpace":{"status":"UP"},'
             '"elasticsearch":{"status":"UP"},"ping":{"status":"UP"}}}')
SPRING_DB_DOWN = ('{"status":"DOWN","components":{"db":{"status":"DOWN","details":{"error":'
                  '"org.springframework.jdbc.CannotGetJdbcConnectionException"}},'
                  '"diskSpace":{"status":"UP"},"elasticsearch":{"status":"UP"}}}')
LIIP_OK = ('{"checks":[{"checkName":"Doctrine DBAL","message":"","status":0,'
           '"status_name":"check_result_ok"}],"globalStatus":"OK"}')
LIIP_KO = ('{"checks":[{"checkName":"Doctrine DBAL","message":"connection refused","status":2,'
           '"status_name":"check_result_critical"}],"globalStatus":"KO"}')
SHIB_STATUS = ('<StatusHandler time="2026-11-29T03:00:00Z"><Version Xerces-C="3.2.3" '
               'Shibboleth="3.4.1"/><SessionCache><OK/></SessionCache><Status><OK/></Status>'
               '</StatusHandler>')
LOGIN = ('<form method="post"><input name="_username"><input name="_password" type="password">'
         '<input type="hidden" name="_csrf_token" value="x"></form>')
IDP = "https://idp.example.fr/idp/profile/SAML2/Redirect/SSO?SAMLRequest=fZ"


def literal(kind, text, status=200):
    return (f"default_type {kind}; return {status} '{text}';")


SITE = "\n".join([
    f"location /sla/ {{ return 302 {IDP}; }}",
    f"location /slo/ {{ return 302 {IDP}; }}",
    "location /wrong/sla/ { return 302 https://sla.example.fr/maintenance.html; }",
    f"location = /Shibboleth.sso/Status {{ {literal('text/xml', SHIB_STATUS)} }}",
    f"location = /actuator/health {{ {literal('application/json', SPRING_UP)} }}",
    f"location = /down/actuator/health {{ {literal('application/json', SPRING_DB_DOWN, 503)} }}",
    f"location = /monitor/health/run {{ {literal('application/json', LIIP_OK)} }}",
    f"location = /failing/monitor/health/run {{ {literal('application/json', LIIP_KO, 502)} }}",
    f"location = /login {{ {literal('text/html', LOGIN)} }}",
    "location = /maintenance/login { default_type text/html; "
    "return 200 '<h1>Site en maintenance</h1>'; }",
    "location /affelnet/ { default_type text/html; return 200 'Affelnet'; }",
    "location /siecle/ { default_type text/html; return 200 'SIECLE'; }",
] + [
    f"location = /{name}/_cluster/health {{ {literal('application/json', ES_HEALTH % health)} }}"
    for name, health in (("green", ("green", 3, 0)), ("yellow", ("yellow", 3, 5)),
                         ("red", ("red", 3, 12)), ("two-nodes", ("green", 2, 0)))
])


class SymfonyLoginJourneyTest(unittest.TestCase):
    """The Symfony login journeys as shipped, against a form login with a CSRF token (the
    stand-in of tests/standins), their base URL and account moved to it."""

    def setUp(self):
        self.app = FormLoginApp(user="vigie-supervision", password="s3cret")
        self.scratch = Scratch({f"{app}-login": "s3cret" for app in ("esculape", "incluscol")})

    def tearDown(self):
        self.scratch.close()
        self.app.close()

    def journey(self, app):
        probe = copy.deepcopy(sample_probes(f"{app}.yaml.sample")[f"{app}-login"])
        probe["scenario"]["variables"]["base"] = f"http://127.0.0.1:{self.app.port}"
        return probe

    def test_login_succeeds_with_the_right_password(self):
        for app in ("esculape", "incluscol"):
            code, output = self.scratch.probe(self.journey(app))
            self.assertEqual(code, 0, output)

    def test_wrong_password_fails_the_login_step(self):
        self.scratch.secret("esculape-login", "Wr0ng-pa55")
        code, output = self.scratch.probe(self.journey("esculape"))
        self.assertEqual(code, 2, output)
        self.assertIn("login", output)
        self.assertIn("(reason: body_regex)", output)
        self.assertNotIn("Wr0ng-pa55", output)


@unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
class HttpSamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx([("site", "", None, SITE)])
        cls.base = f"http://127.0.0.1:{cls.nginx.ports['site']}"

    @classmethod
    def tearDownClass(cls):
        cls.nginx.close()

    def setUp(self):
        self.scratch = Scratch()

    def tearDown(self):
        self.scratch.close()

    def local(self, probe, prefix=""):
        """The probe as shipped, its URL moved to nginx (same path, behind `prefix`)."""
        probe = copy.deepcopy(probe)
        path = urllib.parse.urlsplit(probe["http"]["url"]).path
        probe["http"]["url"] = self.base + prefix + path
        return probe

    def assertStatus(self, outcome, code, reason=None, text=None):
        returncode, output = outcome
        self.assertEqual(returncode, code, output)
        if reason:
            self.assertIn(f"(reason: {reason})", output)
        if text:
            self.assertIn(text, output)

    def test_every_http_sample_succeeds_against_a_healthy_service(self):
        ran = []
        for path in samples():
            for probe in load(path)["probes"]:
                if probe["type"] == "http":
                    self.assertStatus(self.scratch.probe(self.local(probe)), 0)
                    ran.append(probe["name"])
        self.assertGreaterEqual(len(ran), 12, ran)

    def test_front_not_sent_to_the_idp(self):
        probe = sample_probes("sla.yaml.sample")["sla-front-idp-redirect"]
        self.assertStatus(self.scratch.probe(self.local(probe, "/wrong")), 2, "header_regex",
                          "header location does not match")

    def test_spring_boot_503_names_the_failing_component(self):
        for sample, name in (("sla.yaml.sample", "sla-back-health"),
                             ("slo.yaml.sample", "slo-back-health")):
            probe = sample_probes(sample)[name]
            self.assertStatus(self.scratch.probe(self.local(probe, "/down")), 2, "json_assertion",
                              "$.components.db.status == UP, got DOWN")

    def test_symfony_health_and_login_page(self):
        for app in ("esculape", "incluscol"):
            probes = sample_probes(f"{app}.yaml.sample")
            self.assertStatus(self.scratch.probe(self.local(probes[f"{app}-health"], "/failing")),
                              2, "json_assertion", "$.globalStatus == OK, got KO")
            self.assertStatus(
                self.scratch.probe(self.local(probes[f"{app}-login-page"], "/maintenance")), 2,
                "body_regex")

    def test_elasticsearch_green_yellow_red(self):
        probe = sample_probes("sla.yaml.sample")["sla-es-cluster-health"]
        command = probe["nagios"]["command"]
        url_index = command.index("https://sla-es.example.fr:9200")
        for state, code, text in (("green", 0, "is green, 3 nodes"),
                                  ("yellow", 1, "is yellow, 3 nodes (at least 3), 5 unassigned"),
                                  ("red", 2, "is red"), ("two-nodes", 2, "2 nodes (at least 3)")):
            local = copy.deepcopy(probe)
            local["nagios"]["command"][url_index] = f"{self.base}/{state}"
            self.assertStatus(self.scratch.probe(local), code, None, text)
        # The perfdata become metrics: nodes and unassigned shards.
        returncode, output = self.scratch.probe(local)
        self.assertIn('vigie_nagios_perfdata{label="nodes",uom=""} 2\n', output)
        self.assertIn('vigie_nagios_perfdata{label="unassigned_shards",uom=""} 0\n', output)


class PostgresSamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DB_ENV:
            raise unittest.SkipTest("no --db-env: run through ctest (db fixture)")
        with open(DB_ENV) as f:
            cls.db = dict(line.strip().split("=", 1) for line in f if "=" in line)
        cls.psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
        cls.sql("DROP TABLE IF EXISTS batch_execution; CREATE TABLE batch_execution "
                "(job_name text, start_time timestamptz, end_time timestamptz)")

    @classmethod
    def tearDownClass(cls):
        cls.sql("DROP TABLE IF EXISTS batch_execution")

    @classmethod
    def sql(cls, statement):
        db = cls.db
        subprocess.run([cls.psql, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement,
                        f"host=127.0.0.1 port={db['PG_PORT']} dbname={db['DB_NAME']} "
                        f"user={db['DB_USER']} password={db['DB_PASSWORD']} sslmode=require"],
                       check=True, capture_output=True, timeout=30)

    def setUp(self):
        password = self.db["DB_PASSWORD"]
        self.scratch = Scratch({"sla-db": password, "sysca-db": password})

    def tearDown(self):
        self.scratch.close()

    def local(self, probe):
        """The probe as shipped, moved to the test server (TLS still verified, verify-full)."""
        probe = copy.deepcopy(probe)
        settings = probe["postgres"]
        self.assertEqual(settings["sslmode"], "verify-full")
        settings.update(host="127.0.0.1", port=int(self.db["PG_PORT"]),
                        dbname=self.db["DB_NAME"], user=self.db["DB_USER"],
                        tls_ca_file=self.db["TLS_CA_FILE"])
        return probe

    def test_sla_database_checks(self):
        for name, probe in sample_probes("sla.yaml.sample").items():
            if probe["type"] == "postgres":
                code, output = self.scratch.probe(self.local(probe))
                self.assertEqual(code, 0, f"{name}: {output}")
        code, output = self.scratch.probe(
            self.local(sample_probes("sla.yaml.sample")["sla-db-connections"]))
        self.assertRegex(output, r"vigie_db_query_value\{column=\"used_pct\"\} \d+")

    def test_sysca_batch_duration_thresholds(self):
        probes = sample_probes("sysca.yaml.sample")
        self.assertEqual(self.scratch.probe(self.local(probes["sysca-db-connect"]))[0], 0)
        batch = self.local(probes["sysca-batch-duration"])
        code, output = self.scratch.probe(batch)
        self.assertEqual(code, 2, output)  # no run recorded at all
        self.assertIn("(reason: expectation)", output)
        # Each new run is the latest; the probe judges the latest only.
        for started, ended, expected in (
                ("10 days", "1 hour", 0),
                ("9 days", "1 hour 30 minutes", 0),       # 5400 s: not above 1 h 30
                ("8 days", "1 hour 45 minutes", 1),
                ("7 days", "2 hours 30 minutes", 2),
                ("3 hours", None, 2),                      # still running after 3 h
                ("30 minutes", None, 0)):                  # running for 30 min
            end = f"now() - interval '{started}' + interval '{ended}'" if ended else "NULL"
            self.sql("INSERT INTO batch_execution VALUES ('sysca-nightly', "
                     f"now() - interval '{started}', {end})")
            code, output = self.scratch.probe(batch)
            self.assertEqual(code, expected, f"{started} / {ended}: {output}")
            if expected:
                self.assertIn("(reason: expectation)", output)


def main():
    global SOURCE, AGENT, DB_ENV
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--db-env")
    args, rest = parser.parse_known_args()
    SOURCE, AGENT, DB_ENV = os.path.abspath(args.source), os.path.abspath(args.agent), args.db_env
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
