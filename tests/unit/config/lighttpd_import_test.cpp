#include "server/config/lighttpd_import.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace w2p::server;

namespace {

class LighttpdImport : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-lighttpd-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string convert(const std::string& text, const std::string& name = "lighttpd.conf") {
    std::ofstream(dir_ + "/" + name) << text;
    return import_lighttpd(dir_ + "/" + name);
  }
  std::string error_of(const std::string& text) {
    try {
      convert(text);
    } catch (const ImportError& e) {
      std::string msg = e.what();
      return msg.substr(msg.find("lighttpd.conf"));
    }
    return "";
  }
  bool has(const std::string& out, const std::string& line) {
    return out.find(line) != std::string::npos;
  }

  std::string dir_;
};

}  // namespace

TEST_F(LighttpdImport, VariablesConcatenationAndListen) {
  auto out = convert(R"L(
var.base = "/srv"
var.w2p = var.base + "/web2py"
server.document-root = var.w2p + "/"
server.bind = "127.0.0.1"
server.port = 8080
server.max-request-size = 1024
)L");
  EXPECT_TRUE(has(out, "root = \"/srv/web2py\"")) << out;
  EXPECT_TRUE(has(out, "listen = [\"127.0.0.1:8080\"]")) << out;
  EXPECT_TRUE(has(out, "max-body = \"1024k\"")) << out;
}

TEST_F(LighttpdImport, HandlerByPrefixAndCatchAll) {
  auto out = convert(R"L(
fastcgi.server = ( "/handler.fcgi" => (( "socket" => "/tmp/s" )) )
url.rewrite-once = (
  "^/(.*)$" => "/handler.fcgi/app/$1",
  "^/favicon\.ico$" => "/applications/app/static/favicon.ico"
)
)L");
  EXPECT_TRUE(has(out, R"L({ match = "^/(.*)$", to = "/app/$1" },  # )L")) << out;
  EXPECT_TRUE(has(
      out,
      R"L({ match = "^/favicon\\.ico$", to = "static /applications/app/static/favicon.ico" })L"))
      << out;
  auto proxy = convert(R"L(
proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => 8000 )) )
url.rewrite-once = ( "^/$" => "/welcome/default/index", "^/(x.*)$" => "/applications/$1" )
)L");
  // Behind a catch-all proxy every target is the application's, except /applications/.
  EXPECT_TRUE(has(proxy, R"L({ match = "^/$", to = "/welcome/default/index" })L")) << proxy;
  EXPECT_TRUE(has(proxy, R"L(to = "static /applications/$1")L")) << proxy;
  EXPECT_TRUE(has(proxy,
                  "proxy.server: not needed: w2pserve runs web2py in-process instead of "
                  "behind an HTTP proxy"))
      << proxy;
}

