# SPDX-License-Identifier: Apache-2.0
"""The tcp type's query_response against real servers on loopback: aiosmtpd (SMTP with
STARTTLS, python3-aiosmtpd), OpenSSH's sshd (banner) and a small line server for captures, each
started and stopped by the tests; through `vigie-agent --probe`.

Usage: test_tcp_query_response.py --agent PATH/TO/vigie-agent
"""

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
from http_test_server import TestPki, free_port  # noqa: E402
from probe_cli import Outcome  # noqa: E402

AGENT = None
SSHD = "/usr/sbin/sshd"
# Debian's interpreter, where python3-aiosmtpd is installed (the tests' own may be another).
DEBIAN_PYTHON = "/usr/bin/python3"


def probe(block, timeout="3s"):
    with tempfile.TemporaryDirectory(prefix="vigie-tcp-qr-") as folder:
        path = os.path.join(folder, "vigie.yaml")
        with open(path, "w") as f:
            f.write("probes:\n  - name: t\n    type: tcp\n    interval: 30s\n"
                    f"    timeout: {timeout}\n    tcp: {json.dumps(block)}\n")
        proc = subprocess.run([AGENT, "--probe", "t", "--config", path], capture_output=True,
                              text=True, timeout=30)
        return Outcome(proc.returncode, proc.stdout + proc.stderr)


class LineServer:
    """Greets with a token, answers `ECHO <token>` with `OK <token>`, anything else with ERR;
    or, when `silent`, accepts and says nothing."""

    def __init__(self, silent=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.silent:
                self.held.append(conn)
                continue
            with conn:
                conn.sendall(b"* HELLO server ready\r\n* session token=abc123 expires=60\r\n")
                line = conn.makefile("rb").readline().strip()
                conn.sendall(b"OK abc123\r\n" if line == b"ECHO abc123" else b"ERR " + line +
                             b"\r\n")

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class Smtp:
    """aiosmtpd on loopback with STARTTLS, in a child process (its own event loop)."""

    SCRIPT = """
import sys, ssl, time
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]),
                        tls_context=context, require_starttls=False)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""

    def __init__(self, cert, key):
        self.port = free_port()
        self.proc = subprocess.Popen([DEBIAN_PYTHON, "-c", self.SCRIPT, str(self.port), cert, key],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("aiosmtpd did not start")

    def close(self):
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.wait(timeout=10)


class Sshd:
    """OpenSSH's sshd in the foreground on an ephemeral loopback port, with a host key made
    here; only its banner is read."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigie-sshd-")
        key = os.path.join(self.dir, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        self.port = free_port()
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
                    f"PidFile {self.dir}/sshd.pid\nUsePAM no\nPasswordAuthentication no\n")
        # sshd refuses to start without its privilege separation folder.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sshd did not start")
                time.sleep(0.05)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", self.dir], check=False)


SMTP_STARTTLS = [
    {"expect": "^220 "},
    {"send": "EHLO vigie.test"},
    {"expect": "^250-STARTTLS"},
    {"send": "STARTTLS"},
    {"expect": "^220"},
    {"starttls": True},
    {"send": "EHLO vigie.test"},
    {"expect": "^250 "},
    {"send": "QUIT"},
    {"expect": "^221"},
]


