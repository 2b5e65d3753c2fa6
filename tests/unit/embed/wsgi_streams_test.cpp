#include "embed/wsgi_streams.hpp"

#include <gtest/gtest.h>

#include "embed_test_env.hpp"

using namespace w2p;
namespace py = pybind11;

namespace {
std::shared_ptr<server::AppRequest> body(const std::string& data) {
  auto r = std::make_shared<server::AppRequest>();
  r->body.memory = data;
  r->body.length = data.size();
  return r;
}
}  // namespace

TEST(InputStream, ReadSizes) {
  test::with_gil([] {
    embed::InputStream in(body("abcdef"));
    EXPECT_EQ(in.read(py::int_(2)).cast<std::string>(), "ab");
    EXPECT_EQ(in.read(py::int_(-1)).cast<std::string>(), "cdef");
    EXPECT_EQ(in.read(py::none()).cast<std::string>(), "");
    EXPECT_EQ(in.read(py::int_(5)).cast<std::string>(), "");
  });
}

TEST(InputStream, Lines) {
  test::with_gil([] {
    embed::InputStream in(body("one\ntwo\nthree"));
    EXPECT_EQ(in.readline(py::int_(2)).cast<std::string>(), "on");
    EXPECT_EQ(in.readline(py::none()).cast<std::string>(), "e\n");
    py::list rest = in.readlines(py::none());
    ASSERT_EQ(py::len(rest), 2u);
    EXPECT_EQ(rest[0].cast<std::string>(), "two\n");
    EXPECT_EQ(rest[1].cast<std::string>(), "three");
    EXPECT_EQ(in.readline(py::none()).cast<std::string>(), "");
  });
}

TEST(InputStream, IterationAndBadSize) {
  test::with_gil([] {
    py::module_ m = py::module_::import("_w2pserve");
    py::object in = py::cast(embed::InputStream(body("a\nb\n")));
    py::list lines = py::list(in);
    EXPECT_EQ(py::len(lines), 2u);
    EXPECT_THROW(in.attr("read")("x"), py::error_already_set);
  });
}
