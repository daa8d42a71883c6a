#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Forwarding benchmark on loopback with the real vigie-agent and a Python webhook receiver.

1. Latency from the failing (or recovering) probe result to the receiver, CMDB up: a tcp probe
   (max_attempts 1, interval 100ms) against a target switched down and up N times; latency =
   arrival at the receiver - the event's occurred_at (stamped when the result is recorded).
2. Drain time of 10,000 queued events after an outage: 10,000 events for 10,000 keys are put
   in the outbox of a stopped agent (its own schema, as an outage would leave them); the agent
   starts with the receiver up and the time until the outbox is empty is measured.

Usage: bench/forward_bench.py --agent build/agent/app/vigie-agent [--transitions 200]
       [--events 10000] [--drain-rate 100000]
"""

import argparse
import datetime
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from agent_harness import Agent, value  # noqa: E402
from forward_harness import Switch, Webhook  # noqa: E402

# kStateSchemaVersion (agent/src/forward/state_database.h): the outbox rows drain() writes.
SCHEMA_VERSION = 2

CONFIG = """
agent: {{ listen: "127.0.0.1:0", state_dir: "{state}", name: bench }}
defaults: {{ interval: 100ms, timeout: 80ms }}
forwarding:
  heartbeat_interval: 1h
  drain_rate: {drain_rate}
  webhook:
    - name: crt
      url: "{url}"
probes:
  - name: web
    type: tcp
    max_attempts: 1
    flapping: false
    tcp: {{ address: "127.0.0.1:{port}" }}
"""


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(binary, transitions, drain_rate):
    state = tempfile.mkdtemp(prefix="vigie-bench-")
    target, receiver = Switch(), Webhook()
    arrivals = {}
    receiver.received = StampedList(
        lambda item: arrivals.__setitem__(item[1]["event_id"], time.time()))
    target.up()
    agent = Agent(binary, CONFIG.format(state=state, url=receiver.url, port=target.port,
                                        drain_rate=drain_rate))
    try:
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "probe OK")
        for i in range(transitions):
            (target.down if i % 2 == 0 else target.up)()
            want = "trigger" if i % 2 == 0 else "resolve"
            receiver.wait(lambda w: len(w.events(want)) > i // 2, want, timeout=10)
        samples = [arrivals[e["event_id"]] - parse_time(e["occurred_at"])
                   for e in receiver.alerts()]
    finally:
        agent.stop()
        target.down()
        receiver.close()
        shutil.rmtree(state, True)
    return samples


class StampedList(list):
    def __init__(self, on_append):
        super().__init__()
        self.on_append = on_append

    def append(self, item):
        self.on_append(item)
        super().append(item)


def drain(binary, events, drain_rate):
    state = tempfile.mkdtemp(prefix="vigie-bench-")
    target, receiver = Switch(), Webhook()
    target.up()
    config = CONFIG.format(state=state, url=receiver.url, port=target.port,
                           drain_rate=drain_rate)
    try:
        agent = Agent(binary, config)  # creates the database and its schema
        agent.wait_for(lambda s: value(s, "vigie_probe_state", probe="web") == 0, "probe OK")
        agent.proc.terminate()
        agent.proc.wait()
        db = sqlite3.connect(os.path.join(state, "vigie.db"))
        # The rows below follow that schema version; a newer one must update them.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise SystemExit(f"vigie.db has schema version {version}, this bench writes "
                             f"version {SCHEMA_VERSION}: update its INSERT")
        now_ms = int(time.time() * 1000)
        rows = []
        for i in range(events):
            event_id = str(uuid.uuid4())
            key = f"{i:016x}"
            payload = json.dumps({"schema": "vigie-event/1", "event_id": event_id,
                                  "dedup_key": key, "seq": 1, "action": "trigger",
                                  "status": "firing", "severity": "critical",
                                  "occurred_at": "2026-01-01T00:00:00.000Z",
                                  "summary": f"bench {i}", "history": []})
            rows.append(("crt", key, event_id, "trigger", payload, now_ms, len(payload.encode())))
        db.executemany("INSERT INTO outbox (destination, dedup_key, event_id, action, payload, "
                       "created_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        db.close()
        start = time.time()
        agent = Agent(binary, config)
        receiver.wait(lambda w: len(w.alerts()) >= events, "the drain", timeout=3600)
        elapsed = time.time() - start
        agent.wait_for(lambda s: value(s, "vigie_forwarder_queue_depth") == 0, "empty outbox")
        agent.stop()
        return elapsed
    finally:
        target.down()
        receiver.close()
        shutil.rmtree(state, True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--drain-rate", type=float, default=100_000)
    args = parser.parse_args()
    samples = latency(args.agent, args.transitions, args.drain_rate)
    print(f"latency result->receiver over {len(samples)} HARD transitions: "
          f"p50 {percentile(samples, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(samples, 0.99) * 1000:.1f} ms, "
          f"max {max(samples) * 1000:.1f} ms, mean {statistics.mean(samples) * 1000:.1f} ms")
    elapsed = drain(args.agent, args.events, args.drain_rate)
    print(f"drain of {args.events} queued events (drain_rate {args.drain_rate:g}/s): "
          f"{elapsed:.1f} s ({args.events / elapsed:.0f} events/s, includes agent start)")


if __name__ == "__main__":
    main()