class QueryResponse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = TestPki()
        cls.smtp = Smtp(*cls.pki.good)
        cls.smtp_address = f"127.0.0.1:{cls.smtp.port}"

    @classmethod
    def tearDownClass(cls):
        cls.smtp.close()
        cls.pki.close()

    def assertFails(self, outcome, reason):
        self.assertEqual(outcome.status, "CRITICAL", outcome)
        self.assertEqual(outcome.reason, reason, outcome)

    def test_smtp_starttls_verified(self):
        out = probe({"address": self.smtp_address, "tls_ca_file": self.pki.ca_crt,
                     "query_response": SMTP_STARTTLS})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples.get("probe_failed_due_to_regex"), 0, out)
        self.assertGreater(out.samples.get("probe_ssl_earliest_cert_expiry", 0), time.time(), out)
        self.assertIn("STARTTLS: TLS", out.output)

    def test_smtp_starttls_certificate_expiry_thresholds(self):
        # The test certificate lives days, not ten years: both thresholds are crossed.
        out = probe({"address": self.smtp_address, "tls_ca_file": self.pki.ca_crt,
                     "tls_expiry_warning": "3650d", "query_response": SMTP_STARTTLS})
        self.assertEqual((out.status, out.reason), ("WARNING", "tls_expiry"), out)
        out = probe({"address": self.smtp_address, "tls_ca_file": self.pki.ca_crt,
                     "tls_expiry_critical": "3650d", "query_response": SMTP_STARTTLS})
        self.assertFails(out, "tls_expiry")

    def test_smtp_starttls_with_unknown_ca(self):
        out = probe({"address": self.smtp_address, "query_response": SMTP_STARTTLS})
        self.assertFails(out, "tls_verify")
        self.assertIsNotNone(out.samples.get("probe_ssl_earliest_cert_expiry"), out)

    def test_smtp_starttls_with_wrong_name(self):
        out = probe({"address": self.smtp_address, "tls_ca_file": self.pki.ca_crt,
                     "tls_server_name": "mail.elsewhere.example", "query_response": SMTP_STARTTLS})
        self.assertFails(out, "tls_verify")

    def test_wrong_banner_fails_due_to_regex(self):
        out = probe({"address": self.smtp_address,
                     "query_response": [{"expect": "^220 mail\\.example\\.org ESMTP"}]},
                    timeout="1s")
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertIn(out.reason, ("expect", "timeout"), out)

    def test_connection_ends_before_the_match(self):
        out = probe({"address": self.smtp_address, "query_response": [
            {"expect": "^220 "}, {"send": "QUIT"}, {"expect": "^250 never"}]})
        self.assertFails(out, "expect")
        self.assertEqual(out.samples.get("probe_failed_due_to_regex"), 1, out)
        self.assertIn("step 3", out.output)

    def test_captures_are_sent_back(self):
        server = LineServer()
        try:
            for send in ("ECHO ${token}", "ECHO ${1}", "ECHO $1"):
                out = probe({"address": f"127.0.0.1:{server.port}", "query_response": [
                    {"expect": "token=(?<token>\\w+)"}, {"send": send},
                    {"expect": "^OK abc123$"}]})
                self.assertEqual(out.status, "OK", (send, out))
            out = probe({"address": f"127.0.0.1:{server.port}", "query_response": [
                {"expect": "token=(\\w+)"}, {"send": "ECHO wrong"}, {"expect": "^OK"}]})
            self.assertFails(out, "expect")
        finally:
            server.close()

    def test_silent_server_times_out(self):
        server = LineServer(silent=True)
        try:
            out = probe({"address": f"127.0.0.1:{server.port}",
                         "query_response": [{"expect": "^220"}]}, timeout="500ms")
            self.assertFails(out, "timeout")
        finally:
            server.close()

    def test_server_down(self):
        out = probe({"address": f"127.0.0.1:{free_port()}",
                     "query_response": [{"expect": "^220"}]})
        self.assertFails(out, "connect")

    def test_ssh_banner(self):
        sshd = Sshd()
        try:
            out = probe({"address": f"127.0.0.1:{sshd.port}",
                         "query_response": [{"expect": "^SSH-2\\.0-OpenSSH_"}]})
            self.assertEqual(out.status, "OK", out)
            out = probe({"address": f"127.0.0.1:{sshd.port}",
                         "query_response": [{"expect": "^SSH-1\\.99-"}]}, timeout="1s")
            self.assertEqual(out.status, "CRITICAL", out)
        finally:
            sshd.close()

    def test_configuration_errors(self):
        address = self.smtp_address
        for block, words in (
                ({"address": address, "send": "x", "query_response": [{"send": "y"}]},
                 "either query_response or send/expect"),
                ({"address": address, "tls": True, "query_response": [{"starttls": True}]},
                 "not with tls: true"),
                ({"address": address, "query_response": [{"expect": "("}]},
                 "invalid regular expression"),
                ({"address": address, "query_response": [{"sned": "x"}]}, "unknown key"),
                ({"address": address, "query_response": []}, "expected a list")):
            out = probe(block)
            self.assertNotEqual(out.exit_code, 0, out)
            self.assertIn(words, out.output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = os.path.abspath(args.agent)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
