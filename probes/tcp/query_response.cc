// SPDX-License-Identifier: Apache-2.0
#include "tcp/query_response.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <asio/ip/address.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <stdexcept>
#include <type_traits>

#include "net/tls_inspect.h"
#include "util/no_throw.h"

namespace vigie::probes::query_response {
namespace {

using asio::ip::tcp;
/// What one expect reads at most before giving up, as the tcp type's plain `expect`.
constexpr std::size_t kMaxExpectBytes = 64 * 1024;

struct MatchDataFree {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

std::string pcre2Message(int error) {
  PCRE2_UCHAR text[256];
  pcre2_get_error_message(error, text, sizeof text);
  return reinterpret_cast<const char*>(text);
}

/// The state carried from step to step: bytes received but not yet consumed as lines, and the
/// groups of the last match for the sends that follow.
struct Conversation {
  std::string buffered;
  bool ended = false;
  asio::error_code end;
  const Pattern* last_pattern = nullptr;
  std::vector<std::string> groups;
  bool failed_due_to_regex = false;
  /// The certificates of a starttls upgrade, for the expiry check at the end.
  std::optional<PeerCertificates> upgraded;
};

/// The next line (without its "\n" or "\r\n"), or nothing once the connection ended.
template <typename Stream>
asio::awaitable<std::optional<std::string>> readLine(Stream& stream, Conversation& conversation,
                                                     std::size_t& budget) {
  for (;;) {
    const std::size_t newline = conversation.buffered.find('\n');
    if (newline != std::string::npos || conversation.buffered.size() >= budget ||
        (conversation.ended && !conversation.buffered.empty())) {
      const std::size_t length = std::min({newline, conversation.buffered.size(), budget});
      std::string line = conversation.buffered.substr(0, length);
      conversation.buffered.erase(0, std::min(conversation.buffered.size(), length + 1));
      budget -= std::min(budget, length + 1);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      co_return line;
    }
    if (conversation.ended || budget == 0) {
      co_return std::nullopt;
    }
    char chunk[4096];
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kNoThrow);
    conversation.buffered.append(chunk, n);
    if (ec) {
      conversation.ended = true;
      conversation.end = ec;
    }
  }
}

/// The TLS handshake of a starttls step over the plain socket, verified like `tls: true`: the
/// first verification error is kept and the handshake goes on, so the dates are reported.
asio::awaitable<std::optional<ProbeResult>> handshake(asio::ssl::stream<tcp::socket&>& stream,
                                                      const StartTls& tls,
                                                      Conversation& conversation,
                                                      std::vector<Sample>& samples,
                                                      std::vector<std::string>& details) {
  const std::string& name = tls.server_name;
  std::string verify_error;
  tls::prepareVerification(stream, name, tls.insecure_skip_verify, verify_error);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (ec) {
    co_return ProbeResult::critical("tls_handshake", "STARTTLS handshake failed: " + ec.message());
  }
  const PeerCertificates certificates =
      tls::recordHandshake(stream.native_handle(), "STARTTLS: ", samples, details);
  if (!verify_error.empty()) {
    co_return ProbeResult::critical(
        "tls_verify", "certificate does not verify for " + name + ": " + verify_error);
  }
  conversation.upgraded = certificates;
  co_return std::nullopt;
}

template <typename Stream>
asio::awaitable<std::optional<ProbeResult>> runFrom(Stream& stream, const std::vector<Step>& steps,
                                                    std::size_t first, const StartTls& tls,
                                                    ProbeContext& ctx, Conversation& conversation,
                                                    std::vector<Sample>& samples,
                                                    std::vector<std::string>& details) {
  for (std::size_t index = first; index < steps.size(); ++index) {
    const Step& step = steps[index];
    const std::string which = "step " + std::to_string(index + 1);
    if (step.expect) {
      ctx.phase = "expect";
      std::size_t budget = kMaxExpectBytes;
      bool matched = false;
      while (auto line = co_await readLine(stream, conversation, budget)) {
        if (auto groups = step.expect->match(*line)) {
          conversation.groups = std::move(*groups);
          conversation.last_pattern = &*step.expect;
          details.push_back(which + ": matched '" + line->substr(0, 200) + "'");
          matched = true;
          break;
        }
      }
      if (!matched) {
        conversation.failed_due_to_regex = true;
        co_return ProbeResult::critical(
            "expect", which + ": no line matches '" + step.expect->text() + "' " +
                          (conversation.ended
                               ? "before the connection ended (" + conversation.end.message() + ")"
                               : "in the first 64 KiB"));
      }
    }
    if (step.send) {
      ctx.phase = "send";
      const std::string line =
          expand(*step.send, conversation.last_pattern, conversation.groups) + "\n";
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(line), kNoThrow);
      if (ec) {
        co_return ProbeResult::critical("send", which + ": sending failed: " + ec.message());
      }
    }
    if (step.starttls) {
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        ctx.phase = "tls";
        // Plain text received before the upgrade is dropped: it must not pass for encrypted
        // answers (the STARTTLS command injection of RFC 3207's security notes).
        conversation.buffered.clear();
        asio::ssl::stream<tcp::socket&> secured(stream, *tls.context);
        if (auto failure = co_await handshake(secured, tls, conversation, samples, details)) {
          co_return failure;
        }
        co_return co_await runFrom(secured, steps, index + 1, tls, ctx, conversation, samples,
                                   details);
      } else {
        // parse() and the factory refuse it; kept as a result should a path slip through.
        co_return ProbeResult::critical("tls_handshake", which + ": the connection is TLS already");
      }
    }
  }
  if (conversation.upgraded) {
    co_return tls::checkExpiry(tls.expiry, *conversation.upgraded);
  }
  co_return std::nullopt;
}

}  // namespace

