// SPDX-License-Identifier: Apache-2.0
#include "ldap/ldap_probe.h"

#include <fcntl.h>
#include <lber.h>
#include <ldap.h>
#include <openldap.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>

#include "db_common/db_common.h"
#include "net/host_port.h"
#include "net/tls_inspect.h"
#include "tls/tls_options.h"
#include "util/no_throw.h"
#include "util/timing.h"

namespace vigie::probes {
namespace {

using asio::ip::tcp;

enum class Security { Plain, Ldaps, StartTls };

struct AttributeAssertion {
  std::string attribute;
  std::string pattern;
  std::regex regex;
};

struct Settings {
  HostPort target;
  std::string url;  ///< ldap://host:port, for libldap's bookkeeping
  Security security = Security::Plain;
  bool prefer_ip6 = true;
  bool fallback = true;
  bool insecure_skip_verify = false;
  std::string server_name;
  std::string bind_dn;   ///< empty: anonymous bind
  std::string password;  ///< never logged
  bool search = false;
  std::string search_base;
  int search_scope = LDAP_SCOPE_SUBTREE;
  std::string search_filter;
  std::int64_t entries_min = 1;
  std::vector<AttributeAssertion> assertions;
};

const FamilyHandle& durationFamily() {
  static const FamilyHandle family = declareFamily(
      "vigie_ldap_duration_seconds",
      "Duration of each phase of the LDAP probe (connect, tls, bind, search), in seconds");
  return family;
}
const FamilyHandle& entriesFamily() {
  static const FamilyHandle family =
      declareFamily("vigie_ldap_search_entries", "Entries returned by the LDAP search");
  return family;
}
const FamilyHandle& resultCodeFamily() {
  static const FamilyHandle family = declareFamily(
      "vigie_ldap_result_code", "LDAP result code of the bind and of the search (0: success)");
  return family;
}
const FamilyHandle& passwordExpiryFamily() {
  static const FamilyHandle family =
      declareFamily("vigie_ldap_password_expires_seconds",
                    "Seconds before the bind password expires, when the server's password "
                    "policy says so");
  return family;
}

// ---- the socket under libldap and OpenSSL ----------------------------------------------------
// Both write with write(2), which raises SIGPIPE (and kills the agent) when the server has gone
// away. Their socket layers are replaced by ones that send with MSG_NOSIGNAL.

int socketOf(void* pvt) { return static_cast<int>(reinterpret_cast<std::intptr_t>(pvt)); }

int socketLayerSetup(Sockbuf_IO_Desc* sbiod, void* fd) {
  sbiod->sbiod_pvt = reinterpret_cast<void*>(static_cast<std::intptr_t>(*static_cast<int*>(fd)));
  return 0;
}
int socketLayerCtrl(Sockbuf_IO_Desc*, int, void*) { return 0; }
ber_slen_t socketLayerRead(Sockbuf_IO_Desc* sbiod, void* buffer, ber_len_t length) {
  return ::recv(socketOf(sbiod->sbiod_pvt), buffer, length, 0);
}
ber_slen_t socketLayerWrite(Sockbuf_IO_Desc* sbiod, void* buffer, ber_len_t length) {
  return ::send(socketOf(sbiod->sbiod_pvt), buffer, length, MSG_NOSIGNAL);
}
int socketLayerClose(Sockbuf_IO_Desc* sbiod) { return ::close(socketOf(sbiod->sbiod_pvt)); }

Sockbuf_IO kSocketLayer = {socketLayerSetup, nullptr,          socketLayerCtrl,
                           socketLayerRead,  socketLayerWrite, socketLayerClose};

int socketBioWrite(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const auto n =
      ::send(socketOf(BIO_get_data(bio)), data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}
int socketBioRead(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  const auto n = ::recv(socketOf(BIO_get_data(bio)), data, static_cast<std::size_t>(length), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}
long socketBioCtrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

/// A BIO over a socket it does not own.
BIO* newSocketBio(int fd) {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "vigie socket");
    BIO_meth_set_write(made, socketBioWrite);
    BIO_meth_set_read(made, socketBioRead);
    BIO_meth_set_ctrl(made, socketBioCtrl);
    return made;
  }();
  BIO* bio = BIO_new(method);
  if (bio != nullptr) {
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    BIO_set_init(bio, 1);
  }
  return bio;
}

// ---- TLS under libldap --------------------------------------------------------------------
// libldap's own TLS handshake polls the socket until it ends, blocking the loop for a round trip
// or more. The handshake is done here instead, on the loop, and the session is then slid under
// libldap as a Sockbuf I/O layer (the way Samba and nginx's auth_ldap plug their own transport).

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

SSL* sessionOf(Sockbuf_IO_Desc* sbiod) { return static_cast<SSL*>(sbiod->sbiod_pvt); }

int tlsLayerSetup(Sockbuf_IO_Desc* sbiod, void* ssl) {
  sbiod->sbiod_pvt = ssl;
  return 0;
}
int tlsLayerRemove(Sockbuf_IO_Desc* sbiod) {
  sbiod->sbiod_pvt = nullptr;
  return 0;
}
int tlsLayerCtrl(Sockbuf_IO_Desc* sbiod, int option, void* arg) {
  // Records already decrypted do not make the socket readable again: say so, or libldap's poll
  // would wait for bytes that already arrived.
  if (option == LBER_SB_OPT_DATA_READY && SSL_pending(sessionOf(sbiod)) > 0) {
    return 1;
  }
  return LBER_SBIOD_CTRL_NEXT(sbiod, option, arg);
}
ber_slen_t tlsLayerResult(SSL* ssl, int n) {
  if (n > 0) {
    return n;
  }
  switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EWOULDBLOCK;  // libldap keeps the request and looks again once woken
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default:
      errno = ECONNRESET;
      return -1;
  }
}
ber_slen_t tlsLayerRead(Sockbuf_IO_Desc* sbiod, void* buffer, ber_len_t length) {
  SSL* ssl = sessionOf(sbiod);
  ERR_clear_error();
  return tlsLayerResult(ssl, SSL_read(ssl, buffer, static_cast<int>(length)));
}
ber_slen_t tlsLayerWrite(Sockbuf_IO_Desc* sbiod, void* buffer, ber_len_t length) {
  SSL* ssl = sessionOf(sbiod);
  ERR_clear_error();
  return tlsLayerResult(ssl, SSL_write(ssl, buffer, static_cast<int>(length)));
}
int tlsLayerClose(Sockbuf_IO_Desc*) { return 0; }  // the TCP layer below closes the socket

Sockbuf_IO kTlsLayer = {tlsLayerSetup, tlsLayerRemove, tlsLayerCtrl,
                        tlsLayerRead,  tlsLayerWrite,  tlsLayerClose};

std::string opensslError() {
  const unsigned long code = ERR_get_error();
  if (code == 0) {
    return "connection closed";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// ---- the LDAP session -----------------------------------------------------------------------

struct MessageFree {
  void operator()(LDAPMessage* message) const { ldap_msgfree(message); }
};
using MessagePtr = std::unique_ptr<LDAPMessage, MessageFree>;

struct ControlFree {
  void operator()(LDAPControl* control) const { ldap_control_free(control); }
};

/// libldap's handle over a socket connected by the loop; it owns and closes the socket.
class Session {
 public:
  Session() = default;
  ~Session() {
    if (ld_ == nullptr) {
      return;
    }
    if (polite_) {
      ldap_unbind_ext(ld_, nullptr, nullptr);
    } else {
      ldap_destroy(ld_);  // no unbind into a half-made TLS session
    }
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Takes `fd`; nothing on failure (the caller still owns it then).
  bool open(int fd, const std::string& url) {
    if (ldap_init_fd(fd, LDAP_PROTO_TCP, url.c_str(), &ld_) != LDAP_SUCCESS) {
      ld_ = nullptr;
      return false;
    }
    Sockbuf* sockbuf = nullptr;
    ldap_get_option(ld_, LDAP_OPT_SOCKBUF, &sockbuf);
    if (sockbuf == nullptr ||
        ber_sockbuf_remove_io(sockbuf, &ber_sockbuf_io_tcp, LBER_SBIOD_LEVEL_PROVIDER) != 0 ||
        ber_sockbuf_add_io(sockbuf, &kSocketLayer, LBER_SBIOD_LEVEL_PROVIDER, &fd) != 0) {
      ldap_destroy(ld_);  // the socket stays the caller's: no layer closes it
      ld_ = nullptr;
      return false;
    }
    const int version = LDAP_VERSION3;
    ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    fd_ = fd;
    return true;
  }

  LDAP* get() const { return ld_; }
  int fd() const { return fd_; }
  /// Once the conversation is in a state where an unbind can be sent.
  void setPolite(bool polite) { polite_ = polite; }

  int errorCode() const {
    int code = LDAP_OTHER;
    ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &code);
    return code;
  }

 private:
  LDAP* ld_ = nullptr;
  int fd_ = -1;
  bool polite_ = true;
};

/// The reply to `msgid` (one message with LDAP_MSG_ONE), read without blocking: libldap is
/// polled with a zero timeout and the loop waits for the socket in between.
asio::awaitable<std::pair<int, MessagePtr>> awaitResult(Session& session, db::SocketWaiter& waiter,
                                                        int msgid) {
  for (;;) {
    timeval zero{0, 0};
    LDAPMessage* message = nullptr;
    const int type = ldap_result(session.get(), msgid, LDAP_MSG_ONE, &zero, &message);
    if (type != 0) {
      co_return std::pair<int, MessagePtr>{type, MessagePtr(message)};
    }
    if (asio::error_code ec = co_await waiter.wait(session.fd(), true, false)) {
      co_return std::pair<int, MessagePtr>{-1, nullptr};
    }
  }
}

struct Parsed {
  int code = LDAP_OTHER;
  std::string diagnostic;
  LDAPControl** controls = nullptr;

  Parsed() = default;
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;
  ~Parsed() { ldap_controls_free(controls); }
};

void parse(Session& session, LDAPMessage* message, Parsed& out) {
  char* diagnostic = nullptr;
  if (ldap_parse_result(session.get(), message, &out.code, nullptr, &diagnostic, nullptr,
                        &out.controls, 0) != LDAP_SUCCESS) {
    out.code = session.errorCode();
  }
  if (diagnostic != nullptr) {
    out.diagnostic = diagnostic;
    ldap_memfree(diagnostic);
  }
}

std::string describe(int code, const std::string& diagnostic) {
  std::string text = ldap_err2string(code) + std::string(" (") + std::to_string(code) + ")";
  if (!diagnostic.empty()) {
    text += ": " + diagnostic;
  }
  return text;
}

bool contains(const std::string& text, std::string_view word) {
  return text.find(word) != std::string::npos;
}

/// What a failed bind means for the operator: the password policy control (OpenLDAP's ppolicy,
/// 389-ds), Netscape's expired-password control, or Active Directory's "data NNN" sub-codes.
std::string bindReason(int code, const std::string& diagnostic, int policy_error,
                       bool netscape_expired) {
  if (policy_error == PP_passwordExpired || policy_error == PP_changeAfterReset ||
      netscape_expired || contains(diagnostic, "data 532") || contains(diagnostic, "data 773")) {
    return "password_expired";
  }
  if (policy_error == PP_accountLocked || contains(diagnostic, "data 775") ||
      contains(diagnostic, "data 533")) {
    return "account_locked";
  }
  if (code == LDAP_INVALID_CREDENTIALS) {
    return "invalid_credentials";
  }
  if (code == LDAP_SERVER_DOWN || code == LDAP_CONNECT_ERROR) {
    return "server_down";
  }
  return "bind";
}

class LdapProbe final : public Probe {
 public:
  LdapProbe(Settings settings, std::shared_ptr<asio::ssl::context> tls_context)
      : settings_(std::move(settings)), tls_context_(std::move(tls_context)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;

 private:
  Settings settings_;
  std::shared_ptr<asio::ssl::context> tls_context_;
};

asio::awaitable<ProbeResult> LdapProbe::run(ProbeContext& ctx) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<Sample> samples;
  std::vector<std::string> details;
  auto fail = [&](std::string reason, std::string message) {
    ProbeResult result = ProbeResult::critical(std::move(reason), std::move(message));
    result.samples = std::move(samples);
    result.details = std::move(details);
    return result;
  };
  auto phaseDone = [&](const char* phase, std::chrono::steady_clock::time_point since) {
    const double seconds = secondsSince(since);
    samples.push_back({durationFamily(), seconds, {{"phase", phase}}});
    return seconds;
  };

  ctx.phase = "resolve";
  std::vector<tcp::endpoint> endpoints;
  asio::error_code literal_ec;
  const auto literal = asio::ip::make_address(settings_.target.host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, settings_.target.port);
  } else {
    tcp::resolver resolver(ctx.executor);
    auto [ec, results] = co_await resolver.async_resolve(
        settings_.target.host, std::to_string(settings_.target.port), kNoThrow);
    if (ec) {
      co_return fail("dns", "cannot resolve " + settings_.target.host + ": " + ec.message());
    }
    std::vector<tcp::endpoint> other;
    for (const auto& entry : results) {
      (entry.endpoint().address().is_v6() == settings_.prefer_ip6 ? endpoints : other)
          .push_back(entry.endpoint());
    }
    if (endpoints.empty() && settings_.fallback) {
      endpoints = std::move(other);
    }
    if (endpoints.empty()) {
      co_return fail("dns", "no " + std::string(settings_.prefer_ip6 ? "IPv6" : "IPv4") +
                                " address for " + settings_.target.host +
                                " (ip_protocol_fallback is off)");
    }
  }
  samples.push_back({families::dnsLookupTime(), secondsSince(started)});

  ctx.phase = "connect";
  auto phase_started = std::chrono::steady_clock::now();
  tcp::socket socket(ctx.executor);
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, kNoThrow);
  const std::string where =
      endpoint.address().is_v6()
          ? "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port())
          : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  if (connect_ec) {
    co_return fail("connect", "connect to " + settings_.target.host + ":" +
                                  std::to_string(settings_.target.port) +
                                  " failed: " + connect_ec.message());
  }
  samples.push_back({families::ipProtocol(), endpoint.address().is_v6() ? 6.0 : 4.0});
  details.push_back("connected to " + where + " in " +
                    milliseconds(phaseDone("connect", phase_started)));

  // Declared in this order so they go in reverse: the loop lets go of the socket, libldap sends
  // its unbind (through TLS when there is TLS) and closes the socket, then the TLS session goes.
  SslPtr ssl;
  Session session;
  {
    asio::error_code release_ec;
    const int fd = socket.release(release_ec);
    if (release_ec) {
      co_return fail("connect", "cannot take over the socket: " + release_ec.message());
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (!session.open(fd, settings_.url)) {
      ::close(fd);
      co_return fail("connect", "libldap refused the connection to " + where);
    }
  }
  db::SocketWaiter waiter(ctx.executor);

  if (settings_.security == Security::StartTls) {
    ctx.phase = "starttls";
    phase_started = std::chrono::steady_clock::now();
    int msgid = 0;
    const int rc = ldap_extended_operation(session.get(), LDAP_EXOP_START_TLS, nullptr, nullptr,
                                           nullptr, &msgid);
    if (rc != LDAP_SUCCESS) {
      co_return fail("server_down", "cannot send StartTLS to " + where + ": " + describe(rc, ""));
    }
    auto [type, message] = co_await awaitResult(session, waiter, msgid);
    if (type < 0) {
      const int code = session.errorCode();
      co_return fail(code == LDAP_SERVER_DOWN ? "server_down" : "timeout",
                     "no answer to StartTLS from " + where + ": " + describe(code, ""));
    }
    Parsed parsed;
    parse(session, message.get(), parsed);
    if (parsed.code != LDAP_SUCCESS) {
      co_return fail("starttls", "StartTLS refused by " + where + ": " +
                                     describe(parsed.code, parsed.diagnostic));
    }
  }

  if (settings_.security != Security::Plain) {
    ctx.phase = "tls";
    if (settings_.security == Security::Ldaps) {
      phase_started = std::chrono::steady_clock::now();
    }
    session.setPolite(false);
    ssl.reset(SSL_new(tls_context_->native_handle()));
    BIO* bio = ssl ? newSocketBio(session.fd()) : nullptr;
    if (bio == nullptr) {
      co_return fail("tls_handshake", "cannot set up TLS: " + opensslError());
    }
    SSL_set_bio(ssl.get(), bio, bio);
    const std::string& name = settings_.server_name;
    asio::error_code name_ec;
    asio::ip::make_address(name, name_ec);
    if (!name_ec) {  // an IP address: verified against the certificate's IP SANs, no SNI
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl.get(), name.c_str());
      SSL_set1_host(ssl.get(), name.c_str());
    }
    // Verified, but the handshake goes to its end either way, so the certificate's dates are
    // reported even when it does not verify; the verdict is read afterwards.
    SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_connect(ssl.get());
      if (rc == 1) {
        break;
      }
      const int error = SSL_get_error(ssl.get(), rc);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        co_return fail("tls_handshake",
                       "TLS handshake with " + where + " failed: " + opensslError());
      }
      if (asio::error_code ec = co_await waiter.wait(session.fd(), error == SSL_ERROR_WANT_READ,
                                                     error == SSL_ERROR_WANT_WRITE)) {
        co_return fail("timeout", "TLS handshake with " + where + ": " + ec.message());
      }
    }
    const PeerCertificates certificates = inspectPeerCertificates(ssl.get());
    const std::string version = tlsVersionName(ssl.get());
    samples.push_back({families::tlsVersionInfo(), 1.0, {{"version", version}}});
    if (certificates.earliest_expiry) {
      samples.push_back({families::sslEarliestCertExpiry(), *certificates.earliest_expiry});
    }
    details.push_back(version + " handshake done in " +
                      milliseconds(phaseDone("tls", phase_started)));
    for (const std::string& description : certificates.descriptions) {
      details.push_back("certificate: " + description);
    }
    Sockbuf* sockbuf = nullptr;
    ldap_get_option(session.get(), LDAP_OPT_SOCKBUF, &sockbuf);
    if (sockbuf == nullptr ||
        ber_sockbuf_add_io(sockbuf, &kTlsLayer, LBER_SBIOD_LEVEL_TRANSPORT, ssl.get()) != 0) {
      co_return fail("tls_handshake", "cannot hand the TLS session to libldap");
    }
    session.setPolite(true);
    const long verdict = SSL_get_verify_result(ssl.get());
    if (verdict != X509_V_OK && !settings_.insecure_skip_verify) {
      co_return fail("tls_verify", "certificate of " + where + " does not verify for " + name +
                                       ": " + X509_verify_cert_error_string(verdict));
    }
  }

  ctx.phase = "bind";
  phase_started = std::chrono::steady_clock::now();
  {
    LDAPControl* policy_request = nullptr;
    ldap_create_passwordpolicy_control(session.get(), &policy_request);
    std::unique_ptr<LDAPControl, ControlFree> policy_owner(policy_request);
    LDAPControl* request_controls[] = {policy_request, nullptr};
    berval credentials{static_cast<ber_len_t>(settings_.password.size()),
                       const_cast<char*>(settings_.password.data())};
    int msgid = 0;
    const int rc = ldap_sasl_bind(
        session.get(), settings_.bind_dn.empty() ? "" : settings_.bind_dn.c_str(), LDAP_SASL_SIMPLE,
        &credentials, policy_request != nullptr ? request_controls : nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS) {
      co_return fail(bindReason(rc, "", -1, false),
                     "cannot send the bind to " + where + ": " + describe(rc, ""));
    }
    auto [type, message] = co_await awaitResult(session, waiter, msgid);
    if (type < 0) {
      const int code = session.errorCode();
      co_return fail(code == LDAP_SERVER_DOWN ? "server_down" : "timeout",
                     "no answer to the bind from " + where + ": " + describe(code, ""));
    }
    Parsed parsed;
    parse(session, message.get(), parsed);
    samples.push_back(
        {resultCodeFamily(), static_cast<double>(parsed.code), {{"operation", "bind"}}});
    int policy_error = -1;
    if (LDAPControl* control =
            ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, parsed.controls, nullptr)) {
      ber_int_t expires = -1;
      ber_int_t grace = -1;
      LDAPPasswordPolicyError error = PP_noError;
      if (ldap_parse_passwordpolicy_control(session.get(), control, &expires, &grace, &error) ==
          LDAP_SUCCESS) {
        policy_error = error == PP_noError ? -1 : static_cast<int>(error);
        if (expires >= 0) {
          samples.push_back({passwordExpiryFamily(), static_cast<double>(expires)});
          details.push_back("password expires in " + std::to_string(expires) + "s");
        }
        if (grace >= 0) {
          details.push_back("password expired, " + std::to_string(grace) + " grace logins left");
        }
      }
    }
    const bool netscape_expired =
        ldap_control_find(LDAP_CONTROL_X_PASSWORD_EXPIRED, parsed.controls, nullptr) != nullptr;
    const std::string who = settings_.bind_dn.empty() ? "anonymous" : settings_.bind_dn;
    if (parsed.code != LDAP_SUCCESS || policy_error >= 0 || netscape_expired) {
      std::string text = describe(parsed.code, parsed.diagnostic);
      if (policy_error >= 0) {
        text += " [password policy: " +
                std::string(ldap_passwordpolicy_err2txt(
                    static_cast<LDAPPasswordPolicyError>(policy_error))) +
                "]";
      }
      const std::string reason =
          bindReason(parsed.code, parsed.diagnostic, policy_error, netscape_expired);
      // A successful bind that must change its password at once is still a problem to report.
      if (parsed.code != LDAP_SUCCESS || reason != "bind") {
        co_return fail(reason, "bind as " + who + " on " + where + " failed: " + text);
      }
    }
    details.push_back("bound as " + who + " in " + milliseconds(phaseDone("bind", phase_started)));
  }

  if (settings_.search) {
    ctx.phase = "search";
    phase_started = std::chrono::steady_clock::now();
    // Only the asserted attributes come back; "1.1" asks for none (RFC 4511 4.5.1.8).
    std::vector<char*> attributes;
    static char kNoAttributes[] = "1.1";
    for (const AttributeAssertion& assertion : settings_.assertions) {
      attributes.push_back(const_cast<char*>(assertion.attribute.c_str()));
    }
    if (attributes.empty()) {
      attributes.push_back(kNoAttributes);
    }
    attributes.push_back(nullptr);
    int msgid = 0;
    const int rc =
        ldap_search_ext(session.get(), settings_.search_base.c_str(), settings_.search_scope,
                        settings_.search_filter.c_str(), attributes.data(), 0, nullptr, nullptr,
                        nullptr, LDAP_NO_LIMIT, &msgid);
    if (rc != LDAP_SUCCESS) {
      co_return fail(rc == LDAP_SERVER_DOWN ? "server_down" : "search",
                     "cannot send the search to " + where + ": " + describe(rc, ""));
    }
    std::int64_t entries = 0;
    std::vector<bool> matched(settings_.assertions.size(), false);
    for (;;) {
      auto [type, message] = co_await awaitResult(session, waiter, msgid);
      if (type < 0) {
        const int code = session.errorCode();
        co_return fail(code == LDAP_SERVER_DOWN ? "server_down" : "timeout",
                       "no answer to the search from " + where + ": " + describe(code, ""));
      }
      if (type == LDAP_RES_SEARCH_ENTRY) {
        ++entries;
        for (std::size_t i = 0; i < settings_.assertions.size(); ++i) {
          if (matched[i]) {
            continue;
          }
          berval** values = ldap_get_values_len(session.get(), message.get(),
                                                settings_.assertions[i].attribute.c_str());
          for (berval** value = values; value != nullptr && *value != nullptr; ++value) {
            if (std::regex_search(std::string((*value)->bv_val, (*value)->bv_len),
                                  settings_.assertions[i].regex)) {
              matched[i] = true;
              break;
            }
          }
          ber_bvecfree(values);
        }
        continue;
      }
      if (type != LDAP_RES_SEARCH_RESULT) {
        continue;  // references are not followed
      }
      Parsed parsed;
      parse(session, message.get(), parsed);
      samples.push_back(
          {resultCodeFamily(), static_cast<double>(parsed.code), {{"operation", "search"}}});
      samples.push_back({entriesFamily(), static_cast<double>(entries)});
      // A size limit still returned entries to count.
      if (parsed.code != LDAP_SUCCESS && parsed.code != LDAP_SIZELIMIT_EXCEEDED) {
        co_return fail(
            parsed.code == LDAP_BUSY || parsed.code == LDAP_UNAVAILABLE ? "server_down" : "search",
            "search of '" + settings_.search_base + "' on " + where +
                " failed: " + describe(parsed.code, parsed.diagnostic));
      }
      break;
    }
    details.push_back("search returned " + std::to_string(entries) + " entries in " +
                      milliseconds(phaseDone("search", phase_started)));
    if (entries < settings_.entries_min) {
      co_return fail("expectation", "search of '" + settings_.search_base + "' returned " +
                                        std::to_string(entries) + " entries, expected at least " +
                                        std::to_string(settings_.entries_min));
    }
    for (std::size_t i = 0; i < settings_.assertions.size(); ++i) {
      if (!matched[i]) {
        co_return fail("expectation", "no value of " + settings_.assertions[i].attribute +
                                          " matches '" + settings_.assertions[i].pattern +
                                          "' in the entries returned");
      }
    }
  }

  ProbeResult ok =
      ProbeResult::ok("LDAP on " + where + " answered in " + milliseconds(secondsSince(started)));
  ok.samples = std::move(samples);
  ok.details = std::move(details);
  co_return ok;
}

