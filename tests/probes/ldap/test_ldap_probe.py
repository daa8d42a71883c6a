# SPDX-License-Identifier: Apache-2.0
"""The ldap probe against a private slapd (tests/support/ldap_test_server.py): `vigie-agent
--probe` on a generated config, one probe per test, checking status, reason and samples.

Usage: test_ldap_probe.py --agent PATH/TO/vigie-agent
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
from http_test_server import TestPki  # noqa: E402
from ldap_test_server import ALICE, BOB, SUFFIX, Slapd  # noqa: E402
from probe_cli import Outcome  # noqa: E402

AGENT = None


def probe(block, timeout="3s", secrets=None):
    """Runs one ldap probe; `secrets` are written to files and named by `<key>_file`."""
    with tempfile.TemporaryDirectory(prefix="vigie-ldap-") as folder:
        block = dict(block)
        for key, text in (secrets or {}).items():
            path = os.path.join(folder, key)
            with open(path, "w") as f:
                f.write(text + "\n")
            block[key + "_file"] = path
        path = os.path.join(folder, "vigie.yaml")
        with open(path, "w") as f:
            f.write("probes:\n  - name: t\n    type: ldap\n    interval: 30s\n"
                    f"    timeout: {timeout}\n    ldap: {json.dumps(block)}\n")
        proc = subprocess.run([AGENT, "--probe", "t", "--config", path], capture_output=True,
                              text=True, timeout=30)
        return Outcome(proc.returncode, proc.stdout + proc.stderr)


class SilentServer:
    """Accepts connections and never answers (a hung directory), or closes them at once."""

    def __init__(self, close_at_once=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.close_at_once = close_at_once
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.close_at_once:
                conn.close()
            else:
                self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class LdapProbe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = TestPki()
        cls.slapd = Slapd(*cls.pki.good, cls.pki.ca_crt)
        cls.url = f"ldap://127.0.0.1:{cls.slapd.port}"
        cls.ldaps = f"ldaps://127.0.0.1:{cls.slapd.tls_port}"

    @classmethod
    def tearDownClass(cls):
        cls.slapd.close()
        cls.pki.close()

    def assertFails(self, outcome, reason):
        self.assertEqual(outcome.status, "CRITICAL", outcome)
        self.assertEqual(outcome.reason, reason, outcome)

    def test_anonymous_bind_and_search(self):
        out = probe({"url": self.url, "search_base": f"ou=people,{SUFFIX}",
                     "search_filter": "(objectClass=inetOrgPerson)", "expect_entries_min": 3})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples.get("vigie_ldap_search_entries"), 3, out)
        self.assertEqual(out.labelled_value("vigie_ldap_result_code", operation="bind"), 0, out)
        self.assertEqual(out.labelled_value("vigie_ldap_result_code", operation="search"), 0, out)
        for phase in ("connect", "bind", "search"):
            self.assertGreater(out.labelled_value("vigie_ldap_duration_seconds", phase=phase), 0,
                               out)
        self.assertIsNone(out.labelled_value("vigie_ldap_duration_seconds", phase="tls"), out)
        self.assertIn("search returned 3 entries", out.output)

    def test_simple_bind_with_password_file(self):
        out = probe({"url": self.url, "bind_dn": ALICE}, secrets={"password": "alice-secret"})
        self.assertEqual(out.status, "OK", out)
        self.assertIn("bound as " + ALICE, out.output)
        # The password policy's warning (pwdExpireWarning covers the whole max age).
        expires = out.samples.get("vigie_ldap_password_expires_seconds")
        self.assertIsNotNone(expires, out)
        self.assertGreater(expires, 80000)
        self.assertNotIn("alice-secret", out.output)

    def test_wrong_password_is_invalid_credentials(self):
        out = probe({"url": self.url, "bind_dn": ALICE}, secrets={"password": "not-hers"})
        self.assertFails(out, "invalid_credentials")
        self.assertEqual(out.labelled_value("vigie_ldap_result_code", operation="bind"), 49, out)
        self.assertNotIn("not-hers", out.output)

    def test_unknown_dn_is_invalid_credentials(self):
        out = probe({"url": self.url, "bind_dn": f"uid=nobody,ou=people,{SUFFIX}"},
                    secrets={"password": "whatever"})
        self.assertFails(out, "invalid_credentials")

    def test_expired_password_is_told_apart(self):
        out = probe({"url": self.url, "bind_dn": BOB}, secrets={"password": "bob-secret"})
        self.assertFails(out, "password_expired")
        self.assertIn("Password expired", out.output)

    def test_search_expectations(self):
        base = {"url": self.url, "search_base": f"ou=people,{SUFFIX}",
                "search_filter": "(uid=alice)"}
        out = probe({**base, "expect_attributes": {"mail": "^alice@example\\.test$"}})
        self.assertEqual(out.status, "OK", out)
        self.assertFails(probe({**base, "expect_attributes": {"mail": "@elsewhere"}}),
                         "expectation")
        out = probe({**base, "expect_entries_min": 2})
        self.assertFails(out, "expectation")
        self.assertEqual(out.samples.get("vigie_ldap_search_entries"), 1, out)
        self.assertFails(probe({**base, "search_base": f"ou=nowhere,{SUFFIX}"}), "search")

    def test_ldaps_verified_reports_certificate_expiry(self):
        out = probe({"url": self.ldaps, "tls_ca_file": self.pki.ca_crt, "bind_dn": ALICE},
                    secrets={"password": "alice-secret"})
        self.assertEqual(out.status, "OK", out)
        expiry = out.samples.get("probe_ssl_earliest_cert_expiry")
        self.assertIsNotNone(expiry, out)
        self.assertGreater(expiry, time.time())
        self.assertGreater(out.labelled_value("vigie_ldap_duration_seconds", phase="tls"), 0, out)
        self.assertIsNotNone(out.labelled_value("probe_tls_version_info", version="TLS 1.3"), out)

    def test_starttls_then_search_over_tls(self):
        out = probe({"url": self.url, "starttls": True, "tls_ca_file": self.pki.ca_crt,
                     "search_base": SUFFIX, "search_filter": "(uid=carol)"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples.get("vigie_ldap_search_entries"), 1, out)
        self.assertIsNotNone(out.samples.get("probe_ssl_earliest_cert_expiry"), out)

    def test_unknown_ca_fails_verification_but_reports_expiry(self):
        out = probe({"url": self.ldaps})  # the system's CAs do not know the test CA
        self.assertFails(out, "tls_verify")
        self.assertIsNotNone(out.samples.get("probe_ssl_earliest_cert_expiry"), out)
        out = probe({"url": self.url, "starttls": True})
        self.assertFails(out, "tls_verify")

    def test_wrong_name_fails_verification(self):
        out = probe({"url": self.ldaps, "tls_ca_file": self.pki.ca_crt,
                     "tls_server_name": "ldap.elsewhere.example"})
        self.assertFails(out, "tls_verify")

    def test_insecure_skip_verify_accepts_unknown_ca(self):
        out = probe({"url": self.ldaps, "tls_insecure_skip_verify": True})
        self.assertEqual(out.status, "OK", out)

    def test_ldaps_to_a_plain_port_fails_handshake(self):
        out = probe({"url": f"ldaps://127.0.0.1:{self.slapd.port}",
                     "tls_ca_file": self.pki.ca_crt})
        self.assertFails(out, "tls_handshake")

    def test_server_down(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.assertFails(probe({"url": f"ldap://127.0.0.1:{port}"}), "connect")

    def test_connection_closed_by_server(self):
        server = SilentServer(close_at_once=True)
        try:
            self.assertFails(probe({"url": f"ldap://127.0.0.1:{server.port}"}), "server_down")
        finally:
            server.close()

    def test_hung_server_times_out(self):
        server = SilentServer()
        try:
            started = time.monotonic()
            out = probe({"url": f"ldap://127.0.0.1:{server.port}",
                         "search_base": SUFFIX}, timeout="500ms")
            self.assertLess(time.monotonic() - started, 5)
            self.assertFails(out, "timeout")
            self.assertIn("bind", out.output)
            out = probe({"url": f"ldaps://127.0.0.1:{server.port}"}, timeout="500ms")
            self.assertFails(out, "timeout")
        finally:
            server.close()

    def test_configuration_errors(self):
        for block, words in (
                ({"url": "http://x"}, "expected ldap://"),
                ({"url": self.ldaps, "starttls": True}, "ldaps:// is TLS already"),
                ({"url": self.url, "bind_dn": ALICE}, "go together"),
                ({"url": self.url, "tls_ca_file": "/x"}, "only meaningful"),
                ({"url": self.url, "expect_attributes": {"mail": "x"}}, "search_base")):
            out = probe(block)
            self.assertNotEqual(out.exit_code, 0, out)
            self.assertIn(words, out.output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = os.path.abspath(args.agent)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
