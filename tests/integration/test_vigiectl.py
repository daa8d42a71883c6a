#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vigiectl against the real agent over its local socket: a real failing HTTP target (a
loopback server answering 500) and a real OK one, the human tables in French and English,
--json as the API answers, the actions with the Unix user as their author, exit codes 1, 2 and
3; `vigie-agent --list`; gzip on /metrics."""

import argparse
import gzip
import http.server
import json
import os
import pwd
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from agent_harness import Agent, Listener

AGENT = None
VIGIECTL = None
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USER = pwd.getpwuid(os.getuid()).pw_name

CONFIG = """
agent:
  listen: "127.0.0.1:0"
  socket: STATE_DIR.sock
  state_dir: STATE_DIR
  timezone: Europe/Paris
probes:
  - name: web-failing
    type: http
    interval: 1s
    timeout: 1s
    max_attempts: 1
    labels: {app: pia, environment: production}
    http:
      url: http://127.0.0.1:FAILING_PORT/health
  - name: db-ok
    type: tcp
    interval: 1s
    timeout: 1s
    labels: {app: other, environment: production}
    tcp:
      address: 127.0.0.1:OK_PORT
"""


class Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"database down\n"
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class VigiectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.failing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
        threading.Thread(target=cls.failing.serve_forever, daemon=True).start()
        cls.ok = Listener()
        config = CONFIG.replace("FAILING_PORT", str(cls.failing.server_address[1])).replace(
            "OK_PORT", str(cls.ok.port))
        cls.agent = Agent(AGENT, config)
        cls.socket = os.path.join(cls.agent.dir.name, "state.sock")
        deadline = time.time() + 20
        while True:
            result = cls.ctl("--json", "status")
            if result.returncode == 0:
                probes = {p["name"]: p for p in json.loads(result.stdout)["probes"]}
                failing = probes.get("web-failing", {})
                if (failing.get("status") == "critical" and failing.get("state_type") == "hard"
                        and probes.get("db-ok", {}).get("status") == "ok"):
                    break
            if time.time() > deadline:
                raise AssertionError(f"probes never settled: {result}\n{cls.agent.logs()}")
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.failing.shutdown()
        cls.ok.close()

    @classmethod
    def ctl(cls, *args, lang="fr_FR.UTF-8", socket=None):
        env = {**os.environ, "VIGIE_SOCKET": socket or cls.socket, "LANG": lang}
        env.pop("LC_ALL", None)
        env.pop("LC_MESSAGES", None)
        return subprocess.run([VIGIECTL, *args], capture_output=True, text=True, env=env,
                              timeout=30)

    def ok_json(self, *args):
        result = self.ctl("--json", *args)
        self.assertEqual(result.returncode, 0, result)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def probe(self, name):
        return self.ok_json("show", name)

    # ---- reading ----

    def test_socket_is_0660(self):
        self.assertEqual(os.stat(self.socket).st_mode & 0o7777, 0o660)

    def test_status_table_in_french_failing_first(self):
        result = self.ctl("status")
        self.assertEqual(result.returncode, 0, result)
        lines = result.stdout.splitlines()
        header = next(line for line in lines if line.startswith("SONDE"))
        for column in ("ÉTAT", "TYPE", "DEPUIS", "MARQUES", "MESSAGE"):
            self.assertIn(column, header)
        rows = lines[lines.index(header) + 1:]
        self.assertTrue(rows[0].startswith("web-failing"), result.stdout)
        self.assertIn("CRITIQUE", rows[0])
        self.assertIn("HARD", rows[0])
        self.assertIn("500", rows[0])  # the failure's message names the status
        self.assertTrue(rows[1].startswith("db-ok"))
        # Aligned: the status column starts at the same place on every line.
        self.assertEqual(rows[0].index("CRITIQUE"), header.index("ÉTAT"))
        self.assertEqual(rows[1].index("OK"), header.index("ÉTAT"))
        self.assertIn("1 critique(s)", lines[0])

    def test_status_table_in_english(self):
        result = self.ctl("status", lang="en_GB.UTF-8")
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("PROBE", result.stdout)
        self.assertIn("CRITICAL", result.stdout)
        self.assertNotIn("CRITIQUE", result.stdout)

    def test_status_filters(self):
        names = lambda *args: [p["name"] for p in self.ok_json("status", *args)["probes"]]
        self.assertEqual(names("--status", "critical"), ["web-failing"])
        self.assertEqual(names("--label", "app=other"), ["db-ok"])
        self.assertEqual(names("--label", "environment=production", "--status", "ok"), ["db-ok"])
        result = self.ctl("status", "--names")
        self.assertEqual(result.stdout.split(), ["web-failing", "db-ok"])

    def test_json_is_the_api_answer(self):
        listing = self.ok_json("status")
        for key in ("agent", "generated_at", "timezone", "counts", "probes"):
            self.assertIn(key, listing)
        self.assertEqual(listing["counts"]["critical"], 1)
        failing = next(p for p in listing["probes"] if p["name"] == "web-failing")
        self.assertEqual(failing["status"], "critical")
        self.assertEqual(failing["labels"], {"app": "pia", "environment": "production"})

    def test_show(self):
        result = self.ctl("show", "web-failing")
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("web-failing", result.stdout)
        self.assertIn("CRITIQUE", result.stdout)
        self.assertIn("app=pia", result.stdout)
        self.assertIn("Derniers résultats", result.stdout)
        probe = self.probe("web-failing")
        self.assertGreater(len(probe["results"]), 0)

    def test_unknown_probe_is_an_api_error(self):
        result = self.ctl("show", "no-such-probe")
        self.assertEqual(result.returncode, 1, result)
        self.assertIn("404", result.stderr)

    def test_usage_errors(self):
        for args in (["ack", "web-failing"], ["frobnicate"], ["silence", "web-failing", "-m", "x"],
                     ["silence", "web-failing", "--label", "app=pia", "--for", "1h", "-m", "x"],
                     ["status", "--bogus"], ["show"]):
            result = self.ctl(*args)
            self.assertEqual(result.returncode, 2, (args, result))
            self.assertTrue(result.stderr)

    def test_unreachable_agent_exits_3(self):
        missing = os.path.join(self.agent.dir.name, "nobody-here.sock")
        result = self.ctl("status", socket=missing)
        self.assertEqual(result.returncode, 3, result)
        self.assertIn(missing, result.stderr)
        self.assertIn("No such file or directory", result.stderr)
        self.assertIn("systemctl status vigie-agent", result.stderr)

    def test_metrics_gzip(self):
        result = subprocess.run(
            ["curl", "-s", "-D", "-", "-o", os.path.join(self.agent.dir.name, "m.gz"),
             "-H", "Accept-Encoding: gzip", f"http://127.0.0.1:{self.agent.port}/metrics"],
            capture_output=True, text=True, check=True)
        self.assertIn("Content-Encoding: gzip", result.stdout)
        self.assertIn("Vary: Accept-Encoding", result.stdout)
        with gzip.open(os.path.join(self.agent.dir.name, "m.gz"), "rt") as f:
            self.assertIn('probe_success{', f.read())

    def complete(self, line):
        """What the shipped bash completion offers for `line` (the cursor at its end)."""
        script = os.path.join(SOURCE, "packaging", "bash-completion", "vigiectl")
        words = line.split(" ")
        program = (f'source {script}; COMP_WORDS=({" ".join(repr(w) for w in words)}); '
                   f'COMP_CWORD={len(words) - 1}; _vigiectl; printf "%s\\n" "${{COMPREPLY[@]}}"')
        env = {**os.environ, "VIGIE_SOCKET": self.socket,
               "PATH": os.path.dirname(VIGIECTL) + os.pathsep + os.environ["PATH"]}
        result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result)
        return sorted(result.stdout.split())

    def test_bash_completion(self):
        self.assertEqual(self.complete("vigiectl si"), ["silence", "silences"])
        self.assertEqual(self.complete("vigiectl show "), ["db-ok", "web-failing"])
        self.assertEqual(self.complete("vigiectl ack w"), ["web-failing"])
        self.assertEqual(self.complete("vigiectl status --status crit"), ["critical"])
        self.assertIn("--for", self.complete("vigiectl silence web-failing --"))

    # ---- acting: the Unix user is the author ----

    def test_ack_and_unack(self):
        result = self.ctl("ack", "web-failing", "-m", "DBA appelé")
        self.assertEqual(result.returncode, 0, result)
        ack = self.probe("web-failing")["acknowledgement"]
        self.assertEqual(ack["author"], USER)
        self.assertEqual(ack["comment"], "DBA appelé")
        self.assertIn("acquittée", self.ctl("status").stdout)
        self.assertEqual(self.ctl("unack", "web-failing").returncode, 0)
        self.assertIsNone(self.probe("web-failing")["acknowledgement"])
        # An OK probe has nothing to acknowledge: the API's 409 is exit 1 with its message.
        result = self.ctl("ack", "db-ok", "-m", "rien")
        self.assertEqual(result.returncode, 1, result)
        self.assertIn("409", result.stderr)

    def test_silence_and_unsilence(self):
        result = self.ctl("--json", "silence", "web-failing", "--for", "2h", "-m", "intervention")
        self.assertEqual(result.returncode, 0, result)
        silence = json.loads(result.stdout)
        self.assertEqual(silence["author"], USER)
        self.assertEqual(silence["probe"], "web-failing")
        self.assertIn(silence["id"], [s["id"] for s in self.ok_json("silences")])
        self.assertEqual(self.probe("web-failing")["silence"]["id"], silence["id"])
        table = self.ctl("silences").stdout
        self.assertIn("intervention", table)
        self.assertIn(USER, table)
        result = self.ctl("unsilence", str(silence["id"]))
        self.assertEqual(result.returncode, 0, result)
        self.assertNotIn(silence["id"], [s["id"] for s in self.ok_json("silences")])
        self.assertIsNone(self.probe("web-failing")["silence"])

    def test_silence_by_label(self):
        result = self.ctl("--json", "silence", "--label", "app=pia", "--label",
                          "environment=production", "--for", "30m", "-m", "mise à jour")
        self.assertEqual(result.returncode, 0, result)
        silence = json.loads(result.stdout)
        self.assertEqual(silence["labels"], {"app": "pia", "environment": "production"})
        self.assertEqual(silence["probes"], ["web-failing"])
        self.assertEqual(self.ctl("unsilence", str(silence["id"])).returncode, 0)

    def test_run_now(self):
        before = self.probe("db-ok")["last_run_at"]
        result = self.ctl("run", "db-ok")
        self.assertEqual(result.returncode, 0, result)
        deadline = time.time() + 5
        while self.probe("db-ok")["last_run_at"] == before and time.time() < deadline:
            time.sleep(0.05)
        self.assertNotEqual(self.probe("db-ok")["last_run_at"], before)
        runs = [h for h in self.probe("db-ok")["history"] if h["kind"] == "run"]
        self.assertEqual([h["author"] for h in runs], [USER])

    def test_outbox_and_dead_letters(self):
        result = self.ctl("outbox")
        self.assertEqual(result.returncode, 0, result)
        self.assertTrue(result.stdout.startswith("DESTINATION"), result.stdout)
        self.assertEqual(self.ok_json("outbox"), {"destinations": []})
        result = self.ctl("dead-letters", "webhook")
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(result.stdout.split(),
                         ["ID", "SONDE", "ACTION", "CRÉÉ", "ESSAIS", "DERNIÈRE", "ERREUR"])


class OfflineTest(unittest.TestCase):
    def test_list(self):
        scratch = tempfile.TemporaryDirectory(prefix="vigie-list-")
        self.addCleanup(scratch.cleanup)
        agent_dir = scratch.name
        config = os.path.join(agent_dir, "vigie.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.replace("STATE_DIR", agent_dir + "/state")
                    .replace("FAILING_PORT", "1").replace("OK_PORT", "2"))
        table = subprocess.run([AGENT, "--list", "--config", config], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "TYPE", "INTERVAL", "TIMEOUT", "LABELS"])
        self.assertEqual(table[1].split(),
                         ["web-failing", "http", "1s", "1s", "app=pia", "environment=production"])
        listing = json.loads(subprocess.run([AGENT, "--list", "--json", "--config", config],
                                            capture_output=True, text=True, check=True).stdout)
        self.assertEqual([p["name"] for p in listing], ["web-failing", "db-ok"])
        self.assertEqual(listing[1]["type"], "tcp")
        self.assertEqual(listing[1]["labels"], {"app": "other", "environment": "production"})
        self.assertEqual(listing[0]["interval_seconds"], 1.0)
        # Offline: nothing listens, nothing is created.
        self.assertFalse(os.path.exists(agent_dir + "/state"))

    def test_agent_down_exits_3(self):
        socket_path = os.path.join("/tmp", f"vigie-down-{os.getpid()}.sock")
        agent = Agent(AGENT, CONFIG.replace("STATE_DIR.sock", socket_path)
                      .replace("FAILING_PORT", "1").replace("OK_PORT", "2"))
        self.assertTrue(os.path.exists(socket_path))
        agent.stop()
        self.assertFalse(os.path.exists(socket_path), "the agent removes its socket at stop")
        result = subprocess.run([VIGIECTL, "--socket", socket_path, "status"],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 3, result)
        self.assertIn(socket_path, result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--vigiectl", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    VIGIECTL = args.vigiectl
    unittest.main(argv=[sys.argv[0], "-v", *rest])
