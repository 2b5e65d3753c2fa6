// The one option table: every option reads back from check-config's output as the same value,
// is documented in README and --help, and mistakes get a "did you mean".

#include "server/config/option_table.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "server/config/config_file.hpp"

using namespace w2p::server;

namespace {

class OptionTable : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-options-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/web2py/applications/welcome");
    std::filesystem::create_directories(dir_ + "/web2py/gluon");
    std::ofstream(dir_ + "/web2py/gluon/main.py") << "";
    std::filesystem::create_directories(dir_ + "/files");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ParseOutcome parse(std::vector<std::string> args) {
    std::vector<char*> argv{const_cast<char*>("w2pserve")};
    for (auto& a : args) argv.push_back(a.data());
    return parse_options(static_cast<int>(argv.size()), argv.data());
  }

  // A value other than the default, for each kind of option.
  std::string value_for(const OptionSpec& s) {
    static const std::map<std::string_view, std::string> special{
        {"app", "pkg.module:app"},
        {"default-app", "welcome"},
        {"access-log-format", "extended"},
        {"user", "nobody"},
        {"group", "nogroup"},
        {"status-path", "/st"},
        {"health-path", "/healthz"},
        {"cron-lock", "postgresql://u@h/db"},
        {"max-header", "128k"},
        {"public-port", "8443"},
        {"listen", "127.0.0.1:8123"},
        {"http-listen", "127.0.0.1:8124"},
        {"redirect-listen", "[::1]:8125"},
        {"domain", "example.com"},
        {"acme-directory", "https://ca.test/dir"}};
    if (auto it = special.find(s.name); it != special.end()) return it->second;
    if (s.name == "root") return dir_ + "/web2py";
    switch (s.kind) {
      case ValueKind::flag:
        return "";
      case ValueKind::number:
        return std::to_string(s.min + 7 > s.max ? s.max : s.min + 7);
      case ValueKind::size:
        return "3M";
      case ValueKind::choice:
        return std::string(s.choices.back());
      case ValueKind::path:
        return dir_ + "/some.file";
      case ValueKind::directory:
        return dir_ + "/files";
      case ValueKind::address:
        return "127.0.0.1:8126";
      case ValueKind::cidr:
        return "10.1.0.0/16";
      case ValueKind::mount:
        return "/m=" + dir_ + "/files";
      case ValueKind::mime:
        return "text/css";
      case ValueKind::text:
        return "x";
    }
    return "";
  }

  // Options some options need beside them.
  std::vector<std::string> companions(std::string_view name) {
    if (name == "tls-cert" || name == "tls-key" || name == "http-listen" ||
        name == "redirect-listen")
      return {"--tls-cert", dir_ + "/c.pem", "--tls-key", dir_ + "/k.pem"};
    if (name == "cron" || name == "cron-ledger" || name == "default-app")
      return {"--root", dir_ + "/web2py"};
    if (name == "group") return {"--user", "nobody"};
    if (name == "domain") return {"--acme-agree-tos", "--redirect-listen", "127.0.0.1:8127"};
    if (name == "proxy-protocol") return {"--trusted-proxy", "10.0.0.1"};
    if (name == "cron-lock") return {"--root", dir_ + "/web2py", "--cron"};
    if (name == "app") return {};
    return {};
  }

  std::string dir_;
};

std::string without_first_line(const std::string& s) {
  return s.substr(s.find('\n') + 1);
}

}  // namespace

TEST_F(OptionTable, EveryOptionReadsBackFromCheckConfig) {
  Options defaults;
  for (const auto& spec : option_table()) {
    if (!spec.in_file) continue;
    std::vector<std::string> args = companions(spec.name);
    for (int i = 0; i < (spec.list ? 2 : 1); ++i) {
      args.push_back("--" + std::string(spec.name));
      std::string v = value_for(spec);
      if (spec.list && i == 1) {
        // A second, different value.
        if (spec.kind == ValueKind::address)
          v = "127.0.0.1:8199";
        else if (spec.kind == ValueKind::cidr)
          v = "192.168.0.0/24";
        else if (spec.kind == ValueKind::mime)
          v = "application/json";
        else if (spec.kind == ValueKind::mount)
          v = "/n=" + dir_ + "/files";
        else if (spec.kind == ValueKind::path)
          v = dir_ + "/other.file";
        else if (spec.kind == ValueKind::directory)
          v = dir_ + "/web2py";
      }
      if (!v.empty()) args.push_back(v);
    }
    auto first = parse(args);
    ASSERT_TRUE(first.options) << spec.name << ": " << first.text;
    EXPECT_NE(spec.get(*first.options), spec.get(defaults)) << spec.name << " kept its default";
    std::string text = describe_config(*first.options);
    std::string file = dir_ + "/effective.toml";
    std::ofstream(file) << text;
    auto again = parse({"--config", file});
    ASSERT_TRUE(again.options) << spec.name << ": " << again.text << "\n" << text;
    EXPECT_EQ(spec.get(*again.options), spec.get(*first.options)) << spec.name;
    EXPECT_EQ(without_first_line(describe_config(*again.options)), without_first_line(text))
        << spec.name;
  }
}

