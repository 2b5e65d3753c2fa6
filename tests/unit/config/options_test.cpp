#include "server/config/options.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

using namespace w2p::server;

namespace {
ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<char*> argv{const_cast<char*>("w2pserve")};
  for (const char* a : args) argv.push_back(const_cast<char*>(a));
  return parse_options(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST(ParseListen, Forms) {
  auto a = parse_listen("127.0.0.1:8000");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8000);
  a = parse_listen("[::1]:9000");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 9000);
  a = parse_listen(":80");
  EXPECT_EQ(a.host, "0.0.0.0");
  a = parse_listen("8080");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  a = parse_listen("localhost:0");
  EXPECT_EQ(a.host, "127.0.0.1");
}

TEST(ParseListen, Errors) {
  EXPECT_THROW(parse_listen(""), OptionError);
  EXPECT_THROW(parse_listen("1.2.3.4:99999"), OptionError);
  EXPECT_THROW(parse_listen("1.2.3.4:http"), OptionError);
  EXPECT_THROW(parse_listen("::1:80"), OptionError);
  EXPECT_THROW(parse_listen("[::1]80"), OptionError);
}

TEST(ParseSize, Units) {
  EXPECT_EQ(parse_size("100"), 100u);
  EXPECT_EQ(parse_size("64k"), 65536u);
  EXPECT_EQ(parse_size("10M"), 10u << 20);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_THROW(parse_size("ten"), OptionError);
  EXPECT_THROW(parse_size("10X"), OptionError);
  EXPECT_THROW(parse_size("-1"), OptionError);
  // Too large is an error, never a wrap-around to a small number.
  EXPECT_THROW(parse_size("17179869184G"), OptionError);
  EXPECT_THROW(parse_size("18446744073709551615"), OptionError);
  EXPECT_THROW(parse_size("99999999999999999999999"), OptionError);
  EXPECT_EQ(parse_size("4294967296G"), 4294967296ull << 30);
}

TEST(ParseStatic, NeedsPrefixAndExistingDir) {
  auto m = parse_static("/static/=/tmp");
  EXPECT_EQ(m.prefix, "/static");
  EXPECT_EQ(m.dir, "/tmp");
  EXPECT_THROW(parse_static("static=/tmp"), OptionError);
  EXPECT_THROW(parse_static("/static"), OptionError);
  EXPECT_THROW(parse_static("/static=/definitely/not/here"), OptionError);
}

TEST(ParseOptions, Defaults) {
  auto o = parse({});
  ASSERT_TRUE(o.options);
  EXPECT_EQ(o.options->listen.size(), 1u);
  EXPECT_EQ(o.options->listen[0].port, 8000);
  EXPECT_EQ(o.options->workers, 1u);
  EXPECT_EQ(o.options->io_threads, 1u);
  EXPECT_EQ(o.options->max_header, 64u * 1024);
}

TEST(ParseOptions, HelpAndVersion) {
  auto h = parse({"--help"});
  EXPECT_FALSE(h.options);
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.text.find("--workers"), std::string::npos);
  EXPECT_NE(h.text.find("GIL"), std::string::npos);
  auto v = parse({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.text.find("w2pserve"), std::string::npos);
}

TEST(ParseOptions, ErrorsAreOneLineWithExitCode2) {
  for (auto args : {std::vector<const char*>{"--workers", "0"}, std::vector<const char*>{"--bogus"},
                    std::vector<const char*>{"--listen", "nowhere:x"},
                    std::vector<const char*>{"--app", "nocolon"},
                    std::vector<const char*>{"--max-body", "lots"},
                    std::vector<const char*>{"--max-body", "17179869184G"}}) {
    std::vector<char*> argv{const_cast<char*>("w2pserve")};
    for (auto a : args) argv.push_back(const_cast<char*>(a));
    auto r = parse_options(static_cast<int>(argv.size()), argv.data());
    EXPECT_FALSE(r.options);
    EXPECT_EQ(r.exit_code, 2) << r.text;
    EXPECT_TRUE(r.text.starts_with("w2pserve: error: ")) << r.text;
    EXPECT_EQ(r.text.find('\n'), r.text.size() - 1) << r.text;
  }
}

// Server options after a subcommand belong to the server (`set-admin-password --root DIR
// --user www-data --port 443`, as README's migration steps write it); unknown ones still fail.
TEST(ParseOptions, ServerOptionsMayFollowASubcommand) {
  std::string root = std::string(W2P_SOURCE_DIR) + "/tests/fixtures/web2py";
  auto r = parse({"set-admin-password", "--root", root.c_str(), "--port", "443", "--workers", "3"});
  ASSERT_TRUE(r.options) << r.text;
  EXPECT_EQ(r.options->command, Options::Command::set_admin_password);
  EXPECT_EQ(r.options->admin_port, 443);
  EXPECT_EQ(r.options->workers, 3u);
  r = parse({"cron", "list", "--root", root.c_str()});
  ASSERT_TRUE(r.options) << r.text;
  EXPECT_EQ(r.options->command, Options::Command::cron_list);
  r = parse({"set-admin-password", "--root", root.c_str(), "--wrkers", "3"});
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.exit_code, 2);
}