TEST_F(LighttpdImport, HostBlocksAndOtherConditions) {
  auto out = convert(R"L(
$HTTP["host"] == "a.test" {
  url.access-deny = ( ".bak" )
  $HTTP["url"] =~ "^/x" { url.access-deny = ( "" ) }
}
$HTTP["host"] =~ "(^|\.)b\.test$" {
  server.document-root = "/srv/b"
  index-file.names = ( "/app/default/index", "index.html" )
}
else $HTTP["host"] == "c.test" {
  url.redirect = ( "^/(.*)" => "https://b.test/$1" )
  url.redirect-code = 302
}
$HTTP["host"] != "d.test" { server.port = 81 }
$HTTP["useragent"] =~ "bot" { url.access-deny = ( "" ) }
)L");
  EXPECT_TRUE(has(out, "name = \"a.test\"\nhosts = [\"a.test\"]\naccess-deny = [\".bak\"]")) << out;
  // A url block that denies becomes a deny rule of its site, tested first.
  EXPECT_TRUE(has(out, "{ match = \"^/x\", to = \"deny\" }")) << out;
  EXPECT_TRUE(has(out,
                  "name = \"b.test\"\nhost-regex = \"(^|\\\\.)b\\\\.test$\"\ndocument-root = "
                  "\"/srv/b\"\nindex = [\"index.html\"]"))
      << out;
  EXPECT_TRUE(has(out, "\"/app/default/index\" is a URL, not a file name")) << out;
  EXPECT_TRUE(has(out, R"L({ match = "^/(.*)", to = "redirect 302 https://b.test/$1" })L")) << out;
  EXPECT_TRUE(has(out, "$HTTP[\"host\"] != \"d.test\" { ... }: not carried over")) << out;
  EXPECT_TRUE(has(out, "$HTTP[\"useragent\"] =~ \"bot\" { ... }: not carried over")) << out;
}

TEST_F(LighttpdImport, IncludesAndShellIncludes) {
  std::filesystem::create_directories(dir_ + "/conf.d");
  std::ofstream(dir_ + "/conf.d/10-deny.conf") << "url.access-deny = ( \"~\" )\n";
  auto out = convert(R"L(
include "conf.d/*.conf"
include "missing.conf"
include_shell "cat /etc/passwd"
)L");
  EXPECT_TRUE(has(out, "access-deny = [\"~\"]")) << out;
  EXPECT_TRUE(has(out, "include \"missing.conf\": no such file here; not read")) << out;
  EXPECT_TRUE(has(out, "include_shell \"cat /etc/passwd\": not run")) << out;
  EXPECT_FALSE(has(out, "root:x:0:0")) << out;
}

TEST_F(LighttpdImport, DebianStockConfiguration) {
  // Debian 12's /etc/lighttpd/lighttpd.conf, as shipped (the parts that matter here).
  std::filesystem::create_directories(dir_ + "/conf-enabled");
  std::ofstream(dir_ + "/conf-enabled/90-javascript-alias.conf")
      << "alias.url += (\"/javascript\" => \"/usr/share/javascript\")\n";
  auto out = convert(R"L(server.modules = (
	"mod_indexfile",
	"mod_access",
	"mod_alias",
 	"mod_redirect",
)
server.document-root        = "/var/www/html"
server.upload-dirs          = ( "/var/cache/lighttpd/uploads" )
server.port                 = 80
server.feature-flags       += ("server.h2proto" => "enable")
server.http-parseopts = (
  "header-strict"           => "enable",# default
 #"url-path-2f-reject"      => "enable",
)
index-file.names            = ( "index.php", "index.html" )
url.access-deny             = ( "~", ".inc" )
include_shell "/usr/share/lighttpd/use-ipv6.pl " + server.port
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "conf-enabled/*.conf"
server.modules += (
	"mod_dirlisting",
	"mod_staticfile",
)
$HTTP["url"] =~ "^/admin/" { url.access-deny = ( "" ) }
$HTTP["url"] =~ "^/backup/" { url.access-deny = ( ".sql", ".tar" ) }
)L");
  EXPECT_TRUE(has(out, "listen = [\"0.0.0.0:80\"]")) << out;
  EXPECT_TRUE(has(out, "include_shell \"/usr/share/lighttpd/use-ipv6.pl 80\": not run")) << out;
  EXPECT_TRUE(has(out, "static = [\"/javascript=/usr/share/javascript\"]")) << out;
  EXPECT_TRUE(has(out, "# root = ")) << out;  // nothing says where web2py is
  EXPECT_TRUE(has(out, "{ match = \"^/admin/\", to = \"deny\" }")) << out;
  EXPECT_TRUE(has(out, "to = \"deny\" },  # ")) << out;
  EXPECT_TRUE(has(out, "Q.sql")) << out;  // the quoted suffixes
  EXPECT_TRUE(has(out, "Q.tar")) << out;
}

TEST_F(LighttpdImport, WhatCannotBeWorkedOutIsANote) {
  auto out = convert("x.y = \"a\" + env.HOME\ninclude var.dir + \"/x.conf\"\n");
  EXPECT_TRUE(has(out, "x.y: not carried over: its value, \"a\" + env.HOME, uses something"))
      << out;
  EXPECT_TRUE(has(out, "include var.dir + \"/x.conf\": not read")) << out;
}

TEST_F(LighttpdImport, UnknownDirectivesBecomeComments) {
  auto out = convert("server.frobnicate = \"yes\"\nmimetype.assign = ( \".x\" => \"a/b\" )\n");
  EXPECT_TRUE(has(out,
                  "lighttpd.conf:1: server.frobnicate: not carried over (w2pserve has no "
                  "equivalent)"))
      << out;
  EXPECT_TRUE(has(out, "lighttpd.conf:2: mimetype.assign: not carried over")) << out;
}

TEST_F(LighttpdImport, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(error_of("server.port = 80\nurl.rewrite-once = ( \"^/$\" => \"/x\" \n"),
            "lighttpd.conf:3: a ( list is not closed");
  EXPECT_EQ(error_of("server.port 80\n"),
            "lighttpd.conf:1: expected '=' or '+=' after server.port");
  EXPECT_EQ(error_of("$HTTP[\"host\"] == \"a\" {\n"), "lighttpd.conf:2: a { block is not closed");
  // What cannot be worked out while reading (a variable never set) is a note, not an error.
  EXPECT_EQ(error_of("x = var.nope\n"), "");
  EXPECT_EQ(error_of("a = \"unclosed\n"), "lighttpd.conf:2: a string is not closed (missing \")");
  EXPECT_EQ(error_of("}\n"), "lighttpd.conf:1: '}' without a matching '{'");
  EXPECT_THROW(import_lighttpd(dir_ + "/none.conf"), ImportError);
}
