#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Ansible role packaging/ansible/roles/vigie_agent, run by Debian's ansible-playbook on
localhost into a scratch prefix, against a real vigie-agent: a good configuration is deployed,
validated and reloaded over HTTP; a bad one is rejected by `vigie-agent --check-config`, every
file is put back as it was and the running agent keeps its configuration. The package step is
skipped (no dnf here). Plus `--syntax-check` of the example playbook."""

import argparse
import grp
import hashlib
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from agent_harness import parse_metrics, value  # noqa: E402

SOURCE = None
AGENT = None

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: ["!all", "!min", "pkg_mgr"]
  roles:
    - vigie_agent
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_digest(root):
    """{relative path: (mode, content digest)} of every file and folder under root."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in [""] + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            digest = ""
            if stat.S_ISREG(mode):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            found[os.path.relpath(path, root)] = (stat.S_IMODE(mode), digest)
    return found


@unittest.skipUnless(shutil.which("ansible-playbook"), "ansible-playbook not installed")
class AnsibleRoleTest(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="vigie-ansible-")
        self.prefix = os.path.join(self.scratch, "root")
        os.makedirs(self.prefix)
        self.port = free_port()
        self.agent = None
        with open(os.path.join(self.scratch, "play.yml"), "w") as f:
            f.write(PLAYBOOK)
        self.env = {**os.environ,
                    "ANSIBLE_ROLES_PATH": os.path.join(SOURCE, "packaging", "ansible", "roles"),
                    "ANSIBLE_HOME": os.path.join(self.scratch, "ansible-home"),
                    "ANSIBLE_LOCAL_TEMP": os.path.join(self.scratch, "ansible-tmp"),
                    "ANSIBLE_REMOTE_TEMP": os.path.join(self.scratch, "ansible-tmp"),
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                    "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
                    "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_PIPELINING": "1",
                    "TMPDIR": os.path.join(self.scratch, "tmp")}
        os.makedirs(self.env["TMPDIR"])
        self.probe_dir = os.path.join(self.scratch, "probes")
        os.makedirs(self.probe_dir)

    def tearDown(self):
        if self.agent and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(10)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def probe_file(self, name, text):
        path = os.path.join(self.probe_dir, name)
        with open(path, "w") as f:
            f.write(text)
        return {"src": path, "name": name}

    def play(self, probe_files, reload="none", extra=None):
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        variables = {
            "vigie_prefix": self.prefix,
            "vigie_binary": AGENT,
            "vigie_owner": user, "vigie_group": group, "vigie_admin_group": group,
            "vigie_reload": reload,
            "vigie_reload_url": f"http://127.0.0.1:{self.port}/-/reload",
            "vigie_config": {
                "agent": {"listen": f"127.0.0.1:{self.port}",
                          "state_dir": os.path.join(self.prefix, "var", "lib", "vigie")},
                "include": ["probes.d/*.yaml"],
                "probes": [{"name": "db", "type": "tcp", "interval": "1m",
                            "labels": {"app": "SYSCA", "environment": "test",
                                       "hosting_center": "dc1", "ci": "SYSCA-DB"},
                            "tcp": {"address": "${DB_ADDRESS}"}}]},
            "vigie_probe_files": probe_files,
            "vigie_credentials": {"db-password": "s3cret"},
            "vigie_sysconfig": {"DB_ADDRESS": "127.0.0.1:5432"},
            **(extra or {}),
        }
        vars_file = os.path.join(self.scratch, "vars.json")
        with open(vars_file, "w") as f:
            json.dump(variables, f)
        return subprocess.run(
            ["ansible-playbook", "-i", "localhost,", os.path.join(self.scratch, "play.yml"),
             "-e", "@" + vars_file],
            capture_output=True, text=True, env=self.env, timeout=120)

    def start_agent(self):
        config = os.path.join(self.prefix, "etc", "vigie", "vigie.yaml")
        self.agent = subprocess.Popen(
            [AGENT, "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "DB_ADDRESS": "127.0.0.1:5432",
                 "CREDENTIALS_DIRECTORY": os.path.join(self.prefix, "etc", "vigie", "credentials")})
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                return self.metrics()
            except OSError:
                self.assertIsNone(self.agent.poll(), "the agent exited")
                time.sleep(0.1)
        self.fail("the agent did not answer")

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def test_good_config_deployed_and_reloaded_then_bad_config_rolled_back(self):
        # The agent already runs on a hand-written configuration, as after the package install.
        etc = os.path.join(self.prefix, "etc")
        os.makedirs(os.path.join(etc, "vigie", "probes.d"))
        with open(os.path.join(etc, "vigie", "vigie.yaml"), "w") as f:
            f.write(f"agent: {{ listen: '127.0.0.1:{self.port}', "
                    f"state_dir: '{self.prefix}/var/lib/vigie' }}\n")
        self.assertEqual(value(self.start_agent(), "vigie_probes_configured"), 0)

        web = self.probe_file("web.yaml", """probes:
  - name: web
    type: tcp
    labels: { app: SLA, environment: test, hosting_center: dc1, ci: SLA-WEB }
    tcp: { address: "127.0.0.1:9" }
""")
        api = self.probe_file("api.yaml", """probes:
  - name: api
    type: http
    labels: { app: SLA, environment: test, hosting_center: dc1, ci: SLA-API }
    http: { url: "http://127.0.0.1:9/health" }
""")
        good = self.play([web, api], reload="http")
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        # No dnf on the Debian test host: the package step is skipped, not failed.
        self.assertRegex(good.stdout, r"TASK \[vigie_agent : Install the vigie-agent package\] "
                                      r"\**\nskipping: \[localhost\]")
        self.assertRegex(good.stdout, r"RUNNING HANDLER \[vigie_agent : Reload vigie-agent over "
                                      r"HTTP\] \**\nok: \[localhost\]")
        samples = self.metrics()
        self.assertEqual(value(samples, "vigie_probes_configured"), 3)  # db, web, api
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(etc, "vigie", "vigie.yaml")).st_mode),
                         0o640)
        secret = os.path.join(etc, "vigie", "credentials", "db-password")
        self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
        with open(secret) as f:
            self.assertEqual(f.read(), "s3cret")
        with open(os.path.join(etc, "systemd", "system", "vigie-agent.service.d",
                               "credentials.conf")) as f:
            self.assertIn(f"LoadCredential=db-password:{etc}/vigie/credentials/db-password",
                          f.read())
        with open(os.path.join(etc, "sysconfig", "vigie-agent")) as f:
            self.assertIn("DB_ADDRESS=127.0.0.1:5432", f.read())
        helper = os.path.join(self.prefix, "usr", "local", "sbin", "vigie-probe")
        checked = subprocess.run([helper, "--check-config"], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        self.assertIn("OK, 3 probes", checked.stdout)
        deployed = tree_digest(etc)

        # A mistake in a new probe file, and a new secret: the play fails, names the error, puts
        # every file back (the old secret too), leaves no stray file and does not reload.
        broken = self.probe_file("broken.yaml", """probes:
  - name: broken
    type: http
    labels: { app: SLA, environment: test, hosting_center: dc1, ci: SLA-API }
    http: { url: "http://127.0.0.1:9/", valid_status_code: [200] }
""")
        bad = self.play([web, api, broken], reload="http",
                        extra={"vigie_credentials": {"db-password": "changed"}})
        self.assertNotEqual(bad.returncode, 0, bad.stdout)
        self.assertIn("rejected the new configuration", bad.stdout)
        self.assertIn("valid_status_code", bad.stdout)
        self.assertNotIn("RUNNING HANDLER", bad.stdout)
        self.assertEqual(tree_digest(etc), deployed)
        samples = self.metrics()
        self.assertEqual(value(samples, "vigie_probes_configured"), 3)
        self.assertEqual(value(samples, "vigie_config_last_reload_successful"), 1)
        self.assertEqual([n for n in os.listdir(self.env["TMPDIR"])
                          if n.startswith("vigie-rollback")], [])

    def test_example_playbook_syntax(self):
        ansible_dir = os.path.join(SOURCE, "packaging", "ansible")
        result = subprocess.run(
            ["ansible-playbook", "-i", "inventory.example", "site.yml", "--syntax-check"],
            cwd=ansible_dir, capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("playbook: site.yml", result.stdout)


def main():
    global SOURCE, AGENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    SOURCE, AGENT = os.path.abspath(args.source), os.path.abspath(args.agent)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
