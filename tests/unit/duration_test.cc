// SPDX-License-Identifier: Apache-2.0
#include "util/duration.h"

#include <gtest/gtest.h>

#include "util/timing.h"

namespace vigie {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesPrometheusStyle) {
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(parseDuration("1m30s"), milliseconds(90'000));
  EXPECT_EQ(parseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(parseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(parseDuration("1m500ms"), milliseconds(60'500));
}

TEST(Duration, RejectsMissingUnitsAndGarbage) {
  for (const char* bad :
       {"", "30", "s", "1.5s", "-1s", "10 s", "1x", "5seconds", "99999999999999999999s"}) {
    EXPECT_FALSE(parseDuration(bad)) << bad;
  }
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(formatDuration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
}

TEST(Duration, MeasuredSecondsPrintAsMillisecondsWithOneDecimal) {
  EXPECT_EQ(vigie::milliseconds(0), "0.0ms");
  EXPECT_EQ(vigie::milliseconds(0.00126), "1.3ms");
  EXPECT_EQ(vigie::milliseconds(1.5), "1500.0ms");
  EXPECT_EQ(vigie::milliseconds(12.34567), "12345.7ms");
}

}  // namespace
}  // namespace vigie
