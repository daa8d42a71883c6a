#!/usr/bin/env bash
# Builds the vigie-agent RPMs from this tree with Debian's rpm, lints them, installs them into a
# scratch root and checks the files, owners and modes an operator gets. Run by ctest (label
# packaging). Usage: scripts/build-rpm.sh [--topdir DIR] [--nocheck]
#   --topdir DIR  rpmbuild's work area (default build-rpm); removed and recreated
#   --nocheck     skip the spec's %check (the unit tests): the test suite runs them already
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD
topdir=$source_dir/build-rpm
check=(--with check)
while [ $# -gt 0 ]; do
  case $1 in
    --topdir) topdir=$(realpath -m "$2"); shift 2 ;;
    --nocheck) check=(--without check); shift ;;
    *) echo "usage: $0 [--topdir DIR] [--nocheck]" >&2; exit 2 ;;
  esac
done
spec=packaging/rpm/vigie-agent.spec
version=$(sed -n 's/^Version: *//p' "$spec")
cmake_version=$(sed -n 's/^project(vigie VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [ "$version" != "$cmake_version" ]; then
  echo "FAIL: the spec says $version, CMakeLists.txt says $cmake_version" >&2
  exit 1
fi

rm -rf "$topdir"
mkdir -p "$topdir"/{SOURCES,SPECS,BUILD,RPMS,SRPMS} "$topdir/root"
# The tree as the developer builds it: tracked and new files, nothing git ignores (build dirs).
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
  tar --null -T - --transform "s,^,vigie-agent-$version/," -czf \
    "$topdir/SOURCES/vigie-agent-$version.tar.gz"
cp systemd/vigie-agent.sysusers "$topdir/SOURCES/"

start=$(date +%s)
# --nodeps: RHEL's -devel packages do not exist on Debian; Debian's equivalents are installed.
# No debuginfo subpackage: Debian's rpm has no find-debuginfo; RHEL's builders make it.
rpmbuild -bb --nodeps "${check[@]}" \
  --load packaging/rpm/debian-build.macros \
  --define "_topdir $topdir" --define "debug_package %{nil}" \
  --define "_smp_build_ncpus 2" \
  "$spec" >"$topdir/rpmbuild.log" 2>&1 || { tail -40 "$topdir/rpmbuild.log"; exit 1; }
echo "rpmbuild: $(($(date +%s) - start)) s"
mapfile -t rpms < <(find "$topdir/RPMS" -name '*.rpm' | sort)
printf '  %s\n' "${rpms[@]#"$topdir/"}"

# Lint: no errors; the warnings we accept are filtered, each with its reason, in the rpmlintrc.
lint=$(rpmlint -r packaging/rpm/vigie-agent.rpmlintrc "${rpms[@]}" 2>&1) || true
echo "$lint" | tail -1
if ! echo "$lint" | grep -q ' 0 errors, 0 warnings'; then
  echo "$lint" >&2
  echo "FAIL: rpmlint reports errors or unexplained warnings" >&2
  exit 1
fi

# Install into a scratch root. The vigie user is made the way %pre would (sysusers), so rpm
# can give files their owners; scriptlets need a shell and systemd inside the root: not run.
root=$topdir/root
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/root:/bin/sh\nvigie:x:990:990::/var/lib/vigie:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nvigie:x:990:\n' >"$root/etc/group"
rpm --root "$root" --initdb
# --force-debian: Debian's rpm otherwise warns that dpkg should install packages.
rpm --root "$root" --nodeps --noscripts --force-debian -i "${rpms[@]}"

fail=0
name_in_root() {  # FILE ID: the name the scratch root's passwd or group gives to ID
  awk -F: -v id="$2" '$3 == id { print $1 }' "$root/etc/$1"
}
expect() {  # PATH MODE OWNER GROUP, owners as the scratch root names them
  local actual=missing mode uid gid
  if read -r mode uid gid < <(stat -c '%a %u %g' "$root$1" 2>/dev/null); then
    actual="$mode $(name_in_root passwd "$uid") $(name_in_root group "$gid")"
  fi
  if [ "$actual" != "$2 $3 $4" ]; then
    echo "FAIL: $1: expected $2 $3 $4, got $actual" >&2
    fail=1
  fi
}
expect /usr/bin/vigie-agent 755 root root
expect /usr/bin/vigiectl 755 root root
expect /usr/share/bash-completion/completions/vigiectl 644 root root
expect /usr/share/man/man1/vigiectl.1.gz 644 root root
expect /etc/vigie 750 root vigie
expect /etc/vigie/vigie.yaml 640 root vigie
expect /etc/vigie/probes.d 750 root vigie
expect /var/lib/vigie 750 vigie vigie
expect /usr/lib/systemd/system/vigie-agent.service 644 root root
expect /usr/lib/sysusers.d/vigie-agent.conf 644 root root
expect /usr/share/man/man8/vigie-agent.8.gz 644 root root
expect /usr/share/man/man5/vigie.yaml.5.gz 644 root root
expect /usr/share/vigie-agent/prometheus/vigie-rules.yml 644 root root
expect /usr/share/vigie-agent/grafana/vigie-dashboard.json 644 root root
expect /usr/share/licenses/vigie-agent/LICENSE 644 root root
# Every doc ships, with the French runbooks and the Ansible role (docs/INSTALL.md).
for doc in README INSTALL OPERATIONS CONFIGURATION ALERTING PLUGINS ARCHITECTURE; do
  expect /usr/share/doc/vigie-agent/$doc.md 644 root root
done
expect /usr/share/doc/vigie-agent/runbooks/README.md 644 root root
for runbook in docs/runbooks/*/*.md; do
  expect "/usr/share/doc/vigie-agent/${runbook#docs/}" 644 root root
done
expect /usr/share/doc/vigie-agent/ansible/roles/vigie_agent/tasks/main.yml 644 root root
# The portfolio's probe samples, each a noreplace configuration file.
samples=()
for sample in config/probes.d/*.yaml.sample; do
  samples+=("/etc/vigie/probes.d/${sample##*/}")
  expect "/etc/vigie/probes.d/${sample##*/}" 640 root vigie
