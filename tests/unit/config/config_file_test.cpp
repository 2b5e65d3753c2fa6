#include "server/config/config_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace w2p::server;

namespace {

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-config-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/web2py/applications/app/static");
    std::filesystem::create_directories(dir_ + "/web2py/applications/blog/static");
    std::filesystem::create_directories(dir_ + "/web2py/gluon");
    std::ofstream(dir_ + "/web2py/gluon/main.py") << "";
    std::filesystem::create_directories(dir_ + "/media");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text) {
    std::string path = dir_ + "/w2pserve.toml";
    std::ofstream(path) << text;
    return path;
  }

  // The message reading the file gives (without "w2pserve: error: " and the file's path), or
  // "" when it loads.
  std::string error_of(const std::string& text) {
    auto out = parse({"--config", write(text)});
    if (out.options) return "";
    std::string msg = out.text;
    for (std::string prefix : {std::string("w2pserve: error: "), dir_ + "/w2pserve.toml"})
      if (msg.starts_with(prefix)) msg = msg.substr(prefix.size());
    if (msg.ends_with("\n")) msg.pop_back();
    return msg;
  }

  ParseOutcome parse(std::vector<std::string> args) {
    std::vector<char*> argv{const_cast<char*>("w2pserve")};
    for (auto& a : args) argv.push_back(a.data());
    return parse_options(static_cast<int>(argv.size()), argv.data());
  }

  std::string dir_;
};

}  // namespace

