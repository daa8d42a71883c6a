// SPDX-License-Identifier: Apache-2.0
// Inputs from files and targets stay bounded: files, JSON depth, log lines, identifiers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "util/bounded_file.h"
#include "util/identifiers.h"
#include "util/json_depth.h"
#include "util/log.h"
#include "util/utf8.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

class BoundedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigie-bounded-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(BoundedFileTest, RegularFileIsReadWhole) {
  std::ofstream(dir_ / "secret") << "s3cret\n";
  std::string error;
  EXPECT_EQ(readRegularFile((dir_ / "secret").string(), 64, error), "s3cret\n");
  EXPECT_EQ(error, "");
}

TEST_F(BoundedFileTest, SpecialFilesAreRefusedWithoutBlocking) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string error;
  // A blocking open would wait here for a writer forever.
  EXPECT_FALSE(readRegularFile(fifo, kMaxSecretFileBytes, error));
  EXPECT_EQ(error, "cannot read " + fifo + ": a FIFO, expected a regular file");
  EXPECT_FALSE(readRegularFile("/dev/zero", kMaxSecretFileBytes, error));
  EXPECT_EQ(error, "cannot read /dev/zero: a device, expected a regular file");
  EXPECT_FALSE(readRegularFile(dir_.string(), kMaxSecretFileBytes, error));
  EXPECT_EQ(error, "cannot read " + dir_.string() + ": a directory, expected a regular file");
  EXPECT_FALSE(readRegularFile((dir_ / "absent").string(), kMaxSecretFileBytes, error));
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

TEST_F(BoundedFileTest, FileAboveTheCapIsRefusedUnread) {
  std::ofstream(dir_ / "big") << std::string(101, 'x');
  std::string error;
  EXPECT_FALSE(readRegularFile((dir_ / "big").string(), 100, error));
  EXPECT_NE(error.find("101 bytes, more than the limit of 100"), std::string::npos) << error;
  EXPECT_TRUE(readRegularFile((dir_ / "big").string(), 101, error));
}

TEST(JsonDepth, DeepNestingIsFoundInOneScan) {
  const std::string deep =
      "{\"status\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(jsonNestedDeeperThan(deep));
  EXPECT_FALSE(jsonNestedDeeperThan(R"({"a": [[{"b": [1, 2]}]], "c": "[[[[{{{{"})", 5));
  EXPECT_TRUE(jsonNestedDeeperThan(R"({"a": [[{"b": [1, 2]}]]})", 4));
  // Brackets inside strings, escaped quotes included, do not count.
  EXPECT_FALSE(jsonNestedDeeperThan(R"(["\"[[[[[[", "\\", [1]])", 2));
  EXPECT_FALSE(
      jsonNestedDeeperThan(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_TRUE(jsonNestedDeeperThan(std::string(kMaxJsonDepth + 1, '[')));
}

TEST(CutText, CutsAtACharacterBoundaryWithAMarker) {
  EXPECT_EQ(cutText("short", 10), "short");
  EXPECT_EQ(cutText("abcdefgh", 4), "abcd\xE2\x80\xA6 [cut, 4 bytes]");
  // "é" is two bytes: a cut in its middle backs off to its start.
  EXPECT_EQ(cutText("ab\xC3\xA9"
                    "cd",
                    3),
            "ab\xE2\x80\xA6 [cut, 4 bytes]");
}

TEST(EscapeText, ControlCharactersAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(escapeText("plain text", 100), "plain text");
  EXPECT_EQ(escapeText("a\nb\r\tc\x1b[31m\x7f", 100), "a\\nb\\r\\tc\\x1b[31m\\x7f");
  EXPECT_EQ(escapeText("caf\xC3\xA9 \xFF\xC3", 100), "caf\xC3\xA9 \\xff\\xc3");
  EXPECT_EQ(escapeText(std::string(20, 'x') + "\n", 10),
            std::string(10, 'x') + "\xE2\x80\xA6 [cut, 11 bytes]");
}

TEST(Log, HugeAndMultilineMessagesStayOneBoundedLine) {
  testing::internal::CaptureStderr();
  logWarning("answer: " + std::string(5 * 1024 * 1024, 'x') + "\nforged: line");
  const std::string written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 1) << written.substr(0, 200);
  EXPECT_LT(written.size(), kMaxLogMessageBytes + 200);
  EXPECT_NE(written.find("\xE2\x80\xA6 [cut, "), std::string::npos);
}

TEST(Identifiers, LongNamesAreRefusedWithoutRecursion) {
  EXPECT_TRUE(isProbeName("front.page-1_a"));
  EXPECT_FALSE(isProbeName("Front"));
  EXPECT_TRUE(isProbeName(std::string(kMaxIdentifierBytes, 'a')));
  EXPECT_FALSE(isProbeName(std::string(kMaxIdentifierBytes + 1, 'a')));
  EXPECT_FALSE(isProbeName(std::string(1000000, 'a')));
  EXPECT_TRUE(isLabelName("_Env2"));
  EXPECT_FALSE(isLabelName("2env"));
  EXPECT_TRUE(isMetricName("probe:ok_total"));
  EXPECT_FALSE(isMetricName("probe-ok"));
  EXPECT_TRUE(isWord("tls_verify"));
  EXPECT_FALSE(isWord("TLS"));
}

}  // namespace
}  // namespace vigie
