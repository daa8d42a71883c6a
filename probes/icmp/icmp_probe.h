// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: icmp. Sends echo requests (IPv4 or IPv6) and counts the replies, with an unprivileged
/// ICMP datagram socket when net.ipv4.ping_group_range lets the agent's group open one, a raw
/// socket (CAP_NET_RAW) otherwise. Failure reasons: dns, socket, send, unreachable, loss.
ProbeFactoryPtr makeIcmpProbeFactory();

}  // namespace vigie::probes
