# SPDX-License-Identifier: Apache-2.0
"""The dns probe against a private unbound on loopback (test zone vigie.test): answers, rcodes,
the record regexes, TCP (fallback and only), IPv6, and a server down, silent or refusing.

Usage: test_dns_probe.py --agent PATH/TO/vigie-agent
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
from probe_cli import run_probe  # noqa: E402
from unbound_server import Unbound, free_port  # noqa: E402

AGENT = None


def probe(block, timeout="2s"):
    return run_probe(AGENT, "dns", block, timeout)


class DnsProbe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.unbound = Unbound()
        cls.server = cls.unbound.address

    @classmethod
    def tearDownClass(cls):
        cls.unbound.close()

    def assertFails(self, outcome, reason):
        self.assertEqual(outcome.status, "CRITICAL", outcome)
        self.assertEqual(outcome.exit_code, 2, outcome)
        self.assertEqual(outcome.reason, reason, outcome)

    def test_answer_with_blackbox_metrics(self):
        out = probe({"server": self.server, "query_name": "www.vigie.test"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_dns_answer_rrs"], 1)
        self.assertEqual(out.samples["probe_dns_authority_rrs"], 0)
        self.assertEqual(out.samples["probe_dns_additional_rrs"], 0)
        self.assertEqual(out.samples["probe_dns_query_succeeded"], 1)
        self.assertEqual(out.samples["probe_ip_protocol"], 4)
        self.assertGreater(out.samples["probe_dns_lookup_time_seconds"], 0)
        self.assertIn("answer: www.vigie.test.\t300\tIN\tA\t192.0.2.10", out.output)

    def test_soa_serial_over_ipv6_and_tcp_only(self):
        out = probe({"server": f"[::1]:{self.unbound.port}", "query_name": "vigie.test",
                     "query_type": "SOA", "transport_protocol": "tcp"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_dns_serial"], 2026112901)
        self.assertEqual(out.samples["probe_ip_protocol"], 6)

    def test_truncated_udp_answer_is_asked_again_over_tcp(self):
        out = probe({"server": self.server, "query_name": "big.vigie.test", "query_type": "TXT"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_dns_answer_rrs"], 40)

    def test_record_types_in_presentation_form(self):
        out = probe({"server": self.server, "query_name": "vigie.test", "query_type": "MX",
                     "validate_answer_rrs": {
                         "fail_if_not_matches_regexp": [r"^vigie\.test\.\t300\tIN\tMX\t10 mail\.vigie\.test\.$"]}})
        self.assertEqual(out.status, "OK", out)
        out = probe({"server": self.server, "query_name": "vigie.test", "query_type": "TXT",
                     "validate_answer_rrs": {"fail_if_none_matches_regexp": ['"v=spf1 -all"$']}})
        self.assertEqual(out.status, "OK", out)
        out = probe({"server": self.server, "query_name": "www.vigie.test", "query_type": "AAAA",
                     "validate_answer_rrs": {"fail_if_none_matches_regexp": [r"\t2001:db8::10$"]}})
        self.assertEqual(out.status, "OK", out)

    def test_wrong_answer_fails_each_regex_kind(self):
        base = {"server": self.server, "query_name": "www.vigie.test"}
        self.assertFails(probe({**base, "validate_answer_rrs": {
            "fail_if_not_matches_regexp": [r"192\.0\.2\.99"]}}), "answer")
        self.assertFails(probe({**base, "validate_answer_rrs": {
            "fail_if_matches_regexp": [r"192\.0\.2\.10"]}}), "answer")
        self.assertFails(probe({**base, "validate_answer_rrs": {
            "fail_if_all_match_regexp": [r"\tA\t"]}}), "answer")
        self.assertFails(probe({**base, "validate_answer_rrs": {
            "fail_if_none_matches_regexp": [r"192\.0\.2\.99"]}}), "answer")
        out = probe({**base, "validate_answer_rrs": {
            "fail_if_matches_regexp": [r"192\.0\.2\.99"],
            "fail_if_not_matches_regexp": [r"192\.0\.2\.10"],
            "fail_if_all_match_regexp": [r"AAAA"],
            "fail_if_none_matches_regexp": [r"www"]}})
        self.assertEqual(out.status, "OK", out)

    def test_nxdomain_is_a_wrong_rcode_unless_accepted(self):
        out = probe({"server": self.server, "query_name": "nowhere.vigie.test"})
        self.assertFails(out, "rcode")
        self.assertIn("NXDOMAIN", out.message)
        out = probe({"server": self.server, "query_name": "nowhere.vigie.test",
                     "valid_rcodes": ["NXDOMAIN"],
                     "validate_authority_rrs": {"fail_if_none_matches_regexp": [r"\tSOA\t"]}})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_dns_authority_rrs"], 1)
        out = probe({"server": self.server, "query_name": "nowhere.vigie.test",
                     "valid_rcodes": ["NXDOMAIN"],
                     "validate_authority_rrs": {"fail_if_matches_regexp": [r"\tSOA\t"]}})
        self.assertFails(out, "answer")

    def test_refused_is_an_rcode(self):
        out = probe({"server": self.server, "query_name": "www.refused.test"})
        self.assertFails(out, "rcode")
        self.assertIn("REFUSED", out.message)
        out = probe({"server": self.server, "query_name": "www.refused.test",
                     "valid_rcodes": ["REFUSED"]})
        self.assertEqual(out.status, "OK", out)

    def test_unvalidated_answer_fails_the_dnssec_check(self):
        # This unbound does not validate (no trust anchor): it never sets AD.
        out = probe({"server": self.server, "query_name": "www.vigie.test", "dnssec": True,
                     "fail_if_not_authenticated": True})
        self.assertFails(out, "dnssec")

    def test_server_down(self):
        port = free_port()
        self.assertFails(probe({"server": f"127.0.0.1:{port}", "query_name": "www.vigie.test"}),
                         "connect")
        self.assertFails(probe({"server": f"127.0.0.1:{port}", "query_name": "www.vigie.test",
                                "transport_protocol": "tcp"}), "connect")

    def test_silent_server_times_out(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            out = probe({"server": f"127.0.0.1:{silent.getsockname()[1]}",
                         "query_name": "www.vigie.test"}, timeout="500ms")
        self.assertFails(out, "timeout")

    def test_invalid_settings_are_refused_at_load(self):
        for block, words in (({"query_name": "a.test", "query_type": "BOGUS"}, "unknown record type"),
                             ({"query_name": "a.test", "server": "dns.example:53"}, "IP address"),
                             ({"query_name": "a.test", "valid_rcodes": ["FINE"]}, "response code"),
                             ({"query_name": "a.test", "validate_answer_rrs": {
                                 "fail_if_match": ["x"]}}, "unknown key"),
                             ({"query_name": "a.test", "validate_answer_rrs": {
                                 "fail_if_matches_regexp": ["("]}}, "regular expression")):
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "vigie.yaml")
                with open(path, "w") as f:
                    f.write("probes:\n  - name: t\n    type: dns\n    interval: 30s\n"
                            f"    dns: {json.dumps(block)}\n")
                proc = subprocess.run([AGENT, "--check-config", "--config", path],
                                      capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            self.assertIn(words, proc.stdout + proc.stderr)


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
