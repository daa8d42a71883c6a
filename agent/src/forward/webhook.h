// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/destination.h"

namespace vigie {

/// POSTs the canonical event as is, signed when hmac_secret is set; the only destination that
/// takes heartbeats.
std::unique_ptr<Destination> makeWebhook(const std::shared_ptr<const DestinationTarget>& target,
                                         std::size_t index, std::string id,
                                         DestinationContext& context);

}  // namespace vigie
