#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Alert states and forwarding with the real vigie-agent: a webhook receiver and a real
Alertmanager on loopback; receiver outages, kill -9 between write and send and during a send,
restarts. Every HARD transition must reach the receiver, in order per key, duplicates
recognisable by event_id."""

import argparse
import errno
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from agent_harness import Agent, closed_port, value
from forward_harness import Switch, Webhook

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standins"))
from itop_standin import ItopStandIn  # noqa: E402

AGENT = None
SECRET = "s3cret-for-tests"
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
# kStateSchemaVersion (agent/src/forward/state_database.h).
SCHEMA_VERSION = 3

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: it-agent }}
defaults: {{ interval: 200ms, timeout: 150ms }}
forwarding:
  heartbeat_interval: 1h
  backoff_base: 50ms
  backoff_cap: 300ms
  drain_rate: 1000
{destinations}
probes:
  - name: web
    type: tcp
    max_attempts: 2
    flapping: false
    labels: {{ ci: PORTAIL-X }}
    tcp: {{ address: "127.0.0.1:{port}" }}
"""

WEBHOOK = """  webhook:
    - name: crt
      url: "{url}"
      timeout: 1s
      hmac_secret: "${{VIGIE_IT_SECRET}}"
"""


def delivered_once(events):
    """Events in arrival order with retried duplicates (same event_id) dropped."""
    seen, unique = set(), []
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            unique.append(event)
    return unique


