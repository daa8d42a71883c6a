#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The iTop adapter against a real iTop 3.2 (the kit in <repo>/../shared/itop, or
$VIGIE_ITOP_KIT), started once for this whole module and stopped at its end (about 40 s cold).
Each test runs the real agent with its own probe, so its tickets are told apart by the CI
name in their title. The stand-in (tests/standins/itop_standin.py, used by
tests/integration/test_forwarding.py) only remains for what a real iTop cannot be made to do:
proxy pages, internal errors, a create committed whose answer is lost.

VIGIE_ITOP_RUNNING=<WORKDIR>/kit.env uses an iTop already started by start-itop.sh instead
(while writing tests: the module then neither starts nor stops it)."""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from agent_harness import Agent, value  # noqa: E402
from forward_harness import Switch  # noqa: E402

AGENT = None
KIT = os.environ.get("VIGIE_ITOP_KIT", os.path.join(SOURCE, "..", "shared", "itop"))
WORKDIR = None
ENV = {}
ADMIN = None  # lib/itop_rest.Rest as admin: what an operator does in the console
RESTONLY = ("restonly", "Rest-Only-Pa55!")  # may call REST, may read or create nothing

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: STATE_DIR, name: {agent} }}
defaults: {{ interval: 200ms, timeout: 150ms }}
forwarding:
  heartbeat_interval: 1h
  reassert_interval: {reassert}
  backoff_base: 50ms
  backoff_cap: 300ms
  itop:
    - name: cmdb
      url: "{url}"
      timeout: 10s
      auth: {auth}
      username: {user}
      password_file: "{password_file}"
      update_interval: 0s
{itop}
probes:
  - name: {probe}
    type: tcp
    max_attempts: 1
    flapping: false
    labels: {{ ci: {ci} }}
    tcp: {{ address: "127.0.0.1:{port}" }}
"""

GOOD = """      organization: 'SELECT Organization WHERE name = "DNE"'
      caller: 'SELECT Person WHERE first_name = "Vigie" AND name = "Supervision"'
      service: 'SELECT Service WHERE name = "Hebergement national"'
      on_resolve: log_only
"""


