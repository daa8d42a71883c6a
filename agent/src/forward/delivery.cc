// SPDX-License-Identifier: Apache-2.0
#include "forward/delivery.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <memory>

#include "net/curl_multi.h"

namespace vigie {

namespace {

// "HTTP 503: <the body's first line>", bounded: what a receiver says about its refusal.
std::string statusDetail(const HttpReply& reply) {
  std::string detail = "HTTP " + std::to_string(reply.status);
  std::string said = reply.body.substr(0, 200);
  for (char& c : said) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  said.erase(0, said.find_first_not_of(' '));
  said.erase(said.find_last_not_of(' ') + 1);
  if (!said.empty()) {
    detail.append(": ").append(said);
  }
  return detail;
}

Classified classified(Outcome outcome, const char* reason, std::string detail) {
  Classified result;
  result.outcome = outcome;
  result.reason = reason;
  result.detail = std::move(detail);
  return result;
}

}  // namespace

Classified classify(const HttpReply& reply) {
  if (reply.curl_code != CURLE_OK) {
    std::string detail =
        reply.error.empty()
            ? std::string(curl_easy_strerror(static_cast<CURLcode>(reply.curl_code)))
            : reply.error;
    return classified(Outcome::Retryable,
                      reply.curl_code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network",
                      std::move(detail));
  }
  if (reply.status >= 200 && reply.status < 300) {
    return classified(Outcome::Delivered, "", "");
  }
  const char* reason = "http_4xx";
  Outcome outcome = Outcome::Permanent;
  if (reply.status == 401 || reply.status == 403) {
    outcome = Outcome::Auth;
    reason = "auth";
  } else if (reply.status == 429) {
    outcome = Outcome::Retryable;
    reason = "http_429";
  } else if (reply.status >= 500) {
    outcome = Outcome::Retryable;
    reason = "http_5xx";
  } else if (reply.status == 408) {
    outcome = Outcome::Retryable;
    reason = "timeout";
  }
  return classified(outcome, reason, statusDetail(reply));
}

std::string redactedUrl(const std::string& url) {
  const auto scheme = url.find("://");
  const auto start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) {
    return url;
  }
  return url.substr(0, start) + url.substr(at + 1);
}

std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds fullJitterBackoff(int failures, std::chrono::milliseconds base,
                                            std::chrono::milliseconds cap, double uniform01) {
  const double ceiling =
      std::min(static_cast<double>(cap.count()),
               static_cast<double>(base.count()) * std::pow(2.0, std::min(failures, 62)));
  return std::chrono::milliseconds(static_cast<std::int64_t>(ceiling * uniform01));
}

std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value,
                                                    std::chrono::system_clock::time_point now) {
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    return std::chrono::seconds(std::max<std::int64_t>(seconds, 0));
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) {
    return std::nullopt;
  }
  const auto delta = std::chrono::system_clock::from_time_t(when) - now;
  return std::max(std::chrono::duration_cast<std::chrono::seconds>(delta), std::chrono::seconds(0));
}

std::string hmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0x0f];
  }
  return hex;
}

namespace {

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* reply) {
  auto* target = static_cast<HttpReply*>(reply);
  // Only the start of a body is kept: enough for an error message, bounded against a huge reply.
  if (target->body.size() < 64 * 1024) {
    target->body.append(data, std::min<std::size_t>(size * count, 64 * 1024));
  }
  return size * count;
}

struct HeaderCapture {
  HttpReply* reply;
};

std::size_t readHeader(char* data, std::size_t size, std::size_t count, void* capture) {
  std::string line(data, size * count);
  auto* reply = static_cast<HeaderCapture*>(capture)->reply;
  const std::string name = "retry-after:";
  if (line.size() > name.size()) {
    std::string head = line.substr(0, name.size());
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (head == name) {
      std::string value = line.substr(name.size());
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t\r\n") + 1);
      reply->retry_after = parseRetryAfter(value, std::chrono::system_clock::now());
    }
  }
  return size * count;
}

}  // namespace

asio::awaitable<HttpReply> httpPost(const HttpTarget& target, const std::string& url,
                                    const std::string& body,
                                    const std::vector<std::string>& headers) {
  HttpReply reply;
  HeaderCapture capture{&reply};
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<curl_slist, ListDeleter> list;
  for (const std::string& header : headers) {
    curl_slist* appended = curl_slist_append(list.get(), header.c_str());
    if (appended == nullptr) {
      reply.curl_code = CURLE_OUT_OF_MEMORY;
      co_return reply;
    }
    list.release();
    list.reset(appended);
  }
  CURL* handle = easy.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &readHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &capture);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(target.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, target.tls_verify ? 1L : 0L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, target.tls_verify ? 2L : 0L);
  if (!target.tls_ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, target.tls_ca_file.c_str());
  }
  if (!target.username.empty()) {
    curl_easy_setopt(handle, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(handle, CURLOPT_USERNAME, target.username.c_str());
    curl_easy_setopt(handle, CURLOPT_PASSWORD, target.password.c_str());
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  const auto executor = co_await asio::this_coro::executor;
  reply.curl_code = co_await CurlMulti::of(executor).perform(handle, asio::use_awaitable);
  reply.error = error;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &reply.status);
  co_return reply;
}

}  // namespace vigie
