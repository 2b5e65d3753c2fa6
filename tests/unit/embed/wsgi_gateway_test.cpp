#include "embed/wsgi_gateway.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "embed/app_loader.hpp"
#include "embed_test_env.hpp"
#include "fake_sink.hpp"

using namespace w2p;
using test::FakeSink;
namespace py = pybind11;

namespace {

std::shared_ptr<server::AppRequest> make_request(std::string method = "GET",
                                                 std::string target = "/path%20x?q=1") {
  auto r = std::make_shared<server::AppRequest>();
  r->method = std::move(method);
  r->target = target;
  r->path = "/path x";
  r->query = "q=1";
  r->headers = {{"Host", "example.com:8080"},   {"X-Thing", "a"},  {"x-thing", "b"},
                {"Content-Type", "text/plain"}, {"Cookie", "a=1"}, {"Cookie", "b=2"}};
  r->remote_addr = "127.0.0.1";
  r->remote_port = 5555;
  r->server_name = "example.com";  // the server splits it from Host
  r->server_port = 8080;
  return r;
}

// Runs `app_name` from unit_apps.py on a request and returns what the sink saw.
FakeSink run(const std::string& app_name,
             std::shared_ptr<server::AppRequest> req = make_request()) {
  FakeSink sink;
  test::with_gil([&] {
    embed::WsgiGateway gw(embed::load_wsgi_app("unit_apps:" + app_name));
    gw.handle(req, sink);
  });
  return sink;
}

}  // namespace

TEST(WsgiGateway, EnvironHasThePep3333Keys) {
  test::with_gil([&] {
    embed::WsgiGateway gw(embed::load_wsgi_app("unit_apps:hello"));
    py::dict env = gw.build_environ(make_request());
    EXPECT_EQ(env["REQUEST_METHOD"].cast<std::string>(), "GET");
    EXPECT_EQ(env["SCRIPT_NAME"].cast<std::string>(), "");
    EXPECT_EQ(env["PATH_INFO"].cast<std::string>(), "/path x");
    EXPECT_EQ(env["QUERY_STRING"].cast<std::string>(), "q=1");
    EXPECT_EQ(env["REQUEST_URI"].cast<std::string>(), "/path%20x?q=1");
    EXPECT_EQ(env["SERVER_NAME"].cast<std::string>(), "example.com");
    EXPECT_EQ(env["SERVER_PORT"].cast<std::string>(), "8080");
    EXPECT_EQ(env["SERVER_PROTOCOL"].cast<std::string>(), "HTTP/1.1");
    EXPECT_EQ(env["REMOTE_ADDR"].cast<std::string>(), "127.0.0.1");
    EXPECT_EQ(env["REMOTE_PORT"].cast<std::string>(), "5555");
    EXPECT_EQ(env["CONTENT_TYPE"].cast<std::string>(), "text/plain");
    EXPECT_FALSE(env.contains("CONTENT_LENGTH"));
    EXPECT_EQ(env["HTTP_HOST"].cast<std::string>(), "example.com:8080");
    EXPECT_EQ(env["HTTP_X_THING"].cast<std::string>(), "a, b");
    EXPECT_EQ(env["HTTP_COOKIE"].cast<std::string>(), "a=1; b=2");
    EXPECT_FALSE(env.contains("HTTP_CONTENT_TYPE"));
    EXPECT_EQ(env["wsgi.url_scheme"].cast<std::string>(), "http");
    EXPECT_FALSE(env.contains("HTTPS"));
    EXPECT_TRUE(env["wsgi.multithread"].cast<bool>());
    EXPECT_FALSE(env["wsgi.multiprocess"].cast<bool>());
    EXPECT_FALSE(env["wsgi.run_once"].cast<bool>());
    EXPECT_TRUE(py::isinstance<py::tuple>(env["wsgi.version"]));
    EXPECT_TRUE(py::hasattr(env["wsgi.input"], "readline"));
    EXPECT_TRUE(py::hasattr(env["wsgi.errors"], "write"));
    EXPECT_TRUE(PyCallable_Check(env["wsgi.file_wrapper"].ptr()));
  });
}

TEST(WsgiGateway, PathInfoIsLatin1DecodedBytes) {
  auto req = make_request();
  req->path = "/caf\xC3\xA9";
  test::with_gil([&] {
    embed::WsgiGateway gw(embed::load_wsgi_app("unit_apps:hello"));
    py::dict env = gw.build_environ(req);
    py::str p = env["PATH_INFO"];
    // Each byte becomes one code point (PEP 3333 "bytes as latin-1").
    EXPECT_EQ(py::len(p), 6u);
    EXPECT_EQ(p.attr("encode")("latin-1").cast<std::string>(), "/caf\xC3\xA9");
  });
}

