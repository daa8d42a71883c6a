#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Delivery that cannot lose a transition, with the real vigie-agent and real webhook receivers
that answer slowly (docs/ALERTING.md, delivery guarantees):

- many probes failing together then recovering, and probes flapping, while every receiver
  takes its time to answer: every HARD transition the agent logs reaches every receiver, in
  order, each with its own increasing seq, and each key's last state is the agent's;
- seq never goes backwards, even when the state database is lost between two runs.

The receivers' delays come from --delays (the suite runs 0.3 s and 1 s at once, as two
destinations of one agent; bench/delivery_bench.sh adds 3 s)."""

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agent_harness import Agent, value
from forward_harness import Switch

AGENT = None
DELAYS = [0.3, 1.0]
BURST = 20  # probes failing together
FLAPPING = 4  # probes whose target goes up and down on its own rhythm


class SlowReceiver:
    """A webhook receiver that records each event when it arrives and answers 200 `delay`
    seconds later."""

    def __init__(self, delay):
        self.delay = delay
        self.received = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append(json.loads(body))
                time.sleep(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self):
        """Alert events in arrival order, a retried one (same event_id) once."""
        seen, unique = set(), []
        with self.lock:
            for event in self.received:
                if event["action"] != "heartbeat" and event["event_id"] not in seen:
                    seen.add(event["event_id"])
                    unique.append(event)
        return unique

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(state, receivers, probes):
    hooks = "".join(f"""    - name: r{i}
      url: "{r.url}"
      timeout: {int(r.delay * 4) + 2}s
""" for i, r in enumerate(receivers))
    return f"""
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: delivery-agent }}
defaults: {{ interval: 200ms, timeout: 150ms }}
forwarding:
  heartbeat_interval: 1h
  reassert_interval: 1h
  backoff_base: 50ms
  backoff_cap: 300ms
  drain_rate: 1000
  webhook:
{hooks}probes:
""" + "".join(f"""  - name: {name}
    type: tcp
    max_attempts: 1
    flapping: false
    tcp: {{ address: "127.0.0.1:{port}" }}