class ForwardingTest(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-fwd-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        self.webhook = Webhook(secret=SECRET)
        self.addCleanup(self.webhook.close)

    def start(self, destinations=None):
        text = CONFIG.format(state=self.state, port=self.target.port,
                             destinations=destinations or WEBHOOK.format(url=self.webhook.url))
        agent = Agent(AGENT, text, env={"VIGIE_IT_SECRET": SECRET})
        self.addCleanup(agent.stop)
        return agent

    def wait_state(self, agent, status, hard=1):
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == status
                       and value(s, "vigie_probe_state_hard", probe="web") == hard,
                       f"state {status} hard={hard}")

    def check_order(self, events):
        by_key = {}
        for event in delivered_once(events):
            by_key.setdefault(event["dedup_key"], []).append(event["seq"])
        for key, seqs in by_key.items():
            self.assertEqual(seqs, sorted(seqs), f"events of {key} overtook each other")
            self.assertEqual(len(set(seqs)), len(seqs), f"two events of {key} with one seq")

    def test_trigger_then_resolve_signed_and_idempotent(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.target.down()
        self.wait_state(agent, 2)
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        self.target.up()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve")
        alerts = self.webhook.alerts()
        self.assertEqual([e["action"] for e in delivered_once(alerts)], ["trigger", "resolve"])
        for key, event, signature_ok in self.webhook.received:
            self.assertTrue(signature_ok, "bad HMAC signature")
            self.assertEqual(key, event["event_id"])
        trigger = alerts[0]
        self.assertEqual(trigger["schema"], "vigie-event/1")
        self.assertEqual(trigger["severity"], "critical")
        self.assertEqual(trigger["resource"]["ci_name"], "PORTAIL-X")
        self.assertEqual(trigger["check"]["reason"], "connect")
        self.assertEqual(trigger["dedup_key"], alerts[1]["dedup_key"])
        self.check_order(alerts)
        samples = agent.metrics()
        self.assertEqual(value(samples, "vigie_forwarder_queue_depth"), 0)
        self.assertGreater(value(samples, "vigie_forwarder_last_success_timestamp_seconds",
                                 adapter="crt"), 0)
        # SOFT first: one failure is not an alert.
        self.assertIn("vigie_probe_attempt", {name for name, _ in samples})

    def test_receiver_down_for_many_transitions_then_back(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"
        transitions = 0
        for _ in range(6):
            self.target.down()
            self.wait_state(agent, 2)
            self.target.up()
            self.wait_state(agent, 0)
            transitions += 2
        samples = agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total",
                                                 adapter="crt", reason="http_5xx"),
                                 "failures to be counted")
        # Coalesced: the outbox holds a couple of events for the key, not twelve.
        self.assertLessEqual(value(samples, "vigie_forwarder_queue_depth"), 3)
        self.webhook.mode = "up"
        self.webhook.wait(lambda w: w.alerts() and w.alerts()[-1]["action"] == "resolve"
                          and len(delivered_once(w.alerts())) >= 2, "the backlog")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "an empty outbox")
        alerts = delivered_once(self.webhook.alerts())
        self.check_order(alerts)
        # Nothing lost: every HARD transition is in the history of what was delivered.
        history = [h for e in alerts for h in e["history"]]
        self.assertEqual(len(history), transitions, json.dumps(alerts, indent=1))
        self.assertEqual([h["status"] for h in history],
                         ["firing", "resolved"] * (transitions // 2))

    def test_resolve_while_its_trigger_is_in_flight_is_not_lost(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "slow"
        self.target.down()
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger, its answer delayed")
        self.target.up()  # the resolve comes while the trigger is still being sent
        self.wait_state(agent, 0)
        self.assertEqual(self.webhook.events("resolve"), [])
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "an empty outbox")
        self.assertEqual([e["action"] for e in delivered_once(self.webhook.alerts())],
                         ["trigger", "resolve"])

    def test_outbox_bounded_by_bytes_evicts_the_oldest(self):
        # A second per probe and room for its timeout: 500 runs/s on a loaded (or TSan) machine
        # would time some out, and their severity changes would add events after the count.
        probes = "".join(f"""  - name: p{i}
    type: tcp
    interval: 1s
    timeout: 900ms
    max_attempts: 1
    tcp: {{ address: "127.0.0.1:{self.target.port}" }}
""" for i in range(100))
        text = CONFIG.format(state=self.state, port=self.target.port,
                             destinations=WEBHOOK.format(url=self.webhook.url))
        agent = self.start_text(text.replace("  heartbeat_interval: 1h\n",
                                             "  heartbeat_interval: 1h\n"
                                             "  spool_max_bytes: 64KiB\n") + probes)
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"
        self.target.down()  # 101 triggers of about 1 kB each
        names = ["web"] + [f"p{i}" for i in range(100)]
        samples = agent.wait_for(lambda s: all(value(s, "vigie_probe_state_hard", probe=n)
                                               and value(s, "vigie_probe_state", probe=n) == 2
                                               for n in names), "every trigger")
        evicted = value(samples, "vigie_forwarder_evicted_events")
        depth = value(samples, "vigie_forwarder_queue_depth")
        self.assertLessEqual(value(samples, "vigie_forwarder_spool_bytes"), 65536)
        self.assertGreater(evicted, 20)
        self.assertEqual(evicted + depth, 101)
        self.webhook.mode = "up"
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "the rest sent")
        # Every alert kept in the outbox reaches the receiver once it is back.
        triggers = delivered_once(self.webhook.events("trigger"))
        self.assertGreaterEqual(len({event["check"]["name"] for event in triggers}), depth)

    def test_reload_that_changes_forwarding_keeps_delivering(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.target.down()
        self.wait_state(agent, 2)
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        # A renamed destination is a new one: the old loops stop, new ones start.
        renamed = WEBHOOK.format(url=self.webhook.url).replace("name: crt", "name: crt2")
        agent.write_config(CONFIG.format(state=self.state, port=self.target.port,
                                         destinations=renamed))
        agent.signal(signal.SIGHUP)
        agent.wait_for(lambda s: value(s, "vigie_config_last_reload_success_timestamp_seconds")
                       and "configuration reloaded" in agent.logs(), "the reload")
        self.target.up()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve, through the new destination")
        self.assertIsNone(agent.proc.poll())

    def test_a_release_1_state_database_is_migrated_and_delivered(self):
        # The file of the release before schema versioning: its queued trigger is delivered
        # and its saved firing state of `web` is resolved once the probe succeeds.
        db_path = os.path.join(self.state, "vigie.db")
        shutil.copy(os.path.join(DATA, "state", "vigie-v1.db"), db_path)
        agent = self.start()
        self.webhook.wait(lambda w: any(e["event_id"] == "01JDV1FIXTURE00000000000001"
                                        for e in w.events("trigger")),
                          "the trigger queued by the release-1 agent")
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve of the restored alert")
        agent.stop()
        with sqlite3.connect(db_path) as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
            self.assertEqual(db.execute("SELECT ref FROM itop_ticket").fetchall(), [("I-004711",)])

    def test_a_state_database_of_a_newer_agent_stops_the_start(self):
        db_path = os.path.join(self.state, "vigie.db")
        newer = SCHEMA_VERSION + 1
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE TABLE alert_state (probe TEXT PRIMARY KEY, state TEXT NOT NULL)")
            db.execute(f"PRAGMA user_version={newer}")
        config = os.path.join(self.state, "vigie.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.format(state=self.state, port=self.target.port,
                                  destinations=WEBHOOK.format(url=self.webhook.url)))
        run = subprocess.run([AGENT, "--config", config], capture_output=True, text=True,
                             timeout=30, env={**os.environ, "VIGIE_IT_SECRET": SECRET})
        output = run.stdout + run.stderr
        self.assertEqual(run.returncode, 1, output)
        self.assertIn(f"{db_path} has schema version {newer}", output)
        self.assertIn(f"knows versions up to {SCHEMA_VERSION}", output)
        with sqlite3.connect(db_path) as db:  # left as the newer agent wrote it
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], newer)
        self.assertEqual(self.webhook.events(), [])

    def test_kill9_between_write_and_send_then_restart(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.mode = "down"
        self.target.down()
        self.wait_state(agent, 2)
        agent.signal(signal.SIGKILL)
        agent.proc.wait()
        self.assertEqual(self.webhook.alerts(), [])
        self.webhook.mode = "up"
        restarted = self.start()
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger from the outbox")
        self.wait_state(restarted, 2)
        time.sleep(1)  # several probe runs, still down: the restart must not fire again
        self.assertEqual(len(delivered_once(self.webhook.events("trigger"))), 1)
        self.target.up()
        self.wait_state(restarted, 0)
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve")
        self.check_order(self.webhook.alerts())

    def test_kill9_during_a_send_redelivers_the_same_event_id(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "commit_then_hang"
        self.target.down()
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger to arrive")
        agent.signal(signal.SIGKILL)  # the receiver committed, the agent never heard back
        agent.proc.wait()
        self.webhook.mode = "up"
        self.start()
        self.webhook.wait(lambda w: len(w.events("trigger")) >= 2, "the trigger again")
        triggers = self.webhook.events("trigger")
        self.assertEqual(triggers[0]["event_id"], triggers[1]["event_id"])
        self.assertEqual(len(delivered_once(triggers)), 1)

    def test_permanent_refusal_goes_to_dead_letters(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "reject"
        self.target.down()
        self.wait_state(agent, 2)
        samples = agent.wait_for(lambda s: value(s, "vigie_forwarder_dead_letters_total") == 1,
                                 "the trigger to be dead-lettered")
        self.assertEqual(value(samples, "vigie_forwarder_send_failures_total", adapter="crt",
                               reason="http_4xx"), 1)
        self.assertIn("refused for good", agent.logs())
        self.webhook.mode = "up"
        self.target.up()
        self.webhook.wait(lambda w: w.events("resolve"), "the resolve after the dead letter")
        self.assertEqual(w_alerts := [e["action"] for e in self.webhook.alerts()], ["resolve"],
                         w_alerts)

    def start_text(self, text):
        agent = Agent(AGENT, text, env={"VIGIE_IT_SECRET": SECRET})
        self.addCleanup(agent.stop)
        return agent

    def test_maintenance_window_holds_alerts_until_it_ends(self):
        maintenance = """maintenance:
  - name: all-day
    weekly: { from: "00:00", to: "24:00", timezone: Europe/Paris }
    probes: [web]
"""
        base = CONFIG.format(state=self.state, port=self.target.port,
                             destinations=WEBHOOK.format(url=self.webhook.url))
        agent = self.start_text(base + maintenance)
        self.wait_state(agent, 0)
        self.target.down()
        self.wait_state(agent, 2)
        samples = agent.metrics()
        self.assertEqual(value(samples, "vigie_probe_in_maintenance", probe="web"), 1)
        time.sleep(0.6)  # several more results, still in maintenance
        self.assertEqual(self.webhook.alerts(), [])
        agent.write_config(base)  # the window is gone: the open problem is told
        self.assertEqual(agent.post("/-/reload")[0], 200)
        try:
            self.webhook.wait(lambda w: w.events("trigger"), "the trigger after the window")
        except AssertionError:
            print(agent.logs(), file=sys.stderr)
            raise
        agent.wait_for(lambda s: value(s, "vigie_probe_in_maintenance", probe="web") == 0,
                       "maintenance over")

    def test_child_of_a_failed_parent_is_unreachable_and_silent(self):
        text = CONFIG.format(state=self.state, port=self.target.port,
                             destinations=WEBHOOK.format(url=self.webhook.url))
        text = text.replace("max_attempts: 2", "max_attempts: 1") + f"""  - name: app
    type: tcp
    max_attempts: 3
    depends_on: web
    tcp: {{ address: "127.0.0.1:{self.target.port}" }}
"""
        agent = self.start_text(text)
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="app") == 0, "app OK")
        self.target.down()
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="app") == 2
                       and value(s, "vigie_probe_state_hard", probe="app") == 1, "app HARD")
        self.assertEqual(value(agent.metrics(), "vigie_probe_unreachable", probe="app"), 1)
        self.webhook.wait(lambda w: w.events("trigger"), "the parent's trigger")
        time.sleep(0.5)
        probes = {e["labels"]["probe"] for e in self.webhook.alerts()}
        self.assertEqual(probes, {"web"})

    def test_unreachable_receiver_keeps_events(self):
        url = f"http://127.0.0.1:{closed_port()}/"
        agent = self.start(WEBHOOK.format(url=url).replace("crt", "gone"))
        self.wait_state(agent, 0)
        self.target.down()
        samples = agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total",
                                                 adapter="gone", reason="network")
                                 and value(s, "vigie_forwarder_queue_depth") >= 1,
                                 "network failures counted, the trigger kept")
        self.assertEqual(value(samples, "vigie_forwarder_dead_letters_total"), 0)
        self.assertGreater(value(samples, "vigie_forwarder_oldest_event_age_seconds"), 0)


    def test_delivery_errors_name_the_url_and_the_answer_once_then_the_recovery(self):
        agent = self.start()
        self.wait_state(agent, 0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"  # 503, retried every 50-300 ms
        self.target.down()
        agent.wait_for(lambda s: (value(s, "vigie_forwarder_send_failures_total", adapter="crt",
                                        reason="http_5xx") or 0) >= 5, "five failed attempts")
        failed = re.findall(r"warning: forwarding to crt \((\S+)\) failed \(http_5xx: HTTP 503"
                            r"\)", agent.logs())
        # One line for the same error (again after a minute), naming where it went.
        self.assertEqual(failed, [self.webhook.url], agent.logs())
        self.webhook.mode = "up"
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        agent.wait_for(lambda s: "is back" in agent.logs(), "the recovery line")
        self.assertRegex(agent.logs(), r"info: forwarding to crt \(http://127\.0\.0\.1:\d+/events"
                                       r"\) is back after \d+ failed attempt\(s\) in ")

    def test_reassertions_follow_reassert_interval_whatever_the_heartbeat(self):
        text = WEBHOOK.format(url=self.webhook.url)
        agent = self.start(text)
        self.wait_state(agent, 0)
        agent.stop()
        agent = Agent(AGENT, CONFIG.format(state=self.state, port=self.target.port,
                                           destinations=text).replace(
            "heartbeat_interval: 1h", "heartbeat_interval: 1h\n  reassert_interval: 300ms"),
            env={"VIGIE_IT_SECRET": SECRET})
        self.addCleanup(agent.stop)
        self.target.down()
        self.webhook.wait(lambda w: len([e for e in w.events("update") if e["reassertion"]])
                          >= 2, "two re-assertions within a 1 h heartbeat")


def private_tmpfs_prefix(scratch):
    """The unshare command that gives the agent a mount namespace of its own where it may mount
    a tmpfs: plain as root, in a user namespace otherwise; None where neither is allowed."""
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        try:
            probe = subprocess.run(prefix + ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                             scratch], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return None


class DiskFullTest(unittest.TestCase):
    """The real agent with state_dir (vigie.db, the outbox) on a tiny tmpfs of its own, filled
    up by the test: writes fail, nothing crashes, nothing accepted is lost (docs/ALERTING.md)."""

    SIZE = "1m"

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-full-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.prefix = private_tmpfs_prefix(self.state)
        if self.prefix is None:
            self.skipTest("cannot mount a tmpfs in a private mount namespace here")
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        self.webhook = Webhook()
        self.addCleanup(self.webhook.close)
        # The agent execs through the wrapper and unshare: its pid is the wrapper's.
        bin_dir = tempfile.mkdtemp(prefix="vigie-full-bin-")
        self.addCleanup(shutil.rmtree, bin_dir, True)
        self.wrapper = os.path.join(bin_dir, "vigie-agent-on-tmpfs")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s sh -c 'mount -t tmpfs -o size=%s tmpfs \"$0\" && "
                    "exec \"$@\"' '%s' '%s' \"$@\"\n"
                    % (" ".join(self.prefix), self.SIZE, self.state, AGENT))
        os.chmod(self.wrapper, 0o755)

    def config(self, forwarding="", probes=""):
        text = CONFIG.format(state=self.state, port=self.target.port,
                             destinations=WEBHOOK.format(url=self.webhook.url)
                             .replace('      hmac_secret: "${VIGIE_IT_SECRET}"\n', ""))
        text = text.replace("  heartbeat_interval: 1h\n", "  heartbeat_interval: 1h\n" + forwarding)
        return text + probes

    def start(self, forwarding="", probes=""):
        self.agent = Agent(self.wrapper, self.config(forwarding, probes))
        self.addCleanup(self.agent.stop)
        # The agent's view of its state_dir, the tmpfs, from outside its mount namespace.
        self.spool = f"/proc/{self.agent.proc.pid}/root{self.state}"
        # The state database is opened once the configuration is applied, which may come just
        # after the listener reports its port (seconds later under TSan).
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(self.spool, "vigie.db")) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(os.path.join(self.spool, "vigie.db")))
        self.filler = os.path.join(self.spool, "filler")

    def fill(self):
        with open(self.filler, "wb", buffering=0) as f:
            for chunk in (65536, 4096, 512):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError as error:
                    self.assertEqual(error.errno, errno.ENOSPC)
        self.assertEqual(os.statvfs(self.spool).f_bavail, 0)

    def free(self):
        os.unlink(self.filler)

    def wait_state(self, status):
        self.agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == status
                            and value(s, "vigie_probe_state_hard", probe="web") == 1,
                            f"HARD state {status}")

    def alive(self):
        self.assertIsNone(self.agent.proc.poll(), "the agent died:\n" + self.agent.logs())

    def test_transitions_while_the_disk_is_full_are_kept_and_delivered_in_order(self):
        self.start()
        agent = self.agent
        self.wait_state(0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"
        self.target.down()  # this trigger reaches the outbox, not the receiver
        self.wait_state(2)
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 1
                       and value(s, "vigie_forwarder_send_failures_total", adapter="crt",
                                 reason="http_5xx"), "the trigger queued and tried")
        self.fill()
        transitions = 1
        for _ in range(3):  # resolve, trigger, ... written nowhere but memory
            self.target.up()
            self.wait_state(0)
            self.target.down()
            self.wait_state(2)
            transitions += 2
        self.target.up()
        self.wait_state(0)
        transitions += 1
        samples = agent.metrics()
        self.alive()
        self.assertGreaterEqual(value(samples, "vigie_forwarder_spool_write_failures_total"), 1)
        # Coalesced in memory per key as the outbox would: one event, the probe's state.
        self.assertEqual(value(samples, "vigie_forwarder_unwritten_changes"), 2)
        self.assertEqual(value(samples, "vigie_forwarder_queue_depth"), 1)
        self.assertEqual(value(samples, "vigie_forwarder_lost_events_total"), 0)
        db = os.path.join(self.state, "vigie.db")
        self.assertRegex(agent.logs(), r"cannot write the outbox " + re.escape(db)
                         + r" \(disk or spool full\): database or disk is full")
        self.free()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_unwritten_changes") == 0
                       and value(s, "vigie_forwarder_queue_depth") == 2, "the memory written")
        self.assertIn(f"outbox {db} writable again", agent.logs())
        self.webhook.mode = "up"
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "the backlog sent")
        self.alive()
        alerts = self.webhook.alerts()
        for event in alerts:  # a duplicate is the same event again, same event_id
            first = next(e for e in alerts if e["event_id"] == event["event_id"])
            self.assertEqual((event["seq"], event["action"]), (first["seq"], first["action"]))
        unique = delivered_once(alerts)
        self.assertEqual([e["action"] for e in unique], ["trigger", "resolve"])
        self.assertLess(unique[0]["seq"], unique[1]["seq"])
        history = [h["status"] for e in unique for h in e["history"]]
        self.assertEqual(history, ["firing", "resolved"] * (transitions // 2))
        self.assertEqual(agent.stop(), 0)

    def test_deliveries_while_the_disk_is_full_are_not_sent_again(self):
        self.start()
        agent = self.agent
        self.wait_state(0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"
        self.target.down()
        self.wait_state(2)
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="crt",
                                       reason="http_5xx"), "the trigger tried")
        self.fill()
        self.webhook.mode = "up"  # delivered, but its removal from the outbox cannot be written
        self.webhook.wait(lambda w: w.events("trigger"), "the trigger")
        time.sleep(1.5)  # drain_rate 1000/s: a re-sending loop would show hundreds
        self.assertEqual(len(self.webhook.events("trigger")), 1)
        self.alive()
        self.free()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0,
                       "the delivered event removed once space is back")
        self.assertEqual(len(self.webhook.events("trigger")), 1)

    def test_a_reload_while_the_disk_is_full_keeps_what_waits_in_memory(self):
        self.start()
        agent = self.agent
        self.wait_state(0)
        self.webhook.wait(lambda w: w.events("heartbeat"), "the first heartbeat")
        self.webhook.mode = "down"
        self.fill()
        self.target.down()
        self.wait_state(2)
        agent.wait_for(lambda s: value(s, "vigie_forwarder_unwritten_changes") == 2,
                       "the trigger in memory")
        agent.write_config(self.config().replace("name: crt", "name: crt2"))
        agent.signal(signal.SIGHUP)
        agent.wait_for(lambda s: "configuration reloaded" in agent.logs(), "the reload")
        self.free()
        self.webhook.mode = "up"
        agent.wait_for(lambda s: value(s, "vigie_forwarder_unwritten_changes") == 0
                       and value(s, "vigie_forwarder_last_success_timestamp_seconds",
                                 adapter="crt2"), "the trigger written, then sent")
        self.assertEqual([e["action"] for e in self.webhook.alerts()], ["trigger"])

    def test_beyond_unwritten_max_events_the_oldest_are_lost_loudly(self):
        probes = "".join(f"""  - name: p{i}
    type: tcp
    max_attempts: 2
    flapping: false
    tcp: {{ address: "127.0.0.1:{self.target.port}" }}
""" for i in range(11))
        self.start(forwarding="  unwritten_max_events: 10\n", probes=probes)
        agent = self.agent
        names = ["web"] + [f"p{i}" for i in range(11)]

        def all_in(status):
            return lambda s: all(value(s, "vigie_probe_state", probe=n) == status
                                 and value(s, "vigie_probe_state_hard", probe=n) == 1
                                 for n in names)
        agent.wait_for(all_in(0), "every probe OK")
        self.webhook.mode = "down"
        self.fill()
        self.target.down()  # 12 triggers, room in memory for 10
        samples = agent.wait_for(all_in(2), "every probe HARD CRITICAL")
        samples = agent.wait_for(lambda s: value(s, "vigie_forwarder_lost_events_total") == 2,
                                 "two triggers lost")
        self.alive()
        self.assertEqual(value(samples, "vigie_forwarder_unwritten_changes"), 12 + 10)
        self.assertEqual(agent.logs().count("events already wait in memory: trigger of key"), 2)
        self.free()
        self.webhook.mode = "up"
        agent.wait_for(lambda s: value(s, "vigie_forwarder_unwritten_changes") == 0
                       and value(s, "vigie_forwarder_queue_depth") == 0, "the 10 delivered")
        delivered = {e["labels"]["probe"] for e in self.webhook.events("trigger")}
        self.assertEqual(len(delivered), 10, delivered)
        self.assertTrue(delivered < set(names))