/// "ldap://host[:port]" or "ldaps://host[:port]", IPv6 literals in brackets, nothing after.
std::optional<std::pair<Security, HostPort>> parseUrl(const std::string& url) {
  Security security = Security::Plain;
  std::string rest;
  std::string default_port;
  if (url.rfind("ldap://", 0) == 0) {
    rest = url.substr(7);
    default_port = "389";
  } else if (url.rfind("ldaps://", 0) == 0) {
    security = Security::Ldaps;
    rest = url.substr(8);
    default_port = "636";
  } else {
    return std::nullopt;
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.pop_back();
  }
  const bool has_port = rest.rfind(':') != std::string::npos &&
                        (rest.front() != '[' || rest.rfind(':') > rest.rfind(']'));
  const auto target = parseHostPort(has_port ? rest : rest + ":" + default_port);
  if (!target || target->host.empty()) {
    return std::nullopt;
  }
  return std::pair{security, *target};
}

class LdapProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "ldap"; }

  const Families& families() const override {
    static const Families declared{families::dnsLookupTime(),  families::ipProtocol(),
                                   families::tlsVersionInfo(), families::sslEarliestCertExpiry(),
                                   durationFamily(),           entriesFamily(),
                                   resultCodeFamily(),         passwordExpiryFamily()};
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"url", FieldType::String, true, {}, "ldap://HOST[:PORT] or ldaps://HOST[:PORT]"},
          {"starttls", FieldType::Bool, false, "false",
           "Upgrade an ldap:// connection with StartTLS before binding"},
          {"ip_protocol",
           FieldType::String,
           false,
           "ip6",
           "Preferred address family when the host has both",
           {"ip4", "ip6"}},
          {"ip_protocol_fallback", FieldType::Bool, false, "true",
           "Use the other family when the preferred one has no address"},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle to verify the server with (default: the system's)";
      keys.cert_doc = "Client certificate (PEM)";
      keys.key_doc = "Client key (PEM)";
      tls::appendFileKeys(fields, keys);
      fields.push_back({"tls_server_name",
                        FieldType::String,
                        false,
                        {},
                        "Name sent as SNI and verified (default: the URL's host)"});
      fields.push_back(tls::insecureKey(keys));
      fields.push_back({"bind_dn",
                        FieldType::String,
                        false,
                        {},
                        "DN to bind as (simple bind); anonymous bind when absent"});
      fields.push_back(
          {"password", FieldType::Secret, false, {}, "Password of bind_dn; or password_file"});
      fields.push_back(
          {"search_base", FieldType::String, false, {}, "Base DN of a search run after the bind"});
      fields.push_back({"search_scope",
                        FieldType::String,
                        false,
                        "sub",
                        "Scope of the search",
                        {"base", "one", "sub"}});
      fields.push_back(
          {"search_filter", FieldType::String, false, "(objectClass=*)", "Filter (RFC 4515)"});
      fields.push_back({"expect_entries_min", FieldType::Int, false, "1",
                        "Fewest entries the search must return"});
      fields.push_back({"expect_attributes",
                        FieldType::StringMap,
                        false,
                        {},
                        "Attribute to regular expression (ECMAScript): some value of each "
                        "attribute, in some returned entry, must match"});
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    const std::string url = config.getString("url");
    const auto parsed = parseUrl(url);
    if (!parsed) {
      config.fail("url", "expected ldap://HOST[:PORT] or ldaps://HOST[:PORT], got '" + url + "'");
    }
    settings.security = parsed->first;
    settings.target = parsed->second;
    settings.url = "ldap://" + url.substr(url.find("://") + 3);
    if (config.getBool("starttls")) {
      if (settings.security == Security::Ldaps) {
        config.fail("starttls", "ldaps:// is TLS already; StartTLS goes with ldap://");
      }
      settings.security = Security::StartTls;
    }
    settings.prefer_ip6 = config.getString("ip_protocol") == "ip6";
    settings.fallback = config.getBool("ip_protocol_fallback");
    settings.insecure_skip_verify = config.getBool("tls_insecure_skip_verify");
    settings.server_name =
        config.has("tls_server_name") ? config.getString("tls_server_name") : settings.target.host;
    const bool tls = settings.security != Security::Plain;
    if (!tls) {
      tls::refuseKeys(config, {"tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"},
                      "only meaningful with ldaps:// or starttls: true");
    }
    if (config.has("bind_dn") != config.has("password")) {
      config.fail(config.has("bind_dn") ? "password" : "bind_dn",
                  "bind_dn and password go together (neither: anonymous bind)");
    }
    if (config.has("bind_dn")) {
      settings.bind_dn = config.getString("bind_dn");
      settings.password = config.getString("password");
    }
    settings.search = config.has("search_base");
    if (!settings.search) {
      // search_scope, search_filter and expect_entries_min have defaults: only the map is told.
      tls::refuseKeys(config, {"expect_attributes"}, "only meaningful with search_base");
    } else {
      settings.search_base = config.getString("search_base");
      const std::string scope = config.getString("search_scope");
      settings.search_scope = scope == "base"  ? LDAP_SCOPE_BASE
                              : scope == "one" ? LDAP_SCOPE_ONELEVEL
                                               : LDAP_SCOPE_SUBTREE;
      settings.search_filter = config.getString("search_filter");
      settings.entries_min = config.getInt("expect_entries_min");
      if (settings.entries_min < 0) {
        config.fail("expect_entries_min", "must be 0 or more");
      }
      if (config.has("expect_attributes")) {
        for (const auto& [attribute, pattern] : config.getStringMap("expect_attributes")) {
          try {
            settings.assertions.push_back(
                {attribute, pattern, std::regex(pattern, std::regex::ECMAScript)});
          } catch (const std::regex_error& e) {
            config.fail("expect_attributes",
                        attribute + ": invalid regular expression: " + e.what());
          }
        }
      }
    }
    const tls::Files files = tls::parseFiles(config);
    if (tls && settings.insecure_skip_verify) {
      tls::warnInsecure(config, "tls_insecure_skip_verify", "any certificate is accepted");
    }
    std::shared_ptr<asio::ssl::context> context;
    if (tls) {
      context = tls::makeClientContext(config, files);
    }
    return std::make_unique<LdapProbe>(std::move(settings), std::move(context));
  }
};

}  // namespace

ProbeFactoryPtr makeLdapProbeFactory() { return std::make_unique<LdapProbeFactory>(); }

}  // namespace vigie::probes
