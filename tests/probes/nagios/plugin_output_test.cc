// SPDX-License-Identifier: Apache-2.0
#include "nagios/plugin_output.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigie::probes {
namespace {

struct PerfCase {
  const char* input;
  const char* label;
  std::optional<double> value;
  const char* uom;
  std::optional<double> warning, critical, min, max;
};

// Names the generated tests after their input rather than its bytes.
void PrintTo(const PerfCase& c, std::ostream* os) { *os << c.input; }

class PerfdataTable : public ::testing::TestWithParam<PerfCase> {};

TEST_P(PerfdataTable, ParsesOneItem) {
  const PerfCase& c = GetParam();
  std::vector<std::string> problems;
  const auto items = parsePerfdata(c.input, problems);
  ASSERT_EQ(items.size(), 1u) << c.input;
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(items[0].label, c.label);
  EXPECT_EQ(items[0].value, c.value);
  EXPECT_EQ(items[0].uom, c.uom);
  EXPECT_EQ(items[0].warning, c.warning);
  EXPECT_EQ(items[0].critical, c.critical);
  EXPECT_EQ(items[0].min, c.min);
  EXPECT_EQ(items[0].max, c.max);
}

INSTANTIATE_TEST_SUITE_P(
    Guidelines, PerfdataTable,
    ::testing::Values(PerfCase{"time=0.25s;1;2;0;10", "time", 0.25, "s", 1, 2, 0, 10},
                      PerfCase{"load1=0.5", "load1", 0.5, "", {}, {}, {}, {}},
                      PerfCase{"'/ used'=91%;80;90;0;100", "/ used", 91, "%", 80, 90, 0, 100},
                      PerfCase{"'it''s'=5", "it's", 5, "", {}, {}, {}, {}},
                      PerfCase{"'a=b'=1", "a=b", 1, "", {}, {}, {}, {}},
                      PerfCase{"x=12.5MB;;;0", "x", 12.5, "MB", {}, {}, 0, {}},
                      PerfCase{"x=3c;;;;", "x", 3, "c", {}, {}, {}, {}},
                      PerfCase{"x=-4.5e2ms", "x", -450, "ms", {}, {}, {}, {}},
                      PerfCase{"x=+7", "x", 7, "", {}, {}, {}, {}},
                      PerfCase{"x=U;1;2", "x", std::nullopt, "", 1, 2, {}, {}},
                      PerfCase{"x=7;10:20;@5:6;~;", "x", 7, "", {}, {}, {}, {}},
                      PerfCase{"x=1;;5", "x", 1, "", {}, 5, {}, {}},
                      PerfCase{"  spaced=2  ", "spaced", 2, "", {}, {}, {}, {}}));

TEST(Perfdata, BadItemsAreReportedAndSkipped) {
  std::vector<std::string> problems;
  const auto items = parsePerfdata("novalue =5 x=abc 'unterminated=3 good=1", problems);
  // "'unterminated=3 good=1" is one unterminated quoted label: nothing after it is readable.
  ASSERT_EQ(items.size(), 0u);
  EXPECT_EQ(problems.size(), 4u);
  problems.clear();
  const auto some = parsePerfdata("novalue =5 x=abc good=1", problems);
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].label, "good");
  EXPECT_EQ(problems.size(), 3u);
}

TEST(Perfdata, DecimalCommaIsAProblemNotAValue) {
  std::vector<std::string> problems;
  const auto items = parsePerfdata("x=0,5", problems);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].value, 0.0);
  EXPECT_EQ(items[0].uom, ",5");
}

TEST(PluginOutput, FirstLineOnly) {
  const PluginOutput out = parsePluginOutput("TCP OK - 0.001 second response time|time=0.001s\n");
  EXPECT_EQ(out.text, "TCP OK - 0.001 second response time");
  EXPECT_TRUE(out.long_text.empty());
  ASSERT_EQ(out.perfdata.size(), 1u);
  EXPECT_EQ(out.perfdata[0].label, "time");
}

TEST(PluginOutput, LongTextAndPerfdataOnLaterLines) {
  const PluginOutput out =
      parsePluginOutput("DISK OK | a=1\nline 1\r\nline 2 | b=2;3\nc=4\n'd e'=5\n");
  EXPECT_EQ(out.text, "DISK OK");
  EXPECT_EQ(out.long_text, (std::vector<std::string>{"line 1", "line 2"}));
  ASSERT_EQ(out.perfdata.size(), 4u);
  EXPECT_EQ(out.perfdata[1].label, "b");
  EXPECT_EQ(out.perfdata[1].warning, 3.0);
  EXPECT_EQ(out.perfdata[3].label, "d e");
}

TEST(PluginOutput, PipeOnlyOnALaterLine) {
  const PluginOutput out = parsePluginOutput("OK\nmore\n| x=1\ny=2");
  EXPECT_EQ(out.text, "OK");
  EXPECT_EQ(out.long_text, (std::vector<std::string>{"more"}));
  EXPECT_EQ(out.perfdata.size(), 2u);
}

TEST(PluginOutput, EmptyAndGarbage) {
  EXPECT_EQ(parsePluginOutput("").text, "");
  const char raw[] =
      "CRIT \xff\xfe bad\x01"
      "bytes\0 here | x=\xff =5 good=3\n";
  const std::string garbage(raw, sizeof raw - 1);
  const PluginOutput out = parsePluginOutput(garbage);
  EXPECT_EQ(out.text, "CRIT \xEF\xBF\xBD\xEF\xBF\xBD bad bytes  here");
  ASSERT_EQ(out.perfdata.size(), 1u);
  EXPECT_EQ(out.perfdata[0].label, "good");
  EXPECT_EQ(out.problems.size(), 2u);
}

TEST(PluginOutput, HugeTextIsBounded) {
  const PluginOutput out = parsePluginOutput(std::string(1 << 20, 'x'));
  EXPECT_LE(out.text.size(), 4096u);
}

}  // namespace
}  // namespace vigie::probes
