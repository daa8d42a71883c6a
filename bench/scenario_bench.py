#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Scenario probe benchmark: a full SAML login journey (6 requests: SP -> IdP -> login form ->
credentials -> SAML POST -> protected page) against the SSO kit on loopback, in one run:

  - vigie scenario: the real agent running --probes copies of the journey every --interval,
    CPU of the agent process (/proc) over the window, divided by the journeys it ran;
  - vigie https: the same agent with as many plain https probes of the SP's static page, the
    unit a journey is compared with (target: a journey costs at most 5x one https probe);
  - python requests: the same journey scripted with requests.Session and html.parser, looped
    in this process after a warm-up (CPU per journey from getrusage, interpreter start-up not
    counted): the usual nagios-script answer at its cheapest;
  - journey.py: the kit's reference journey as a nagios check runs it, one process per check
    (CPU of the child, interpreter start included).
Target: the agent's journey at least 10x cheaper in CPU than the Python ones.

The kit comes from VIGIE_SSO_KIT (default <repo>/../shared/sso) and is started in a temporary
folder, then stopped. About a minute with the defaults. Usage:
  bench/scenario_bench.py --agent build-release/agent/app/vigie-agent [--seconds 20]
"""

import argparse
import html.parser
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from agent_harness import cpu_seconds  # noqa: E402
from http_bench import QuietAgent  # noqa: E402

KIT = os.environ.get("VIGIE_SSO_KIT") or os.path.join(REPO, "..", "shared", "sso")


def count_runs(body, failed=False):
    total = 0.0
    for line in body.splitlines():
        if line.startswith("vigie_probe_runs_total{") and (not failed or 'result="ok"' not in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def journey_step(name, body):
    return f"      - {{ name: {name}, {body} }}\n"


def agent_config(kind, count, interval, kit, password_file):
    lines = ["agent:\n  listen: \"127.0.0.1:PORT\"\n  state_dir: STATE_DIR\n"
             "  log_level: warning\nprobes:\n"]
    for i in range(count):
        head = (f"  - name: {kind}{i}\n    type: {'scenario' if kind == 'journey' else 'http'}\n"
                f"    interval: {int(interval * 1000)}ms\n    timeout: {int(interval * 1000)}ms\n")
        if kind == "journey":
            lines.append(
                head + "    scenario:\n"
                f"      tls_ca_file: {kit['SSO_CA_CERT']}\n"
                f"      username: {kit['SSO_USERNAME']}\n"
                f"      password_file: {password_file}\n"
                "      steps:\n"
                f"        - name: sp-to-idp\n          url: \"{kit['SSO_PROTECTED_URL']}\"\n"
                "        - name: idp-login\n          form: { name: f }\n"
                "          fields: { username: \"{{username}}\", password: \"{{password}}\" }\n"
                "          xpath: [{ path: \"//input[@name='SAMLResponse']\", exists: true }]\n"
                "        - name: saml-post\n          form: {}\n"
                "          fail_if_body_not_matches: [\"uid=agent-supervision\"]\n")
        else:
            lines.append(head + f"    http: {{ url: \"{kit['SSO_SP_BASE_URL']}/\", "
                         f"tls_ca_file: \"{kit['SSO_CA_CERT']}\" }}\n")
    return "".join(lines)


def run_agent(binary, config, seconds):
    """(CPU seconds per run, runs, failed runs) of an agent over `seconds` after a warm-up."""
    agent = QuietAgent(binary, config)
    try:
        time.sleep(3)  # first runs: PHP opcache and the agent's own start-up
        body0 = agent.scrape()
        cpu0 = cpu_seconds(agent.proc.pid)
        time.sleep(seconds)
        body1 = agent.scrape()
        cpu1 = cpu_seconds(agent.proc.pid)
        runs = count_runs(body1) - count_runs(body0)
        failed = count_runs(body1, True) - count_runs(body0, True)
        return (cpu1 - cpu0) / max(runs, 1), runs, failed
    finally:
        agent.proc.terminate()
        agent.proc.wait()


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method and the inputs a browser submits."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": a.get("method", "get"),
                               "name": a.get("name"), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def requests_journey(session, kit):
    import requests  # noqa: F401  (imported by the caller first; here for the reader)
    r = session.get(kit["SSO_PROTECTED_URL"], verify=kit["SSO_CA_CERT"])
    for form_name, extra in (("f", {"username": kit["SSO_USERNAME"],
                                    "password": kit["SSO_PASSWORD"]}), (None, {})):
        parser = Forms()
        parser.feed(r.text)
        form = next(f for f in parser.forms if form_name is None or f["name"] == form_name)
        action = form["action"]
        # "?" keeps the page's path with a new query, as browsers do.
        url = (r.url.split("?", 1)[0] + (action if action != "?" else "")
               if action.startswith("?") else urllib.parse.urljoin(r.url, action))
        r = session.post(url, data={**form["fields"], **extra}, verify=kit["SSO_CA_CERT"])
    return r.status_code == 200 and "uid=agent-supervision" in r.text


def python_requests(kit, count):
    import requests
    ok = 0
    for _ in range(2):  # warm-up: imports, first TLS contexts
        requests_journey(requests.Session(), kit)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(count):
        with requests.Session() as session:  # a fresh cookie jar and connections per journey
            ok += requests_journey(session, kit)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / count, ok


def journey_py(kit_env, count):
    ok = 0
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(count):
        ok += subprocess.run(["/usr/bin/python3", os.path.join(KIT, "journey.py"), kit_env],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / count, ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", required=True)
    parser.add_argument("--seconds", type=float, default=20, help="measuring window per subject")
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--python-journeys", type=int, default=40)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="vigie-sso-bench-", dir="/tmp")
    os.chmod(workdir, 0o755)
    try:
        subprocess.run([os.path.join(KIT, "start-sso.sh"), workdir], check=True,
                       stdout=subprocess.DEVNULL)
        kit_env = os.path.join(workdir, "kit.env")
        with open(kit_env) as f:
            kit = dict(line.strip().split("=", 1) for line in f
                       if "=" in line and not line.startswith("#"))
        password_file = os.path.join(workdir, "bench-password")
        with open(password_file, "w") as f:
            f.write(kit["SSO_PASSWORD"])

        rows = []
        for kind in ("journey", "https"):
            config = agent_config(kind, args.probes, args.interval, kit, password_file)
            per_run, runs, failed = run_agent(args.agent, config, args.seconds)
            rows.append((f"vigie {'scenario' if kind == 'journey' else 'https'}", per_run, runs,
                         failed))
        per_journey, ok = python_requests(kit, args.python_journeys)
        rows.append(("python requests", per_journey, args.python_journeys,
                     args.python_journeys - ok))
        count = max(5, args.python_journeys // 4)
        per_process, ok = journey_py(kit_env, count)
        rows.append(("journey.py (process)", per_process, count, count - ok))
    finally:
        subprocess.run([os.path.join(KIT, "stop-sso.sh"), workdir], stdout=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{'subject':<22} {'CPU ms/run':>10} {'runs':>6} {'failed':>6}")
    for name, per_run, runs, failed in rows:
        print(f"{name:<22} {per_run * 1000:>10.2f} {runs:>6.0f} {failed:>6.0f}")
    journey, https, python, process = (row[1] for row in rows)
    print(f"journey / https probe       : {journey / https:.1f}x (target <= 5x)")
    print(f"python requests / journey   : {python / journey:.1f}x (target >= 10x)")
    print(f"journey.py process / journey: {process / journey:.1f}x")


if __name__ == "__main__":
    main()
