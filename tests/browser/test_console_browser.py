#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The operator console in a real browser: the real agent on loopback with an operator and a
reader, probes against a real local HTTP server (one answers 200, one 500); headless Chromium
(Debian's chromium, driven by playwright-core) runs axe-core on every page, checks reflow at
200 % zoom and acknowledges the problem with the keyboard only (console_browser.mjs). The form
posts' protections (CSRF token, cross-site, role, methods) are checked here over plain HTTP."""

import argparse
import base64
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from agent_harness import Agent  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt, the same library the agent checks hashes with

AGENT = None
OUT_DIR = None

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: STATE_DIR, web_config_file: {web} }}
defaults: {{ interval: 1s, timeout: 800ms }}
probes:
  - name: pia-web
    type: http
    labels: {{ app: pia, environment: production, hosting_center: dc1, ci: CI-0042 }}
    runbook_url: "https://wiki.example.fr/runbooks/pia-web"
    instructions: "Appeler l'astreinte applicative <PIA> au 01 23 45 67 89."
    http: {{ url: "http://127.0.0.1:{port}/fail" }}
  - name: pia-api
    type: http
    labels: {{ app: pia, environment: production }}
    http: {{ url: "http://127.0.0.1:{port}/ok" }}
"""


def bcrypt(password, cost=4):
    # Cost 4 keeps the suite fast; production hashes use 10 or more (the code path is the same).
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))


class Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        failing = self.path.startswith("/fail")
        body = b"<html><body>Erreur interne</body></html>" if failing else b"ok"
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def ensure_node_modules():
    """`npm ci` from the pinned lock file, once, into tests/browser/node_modules."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)


class ConsoleBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.passwords = {"alice": "alice-pw", "bob": "bob-pw"}
        cls.tmp = tempfile.TemporaryDirectory(prefix="vigie-console-")
        web = os.path.join(cls.tmp.name, "web.yaml")
        with open(web, "w") as f:
            f.write("basic_auth_users:\n"
                    f"  alice: {bcrypt('alice-pw')}\n  bob: {bcrypt('bob-pw')}\n"
                    "user_roles:\n  alice: operator\n")
        cls.agent = Agent(AGENT, CONFIG.format(web=web, port=cls.server.server_address[1]))
        cls.base = f"http://127.0.0.1:{cls.agent.port}"
        cls.wait_for_failure()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.server.shutdown()
        cls.tmp.cleanup()

    @classmethod
    def request(cls, path, user="alice", data=None, headers=None):
        request = urllib.request.Request(cls.base + path, data=data,
                                         method="POST" if data is not None else "GET")
        if user:
            token = base64.b64encode(f"{user}:{cls.passwords[user]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    @classmethod
    def wait_for_failure(cls):
        deadline = time.time() + 20
        while time.time() < deadline:
            status, body = cls.request("/api/v1/probes/pia-web")
            if status == 200 and json.loads(body).get("status") == "critical":
                return
            time.sleep(0.2)
        raise AssertionError("pia-web never failed:\n" + cls.agent.logs())

    def csrf_token(self, user="alice"):
        status, page = self.request("/probes/pia-api", user=user)
        self.assertEqual(status, 200)
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        self.assertIsNotNone(match, "no CSRF field on the operator's page")
        return match.group(1)

    def post_form(self, action, fields, user="alice", headers=None):
        return self.request(f"/actions/{action}", user=user,
                            data=urllib.parse.urlencode(fields).encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     **(headers or {})})

    def post_without_following(self, action, fields):
        """The status and Location of a form post as the agent answers it."""
        url = urllib.parse.urlsplit(self.base)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        token = base64.b64encode(f"alice:{self.passwords['alice']}".encode()).decode()
        connection.request("POST", f"/actions/{action}", body=urllib.parse.urlencode(fields),
                           headers={"Authorization": f"Basic {token}",
                                    "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status, response.getheader("Location")

    def test_a_form_posts_are_guarded(self):
        token = self.csrf_token()
        fields = {"probe": "pia-api", "csrf": token}
        # Reads never act; actions only by POST.
        self.assertEqual(self.request("/actions/run")[0], 405)
        self.assertEqual(self.request("/", data=b"x")[0], 405)
        # A forged or missing token, a post from another site, a reader, no credentials.
        self.assertEqual(self.post_form("run", {**fields, "csrf": "0" * 64})[0], 403)
        self.assertEqual(self.post_form("run", {"probe": "pia-api"})[0], 403)
        self.assertEqual(self.post_form("run", fields, headers={"Sec-Fetch-Site": "cross-site"})[0],
                         403)
        self.assertEqual(self.post_form("run", fields, headers={"Origin": "null"})[0], 403)
        self.assertEqual(self.post_form("run", {**fields, "csrf": self.csrf_token_for("bob")},
                                        user="bob")[0], 403)
        self.assertEqual(self.post_form("run", fields, user=None)[0], 401)
        # Alice's token works for alice only, and a good post sends the browser back to the
        # probe's page with a GET (post/redirect/get).
        status, location = self.post_without_following("run", fields)
        self.assertEqual(status, 303)
        self.assertEqual(location, "/probes/pia-api?done=run")
        status, audit = self.request("/api/v1/audit?limit=10")
        self.assertEqual(status, 200)
        self.assertTrue(any(e.get("author") == "alice" for e in json.loads(audit)), audit)

    def csrf_token_for(self, user):
        # A reader's page has no forms, so no token: a token made for alice must not serve bob.
        return self.csrf_token("alice")

    def test_b_pages_in_a_browser(self):
        out = subprocess.run(
            ["node", os.path.join(HERE, "console_browser.mjs"), self.base,
             f"alice:{self.passwords['alice']}", f"bob:{self.passwords['bob']}", "pia-web",
             OUT_DIR],
            cwd=HERE, capture_output=True, text=True, timeout=240)
        self.assertEqual(out.returncode, 0, out.stderr[-4000:])
        report = json.loads(out.stdout)
        for page in report["pages"]:
            print(f"{page['name']}: HTTP {page['status']}, lang={page['lang']}, "
                  f"title={page['title']!r}, axe violations={len(page['violations'])}, "
                  f"width at 200 %: {page['overflow']['scrollWidth']}/"
                  f"{page['overflow']['clientWidth']}")
            self.assertEqual(page["violations"], [], page["name"])
            self.assertLessEqual(page["overflow"]["scrollWidth"], page["overflow"]["clientWidth"],
                                 page["name"])
        by_name = {page["name"]: page for page in report["pages"]}
        self.assertEqual(by_name["status-fr"]["lang"], "fr")
        self.assertRegex(by_name["status-fr"]["title"], r"^1 critique — Vigie$")
        self.assertEqual(by_name["status-en"]["lang"], "en")
        self.assertEqual(by_name["status-accept-language-en"]["lang"], "en")
        self.assertEqual(by_name["unknown-probe"]["status"], 404)
        keyboard = report["keyboard"]
        print("keyboard path:", " → ".join(keyboard.get("steps", [])))
        self.assertTrue(keyboard["ok"], keyboard)
        self.assertEqual(keyboard["invisible"], [], "focus stops without a visible indicator")
        self.assertTrue(keyboard["confirmation"], keyboard)
        self.assertTrue(keyboard["acknowledged_by_operator"], keyboard)
        status, body = self.request("/api/v1/probes/pia-web")
        acknowledgement = json.loads(body)["acknowledgement"]
        self.assertEqual(acknowledgement["author"], "alice")
        self.assertIn("test clavier", acknowledgement["comment"])
        for path in report["screenshots"]:
            print("screenshot:", path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--out", required=True, help="where screenshots go")
    args, rest = parser.parse_known_args()
    AGENT = os.path.abspath(args.agent)
    OUT_DIR = os.path.abspath(args.out)
    os.makedirs(OUT_DIR, exist_ok=True)
    if shutil.which("chromium") is None and not os.environ.get("VIGIE_CHROMIUM"):
        sys.exit("chromium is not installed (scripts/install-deps.sh installs it)")
    ensure_node_modules()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
