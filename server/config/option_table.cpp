#include "server/config/option_table.hpp"

#include <algorithm>
#include <climits>

#include "server/config/toml_text.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/ops/access_log.hpp"
#include "server/routing/web2py_static.hpp"

namespace w2p::server {

namespace {

using Values = std::vector<std::string>;

OptionSpec spec(std::string_view name, ValueKind kind, bool list, std::string_view placeholder,
                std::string_view help, std::int64_t min = 0, std::int64_t max = 0,
                std::vector<std::string_view> choices = {}) {
  OptionSpec s;
  s.name = name;
  s.kind = kind;
  s.list = list;
  s.placeholder = placeholder;
  s.help = help;
  s.min = min;
  s.max = max;
  s.choices = std::move(choices);
  return s;
}

std::string address_text(const ListenAddress& a) {
  return (a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host) + ":" +
         std::to_string(a.port);
}

Values addresses(const std::vector<ListenAddress>& v) {
  Values out;
  for (const auto& a : v) out.push_back(address_text(a));
  return out;
}

Values mounts(const std::vector<StaticMount>& v) {
  Values out;
  for (const auto& m : v) out.push_back((m.prefix.empty() ? "/" : m.prefix) + "=" + m.dir);
  return out;
}

template <class T>
Values number(T v) {
  return {std::to_string(v)};
}

Values text(const std::string& s) {
  return s.empty() ? Values{} : Values{s};
}

std::uint64_t as_number(const Values& v) {
  return std::stoull(v.front());
}

// Bindings for the common shapes.
template <class T>
OptionSpec count(std::string_view name, T Options::*field, std::int64_t min, std::int64_t max,
                 std::string_view placeholder, std::string_view help) {
  OptionSpec s = spec(name, ValueKind::number, false, placeholder, help, min, max, {});
  s.set = [field](Options& o, const Values& v) { o.*field = static_cast<T>(as_number(v)); };
  s.get = [field](const Options& o) { return number(o.*field); };
  return s;
}

OptionSpec string_option(std::string_view name, ValueKind kind, std::string Options::*field,
                         std::string_view placeholder, std::string_view help) {
  OptionSpec s = spec(name, kind, false, placeholder, help);
  s.set = [field](Options& o, const Values& v) { o.*field = v.front(); };
  s.get = [field](const Options& o) { return text(o.*field); };
  return s;
}

OptionSpec strings_option(std::string_view name, ValueKind kind,
                          std::vector<std::string> Options::*field, std::string_view placeholder,
                          std::string_view help) {
  OptionSpec s = spec(name, kind, true, placeholder, help);
  s.set = [field](Options& o, const Values& v) { o.*field = v; };
  s.get = [field](const Options& o) { return o.*field; };
  return s;
}

OptionSpec flag(std::string_view name, bool Options::*field, std::string_view help) {
  OptionSpec s = spec(name, ValueKind::flag, false, "", help);
  s.set = [field](Options& o, const Values& v) { o.*field = v.front() == "true"; };
  s.get = [field](const Options& o) { return Values{o.*field ? "true" : "false"}; };
  return s;
}

OptionSpec size_option(std::string_view name, std::uint64_t Options::*field,
                       std::string_view help) {
  OptionSpec s = spec(name, ValueKind::size, false, "SIZE", help);
  s.set = [field](Options& o, const Values& v) { o.*field = parse_size(v.front()); };
  s.get = [field](const Options& o) { return number(o.*field); };
  return s;
}

OptionSpec addresses_option(std::string_view name, std::vector<ListenAddress> Options::*field,
                            std::string_view help) {
  OptionSpec s = spec(name, ValueKind::address, true, "HOST:PORT", help);
  s.reload = false;
  s.set = [field](Options& o, const Values& v) {
    (o.*field).clear();
    for (const auto& a : v) (o.*field).push_back(parse_listen(a));
  };
  s.get = [field](const Options& o) { return addresses(o.*field); };
  return s;
}

// One entry per option, in the order --help shows them. Long on purpose: it is the table, and
// splitting it would scatter what this file exists to keep in one place.
std::vector<OptionSpec> build_table() {
  std::vector<OptionSpec> t;
  auto add = [&](OptionSpec s) { t.push_back(std::move(s)); };

  // --- serving ---
  {
    OptionSpec s = addresses_option(
        "listen", &Options::listen,
        "Address to listen on: HOST:PORT, [IPv6]:PORT, :PORT (all IPv4 addresses) or PORT "
        "(127.0.0.1); repeatable; port 0 picks a free port and logs it (default "
        "127.0.0.1:8000)");
    auto set = s.set;
    s.set = [set](Options& o, const Values& v) {
      set(o, v);
      o.listen_given = !v.empty();
    };
    add(s);
  }
  add(count("threads", &Options::io_threads, 1, 64, "N",
            "I/O threads (sockets, static files); 1 is enough for most sites"));
  add(count("workers", &Options::workers, 1, 256, "N",
            "Python worker threads. Under the GIL each extra thread costs about 2-3 MiB and makes "
            "CPU-bound pages slower; more workers pay off only when requests wait on I/O "
            "(databases, remote APIs)"));
  add(string_option(
      "app", ValueKind::text, &Options::app, "MODULE:CALLABLE",
      "The WSGI application to serve, as module:callable (e.g. myapp.wsgi:application); "
      "without --app or --root, the bundled demo"));
  add(strings_option("pythonpath", ValueKind::path, &Options::pythonpath, "DIR",
                     "Folder to put at the front of sys.path before importing --app (repeatable)"));
  {
    OptionSpec s = spec("static", ValueKind::mount, true, "URL_PREFIX=DIR",
                        "Serve files below DIR natively (without Python) under URL_PREFIX, e.g. "
                        "/static=/srv/site/static (repeatable)");
    s.set = [](Options& o, const Values& v) {
      o.statics.clear();
      for (const auto& m : v) o.statics.push_back(parse_static(m));
    };
    s.get = [](const Options& o) { return mounts(o.statics); };
    add(s);
  }
  add(size_option("max-body", &Options::max_body,
                  "Largest request body accepted; larger ones get 413"));
  {
    OptionSpec s =
        spec("max-header", ValueKind::size, false, "SIZE",
             "Largest request head (request line and headers, at most 256 fields); larger "
             "ones get 431 (414 when the request line alone is too long)",
             1024, 16 << 20);
    s.set = [](Options& o, const Values& v) {
      o.max_header = static_cast<std::uint32_t>(parse_size(v.front()));
    };
    s.get = [](const Options& o) { return number(o.max_header); };
    add(s);
  }
  add(count("header-timeout", &Options::header_timeout, 1, 3600, "SECONDS",
            "Seconds a client has to send a complete request head (then 408)"));
  add(count("keepalive-timeout", &Options::keepalive_timeout, 0, 3600, "SECONDS",
            "Seconds an idle keep-alive connection is kept open (0 disables keep-alive)"));
  add(count("io-timeout", &Options::io_timeout, 1, 3600, "SECONDS",
            "Seconds without progress while reading a body or writing a response"));
  add(count("shutdown-timeout", &Options::shutdown_timeout, 0, 3600, "SECONDS",
            "Seconds requests in flight may take to finish on SIGTERM/SIGINT"));
  add(count("queue", &Options::queue_size, 1, 1000000, "N",
            "Requests waiting for a Python worker before new ones get 503"));
  add(count("request-timeout", &Options::request_timeout, 0, 86400, "SECONDS",
            "Seconds a request may stay in Python; after that the client gets 504, the "
            "worker's Python stack goes to the error log and a TimeoutError is raised in it "
            "(0: no limit)"));
  add(count("max-connections", &Options::max_connections, 1, 1000000, "N",
            "Open client connections at most; beyond it new ones wait in the kernel's backlog "
            "until one ends (bounds memory: an idle connection costs a few KiB)"));
  add(count("file-cache", &Options::file_cache, 0, 100000, "N",
            "Static files kept open with their stat result (re-checked every second); 0 opens "
            "every file on every hit"));
  add(string_option("tmp-dir", ValueKind::directory, &Options::tmp_dir, "DIR",
                    "Where request bodies over 64 KiB are spooled (default $TMPDIR or /tmp)"));
  {
    OptionSpec s = spec("log-level", ValueKind::choice, false, "LEVEL",
                        "debug, info, warn or error", 0, 0, {"debug", "info", "warn", "error"});
    s.set = [](Options& o, const Values& v) {
      const std::string& l = v.front();
      o.log_level = l == "debug"   ? log::Level::debug
                    : l == "warn"  ? log::Level::warn
                    : l == "error" ? log::Level::error
                                   : log::Level::info;
    };
    s.get = [](const Options& o) {
      switch (o.log_level) {
        case log::Level::debug:
          return Values{"debug"};
        case log::Level::warn:
          return Values{"warn"};
        case log::Level::error:
          return Values{"error"};
        default:
          return Values{"info"};
      }
    };
    add(s);
  }

  // --- web2py ---
  add(string_option(
      "root", ValueKind::directory, &Options::root, "DIR",
      "Serve web2py from this folder (the one holding applications/ and gluon/), "
      "loading gluon.main.wsgibase in-process; its static files are served natively"));
  {
    OptionSpec s = string_option("default-app", ValueKind::text, &Options::default_app, "NAME",
                                 "web2py application whose static folder serves /favicon.ico "
                                 "and /robots.txt (default: init if it exists, else welcome)");
    // A default derived from the tree (init, else welcome) is not written back as given.
    s.get = [](const Options& o) { return o.default_app_derived ? Values{} : text(o.default_app); };
    auto set = s.set;
    s.set = [set](Options& o, const Values& v) {
      if (!is_web2py_name(v.front()))
        throw OptionError("'" + v.front() +
                          "' is not a web2py application name (letters, digits and _)");
      set(o, v);
    };
    add(s);
  }
  {
    OptionSpec s =
        spec("web2py-static", ValueKind::choice, false, "MODE",
             "Serve /<app>/static/... natively: auto (unless routes.py rewrites URLs), on, "
             "or off (web2py serves them)",
             0, 0, {"auto", "on", "off"});
    s.set = [](Options& o, const Values& v) {
      o.web2py_static = v.front() == "on"    ? Options::Web2pyStatic::on
                        : v.front() == "off" ? Options::Web2pyStatic::off
                                             : Options::Web2pyStatic::automatic;
    };
    s.get = [](const Options& o) {
      return Values{o.web2py_static == Options::Web2pyStatic::on    ? "on"
                    : o.web2py_static == Options::Web2pyStatic::off ? "off"
                                                                    : "auto"};
    };
    add(s);
  }
  {
    OptionSpec s =
        spec("web2py-compile", ValueKind::choice, false, "MODE",
             "cache: parsed and compiled views kept in memory while none of the files they read "
             "changes (web2py's compiled-app speed, edits still show at the next request; at most "
             "16 MiB, least recently used out); off: web2py parses and compiles each view per "
             "request, as it does by itself",
             0, 0, {"cache", "off"});
    s.set = [](Options& o, const Values& v) { o.web2py_view_cache = v.front() == "cache"; };
    s.get = [](const Options& o) { return Values{o.web2py_view_cache ? "cache" : "off"}; };
    add(s);
  }
  {
    OptionSpec s =
        strings_option("trusted-proxy", ValueKind::cidr, &Options::trusted_proxy_specs, "CIDR",
                       "Peer address or CIDR allowed to send X-Forwarded-For/-Proto/-Host "
                       "and Forwarded (repeatable); from anyone else those headers are "
                       "removed");
    auto set = s.set;
    s.set = [set](Options& o, const Values& v) {
      set(o, v);
      o.trusted_proxies = parse_cidrs(v, "--trusted-proxy");
    };
    add(s);
  }
  add(string_option("health-path", ValueKind::text, &Options::health_path, "PATH",
                    "For a load balancer's health checks (HAProxy option httpchk): PATH answers "
                    "200 while the node takes work, 503 while it drains for a stop or a reload "
                    "and while its request queue is full; from any peer (it says nothing else)"));
  add(count("drain-delay", &Options::drain_delay, 0, 3600, "SECONDS",
            "On SIGTERM or a reload, serve on this long with --health-path answering 503 before "
            "stopping or reloading, so the balancer takes the node out first (default 0: at "
            "once)"));
  add(flag("proxy-protocol", &Options::proxy_protocol,
           "The --listen addresses expect HAProxy's PROXY protocol (v1 or v2, e.g. HAProxy's "
           "send-proxy-v2): each connection must come from a --trusted-proxy and start with the "
           "header, whose client address, port and (v2) TLS are then the request's; anything "
           "else is cut"));
  {
    OptionSpec s = count("public-port", &Options::public_port, 0, 65535, "PORT",
                         "Port clients connect to, when it differs from the listening one (port "
                         "mapping, a proxy): used as SERVER_PORT (web2py's admin password file is "
                         "parameters_<port>.py); 0: the listening port");
    add(s);
  }

  // --- static files ---
  add(strings_option("x-sendfile", ValueKind::directory, &Options::x_sendfile_dirs, "DIR",
                     "Folder whose files the application may send by answering with an "
                     "X-Sendfile: /abs/path header (served natively, with ranges and 304s; "
                     "repeatable). Paths elsewhere get a 500"));
  {
    OptionSpec s =
        spec("x-accel", ValueKind::mount, true, "PREFIX=DIR",
             "Internal URL prefix and its folder for X-Accel-Redirect: /uri answers, e.g. "
             "/protected=/srv/files (repeatable; clients cannot request it directly)");
    s.set = [](Options& o, const Values& v) {
      o.x_accel.clear();
      for (const auto& m : v) o.x_accel.push_back(parse_static(m));
    };
    s.get = [](const Options& o) { return mounts(o.x_accel); };
    add(s);
  }
  {
    OptionSpec s =
        spec("compress-cache", ValueKind::directory, false, "DIR",
             "Compress static text files (gzip, brotli) on the fly into this folder, once "
             "per file version and never while a client waits (the first request is sent "
             "uncompressed); precompressed .br/.gz files next to a file are used first");
    s.set = [](Options& o, const Values& v) { o.compress.dir = v.front(); };
    s.get = [](const Options& o) { return text(o.compress.dir); };
    add(s);
  }
  {
    OptionSpec s = spec("compress-cache-size", ValueKind::size, false, "SIZE",
                        "Bound on the compression cache folder: the oldest entries go beyond it");
    s.set = [](Options& o, const Values& v) { o.compress.cache_bytes = parse_size(v.front()); };
    s.get = [](const Options& o) { return number(o.compress.cache_bytes); };
    add(s);
  }
  {
    OptionSpec s =
        spec("compress-types", ValueKind::mime, true, "TYPE",
             "MIME types compressed on the fly (\"text/\" for every text type; repeatable)");
    s.set = [](Options& o, const Values& v) { o.compress.types = v; };
    s.get = [](const Options& o) { return o.compress.types; };
    add(s);
  }
  {
    OptionSpec s = spec("compress-min-size", ValueKind::size, false, "SIZE",
                        "Smaller files and responses are not compressed on the fly");
    s.set = [](Options& o, const Values& v) { o.compress.min_size = parse_size(v.front()); };
    s.get = [](const Options& o) { return number(o.compress.min_size); };
    add(s);
  }

  {
    OptionSpec s =
        spec("compress-responses", ValueKind::choice, false, "MODE",
             "on: application responses of the compress-types (HTML, JSON, ...) from "
             "compress-min-size up are sent with brotli or gzip to clients that accept it, "
             "compressed by the worker as they are produced; off: as the application made them",
             0, 0, {"on", "off"});
    s.set = [](Options& o, const Values& v) { o.compress_responses = v.front() == "on"; };
    s.get = [](const Options& o) { return Values{o.compress_responses ? "on" : "off"}; };
    add(s);
  }

  add(flag("h2c", &Options::h2c,
           "Plain (not TLS) listeners also speak HTTP/2 to clients that start with its preface "
           "(\"prior knowledge\", e.g. curl --http2-prior-knowledge, or a proxy in front); "
           "HTTP/1.1 clients are served as before. libnghttp2 is loaded only then"));

  add(flag("no-http2", &Options::no_http2,
           "TLS listeners offer only HTTP/1.1 (by default they offer HTTP/2 first by ALPN, as "
           "lighttpd does, and libnghttp2 is loaded)"));

  // --- TLS ---
  add(string_option("tls-cert", ValueKind::path, &Options::tls_cert, "FILE",
                    "PEM certificate chain: the --listen addresses then speak TLS (1.2 and 1.3); "
                    "sites may have their own, chosen by SNI"));
  add(string_option("tls-key", ValueKind::path, &Options::tls_key, "FILE",
                    "PEM private key of --tls-cert"));
  add(addresses_option("http-listen", &Options::http_listen,
                       "With TLS: also serve plain HTTP here (repeatable)"));
  add(addresses_option("redirect-listen", &Options::redirect_listen,
                       "With TLS: plain HTTP here that redirects every request to HTTPS (ACME "
                       "/.well-known/acme-challenge/ excepted; repeatable)"));

  // --- automatic HTTPS (ACME) ---
  add(strings_option("domain", ValueKind::text, &Options::domains, "NAME",
                     "Get a certificate for NAME from an ACME CA (Let's Encrypt by default) and "
                     "renew it: the --listen addresses then speak TLS, --redirect-listen (or "
                     "--http-listen) answers the CA's HTTP-01 challenge. Repeatable: one "
                     "certificate for all the names"));
  add(string_option("acme-email", ValueKind::text, &Options::acme_email, "ADDRESS",
                    "Contact address given to the CA (expiry notices)"));
  add(flag("acme-agree-tos", &Options::acme_agree_tos,
           "Agree to the CA's terms of service (required with --domain: read them first)"));
  add(string_option("acme-directory", ValueKind::text, &Options::acme_directory, "URL",
                    "The CA's ACME directory (default: Let's Encrypt, "
                    "https://acme-v02.api.letsencrypt.org/directory)"));
  add(flag("acme-staging", &Options::acme_staging,
           "Use Let's Encrypt's staging CA (untrusted certificates, generous rate limits: for "
           "trying a setup)"));
  {
    OptionSpec s = spec("acme-challenge", ValueKind::choice, false, "TYPE",
                        "How the CA checks each name: http-01 (plain HTTP on port 80, answered "
                        "by --redirect-listen or --http-listen) or tls-alpn-01 (TLS on port 443, "
                        "answered by the --listen addresses), or auto (the default): http-01 "
                        "when there is a plain listener, else tls-alpn-01",
                        0, 0, {"auto", "http-01", "tls-alpn-01"});
    s.set = [](Options& o, const Values& v) {
      o.acme_challenge = v.front() == "auto" ? "" : v.front();
    };
    s.get = [](const Options& o) {
      return Values{o.acme_challenge.empty() ? "auto" : o.acme_challenge};
    };
    add(s);
  }
  add(string_option("acme-eab-kid", ValueKind::text, &Options::acme_eab_kid, "KID",
                    "External Account Binding, for CAs that require it (ZeroSSL, Google Trust "
                    "Services, company CAs): the key id the CA gave"));
  add(string_option("acme-eab-key-file", ValueKind::path, &Options::acme_eab_key_file, "FILE",
                    "External Account Binding: a file (readable by the service user) holding the "
                    "CA's HMAC key, base64url as the CA shows it"));
  add(string_option("acme-ca-root", ValueKind::path, &Options::acme_ca_root, "FILE",
                    "PEM file of the CA certificates that the ACME server's HTTPS is checked "
                    "against (a private or company CA); default: the system's"));
  add(string_option("acme-dir", ValueKind::path, &Options::acme_dir, "DIR",
                    "State folder for the account key and the certificates, created if needed "
                    "and owned by the service user (default /var/lib/w2pserve/acme)"));
  add(count("acme-renew-before", &Options::acme_renew_before, 0, 10LL * 365 * 86400, "SECONDS",
            "Renew a certificate this long before it expires (default 0: when a third of its "
            "lifetime is left, 30 days for Let's Encrypt's 90)"));

  // --- operations ---
  add(string_option("access-log", ValueKind::path, &Options::access_log, "FILE",
                    "Write an access log line per response (static hits too) to FILE; SIGUSR1 "
                    "reopens it"));
  {
    OptionSpec s =
        string_option("access-log-format", ValueKind::text, &Options::access_log_format, "FORMAT",
                      "combined, extended (combined + microseconds, static/app, site), "
                      "or fields such as '%h %t \"%r\" %>s %b %D %{served}x %v "
                      "%{Referer}i'");
    auto set = s.set;
    s.set = [set](Options& o, const Values& v) {
      try {
        AccessFormat check(v.front());
      } catch (const AccessLogFormatError& e) {
        throw OptionError(e.what());
      }
      set(o, v);
    };
    add(s);
  }
  add(string_option("error-log", ValueKind::path, &Options::error_log, "FILE",
                    "Send the error log (and Python's standard error) to FILE instead of "
                    "standard error; SIGUSR1 reopens it"));
  add(string_option("pidfile", ValueKind::path, &Options::pidfile, "FILE",
                    "Write the process id to FILE (removed at exit, unchanged across reloads)"));
  {
    OptionSpec s = string_option("user", ValueKind::text, &Options::user, "USER",
                                 "Started as root: bind the ports, open the logs, then run as "
                                 "USER (and its groups) before Python starts");
    s.reload = false;
    add(s);
  }
  {
    OptionSpec s = string_option("group", ValueKind::text, &Options::group, "GROUP",
                                 "With --user: the primary group (default: the user's)");
    s.reload = false;
    add(s);
  }
  {
    OptionSpec s = flag("allow-root", &Options::allow_root,
                        "Run Python as root (refused otherwise when started as root without "
                        "--user)");
    s.reload = false;
    add(s);
  }
  add(count("idle-exit", &Options::idle_exit, 0, 86400 * 30, "SECONDS",
            "Exit after SECONDS without any connection (with socket activation the next "
            "visitor starts it again); 0: never"));
  add(count("max-requests", &Options::max_requests, 0, INT64_MAX, "N",
            "Reload (in place, without dropping connections) after this many requests; 0: never"));
  add(size_option("max-rss", &Options::max_rss,
                  "Reload (in place, without dropping connections) when resident memory passes "
                  "SIZE; 0: never"));
  {
    OptionSpec s = strings_option("watch", ValueKind::path, &Options::watch, "FILE",
                                  "Reload when this file changes (e.g. routes.py; checked every "
                                  "second; repeatable); a relative path is the web2py folder's "
                                  "(--root)");
    s.from_root = true;
    add(s);
  }
  {
    OptionSpec s = string_option("status-path", ValueKind::text, &Options::status_path, "PATH",
                                 "URL of the status page (JSON; ?format=prometheus for "
                                 "Prometheus), answered only to loopback peers and "
                                 "--status-allow, never to proxied requests; \"\" turns it off");
    s.get = [](const Options& o) { return Values{o.status_path}; };  // "" means off: kept
    add(s);
  }
  {
    OptionSpec s =
        strings_option("status-allow", ValueKind::cidr, &Options::status_allow_specs, "CIDR",
                       "Peer address or CIDR, besides loopback, that may see the "
                       "status page (repeatable)");
    auto set = s.set;
    s.set = [set](Options& o, const Values& v) {
      set(o, v);
      o.status_allow = parse_cidrs(v, "--status-allow");
    };
    add(s);
  }

  add(flag("lean", &Options::lean,
           "Trade a little for memory: web2py's rarely used imports (other databases' drivers, "
           "IMAP, YAML, tar, ssl) run on first use, OpenSSL's digests are not loaded unless TLS "
           "is on (hashlib uses CPython's own), and Python's garbage collector runs when the "
           "server goes idle"));

  // --- cron and housekeeping (web2py) ---
  add(flag("cron", &Options::cron,
           "Run web2py's cron (applications/*/cron/crontab) inside this process: * and ** jobs in "
           "the interpreter, on one housekeeping thread; runs recorded in a SQLite ledger"));
  add(flag("cron-allow-exec", &Options::cron_allow_exec,
           "Also run crontab commands that are not web2py scripts (as a subprocess, no shell)"));
  add(count("cron-timeout", &Options::cron_timeout, 1, 86400 * 7, "SECONDS",
            "Seconds a cron job may run before TimeoutError is raised in it"));
  add(string_option("cron-ledger", ValueKind::path, &Options::cron_ledger, "FILE",
                    "SQLite file recording every cron run (default: <root>/w2pserve-cron.sqlite)"));
  add(string_option("cron-lock", ValueKind::text, &Options::cron_lock, "URL",
                    "Several nodes, one cron: a PostgreSQL URI (postgresql://user@host/db) the "
                    "nodes share; each job then runs once per slot across them (the slot claimed "
                    "in table w2pserve_cron_claims, which records the node; a run's lease ends "
                    "with its node's database session). Give the password in ~/.pgpass or "
                    "PGPASSWORD, not in the URI"));
  add(string_option("node-name", ValueKind::text, &Options::node_name, "NAME",
                    "This node's name in the cron claims (default: the host name)"));
  add(count("session-max-age", &Options::session_max_age, 0, 10LL * 365 * 86400, "SECONDS",
            "web2py: session files untouched this long are removed (the janitor runs at start "
            "and every 10 minutes; 0: never)"));
  add(count("ticket-max-age", &Options::ticket_max_age, 0, 10LL * 365 * 86400, "SECONDS",
            "web2py: error tickets older than this are removed (0: never)"));

  // --- the file itself ---
  {
    OptionSpec s = string_option("config", ValueKind::path, &Options::config_file, "FILE",
                                 "Read settings and [[site]] tables from this TOML file (see "
                                 "conf/w2pserve.toml); flags given on the command line override "
                                 "its values");
    s.in_file = false;
    add(s);
  }
  return t;
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = build_table();
  return table;
}

const OptionSpec* find_option(std::string_view name) {
  for (const auto& s : option_table())
    if (s.name == name) return &s;
  return nullptr;
}

const std::vector<SiteKeySpec>& site_keys() {
  static const std::vector<SiteKeySpec> keys = {
      {"name", "The site's name, for messages and the access log's %v", false},
      {"hosts", "Host names it answers: exact (example.com) or a wildcard (*.example.com)", false},
      {"host-regex", "PCRE2 patterns tested against the lower-case host, in file order", false},
      {"default", "true: this site takes requests whose Host names no site", false},
      {"default-app", "web2py: the application for URLs that name none of the site's", false},
      {"apps", "web2py: the only applications reachable on this site", false},
      {"static", "Folders served natively: [\"/prefix=DIR\"]", false},
      {"tls-cert", "The site's certificate (chosen by SNI among its hosts)", false},
      {"acme",
       "true: a certificate for the site's hosts from the ACME CA (as --domain: one "
       "certificate for all its hosts, exact names only)",
       false},
      {"tls-key", "The key of tls-cert", false},
      {"document-root", "Folder of \"static\" rewrite targets (default: root)", true},
      {"index", "Files served for a directory URL ending in /", true},
      {"access-deny", "URL path suffixes answered with 403 (every spelling of the path)", true},
      {"static-exclude", "Extensions never served as static files", true},
      {"cache", "Cache-Control/Expires rules for native static files", true},
      {"rewrite", "Rewrite rules, lighttpd url.rewrite-once style", true},
  };
  return keys;
}

}  // namespace w2p::server
