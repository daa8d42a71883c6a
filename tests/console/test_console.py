#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The operator console's API with the real vigie-agent: a real HTTP target answering 500, a
real webhook receiver, a web configuration with an operator (alice) and a viewer (bob).
Acknowledge → the update reaches the webhook; silence by label → no trigger while silenced,
then it expires and the trigger goes out; a restart keeps acknowledgements and silences;
refused writes (401, 403, 415, 405)."""

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from agent_harness import Agent  # noqa: E402
from forward_harness import Webhook  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt, the same library the agent checks hashes with

AGENT = None

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: console-it,
          web_config_file: "{web}" }}
defaults: {{ interval: 300ms, timeout: 250ms }}
forwarding:
  heartbeat_interval: 1h
  backoff_base: 50ms
  backoff_cap: 300ms
  webhook:
    - {{ name: crt, url: "{webhook}", timeout: 2s }}
probes:
  - name: pia-web
    type: http
    max_attempts: 2
    flapping: false
    labels: {{ app: pia, environment: production, ci: PIA-WEB }}
    runbook_url: https://wiki.example/pia
    instructions: Appeler le DBA d'astreinte
    http: {{ url: "{target}/health" }}
  - name: other-web
    type: http
    max_attempts: 2
    flapping: false
    labels: {{ app: other, environment: production }}
    http: {{ url: "{target}/other" }}
"""


def bcrypt(password):
    # Cost 4 keeps the suite fast; the code path is the one of production hashes.
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))


