// SPDX-License-Identifier: Apache-2.0
#include "http/curl_transfer.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <new>

#include "vigie/metric_family.h"

namespace vigie::probes {
namespace {

int tlsCaptureIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int onVerify(int preverified, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* capture =
      ssl == nullptr
          ? nullptr
          : static_cast<TlsCapture*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlsCaptureIndex()));
  if (capture != nullptr) {
    if (preverified == 0 && capture->verify_error.empty()) {
      capture->verify_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    }
    if (X509_STORE_CTX_get_error_depth(store) == 0) {
      capture->seen = true;
      capture->version = tlsVersionName(ssl);
      capture->peer = inspectCertificates(X509_STORE_CTX_get0_untrusted(store));
      capture->verified_chain_expiry =
          inspectCertificates(X509_STORE_CTX_get0_chain(store)).earliest_expiry;
    }
  }
  // Never abort the handshake here: curl checks the verify result afterwards (and fails the
  // transfer unless insecure_skip_verify), by which time the chain is recorded.
  return 1;
}

CURLcode onSslContext(CURL*, void* ssl_ctx, void* capture) {
  auto* context = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(context, tlsCaptureIndex(), capture);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, &onVerify);
  return CURLE_OK;
}

std::optional<double> earliest(std::optional<double> a, std::optional<double> b) {
  if (a && b) {
    return std::min(*a, *b);
  }
  return a ? a : b;
}

}  // namespace

Slist makeSlist(const std::vector<std::string>& lines) {
  Slist list;
  for (const std::string& line : lines) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) {
      throw std::bad_alloc();
    }
    (void)list.release();
    list.reset(grown);
  }
  return list;
}

void TlsCapture::merge(const TlsCapture& other) {
  if (!other.seen) {
    return;
  }
  if (!seen) {
    *this = other;
    return;
  }
  if (verify_error.empty()) {
    verify_error = other.verify_error;
  }
  if (other.peer.earliest_expiry &&
      (!peer.earliest_expiry || *other.peer.earliest_expiry < *peer.earliest_expiry)) {
    peer.earliest_subject = other.peer.earliest_subject;
  }
  peer.earliest_expiry = earliest(peer.earliest_expiry, other.peer.earliest_expiry);
  for (const std::string& description : other.peer.descriptions) {
    if (std::find(peer.descriptions.begin(), peer.descriptions.end(), description) ==
        peer.descriptions.end()) {
      peer.descriptions.push_back(description);
    }
  }
  verified_chain_expiry = earliest(verified_chain_expiry, other.verified_chain_expiry);
}

void setTlsOptions(CURL* easy, const tls::Files& files, bool insecure, TlsCapture* capture) {
  // Resumed sessions skip certificate verification, and with it the certificate data.
  curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &onSslContext);
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, capture);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
  if (!files.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, files.ca_file.c_str());
  }
  if (!files.cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, files.cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEY, files.key_file.c_str());
  }
}

std::string curlFailureReason(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "dns";
    case CURLE_COULDNT_CONNECT:
      return "connect";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_PEER_FAILED_VERIFICATION:
      return "tls_verify";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return "tls_handshake";
    case CURLE_TOO_MANY_REDIRECTS:
      return "redirect_limit";
    default:
      return "http_protocol";
  }
}

std::string curlFailureMessage(CURLcode code, const char* error_buffer, const TlsCapture& tls) {
  std::string message =
      error_buffer != nullptr && error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  if (code == CURLE_PEER_FAILED_VERIFICATION && !tls.verify_error.empty() &&
      message.find(tls.verify_error) == std::string::npos) {
    message += " (" + tls.verify_error + ")";
  }
  return message;
}

void describeTls(const TlsCapture& tls, std::vector<Sample>& samples,
                 std::vector<std::string>& details) {
  if (!tls.seen) {
    return;
  }
  samples.push_back({families::tlsVersionInfo(), 1, {{"version", tls.version}}});
  if (tls.peer.earliest_expiry) {
    samples.push_back({families::sslEarliestCertExpiry(), *tls.peer.earliest_expiry});
  }
  if (tls.verify_error.empty() && tls.verified_chain_expiry) {
    samples.push_back({families::sslLastChainExpiry(), *tls.verified_chain_expiry});
  }
  details.push_back(tls.version + (tls.verify_error.empty()
                                       ? std::string(", certificate verified")
                                       : ", certificate does not verify: " + tls.verify_error));
  for (const std::string& description : tls.peer.descriptions) {
    details.push_back("certificate: " + description);
  }
}

}  // namespace vigie::probes
