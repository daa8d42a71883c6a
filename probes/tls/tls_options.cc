// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_options.h"

#include "util/log.h"

namespace vigie::probes::tls {

void appendFileKeys(ConfigSchema& schema, const KeySpec& spec) {
  schema.push_back({"tls_ca_file", FieldType::String, false, {}, spec.ca_doc});
  schema.push_back({"tls_cert_file", FieldType::String, false, {}, spec.cert_doc});
  schema.push_back({"tls_key_file", FieldType::String, false, {}, spec.key_doc});
}

FieldSpec insecureKey(const KeySpec& spec) {
  return {spec.insecure_key, FieldType::Bool, false, "false", spec.insecure_doc};
}

void appendSchema(ConfigSchema& schema, const KeySpec& spec) {
  appendFileKeys(schema, spec);
  if (!spec.insecure_key.empty()) {
    schema.push_back(insecureKey(spec));
  }
}

Files parseFiles(const ProbeConfig& config) {
  if (config.has("tls_cert_file") != config.has("tls_key_file")) {
    config.fail(config.has("tls_cert_file") ? "tls_key_file" : "tls_cert_file",
                "tls_cert_file and tls_key_file go together");
  }
  Files files;
  for (auto [key, out] :
       {std::pair{"tls_ca_file", &files.ca_file}, std::pair{"tls_cert_file", &files.cert_file},
        std::pair{"tls_key_file", &files.key_file}}) {
    if (config.has(key)) {
      *out = config.getString(key);
    }
  }
  return files;
}

void refuseKeys(const ProbeConfig& config, std::initializer_list<const char*> keys,
                const std::string& message) {
  for (const char* key : keys) {
    if (config.has(key)) {
      config.fail(key, message);
    }
  }
}

void warnInsecure(const ProbeConfig& config, const std::string& key, const std::string& accepted) {
  logLine(LogLevel::Warning, config.probeName(),
          key + " is on: " + accepted + ", the server is not authenticated");
}

}  // namespace vigie::probes::tls
