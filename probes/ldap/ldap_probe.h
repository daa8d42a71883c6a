// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: ldap. Connects to an LDAP server (ldap://, ldaps:// or StartTLS), binds (simple with a
/// password, or anonymous) and optionally searches, all on the event loop with OpenLDAP's
/// asynchronous calls. Failure reasons: dns, connect, tls_handshake, tls_verify, starttls,
/// invalid_credentials, password_expired, account_locked, bind, search, expectation,
/// server_down, timeout.
ProbeFactoryPtr makeLdapProbeFactory();

}  // namespace vigie::probes
