#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for iTop's REST/JSON API (webservices/rest.php), built from its documented
protocol because iTop itself (PHP + MySQL + data model) cannot run here. It is NOT iTop: it
implements just what the vigie iTop adapter uses, the way the protocol documents it:

- POST form fields `json_data` (the operation as JSON), `version` in the query string, and the
  credentials: form fields `auth_user`/`auth_pwd`, HTTP Basic, or an `Auth-Token` header;
- always HTTP 200 with a JSON body whose `code` says what happened (0 OK, 1 unauthorized,
  100 internal error with a message), objects keyed "Class::id";
- operations core/create, core/get (a numeric id, or the OQL subset title LIKE '[VIGIE:..]%'
  and name = "..."; no match is code 0, "Found: 0" and objects null), core/update
  (private_log add_item) and core/apply_stimulus (ev_autoresolve, which requires solution and
  resolution_code);
- what an operator does in the iTop console: close_ticket() moves a ticket to "closed" (a log
  entry written to it afterwards is accepted, as nothing documented says iTop refuses it, and
  flagged "written_after_close" for the tests);
- failure modes for tests: "down" (HTTP 503), "html" (a proxy error page with status 200),
  "code100" (internal error), "commit_then_hang" (commits a core/create, then answers too
  late),
  "unauthorized" (code 1).

