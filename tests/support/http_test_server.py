# SPDX-License-Identifier: Apache-2.0
"""Test servers for the http probe: an HTTP server with odd behaviours, a test PKI made with
the openssl command, and nginx for TLS, mTLS and HTTP/2. Everything on ephemeral loopback ports,
stopped by close()."""

import base64
import gzip
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

HEALTH = {"status": "UP", "components": {"db": {"status": "UP", "details": {"latency": 12}}},
          "nodes": [{"name": "es-1"}, {"name": "es-2"}], "number_of_nodes": 2,
          "weird.key": "yes"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._send(200, f"{self.command} {body.decode()}".encode())

    do_PUT = do_POST

    def do_GET(self):
        path, _, _ = self.path.partition("?")
        cookies = self.headers.get("Cookie", "")
        if path.startswith("/status/"):
            self._send(int(path.split("/")[2]), b"status page")
        elif path == "/json":
            self._send(200, json.dumps(HEALTH).encode(), [("Content-Type", "application/json")])
        elif path == "/not-json":
            self._send(200, b"<html>maintenance</html>")
        elif path == "/sso/start":
            # A Shibboleth-like bounce: each hop sets a cookie the next one requires.
            self._send(302, headers=[("Location", "/sso/login"),
                                     ("Set-Cookie", "_shibstate=abc; Path=/")])
        elif path == "/sso/login":
            if "_shibstate=abc" not in cookies:
                self._send(403, b"no state cookie")
            else:
                self._send(302, headers=[("Location", "/sso/app"),
                                         ("Set-Cookie", "_shibsession=ok; Path=/")])
        elif path == "/sso/app":
            ok = "_shibsession=ok" in cookies
            self._send(200 if ok else 403, b"welcome" if ok else b"no session")
        elif path == "/loop":
            self._send(302, headers=[("Location", "/loop")])
        elif path == "/basic":
            expected = "Basic " + base64.b64encode(b"monitor:s3cret").decode()
            ok = self.headers.get("Authorization") == expected
            self._send(200 if ok else 401, b"private" if ok else b"who are you",
                       [] if ok else [("WWW-Authenticate", 'Basic realm="test"')])
        elif path == "/bearer":
            ok = self.headers.get("Authorization") == "Bearer t0ken"
            self._send(200 if ok else 401, b"private" if ok else b"no token")
        elif path == "/echo-header":
            self._send(200, (self.headers.get("X-Probe-Token") or "none").encode())
        elif path == "/headers":
            self._send(200, b"ok", [("X-App-Version", "1.2.3"), ("Cache-Control", "no-store"),
                                    ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")])
        elif path == "/gzip":
            body = b"compressible " * 1000
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self._send(200, gzip.compress(body), [("Content-Encoding", "gzip")])
            else:
                self._send(200, body)
        elif path == "/big":
            self._send(200, b"x" * (2 * 1024 * 1024))
        elif path == "/never":
            self.server.release.wait(30)
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"y" * 65536
            try:
                while not self.server.release.is_set():
                    self.wfile.write(chunk)
            except OSError:
                pass
        else:
            self._send(404, b"not found")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, family):
        self.address_family = family
        self.release = threading.Event()
        super().__init__(address, _Handler)


class TestHttpServer:
    """The odd-behaviour server on 127.0.0.1 (or ::1) with an ephemeral port."""

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = _Server((host, 0), family)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestPki:
    """A CA, server certificates (good, expired, self-signed, wrong name) and a client
    certificate, made with the openssl command in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigie-pki-")
        self.ca_crt, self.ca_key = self._self_signed("ca", "Vigie Test CA", ca=True)
        self.good = self._signed("good", "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1")
        self.wrong_name = self._signed("wrong", "elsewhere", "DNS:elsewhere.example")
        self.expired = self._signed("expired", "localhost", "DNS:localhost,IP:127.0.0.1",
                                    dates=("20200101000000Z", "20200301000000Z"))
        self.self_signed = self._self_signed("selfsigned", "localhost",
                                             san="DNS:localhost,IP:127.0.0.1")
        self.client = self._signed("client", "vigie-agent", "DNS:vigie-agent")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, cwd=self.dir, capture_output=True)

    def _self_signed(self, name, cn, ca=False, san=None):
        args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "30",
                "-subj", f"/CN={cn}"]
        if san:
            args += ["-addext", f"subjectAltName={san}", "-addext", "basicConstraints=CA:FALSE"]
        elif ca:
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        self._run(*args)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def _signed(self, name, cn, san, dates=None):
        self._run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                  "-addext", f"subjectAltName={san}", "-addext", "basicConstraints=CA:FALSE")
        # `openssl ca` is the command that can set dates in the past (the expired certificate).
        with open(self.path("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=CA_default\n[CA_default]\ndatabase=index.txt\n"
                    "new_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=any\n"
                    "copy_extensions=copy\nunique_subject=no\ndefault_days=10\n"
                    "[any]\ncommonName=supplied\n")
        open(self.path("index.txt"), "a").close()
        if not os.path.exists(self.path("serial")):
            with open(self.path("serial"), "w") as f:
                f.write("1000\n")
        args = ["ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile",
                "ca.key", "-in", f"{name}.csr", "-out", f"{name}.crt"]
        if dates:
            args += ["-startdate", dates[0], "-enddate", dates[1]]
        self._run(*args)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Nginx:
    """nginx from Debian run as a plain foreground process on a temporary prefix. `sites` is a
    list of (name, extra_listen_params, cert_pair or None, server_block_extra); ports are
    chosen here and listed in self.ports[name]."""

    def __init__(self, sites, root_files=None, workers=1):
        self.prefix = tempfile.mkdtemp(prefix="vigie-nginx-")
        self.ports = {}
        html = os.path.join(self.prefix, "html")
        os.makedirs(html)
        for name, content in (root_files or {}).items():
            with open(os.path.join(html, name), "wb") as f:
                f.write(content)
        servers = []
        for name, listen_params, cert, extra in sites:
            port = free_port()
            self.ports[name] = port
            tls = ""
            if cert:
                tls = f"ssl_certificate {cert[0]};\nssl_certificate_key {cert[1]};\n"
            servers.append(
                f"server {{ listen 127.0.0.1:{port} {listen_params}; server_name localhost;\n"
                f"{tls}{extra}\nroot {html};\n}}\n")
        temp = os.path.join(self.prefix, "tmp")
        config = (
            f"daemon off;\nmaster_process {'on' if workers > 1 else 'off'};\n"
            f"worker_processes {workers};\nworker_rlimit_nofile 65536;\n"
            f"pid {self.prefix}/nginx.pid;\nerror_log stderr error;\n"
            "events { worker_connections 4096; }\n"
            "http {\naccess_log off;\nkeepalive_requests 1000000;\n"
            f"client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};\n"
            f"uwsgi_temp_path {temp}; scgi_temp_path {temp};\n"
            + "".join(servers) + "}\n")
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(config)
        self.proc = subprocess.Popen(["nginx", "-p", self.prefix, "-c", self.conf, "-e", "stderr"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        for port in self.ports.values():
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("nginx exited: " + self.proc.stderr.read().decode())
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not listen")
                    time.sleep(0.02)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.prefix, ignore_errors=True)
