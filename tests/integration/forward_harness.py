# SPDX-License-Identifier: Apache-2.0
"""Receivers and target switches for the forwarding tests, all on loopback."""

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agent_harness import accept_and_close


class Switch:
    """A TCP target on a fixed loopback port that the test turns up (accepting) or down
    (connection refused), to drive a tcp probe's results."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.sock = None
        self.thread = None

    def up(self):
        if self.sock:
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.sock = sock
        self.thread = threading.Thread(target=accept_and_close, args=(sock,), daemon=True)
        self.thread.start()

    def down(self):
        if self.sock:
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.thread.join(timeout=5)
            self.sock = None


class Webhook:
    """An HTTP receiver of canonical events. mode: "up" (200), "down" (503 with Retry-After: 0),
    "reject" (400: refused for good), "commit_then_hang" (records the event, then answers too
    late: an ambiguous failure), "slow" (records the event, answers 200 after 0.6 s)."""

    def __init__(self, secret=None):
        self.secret = secret
        self.mode = "up"
        self.received = []  # (idempotency key, event, signature ok)
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = receiver.mode
                if mode in ("down", "reject"):
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(503 if mode == "down" else 400)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                signature_ok = None
                if receiver.secret is not None:
                    expected = "sha256=" + hmac.new(receiver.secret.encode(), body,
                                                    hashlib.sha256).hexdigest()
                    signature_ok = hmac.compare_digest(
                        expected, self.headers.get("X-Vigie-Signature", ""))
                with receiver.lock:
                    receiver.received.append(
                        (self.headers.get("Idempotency-Key"), json.loads(body), signature_ok))
                if mode == "commit_then_hang":
                    time.sleep(3)
                elif mode == "slow":
                    time.sleep(0.6)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the agent gave up waiting: the ambiguous case under test

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, action=None):
        with self.lock:
            return [e for _, e, _ in self.received
                    if action is None or e["action"] == action]

    def alerts(self):
        """Events other than heartbeats."""
        return [e for e in self.events() if e["action"] != "heartbeat"]

    def wait(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; received: "
                             + json.dumps([(e["action"], e.get("seq")) for e in self.events()]))

    def close(self):
        self.server.shutdown()
        self.server.server_close()
