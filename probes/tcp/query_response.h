// SPDX-License-Identifier: Apache-2.0
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tls/tls_options.h"
#include "vigie/config_node.h"
#include "vigie/probe.h"

/// The tcp type's blackbox-style query_response: a list of steps, each expecting a line that
/// matches a PCRE2 pattern, sending a line (with ${1} or ${name} from the last match), or
/// upgrading the connection with TLS (STARTTLS of SMTP, IMAP, POP3...).
namespace vigie::probes::query_response {

/// A compiled PCRE2 pattern with its capture groups.
class Pattern {
 public:
  /// Throws std::invalid_argument with PCRE2's message.
  explicit Pattern(const std::string& text);
  /// The groups of the first match in `line` (0: the whole match); nothing without a match.
  std::optional<std::vector<std::string>> match(const std::string& line) const;
  /// The group number of a named group, or -1.
  int groupNumber(const std::string& name) const;
  const std::string& text() const { return text_; }

 private:
  struct Free {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  std::string text_;
  std::shared_ptr<pcre2_code> code_;
};

struct Step {
  std::optional<Pattern> expect;
  std::optional<std::string> send;
  bool starttls = false;
};

/// Reads the query_response list; throws std::invalid_argument naming the faulty step.
std::vector<Step> parse(const ConfigNode& node);

/// `send` with $1, ${1}, $name, ${name} replaced by the groups of the last match ($$: a '$').
std::string expand(const std::string& send, const Pattern* pattern,
                   const std::vector<std::string>& groups);

/// What a starttls step needs: the TLS client context, the name to verify and the expiry
/// thresholds, checked once the conversation has passed (as after `tls: true`).
struct StartTls {
  std::shared_ptr<asio::ssl::context> context;
  std::string server_name;
  bool insecure_skip_verify = false;
  tls::ExpiryThresholds expiry;
};

/// The families the steps report besides the tcp type's own.
const FamilyHandle& failedDueToRegex();

/// Runs `steps` on an established connection; nothing when all went well, otherwise a CRITICAL
/// result (reasons expect, send, tls_handshake, tls_verify). Adds probe_failed_due_to_regex and,
/// after a starttls step, the certificate samples and details.
template <typename Stream>
asio::awaitable<std::optional<ProbeResult>> run(Stream& stream, const std::vector<Step>& steps,
                                                const StartTls& tls, ProbeContext& ctx,
                                                std::vector<Sample>& samples,
                                                std::vector<std::string>& details);

extern template asio::awaitable<std::optional<ProbeResult>> run<asio::ip::tcp::socket>(
    asio::ip::tcp::socket&, const std::vector<Step>&, const StartTls&, ProbeContext&,
    std::vector<Sample>&, std::vector<std::string>&);
extern template asio::awaitable<std::optional<ProbeResult>>
run<asio::ssl::stream<asio::ip::tcp::socket>>(asio::ssl::stream<asio::ip::tcp::socket>&,
                                              const std::vector<Step>&, const StartTls&,
                                              ProbeContext&, std::vector<Sample>&,
                                              std::vector<std::string>&);

}  // namespace vigie::probes::query_response
