#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes vigie-v1.db: a state database as the releases before schema versioning wrote it
(schema version 1, PRAGMA user_version 0), with one row in each table. The CREATE statements
are those of agent/src/forward/alert_db.cc at commit f9a5a3c; do not change them, the fixture
stands for files already on disk. Run from this directory: python3 make_vigie_v1_db.py"""
import json
import os
import sqlite3

PATH = "vigie-v1.db"

SCHEMA = """
CREATE TABLE alert_state (probe TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE key_seq (dedup_key TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL,
  action TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0);
CREATE INDEX outbox_key ON outbox (destination, dedup_key, id);
CREATE INDEX outbox_bytes ON outbox (bytes);
CREATE TABLE itop_ticket (destination TEXT NOT NULL, dedup_key TEXT NOT NULL,
  ticket_id INTEGER NOT NULL, ref TEXT NOT NULL, creating INTEGER NOT NULL,
  PRIMARY KEY (destination, dedup_key));
CREATE TABLE itop_tombstone (destination TEXT NOT NULL, dedup_key TEXT NOT NULL,
  seq INTEGER NOT NULL, ticket_id INTEGER NOT NULL, until_ms INTEGER NOT NULL,
  PRIMARY KEY (destination, dedup_key));
CREATE TABLE dead_letter (id INTEGER PRIMARY KEY, destination TEXT, dedup_key TEXT,
  event_id TEXT, action TEXT, payload TEXT, reason TEXT, at_ms INTEGER);
"""


def main():
    if os.path.exists(PATH):
        os.remove(PATH)
    db = sqlite3.connect(PATH)
    db.executescript(SCHEMA)
    # The state as that release encoded it (alert/alert_json.cc at f9a5a3c).
    state = {"v": 1, "status": 2, "hard": True, "attempt": 3, "ok_streak": 0, "last_result": 2,
             "has_result": True, "last_state_change_ms": 1764400000000,
             "last_hard_change_ms": 1764400000000, "change_history": 1, "flap_percent": 0.0,
             "flapping": False, "in_maintenance": False, "unreachable": False,
             "notified_firing": True, "notified_severity": 2, "notified_flapping": False,
             "firing_since_ms": 1764400000000}
    db.execute("INSERT INTO alert_state VALUES ('web', ?)", (json.dumps(state),))
    db.execute("INSERT INTO key_seq VALUES ('vigie:web', 4)")
    payload = json.dumps({"action": "trigger", "event_id": "01JDV1FIXTURE00000000000001",
                          "dedup_key": "vigie:web", "seq": 4,
                          "history": [{"status": "critical"}]})
    db.execute("INSERT INTO outbox (destination, dedup_key, event_id, action, payload, created_ms,"
               " bytes) VALUES ('crt', 'vigie:web', '01JDV1FIXTURE00000000000001', 'trigger', ?,"
               " 1764400000000, ?)", (payload, len(payload.encode())))
    db.execute("INSERT INTO itop_ticket VALUES ('cmdb', 'vigie:web', 4711, 'I-004711', 0)")
    db.execute("INSERT INTO itop_tombstone VALUES ('cmdb', 'vigie:db', 9, 4700, 4102444800000)")
    db.execute("INSERT INTO dead_letter VALUES (1, 'crt', 'vigie:old', '01JDV1FIXTURE0000000000000',"
               " 'trigger', '{}', 'http 400', 1764300000000)")
    db.commit()
    db.execute("VACUUM")
    db.close()


if __name__ == "__main__":
    main()
