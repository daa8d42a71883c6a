# SPDX-License-Identifier: Apache-2.0
"""A private OpenLDAP slapd from Debian on loopback, for the ldap probe's tests and bench.

The directory is built by slapadd from a small LDIF in a temporary folder (slapd.conf, mdb):
dc=example,dc=test with three people, the ppolicy overlay with a 1-day maximum password age,
alice (password changed now), bob (password last changed in 2020: expired) and carol. ldap://
(with StartTLS) and ldaps:// listen on ephemeral ports, with a certificate of the given PKI.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=test"
ALICE = f"uid=alice,ou=people,{SUFFIX}"
BOB = f"uid=bob,ou=people,{SUFFIX}"
PASSWORDS = {ALICE: "alice-secret", BOB: "bob-secret"}

LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxAge: 86400
pwdExpireWarning: 86400
pwdGraceAuthNLimit: 0

dn: {ALICE}
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.test
userPassword: alice-secret
pwdChangedTime: {time.strftime("%Y%m%d%H%M%SZ", time.gmtime())}

dn: {BOB}
objectClass: inetOrgPerson
uid: bob
cn: Bob Expired
sn: Expired
mail: bob@example.test
userPassword: bob-secret
pwdChangedTime: 20200101000000Z

dn: uid=carol,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
mail: carol@example.test
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    def __init__(self, cert, key, ca):
        self.dir = tempfile.mkdtemp(prefix="vigie-slapd-")
        os.mkdir(os.path.join(self.dir, "db"))
        conf = os.path.join(self.dir, "slapd.conf")
        with open(conf, "w") as f:
            f.write(
                "include /etc/ldap/schema/core.schema\n"
                "include /etc/ldap/schema/cosine.schema\n"
                "include /etc/ldap/schema/inetorgperson.schema\n"
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload ppolicy\n"
                f"pidfile {self.dir}/slapd.pid\n"
                f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\n"
                f"TLSCertificateKeyFile {key}\n"
                "database mdb\nmaxsize 16777216\n"
                f'suffix "{SUFFIX}"\nrootdn "cn=admin,{SUFFIX}"\nrootpw admin-secret\n'
                f"directory {self.dir}/db\n"
                "access to attrs=userPassword by anonymous auth by self read by * none\n"
                "access to * by * read\n"
                f'overlay ppolicy\nppolicy_default "cn=default,ou=policies,{SUFFIX}"\n'
                "ppolicy_use_lockout\n")
        ldif = os.path.join(self.dir, "base.ldif")
        with open(ldif, "w") as f:
            f.write(LDIF)
        subprocess.run([SLAPADD, "-f", conf, "-l", ldif], check=True, capture_output=True)
        self.port = free_port()
        self.tls_port = free_port()
        self.proc = subprocess.Popen(
            [SLAPD, "-f", conf, "-d", "0",
             "-h", f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        for port in (self.port, self.tls_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.close()
                        raise RuntimeError("slapd did not start")
                    time.sleep(0.05)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
