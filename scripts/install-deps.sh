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
  # ldap probe: OpenLDAP's libldap (async calls on the loop); slapd and ldap-utils for the
  # tests' private directory; check_ldap (monitoring-plugins-standard) for bench/ldap_bench
  libldap-dev slapd ldap-utils
  # tcp query_response tests: a real SMTP server with STARTTLS (aiosmtpd, for Debian's python3)
  # and sshd's banner
  python3-aiosmtpd openssh-server
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
  # dns probe: c-ares sends the queries on the event loop; unbound serves the tests' zone
  # (tests/probes/dns, bench/dns_icmp_bench.py)
  libc-ares-dev unbound
  # gzip of the endpoint's large answers (/metrics, status pages, API)
  zlib1g-dev
  # the iTop adapter's integration tests (tests/itop) run the real iTop 3.2 from ../shared/itop:
  # PHP 8.2 with the extensions iTop's installer requires, graphviz for its impact graphs
  # (MariaDB's binaries are already listed above for the database probes)
  php8.2-cli php8.2-mysql php8.2-xml php8.2-gd php8.2-soap php8.2-zip php8.2-mbstring
  php8.2-curl php8.2-ldap php8.2-intl php-apcu graphviz
  # the operator console's browser tests (tests/browser): headless Chromium runs axe-core and the
  # keyboard walk, driven by playwright-core (npm ci from tests/browser/package-lock.json with
  # the machine's Node.js and npm; Debian's nodejs, plus its npm package where npm is missing,
  # below)
  chromium nodejs
)

# Debian's nodejs comes without npm (its own package); NodeSource's nodejs, already on some
# machines, ships it and conflicts with Debian's npm: ask for npm only when the command is missing.
if ! command -v npm >/dev/null; then
  PACKAGES+=(npm)
fi

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