def setUpModule():
    global WORKDIR, ENV, ADMIN
    running = os.environ.get("VIGIE_ITOP_RUNNING")
    if not os.path.isfile(os.path.join(KIT, "start-itop.sh")):
        raise AssertionError(f"no iTop kit in {KIT} (set VIGIE_ITOP_KIT to its folder)")
    sys.path.insert(0, os.path.join(KIT, "lib"))
    import itop_rest
    if running:
        env_file = running
    else:
        WORKDIR = tempfile.mkdtemp(prefix="vigie-itop-kit-")
        os.chmod(WORKDIR, 0o755)  # MariaDB runs as mysql and writes its datadir in there
        started = time.time()
        result = subprocess.run([os.path.join(KIT, "start-itop.sh"), WORKDIR],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            tearDownModule()
            raise AssertionError("start-itop.sh failed:\n" + result.stdout[-3000:])
        print(f"iTop started in {time.time() - started:.0f} s", file=sys.stderr)
        env_file = os.path.join(WORKDIR, "kit.env")
    ENV = itop_rest.read_env(env_file)
    ADMIN = itop_rest.from_env(env_file, admin=True)
    login, password = RESTONLY
    ADMIN.ensure("UserLocal", f"SELECT UserLocal WHERE login = '{login}'", {
        "login": login, "password": password, "language": "EN US",
        "contactid": 'SELECT Person WHERE name = "Operateur"',
        "profile_list": [{"profileid": 'SELECT URP_Profiles WHERE name = "REST Services User"'}]})


def tearDownModule():
    if WORKDIR:
        subprocess.run([os.path.join(KIT, "stop-itop.sh"), WORKDIR, "--purge"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(WORKDIR, ignore_errors=True)


def call(operation, user=None, pwd=None):
    return ADMIN.call(operation, user=user, pwd=pwd)


def stimulus(ticket_class, key, name, **fields):
    answer = call({"operation": "core/apply_stimulus", "class": ticket_class, "key": key,
                   "stimulus": name, "comment": "operator", "fields": fields,
                   "output_fields": "status"})
    assert answer["code"] == 0, answer


class ItopTest(unittest.TestCase):
    ticket_class = "Incident"

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-itop-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        # One probe per test: the tickets of one test are those whose title names it.
        # (A random tail keeps the tickets of an earlier run on a reused iTop apart.)
        self.probe = "p-" + self.id().rsplit(".", 1)[-1].replace("_", "-")[5:45] + "-" + \
            os.urandom(3).hex()
        self.ci = "CI-" + self.probe
        self.passwords = {}

    def password_file(self, password):
        path = os.path.join(self.state, f"pwd{len(self.passwords)}")
        with open(path, "w") as f:
            f.write(password + "\n")
        self.passwords[path] = password
        return path

    def config(self, itop=GOOD, user=None, password=None, auth="form", reassert="1h", ci=None):
        return CONFIG.format(
            agent=self.probe, reassert=reassert, url=ENV["REST_URL"], auth=auth,
            user=user or ENV["REST_USER"],
            password_file=self.password_file(password or ENV["REST_PWD"]), itop=itop,
            ci=ci or self.ci, probe=self.probe, port=self.target.port)

    def start(self, text):
        agent = Agent(AGENT, text)
        self.addCleanup(agent.stop)
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe=self.probe) == 0, "probe OK")
        return agent

    def logged(self, agent, pattern, timeout=20):
        """Waits for a log line matching `pattern` (the reference check runs after the start)."""
        deadline = time.time() + timeout
        while not re.search(pattern, agent.logs()):
            self.assertLess(time.time(), deadline, f"no log line like {pattern!r}:\n"
                            + agent.logs())
            time.sleep(0.05)

    def reload(self, agent, text):
        agent.write_config(text)
        before = agent.logs().count("configuration reloaded")
        agent.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while agent.logs().count("configuration reloaded") == before:
            self.assertLess(time.time(), deadline, agent.logs())
            time.sleep(0.05)

    def tickets(self, ticket_class=None):
        found = ADMIN.get(ticket_class or self.ticket_class,
                          f"SELECT {ticket_class or self.ticket_class} WHERE title LIKE "
                          f"'%sonde tcp {self.probe} %'",
                          "id, ref, status, title, private_log, functionalcis_list, "
                          "caller_id, service_id, solution, impact, urgency, origin")
        return sorted(({"id": int(t["key"]), **t["fields"]} for t in found),
                       key=lambda t: t["id"])

    def wait(self, predicate, what, agent=None, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            tickets = self.tickets()
            if predicate(tickets):
                return tickets
            time.sleep(0.2)
        summary = [(t["ref"], t["status"], len(self.log_entries(t))) for t in tickets]
        self.fail(f"timed out waiting for {what}: {summary}\n"
                  + (agent.logs() if agent else ""))

    @staticmethod
    def log_entries(ticket):
        return [e["message"] for e in ticket["private_log"]["entries"]]

    def held(self, agent, reason):
        """The trigger waits in the outbox, refused for `reason`, never dead-lettered."""
        samples = agent.wait_for(
            lambda s: (value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                             reason=reason) or 0) >= 2, f"the {reason} refusals", timeout=20)
        self.assertEqual(value(samples, "vigie_forwarder_config_error", adapter="cmdb"), 1)
        self.assertEqual(value(samples, "vigie_forwarder_dead_letters_total"), 0)
        self.assertGreaterEqual(value(samples, "vigie_forwarder_queue_depth"), 1)
        self.assertEqual(self.tickets(), [])

    # --- the adapter's ordinary work, on the real data model

    def test_sample_config_resolves_the_ticket_of_a_recovered_alert(self):
        """Finding 15: the shipped sample's iTop block (on_resolve as recommended) leaves no
        recovered ticket open; the CI is linked, caller and service set."""
        with open(os.path.join(SOURCE, "config", "vigie.yaml")) as f:
            sample = f.read()
        block = re.search(r"^#  itop:\n((?:#    .*\n)+)", sample, re.M).group(1)
        kept = [line[1:] for line in block.splitlines()
                if not re.match(r"#\s+(- name|url|auth|username|password_file|tls_ca_file)"
                                r":", line) and not line.strip().startswith("#      #")]
        self.assertIn("      on_resolve: autoresolve", kept)
        agent = self.start(self.config(itop="\n".join(kept) + "\n", ci="srv-sla-01"))
        self.target.down()
        tickets = self.wait(lambda t: len(t) == 1, "the incident", agent)
        ticket = tickets[0]
        self.assertRegex(ticket["title"], r"^\[VIGIE:[0-9a-f]{16}\] ")
        self.assertEqual([ci["functionalci_name"] for ci in ticket["functionalcis_list"]
                          if ci["impact_code"] == "manual"], ["srv-sla-01"])
        self.assertNotEqual(ticket["caller_id"], "0")
        self.assertNotEqual(ticket["service_id"], "0")
        self.assertEqual((ticket["impact"], ticket["urgency"], ticket["origin"]),
                         ("2", "1", "monitoring"))  # critical
        self.target.up()
        ticket = self.wait(lambda t: t[0]["status"] == "resolved", "ev_autoresolve", agent)[0]
        self.assertIn("Rétablissement", ticket["solution"])
        # A human text: the time in agent.timezone (default Europe/Paris), not RFC 3339 UTC.
        self.assertRegex(ticket["solution"], r" le \d\d/\d\d/\d{4} \d\d:\d\d:\d\d UTC\+0[12]:00 "
                         r"\(Europe/Paris\)\.")
        self.assertNotIn("without service", agent.logs())

    # --- finding 10: configuration mistakes are held and named, never dead-lettered

    def test_organization_given_as_a_name_is_held_and_named_then_delivered_once_fixed(self):
        bad = GOOD.replace("""'SELECT Organization WHERE name = "DNE"'""", "DNE")
        agent = self.start(self.config(itop=bad))
        self.logged(agent, r"config error: forwarding cmdb .*organization: .*"
                                       r"Expecting an OQL query")
        self.target.down()
        self.held(agent, "itop_config")
        time.sleep(1)  # more refusals, every backoff_cap (300 ms): still one line
        self.assertEqual(
            len(re.findall(r"error: .*refuses the configuration.*org_id: Expecting an OQL query",
                           agent.logs())), 1, agent.logs())
        self.reload(agent, self.config(itop=GOOD))
        self.wait(lambda t: len(t) == 1, "the held trigger's incident", agent)
        samples = agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0,
                                 "the outbox drained")
        self.assertEqual(value(samples, "vigie_forwarder_config_error", adapter="cmdb"), 0)

    def test_unknown_ci_class_is_held_and_named(self):
        agent = self.start(self.config(itop=GOOD + "      ci_class: Serveur\n"))
        self.logged(agent, r"config error: forwarding cmdb .*ci_class: .*"
                                       r"'Serveur' is not a valid class")
        self.target.down()
        self.held(agent, "itop_config")
        self.assertRegex(agent.logs(), r"error: .*cmdb \(http://127\.0\.0\.1:\d+/webservices/"
                                       r"rest\.php\): the receiver refuses the configuration")

    def test_caller_typo_holds_the_trigger_instead_of_dead_lettering_it(self):
        typo = GOOD.replace('"Supervision"', '"Supervison"')
        agent = self.start(self.config(itop=typo))
        self.logged(agent, r"config error: forwarding cmdb .*caller: .* matches 0 "
                                       r"Person object")
        self.target.down()
        self.held(agent, "itop_config")
        self.assertIn("caller_id: No item found", agent.logs())
        self.reload(agent, self.config(itop=GOOD))
        ticket = self.wait(lambda t: len(t) == 1, "the incident once the caller is fixed",
                           agent)[0]
        self.assertNotEqual(ticket["caller_id"], "0")

    def test_references_are_checked_without_refusing_to_start_when_itop_is_down(self):
        text = self.config().replace(ENV["REST_URL"], "http://127.0.0.1:1/webservices/rest.php")
        agent = self.start(text)
        self.logged(agent, "cannot check what the configuration names")
        self.assertNotIn("config error", agent.logs())

    # --- finding 11: code 1 is a login or a permission

    def test_missing_rights_are_a_permission_error_not_an_authentication_failure(self):
        agent = self.start(self.config(user=RESTONLY[0], password=RESTONLY[1]))
        self.logged(agent, r"config error: forwarding cmdb .*organization: .*"
                                       r"enough permissions for reading data of class "
                                       r"Organization")
        self.target.down()
        self.held(agent, "itop_permission")
        self.assertRegex(agent.logs(), r"refuses the configuration \(itop_permission\): The "
                                       r"current user does not have enough permissions")
        self.assertNotIn("authentication refused", agent.logs())

    def test_a_wrong_password_is_an_authentication_failure_with_itops_words(self):
        agent = self.start(self.config(password="not-the-password"))
        self.logged(agent, "username: iTop refuses the credentials: Error: Invalid login")
        self.target.down()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                                       reason="auth"), "the auth failure")
        self.assertRegex(agent.logs(), r"error: .*forwarding to cmdb \(http://.*\): authentication"
                                       r" refused \(auth: Error: Invalid login\)")
        self.assertNotIn("not-the-password", agent.logs())

    # --- finding 12: no Auth-Token on a core iTop

    def test_auth_token_is_a_configuration_error(self):
        reply = urllib.request.urlopen(urllib.request.Request(
            ENV["REST_URL"] + "?version=1.3", headers={"Auth-Token": "anything"},
            data=urllib.parse.urlencode(
                {"json_data": '{"operation": "list_operations"}'}).encode()), timeout=30)
        self.assertIn("Invalid login", reply.read().decode())  # what core iTop 3.2 says
        text = self.config().replace("      auth: form\n", "      auth: token\n      token: t\n")
        path = os.path.join(self.state, "token.yaml")
        with open(path, "w") as f:
            f.write(text.replace("STATE_DIR", self.state))
        checked = subprocess.run([AGENT, "--check-config", "--config", path],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertNotEqual(checked.returncode, 0, checked.stdout)
        self.assertIn("forwarding.itop[0].token: Auth-Token needs an extension",
                      checked.stdout.replace("forwarding.itop.cmdb", "forwarding.itop[0]"))

    # --- finding 13: rejected is final

    def test_a_rejected_user_request_is_final(self):
        itop = GOOD.replace("on_resolve: log_only", "on_resolve: autoresolve") + \
            "      class: UserRequest\n"
        self.ticket_class = "UserRequest"
        agent = self.start(self.config(itop=itop, reassert="500ms"))
        self.target.down()
        first = self.wait(lambda t: len(t) == 1, "the user request", agent)[0]
        stimulus("UserRequest", first["id"], "ev_wait_for_approval")
        stimulus("UserRequest", first["id"], "ev_reject")
        # The next re-assertion finds it rejected and opens a new one. Counted only then: a
        # re-assertion already past its check when the operator rejected may still land.
        tickets = self.wait(lambda t: len(t) == 2, "a new user request", agent)
        entries = len(self.log_entries(tickets[0]))
        self.target.up()
        tickets = self.wait(lambda t: t[1]["status"] == "resolved", "the new one resolved",
                            agent)
        self.assertEqual(tickets[0]["status"], "rejected")
        self.assertEqual(len(self.log_entries(tickets[0])), entries,
                         "written to the rejected request")

    # --- finding 14: re-assertions on their own clock

    def test_reassertions_follow_reassert_interval_whatever_the_heartbeat(self):
        agent = self.start(self.config(reassert="1s"))  # heartbeat_interval: 1h
        self.target.down()
        self.wait(lambda t: len(t) == 1, "the incident", agent)
        ticket = self.wait(lambda t: sum("toujours en cours" in m
                                         for m in self.log_entries(t[0])) >= 2,
                           "two re-assertions", agent, timeout=15)[0]
        self.assertEqual(ticket["status"], "new")

    # --- the operator console: an acknowledgement is a log entry on the ticket

    def test_an_acknowledgement_is_a_log_entry_on_the_ticket(self):
        import base64
        import json
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # libxcrypt, as the agent's check
        web = os.path.join(self.state, "web.yml")
        with open(web, "w") as f:
            f.write("basic_auth_users:\n  alice: "
                    + crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
                    + "\nuser_roles:\n  alice: operator\n")
        text = self.config().replace(f"name: {self.probe} }}",
                                     f"name: {self.probe}, web_config_file: \"{web}\" }}")
        agent = Agent(AGENT, text)
        self.addCleanup(agent.stop)
        self.target.down()
        self.wait(lambda t: len(t) == 1, "the incident", agent)
        request = urllib.request.Request(
            f"http://127.0.0.1:{agent.port}/api/v1/acknowledgements", method="POST",
            data=json.dumps({"probe": self.probe, "comment": "DBA appelé"}).encode(),
            headers={"Content-Type": "application/json",
                     "Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()})
        with urllib.request.urlopen(request, timeout=10) as answer:
            self.assertEqual(answer.status, 201)
        ticket = self.wait(lambda t: any("acquittée par alice : DBA appelé" in m
                                         for m in self.log_entries(t[0])),
                           "the acknowledgement's log entry", agent)[0]
        self.assertEqual(ticket["status"], "new")

    # --- finding 16: iTop does not guard closed tickets; the agent does

    def test_itop_accepts_a_log_entry_on_a_closed_ticket_the_agent_never_writes_one(self):
        agent = self.start(self.config(reassert="3s"))
        self.target.down()
        self.wait(lambda t: len(t) == 1, "the incident", agent)
        # Closed just after a re-assertion landed: the next one is 3 s away, so no write
        # checked before the close can land after it (iTop cannot update on a condition).
        first = self.wait(lambda t: len(self.log_entries(t[0])) == 1, "a re-assertion", agent,
                          timeout=15)[0]
        stimulus("Incident", first["id"], "ev_autoresolve", solution="operator")
        stimulus("Incident", first["id"], "ev_close")
        tickets = self.wait(lambda t: len(t) == 2, "a new incident", agent)
        self.assertEqual(tickets[0]["status"], "closed")
        self.assertEqual(len(self.log_entries(tickets[0])), 1,
                         "the agent wrote to a closed ticket")
        # What iTop itself allows, hence the agent's check (docs/ALERTING.md).
        answer = call({"operation": "core/update", "class": "Incident", "key": first["id"],
                       "comment": "test", "output_fields": "status",
                       "fields": {"private_log": {"add_item": {"message": "late",
                                                               "format": "text"}}}},
                      user=ENV["REST_USER"], pwd=ENV["REST_PWD"])
        self.assertEqual(answer["code"], 0, answer)

    def test_autoresolve_without_service_is_warned_about(self):
        itop = GOOD.replace("on_resolve: log_only", "on_resolve: autoresolve")
        itop = "\n".join(line for line in itop.splitlines() if "service:" not in line) + "\n"
        agent = self.start(self.config(itop=itop))
        self.assertRegex(agent.logs(), r"warning: .*on_resolve: autoresolve without service")
        self.target.down()
        self.wait(lambda t: len(t) == 1, "the incident", agent)
        self.target.up()
        ticket = self.wait(lambda t: t[0]["status"] == "resolved", "the resolve", agent)[0]
        self.assertEqual(ticket["service_id"], "0")  # iTop resolved it without a service


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
