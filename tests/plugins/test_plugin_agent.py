#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The real vigie-agent with plugins: type nagios metrics over HTTP, native plugins appearing on
reload, a refused plugin keeping the running configuration, shutdown killing a stubborn plugin."""

import argparse
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from agent_harness import Agent, value  # noqa: E402

ARGS = None

BASE = """
agent: {{ listen: "127.0.0.1:0", state_dir: STATE_DIR{plugin_dirs} }}
defaults: {{ interval: 1s, timeout: 900ms }}
probes:
  - name: edges
    type: nagios
    nagios: {{ command: ["{scripts}/perfdata_edges.sh"] }}
{extra}
"""


def processes_running(marker):
    """Processes whose command line mentions `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


class PluginAgentTest(unittest.TestCase):
    def config(self, plugin_dirs=None, extra=""):
        dirs = f", plugin_dirs: [\"{plugin_dirs}\"]" if plugin_dirs else ""
        return BASE.format(plugin_dirs=dirs, scripts=ARGS.scripts, extra=extra)

    def start(self, text):
        agent = Agent(ARGS.agent, text)
        self.addCleanup(agent.stop)
        return agent

    def test_perfdata_then_plugins_on_reload(self):
        agent = self.start(self.config())
        samples = agent.wait_for(
            lambda s: value(s, "vigie_nagios_perfdata", probe="edges", label="/ used", uom="%")
            == 91, "perfdata of the nagios probe")
        self.assertEqual(value(samples, "vigie_nagios_perfdata_critical", probe="edges",
                               label="/ used", uom="%"), 90)
        self.assertEqual(value(samples, "probe_success", probe="edges"), 0)  # WARNING

        watched = os.path.join(agent.dir.name, "watched")
        open(watched, "w").close()
        age_probe = f"""  - name: age
    type: file_age
    file_age: {{ path: "{watched}", max_age: 1h }}
"""
        agent.write_config(self.config(ARGS.example_dir, age_probe))
        status, body = agent.post("/-/reload")
        self.assertEqual(status, 200, body)
        agent.wait_for(lambda s: value(s, "file_age_seconds", probe="age") is not None,
                       "the plugin probe's sample")
        agent.wait_for(lambda s: value(s, "probe_success", probe="age") == 1, "plugin probe OK")

        # A plugin built for another ABI: the reload is refused, the running probes stay.
        agent.write_config(self.config(ARGS.wrong_abi_dir))
        status, body = agent.post("/-/reload")
        self.assertEqual(status, 500)
        self.assertIn("wrong_abi.so refused: it was built for plugin ABI 99.0", body)
        samples = agent.metrics()
        self.assertEqual(value(samples, "vigie_config_last_reload_successful"), 0)
        self.assertEqual(value(samples, "probe_success", probe="age"), 1)
        agent.signal(signal.SIGHUP)  # the same refusal by signal: still running
        time.sleep(0.3)
        self.assertIsNone(agent.proc.poll())

    def test_shutdown_kills_a_plugin_that_ignores_sigterm(self):
        # A private copy, so the processes found below can only be this test's.
        script = os.path.join(ARGS.scratch, f"stubborn_{os.getpid()}.sh")
        shutil.copy(os.path.join(ARGS.scripts, "ignore_sigterm.sh"), script)
        self.addCleanup(os.remove, script)
        agent = self.start(self.config(extra=f"""  - name: stubborn
    type: nagios
    interval: 10s
    timeout: 10s
    nagios: {{ command: ["{script}"] }}
"""))
        deadline = time.time() + 15  # the first run comes at the probe's phase in its interval
        while not processes_running(script) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(processes_running(script), "the stubborn plugin never started")
        started = time.time()
        agent.signal(signal.SIGTERM)
        agent.proc.wait(timeout=10)
        self.assertLess(time.time() - started, 3)
        self.assertEqual(agent.proc.returncode, 0)
        time.sleep(0.2)
        self.assertEqual(processes_running(script), [])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for option in ("--agent", "--scripts", "--example-dir", "--wrong-abi-dir", "--scratch"):
        parser.add_argument(option, required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