TEST(WsgiGateway, HttpsListenerSetsScheme) {
  auto req = make_request();
  req->https = true;
  test::with_gil([&] {
    embed::WsgiGateway gw(embed::load_wsgi_app("unit_apps:hello"));
    py::dict env = gw.build_environ(req);
    EXPECT_EQ(env["wsgi.url_scheme"].cast<std::string>(), "https");
    EXPECT_EQ(env["HTTPS"].cast<std::string>(), "on");
  });
}

TEST(WsgiGateway, ListBodyIsJoinedIntoOneLastPart) {
  FakeSink s = run("hello");
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.head->status, 200);
  EXPECT_EQ(s.text, "hello world");
  EXPECT_EQ(s.parts, 1);
  EXPECT_TRUE(s.finished);
}

TEST(WsgiGateway, GeneratorBlocksAreNotDelayed) {
  FakeSink s = run("generator");
  EXPECT_EQ(s.text, "part0;part1;part2;");
  EXPECT_EQ(s.parts, 4);  // three blocks, then the end
  EXPECT_TRUE(s.finished);
}

TEST(WsgiGateway, ExceptionsBecome500) {
  for (const char* app :
       {"raises", "returns_str", "yields_int", "twice", "never", "injection", "system_exit"}) {
    FakeSink s = run(app);
    ASSERT_TRUE(s.head) << app;
    EXPECT_EQ(s.head->status, 500) << app;
    EXPECT_TRUE(s.finished) << app;
    EXPECT_EQ(s.text.find("pwned"), std::string::npos);
    for (const auto& h : s.head->headers) EXPECT_NE(h.name, "X-Evil") << app;
  }
}

TEST(WsgiGateway, StrBlocksAreEncodedAsUtf8) {
  FakeSink s = run("list_of_str");
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.head->status, 200);
  EXPECT_EQ(s.text, "caf\xC3\xA9");
}

TEST(WsgiGateway, ExcInfoBeforeHeadersReplacesStatus) {
  FakeSink s = run("exc_info_before");
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.head->status, 503);
  EXPECT_EQ(s.text, "sorry");
}

TEST(WsgiGateway, InputReadsTheBodyAndThenEmpty) {
  auto req = make_request("POST");
  req->body.memory = "line one\nrest of body";
  req->body.length = req->body.memory.size();
  req->has_content_length = true;
  FakeSink s = run("read_body", req);
  EXPECT_EQ(s.text, "9|12|0|21");
}

TEST(WsgiGateway, InputFromSpooledFile) {
  auto req = make_request("POST");
  std::string data = "first\n" + std::string(200000, 'x');
  char path[] = "/tmp/w2p-body-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  req->body.fd = fd;
  req->body.length = data.size();
  req->has_content_length = true;
  FakeSink s = run("read_body", req);
  EXPECT_EQ(s.text, "6|200000|0|200006");
}

TEST(WsgiGateway, CloseIsCalled) {
  FakeSink s = run("closing");
  EXPECT_EQ(s.text, "ab");
  test::with_gil([] {
    auto closed = py::module_::import("unit_apps").attr("CLOSED");
    EXPECT_GE(py::len(closed), 1u);
  });
}

TEST(WsgiGateway, ClientGoneStopsTheResponse) {
  FakeSink sink;
  sink.client_gone = true;
  test::with_gil([&] {
    embed::WsgiGateway gw(embed::load_wsgi_app("unit_apps:generator"));
    gw.handle(make_request(), sink);
  });
  EXPECT_EQ(sink.parts, 1);  // nothing more after the first refusal
}

TEST(WsgiGateway, FileWrapperIsSentNatively) {
  char path[] = "/tmp/w2p-file-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  ::close(fd);
  auto req = make_request();
  req->query = path;
  FakeSink s = run("file_wrapper", req);
  ::unlink(path);
  ASSERT_TRUE(s.head);
  EXPECT_TRUE(s.started_with_file);  // the server sets Content-Length from the file
  ASSERT_GE(s.file_sent.fd, 0);
  EXPECT_EQ(s.file_sent.offset, 2u);
  EXPECT_EQ(s.file_sent.length, 8u);
  char buf[16] = {};
  EXPECT_EQ(::pread(s.file_sent.fd, buf, 8, 2), 8);
  EXPECT_EQ(std::string(buf), "23456789");
  ::close(s.file_sent.fd);
}
