// SPDX-License-Identifier: Apache-2.0
#include "forward/webhook.h"

namespace vigie {

namespace {

class WebhookDestination final : public Destination {
 public:
  WebhookDestination(std::shared_ptr<const WebhookTarget> target, std::string id, std::string url)
      : Destination(std::move(id), target, std::move(url)), webhook_(*target) {}

  bool wantsHeartbeat() const override { return true; }

 protected:
  Request request(const OutboxEvent& event) const override {
    Request post{event.payload, eventHeaders(event)};
    if (!webhook_.hmac_secret.empty()) {
      post.headers.push_back("X-Vigie-Signature: sha256=" +
                             hmacSha256Hex(webhook_.hmac_secret, post.body));
    }
    return post;
  }

 private:
  const WebhookTarget& webhook_;  ///< the base's target, typed
};

}  // namespace

std::unique_ptr<Destination> makeWebhook(const std::shared_ptr<const DestinationTarget>& target,
                                         std::size_t index, std::string id,
                                         DestinationContext& /*context*/) {
  auto webhook = std::dynamic_pointer_cast<const WebhookTarget>(target);
  std::string url = webhook->urls[index];
  return std::make_unique<WebhookDestination>(std::move(webhook), std::move(id), std::move(url));
}

}  // namespace vigie
