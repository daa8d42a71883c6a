# SPDX-License-Identifier: Apache-2.0
"""The icmp probe: echo to 127.0.0.1 and ::1, packets, payload, TTL and DF; and, in a network
namespace of its own (`unshare -n`, as root), the unprivileged datagram socket (its
net.ipv4.ping_group_range opened), a silent loss and an unreachable network.

Usage: test_icmp_probe.py --agent PATH/TO/vigie-agent
"""

import argparse
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
from probe_cli import run_probe  # noqa: E402

AGENT = None


def can_open(kind):
    try:
        socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        return True
    except OSError:
        return False


DATAGRAM = can_open(socket.SOCK_DGRAM)
RAW = can_open(socket.SOCK_RAW)
# unshare -n needs CAP_SYS_ADMIN: root here, and the namespace's own sysctls and routes with it.
NAMESPACE = os.geteuid() == 0 and subprocess.run(
    ["unshare", "-n", "true"], capture_output=True).returncode == 0
NO_SOCKET = ("neither a datagram ICMP socket (this uid's groups are outside "
             f"net.ipv4.ping_group_range: {open('/proc/sys/net/ipv4/ping_group_range').read().strip()})"
             " nor a raw one (no CAP_NET_RAW)")


def probe(block, timeout="2s", prefix=()):
    return run_probe(AGENT, "icmp", block, timeout, prefix)


def in_namespace(setup):
    """The agent in a new network namespace with loopback up, after `setup` (shell)."""
    return ["unshare", "-n", "sh", "-c", f"ip link set lo up && {setup} && exec \"$@\"", "sh"]


@unittest.skipUnless(DATAGRAM or RAW, NO_SOCKET)
class Loopback(unittest.TestCase):
    def test_ipv4_echo_with_blackbox_metrics(self):
        out = probe({"host": "127.0.0.1", "packets": 3, "packet_interval": "10ms"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_icmp_packets_sent"], 3)
        self.assertEqual(out.samples["probe_icmp_packets_received"], 3)
        self.assertEqual(out.samples["probe_icmp_packet_loss_ratio"], 0)
        self.assertEqual(out.samples["probe_ip_protocol"], 4)
        self.assertEqual(out.samples["probe_icmp_reply_hop_limit"], 64)
        for phase in ("resolve", "setup", "rtt"):
            self.assertIsNotNone(out.labelled_value("probe_icmp_duration_seconds", phase=phase))
        rtt = {s: out.labelled_value("probe_icmp_rtt_seconds", stat=s)
               for s in ("min", "avg", "max", "stddev")}
        self.assertTrue(0 < rtt["min"] <= rtt["avg"] <= rtt["max"] < 1, rtt)
        self.assertIn(("raw" if not DATAGRAM else "datagram") + " ICMP socket", out.output)

    def test_ipv6_echo(self):
        out = probe({"host": "::1", "packets": 2, "packet_interval": "10ms"})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_ip_protocol"], 6)
        self.assertEqual(out.samples["probe_icmp_packets_received"], 2)
        self.assertEqual(out.samples["probe_icmp_reply_hop_limit"], 64)

    def test_name_resolved_with_preferred_family(self):
        out = probe({"host": "localhost", "ip_protocol": "ip4", "packets": 1})
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_ip_protocol"], 4)

    def test_ttl_payload_and_dont_fragment(self):
        out = probe({"host": "127.0.0.1", "packets": 1, "ttl": 3, "payload_size": 1400,
                     "dont_fragment": True})
        self.assertEqual(out.status, "OK", out)
        self.assertIn("1400 bytes of payload, ttl 3, don't fragment", out.output)

    def test_unknown_host(self):
        out = probe({"host": "no-such-host.invalid"})
        self.assertEqual(out.reason, "dns", out)


@unittest.skipUnless(NAMESPACE, "needs root for a network namespace of its own (unshare -n)")
class Namespace(unittest.TestCase):
    def test_unprivileged_datagram_socket_where_ping_group_range_allows(self):
        out = probe({"host": "127.0.0.1", "packets": 2, "packet_interval": "10ms"}, prefix=in_namespace(
            "sysctl -qw net.ipv4.ping_group_range='0 2147483647'"))
        self.assertEqual(out.status, "OK", out)
        self.assertIn("datagram ICMP socket", out.output)
        self.assertEqual(out.samples["probe_icmp_reply_hop_limit"], 64)
        out = probe({"host": "::1", "packets": 2, "packet_interval": "10ms"}, prefix=in_namespace(
            "sysctl -qw net.ipv4.ping_group_range='0 2147483647'"))
        self.assertEqual(out.status, "OK", out)
        self.assertIn("datagram ICMPv6 socket", out.output)

    def test_raw_socket_when_ping_group_range_excludes_the_group(self):
        out = probe({"host": "127.0.0.1", "packets": 1}, prefix=in_namespace(
            "sysctl -qw net.ipv4.ping_group_range='1 0'"))
        self.assertEqual(out.status, "OK", out)
        self.assertIn("raw ICMP socket", out.output)

    def test_silent_loss_is_reported_before_the_deadline(self):
        # Routed to loopback but not a local address: the kernel drops every request silently.
        out = probe({"host": "198.51.100.1", "packets": 3, "packet_interval": "20ms"}, timeout="700ms",
                    prefix=in_namespace("ip route add 198.51.100.0/24 dev lo"))
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "loss", out)
        self.assertEqual(out.samples["probe_icmp_packets_sent"], 3)
        self.assertEqual(out.samples["probe_icmp_packets_received"], 0)
        self.assertEqual(out.samples["probe_icmp_packet_loss_ratio"], 1)
        self.assertIn("0/3 replies (100% loss)", out.message)

    def test_dont_fragment_refuses_a_request_larger_than_the_mtu(self):
        small_mtu = in_namespace("ip link set lo mtu 1500")
        out = probe({"host": "127.0.0.1", "packets": 1, "payload_size": 2000}, prefix=small_mtu)
        self.assertEqual(out.status, "OK", out)  # fragmented and reassembled
        out = probe({"host": "127.0.0.1", "packets": 1, "payload_size": 2000,
                     "dont_fragment": True}, prefix=small_mtu)
        self.assertEqual(out.reason, "send", out)
        self.assertIn("Message too long", out.message)

    def test_min_replies_counts_every_packet(self):
        out = probe({"host": "127.0.0.1", "packets": 3, "packet_interval": "10ms", "min_replies": 3},
                    prefix=in_namespace("true"))
        self.assertEqual(out.status, "OK", out)
        self.assertEqual(out.samples["probe_icmp_packets_received"], 3)

    def test_unreachable_network(self):
        out = probe({"host": "192.0.2.1"}, timeout="1s", prefix=in_namespace("true"))
        self.assertEqual(out.status, "CRITICAL", out)
        self.assertEqual(out.reason, "unreachable", out)
        self.assertIn("Network is unreachable", out.message)


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
