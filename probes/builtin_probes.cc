// SPDX-License-Identifier: Apache-2.0
// The probe types compiled into the agent. Adding one: a folder under probes/ and a line here.
#include "dns/dns_probe.h"
#include "http/http_probe.h"
#include "icmp/icmp_probe.h"
#include "ldap/ldap_probe.h"
#include "mysql/mysql_probe.h"
#include "nagios/nagios_probe.h"
#include "odbc/odbc_probe.h"
#include "postgres/postgres_probe.h"
#include "scenario/scenario_probe.h"
#include "tcp/tcp_probe.h"
#include "vigie/registry.h"

namespace vigie {

void registerBuiltinProbes(ProbeRegistry& registry) {
  registry.add(probes::makeDnsProbeFactory());
  registry.add(probes::makeHttpProbeFactory());
  registry.add(probes::makeIcmpProbeFactory());
  registry.add(probes::makeLdapProbeFactory());
  registry.add(probes::makeMysqlProbeFactory());
  registry.add(probes::makeNagiosProbeFactory());
  registry.add(probes::makeOdbcProbeFactory());
  registry.add(probes::makePostgresProbeFactory());
  registry.add(probes::makeScenarioProbeFactory());
  registry.add(probes::makeTcpProbeFactory());
}

}  // namespace vigie