class Target:
    """An HTTP server answering 500 with a body carrying a cookie-looking secret line."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = b'{"status": "DOWN", "db": "unreachable"}'
                self.send_response(500)
                self.send_header("Set-Cookie", "session=secret-cookie")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ConsoleApiTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vigie-console-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state = os.path.join(self.dir, "state")
        self.web = os.path.join(self.dir, "web.yml")
        with open(self.web, "w") as f:
            f.write("basic_auth_users:\n"
                    f"  alice: {bcrypt('alice-pw')}\n"
                    f"  bob: {bcrypt('bob-pw')}\n"
                    "user_roles:\n  alice: operator\n  bob: viewer\n")
        self.target = Target()
        self.addCleanup(self.target.close)
        self.webhook = Webhook()
        self.addCleanup(self.webhook.close)

    def start(self):
        agent = Agent(AGENT, CONFIG.format(state=self.state, web=self.web,
                                           webhook=self.webhook.url, target=self.target.url))
        self.addCleanup(agent.stop)
        return agent

    def call(self, agent, method, path, body=None, user="alice", content_type="application/json"):
        password = {"alice": "alice-pw", "bob": "bob-pw"}.get(user)
        data = None if body is None else (body if isinstance(body, bytes)
                                           else json.dumps(body).encode())
        request = urllib.request.Request(f"http://127.0.0.1:{agent.port}{path}", data=data,
                                         method=method)
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", "Basic " + token)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None, response.headers
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text.startswith("{") else text, e.headers

    def wait_probe(self, agent, name, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while True:
            status, probe, _ = self.call(agent, "GET", f"/api/v1/probes/{name}", user="bob")
            self.assertEqual(status, 200, probe)
            if predicate(probe):
                return probe
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {probe}")
            time.sleep(0.1)

    def triggers(self, probe):
        return [e for e in self.webhook.events("trigger") if e["check"]["name"] == probe]

    def test_acknowledge_reaches_the_webhook_as_an_update(self):
        agent = self.start()
        self.webhook.wait(lambda w: self.triggers("pia-web"), "the trigger")
        trigger = self.triggers("pia-web")[0]
        self.assertEqual(trigger["runbook_url"], "https://wiki.example/pia")
        self.assertEqual(trigger["instructions"], "Appeler le DBA d'astreinte")

        status, ack, _ = self.call(agent, "POST", "/api/v1/acknowledgements",
                                   {"probe": "pia-web", "comment": "DBA appelé"})
        self.assertEqual(status, 201, ack)
        self.assertEqual(ack["author"], "alice")
        self.webhook.wait(lambda w: [e for e in w.events("update") if "acknowledgement" in e],
                          "the acknowledgement")
        update = [e for e in self.webhook.events("update") if "acknowledgement" in e][0]
        self.assertEqual(update["dedup_key"], trigger["dedup_key"])
        self.assertEqual(update["acknowledgement"]["author"], "alice")
        self.assertEqual(update["acknowledgement"]["comment"], "DBA appelé")
        self.assertIn("acquittée par alice", update["summary"])

        status, listed, _ = self.call(agent, "GET", "/api/v1/probes?problems=1", user="bob")
        self.assertEqual(status, 200)
        mine = [p for p in listed["probes"] if p["name"] == "pia-web"][0]
        self.assertEqual(mine["acknowledgement"]["author"], "alice")
        self.assertEqual(mine["status"], "critical")
        self.assertEqual(mine["reason"], "http_status")
        probe = self.call(agent, "GET", "/api/v1/probes/pia-web", user="bob")[1]
        self.assertIn("acknowledged", [h["kind"] for h in probe["history"]])
        delivered = [h for h in probe["history"] if h["kind"] == "delivered"]
        self.assertIn(("crt", "ok", "trigger"),
                      [(h["destination"], h["outcome"], h["text"]) for h in delivered])
        self.assertTrue(probe["results"])
        self.assertIn("connect", probe["results"][0]["phases"])
        self.assertIn("status", probe["excerpt"])
        self.assertNotIn("secret-cookie", json.dumps(probe))
        self.assertTrue(probe["redirects"])
        audit = self.call(agent, "GET", "/api/v1/audit?limit=5", user="bob")[1]
        self.assertEqual((audit[0]["author"], audit[0]["action"], audit[0]["target"]),
                         ("alice", "acknowledge", "pia-web"))
        self.assertIn("console: alice (http from 127.0.0.1", agent.logs())
        # 409 when there is nothing to acknowledge, 404 for an unknown probe.
        self.assertEqual(self.call(agent, "POST", "/api/v1/acknowledgements",
                                   {"probe": "nope"})[0], 404)
        self.assertEqual(self.call(agent, "DELETE", "/api/v1/acknowledgements/pia-web")[0], 204)
        self.assertEqual(self.call(agent, "GET", "/api/v1/acknowledgements", user="bob")[1], [])

    def test_silence_by_label_holds_the_trigger_until_it_expires(self):
        agent = None
        # The silence exists before the probe first fails: made on an agent whose first
        # results are not in yet would race, so it starts on the agent right away.
        agent = self.start()
        status, silence, _ = self.call(agent, "POST", "/api/v1/silences",
                                       {"labels": {"app": "pia"}, "duration": "4s",
                                        "comment": "intervention"})
        self.assertEqual(status, 201, silence)
        self.assertEqual(silence["probes"], ["pia-web"])
        self.assertTrue(silence["active"])
        # The other probe's trigger goes out; pia-web is HARD critical, shown silenced, untold.
        self.webhook.wait(lambda w: self.triggers("other-web"), "the unsilenced trigger")
        probe = self.wait_probe(agent, "pia-web",
                                lambda p: p["status"] == "critical" and p["state_type"] == "hard",
                                "pia-web HARD critical")
        self.assertEqual(probe["silence"]["id"], silence["id"])
        self.assertEqual(self.triggers("pia-web"), [])
        listed = self.call(agent, "GET", "/api/v1/silences", user="bob")[1]
        self.assertEqual([s["id"] for s in listed], [silence["id"]])
        time.sleep(1)
        self.assertEqual(self.triggers("pia-web"), [], "a trigger went out while silenced")
        # It ends by itself: the still failing probe's trigger goes out.
        self.webhook.wait(lambda w: self.triggers("pia-web"), "the trigger after the silence",
                          timeout=15)
        self.assertEqual(self.call(agent, "GET", "/api/v1/silences", user="bob")[1], [])
        self.assertIn(f"silence {silence['id']} (app=pia) ended", agent.logs())

    def test_restart_keeps_acknowledgements_and_silences(self):
        agent = self.start()
        self.wait_probe(agent, "pia-web", lambda p: p["state_type"] == "hard"
                        and p["status"] == "critical", "pia-web HARD critical")
        self.assertEqual(self.call(agent, "POST", "/api/v1/acknowledgements",
                                   {"probe": "pia-web", "comment": "on it"})[0], 201)
        status, silence, _ = self.call(agent, "POST", "/api/v1/silences",
                                       {"probe": "other-web", "duration": "2h",
                                        "starts_at": "2030-01-01T00:00:00Z"})
        self.assertEqual(status, 201, silence)
        self.assertFalse(silence["active"])  # a downtime: starts later
        self.assertEqual(agent.stop(), 0)

        again = self.start()
        acks = self.call(again, "GET", "/api/v1/acknowledgements", user="bob")[1]
        self.assertEqual([(a["probe"], a["author"], a["comment"]) for a in acks],
                         [("pia-web", "alice", "on it")])
        silences = self.call(again, "GET", "/api/v1/silences", user="bob")[1]
        self.assertEqual([(s["id"], s["probe"], s["starts_at"]) for s in silences],
                         [(silence["id"], "other-web", "2030-01-01T00:00:00.000Z")])
        self.assertEqual(self.call(again, "DELETE", f"/api/v1/silences/{silence['id']}")[0], 204)
        self.assertEqual(self.call(again, "GET", "/api/v1/silences", user="bob")[1], [])

    def test_writes_are_refused_without_the_operator_role(self):
        agent = self.start()
        body = {"probe": "pia-web", "comment": "x"}
        status, error, _ = self.call(agent, "POST", "/api/v1/acknowledgements", body, user=None)
        self.assertEqual(status, 401)
        status, error, _ = self.call(agent, "POST", "/api/v1/acknowledgements", body, user="bob")
        self.assertEqual(status, 403)
        self.assertEqual(error["error"]["code"], "forbidden")
        status, error, _ = self.call(agent, "POST", "/api/v1/silences",
                                     b"probe=pia-web&duration=1h", user="alice",
                                     content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 415)
        self.assertEqual(error["error"]["code"], "unsupported_media_type")
        status, _, headers = self.call(agent, "GET", "/api/v1/probes/pia-web/run")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "POST")
        # Reads follow the endpoint's authentication; nothing was changed by the refusals.
        self.assertEqual(self.call(agent, "GET", "/api/v1/probes", user=None)[0], 401)
        self.assertEqual(self.call(agent, "GET", "/api/v1/acknowledgements", user="bob")[1], [])
        status, queued, _ = self.call(agent, "POST", "/api/v1/probes/pia-web/run")
        self.assertEqual((status, queued), (202, {"queued": True}))

    def test_every_documented_read_answers_and_every_write_refuses_other_methods(self):
        """docs/openapi.yaml against the real router: each documented GET answers 200, each
        path refuses a method it does not document with 405 and an Allow naming the others."""
        import yaml
        with open(os.path.join(HERE, "..", "..", "docs", "openapi.yaml")) as f:
            spec = yaml.safe_load(f)
        agent = self.start()
        names = {"name": "pia-web", "destination": "crt", "id": "1"}
        for path, operations in spec["paths"].items():
            concrete = path.format(**names)
            if "get" in operations:
                status, body, _ = self.call(agent, "GET", concrete, user="bob")
                self.assertEqual(status, 200, (concrete, body))
            documented = {m.upper() for m in operations}
            for method in ("GET", "POST", "DELETE", "PUT"):
                if method not in documented and not (method == "GET" and "HEAD" in documented):
                    status, _, headers = self.call(agent, method, concrete,
                                                   body={} if method in ("POST", "PUT") else None)
                    self.assertEqual(status, 405, (method, concrete))
                    allowed = {m.strip() for m in headers["Allow"].split(",")} - {"HEAD"}
                    self.assertEqual(allowed, documented, concrete)


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
