#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every descendant of a `type: nagios` plugin run ends with the run and with the agent: children
holding stdout after the plugin exited, children in a new session (setsid), a small fork bomb.
Each process of the plugins writes its pid to a file; the test checks each one is gone."""

import argparse
import os
import signal
import sys
import tempfile
import time
import unittest

from agent_harness import Agent, value

AGENT = None

# Exits at once, leaving three kinds of children behind, all holding its stdout.
LEAVES_CHILDREN = r"""#!/bin/sh
before=$(wc -l < "$PIDS")
sh -c 'echo $$ >> "$PIDS"; exec sleep 300' &
setsid sh -c 'echo $$ >> "$PIDS"; exec sleep 300' &
setsid sh -c 'echo $$ >> "$PIDS"; setsid sh -c "echo \$\$ >> \"\$PIDS\"; exec sleep 300" & exec sleep 300' &
while [ "$(wc -l < "$PIDS")" -lt $((before + 4)) ]; do sleep 0.05; done
echo "OK - left children behind"
"""

# bomb.sh [DEPTH]: each level starts two copies of itself, one of them in a new session; 63
# processes in all, none of which ever exits on its own.
BOMB = r"""#!/bin/sh
depth=${1:-0}
echo $$ >> "$PIDS"
if [ "$depth" -lt 5 ]; then
  setsid "$0" $((depth + 1)) &
  "$0" $((depth + 1)) &
fi
[ "$depth" -eq 0 ] && echo "OK - bombing"
exec sleep 300
"""

CONFIG = """
agent: { listen: "127.0.0.1:0", state_dir: STATE_DIR }
probes:
  - name: plugin
    type: nagios
    interval: INTERVAL
    timeout: TIMEOUT
    nagios:
      command: [SCRIPT]
      env: { PIDS: PIDFILE, PATH: /usr/bin:/bin }
"""


def alive(pid):
    """True while `pid` runs (a zombie counts as gone: it is only waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class PluginDescendantsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigie-descendants-")
        self.addCleanup(self.tmp.cleanup)
        self.pidfile = os.path.join(self.tmp.name, "pids")
        open(self.pidfile, "w").close()
        # Whatever a failing test leaves behind is killed here, not left on the machine.
        self.addCleanup(self.kill_all)

    def kill_all(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def pids(self):
        with open(self.pidfile) as f:
            return [int(line) for line in f if line.strip()]

    def start(self, script, interval, timeout):
        path = os.path.join(self.tmp.name, "plugin.sh")
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o755)
        config = (CONFIG.replace("INTERVAL", interval).replace("TIMEOUT", timeout)
                  .replace("SCRIPT", path).replace("PIDFILE", self.pidfile))
        agent = Agent(AGENT, config)
        self.addCleanup(agent.stop)
        return agent

    def wait_for_pids(self, count, timeout=30):
        deadline = time.time() + timeout
        while len(self.pids()) < count:
            self.assertLess(time.time(), deadline, f"only {len(self.pids())} of {count} pids")
            time.sleep(0.05)
        return self.pids()[:count]

    def assert_all_gone(self, pids, within, what):
        deadline = time.time() + within
        while [p for p in pids if alive(p)] and time.time() < deadline:
            time.sleep(0.05)
        survivors = [p for p in pids if alive(p)]
        self.assertEqual(survivors, [], f"{len(survivors)} of {len(pids)} survived {what}")

    def test_children_end_with_the_run(self):
        # A timeout well above the plugin's own time, even on a loaded machine.
        agent = self.start(LEAVES_CHILDREN, "4s", "3s")
        samples = agent.wait_for(
            lambda s: value(s, "probe_success", probe="plugin") is not None, "the first run")
        # The plugin's own output counts, and the run ended with the plugin, not at the deadline.
        self.assertEqual(value(samples, "probe_success", probe="plugin"), 1.0, agent.logs())
        self.assertLess(value(samples, "probe_duration_seconds", probe="plugin"), 2.0)
        self.assert_all_gone(self.wait_for_pids(4), 2, "the run")
        # And again on the next run.
        self.assert_all_gone(self.wait_for_pids(8), 2, "two runs")

    def test_deadline_ends_every_descendant(self):
        script = LEAVES_CHILDREN.replace('echo "OK - left children behind"', "exec sleep 300")
        agent = self.start(script, "3s", "1s")
        pids = self.wait_for_pids(4)
        agent.wait_for(lambda s: value(s, "probe_success", probe="plugin") == 0.0, "the timeout")
        self.assert_all_gone(pids, 2, "the deadline")
        self.assertTrue(agent.proc.poll() is None)

    def test_fork_bomb_ends_with_the_agent(self):
        agent = self.start(BOMB, "10s", "9s")
        pids = self.wait_for_pids(63)
        self.assertTrue(all(alive(p) for p in pids), "the bomb is running")
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.proc.wait(timeout=10), 0, agent.logs())
        self.assert_all_gone(pids, 2, "the agent's SIGTERM")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
