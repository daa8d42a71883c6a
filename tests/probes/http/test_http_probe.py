# SPDX-License-Identifier: Apache-2.0
"""The http probe against real local servers: `vigie-agent --probe` on a generated config, one
probe per test, checking status, reason and the samples it prints.

Usage: test_http_probe.py --agent PATH/TO/vigie-agent
"""

import argparse
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))
from agent_harness import Agent, value  # noqa: E402
from http_test_server import HEALTH, Nginx, TestHttpServer, TestPki, free_port  # noqa: E402

AGENT = None


class Outcome:
    def __init__(self, exit_code, output):
        self.exit_code = exit_code
        self.output = output
        first = output.splitlines()[0] if output else ""
        self.status = first.split(" ", 1)[0]
        match = re.search(r"\(reason: (\w+)\) \|", first)
        self.reason = match.group(1) if match else ""
        self.message = first.split(": ", 1)[1].split(" | ")[0] if ": " in first else first
        self.samples = {}
        for item in first.split(" | ", 1)[1].split(" ")[1:] if " | " in first else []:
            name, _, value = item.partition("=")
            self.samples[name] = float(value)
        self.labelled = {}
        for line in output.splitlines()[1:]:
            m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
            if m:
                labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
                self.labelled[(m.group(1), labels)] = float(m.group(3))

    def labelled_value(self, name, **labels):
        found = [v for (n, ls), v in self.labelled.items()
                 if n == name and set(labels.items()) <= set(ls)]
        return found[0] if len(found) == 1 else None

    def __repr__(self):
        return self.output


def probe(block, timeout="2s", env=None):
    with tempfile.TemporaryDirectory(prefix="vigie-http-") as folder:
        path = os.path.join(folder, "vigie.yaml")
        with open(path, "w") as f:
            f.write("probes:\n  - name: t\n    type: http\n    interval: 30s\n"
                    f"    timeout: {timeout}\n    http: {json.dumps(block)}\n")
        proc = subprocess.run([AGENT, "--probe", "t", "--config", path], capture_output=True,
                              text=True, timeout=30, env={**os.environ, **(env or {})})
        return Outcome(proc.returncode, proc.stdout + proc.stderr)


class PlainHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = TestHttpServer()
        cls.base = f"http://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def url(self, path):
        return self.base + path

    def assertFails(self, outcome, reason):
        self.assertEqual(outcome.status, "CRITICAL", outcome)
        self.assertEqual(outcome.exit_code, 2, outcome)
        self.assertEqual(outcome.reason, reason, outcome)

    def test_ok_page_reports_blackbox_metrics(self):
        out = probe({"url": self.url("/status/200")})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.exit_code, 0)
        self.assertEqual(out.samples["probe_http_status_code"], 200)
        self.assertEqual(out.samples["probe_http_version"], 1.1)
        self.assertEqual(out.samples["probe_http_ssl"], 0)
        self.assertEqual(out.samples["probe_http_redirects"], 0)
        self.assertEqual(out.samples["probe_ip_protocol"], 4)
        self.assertEqual(out.samples["probe_http_content_length"], len("status page"))
        self.assertEqual(out.samples["probe_http_uncompressed_body_length"], len("status page"))
        self.assertIn("probe_dns_lookup_time_seconds", out.samples)
        for phase in ("resolve", "connect", "tls", "processing", "transfer"):
            self.assertIsNotNone(out.labelled_value("probe_http_duration_seconds", phase=phase),
                                 phase)
        self.assertIn(f"connected to 127.0.0.1:{self.server.port}", out.output)

    def test_status_outside_the_valid_codes_fails(self):
        self.assertFails(probe({"url": self.url("/status/503")}), "http_status")
        out = probe({"url": self.url("/status/404"), "valid_status_codes": [200, "400-404"]})
        self.assertEqual(out.status, "OK", out)
        self.assertFails(probe({"url": self.url("/status/200"), "valid_status_codes": ["300-399"]}),
                         "http_status")

    def test_http_version_check(self):
        self.assertFails(probe({"url": self.url("/status/200"),
                                "valid_http_versions": ["HTTP/2.0"]}), "http_version")
        out = probe({"url": self.url("/status/200"), "valid_http_versions": ["HTTP/1.1"]})
        self.assertEqual(out.status, "OK", out)

    def test_body_regexes(self):
        out = probe({"url": self.url("/json"), "fail_if_body_not_matches": ['"status": *"UP"']})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_failed_due_to_regex"], 0)
        out = probe({"url": self.url("/json"), "fail_if_body_matches": ["DOWN|es-2"]})
        self.assertFails(out, "body_regex")
        self.assertEqual(out.samples["probe_failed_due_to_regex"], 1)
        self.assertFails(probe({"url": self.url("/not-json"),
                                "fail_if_body_not_matches": ["UP"]}), "body_regex")

    def test_header_regexes(self):
        out = probe({"url": self.url("/headers"), "fail_if_header_not_matches": [
            {"header": "x-app-version", "regexp": r"^1\.2\."}]})
        self.assertEqual(out.status, "OK", out)
        # --probe prints 6 significant digits.
        self.assertAlmostEqual(out.samples["probe_http_last_modified_timestamp_seconds"],
                               1445412480, delta=5000)
        self.assertFails(probe({"url": self.url("/headers"), "fail_if_header_matches": [
            {"header": "Cache-Control", "regexp": "no-store"}]}), "header_regex")
        self.assertFails(probe({"url": self.url("/headers"), "fail_if_header_not_matches": [
            {"header": "X-Missing", "regexp": "."}]}), "header_regex")
        out = probe({"url": self.url("/headers"), "fail_if_header_not_matches": [
            {"header": "X-Missing", "regexp": ".", "allow_missing": True}]})
        self.assertEqual(out.status, "OK", out)

    def test_json_assertions(self):
        out = probe({"url": self.url("/json"), "json": [
            {"path": "$.status", "equals": "UP"},
            {"path": "$.components.db.status", "matches": "^(UP|UNKNOWN)$"},
            {"path": "$.components.db.details.latency", "less_than": 100},
            {"path": "$.number_of_nodes", "greater_than": 1},
            {"path": "$.nodes[1].name", "equals": "es-2"},
            {"path": "$['weird.key']", "equals": "yes"}]})
        self.assertEqual(out.status, "OK", out)
        out = probe({"url": self.url("/json"), "json": [{"path": "$.number_of_nodes",
                                                         "greater_than": 2}]})
        self.assertFails(out, "json_assertion")
        self.assertIn("$.number_of_nodes > 2, got 2", out.message)
        self.assertFails(probe({"url": self.url("/json"), "json": [
            {"path": "$.nodes[5].name", "equals": "x"}]}), "json_assertion")
        self.assertFails(probe({"url": self.url("/not-json"), "json": [
            {"path": "$.status", "equals": "UP"}]}), "json_assertion")

    def test_redirect_chain_keeps_cookies(self):
        out = probe({"url": self.url("/sso/start"), "fail_if_body_not_matches": ["welcome"]})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_http_redirects"], 2)
        self.assertIn("response 1: HTTP/1.1 302 Found -> /sso/login", out.output)
        self.assertIn("response 3: HTTP/1.1 200 OK", out.output)
        # Without following, the first hop's 302 is the answer.
        out = probe({"url": self.url("/sso/start"), "follow_redirects": False,
                     "valid_status_codes": [302]})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_http_redirects"], 0)

    def test_probes_in_the_agent_never_share_cookies(self):
        # The agent reuses curl handles from run to run: the session cookies one probe gets
        # from its SSO bounce must reach neither another probe nor its own next run.
        def block(name, path):
            return (f"  - {{ name: {name}, type: http, interval: 200ms, timeout: 200ms, "
                    f"http: {{ url: \"{self.url(path)}\" }} }}\n")
        agent = Agent(AGENT, 'agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }\nprobes:\n'
                      + block("sso", "/sso/start") + block("app", "/sso/app"))
        try:
            def runs(s, probe, result):
                return value(s, "vigie_probe_runs_total", probe=probe, result=result) or 0
            samples = agent.wait_for(
                lambda s: runs(s, "sso", "ok") >= 10 and runs(s, "app", "critical") >= 10
                or runs(s, "app", "ok") > 0, "ten runs of each probe")
            self.assertEqual(runs(samples, "app", "ok"), 0, "a cookie leaked between probes")
            self.assertEqual(value(samples, "probe_http_status_code", probe="app"), 403)
            self.assertEqual(runs(samples, "sso", "critical"), 0)
        finally:
            agent.stop()

    def test_redirect_loop_hits_the_limit(self):
        out = probe({"url": self.url("/loop"), "max_redirects": 3})
        self.assertFails(out, "redirect_limit")

    def test_basic_and_bearer_auth(self):
        self.assertFails(probe({"url": self.url("/basic")}), "http_status")
        out = probe({"url": self.url("/basic"), "basic_auth_username": "monitor",
                     "basic_auth_password": "${HTTP_TEST_PASSWORD}"},
                    env={"HTTP_TEST_PASSWORD": "s3cret"})
        self.assertEqual(out.status, "OK", out)
        self.assertNotIn("s3cret", out.output)
        with tempfile.NamedTemporaryFile("w", suffix=".token") as token:
            token.write("t0ken\n")
            token.flush()
            out = probe({"url": self.url("/bearer"), "bearer_token_file": token.name})
        self.assertEqual(out.status, "OK", out)

    def test_request_header_values_expand_environment(self):
        out = probe({"url": self.url("/echo-header"), "headers": {"X-Probe-Token": "${TOK}"},
                     "fail_if_body_not_matches": ["^abc123$"]}, env={"TOK": "abc123"})
        self.assertEqual(out.status, "OK", out)

    def test_post_body(self):
        out = probe({"url": self.url("/echo"), "method": "POST", "body": "a=1&b=2",
                     "fail_if_body_not_matches": ["^POST a=1&b=2$"]})
        self.assertEqual(out.status, "OK", out)

    def test_compressed_body_lengths(self):
        out = probe({"url": self.url("/gzip")})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_http_uncompressed_body_length"], 13000)
        self.assertLess(out.samples["probe_http_content_length"], 13000)

    def test_body_over_the_limit_fails_too_large(self):
        self.assertFails(probe({"url": self.url("/big"), "max_body_bytes": 1024 * 1024}),
                         "too_large")
        self.assertEqual(probe({"url": self.url("/big")}).status, "OK")

    def test_endless_body_is_bounded(self):
        started = time.monotonic()
        out = probe({"url": self.url("/endless"), "max_body_bytes": 4 * 1024 * 1024}, "5s")
        self.assertFails(out, "too_large")
        self.assertLess(time.monotonic() - started, 5)

    def test_server_that_never_answers_times_out(self):
        started = time.monotonic()
        out = probe({"url": self.url("/never")}, "500ms")
        self.assertFails(out, "timeout")
        self.assertLess(time.monotonic() - started, 3)
        # Timings gathered before the timeout are still reported.
        self.assertGreater(out.labelled_value("probe_http_duration_seconds", phase="connect"), 0)

    def test_connection_refused(self):
        self.assertFails(probe({"url": f"http://127.0.0.1:{free_port()}/"}), "connect")

    def test_unresolvable_host(self):
        self.assertFails(probe({"url": "http://no-such-host.invalid/"}), "dns")

    def test_resolve_override_keeps_the_host(self):
        out = probe({"url": f"http://app.example.invalid:{self.server.port}/status/200",
                     "resolve": "127.0.0.1"})
        self.assertEqual(out.status, "OK", out)