done
expect /usr/include/vigie/probe.h 644 root root
expect /usr/include/vigie/version.h 644 root root
expect /usr/include/vigie/plugin_abi.h 644 root root
expect /usr/lib64/cmake/vigie/vigieConfig.cmake 644 root root

# Every file the packages own exists in the root, and the config files are noreplace.
while read -r file; do
  [ -e "$root$file" ] || { echo "FAIL: $file listed but not installed" >&2; fail=1; }
done < <(rpm --root "$root" -qa --qf '[%{FILENAMES}\n]')
main=$(printf '%s\n' "${rpms[@]}" | grep -v -- '-devel-')
config=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$main" | awk '$1 ~ /c/ && $1 ~ /n/ {print $2}')
for file in /etc/vigie/vigie.yaml "${samples[@]}"; do
  grep -qx "$file" <<<"$config" || { echo "FAIL: $file is not %config(noreplace)" >&2; fail=1; }
done
scripts=$(rpm -qp --scripts "$main")
# The unit makes /run/vigie for the socket vigiectl uses.
grep -qx 'RuntimeDirectory=vigie' "$root/usr/lib/systemd/system/vigie-agent.service" ||
  { echo "FAIL: the unit lacks RuntimeDirectory=vigie" >&2; fail=1; }
for needed in "useradd -r -g vigie -d /var/lib/vigie" "systemctl --no-reload preset vigie-agent" \
              "disable --now vigie-agent.service" "try-restart vigie-agent.service"; do
  grep -qF -- "$needed" <<<"$scripts" || { echo "FAIL: scriptlets lack '$needed'" >&2; fail=1; }
done
# The packaged binary runs and accepts the packaged configuration.
"$root/usr/bin/vigie-agent" --version
"$root/usr/bin/vigiectl" --help >/dev/null
(cd "$root/etc/vigie" && "$root/usr/bin/vigie-agent" --check-config --config vigie.yaml)
if [ $fail -ne 0 ]; then
  exit 1
fi
echo "OK: $(rpm --root "$root" -qa --qf '[%{FILENAMES}\n]' | wc -l) files installed and checked"
