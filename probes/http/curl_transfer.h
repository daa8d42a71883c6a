// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/tls_inspect.h"
#include "tls/tls_options.h"
#include "vigie/probe.h"

/// What the http and scenario types share around one libcurl transfer: the certificates seen
/// during the handshake, the failure reasons, and their TLS samples, so a check added here
/// (e.g. on certificate expiry) applies to both.
namespace vigie::probes {

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;
Slist makeSlist(const std::vector<std::string>& lines);

/// What the verify callback saw of the server's certificates. Filled during the handshake, so
/// it is known even when verification fails and curl tears the connection down.
struct TlsCapture {
  bool seen = false;
  std::string version;
  std::string verify_error;
  PeerCertificates peer;
  std::optional<double> verified_chain_expiry;

  /// Keeps the earliest expiries of both (a journey reports its weakest certificate).
  void merge(const TlsCapture& other);
};

/// Verification (unless `insecure`), CA and client certificate for transfers on `easy`, whose
/// handshakes are recorded into `capture` (which must outlive them).
void setTlsOptions(CURL* easy, const tls::Files& files, bool insecure, TlsCapture* capture);

/// The documented reason word for a failed transfer: dns, connect, timeout, tls_verify,
/// tls_handshake, redirect_limit, http_protocol.
std::string curlFailureReason(CURLcode code);
/// curl's error text for a failed transfer, with the verify error when curl's text lacks it.
std::string curlFailureMessage(CURLcode code, const char* error_buffer, const TlsCapture& tls);

/// probe_tls_version_info, probe_ssl_earliest_cert_expiry, probe_ssl_last_chain_expiry_... and
/// the certificate lines of `--probe`.
void describeTls(const TlsCapture& tls, std::vector<Sample>& samples,
                 std::vector<std::string>& details);

}  // namespace vigie::probes