Pattern::Pattern(const std::string& text) : text_(text) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                                   &error, &offset, nullptr);
  if (code == nullptr) {
    throw std::invalid_argument("invalid regular expression at offset " + std::to_string(offset) +
                                ": " + pcre2Message(error));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_.reset(code, Free{});
}

std::optional<std::vector<std::string>> Pattern::match(const std::string& line) const {
  std::unique_ptr<pcre2_match_data, MatchDataFree> data(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr));
  const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(), 0,
                             0, data.get(), nullptr);
  if (rc < 0) {
    return std::nullopt;
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
  const std::uint32_t count = pcre2_get_ovector_count(data.get());
  std::vector<std::string> groups;
  for (std::uint32_t i = 0; i < count; ++i) {
    const PCRE2_SIZE start = ovector[2 * i];
    const PCRE2_SIZE end = ovector[2 * i + 1];
    groups.push_back(start == PCRE2_UNSET ? "" : line.substr(start, end - start));
  }
  return groups;
}

int Pattern::groupNumber(const std::string& name) const {
  const int number =
      pcre2_substring_number_from_name(code_.get(), reinterpret_cast<PCRE2_SPTR>(name.c_str()));
  return number > 0 ? number : -1;
}

std::string expand(const std::string& send, const Pattern* pattern,
                   const std::vector<std::string>& groups) {
  auto group = [&](const std::string& reference) -> std::string {
    int number = -1;
    if (!reference.empty() && std::all_of(reference.begin(), reference.end(),
                                          [](unsigned char c) { return std::isdigit(c) != 0; })) {
      number = reference.size() < 6 ? std::stoi(reference) : -1;
    } else if (pattern != nullptr) {
      number = pattern->groupNumber(reference);
    }
    // Like Go's Regexp.Expand (blackbox): an unknown group is empty.
    return number >= 0 && static_cast<std::size_t>(number) < groups.size() ? groups[number] : "";
  };
  auto isNameChar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  std::string out;
  for (std::size_t i = 0; i < send.size(); ++i) {
    if (send[i] != '$' || i + 1 == send.size()) {
      out += send[i];
      continue;
    }
    if (send[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (send[i + 1] == '{') {
      const std::size_t close = send.find('}', i + 2);
      if (close == std::string::npos) {
        out += send[i];
        continue;
      }
      out += group(send.substr(i + 2, close - i - 2));
      i = close;
    } else if (isNameChar(send[i + 1])) {
      std::size_t end = i + 1;
      while (end < send.size() && isNameChar(send[end])) {
        ++end;
      }
      out += group(send.substr(i + 1, end - i - 1));
      i = end - 1;
    } else {
      out += send[i];
    }
  }
  return out;
}

std::vector<Step> parse(const ConfigNode& node) {
  if (!node.isSequence() || node.size() == 0) {
    throw std::invalid_argument(
        "expected a list of steps, each with expect, send and/or starttls: true");
  }
  std::vector<Step> steps;
  for (std::size_t i = 0; i < node.items().size(); ++i) {
    const ConfigNode& item = node.items()[i];
    const std::string which = "step " + std::to_string(i + 1) + ": ";
    if (!item.isMap()) {
      throw std::invalid_argument(which + "expected a map with expect, send and/or starttls");
    }
    Step step;
    for (const auto& [key, value] : item.entries()) {
      if (!value.isScalar()) {
        throw std::invalid_argument(which + key + " must be a single value");
      }
      if (key == "expect") {
        try {
          step.expect.emplace(value.text());
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument(which + "expect: " + e.what());
        }
      } else if (key == "send") {
        step.send = value.text();
      } else if (key == "starttls") {
        if (value.text() != "true" && value.text() != "false") {
          throw std::invalid_argument(which + "starttls must be true or false");
        }
        step.starttls = value.text() == "true";
      } else {
        throw std::invalid_argument(which + "unknown key '" + key +
                                    "' (allowed: expect, send, starttls)");
      }
    }
    if (!step.expect && !step.send && !step.starttls) {
      throw std::invalid_argument(which + "needs expect, send or starttls: true");
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

const FamilyHandle& failedDueToRegex() {
  // The help is the http type's, word for word: a family is declared once under one help.
  static const FamilyHandle family =
      declareFamily("probe_failed_due_to_regex", "Indicates if probe failed due to regex");
  return family;
}

template <typename Stream>
asio::awaitable<std::optional<ProbeResult>> run(Stream& stream, const std::vector<Step>& steps,
                                                const StartTls& tls, ProbeContext& ctx,
                                                std::vector<Sample>& samples,
                                                std::vector<std::string>& details) {
  Conversation conversation;
  auto failure = co_await runFrom(stream, steps, 0, tls, ctx, conversation, samples, details);
  samples.push_back({failedDueToRegex(), conversation.failed_due_to_regex ? 1.0 : 0.0});
  co_return failure;
}

template asio::awaitable<std::optional<ProbeResult>> run<tcp::socket>(
    tcp::socket&, const std::vector<Step>&, const StartTls&, ProbeContext&, std::vector<Sample>&,
    std::vector<std::string>&);
template asio::awaitable<std::optional<ProbeResult>> run<asio::ssl::stream<tcp::socket>>(
    asio::ssl::stream<tcp::socket>&, const std::vector<Step>&, const StartTls&, ProbeContext&,
    std::vector<Sample>&, std::vector<std::string>&);

}  // namespace vigie::probes::query_response
