# SPDX-License-Identifier: Apache-2.0
"""Runs the real vigie-agent binary on a temporary config for integration tests."""

import glob
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request


def closed_port():
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accept_and_close(sock):
    """Accepts and closes connections until `sock` is closed (run it on a thread)."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        conn.close()


def cpu_seconds(pid):
    """utime + stime of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid):
    """Voluntary + involuntary context switches of all threads of a process (its wake-ups)."""
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that just ended
    return total


def sanitized(binary):
    """True when `binary` runs under ASan or TSan. Their allocators keep freed memory aside and
    their runtime slows every call, so memory, CPU and descriptor-exhaustion bounds measured on
    the Release binary do not apply to it."""
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in linked or "libtsan" in linked


def memory_mib(pid, key):
    """A memory figure of /proc/PID/status (VmRSS, VmHWM...) in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class Listener:
    """A TCP listener on an ephemeral loopback port that accepts and closes connections."""

    def __init__(self, backlog=64):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=accept_and_close, args=(self.sock,), daemon=True)
        self.thread.start()

    def close(self):
        self.sock.close()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the Prometheus text format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$', line)
        if not match:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        samples[(match.group(1), frozenset(labels.items()))] = float(match.group(4))
    return samples


def value(samples, name, **labels):
    """The value of the one series of `name` whose labels include `labels`, or None."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series")
    return found[0] if found else None


class Agent:
    """vigie-agent on `config_text` (a YAML string), listening on an ephemeral port."""

    def __init__(self, binary, config_text, env=None):
        self.binary = binary
        self.dir = tempfile.TemporaryDirectory(prefix="vigie-it-")
        self.config = os.path.join(self.dir.name, "vigie.yaml")
        self.write_config(config_text)
        self.log_path = os.path.join(self.dir.name, "agent.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([binary, "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.port = self._wait_for_port()

    def write_config(self, text):
        text = text.replace("STATE_DIR", os.path.join(self.dir.name, "state"))
        with open(self.config, "w") as f:
            f.write(text)

    def _wait_for_port(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            match = re.search(r"listening on \S+:(\d+)", self.logs())
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.logs()}")
            time.sleep(0.05)
        raise AssertionError("agent did not report its port:\n" + self.logs())

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=b"",
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200, (status, body)
        return parse_metrics(body)

    def wait_for(self, predicate, what, timeout=15):
        """Scrapes until predicate(samples) holds; returns the samples."""
        deadline = time.time() + timeout
        while True:
            samples = self.metrics()
            if predicate(samples):
                return samples
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; logs:\n{self.logs()}")
            time.sleep(0.1)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            self.dir.cleanup()