ITOP = """  itop:
    - name: cmdb
      url: "{url}"
      timeout: 1s
      auth: form
      username: vigie
      password_file: "{password_file}"
      organization: 'SELECT Organization WHERE name = "DNE"'
      on_resolve: {on_resolve}
{extra}"""


class ItopTest(unittest.TestCase):
    """The iTop adapter against the stand-in (tests/standins/itop_standin.py), for what a real
    iTop cannot be made to do (outages, proxy pages, internal errors, a create committed whose
    answer is lost) and what it counts (CI lookups, calls). The rest runs against the real
    iTop 3.2 in tests/itop/test_itop.py."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vigie-itop-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)
        self.itop = ItopStandIn(user="vigie", password="pa55word")
        self.addCleanup(self.itop.close)
        self.password_file = os.path.join(self.state, "itop.pwd")
        with open(self.password_file, "w") as f:
            f.write("pa55word\n")

    def start(self, on_resolve="log_only", extra="", reassert=False):
        destinations = ITOP.format(url=self.itop.url, password_file=self.password_file,
                                   on_resolve=on_resolve, extra=extra)
        text = CONFIG.format(state=self.state, port=self.target.port, destinations=destinations)
        if reassert:  # an update (re-assertion) of each firing alert every 100 ms
            text = text.replace("heartbeat_interval: 1h",
                                "heartbeat_interval: 100ms\n  reassert_interval: 100ms")
        agent = Agent(AGENT, text)
        self.addCleanup(agent.stop)
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "probe OK")
        return agent

    def wait(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            tickets = self.itop.snapshot()
            if predicate(tickets):
                return tickets
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}: {json.dumps(self.itop.snapshot(), indent=1)}")

    def test_incident_created_linked_logged_on_recovery(self):
        agent = self.start()
        self.target.down()
        tickets = self.wait(lambda t: len(t) == 1, "the incident")
        ticket = next(iter(tickets.values()))
        fields = ticket["fields"]
        self.assertRegex(ticket["title"], r"^\[VIGIE:[0-9a-f]{16}\] PORTAIL-X")
        self.assertEqual(fields["origin"], "monitoring")
        self.assertEqual((fields["impact"], fields["urgency"]), ("2", "1"))
        self.assertEqual(fields["org_id"], 'SELECT Organization WHERE name = "DNE"')
        self.assertIn('name = "PORTAIL-X"', fields["functionalcis_list"][0]["functionalci_id"])
        self.target.up()
        tickets = self.wait(lambda t: next(iter(t.values()))["log"], "the recovery log entry")
        ticket = next(iter(tickets.values()))
        self.assertIn("Rétablissement", ticket["log"][0])
        self.assertEqual(ticket["status"], "new")  # log_only
        comments = [c for _, c in self.itop.calls if c]
        self.assertTrue(all(c.startswith("vigie-agent@it-agent event ") for c in comments))
        self.assertEqual(value(agent.metrics(), "vigie_forwarder_queue_depth"), 0)

    def test_ambiguous_create_is_looked_up_not_duplicated(self):
        agent = self.start()
        self.itop.mode = "commit_then_hang"  # committed, but the agent times out
        self.target.down()
        self.wait(lambda t: len(t) == 1, "the committed incident")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                                       reason="timeout"), "the timeout")
        self.itop.mode = "up"
        self.target.up()
        tickets = self.wait(lambda t: next(iter(t.values()))["log"], "the recovery log entry")
        self.assertEqual(len(tickets), 1, "the create was repeated")
        self.assertIn("core/get", [op for op, _ in self.itop.calls])

    def test_proxy_page_and_internal_errors_are_retried(self):
        agent = self.start()
        self.itop.mode = "html"
        self.target.down()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                                       reason="itop_not_json"), "the proxy page")
        self.itop.mode = "code100"
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                                       reason="itop_internal"), "the internal error")
        self.itop.mode = "up"
        self.wait(lambda t: len(t) == 1, "the incident once iTop is back")
        self.assertEqual(value(agent.metrics(), "vigie_forwarder_dead_letters_total"), 0)

    def outbox_rows(self, action):
        """Rows of the agent's outbox (read while it runs: WAL readers do not block it)."""
        with sqlite3.connect(os.path.join(self.state, "vigie.db")) as db:
            return db.execute("SELECT destination, dedup_key, event_id, action, payload, "
                              "created_ms, bytes FROM outbox WHERE action = ?",
                              (action,)).fetchall()

    def test_ci_lookup_is_cached_across_tickets(self):
        self.start()
        for episode in (1, 2):
            self.target.down()
            self.wait(lambda t: len(t) == episode, f"incident {episode}")
            self.target.up()
            self.wait(lambda t: all(x["log"] for x in t.values()), f"recovery {episode}")
        self.assertEqual(self.itop.ci_lookups, 1)
        tickets = self.itop.snapshot().values()
        self.assertTrue(all("functionalcis_list" in t["fields"] for t in tickets))

    def test_ci_lookup_is_repeated_once_its_ttl_is_over(self):
        self.start(extra="      ci_cache_ttl: 1ms\n")
        for episode in (1, 2):
            self.target.down()
            self.wait(lambda t: len(t) == episode, f"incident {episode}")
            self.target.up()
            self.wait(lambda t: all(x["log"] for x in t.values()), f"recovery {episode}")
        self.assertEqual(self.itop.ci_lookups, 2)

    def test_updates_are_rate_limited_and_coalesced_the_resolve_is_not(self):
        agent = self.start(extra="      update_interval: 1s\n", reassert=True)
        self.target.down()
        tickets = self.wait(lambda t: len(t) == 1, "the incident")
        created = time.time()
        time.sleep(3.3)  # about 30 re-assertions
        ticket = next(iter(self.itop.snapshot().values()))
        updates = [line for line in ticket["log"] if "toujours en cours" in line]
        # One entry per second at most: at 1 s, 2 s and 3 s after the create.
        self.assertGreaterEqual(len(updates), 2, ticket["log"])
        self.assertLessEqual(len(updates), 4, ticket["log"])
        self.assertLess(time.time() - created, 4)
        # The held update and the resolve merge: the resolve goes at once, not after the hold.
        self.target.up()
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "recovery")
        recovered = time.time()
        tickets = self.wait(lambda t: any("Rétablissement" in line
                                          for line in next(iter(t.values()))["log"]),
                            "the recovery entry", timeout=5)
        self.assertLess(time.time() - recovered, 0.9)
        self.assertEqual(len(tickets), 1)
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "an empty outbox")

    def test_resolved_key_is_tombstoned_late_and_duplicate_events_leave_it_alone(self):
        self.itop.mode = "down"
        agent = self.start()
        self.target.down()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_send_failures_total", adapter="cmdb",
                                       reason="http_5xx"), "the trigger held")
        trigger = self.outbox_rows("trigger")
        self.itop.mode = "up"
        self.wait(lambda t: len(t) == 1, "the incident")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "trigger sent")
        self.itop.mode = "down"
        self.target.up()
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "recovery")
        resolve = self.outbox_rows("resolve")
        self.assertEqual((len(trigger), len(resolve)), (1, 1))
        self.itop.mode = "up"
        self.wait(lambda t: next(iter(t.values()))["log"], "the recovery entry")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "resolve sent")
        self.assertEqual(agent.stop(), 0)
        # What a crash between iTop's answer and the acknowledgement leaves behind: the resolve
        # again (same event_id), and, older still, the trigger.
        with sqlite3.connect(os.path.join(self.state, "vigie.db")) as db:
            db.executemany("INSERT INTO outbox (destination, dedup_key, event_id, action, "
                           "payload, created_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           trigger + resolve)
        calls = len(self.itop.calls)
        agent = self.start()
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0,
                       "the duplicates acknowledged")
        tickets = self.itop.snapshot()
        self.assertEqual(len(tickets), 1, "a late event created a ticket")
        self.assertEqual(len(next(iter(tickets.values()))["log"]), 1, "written twice")
        # Only the start's reference check (organization, ticket class, CI class) asked iTop;
        # it runs beside delivery, so it may end after the outbox drained.
        deadline = time.time() + 10
        while len(self.itop.calls) < calls + 3 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a call beyond the check would come now
        self.assertEqual(self.itop.calls[calls:], [("core/get", None)] * 3)
        self.assertEqual(agent.logs().count("is older than the resolve of ticket"), 2)
        # A new episode is newer than the tombstone: it gets its ticket.
        self.target.down()
        self.wait(lambda t: len(t) == 2, "the next incident")

    def test_resolve_of_a_ticket_closed_by_an_operator_writes_nothing(self):
        agent = self.start()
        self.target.down()
        tickets = self.wait(lambda t: len(t) == 1, "the incident")
        first = int(next(iter(tickets)))
        self.itop.close_ticket(first)
        self.target.up()
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "recovery")
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "the resolve")
        tickets = self.itop.snapshot()
        self.assertEqual(len(tickets), 1)
        self.assertEqual(tickets[str(first)]["log"], [])
        self.assertEqual([op for op, _ in self.itop.calls][-1], "core/get")