TEST_F(OptionTable, DefaultsReadBackToo) {
  auto first = parse({});
  ASSERT_TRUE(first.options) << first.text;
  std::string text = describe_config(*first.options);
  std::ofstream(dir_ + "/d.toml") << text;
  auto again = parse({"--config", dir_ + "/d.toml"});
  ASSERT_TRUE(again.options) << again.text << "\n" << text;
  EXPECT_EQ(without_first_line(describe_config(*again.options)), without_first_line(text));
}

TEST_F(OptionTable, EveryOptionIsDocumentedInReadmeAndHelp) {
  std::ifstream in(std::string(W2P_SOURCE_DIR) + "/README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  auto help = parse({"--help"});
  for (const auto& spec : option_table()) {
    std::string flag = "--" + std::string(spec.name);
    EXPECT_NE(readme.str().find("`" + flag), std::string::npos) << flag << " is not in README.md";
    EXPECT_NE(help.text.find(flag), std::string::npos) << flag << " is not in --help";
  }
  for (const auto& key : site_keys())
    EXPECT_NE(readme.str().find("`" + std::string(key.name)), std::string::npos)
        << "site key " << key.name << " is not in README.md";
}

// The manual page comes from the same command line as --help: every option, subcommand and
// site key, with hyphens escaped for roff, and no line that roff would take as a request.
TEST_F(OptionTable, ManPageNamesEverythingHelpDoes) {
  auto man = parse({"--man"});
  EXPECT_EQ(man.exit_code, 0);
  ASSERT_FALSE(man.options);
  EXPECT_TRUE(man.text.starts_with(".\\\" Generated")) << man.text.substr(0, 80);
  auto roff = [](std::string_view s) {
    std::string out;
    for (char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
  };
  for (const auto& spec : option_table())
    EXPECT_NE(man.text.find("\\fB" + roff("--" + std::string(spec.name)) + "\\fR"),
              std::string::npos)
        << spec.name << " is not in the manual page";
  for (std::string_view sub :
       {"check-config", "import-lighttpd", "cron list", "cron run", "set-admin-password"})
    EXPECT_NE(man.text.find("\\fB" + roff(sub) + "\\fR"), std::string::npos) << sub;
  for (const auto& key : site_keys())
    EXPECT_NE(man.text.find("\\fB" + roff(key.name) + "\\fR"), std::string::npos) << key.name;
  std::istringstream lines(man.text);
  const std::set<std::string> known = {".TH", ".SH", ".TP", ".RS", ".RE", ".br",
                                       ".nf", ".fi", ".B",  ".BR", ".I",  ".\\\""};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || (line[0] != '.' && line[0] != '\'')) continue;
    std::string request = line.substr(0, line.find(' '));
    EXPECT_TRUE(known.count(request)) << "unexpected roff request: " << line;
  }
  // Not offered as an option of its own in --help.
  EXPECT_EQ(parse({"--help"}).text.find("--man"), std::string::npos);
}

TEST_F(OptionTable, MistakesGetTheClosestName) {
  auto out = parse({"--max-bdy", "1M"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.text.find("unknown option --max-bdy (did you mean --max-body?)"), std::string::npos)
      << out.text;
  out = parse({"--wrokers=2"});
  EXPECT_NE(out.text.find("did you mean --workers?"), std::string::npos) << out.text;
  out = parse({"--completely-different"});
  EXPECT_EQ(out.text.find("did you mean"), std::string::npos) << out.text;
  std::ofstream(dir_ + "/t.toml") << "keepalive-timout = 3\n";
  out = parse({"--config", dir_ + "/t.toml"});
  EXPECT_NE(out.text.find("keepalive-timout: unknown key at the top level (did you mean "
                          "keepalive-timeout?)"),
            std::string::npos)
      << out.text;
}

TEST_F(OptionTable, RelativePathsAreResolvedOnceAtStart) {
  // A reload re-reads the same arguments after the process moved into the web2py folder:
  // paths are made absolute when first read.
  std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  auto out = parse({"--root", "web2py", "--access-log", "logs/a.log", "--pythonpath", "lib"});
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(out.options) << out.text;
  EXPECT_EQ(out.options->root, dir_ + "/web2py");
  EXPECT_EQ(out.options->access_log, dir_ + "/logs/a.log");
  EXPECT_EQ(out.options->pythonpath, (std::vector<std::string>{dir_ + "/lib"}));
}

TEST(OptionSuggestions, EditDistance) {
  std::vector<std::string_view> known{"workers", "threads", "max-body", "max-header"};
  EXPECT_EQ(suggest_option("worker", known), "workers");
  EXPECT_EQ(suggest_option("max-hedaer", known), "max-header");
  EXPECT_FALSE(suggest_option("zzz", known));
}