class Ipv6(unittest.TestCase):
    def setUp(self):
        try:
            self.server = TestHttpServer("::1")
        except OSError:
            self.skipTest("no IPv6 loopback")

    def tearDown(self):
        self.server.close()

    def test_ipv6_loopback(self):
        out = probe({"url": f"http://[::1]:{self.server.port}/status/200"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_ip_protocol"], 6)

    def test_both_families_labelled(self):
        # localhost has both families; the IPv4 side finds nothing listening. The test holds
        # that side of the port without listening, so no other process of a shared machine can
        # answer there (one did once, with HTTP/0.9).
        if "127.0.0.1" not in socket.gethostbyname_ex("localhost")[2]:
            self.skipTest("localhost has no IPv4 address")
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        try:
            holder.bind(("127.0.0.1", self.server.port))
        except OSError as e:
            self.skipTest(f"the IPv4 side of port {self.server.port} is taken: {e}")
        out = probe({"url": f"http://localhost:{self.server.port}/status/200",
                     "ip_protocol": "both"})
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "connect", out)
        self.assertEqual(out.labelled_value("probe_ip_protocol", ip_protocol="6"), 6, out)
        self.assertEqual(out.labelled_value("probe_http_status_code", ip_protocol="6"), 200, out)
        self.assertEqual(out.labelled_value("probe_http_status_code", ip_protocol="4"), 0, out)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = TestPki()
        pki = cls.pki
        mtls = (f"ssl_client_certificate {pki.ca_crt}; ssl_verify_client on;")
        cls.nginx = Nginx([
            ("good", "ssl http2", pki.good, "ssl_protocols TLSv1.3;"),
            ("http1", "ssl", pki.good, "ssl_protocols TLSv1.2;"),
            ("expired", "ssl", pki.expired, ""),
            ("self_signed", "ssl", pki.self_signed, ""),
            ("wrong_name", "ssl", pki.wrong_name, ""),
            ("mtls", "ssl", pki.good, mtls),
        ], root_files={"index.html": b"hello from nginx\n"})

    @classmethod
    def tearDownClass(cls):
        cls.nginx.close()
        cls.pki.close()

    def url(self, site, host="localhost"):
        return f"https://{host}:{self.nginx.ports[site]}/index.html"

    def block(self, site, **extra):
        return {"url": self.url(site), "tls_ca_file": self.pki.ca_crt, **extra}

    def assertFails(self, outcome, reason):
        self.assertEqual(outcome.status, "CRITICAL", outcome)
        self.assertEqual(outcome.reason, reason, outcome)

    def test_http2_with_verified_certificate(self):
        out = probe(self.block("good"))
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_http_version"], 2.0)
        self.assertEqual(out.samples["probe_http_ssl"], 1)
        self.assertEqual(out.labelled_value("probe_tls_version_info", version="TLS 1.3"), 1, out)
        leaf_expiry = out.samples["probe_ssl_earliest_cert_expiry"]
        self.assertAlmostEqual(leaf_expiry, time.time() + 10 * 86400, delta=3600)
        # The verified chain includes the CA (30 days), so its earliest expiry is the leaf's.
        self.assertEqual(out.samples["probe_ssl_last_chain_expiry_timestamp_seconds"], leaf_expiry)
        self.assertGreater(out.labelled_value("probe_http_duration_seconds", phase="tls"), 0)
        self.assertIn("certificate: /CN=localhost, expires", out.output)
        out = probe(self.block("good", valid_http_versions=["HTTP/1.1"]))
        self.assertFails(out, "http_version")

    def test_http1_only_server(self):
        out = probe(self.block("http1"))
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_http_version"], 1.1)
        self.assertEqual(out.labelled_value("probe_tls_version_info", version="TLS 1.2"), 1, out)

    def test_unknown_ca_fails_verification_but_reports_expiry(self):
        out = probe({"url": self.url("good")})  # system CAs only
        self.assertFails(out, "tls_verify")
        self.assertIn("probe_ssl_earliest_cert_expiry", out.samples)
        self.assertNotIn("probe_ssl_last_chain_expiry_timestamp_seconds", out.samples)

    def test_expired_certificate(self):
        out = probe(self.block("expired"))
        self.assertFails(out, "tls_verify")
        self.assertIn("expired", out.message)
        self.assertAlmostEqual(out.samples["probe_ssl_earliest_cert_expiry"], 1583020800,
                               delta=5000)

    def test_certificate_expiry_thresholds(self):
        # The test PKI's server certificate lives 10 days: thresholds around that give every
        # state, as check_http -C WARN,CRIT does.
        out = probe(self.block("good", tls_expiry_warning="5d", tls_expiry_critical="2d"))
        self.assertEqual(out.status, "OK", out)
        out = probe(self.block("good", tls_expiry_warning="21d", tls_expiry_critical="7d"))
        self.assertEqual(out.status, "WARNING", out)
        self.assertEqual(out.exit_code, 1, out)
        self.assertEqual(out.reason, "tls_expiry", out)
        self.assertRegex(out.message, r"^certificate /CN=localhost expires in (9|10) days "
                                      r"\(\d{4}-\d\d-\d\d\), warning threshold 21d "
                                      r"\(reason: tls_expiry\)$")
        self.assertIn("probe_ssl_earliest_cert_expiry", out.samples)
        out = probe(self.block("good", tls_expiry_warning="21d", tls_expiry_critical="14d"))
        self.assertFails(out, "tls_expiry")
        self.assertIn("critical threshold 14d", out.message)

    def test_expired_certificate_with_thresholds(self):
        # Verified, the expired certificate fails verification first...
        out = probe(self.block("expired", tls_expiry_critical="7d"))
        self.assertFails(out, "tls_verify")
        # ...unverified, the thresholds still see it.
        out = probe(self.block("expired", insecure_skip_verify=True))
        self.assertEqual(out.status, "OK", out)
        out = probe(self.block("expired", insecure_skip_verify=True, tls_expiry_critical="7d"))
        self.assertFails(out, "tls_expiry")
        self.assertRegex(out.message, r"^certificate /CN=localhost expired \d+ days ago "
                                      r"\(2020-03-01\) \(reason: tls_expiry\)$")

    def test_expiry_thresholds_must_be_ordered(self):
        out = probe(self.block("good", tls_expiry_warning="7d", tls_expiry_critical="21d"))
        self.assertEqual(out.exit_code, 3, out)
        self.assertIn("tls_expiry_warning: must be longer than tls_expiry_critical", out.output)

    def test_self_signed_certificate(self):
        out = probe(self.block("self_signed"))
        self.assertFails(out, "tls_verify")
        self.assertIn("probe_ssl_earliest_cert_expiry", out.samples)
        out = probe(self.block("self_signed", insecure_skip_verify=True))
        self.assertEqual(out.status, "OK", out)

    def test_wrong_host_name(self):
        out = probe(self.block("wrong_name"))
        self.assertFails(out, "tls_verify")
        self.assertIn("localhost", out.message)

    def test_ip_address_in_san(self):
        out = probe({"url": self.url("good", "127.0.0.1"), "tls_ca_file": self.pki.ca_crt})
        self.assertEqual(out.status, "OK", out)

    def test_mutual_tls(self):
        # nginx answers 400 when the client sends no certificate.
        self.assertFails(probe(self.block("mtls")), "http_status")
        cert, key = self.pki.client
        out = probe(self.block("mtls", tls_cert_file=cert, tls_key_file=key))
        self.assertEqual(out.status, "OK", out)

    def test_plain_http_to_a_tls_port(self):
        out = probe({"url": f"http://127.0.0.1:{self.nginx.ports['http1']}/"})
        self.assertFails(out, "http_status")  # nginx: 400 plain HTTP sent to HTTPS port

    def test_tls_to_a_plain_port_fails_handshake(self):
        server = TestHttpServer()
        try:
            out = probe({"url": f"https://127.0.0.1:{server.port}/"})
        finally:
            server.close()
        self.assertFails(out, "tls_handshake")


SPRING_DOWN = {"status": "DOWN", "components": {
    "db": {"status": "DOWN", "details": {"error": "org.postgresql.util.PSQLException"}},
    "diskSpace": {"status": "UP", "details": {"free": 1234}},
    "redis": {"status": "DOWN"}}}


class _SpringHandler(http.server.BaseHTTPRequestHandler):
    """Spring Boot actuator's health: 503 with the JSON that says which component is DOWN."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        down = self.path == "/actuator/health/down"
        body = json.dumps(SPRING_DOWN if down else {**SPRING_DOWN, "status": "UP", "components": {
            name: {**c, "status": "UP"} for name, c in SPRING_DOWN["components"].items()}})
        self.send_response(503 if down else 200)
        self.send_header("Content-Type", "application/vnd.spring-boot.actuator.v3+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


class SpringHealth(unittest.TestCase):
    ASSERTIONS = [{"path": "$.components.db.status", "equals": "UP"},
                  {"path": "$.components.diskSpace.status", "equals": "UP"},
                  {"path": "$.components.redis.status", "equals": "UP"}]

    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SpringHandler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def test_up_is_ok(self):
        out = probe({"url": self.url("/actuator/health"), "json": self.ASSERTIONS})
        self.assertEqual(out.status, "OK", out)

    def test_503_names_the_failing_components_and_keeps_the_status_reason(self):
        out = probe({"url": self.url("/actuator/health/down"), "json": self.ASSERTIONS})
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "http_status", out)
        self.assertEqual(out.message, "HTTP 503 is not a valid status; "
                         "expected $.components.db.status == UP, got DOWN; "
                         "expected $.components.redis.status == UP, got DOWN (reason: http_status)")

    def test_503_accepted_gives_the_json_assertion_reason(self):
        out = probe({"url": self.url("/actuator/health/down"), "json": self.ASSERTIONS,
                     "valid_status_codes": [200, 503]})
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "json_assertion", out)
        self.assertEqual(out.message, "expected $.components.db.status == UP, got DOWN; "
                         "expected $.components.redis.status == UP, got DOWN "
                         "(reason: json_assertion)")

    def test_invalid_status_without_json_assertions_is_unchanged(self):
        out = probe({"url": self.url("/actuator/health/down")})
        self.assertEqual(out.message, "HTTP 503 is not a valid status (reason: http_status)", out)


class _HostileJsonHandler(http.server.BaseHTTPRequestHandler):
    """Bodies that crashed the agent (nlohmann's recursive dump) or filled its log."""

    BODIES = {
        "/deep-array": '{"status": ' + "[" * 100000 + "]" * 100000 + "}",
        "/deep-object": '{"a":' * 100000 + "1" + "}" * 100000,
        "/deep-1000": '{"status": ' + "[" * 1000 + "]" * 1000 + "}",
        "/huge-string": json.dumps({"status": "x" * (5 * 1024 * 1024)}),
    }

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = self.BODIES[self.path].encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HostileJson(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileJsonHandler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def test_deep_json_is_a_failed_result_not_a_crash(self):
        for path in ("/deep-array", "/deep-object", "/deep-1000"):
            with self.subTest(path=path):
                out = probe({"url": self.url(path), "json": [{"path": "$.status", "equals": "UP"}],
                             "max_body_bytes": 1048576}, timeout="5s")
                self.assertEqual(out.exit_code, 2, out.output[:300])  # SIGSEGV gave -11
                self.assertEqual(out.reason, "json_too_deep", out.output[:300])
                self.assertIn("deeper than 128 levels", out.message)
                self.assertLess(len(out.output), 4096)

    def test_a_huge_json_string_is_cut_in_the_message(self):
        out = probe({"url": self.url("/huge-string"),
                     "json": [{"path": "$.status", "equals": "UP"}]}, timeout="5s")
        self.assertEqual(out.reason, "json_assertion", out.output[:300])
        self.assertIn("expected $.status == UP, got xxxx", out.message)
        self.assertIn("\u2026 [cut, 5242624 bytes]", out.message)
        self.assertLess(len(out.output), 4096)


class _RedirectHandler(http.server.BaseHTTPRequestHandler):
    """/to?URL answers 302 to URL; /seen answers 200 and records the X-Api-Key it received."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to?"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.received.append(self.headers.get("X-Api-Key"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class CrossHostRedirect(unittest.TestCase):
    """Two real servers: a redirect to the other one (another host name and port) must not
    carry the probe's custom headers (libcurl drops only Authorization and Cookie)."""

    @classmethod
    def setUpClass(cls):
        cls.servers = []
        for _ in range(2):
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectHandler)
            server.received = []
            threading.Thread(target=server.serve_forever, daemon=True).start()
            cls.servers.append(server)
        cls.first, cls.other = cls.servers

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.shutdown()
            server.server_close()

    def setUp(self):
        for server in self.servers:
            server.received.clear()

    def run_probe(self, target, **options):
        url = f"http://127.0.0.1:{self.first.server_address[1]}/to?{target}"
        return probe({"url": url, "headers": {"X-Api-Key": "${VIGIE_TEST_KEY}"}, **options},
                     env={"VIGIE_TEST_KEY": "s3cret"})

    def test_custom_headers_are_dropped_on_a_redirect_to_another_host(self):
        out = self.run_probe(f"http://localhost:{self.other.server_address[1]}/seen")
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(self.other.received, [None], out)  # the request came, without the key
        self.assertIn("(headers not sent to another host)", out.output)

    def test_relative_and_same_host_redirects_keep_them(self):
        out = self.run_probe("/seen")
        self.assertEqual(out.status, "OK", out)
        out = self.run_probe(f"http://127.0.0.1:{self.first.server_address[1]}/seen")
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(self.first.received, ["s3cret", "s3cret"], out)

    def test_follow_headers_sends_them_anywhere(self):
        out = self.run_probe(f"http://localhost:{self.other.server_address[1]}/seen",
                             follow_headers=True)
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(self.other.received, ["s3cret"], out)


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