class AlertmanagerTest(unittest.TestCase):
    """A real Alertmanager (Debian's prometheus-alertmanager) receives and resolves the alert."""

    def setUp(self):
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            self.skipTest("prometheus-alertmanager is not installed")
        self.dir = tempfile.mkdtemp(prefix="vigie-am-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        config = os.path.join(self.dir, "am.yml")
        with open(config, "w") as f:
            f.write("route: { receiver: none }\nreceivers: [ { name: none } ]\n")
        self.port = closed_port()
        self.am = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={self.dir}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_am)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.fail("Alertmanager did not start")
        self.state = tempfile.mkdtemp(prefix="vigie-fwd-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.target = Switch()
        self.target.up()
        self.addCleanup(self.target.down)

    def stop_am(self):
        self.am.terminate()
        self.am.wait(timeout=10)

    def alerts(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/alerts",
                                    timeout=5) as r:
            return json.loads(r.read())

    def wait_alerts(self, predicate, what):
        deadline = time.time() + 20
        while time.time() < deadline:
            alerts = self.alerts()
            if predicate(alerts):
                return alerts
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}: {json.dumps(self.alerts(), indent=1)}")

    def test_alert_fires_and_resolves_with_a_watchdog(self):
        destinations = f"""  alertmanager:
    - name: am
      urls: [ "http://127.0.0.1:{self.port}" ]
      resend_interval: 1s
"""
        text = CONFIG.format(state=self.state, port=self.target.port, destinations=destinations)
        agent = Agent(AGENT, text)
        self.addCleanup(agent.stop)

        def firing(alerts):
            return [a for a in alerts if a["labels"].get("alertname") == "VigieProbeFailed"
                    and a["status"]["state"] == "active"]

        self.wait_alerts(lambda a: any(x["labels"].get("alertname") == "Watchdog" for x in a),
                         "the Watchdog heartbeat")
        self.target.down()
        alerts = self.wait_alerts(firing, "the probe alert to fire")
        alert = firing(alerts)[0]
        self.assertEqual(alert["labels"]["probe"], "web")
        self.assertEqual(alert["labels"]["ci"], "PORTAIL-X")
        self.assertEqual(alert["labels"]["severity"], "critical")
        # Finding 4: the reason the alert fired with and the probe type, for routing/silences.
        self.assertEqual(alert["labels"]["reason"], "connect")
        self.assertEqual(alert["labels"]["type"], "tcp")
        self.assertIn("en échec", alert["annotations"]["summary"])
        self.target.up()
        self.wait_alerts(lambda a: not firing(a), "the probe alert to resolve")


def main():
    global AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
