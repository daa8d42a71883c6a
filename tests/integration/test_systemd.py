#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The agent under systemd: the sd_notify protocol seen from a NOTIFY_SOCKET the test owns, and
the shipped unit checked by systemd-analyze (verify clean, security exposure at most 1.5)."""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from agent_harness import Agent, Listener

AGENT = None
SOURCE = None

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: STATE_DIR }}
defaults: {{ interval: 1s, timeout: 500ms }}
probes:
  - name: reachable
    type: tcp
    tcp: {{ address: "127.0.0.1:{port}" }}
"""


class NotifySocket:
    """The datagram socket systemd would own; collects what the agent sends."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def next(self, wanted, timeout=10):
        """Returns the first message containing `wanted`; every message read is kept."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append(fields)
            if wanted in fields:
                return fields
        raise AssertionError(f"no {wanted} within {timeout}s; got {self.messages}")

    def drain(self):
        """Forgets every message sent so far."""
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(4096)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        self.messages.clear()

    def close(self):
        self.sock.close()


class NotifyProtocolTest(unittest.TestCase):
    def setUp(self):
        self.listener = Listener()
        self.addCleanup(self.listener.close)
        self.dir = tempfile.TemporaryDirectory(prefix="vigie-notify-")
        self.addCleanup(self.dir.cleanup)
        self.notify = NotifySocket(self.dir.name)
        self.addCleanup(self.notify.close)

    def start(self, watchdog_usec=None):
        env = {"NOTIFY_SOCKET": self.notify.path}
        if watchdog_usec:
            # No WATCHDOG_PID: the agent's pid is not known before it starts, and without it
            # sd_watchdog_enabled() applies to whichever process reads it.
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        agent = Agent(AGENT, CONFIG.format(port=self.listener.port), env=env)
        self.addCleanup(agent.stop)
        return agent

    def test_ready_reloading_ready_stopping_in_order(self):
        agent = self.start()
        ready = self.notify.next("READY")
        self.assertEqual(ready["READY"], "1")
        self.assertIn("1 probes", ready["STATUS"])
        # READY=1 promises a bound listener.
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/-/ready", timeout=5) as r:
            self.assertEqual(r.status, 200)

        agent.signal(signal.SIGHUP)
        reloading = self.notify.next("RELOADING")
        self.assertEqual(reloading["RELOADING"], "1")
        with open("/proc/uptime") as f:
            uptime_usec = float(f.read().split()[0]) * 1e6
        # MONOTONIC_USEC is CLOCK_MONOTONIC, which counts from boot like /proc/uptime.
        self.assertLess(abs(int(reloading["MONOTONIC_USEC"]) - uptime_usec), 60e6)
        self.assertEqual(self.notify.next("READY")["READY"], "1")

        agent.write_config("agent: [not, a, mapping]\n")
        agent.post("/-/reload")
        self.notify.next("RELOADING")
        after_bad = self.notify.next("READY")
        self.assertIn("last reload rejected", after_bad["STATUS"])

        agent.signal(signal.SIGTERM)
        self.assertEqual(self.notify.next("STOPPING")["STOPPING"], "1")
        self.assertEqual(agent.proc.wait(timeout=10), 0)
        kinds = [next(k for k in ("READY", "RELOADING", "STOPPING") if k in m)
                 for m in self.notify.messages if "WATCHDOG" not in m]
        self.assertEqual(kinds, ["READY", "RELOADING", "READY", "RELOADING", "READY",
                                 "STOPPING"])
        self.assertFalse(any("WATCHDOG" in m for m in self.notify.messages),
                         "watchdog fed although systemd did not ask for it")

    def test_watchdog_fed_at_half_the_period_and_stops_with_the_loop(self):
        agent = self.start(watchdog_usec=400_000)
        self.notify.next("READY")
        start = time.time()
        for _ in range(4):
            self.notify.next("WATCHDOG")
        elapsed = time.time() - start
        # Four feeds every 200 ms: about 0.6-0.8 s, far below four full periods.
        self.assertLess(elapsed, 1.5)
        self.assertGreater(elapsed, 0.4)
        # A loop that does not turn does not feed: freeze the process and listen.
        agent.signal(signal.SIGSTOP)
        time.sleep(0.1)
        self.notify.drain()
        with self.assertRaises(AssertionError):
            self.notify.next("WATCHDOG", timeout=1)
        agent.signal(signal.SIGCONT)
        self.notify.next("WATCHDOG", timeout=2)
        agent.signal(signal.SIGTERM)
        self.notify.next("STOPPING")
        self.assertEqual(agent.proc.wait(timeout=10), 0)
        self.notify.messages.clear()
        with self.assertRaises(AssertionError):
            self.notify.next("WATCHDOG", timeout=0.3)


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class UnitFileTest(unittest.TestCase):
    def setUp(self):
        self.unit = os.path.join(SOURCE, "systemd", "vigie-agent.service")

    def test_verify_is_clean(self):
        with tempfile.TemporaryDirectory(prefix="vigie-unit-") as tmp:
            # verify checks that ExecStart= exists and that Documentation= man pages resolve.
            with open(self.unit) as f:
                text = f.read().replace("/usr/bin/vigie-agent", os.path.abspath(AGENT))
            unit = os.path.join(tmp, "vigie-agent.service")
            with open(unit, "w") as f:
                f.write(text)
            for section, page in (("5", "vigie.yaml.5"), ("8", "vigie-agent.8")):
                os.makedirs(os.path.join(tmp, "man", "man" + section))
                shutil.copy(os.path.join(SOURCE, "docs", "man", page),
                            os.path.join(tmp, "man", "man" + section, page))
            result = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True,
                                    text=True, env={**os.environ, "MANPATH": tmp + "/man"})
            self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))

    def test_security_exposure_at_most_1_5(self):
        result = subprocess.run(["systemd-analyze", "security", "--offline=true", self.unit],
                                capture_output=True, text=True)
        match = re.search(r"Overall exposure level for vigie-agent.service: (\d+\.\d+) (\w+)",
                          result.stdout)
        self.assertIsNotNone(match, result.stdout + result.stderr)
        print(f"\nexposure: {match.group(1)} {match.group(2)}", file=sys.stderr)
        self.assertLessEqual(float(match.group(1)), 1.5)
        self.assertEqual(match.group(2), "OK")

    def test_unit_declares_what_the_agent_relies_on(self):
        with open(self.unit) as f:
            keys = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
        self.assertEqual(keys["Type"], "notify")
        self.assertEqual(keys["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(keys["Restart"], "on-failure")
        self.assertEqual(keys["User"], "vigie")
        self.assertEqual(keys["StateDirectory"], "vigie")
        self.assertIn("WatchdogSec", keys)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--source", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    SOURCE = args.source
    unittest.main(argv=[sys.argv[0], "-v", *rest])
