// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: scenario. A user journey: HTTP(S) steps run in order with one cookie jar and one
/// deadline, each checked and able to extract variables for the next ones; a form step submits
/// a form of the previous page (an IdP login, a SAML POST-binding form). Failure reasons: those
/// of the http type, plus form_not_found and extraction; the message names the failing step.
ProbeFactoryPtr makeScenarioProbeFactory();

}  // namespace vigie::probes
