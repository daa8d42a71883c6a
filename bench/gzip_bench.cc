// SPDX-License-Identifier: Apache-2.0
// What gzip costs the endpoint: each FILE (a saved /metrics, a status page) compressed at zlib
// levels 1 to 6 with the server's own gzipCompress; prints size, ratio and the median time of
// 9 runs. Usage: gzip_bench FILE...  (bench/gzip_bench.py saves a 10,000-probe /metrics and
// a 2 MB page, then runs this.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "http/http_server.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream file(argv[i], std::ios::binary);
    std::stringstream content;
    content << file.rdbuf();
    const std::string body = content.str();
    std::printf("%s: %zu bytes\n", argv[i], body.size());
    for (int level = 1; level <= 6; ++level) {
      std::vector<double> times;
      std::size_t size = 0;
      for (int run = 0; run < 9; ++run) {
        const auto start = std::chrono::steady_clock::now();
        size = vigie::gzipCompress(body, level).size();
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
      }
      std::sort(times.begin(), times.end());
      std::printf("  level %d: %9zu bytes (%5.1f %%)  %7.1f ms\n", level, size,
                  100.0 * static_cast<double>(size) / static_cast<double>(body.size()), times[4]);
    }
  }
  return 0;
}
