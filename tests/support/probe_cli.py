# SPDX-License-Identifier: Apache-2.0
"""Runs one probe through `vigie-agent --probe` and parses what it prints: the status line
(status, reason, message, unlabelled samples) and the labelled samples shown below it."""

import json
import os
import re
import subprocess
import tempfile


class Outcome:
    def __init__(self, exit_code, output):
        self.exit_code = exit_code
        self.output = output
        first = output.splitlines()[0] if output else ""
        self.status = first.split(" ", 1)[0]
        match = re.search(r"\(reason: (\w+)\) \|", first)
        self.reason = match.group(1) if match else ""
        self.message = first.split(": ", 1)[1].split(" | ")[0] if ": " in first else first
        self.samples = {}
        for item in first.split(" | ", 1)[1].split(" ")[1:] if " | " in first else []:
            name, _, number = item.partition("=")
            self.samples[name] = float(number)
        self.labelled = {}
        for line in output.splitlines()[1:]:
            m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
            if m:
                labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
                self.labelled[(m.group(1), labels)] = float(m.group(3))

    def labelled_value(self, name, **labels):
        found = [v for (n, ls), v in self.labelled.items()
                 if n == name and set(labels.items()) <= set(ls)]
        return found[0] if len(found) == 1 else None

    def __repr__(self):
        return self.output


def run_probe(agent, probe_type, block, timeout="2s", prefix=()):
    """`prefix` is a command the agent runs under, e.g. unshare into a network namespace."""
    with tempfile.TemporaryDirectory(prefix=f"vigie-{probe_type}-") as folder:
        path = os.path.join(folder, "vigie.yaml")
        with open(path, "w") as f:
            f.write(f"probes:\n  - name: t\n    type: {probe_type}\n    interval: 30s\n"
                    f"    timeout: {timeout}\n    {probe_type}: {json.dumps(block)}\n")
        proc = subprocess.run([*prefix, agent, "--probe", "t", "--config", path],
                              capture_output=True, text=True, timeout=60)
        return Outcome(proc.returncode, proc.stdout + proc.stderr)
