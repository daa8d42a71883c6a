// SPDX-License-Identifier: Apache-2.0
#include "test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace vigie::test {
namespace {

template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, std::integral_constant<decltype(Free), Free>>;
using KeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using CertPtr = Owned<X509, X509_free>;

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test PKI: ") + what + " failed");
  }
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

template <typename Write>
void writePem(const std::string& path, Write write) {
  FILE* file = std::fopen(path.c_str(), "w");
  check(file != nullptr, "open PEM file");
  const bool ok = write(file);
  std::fclose(file);
  check(ok, "write PEM");
}

}  // namespace

std::string makeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "vigie-test-XXXXXX").string();
  check(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  return pattern;
}

CertificateFiles makeCertificate(const std::string& directory, const std::string& base_name,
                                 const CertificateRequest& request,
                                 const CertificateFiles* issuer) {
  KeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key generation");
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(request.valid_from.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.valid_until.count()));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);

  KeyPtr issuer_key;
  CertPtr issuer_cert;
  if (issuer != nullptr) {
    FILE* file = std::fopen(issuer->key.c_str(), "r");
    issuer_key.reset(PEM_read_PrivateKey(file, nullptr, nullptr, nullptr));
    std::fclose(file);
    file = std::fopen(issuer->cert.c_str(), "r");
    issuer_cert.reset(PEM_read_X509(file, nullptr, nullptr, nullptr));
    std::fclose(file);
    check(issuer_key && issuer_cert, "read issuer");
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* signer_cert = issuer_cert ? issuer_cert.get() : cert.get();
  addExtension(cert.get(), signer_cert, NID_basic_constraints,
               request.is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (request.is_ca) {
    addExtension(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  std::string san;
  auto add_name = [&san](const char* kind, const std::string& value) {
    if (!san.empty()) {
      san += ',';
    }
    san.append(kind).append(value);
  };
  for (const std::string& dns : request.dns_names) {
    add_name("DNS:", dns);
  }
  for (const std::string& ip : request.ip_addresses) {
    add_name("IP:", ip);
  }
  if (!san.empty()) {
    addExtension(cert.get(), signer_cert, NID_subject_alt_name, san);
  }
  check(X509_sign(cert.get(), issuer_key ? issuer_key.get() : key.get(), EVP_sha256()) > 0, "sign");

  CertificateFiles files;
  files.cert = directory + "/" + base_name + ".crt";
  files.key = directory + "/" + base_name + ".key";
  files.not_after_unix = static_cast<double>(std::time(nullptr) +
                                             static_cast<std::time_t>(request.valid_until.count()));
  writePem(files.cert, [&](FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
  writePem(files.key, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  return files;
}

}  // namespace vigie::test
