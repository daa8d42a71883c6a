// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/destination.h"

namespace vigie {

/// Alertmanager's API v2 (POST /api/v2/alerts): each event as an alert with a lease, and every
/// resend_interval all firing alerts, the recently resolved ones and a Watchdog alert (its
/// liveness: no heartbeats).
std::unique_ptr<Destination> makeAlertmanager(
    const std::shared_ptr<const DestinationTarget>& target, std::size_t index, std::string id,
    DestinationContext& context);

}  // namespace vigie