Run standalone: itop_standin.py [USER PASSWORD]; GET on any path shows the tickets."""

import base64
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ItopStandIn:
    def __init__(self, user="vigie", password="secret", token=None, cis=("PORTAIL-X",)):
        self.user, self.password, self.token = user, password, token
        self.mode = "up"
        self.lock = threading.Lock()
        self.tickets = {}  # id -> {"title", "status", "log": [...], "fields": {...}}
        self.cis = {name: i + 1 for i, name in enumerate(cis)}
        self.calls = []  # (operation, comment)
        self.ci_lookups = 0
        self.next_id = 4700
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body, content_type="application/json"):
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first: what "commit_then_hang" is for

            def do_GET(self):
                with stand_in.lock:
                    self.reply(200, json.dumps(stand_in.tickets))

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                mode = stand_in.mode
                if mode == "down":
                    return self.reply(503, "Service Unavailable", "text/plain")
                if mode == "html":
                    return self.reply(200, "<html><body>Proxy Error</body></html>", "text/html")
                if query.get("version", [""])[0] not in ("1.3", "1.4"):
                    return self.reply(200, json.dumps({"code": 10, "message": "bad version"}))
                if mode == "unauthorized" or not stand_in.authorized(form, self.headers):
                    return self.reply(200, json.dumps(
                        {"code": 1, "message": "Error: Invalid login"}))
                if "json_data" not in form:
                    return self.reply(200, json.dumps({"code": 3, "message": "Missing json"}))
                try:
                    operation = json.loads(form["json_data"][0])
                except ValueError:
                    return self.reply(200, json.dumps({"code": 4, "message": "Invalid json"}))
                if mode == "code100":
                    return self.reply(200, json.dumps(
                        {"code": 100, "message": "Error: database is locked"}))
                answer = stand_in.execute(operation)
                if mode == "commit_then_hang" and operation.get("operation") == "core/create":
                    time.sleep(3)
                self.reply(200, json.dumps(answer))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webservices/rest.php"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def authorized(self, form, headers):
        if self.token and headers.get("Auth-Token") == self.token:
            return True
        if form.get("auth_user", [None])[0] == self.user and \
                form.get("auth_pwd", [None])[0] == self.password:
            return True
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            return user == self.user and password == self.password
        return False

    def execute(self, op):
        name = op.get("operation")
        with self.lock:
            self.calls.append((name, op.get("comment")))
            if name in ("core/create", "core/update", "core/apply_stimulus") \
                    and not op.get("comment"):
                return {"code": 100, "message": "Error: Missing parameter 'comment'"}
            if name == "core/create":
                return self.create(op)
            if name == "core/get":
                return self.get(op)
            if name == "core/update":
                return self.update(op)
            if name == "core/apply_stimulus":
                return self.stimulus(op)
        return {"code": 11, "message": f"Unknown operation {name}"}

    def obj(self, cls, key, fields, message):
        return {"objects": {f"{cls}::{key}": {"code": 0, "message": message, "class": cls,
                                              "key": key, "fields": fields}},
                "code": 0, "message": None}

    def create(self, op):
        fields = op.get("fields", {})
        for mandatory in ("org_id", "title", "description"):
            if not fields.get(mandatory):
                return {"code": 100, "message": f"Error: Missing mandatory attribute {mandatory}"}
        if op.get("class") == "UserRequest" and fields.get("origin") == "monitoring":
            return {"code": 100, "message": "Error: Invalid value for origin"}
        ticket_id = self.next_id = self.next_id + 1
        self.tickets[ticket_id] = {"title": fields["title"], "status": "new", "log": [],
                                   "fields": fields, "class": op.get("class")}
        return self.obj(op["class"], ticket_id,
                        {"id": ticket_id, "ref": f"I-{ticket_id:06d}", "status": "new"},
                        "created")

    def ticket_object(self, cls, i, ticket):
        return {f"{cls}::{i}": {"code": 0, "message": "", "class": cls, "key": i,
                                "fields": {"id": i, "ref": f"I-{i:06d}",
                                           "status": ticket["status"]}}}

    def get(self, op):
        key = op.get("key", "")
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            ticket = self.tickets.get(int(key))
            objects = self.ticket_object(op["class"], int(key), ticket) if ticket else {}
            return {"objects": objects or None, "code": 0, "message": f"Found: {len(objects)}"}
        marker = re.search(r"title LIKE '(\[VIGIE:[0-9a-f]+\])%'", key)
        if marker:
            found = {i: t for i, t in self.tickets.items()
                     if t["title"].startswith(marker.group(1))
                     and t["status"] not in ("resolved", "closed")}
            objects = {}
            for i, t in found.items():
                objects.update(self.ticket_object(op["class"], i, t))
        else:
            name = re.search(r'name = "((?:[^"\\]|\\.)*)"', key)
            ci = name.group(1) if name else None
            if name and op["class"] == "FunctionalCI":  # not the agent's reference check
                self.ci_lookups += 1
            objects = {f"{op['class']}::{self.cis[ci]}": {"code": 0, "message": "",
                                                          "class": op["class"],
                                                          "key": self.cis[ci],
                                                          "fields": {"id": self.cis[ci]}}} \
                if ci in self.cis else {}
        return {"objects": objects or None, "code": 0, "message": f"Found: {len(objects)}"}

    def update(self, op):
        ticket = self.tickets.get(int(op.get("key", 0)))
        if ticket is None:
            return {"code": 100, "message": "Error: No item found for query"}
        item = op.get("fields", {}).get("private_log", {}).get("add_item", {})
        ticket["log"].append(item.get("message"))
        if ticket["status"] == "closed":
            ticket["written_after_close"] = True
        return self.obj(op["class"], int(op["key"]), {"id": int(op["key"])}, "updated")

    def stimulus(self, op):
        ticket = self.tickets.get(int(op.get("key", 0)))
        if ticket is None:
            return {"code": 100, "message": "Error: No item found for query"}
        if op.get("stimulus") != "ev_autoresolve" or ticket["status"] == "escalated_tto":
            return {"code": 100, "message": "Error: Invalid stimulus"}
        fields = op.get("fields", {})
        if not fields.get("solution") or not fields.get("resolution_code"):
            return {"code": 100, "message": "Error: Missing mandatory attribute(s) for applying "
                                            "the stimulus: solution"}
        ticket["status"] = "resolved"
        ticket["solution"] = fields["solution"]
        return self.obj(op["class"], int(op["key"]), {"id": int(op["key"]), "status": "resolved"},
                        "updated")

    def close_ticket(self, ticket_id):
        """An operator closes the ticket in the console."""
        with self.lock:
            self.tickets[ticket_id]["status"] = "closed"

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.tickets))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    stand_in = ItopStandIn(sys.argv[2] if len(sys.argv) > 2 else "vigie",
                           sys.argv[3] if len(sys.argv) > 3 else "secret")
    print(f"iTop stand-in on {stand_in.url}", flush=True)
    threading.Event().wait()