TEST_F(ConfigFile, GlobalSettingsAndSites) {
  auto out = parse({"--config", write(R"(
listen = ["127.0.0.1:8001", "[::1]:8002"]
workers = 2
threads = 1
root = "web2py"
max-body = "10M"
request-timeout = 30
trusted-proxy = ["10.0.0.0/8"]
index = ["index.htm"]
access-deny = ["~"]
static = ["/media=media"]
rewrite = [ { match = "^/x$", to = "/app/x" } ]

[[site]]
name = "blog"
hosts = ["blog.test", "*.blog.test"]
default-app = "blog"
apps = ["blog"]
access-deny = [".inc"]
rewrite = [
  { match = "^/$", to = "/blog/default/index" },
  { match = '^(/.+?/static/.+)$', to = "static /applications$1" },
]

[[site]]
host-regex = '(^|\.)app\.test$'
default = true
)")});
  ASSERT_TRUE(out.options) << out.text;
  const Options& o = *out.options;
  ASSERT_EQ(o.listen.size(), 2u);
  EXPECT_EQ(o.listen[1].host, "::1");
  EXPECT_EQ(o.listen[1].port, 8002);
  EXPECT_EQ(o.workers, 2u);
  EXPECT_EQ(o.root, dir_ + "/web2py");  // relative to the file's folder
  EXPECT_EQ(o.max_body, 10u << 20);
  EXPECT_EQ(o.request_timeout, 30u);
  EXPECT_EQ(o.trusted_proxy_specs, (std::vector<std::string>{"10.0.0.0/8"}));
  ASSERT_EQ(o.statics.size(), 1u);
  EXPECT_EQ(o.statics[0].dir, dir_ + "/media");
  EXPECT_EQ(o.global_site.index_names, (std::vector<std::string>{"index.htm"}));
  ASSERT_EQ(o.global_site.rewrites.size(), 1u);
  ASSERT_EQ(o.sites.size(), 2u);
  const SiteSpec& blog = o.sites[0];
  EXPECT_EQ(blog.name, "blog");
  EXPECT_EQ(blog.default_app, "blog");
  EXPECT_EQ(blog.access_deny, (std::vector<std::string>{".inc"}));       // its own list
  EXPECT_EQ(blog.index_names, (std::vector<std::string>{"index.htm"}));  // inherited
  ASSERT_EQ(blog.rewrites.size(), 2u);
  EXPECT_EQ(blog.rewrites[1].to, "static /applications$1");
  EXPECT_EQ(blog.rewrites[1].line, 22);
  EXPECT_EQ(blog.line, 14);
  EXPECT_TRUE(o.sites[1].is_default);
  EXPECT_EQ(o.sites[1].access_deny, (std::vector<std::string>{"~"}));
}

TEST_F(ConfigFile, ErrorsNameLineKeyAndRemedy) {
  EXPECT_EQ(error_of("workers = 2\nwrokers = 3\n"),
            ":2: wrokers: unknown key at the top level (did you mean workers?)");
  EXPECT_EQ(error_of("config = \"x.toml\"\n"),
            ":1: config: unknown key at the top level (config is given on the command line only)");
  EXPECT_EQ(error_of("workers = \"2\"\n"), ":1: workers: expected a whole number");
  EXPECT_EQ(error_of("threads = 65\n"), ":1: threads: 65 is out of range (1 to 64)");
  EXPECT_EQ(error_of("log-level = \"loud\"\n"),
            ":1: log-level: 'loud': write one of debug, info, warn, error");
  EXPECT_EQ(
      error_of(
          "[[site]]\nhosts = [\"a.test\"]\nrewrite = [\n  { match = \"(\", to = \"/x\" },\n]\n"),
      ":4: site[0].rewrite[0]: bad regular expression '(' at offset 1: missing closing "
      "parenthesis");
  EXPECT_EQ(
      error_of(
          "[[site]]\nhosts = [\"a.test\"]\nrewrite = [ { match = \"^/(x)$\", to = \"/y/$2\" } ]\n"),
      ":3: site[0].rewrite[0]: target '/y/$2' uses $2 but the pattern has 1 group(s)");
  EXPECT_EQ(error_of("[[site]]\nhosts = [\"a.test\"]\nrewrite = [ { match = \"x\" } ]\n"),
            ":3: site[0].rewrite[0]: needs to = \"TARGET\"");
  EXPECT_EQ(
      error_of(
          "[[site]]\nhosts = [\"a.test\"]\nrewrite = [ { match = \"x\", to = \"y\", so = 1 } ]\n"),
      ":3: so: unknown key in a rewrite rule (known keys: match, to)");
  EXPECT_EQ(
      error_of(
          "[[site]]\nhosts = [\"a.test\"]\nrewrite = [ { match = \"x\", to = \"relative\" } ]\n"),
      ":3: site[0].rewrite[0]: target 'relative' must start with '/' (or with a $N group "
      "that holds the path)");
  EXPECT_EQ(error_of("[[site]]\nhosts = [\"a.test\"]\ndocument-root = \"nowhere\"\n"),
            ":3: site[0].document-root: '" + dir_ + "/nowhere' is not a directory");
  EXPECT_EQ(error_of("[[site]]\nhosts = [\"a.test\"]\nhost = \"x\"\n"),
            ":3: site[0].host: unknown key in [[site]] (did you mean hosts?)");
  EXPECT_EQ(error_of("[[site]]\nhosts = [\"a.test\"]\ndefault-app = \"my-app\"\n"),
            ":3: site[0].default-app: 'my-app' is not a web2py application name (letters, digits "
            "and _)");
  EXPECT_EQ(error_of("[[site]]\nhosts = \"a.test\"\n[[site]]\nhosts = [\"x.test\", \"a.test\"]\n"),
            ":3: site 'x.test': host 'a.test' is claimed by " + dir_ +
                "/w2pserve.toml:1: site 'a.test' too");
  EXPECT_EQ(error_of("index = [\"a/b.html\"]\n"),
            ":1: index: 'a/b.html' is not a file name (write e.g. \"index.html\")");
  EXPECT_EQ(error_of("access-deny = [\"\"]\n"),
            ":1: access-deny: an empty suffix would deny every URL");
  EXPECT_EQ(error_of("site = 3\n"), ":1: site: write each site as a [[site]] table");
  EXPECT_EQ(
      error_of("trusted-proxy = [\"10.0.0.0/99\"]\n"),
      ":1: trusted-proxy: '10.0.0.0/99' is not an IP address or CIDR (write e.g. 10.0.0.0/8)");
  EXPECT_EQ(error_of("listen = \"1.2.3.4\"\n"),
            ":1: listen: 1.2.3.4: the port must be a number from 0 to 65535");
  EXPECT_EQ(error_of("cache = [ { type = \"image\", expires = \"1d\" } ]\n"),
            ":1: cache[0].type: 'image' is not a MIME type (write e.g. \"image/png\", or "
            "\"image/\" for every image type)");
  EXPECT_EQ(error_of("cache = [ { match = \"x\", expires = \"soon\" } ]\n"),
            ":1: cache[0].expires: 'soon' is not a duration (write e.g. \"30d\", \"12h\", "
            "\"15m\" or seconds)");
  EXPECT_EQ(error_of("cache = [ { match = \"x\" } ]\n"),
            ":1: cache[0]: needs cache-control = \"...\" or expires = \"30d\"");
  EXPECT_EQ(error_of("cache = [ { match = \"(\", expires = 5 } ]\n"),
            ":1: cache[0].match: bad regular expression '(' at offset 1: missing closing "
            "parenthesis");
  // Syntax errors carry line and column.
  EXPECT_EQ(error_of("workers = 1\n[[site]\n").substr(0, 5), ":2:8:");
}

TEST_F(ConfigFile, CommandLineWins) {
  write("workers = 3\nlisten = [\"127.0.0.1:9001\"]\nheader-timeout = 7\n");
  auto out = parse({"--config", dir_ + "/w2pserve.toml", "--workers", "2"});
  ASSERT_TRUE(out.options) << out.text;
  EXPECT_EQ(out.options->workers, 2u);
  EXPECT_EQ(out.options->header_timeout, 7u);
  ASSERT_EQ(out.options->listen.size(), 1u);
  EXPECT_EQ(out.options->listen[0].port, 9001);
  out = parse({"--listen", "127.0.0.1:9002", "--config=" + dir_ + "/w2pserve.toml"});
  ASSERT_TRUE(out.options) << out.text;
  ASSERT_EQ(out.options->listen.size(), 1u);
  EXPECT_EQ(out.options->listen[0].port, 9002);
}

TEST_F(ConfigFile, SitesCheckedAgainstTheFinalOptions) {
  write("[[site]]\nhosts = [\"a.test\"]\ndefault-app = \"app\"\n");
  auto out = parse({"--config", dir_ + "/w2pserve.toml"});
  EXPECT_FALSE(out.options);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.text.find("w2pserve.toml:1: site 'a.test': default-app and apps are web2py "
                          "settings: they need root"),
            std::string::npos)
      << out.text;
  // The same file is fine once the web2py folder is given on the command line.
  out = parse({"--config", dir_ + "/w2pserve.toml", "--root", dir_ + "/web2py"});
  ASSERT_TRUE(out.options) << out.text;
  EXPECT_EQ(out.options->sites[0].document_root, dir_ + "/web2py");
  write("[[site]]\nhosts = [\"a.test\"]\napps = [\"nope\"]\n");
  out = parse({"--config", dir_ + "/w2pserve.toml", "--root", dir_ + "/web2py"});
  EXPECT_NE(out.text.find("apps: there is no application 'nope' in"), std::string::npos)
      << out.text;
  write("[[site]]\nhosts = [\"a.test\"]\nrewrite = [ { match = \"x\", to = \"static /x\" } ]\n");
  out = parse({"--config", dir_ + "/w2pserve.toml"});
  EXPECT_NE(out.text.find("a \"static ...\" rewrite target needs a folder"), std::string::npos)
      << out.text;
}

TEST_F(ConfigFile, DescribeReadsBack) {
  write(R"(root = "web2py"
access-deny = ["~"]
[[site]]
hosts = ["b.test"]
host-regex = 'x\.test$'
default-app = "blog"
apps = ["blog"]
rewrite = [ { match = '^/"q"\\(.*)$', to = "/blog/$1" } ]
)");
  auto out = parse({"--config", dir_ + "/w2pserve.toml"});
  ASSERT_TRUE(out.options) << out.text;
  std::string text = describe_config(*out.options);
  EXPECT_NE(text.find("{ match = \"^/\\\"q\\\"\\\\\\\\(.*)$\", to = \"/blog/$1\" }"),
            std::string::npos)
      << text;
  std::string again = dir_ + "/again.toml";
  std::ofstream(again) << text;
  auto back = parse({"--config", again});
  ASSERT_TRUE(back.options) << back.text;
  std::string text2 = describe_config(*back.options);
  EXPECT_EQ(text2.substr(text2.find('\n')), text.substr(text.find('\n')));
}

TEST_F(ConfigFile, ValuesFromTheFileAreReportedWithTheirLine) {
  write("workers = 1\nroot = \"nowhere\"\n");
  auto out = parse({"--config", dir_ + "/w2pserve.toml"});
  EXPECT_FALSE(out.options);
  EXPECT_EQ(out.text, "w2pserve: error: " + dir_ + "/w2pserve.toml:2: root: '" + dir_ +
                          "/nowhere' is not a directory\n");
  // Given on the command line, the flag is named instead.
  out = parse({"--config", dir_ + "/w2pserve.toml", "--root", dir_ + "/none"});
  EXPECT_EQ(out.text, "w2pserve: error: --root: '" + dir_ + "/none' is not a directory\n");
  write("app = \"nocolon\"\n");
  out = parse({"--config", dir_ + "/w2pserve.toml"});
  EXPECT_NE(out.text.find("w2pserve.toml:1: app: nocolon: write module:callable"),
            std::string::npos)
      << out.text;
}
