// The HTTP side end to end without Python: a Server on an ephemeral loopback port, an
// Application whose "workers" are plain threads, and a socket client. Under ThreadSanitizer this
// exercises the hand-offs between the I/O thread and worker threads.

#include "server/net/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

using namespace w2p::server;

namespace {

// Answers each request on its own thread; /stream sends several body parts.
class ThreadApp : public Application {
 public:
  ~ThreadApp() override {
    for (auto& t : threads_) t.join();
  }
  const AppStats& stats() const override { return stats_; }
  bool submit(std::shared_ptr<AppRequest> req, std::shared_ptr<ResponseSink> sink) override {
    std::lock_guard lock(mutex_);
    threads_.emplace_back([req, sink] {
      ResponseHead head;
      head.headers.push_back({"Content-Type", "text/plain"});
      if (req->path == "/stream") {
        if (!sink->start(head, "part0;", false)) return;
        for (int i = 1; i < 5; ++i)
          if (!sink->body("part" + std::to_string(i) + ";", false)) return;
        sink->body("", true);
      } else {
        sink->start(head, "path=" + req->path + " body=" + std::to_string(req->body.length), true);
      }
    });
    return true;
  }

 private:
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  AppStats stats_;
};

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen = {{"127.0.0.1", 0}};
    server_ = std::make_unique<Server>(options_);
    server_->set_application(&app_);
    port_ = server_->bound_ports().at(0);
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
    server_.reset();
  }
  std::string exchange(const std::string& request) {
    int fd = connect_to(port_);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string response = read_all(fd);
    ::close(fd);
    return response;
  }

  Options options_;
  ThreadApp app_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_F(ServerTest, ResponseFromAnotherThread) {
  std::string r = exchange("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("Content-Length: 18\r\n"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("path=/hello body=0")) << r;
}

TEST_F(ServerTest, StreamedPartsAreChunked) {
  std::string r = exchange("GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("6\r\npart0;\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("6\r\npart4;\r\n0\r\n\r\n"), std::string::npos) << r;
}

TEST_F(ServerTest, PipelinedRequestsFromManyConnections) {
  std::vector<std::thread> clients;
  std::mutex m;
  int ok = 0;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      std::string req;
      for (int i = 0; i < 10; ++i)
        req +=
            "POST /c" + std::to_string(c) + " HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
      req += "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
      std::string r = exchange(req);
      size_t count = 0, at = 0;
      while ((at = r.find("path=/c" + std::to_string(c) + " body=3", at)) != std::string::npos) {
        ++count;
        ++at;
      }
      std::lock_guard lock(m);
      if (count == 10 && r.ends_with("path=/last body=0")) ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 8);
}
