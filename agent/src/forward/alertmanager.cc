// SPDX-License-Identifier: Apache-2.0
#include "forward/alertmanager.h"

#include <algorithm>

namespace vigie {

namespace {

// The severity word is the event's (one table for every destination, docs/ALERTING.md); the
// reason is the one the alert fired with, so the label set stays the same until it resolves.
nlohmann::json alertmanagerAlert(const nlohmann::json& event, const std::string& severity,
                                 const std::string& ends_at) {
  nlohmann::json labels = event["labels"];
  labels["severity"] = severity;
  if (event.contains("check")) {
    labels["type"] = event["check"].value("kind", "");
    labels["reason"] = event["check"].value("alert_reason", "");
  }
  nlohmann::json alert{{"labels", labels},
                       {"annotations",
                        {{"summary", event.value("summary", "")},
                         {"description", event.value("description", "")},
                         {"event_id", event.value("event_id", "")}}},
                       {"endsAt", ends_at}};
  if (event.contains("starts_at")) {
    alert["startsAt"] = event["starts_at"];
  }
  if (event.contains("acknowledgement")) {
    // An annotation, not a silence: the alert stays visible, with who is on it.
    const auto& ack = event["acknowledgement"];
    alert["annotations"]["acknowledged_by"] = ack.value("author", "");
    alert["annotations"]["acknowledgement"] = ack.value("comment", "");
    alert["annotations"]["acknowledged_at"] = ack.value("at", "");
  }
  if (event.contains("runbook_url")) {
    alert["annotations"]["runbook_url"] = event["runbook_url"];
  }
  return alert;
}

std::string trimmedUrl(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url + "/api/v2/alerts";
}

class AlertmanagerDestination final : public Destination {
 public:
  AlertmanagerDestination(std::shared_ptr<const AlertmanagerTarget> target, std::string id,
                          std::string url, DestinationContext& context)
      : Destination(std::move(id), target, trimmedUrl(std::move(url))),
        alertmanager_(*target),
        agent_(context.agent),
        alerts_(context.alerts) {}

  std::optional<std::chrono::milliseconds> restateInterval() const override {
    return alertmanager_.resend_interval;
  }

  asio::awaitable<Classified> restate() override {
    // Named, not braced in the call: GCC 12 miscompiles an initializer list in a co_await.
    const std::vector<std::string> headers{"Content-Type: application/json"};
    const std::string body = resendBody();
    const HttpReply reply = co_await httpPost(target(), url(), body, headers);
    co_return classify(reply);
  }

 protected:
  Request request(const OutboxEvent& event) const override {
    const auto canonical = nlohmann::json::parse(event.payload);
    const std::string severity = canonical.value("severity", "critical");
    nlohmann::json alerts = nlohmann::json::array();
    if (event.action == "resolve" || event.action == "retire") {
      alerts.push_back(alertmanagerAlert(canonical, severity, canonical.value("ends_at", "")));
    } else {
      alerts.push_back(alertmanagerAlert(canonical, severity,
                                         rfc3339(std::chrono::system_clock::now() + lease())));
      if (canonical.contains("previous_severity") && canonical["previous_severity"] != severity) {
        // The severity is part of the label set: the old alert must end.
        alerts.push_back(alertmanagerAlert(canonical, canonical["previous_severity"],
                                           rfc3339(std::chrono::system_clock::now())));
      }
    }
    return {alerts.dump(), eventHeaders(event)};
  }

 private:
  /// How long an alert stays firing in Alertmanager without being told again.
  std::chrono::milliseconds lease() const {
    return 4 * std::max(alertmanager_.resend_interval, std::chrono::milliseconds(60'000));
  }

  std::string resendBody() {
    const auto now = std::chrono::system_clock::now();
    nlohmann::json alerts = nlohmann::json::array();
    nlohmann::json watchdog{
        {"labels", {{"alertname", "Watchdog"}, {"agent", agent_}, {"severity", "none"}}},
        {"annotations", {{"summary", "Vigie " + agent_ + " est en service"}}},
        {"endsAt", rfc3339(now + lease())}};
    alerts.push_back(watchdog);
    for (const auto& [key, event] : alerts_.firing) {
      alerts.push_back(alertmanagerAlert(toJson(event), event.severity, rfc3339(now + lease())));
    }
    const auto retention = alertmanager_.resolved_retention;
    for (auto it = alerts_.resolved.begin(); it != alerts_.resolved.end();) {
      if (std::chrono::steady_clock::now() - it->second.second > retention) {
        it = alerts_.resolved.erase(it);
        continue;
      }
      const Event& event = it->second.first;
      alerts.push_back(
          alertmanagerAlert(toJson(event), event.severity, rfc3339(event.ends_at.value_or(now))));
      ++it;
    }
    return alerts.dump();
  }

  const AlertmanagerTarget& alertmanager_;  ///< the base's target, typed
  std::string agent_;
  AlertMemory& alerts_;
};

}  // namespace

std::unique_ptr<Destination> makeAlertmanager(
    const std::shared_ptr<const DestinationTarget>& target, std::size_t index, std::string id,
    DestinationContext& context) {
  auto alertmanager = std::dynamic_pointer_cast<const AlertmanagerTarget>(target);
  std::string url = alertmanager->urls[index];
  return std::make_unique<AlertmanagerDestination>(std::move(alertmanager), std::move(id),
                                                   std::move(url), context);
}

}  // namespace vigie
