#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Configuration inputs that once crashed or froze `--check-config` (and, through SIGHUP, the
daemon), replayed on the real binary. The corpus files are fuzzing seeds too (tests/fuzz/corpus)."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_harness import Agent, value  # noqa: E402

AGENT = None
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
                      "config_loader")

PROBE = """probes:
  - name: front
    type: http
    http:
      url: "http://127.0.0.1:1/"
"""


class HostileConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vigie-hostile-")
        self.addCleanup(shutil.rmtree, self.dir)

    def check(self, path):
        started = time.monotonic()
        result = subprocess.run([AGENT, "--check-config", "--config", path],
                                capture_output=True, text=True, timeout=60)
        result.seconds = time.monotonic() - started
        return result

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertRefused(self, result, *expected):
        self.assertEqual(result.returncode, 1, result.stderr[-500:])
        for text in expected:
            self.assertIn(text, result.stderr)
        # Refused at once, nothing read: a FIFO blocked, /dev/zero took gigabytes. (The bound
        # leaves room for a sanitizer build's start on a loaded machine.)
        self.assertLess(result.seconds, 20)

    def test_30000_character_names_are_refused_without_overflowing_the_stack(self):
        # std::regex matched them recursively: SIGSEGV. Now: a clear error, the name cut.
        for name, key in (("regression_long_probe_name.yaml", "probes[0].name"),
                          ("regression_long_label_name.yaml", "probes[x].labels.")):
            result = self.check(os.path.join(CORPUS, name))
            self.assertEqual(result.returncode, 1, (name, result.stderr[-500:]))
            self.assertIn(key, result.stderr)
            self.assertIn("at most 200 characters", result.stderr)
            self.assertIn("[cut, ", result.stderr)
            self.assertLess(len(result.stderr), 2000)

    def test_special_files_are_refused_with_their_place(self):
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        cases = [
            ("include", "include: [%s]\n" % fifo + PROBE, "1:10: include: cannot read %s: a FIFO" % fifo),
            ("include", "include: [/dev/zero]\n" + PROBE, "include: cannot read /dev/zero: a device"),
            ("password_file", PROBE + "      basic_auth_username: u\n"
             "      basic_auth_password_file: %s\n" % fifo,
             "7:33: probes[front].http.basic_auth_password_file: cannot read %s: a FIFO" % fifo),
            ("password_file", PROBE + "      basic_auth_username: u\n"
             "      basic_auth_password_file: %s\n" % self.dir,
             "basic_auth_password_file: cannot read %s: a directory" % self.dir),
            ("body_file", PROBE + "      body_file: /dev/zero\n",
             "6:18: probes[front].http.body_file: cannot read /dev/zero: a device"),
            ("hmac_secret_file", "forwarding:\n  webhook:\n    - name: w\n"
             "      url: http://127.0.0.1:1/\n      hmac_secret_file: /dev/zero\n" + PROBE,
             "5:25: forwarding.webhook[0].hmac_secret_file: cannot read /dev/zero: a device"),
            ("web_config_file", "agent: {web_config_file: %s}\n" % fifo + PROBE,
             "1:26: agent.web_config_file: cannot read the web configuration file: cannot read "
             "%s: a FIFO" % fifo),
            ("tls_ca_file", "probes:\n  - name: t\n    type: tcp\n"
             "    tcp: {address: \"127.0.0.1:1\", tls: true, tls_ca_file: %s}\n" % fifo,
             "probes[t].tcp.tls_ca_file: cannot read %s: a FIFO" % fifo),
            ("env_files", "probes:\n  - name: n\n    type: nagios\n    nagios:\n"
             "      command: [/bin/true]\n      env_files: {PGPASSWORD: %s}\n" % fifo,
             "probes[n].nagios.env_files: PGPASSWORD: cannot read %s: a FIFO" % fifo),
        ]
        for what, text, expected in cases:
            with self.subTest(what=what, expected=expected):
                self.assertRefused(self.check(self.write("vigie.yaml", text)), expected)

    def test_the_configuration_itself_must_be_a_regular_file(self):
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        self.assertRefused(self.check(fifo), "cannot read %s: a FIFO" % fifo)
        self.assertRefused(self.check("/dev/zero"), "a device")

    def test_files_above_their_size_cap_are_refused_unread(self):
        big = self.write("vigie.yaml", PROBE)
        os.truncate(big, 17 * 1024 * 1024)  # sparse: 17 MiB, over the 16 MiB cap
        self.assertRefused(self.check(big), "more than the limit of 16777216")
        secret = self.write("secret", "x" * (64 * 1024 + 1))
        config = self.write("small.yaml", PROBE + "      bearer_token_file: %s\n" % secret)
        self.assertRefused(self.check(config), "bearer_token_file: cannot read %s: 65537 bytes, "
                           "more than the limit of 65536" % secret)

    def test_duplicate_keys_and_injected_line_breaks_are_refused(self):
        config = self.write("vigie.yaml", PROBE + '      url: "http://127.0.0.1:2/"\n'
                            '      headers: {X-Api-Key: "k\\r\\nX-Injected: 1"}\n')
        self.assertRefused(self.check(config), "6:7: url: duplicate key (first written at line 5",
                           "probes[front].http.headers.X-Api-Key: contains a line break")

    def test_web_config_certificates_must_be_regular_files(self):
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        self.write("web.yml", "tls_server_config:\n  cert_file: %s\n  key_file: /dev/zero\n"
                   % fifo)
        config = self.write("vigie.yaml", "agent: {web_config_file: web.yml}\n" + PROBE)
        self.assertRefused(self.check(config),
                           "tls_server_config.cert_file: cannot read %s: a FIFO" % fifo,
                           "tls_server_config.key_file: cannot read /dev/zero: a device")

    def test_duplicate_keys_in_the_web_config_are_refused(self):
        web = self.write("web.yml", "basic_auth_users:\n  alice: $2y$10$x\n"
                         "basic_auth_users:\n  bob: $2y$10$y\n")
        config = self.write("vigie.yaml", "agent: {web_config_file: web.yml}\n" + PROBE)
        self.assertRefused(self.check(config), "web.yml:3:1: basic_auth_users: duplicate key "
                           "(first written at line 1)")

    def test_a_reload_onto_special_files_is_rejected_and_the_daemon_keeps_running(self):
        # Through SIGHUP a FIFO froze the daemon and /dev/zero ended in std::terminate.
        base = ("agent: {listen: \"127.0.0.1:0\", state_dir: STATE_DIR}\n"
                "probes:\n  - name: front\n    type: tcp\n    interval: 1s\n    timeout: 500ms\n"
                "    tcp: {address: \"127.0.0.1:1\"}\n")
        agent = Agent(AGENT, base)
        self.addCleanup(agent.stop)
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        for hostile in ("include: [%s]\n" % fifo, "include: [/dev/zero]\n"):
            agent.write_config(hostile + base)
            agent.signal(signal.SIGHUP)
            samples = agent.wait_for(
                lambda s: value(s, "vigie_config_last_reload_successful") == 0,
                "the reload to be rejected")
            self.assertEqual(value(samples, "vigie_config_last_reload_successful"), 0)
            agent.write_config(base)
            agent.signal(signal.SIGHUP)
            agent.wait_for(lambda s: value(s, "vigie_config_last_reload_successful") == 1,
                           "a good reload")
        self.assertIn("include: cannot read %s: a FIFO" % fifo, agent.logs())
        self.assertIn("include: cannot read /dev/zero: a device", agent.logs())
        self.assertIsNone(agent.proc.poll())

    def test_control_characters_from_the_file_are_escaped_in_messages(self):
        config = self.write("vigie.yaml", 'probes:\n  - name: "bad\\e[31mname\\x01\\xff"\n'
                            '    type: tcp\n    tcp: {address: "127.0.0.1:1"}\n')
        result = self.check(config)
        self.assertRefused(result, "'bad\\x1b[31mname\\x01\u00ff' is not a valid probe name")
        self.assertNotIn("\x1b", result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
