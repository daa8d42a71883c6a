// SPDX-License-Identifier: Apache-2.0
// The endpoint's local Unix socket (peer credentials, file mode, stale and foreign files) and its
// gzip answers, against a real HttpServer on its own loop and plain POSIX clients.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <system_error>
#include <thread>

#include "http/http_server.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

std::string gunzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - stream.avail_out);
  }
  inflateEnd(&stream);
  EXPECT_EQ(status, Z_STREAM_END);
  return out;
}

/// A body that compresses like /metrics does (repeated names, varying numbers).
std::string metricsLikeBody(std::size_t size) {
  std::mt19937 random(42);
  std::string body;
  while (body.size() < size) {
    body += "probe_success{probe=\"probe-" + std::to_string(random() % 10000) + "\",app=\"pia\"} " +
            std::to_string(random() % 2) + "\n";
  }
  return body;
}

/// Connects to a Unix socket; -1 and errno when refused.
int connectTo(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/// Sends one request and reads the whole answer (the server closes after it).
std::string sendAndRead(int fd, const std::string& request) {
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[65536];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

struct Answer {
  std::string head;
  std::string body;
};

Answer split(const std::string& answer) {
  const std::size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) {
    return {answer, ""};
  }
  return {answer.substr(0, end + 2), answer.substr(end + 4)};
}

class LocalSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io_.restart();
    dir_ = fs::temp_directory_path() /
           ("vigie-sock-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Others must be able to reach the socket's directory for the permission tests.
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    path_ = (dir_ / "vigie.sock").string();
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
    fs::remove_all(dir_);
  }

  /// A server whose handler says who asked, and answers /big?N with N bytes.
  void startServer() {
    server_ = std::make_unique<HttpServer>(io_, "127.0.0.1", 0, [](const HttpRequest& request) {
      if (request.target.rfind("/big?", 0) == 0) {
        return HttpResponse{
            200, "text/plain", metricsLikeBody(std::stoul(request.target.substr(5))), {}};
      }
      return HttpResponse{200,
                          "text/plain",
                          "user=" + request.user + " uid=" + std::to_string(request.peer_uid) +
                              " socket=" + std::to_string(request.via_socket) +
                              " operator=" + std::to_string(request.is_operator) +
                              " remote=" + request.remote + "\n",
                          {}};
    });
    server_->listenLocal(path_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  std::string get(const std::string& target, const std::string& extra_headers = "") {
    const int fd = connectTo(path_);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd < 0) {
      return "";
    }
    return sendAndRead(
        fd, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n");
  }

  fs::path dir_;
  std::string path_;
  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(LocalSocketTest, PeerCredentialsNameTheUser) {
  startServer();
  const passwd* me = getpwuid(getuid());
  ASSERT_NE(me, nullptr);
  const Answer answer = split(get("/who"));
  EXPECT_NE(answer.head.find("HTTP/1.1 200"), std::string::npos) << answer.head;
  EXPECT_EQ(answer.body, "user=" + std::string(me->pw_name) + " uid=" + std::to_string(getuid()) +
                             " socket=1 operator=1 remote=local socket\n");
}

TEST_F(LocalSocketTest, SocketIsMode0660) {
  startServer();
  struct stat info {};
  ASSERT_EQ(lstat(path_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 07777, 0660u);
  EXPECT_EQ(info.st_gid, getegid());
}

// The file mode is the authorisation: another user gets in only through the socket's group,
// and is then named by its own Unix user.
TEST_F(LocalSocketTest, OtherUsersNeedTheGroup) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to act as another user";
  }
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  startServer();
  // Runs `connect` as nobody (with `group` as its only group) in a child; its exit code says
  // 0 connected and answered as nobody, 1 refused with EACCES, 2 anything else.
  auto try_as_nobody = [&](gid_t group) {
    const pid_t child = fork();
    if (child == 0) {
      if (setgroups(0, nullptr) != 0 || setgid(group) != 0 || setuid(nobody->pw_uid) != 0) {
        _exit(2);
      }
      const int fd = connectTo(path_);
      if (fd < 0) {
        _exit(errno == EACCES ? 1 : 2);
      }
      const char request[] = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n";
      if (write(fd, request, sizeof request - 1) != sizeof request - 1) {
        _exit(2);
      }
      std::string answer;
      char buffer[4096];
      ssize_t n = 0;
      while ((n = read(fd, buffer, sizeof buffer)) > 0) {
        answer.append(buffer, static_cast<std::size_t>(n));
      }
      _exit(answer.find("user=nobody uid=" + std::to_string(nobody->pw_uid)) != std::string::npos
                ? 0
                : 2);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(try_as_nobody(nobody->pw_gid), 1) << "mode 0660 must refuse others";
  const gid_t group = getegid() == 0 ? 65534 : getegid();
  ASSERT_EQ(chown(path_.c_str(), 0, group), 0);
  EXPECT_EQ(try_as_nobody(group), 0) << "a member of the socket's group gets in as itself";
}

TEST_F(LocalSocketTest, StaleSocketIsReplaced) {
  // A socket file nobody listens on: what a killed agent leaves behind.
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    close(fd);
  }
  ASSERT_TRUE(fs::is_socket(path_));
  startServer();
  EXPECT_NE(get("/who").find("socket=1"), std::string::npos);
}

TEST_F(LocalSocketTest, RegularFileIsRefused) {
  std::ofstream(path_) << "not a socket\n";
  HttpServer server(io_, "127.0.0.1", 0, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_THROW(server.listenLocal(path_), std::system_error);
  std::ifstream kept(path_);
  std::string content;
  std::getline(kept, content);
  EXPECT_EQ(content, "not a socket");
}

TEST_F(LocalSocketTest, LiveSocketIsRefusedAndKept) {
  startServer();
  HttpServer second(io_, "127.0.0.1", 0, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_THROW(second.listenLocal(path_), std::system_error);
  EXPECT_NE(get("/who").find("socket=1"), std::string::npos) << "the first agent still answers";
}

TEST_F(LocalSocketTest, StopRemovesTheSocket) {
  startServer();
  ASSERT_TRUE(fs::exists(path_));
  // On the loop's thread, as the daemon stops it: the server is not thread-safe.
  std::promise<void> stopped;
  asio::post(io_, [&] {
    server_->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  EXPECT_FALSE(fs::exists(path_));
}

TEST(Gzip, AcceptEncoding) {
  EXPECT_TRUE(acceptsGzip("gzip"));
  EXPECT_TRUE(acceptsGzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(acceptsGzip("GZIP"));
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip("x-gzip"));
  EXPECT_FALSE(acceptsGzip(""));
  EXPECT_FALSE(acceptsGzip("identity"));
  EXPECT_FALSE(acceptsGzip("br, deflate"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(acceptsGzip("gzipped"));
}

TEST(Gzip, RoundTrip) {
  const std::string body = metricsLikeBody(100'000);
  const std::string compressed = gzipCompress(body, 1);
  EXPECT_LT(compressed.size(), body.size() / 3);
  EXPECT_EQ(gunzip(compressed), body);
}

TEST_F(LocalSocketTest, LargeAnswerIsGzippedWhenAccepted) {
  // 200 KB goes to the helper thread, 4 KB is compressed on the loop: both paths.
  startServer();
  for (const std::size_t size : {4'000u, 200'000u}) {
    const std::string target = "/big?" + std::to_string(size);
    const std::string expected = metricsLikeBody(size);
    const Answer zipped = split(get(target, "Accept-Encoding: gzip, deflate\r\n"));
    EXPECT_NE(zipped.head.find("Content-Encoding: gzip\r\n"), std::string::npos) << zipped.head;
    EXPECT_NE(zipped.head.find("Vary: Accept-Encoding\r\n"), std::string::npos);
    EXPECT_NE(zipped.head.find("Content-Length: " + std::to_string(zipped.body.size()) + "\r\n"),
              std::string::npos);
    EXPECT_EQ(gunzip(zipped.body), expected);

    const Answer plain = split(get(target));
    EXPECT_EQ(plain.head.find("Content-Encoding"), std::string::npos) << plain.head;
    EXPECT_NE(plain.head.find("Vary: Accept-Encoding\r\n"), std::string::npos);
    EXPECT_EQ(plain.body, expected);
  }
}

TEST_F(LocalSocketTest, SmallAnswerIsNotGzipped) {
  startServer();
  const Answer answer = split(get("/who", "Accept-Encoding: gzip\r\n"));
  EXPECT_EQ(answer.head.find("Content-Encoding"), std::string::npos) << answer.head;
  EXPECT_EQ(answer.head.find("Vary"), std::string::npos);
  EXPECT_NE(answer.body.find("socket=1"), std::string::npos);
}

}  // namespace
}  // namespace vigie
