// Rewrite evaluation cost per request: 50 rules of the kind web2py sites carry (short URLs,
// static folders, redirects), for a URL that matches none of them (every request to a static
// file or an unlisted page pays this), one that matches the last rule, and one the first.
// Run: build/tests/rewrite_bench   (built when Google Benchmark is installed)

#include <benchmark/benchmark.h>

#include <string>

#include "server/routing/rewrite.hpp"
#include "server/routing/site.hpp"

using namespace w2p::server;

namespace {

RewriteRules fifty_rules() {
  RewriteRules r;
  r.add("^/$", RewriteKind::app, "/app/default/index");
  for (int i = 0; i < 46; ++i) {
    std::string n = std::to_string(i);
    switch (i % 4) {
      case 0:
        r.add("^/page" + n + "(\\?|$)", RewriteKind::app, "/app/default/page/" + n);
        break;
      case 1:
        r.add("^/blog" + n + "/(\\d+)$", RewriteKind::app, "/blog" + n + "/default/post/$1");
        break;
      case 2:
        r.add("^/old" + n + "/(.*)$", RewriteKind::redirect, "https://example.com/$1", 301);
        break;
      default:
        r.add("^/(?:en|de|fr)/section" + n + "/(.*)$", RewriteKind::app, "/app/s" + n + "/$1");
    }
  }
  r.add("^(?!.*admin)(/.+?/media/.+$)", RewriteKind::static_file, "/applications$1");
  r.add("^/(about|contact|team)(\\?|$)", RewriteKind::app, "/app/default/$1");
  r.add("^/last/(.*)$", RewriteKind::app, "/app/last/$1");
  return r;
}

void NoMatch(benchmark::State& state) {
  RewriteRules r = fifty_rules();
  for (auto _ : state)
    benchmark::DoNotOptimize(r.apply("/welcome/static/css/bootstrap.min.css", ""));
}
BENCHMARK(NoMatch);

void NoMatchWithQuery(benchmark::State& state) {
  RewriteRules r = fifty_rules();
  for (auto _ : state)
    benchmark::DoNotOptimize(
        r.apply("/welcome/default/user/login", "_next=/welcome/default/index"));
}
BENCHMARK(NoMatchWithQuery);

void MatchLast(benchmark::State& state) {
  RewriteRules r = fifty_rules();
  for (auto _ : state) benchmark::DoNotOptimize(r.apply("/last/thing", ""));
}
BENCHMARK(MatchLast);

void MatchFirst(benchmark::State& state) {
  RewriteRules r = fifty_rules();
  for (auto _ : state) benchmark::DoNotOptimize(r.apply("/", ""));
}
BENCHMARK(MatchFirst);

void NoRules(benchmark::State& state) {
  RewriteRules r;
  for (auto _ : state)
    benchmark::DoNotOptimize(r.apply("/welcome/static/css/bootstrap.min.css", ""));
}
BENCHMARK(NoRules);

void HostSelect(benchmark::State& state) {
  std::vector<SiteSpec> sites;
  for (int i = 0; i < 20; ++i) {
    SiteSpec s;
    s.name = "s" + std::to_string(i);
    s.hosts = {"site" + std::to_string(i) + ".example.com", "*.site" + std::to_string(i) + ".org"};
    sites.push_back(s);
  }
  SiteRouter router(sites, SiteSpec{});
  for (auto _ : state) benchmark::DoNotOptimize(router.select("www.site17.org:8080"));
}
BENCHMARK(HostSelect);

}  // namespace

BENCHMARK_MAIN();
