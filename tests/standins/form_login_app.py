#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small web application with a form login protected by a CSRF token, the way PHP/Symfony
applications do it, for the scenario probe's tests and bench:

- GET /login: an HTML page with `<form id="login" action="/login_check" method="post">`, a hidden
  `_csrf_token` bound to the visitor's session cookie, `_username`, `_password`, a remember-me
  checkbox (unchecked: not submitted) and a second, unrelated search form;
- POST /login_check: 302 to /account when the token belongs to the session and the credentials
  match; 403 "Invalid CSRF token." when the token does not; 200 with the form again and
  "Invalid credentials." for a wrong password;
- GET /account: the logged-in page (`<h1 id="welcome">Welcome USER</h1>`), else 302 to /login;
- GET /api/me: `{"user": ..., "roles": [...]}` for a logged-in session (401 otherwise), and an
  `X-Request-Id` header;
- GET /echo?QUERY: a page that shows QUERY (a server echoing what it was sent);
- GET /slow?seconds=N: answers after N seconds (a step that hits the deadline).

Run standalone: form_login_app.py [PORT] (user alice, password wonderland)."""

import html
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FormLoginApp:
    def __init__(self, user="alice", password="wonderland", port=0):
        self.user, self.password = user, password
        self.sessions = {}  # session id -> {"csrf": token, "user": name or None}
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                app.handle(self, "GET")

            def do_POST(self):
                app.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def session(self, request):
        cookies = dict(part.strip().split("=", 1) for part in
                       request.headers.get("Cookie", "").split(";") if "=" in part)
        with self.lock:
            sid = cookies.get("SESSID")
            if sid not in self.sessions:
                sid = secrets.token_hex(16)
                self.sessions[sid] = {"csrf": secrets.token_urlsafe(24), "user": None}
            return sid, self.sessions[sid]

    def login_page(self, state, error=""):
        message = f'<div class="alert">{html.escape(error)}</div>' if error else ""
        return (
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body>\n"
            '<form id="search" action="/search" method="get"><input name="q"></form>\n'
            f"{message}\n"
            '<form id="login" action="/login_check" method="post">\n'
            '  <input type="text" name="_username" value="">\n'
            '  <input type="password" name="_password">\n'
            f'  <input type="hidden" name="_csrf_token" value="{state["csrf"]}">\n'
            '  <input type="checkbox" name="_remember_me">\n'
            '  <button type="submit">Sign in</button>\n'
            "</form></body></html>\n")

    def handle(self, request, method):
        url = urllib.parse.urlsplit(request.path)
        sid, state = self.session(request)
        length = int(request.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(request.rfile.read(length).decode()) if length else {}
        field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
        headers = {"Set-Cookie": f"SESSID={sid}; Path=/; HttpOnly"}
        if url.path == "/login" and method == "GET":
            return self.reply(request, 200, self.login_page(state), headers)
        if url.path == "/login_check" and method == "POST":
            if field("_csrf_token") != state["csrf"]:
                return self.reply(request, 403, "<html><body><p>Invalid CSRF token.</p></body></html>",
                                  headers)
            if field("_username") != self.user or field("_password") != self.password:
                return self.reply(request, 200, self.login_page(state, "Invalid credentials."),
                                  headers)
            state["user"] = self.user
            return self.reply(request, 302, "", {**headers, "Location": "/account"})
        if url.path == "/account":
            if not state["user"]:
                return self.reply(request, 302, "", {**headers, "Location": "/login"})
            return self.reply(request, 200, "<html><body><h1 id=\"welcome\">Welcome "
                              f"{html.escape(state['user'])}</h1></body></html>", headers)
        if url.path == "/api/me":
            if not state["user"]:
                return self.reply(request, 401, '{"error": "not logged in"}', headers,
                                  "application/json")
            return self.reply(request, 200, json.dumps({"user": state["user"],
                                                        "roles": ["ROLE_USER"]}),
                              {**headers, "X-Request-Id": secrets.token_hex(8)},
                              "application/json")
        if url.path == "/echo":
            return self.reply(request, 200, f"<html><body><p>{html.escape(url.query)}</p></body></html>",
                              headers)
        if url.path == "/slow":
            time.sleep(float(urllib.parse.parse_qs(url.query).get("seconds", ["5"])[0]))
            return self.reply(request, 200, "late", headers)
        return self.reply(request, 404, "not found", headers)

    @staticmethod
    def reply(request, status, body, headers, content_type="text/html; charset=utf-8"):
        data = body.encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a deadline): nothing to answer


if __name__ == "__main__":
    app = FormLoginApp(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"form login app on http://127.0.0.1:{app.port}/login (alice / wonderland)", flush=True)
    try:
        app.thread.join()
    except KeyboardInterrupt:
        app.close()