""" for name, port in probes)


def agent_transitions(logs):
    """The HARD transitions the agent logged, per probe: ["firing", "resolved", ...], without
    the first OK of a probe that never failed before."""
    by_probe = {}
    for match in re.finditer(r"probe=(\S+): HARD (\w+)", logs):
        status = "resolved" if match.group(2) == "ok" else "firing"
        steps = by_probe.setdefault(match.group(1), [])
        if steps or status == "firing":
            steps.append(status)
    return by_probe


class DeliveryTest(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-delivery-")
        self.addCleanup(shutil.rmtree, self.state, True)

    def receivers(self, delays):
        receivers = [SlowReceiver(delay) for delay in delays]
        for receiver in receivers:
            self.addCleanup(receiver.close)
        return receivers

    def switch(self):
        switch = Switch()
        switch.up()
        self.addCleanup(switch.down)
        return switch

    def assert_every_transition_delivered(self, agent, receiver, expected):
        """Each key's delivered events, their histories joined, are the agent's transitions in
        order; seq increases along the events and along the history items."""
        by_key = {}
        for event in receiver.alerts():
            by_key.setdefault(event["check"]["name"], []).append(event)
        for probe, steps in expected.items():
            events = by_key.get(probe, [])
            what = f"receiver {receiver.delay}s, {probe}: " + json.dumps(
                [(e["action"], e["seq"], [(h["status"], h.get("seq")) for h in e["history"]])
                 for e in events])
            history = [h for e in events for h in e["history"]]
            self.assertEqual([h["status"] for h in history], steps, what)
            seqs = [e["seq"] for e in events]
            self.assertEqual(seqs, sorted(set(seqs)), what)
            item_seqs = [h["seq"] for h in history]
            self.assertEqual(item_seqs, sorted(set(item_seqs)), what)
            self.assertEqual(events[-1]["seq"], item_seqs[-1], what)
            # The receiver's last word is the agent's state now.
            state = value(agent.metrics(), "vigie_probe_state", probe=probe)
            self.assertEqual(events[-1]["status"], "resolved" if state == 0 else "firing", what)
        return sum(len(steps) for steps in expected.values())

    def test_slow_receivers_get_every_transition_of_bursts_and_flapping(self):
        receivers = self.receivers(DELAYS)
        burst = self.switch()
        flappers = [self.switch() for _ in range(FLAPPING)]
        probes = [(f"burst{i}", burst.port) for i in range(BURST)]
        probes += [(f"flap{i}", s.port) for i, s in enumerate(flappers)]
        agent = Agent(AGENT, config(self.state, receivers, probes))
        self.addCleanup(agent.stop)
        names = [name for name, _ in probes]
        agent.wait_for(lambda s: all(value(s, "vigie_probe_state", probe=n) == 0 for n in names),
                       "every probe up")

        def flap(switch, seed):
            # Up and down every 0.4 to 0.9 s (two to four probe runs), ending in either state.
            rhythm = random.Random(seed)
            end = time.time() + 5
            while time.time() < end:
                switch.down()
                time.sleep(rhythm.uniform(0.4, 0.9))
                switch.up()
                time.sleep(rhythm.uniform(0.4, 0.9))
            if seed % 2:
                switch.down()

        started = time.time()
        threads = [threading.Thread(target=flap, args=(s, i)) for i, s in enumerate(flappers)]
        for thread in threads:
            thread.start()
        # Twenty probes fail together for 2.5 s, recover, then cycle once more while the slow
        # receivers are still answering the first triggers.
        burst.down()
        time.sleep(2.5)
        burst.up()
        time.sleep(0.8)
        burst.down()
        time.sleep(0.8)
        burst.up()
        for thread in threads:
            thread.join()
        time.sleep(0.6)  # the last switch flips seen as HARD (max_attempts 1, 200 ms runs)
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0,
                       "every event delivered", timeout=240)
        drained = time.time() - started
        expected = agent_transitions(agent.logs())
        self.assertEqual(sorted(expected), sorted(names))
        for name in names[:BURST]:
            self.assertEqual(expected[name][:2], ["firing", "resolved"], name)
        for receiver in receivers:
            count = self.assert_every_transition_delivered(agent, receiver, expected)
        print(f"\n{len(names)} probes, {count} transitions, receivers {DELAYS}: "
              f"drained in {drained:.1f}s, "
              + ", ".join(f"{len(r.alerts())} events at {r.delay}s" for r in receivers),
              file=sys.stderr)

    def test_seq_keeps_growing_when_the_state_database_is_lost(self):
        receiver = self.receivers([0])[0]
        target = self.switch()
        text = config(self.state, [receiver], [("web", target.port)])
        db = os.path.join(self.state, "vigie.db")

        def cycle(agent):
            agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "web up")
            target.down()
            agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 2, "web down")
            target.up()
            agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0
                           and value(s, "vigie_forwarder_queue_depth") == 0, "web resolved")

        first = Agent(AGENT, text)
        cycle(first)
        first.stop()
        before = [e["seq"] for e in receiver.alerts()]
        self.assertEqual(len(before), 2)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        second = Agent(AGENT, text)
        self.addCleanup(second.stop)
        cycle(second)
        after = [e["seq"] for e in receiver.alerts()][2:]
        self.assertEqual(len(after), 2)
        # A receiver applying only seq > the last it applied takes both.
        self.assertGreater(after[0], before[-1])
        self.assertGreater(after[1], after[0])


def read_only_prefix(scratch):
    """The unshare command under which `scratch` can be bind-mounted read-only (root: plain;
    otherwise in a user namespace), or None where that is not allowed."""
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        try:
            probe = subprocess.run(prefix + ["sh", "-c", "mount --bind \"$0\" \"$0\" && "
                                             "mount -o remount,bind,ro \"$0\"", scratch],
                                   capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return None


class StateDatabaseTest(unittest.TestCase):
    """The state database's health with the real agent: a corrupt file moved aside, a file
    deleted while running recreated, a read-only file read (docs/OPERATIONS.md)."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-statedb-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.db = os.path.join(self.state, "vigie.db")
        self.receiver = SlowReceiver(0)
        self.addCleanup(self.receiver.close)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        self.text = config(self.state, [self.receiver], [("web", self.target.port)])

    def start(self, binary=None):
        agent = Agent(binary or AGENT, self.text)
        self.addCleanup(agent.stop)
        return agent

    def state_is(self, agent, status):
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == status
                       and value(s, "vigie_probe_state_hard", probe="web") == 1,
                       f"web in HARD {status}")

    def delivered(self, agent, action, count=1):
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0
                       and len([e for e in self.receiver.alerts() if e["action"] == action])
                       >= count, f"{count} {action}(s) delivered")

    def test_a_corrupt_file_is_moved_aside_and_a_new_one_used(self):
        with open(self.db, "wb") as f:
            f.write(b"not a database " * 1000)
        agent = self.start()
        samples = agent.metrics()
        self.assertEqual(value(samples, "vigie_state_database_healthy"), 1)
        self.assertEqual(value(samples, "vigie_state_database_problems_total", kind="corrupt"), 1)
        line = re.search(r"error: state database (\S+) is corrupt .*moved aside to (\S+) ",
                         agent.logs())
        self.assertIsNotNone(line, agent.logs())
        self.assertEqual(line.group(1), self.db)
        with open(line.group(2), "rb") as f:  # kept as it was, for a post-mortem
            self.assertTrue(f.read().startswith(b"not a database"))
        self.state_is(agent, 0)
        self.target.down()
        self.state_is(agent, 2)
        self.delivered(agent, "trigger")
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT probe FROM alert_state").fetchall(), [("web",)])

    def test_a_file_deleted_while_running_is_recreated(self):
        agent = self.start()
        self.state_is(agent, 0)
        self.target.down()
        self.state_is(agent, 2)
        self.delivered(agent, "trigger")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.unlink(self.db + suffix)
        # Noticed without any write (the periodic check), within seconds.
        samples = agent.wait_for(lambda s: value(s, "vigie_state_database_problems_total",
                                                 kind="deleted") == 1, "the deletion noticed")
        self.assertEqual(value(samples, "vigie_state_database_healthy"), 1)
        self.assertTrue(os.path.exists(self.db))
        self.assertRegex(agent.logs(), r"error: state database \S+ was deleted while the agent "
                         r"runs: recreated from the open copy, 1 alert state\(s\)")
        self.target.up()
        self.state_is(agent, 0)
        self.delivered(agent, "resolve")
        agent.stop()
        with sqlite3.connect(self.db) as db:  # what came after the deletion is in the new file
            state = db.execute("SELECT state FROM alert_state WHERE probe = 'web'").fetchone()
        saved = json.loads(state[0])
        self.assertEqual((saved["status"], saved["notified_firing"]), (0, False))

    def test_a_read_only_file_is_read_and_the_agent_runs_on(self):
        prefix = read_only_prefix(self.state)
        if prefix is None:
            self.skipTest("cannot bind-mount read-only in a private mount namespace here")
        first = self.start()
        self.state_is(first, 0)
        self.receiver.delay = 0
        self.target.down()
        self.state_is(first, 2)
        self.delivered(first, "trigger")
        first.stop()
        bin_dir = tempfile.mkdtemp(prefix="vigie-ro-bin-")
        self.addCleanup(shutil.rmtree, bin_dir, True)
        wrapper = os.path.join(bin_dir, "vigie-agent-read-only")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s sh -c 'mount --bind \"$0\" \"$0\" && mount -o "
                    "remount,bind,ro \"$0\" && exec \"$@\"' '%s' '%s' \"$@\"\n"
                    % (" ".join(prefix), self.state, AGENT))
        os.chmod(wrapper, 0o755)
        agent = self.start(wrapper)
        samples = agent.metrics()
        self.assertEqual(value(samples, "vigie_state_database_healthy"), 0)
        self.assertEqual(value(samples, "vigie_state_database_problems_total", kind="readonly"), 1)
        self.assertRegex(agent.logs(), r"error: state database \S+ is read-only .*: its 1 alert "
                         r"state\(s\) and 0 undelivered event\(s\) were read")
        # The firing state was read: no second trigger, and the recovery is told.
        time.sleep(1)
        self.state_is(agent, 2)
        self.target.up()
        self.state_is(agent, 0)
        self.delivered(agent, "resolve")
        actions = [e["action"] for e in self.receiver.alerts()]
        self.assertEqual(actions, ["trigger", "resolve"])


def main():
    global AGENT, DELAYS
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--delays", default="0.3,1")
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    DELAYS = [float(d) for d in args.delays.split(",")]
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
