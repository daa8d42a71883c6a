# SPDX-License-Identifier: Apache-2.0
"""The scenario probe against real parts, through `vigie-agent --probe`:

- the SSO kit (Apache 2.4 + Shibboleth SP 3 as the service, SimpleSAMLphp as the IdP, all on
  loopback), started once for this module from VIGIE_SSO_KIT (default: <repo>/../shared/sso):
  the SAML login journey, and its failures with the failing step and reason (wrong password,
  IdP down, shibd down, an IdP signing certificate the SP does not trust, a missing attribute);
- a form-login application with a CSRF token (tests/standins/form_login_app.py): login by
  extraction and by form, a forged token, the deadline hit in step 3.

Usage: test_scenario_probe.py --agent PATH/TO/vigie-agent
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
for folder in ("standins", "integration", os.path.join("probes", "http")):
    sys.path.insert(0, os.path.join(REPO, "tests", folder))
from agent_harness import Agent, value  # noqa: E402
from form_login_app import FormLoginApp  # noqa: E402
from test_http_probe import Outcome as HttpOutcome  # noqa: E402

AGENT = None
KIT = os.environ.get("VIGIE_SSO_KIT") or os.path.join(REPO, "..", "shared", "sso")
KIT_DIR = None
KIT_ENV = {}


class Outcome(HttpOutcome):
    """What `--probe` printed: status, reason, message (without its reason), samples, details."""

    def __init__(self, exit_code, output):
        super().__init__(exit_code, output)
        self.message = re.sub(r" \(reason: \w+\)$", "", self.message)

    def step(self, family, name):
        return self.labelled_value(f"probe_scenario_step_{family}", step=name)


def probe(block, timeout="15s", env=None):
    with tempfile.TemporaryDirectory(prefix="vigie-scenario-") as folder:
        path = os.path.join(folder, "vigie.yaml")
        with open(path, "w") as f:
            f.write("probes:\n  - name: journey\n    type: scenario\n    interval: 60s\n"
                    f"    timeout: {timeout}\n    scenario: {json.dumps(block)}\n")
        proc = subprocess.run([AGENT, "--probe", "journey", "--config", path],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})
        return Outcome(proc.returncode, proc.stdout + proc.stderr)


def kit(command, *args):
    subprocess.run([os.path.join(KIT, command), KIT_DIR, *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)


def setUpModule():
    global KIT_DIR, KIT_ENV
    if not os.path.exists(os.path.join(KIT, "start-sso.sh")):
        raise RuntimeError(f"SSO kit not found at {KIT} (set VIGIE_SSO_KIT)")
    # Under /tmp and traversable: Apache's children (www-data) read the kit's files.
    KIT_DIR = tempfile.mkdtemp(prefix="vigie-sso-", dir="/tmp")
    os.chmod(KIT_DIR, 0o755)
    kit("start-sso.sh")
    with open(os.path.join(KIT_DIR, "kit.env")) as f:
        KIT_ENV = dict(line.strip().split("=", 1) for line in f
                       if "=" in line and not line.startswith("#"))


def tearDownModule():
    if KIT_DIR:
        kit("stop-sso.sh")
        shutil.rmtree(KIT_DIR, ignore_errors=True)


class SamlJourney(unittest.TestCase):
    """SP protected page -> IdP login form -> credentials -> SAML POST back -> protected page."""

    WRONG_PASSWORD = "Wr0ng-Pa55word"

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="vigie-scenario-secret-")
        self.password_file = os.path.join(self.folder, "password")

    def tearDown(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def journey(self, password=None, target="/secure/", attribute_check=None):
        with open(self.password_file, "w") as f:
            f.write(password or KIT_ENV["SSO_PASSWORD"])
        final = {"name": "saml-post", "form": {},
                 "xpath": [{"path": "//p[@id='user']/b", "equals": KIT_ENV["SSO_USERNAME"]}],
                 "fail_if_body_not_matches": ["(?m)^uid=agent-supervision$"]}
        if attribute_check:
            final["xpath"].append(attribute_check)
        return {
            "tls_ca_file": KIT_ENV["SSO_CA_CERT"],
            "username": KIT_ENV["SSO_USERNAME"],
            "password_file": self.password_file,
            "variables": {"sp": KIT_ENV["SSO_SP_BASE_URL"]},
            "steps": [
                {"name": "sp-to-idp", "url": "{{sp}}" + target,
                 "xpath": [{"path": "//form//input[@name='password']", "exists": True}]},
                {"name": "idp-login", "form": {"name": "f"},
                 "fields": {"username": "{{username}}", "password": "{{password}}"},
                 "xpath": [{"path": "//input[@name='SAMLResponse']", "exists": True}]},
                final,
            ],
        }

    def assertFailsAt(self, out, step, reason, message_part):
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.exit_code, 2, out)
        self.assertEqual(out.reason, reason, out)
        self.assertTrue(out.message.startswith(f"étape {step} : "), out)
        self.assertIn(message_part, out.message, out)
        self.assertEqual(out.step("success", step), 0, out)
        self.assertNotIn(KIT_ENV["SSO_PASSWORD"], out.output)
        self.assertNotIn(self.WRONG_PASSWORD, out.output)

    def test_login_reaches_the_protected_page_as_the_user(self):
        out = probe(self.journey())
        self.assertEqual(out.status, "OK", out)
        self.assertRegex(out.message, r"^3 steps, 6 requests in [\d.]+ms$")
        self.assertEqual(out.samples["probe_scenario_requests"], 6)
        for step in ("sp-to-idp", "idp-login", "saml-post"):
            self.assertEqual(out.step("success", step), 1, out)
            self.assertGreater(out.step("duration_seconds", step), 0, out)
        # --probe shows each step and each request with its timing.
        self.assertRegex(out.output, r"step 2/3 idp-login:\n  POST https://127\.0\.0\.1:\d+/simplesaml/"
                         r"module\.php/core/loginuserpass\.php -> 200 in [\d.]+ms\n  ok in")
        self.assertIn("/Shibboleth.sso/SAML2/POST -> 302", out.output)
        self.assertIn("certificate verified", out.output)
        self.assertGreater(out.samples["probe_ssl_earliest_cert_expiry"], 2e9)
        self.assertNotIn(KIT_ENV["SSO_PASSWORD"], out.output)

    def test_certificate_expiry_thresholds_judge_the_whole_journey(self):
        # The kit's certificates live years: a 100-year threshold is crossed once every step passed.
        out = probe(dict(self.journey(), tls_expiry_warning="36500d"))
        self.assertEqual((out.status, out.reason), ("WARNING", "tls_expiry"), out)
        self.assertEqual(out.step("success", "saml-post"), 1, out)
        out = probe(dict(self.journey(), tls_expiry_critical="36500d"))
        self.assertEqual((out.status, out.reason), ("CRITICAL", "tls_expiry"), out)

    def test_each_run_of_the_daemon_logs_in_again(self):
        # Were a run's cookies (the SP session) kept for the next one, step 1 would land on the
        # protected page and find no login form.
        agent = Agent(AGENT, 'agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }\n'
                      "probes:\n  - name: journey\n    type: scenario\n    interval: 2s\n"
                      f"    timeout: 2s\n    scenario: {json.dumps(self.journey())}\n")
        try:
            runs = lambda samples, result: value(  # noqa: E731
                samples, "vigie_probe_runs_total", probe="journey", result=result) or 0
            samples = agent.wait_for(lambda s: runs(s, "ok") >= 3, "three journeys", timeout=40)
            self.assertEqual(runs(samples, "critical"), 0, agent.logs())
            self.assertEqual(value(samples, "probe_scenario_step_success", step="saml-post"), 1)
            _, body = agent.get("/metrics")
            self.assertNotIn(KIT_ENV["SSO_PASSWORD"], body + agent.logs())
        finally:
            agent.stop()

    def test_password_from_the_environment(self):
        block = self.journey()
        del block["password_file"]
        block["password"] = "${VIGIE_TEST_SSO_PASSWORD}"
        out = probe(block, env={"VIGIE_TEST_SSO_PASSWORD": KIT_ENV["SSO_PASSWORD"]})
        self.assertEqual(out.status, "OK", out)

    def test_wrong_password_fails_at_the_login_step(self):
        out = probe(self.journey(password=self.WRONG_PASSWORD))
        self.assertFailsAt(out, "idp-login", "xpath_assertion",
                           "XPath //input[@name='SAMLResponse'] found nothing")
        self.assertEqual(out.step("success", "sp-to-idp"), 1, out)
        self.assertIn("step 3/3 saml-post: not run", out.output)
        # The excerpt of the IdP's answer: its login form again, with its error.
        self.assertRegex(out.output, r"  answer: .*Incorrect username or password")

    def test_untrusted_idp_signing_certificate_fails_at_the_sp(self):
        # /badcert/ is an SP application whose IdP metadata carries another signing key: the
        # IdP signs as usual and the SP's ACS refuses the assertion with a 500.
        out = probe(self.journey(target="/badcert/"))
        self.assertFailsAt(out, "saml-post", "http_status", "HTTP 500 is not a valid status")
        self.assertEqual(out.step("success", "idp-login"), 1, out)
        self.assertRegex(out.output, r"  answer: .*signature could not be verified")

    def test_missing_attribute_on_the_protected_page(self):
        out = probe(self.journey(attribute_check={"path": "//pre[@id='attributes']",
                                                  "matches": "(?m)^entitlement="}))
        self.assertFailsAt(out, "saml-post", "xpath_assertion",
                           "XPath //pre[@id='attributes'] is ")
        self.assertIn("does not match (?m)^entitlement=", out.message)

    def test_z_idp_down_fails_at_the_redirect_to_it(self):
        kit("stop-sso.sh", "idp")
        try:
            out = probe(self.journey())
        finally:
            kit("start-sso.sh")
        self.assertFailsAt(out, "sp-to-idp", "connect", "onnect")
        self.assertIn(f"127.0.0.1:{KIT_ENV['SSO_IDP_PORT']}", out.output)
        self.assertEqual(probe(self.journey()).status, "OK")

    def test_z_shibd_down_makes_the_sp_answer_500(self):
        kit("stop-sso.sh", "shibd")
        try:
            out = probe(self.journey(), timeout="20s")
        finally:
            kit("start-sso.sh")
        self.assertFailsAt(out, "sp-to-idp", "http_status", "HTTP 500 is not a valid status")
        self.assertRegex(out.output, r"  answer: .*Cannot connect to shibd")
        self.assertEqual(probe(self.journey()).status, "OK")


class FormLoginWithCsrf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = FormLoginApp()
        cls.base = f"http://127.0.0.1:{cls.app.port}"

    @classmethod
    def tearDownClass(cls):
        cls.app.close()

    def by_extraction(self, csrf="{{csrf}}", last=None):
        return {
            "username": "alice",
            "password": "wonderland",
            "variables": {"base": self.base},
            "steps": [
                {"name": "login-page", "url": "{{base}}/login",
                 "extract": [{"var": "csrf", "xpath": "//input[@name='_csrf_token']/@value"}]},
                {"name": "login", "method": "POST", "url": "{{base}}/login_check",
                 "fields": {"_username": "{{username}}", "_password": "{{password}}",
                            "_csrf_token": csrf},
                 "xpath": [{"path": "//h1[@id='welcome']", "equals": "Welcome alice"}]},
                last or {"name": "api", "url": "{{base}}/api/me",
                         "json": [{"path": "$.user", "equals": "alice"}],
                         "extract": [{"var": "request_id", "header": "X-Request-Id"},
                                     {"var": "session", "cookie": "SESSID"}]},
            ],
        }

    def test_login_with_the_extracted_token(self):
        out = probe(self.by_extraction())
        self.assertEqual(out.status, "OK", out)
        self.assertRegex(out.message, r"^3 steps, 4 requests")
        self.assertIn("POST http://127.0.0.1:", out.output)
        self.assertIn("/login_check -> 302", out.output)
        self.assertNotIn("wonderland", out.output)

    def test_login_by_submitting_the_form(self):
        out = probe({
            "username": "alice", "password": "wonderland",
            "steps": [
                {"name": "login-page", "url": f"{self.base}/login"},
                {"name": "login", "form": {"action": "login_check$"},
                 "fields": {"_username": "{{username}}", "_password": "{{password}}"},
                 "fail_if_body_not_matches": ["Welcome alice"]},
            ],
        })
        self.assertEqual(out.status, "OK", out)

    def test_forged_token_is_refused(self):
        out = probe(self.by_extraction(csrf="forged-{{csrf}}"))
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "http_status", out)
        self.assertEqual(out.message, "étape login : HTTP 403 is not a valid status", out)
        self.assertRegex(out.output, r"  answer: Invalid CSRF token\.")
        self.assertEqual(out.step("success", "login-page"), 1, out)
        self.assertEqual(out.step("success", "api"), 0, out)

    def test_wrong_password_shows_the_form_again(self):
        block = self.by_extraction()
        block["password"] = "not-the-password"
        out = probe(block)
        self.assertEqual(out.reason, "xpath_assertion", out)
        self.assertTrue(out.message.startswith("étape login : XPath //h1[@id='welcome']"), out)
        self.assertIn("Invalid credentials.", out.output)
        self.assertNotIn("not-the-password", out.output)

    def test_missing_form_names_what_was_looked_for(self):
        out = probe({"steps": [{"name": "page", "url": f"{self.base}/login"},
                               {"name": "submit", "form": {"id": "register"}}]})
        self.assertEqual(out.reason, "form_not_found", out)
        self.assertIn("étape submit : no form id=register on the previous page", out.message)

    def test_deadline_hit_in_step_three(self):
        # Steps 1 and 2 take milliseconds; the margin is for a loaded machine.
        out = probe(self.by_extraction(last={"name": "report", "url": "{{base}}/slow?seconds=10"}),
                    timeout="4s")
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "timeout", out)
        self.assertTrue(out.message.startswith("étape report : "), out)
        self.assertEqual(out.step("success", "login"), 1, out)
        self.assertEqual(out.step("success", "report"), 0, out)
        self.assertLess(out.step("duration_seconds", "report"), 4.0, out)
        run = float(re.search(r"\| duration=([\d.]+)s", out.output).group(1))
        self.assertGreater(run, 3.5, out)  # one deadline for the whole run

    def test_secrets_echoed_by_the_server_are_not_shown(self):
        out = probe({"password": "wonderland",
                     "steps": [{"name": "echo", "url": f"{self.base}/echo?token={{{{password}}}}",
                                "xpath": [{"path": "//p", "equals": "nothing"}]}]})
        self.assertEqual(out.reason, "xpath_assertion", out)
        self.assertEqual(out.message, "étape echo : XPath //p is 'token=***', expected 'nothing'",
                         out)
        self.assertIn("/echo?token=*** -> 200", out.output)
        self.assertNotIn("wonderland", out.output)

    def test_config_errors_name_the_step(self):
        out = probe({"steps": [{"name": "a", "url": "{{nowhere}}/x"}]})
        self.assertNotEqual(out.exit_code, 0, out)
        self.assertIn("steps: [0] (a): '{{nowhere}}/x': unknown variable 'nowhere'", out.output)
        out = probe({"steps": [{"name": "a", "form": {}}]})
        self.assertIn("the first step has no previous page", out.output)
        out = probe({"steps": [{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://x/"}]})
        self.assertIn("[1] (a): name: another step has this name", out.output)
        out = probe({"steps": [{"name": "a", "url": "http://x/", "xpath": [{"path": "//a[",
                                                                          "exists": True}]}]})
        self.assertIn("[0] (a): invalid XPath expression '//a['", out.output)
        self.assertNotIn("XPath error", out.output)  # libxml2 prints nothing of its own


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = os.path.abspath(args.agent)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
