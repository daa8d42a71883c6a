#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The endpoint against hostile clients, on the real binary: floods of idle connections with
and without running out of file descriptors, strict methods and versions, and the logging and
throttling of failed logins."""

import argparse
import base64
import os
import resource
import socket
import sys
import tempfile
import time
import unittest
import warnings

from agent_harness import Agent, cpu_seconds, sanitized

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

AGENT = None

CONFIG = """
agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR WEB }
probes: []
"""

IDLE_CONNECTIONS = 1100


def raw_request(port, data, timeout=5):
    """Sends `data` as is; returns (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


class HostileEndpointTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The test itself holds the flood's sockets.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < IDLE_CONNECTIONS + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        cls.tmp = tempfile.TemporaryDirectory(prefix="vigie-hostile-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, nofile=None, web_config=None):
        binary = AGENT
        if nofile:
            # The agent under a descriptor limit, as with `ulimit -n` in its unit.
            binary = os.path.join(self.tmp.name, f"agent-nofile-{nofile}")
            with open(binary, "w") as f:
                f.write(f'#!/bin/sh\nulimit -n {nofile}\nexec "{AGENT}" "$@"\n')
            os.chmod(binary, 0o755)
        web = ""
        if web_config:
            path = os.path.join(self.tmp.name, f"web-{self.id().rsplit('.', 1)[1]}.yaml")
            with open(path, "w") as f:
                f.write(web_config)
            web = f", web_config_file: {path}"
        agent = Agent(binary, CONFIG.replace(" WEB", web))
        self.addCleanup(agent.stop)
        return agent

    def timed_get(self, agent, path="/metrics"):
        """(status, seconds), or (None, seconds) when it timed out."""
        started = time.monotonic()
        try:
            status, _ = agent.get(path)
        except OSError:
            status = None
        return status, time.monotonic() - started

    def flood(self, agent, nofile):
        """Holds IDLE_CONNECTIONS idle connections for 3 s; checks the agent keeps serving,
        stays calm and logs little, and serves at once when they are gone."""
        if sanitized(AGENT):
            self.skipTest("CPU and descriptor bounds are the Release binary's")
        idle = [socket.create_connection(("127.0.0.1", agent.port)) for _ in range(IDLE_CONNECTIONS)]
        try:
            cpu_before = cpu_seconds(agent.proc.pid)
            time.sleep(3)
            cpu = cpu_seconds(agent.proc.pid) - cpu_before
            during = self.timed_get(agent)
        finally:
            for s in idle:
                s.close()
        after = self.timed_get(agent)
        lines = agent.logs().count("\n")
        print(f"\nulimit -n {nofile}, {IDLE_CONNECTIONS} idle connections: agent CPU {cpu:.2f} s "
              f"over 3 s, {lines} log lines, scrape during {during}, after {after}",
              file=sys.stderr)
        self.assertEqual(during[0], 200, "a scrape during the flood")
        self.assertLess(during[1], 1.0, "a scrape during the flood")
        self.assertEqual(after[0], 200, "a scrape after the flood")
        self.assertLess(after[1], 1.0, "a scrape after the flood")
        self.assertLess(cpu, 0.15, agent.logs()[-2000:])
        self.assertLess(lines, 20, agent.logs()[-2000:])
        return agent.logs()

    def test_idle_flood_under_ulimit_1024(self):
        # 1,100 connections against 1,024 descriptors: the connection cap keeps the agent below
        # the limit and the oldest idle connections make room for new ones.
        self.flood(self.start(nofile=1024), 1024)

    def test_idle_flood_out_of_descriptors(self):
        # 128 descriptors: accept fails with EMFILE; the agent must neither spin nor flood its log.
        logs = self.flood(self.start(nofile=128), 128)
        self.assertIn("accept failed: Too many open files", logs)
        self.assertLessEqual(logs.count("accept failed"), 2, logs[-2000:])

    def test_strict_methods_and_versions(self):
        agent = self.start()
        port = agent.port
        status, headers, _ = raw_request(port, b"PUT /-/reload HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual((status, headers.get("Allow")), (405, "POST"))
        self.assertNotIn("configuration reloaded", agent.logs())
        for method in (b"GET", b"DELETE", b"BREW"):
            status, headers, _ = raw_request(port, method + b" /-/reload HTTP/1.1\r\n\r\n")
            self.assertEqual((status, headers.get("Allow")), (405, "POST"), method)
        for path in (b"/", b"/metrics", b"/-/healthy", b"/-/ready"):
            status, headers, _ = raw_request(port, b"POST " + path + b" HTTP/1.1\r\n\r\n")
            self.assertEqual((status, headers.get("Allow")), (405, "GET, HEAD"), path)
        self.assertNotIn("configuration reloaded", agent.logs())
        status, headers, body = raw_request(port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertGreater(int(headers["Content-Length"]), 0)
        self.assertEqual(body, b"")
        self.assertEqual(raw_request(port, b"GET /metrics HTTP/1.0\r\n\r\n")[0], 200)
        self.assertEqual(raw_request(port, b"GET /metrics HTTP/9.9\r\n\r\n")[0], 505)
        self.assertEqual(raw_request(port, b"GET /metrics HTTP/2.0\r\n\r\n")[0], 505)
        for malformed in (b"GET /metrics\r\n\r\n", b"GET /metrics HTTP/1.1x\r\n\r\n",
                          b"GET  /metrics HTTP/1.1\r\n\r\n", b"GET metrics HTTP/1.1\r\n\r\n",
                          b"GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n",
                          b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                          b"GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n"):
            self.assertEqual(raw_request(port, malformed)[0], 400, malformed)
        self.assertEqual(raw_request(
            port, b"POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")[0], 501)
        self.assertNotIn("configuration reloaded", agent.logs())
        self.assertEqual(raw_request(port, b"POST /-/reload HTTP/1.1\r\n\r\n")[0], 200)
        self.assertIn("configuration reloaded", agent.logs())

    def test_failed_logins_logged_and_throttled(self):
        good = crypt.crypt("right", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        agent = self.start(web_config=f"basic_auth_users:\n  prometheus: {good}\n")

        def get(credentials):
            header = b""
            if credentials:
                header = b"Authorization: Basic " + base64.b64encode(credentials) + b"\r\n"
            return raw_request(agent.port, b"GET /metrics HTTP/1.1\r\n" + header + b"\r\n")

        self.assertEqual(get(b"prometheus:right")[0], 200)
        # No credentials at all is a client's first try, not a failed login.
        self.assertEqual(get(None)[0], 401)
        self.assertNotIn("failed login", agent.logs())
        # A user name with a terminal escape is logged escaped.
        self.assertEqual(get(b"in\x1b[31mtruder:x")[0], 401)
        for attempt in range(4):
            self.assertEqual(get(b"prometheus:guess%d" % attempt)[0], 401, attempt)
        logs = agent.logs()
        self.assertIn("warning: http: failed login for user 'in\\x1b[31mtruder' from 127.0.0.1",
                      logs)
        self.assertIn("warning: http: failed login for user 'prometheus' from 127.0.0.1", logs)
        self.assertIn("throttled for 60 s after 5 failures", logs)
        # Throttled: no more password checks for this client, even for a right password that
        # was never verified; the already verified scraper is not locked out.
        status, headers, _ = get(b"intruder:whatever")
        self.assertEqual((status, headers.get("Retry-After")), (429, "60"))
        self.assertEqual(get(b"prometheus:right")[0], 200)
        for attempt in range(50):
            self.assertEqual(get(b"prometheus:more%d" % attempt)[0], 429)
        logs = agent.logs()
        self.assertEqual(logs.count("failed login"), 5, logs)
        self.assertNotIn("\x1b", logs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
