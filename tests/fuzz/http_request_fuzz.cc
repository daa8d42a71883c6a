// SPDX-License-Identifier: Apache-2.0
// The endpoint's request head parser and basic-auth decoding on any bytes a client may send.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  vigie::HttpRequest request;
  std::size_t content_length = 0;
  const int status = vigie::parseRequestHead(input, request, content_length);
  const bool known =
      status == 0 || status == 400 || status == 413 || status == 501 || status == 505;
  // An accepted request has an origin-form target and a body the server is willing to read.
  if (!known || (status == 0 && (request.target.empty() || request.target[0] != '/' ||
                                 content_length > 64 * 1024))) {
    std::abort();
  }
  if (status == 0) {
    (void)vigie::parseBasicCredentials(request.authorization);
  }
  (void)vigie::parseBasicCredentials(input);
  return 0;
}
