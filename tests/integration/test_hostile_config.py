#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Configuration inputs that once crashed `--check-config` (and, through SIGHUP, the daemon),
replayed on the real binary. The same files are fuzzing seeds (tests/fuzz/corpus)."""

import argparse
import os
import subprocess
import sys
import unittest

AGENT = None
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
                      "config_loader")


class HostileConfigTest(unittest.TestCase):
    def check(self, name):
        return subprocess.run([AGENT, "--check-config", "--config", os.path.join(CORPUS, name)],
                              capture_output=True, text=True, timeout=30)

    def test_30000_character_names_do_not_overflow_the_stack(self):
        # std::regex matched them recursively: SIGSEGV. Long but valid: accepted.
        for name in ("regression_long_probe_name.yaml", "regression_long_label_name.yaml"):
            result = self.check(name)
            self.assertEqual(result.returncode, 0, (name, result.stderr[-500:]))
            self.assertIn("OK, 1 probes", result.stdout)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    args, rest = parser.parse_known_args()
    AGENT = args.agent
    unittest.main(argv=[sys.argv[0], "-v", *rest])
