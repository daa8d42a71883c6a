// SPDX-License-Identifier: Apache-2.0
// The destination types and their registration by type name: adding one is a new file with
// its Destination subclass and maker, and one line here (docs/STYLE.md).
#include <array>

#include "forward/alertmanager.h"
#include "forward/destination.h"
#include "forward/itop.h"
#include "forward/webhook.h"

namespace vigie {

namespace {

constexpr std::array<std::pair<std::string_view, DestinationMaker>, 3> kDestinationTypes{{
    {"webhook", makeWebhook},
    {"alertmanager", makeAlertmanager},
    {"itop", makeItop},
}};

}  // namespace

DestinationMaker findDestinationType(std::string_view type) {
  for (const auto& [name, maker] : kDestinationTypes) {
    if (name == type) {
      return maker;
    }
  }
  return nullptr;
}

std::vector<std::string> eventHeaders(const OutboxEvent& event) {
  return {"Content-Type: application/json", "Idempotency-Key: " + event.event_id,
          "User-Agent: vigie-agent"};
}

asio::awaitable<Attempt> Destination::deliver(const OutboxEvent& event) {
  const Request post = request(event);
  const HttpReply reply = co_await httpPost(*target_, url_, post.body, post.headers);
  Attempt attempt;
  attempt.result = classify(reply);
  if (attempt.result.outcome != Outcome::Delivered) {
    attempt.retry_after = reply.retry_after;
  }
  co_return attempt;
}

asio::awaitable<Classified> Destination::restate() {
  co_return Classified{Outcome::Delivered, "", ""};
}

asio::awaitable<std::vector<std::string>> Destination::checkReferences(
    std::string& /*unreachable*/) {
  co_return std::vector<std::string>{};
}

std::string Destination::loggedUrl() const { return redactedUrl(url_); }

Destination::Request Destination::request(const OutboxEvent& event) const {
  return {event.payload, eventHeaders(event)};
}

}  // namespace vigie
