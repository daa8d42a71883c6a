#!/usr/bin/env bash
# Installs everything Vigie needs to build, run and test, from Debian's packages. Idempotent.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libasio-dev prometheus-cpp-dev libyaml-cpp-dev libcurl4-openssl-dev libssl-dev libsystemd-dev
  # tests
  libgtest-dev libgmock-dev python3 curl openssl
  # type: nagios tests and bench/nagios_bench run Debian's real plugins (check_dummy, check_tcp...)
  monitoring-plugins-basic
  # packaging and operations: bcrypt (crypt_r), RPM build and lint, promtool and a real
  # Prometheus for the end-to-end test, systemd-analyze, man page rendering
  libcrypt-dev rpm rpmlint prometheus systemd groff man-db
  # database probes: client libraries, real servers and ODBC drivers for the tests, check_pgsql
  # and pgbench for bench/db_bench
  libpq-dev libmariadb-dev unixodbc-dev postgresql mariadb-server odbc-postgresql odbc-mariadb
  monitoring-plugins-standard
  # alert state and outbox, maintenance time zones, JSON events; a real Alertmanager for tests
  libsqlite3-dev libhowardhinnant-date-dev nlohmann-json3-dev prometheus-alertmanager
  # http probe: JSON assertions, body regexes (PCRE2: no recursion blow-up on large bodies),
  # nginx for the TLS/HTTP2 tests, blackbox_exporter and wrk for bench/http_bench
  nlohmann-json3-dev libpcre2-dev nginx prometheus-blackbox-exporter wrk
  # scenario probe: libxml2's HTML parser and XPath (forms, assertions, extractions); its tests
  # run a real SAML stack (the SSO kit next to the clone: Apache + Shibboleth SP + mod_php
  # serving SimpleSAMLphp as the IdP)
  libxml2-dev apache2 libapache2-mod-shib shibboleth-sp-utils simplesamlphp libapache2-mod-php8.2
  # packaging/ansible: the role is run by ansible-playbook in tests/packaging/test_ansible.py
  # (ansible-core: only builtin modules are used); the probe samples are read by
  # tests/packaging/test_samples.py with PyYAML
  ansible-core python3-yaml
  # fuzzing (tests/fuzz, bench/fuzz.sh): clang's -fsanitize=fuzzer; its libFuzzer runtime is in
  # libclang-rt-14-dev (the standalone libfuzzer-14-dev is not needed)
  clang libclang-rt-14-dev
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "Installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
