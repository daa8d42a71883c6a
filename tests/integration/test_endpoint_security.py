#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""TLS and basic authentication on the agent's endpoint, configured like a Prometheus exporter's
--web.config.file, exercised with curl against the real binary and a test CA made here."""

import argparse
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

from agent_harness import Agent, memory_mib, sanitized

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt, the same library the agent checks hashes with

AGENT = None

CONFIG = """
agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR, web_config_file: WEB_CONFIG }
probes: []
"""


def bcrypt(password, cost=4):
    # Cost 4 keeps the suite fast; production hashes use 10 or more (the code path is the same).
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A CA, a server certificate for 127.0.0.1, a client certificate from the CA and one from
    a CA the agent does not trust."""

    def __init__(self, directory):
        self.dir = directory
        for ca in ("ca", "rogue-ca"):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
                    "-subj", f"/CN=Vigie test {ca}", cwd=directory)
        self._issue("server", "ca", "subjectAltName=IP:127.0.0.1")
        self._issue("client", "ca", "extendedKeyUsage=clientAuth")
        self._issue("rogue", "rogue-ca", "extendedKeyUsage=clientAuth")

    def _issue(self, name, ca, extension):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                cwd=self.dir)
        with open(os.path.join(self.dir, f"{name}.ext"), "w") as f:
            f.write(extension + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
                cwd=self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)


class EndpointSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vigie-web-")
        cls.pki = Pki(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, web_config):
        web = os.path.join(self.tmp.name, f"web-{self.id().rsplit('.', 1)[1]}.yaml")
        with open(web, "w") as f:
            f.write(web_config)
        agent = Agent(AGENT, CONFIG.replace("WEB_CONFIG", web))
        self.addCleanup(agent.stop)
        agent.web = web
        return agent

    def curl(self, agent, path="/metrics", user=None, client=None, scheme="https", extra=()):
        command = ["curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-D", "-",
                   "--cacert", self.pki.path("ca.crt"), *extra]
        if user:
            command += ["-u", user]
        if client:
            command += ["--cert", self.pki.path(f"{client}.crt"),
                        "--key", self.pki.path(f"{client}.key")]
        command.append(f"{scheme}://127.0.0.1:{agent.port}{path}")
        result = subprocess.run(command, capture_output=True, text=True)
        status = int(result.stdout.split()[1]) if result.returncode == 0 else None
        return status, result.stdout, result.returncode

    def tls_users(self, users, extra=""):
        lines = "".join(f"  {name}: {hash_}\n" for name, hash_ in users.items())
        return (f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"
                f"basic_auth_users:\n{lines}")

    def test_tls_with_basic_auth(self):
        agent = self.start(self.tls_users({"prometheus": bcrypt("s3cret"),
                                           "other": bcrypt("x").replace("$2b$", "$2y$", 1)}))
        status, headers, _ = self.curl(agent, user="prometheus:s3cret")
        self.assertEqual(status, 200, headers)
        self.assertIn("TLS on, basic auth for 2 users", agent.logs())
        # Served from the cache of verified credentials the second time.
        self.assertEqual(self.curl(agent, user="prometheus:s3cret")[0], 200)
        # htpasswd writes $2y$: the same algorithm.
        self.assertEqual(self.curl(agent, path="/-/healthy", user="other:x")[0], 200)
        for user in ("prometheus:wrong", "nobody:s3cret", "prometheus:", None):
            status, headers, _ = self.curl(agent, user=user)
            self.assertEqual(status, 401, user)
            self.assertIn('WWW-Authenticate: Basic realm="vigie-agent"', headers)
        # Every path is protected, as with exporter-toolkit.
        self.assertEqual(self.curl(agent, path="/-/ready")[0], 401)
        # Plain HTTP on the TLS port gets nothing.
        self.assertIsNone(self.curl(agent, scheme="http", user="prometheus:s3cret")[0])
        self.assertNotIn("s3cret", agent.logs())

    def test_client_certificate_required(self):
        agent = self.start(self.tls_users(
            {"prometheus": bcrypt("pw")},
            "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"))
        self.assertEqual(self.curl(agent, user="prometheus:pw", client="client")[0], 200)
        status, _, rc = self.curl(agent, user="prometheus:pw")
        self.assertIsNone(status)
        self.assertNotEqual(rc, 0)
        self.assertIsNone(self.curl(agent, user="prometheus:pw", client="rogue")[0])

    def test_tls_without_auth_and_min_version(self):
        agent = self.start("tls_server_config:\n  cert_file: server.crt\n"
                           "  key_file: server.key\n  min_version: TLS13\n")
        self.assertEqual(self.curl(agent)[0], 200)
        self.assertIsNone(self.curl(agent, extra=("--tls-max", "1.2"))[0])

    def test_basic_auth_without_tls_and_reload_of_users(self):
        agent = self.start(f"basic_auth_users:\n  prometheus: {bcrypt('old')}\n")
        self.assertEqual(self.curl(agent, scheme="http", user="prometheus:old")[0], 200)
        with open(agent.web, "w") as f:
            f.write(f"basic_auth_users:\n  prometheus: {bcrypt('new')}\n")
        agent.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.curl(agent, scheme="http", user="prometheus:new")[0] != 200:
            self.assertLess(time.time(), deadline, agent.logs())
            time.sleep(0.1)
        # The cached success of the old password does not outlive its hash.
        self.assertEqual(self.curl(agent, scheme="http", user="prometheus:old")[0], 401)

    def test_memory_of_idle_tls_connections_is_bounded_and_returned(self):
        if sanitized(AGENT):
            self.skipTest("the sanitizers' allocators keep freed memory")
        # An idle TLS connection costs ~75 KiB (OpenSSL's and Asio's buffers): 1,000 of them
        # took 75 MiB, kept by the heap after they closed. Now at most 512 connections are
        # open, the oldest idle ones making room, and the memory goes back after the burst.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        agent = self.start("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        self.assertEqual(self.curl(agent)[0], 200)
        context = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        baseline = memory_mib(agent.proc.pid, "VmRSS")
        held = []
        try:
            for _ in range(1000):
                raw = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
                held.append(context.wrap_socket(raw, server_hostname="127.0.0.1"))
            during = memory_mib(agent.proc.pid, "VmRSS")
        finally:
            for connection in held:
                connection.close()
        deadline = time.time() + 5
        while True:
            after = memory_mib(agent.proc.pid, "VmRSS")
            if after - baseline < 20 or time.time() > deadline:
                break
            time.sleep(0.2)
        print(f"\n1,000 idle TLS connections: RSS {baseline:.1f} MiB before, {during:.1f} held, "
              f"{after:.1f} after", file=sys.stderr)
        self.assertLess(during - baseline, 55, "bounded by the connection cap")
        self.assertLess(after - baseline, 20, "returned after the burst")
        self.assertEqual(self.curl(agent)[0], 200)

    def test_invalid_web_config_is_a_config_error(self):
        web = os.path.join(self.tmp.name, "bad-web.yaml")
        with open(web, "w") as f:
            f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: missing.key\n"
                    "  client_auth_type: Sometimes\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
                    "basic_auth_users:\n  prometheus: plaintext\n")
        config = os.path.join(self.tmp.name, "bad.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.replace("WEB_CONFIG", web).replace("STATE_DIR", self.tmp.name))
        result = subprocess.run([AGENT, "--check-config", "--config", config],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        for expected in (f"{web}:3:13: tls_server_config.key_file: cannot load",
                         f"{web}:4:21: tls_server_config.client_auth_type: must be one of",
                         f"{web}:5:3: tls_server_config.cipher_suites: unknown or unsupported",
                         f"{web}:7:15: basic_auth_users.prometheus: expected a bcrypt hash"):
            self.assertIn(expected, result.stderr)
        self.assertNotIn("plaintext", result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
