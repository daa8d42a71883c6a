# SPDX-License-Identifier: Apache-2.0
"""A private unbound (Debian's `unbound`) on 127.0.0.1 and ::1 with an ephemeral port and a test
zone, vigie.test, for the dns probe's tests and bench/dns_icmp_bench.py."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

ZONE = """
  local-zone: "vigie.test." static
  local-data: "vigie.test. 3600 IN SOA ns.vigie.test. admin.vigie.test. 2026112901 3600 600 86400 300"
  local-data: "vigie.test. 3600 IN NS ns.vigie.test."
  local-data: "vigie.test. 300 IN MX 10 mail.vigie.test."
  local-data: 'vigie.test. 300 IN TXT "v=spf1 -all"'
  local-data: "www.vigie.test. 300 IN A 192.0.2.10"
  local-data: "www.vigie.test. 300 IN AAAA 2001:db8::10"
  local-zone: "refused.test." refuse
"""
# Forty TXT records: more than 512 bytes, so the UDP answer is truncated and TCP follows.
BIG = "".join(f'  local-data: \'big.vigie.test. 300 IN TXT "record number {i:02d} of the big set"\'\n'
              for i in range(40))


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 and ::1."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for family, host, kind in ((socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM),
                                       (socket.AF_INET6, "::1", socket.SOCK_DGRAM),
                                       (socket.AF_INET6, "::1", socket.SOCK_STREAM)):
                with socket.socket(family, kind) as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue


class Unbound:
    def __init__(self, threads=1):
        binary = shutil.which("unbound") or "/usr/sbin/unbound"
        self.folder = tempfile.mkdtemp(prefix="vigie-unbound-")
        self.port = free_port()
        config = os.path.join(self.folder, "unbound.conf")
        with open(config, "w") as f:
            f.write(f"""server:
  interface: 127.0.0.1
  interface: ::1
  port: {self.port}
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{self.folder}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: {threads}
  access-control: 127.0.0.0/8 allow
  access-control: ::1 allow
  module-config: "iterator"
  ratelimit: 0
  ip-ratelimit: 0
{ZONE}{BIG}""")
        self.log = open(os.path.join(self.folder, "unbound.log"), "w+")
        self.proc = subprocess.Popen([binary, "-d", "-c", config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "start of service" in self.log.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        output = self.log.read()
        self.close()
        raise RuntimeError(f"unbound did not start:\n{output}")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
