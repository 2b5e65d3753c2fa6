#include "server/config/options.hpp"

#include "server/ops/access_log.hpp"
#include "server/config/config_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

namespace w2p::server {
namespace {

std::uint16_t parse_port(const std::string& s, const std::string& spec) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    throw OptionError("--listen " + spec + ": the port must be a number from 0 to 65535");
  unsigned long v = std::stoul(s);
  if (v > 65535) throw OptionError("--listen " + spec + ": the port must be from 0 to 65535");
  return static_cast<std::uint16_t>(v);
}

}  // namespace

ListenAddress parse_listen(const std::string& spec) {
  ListenAddress a;
  if (spec.empty()) throw OptionError("--listen: empty address (write HOST:PORT, e.g. 127.0.0.1:8000)");
  if (spec[0] == '[') {
    size_t close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
      throw OptionError("--listen " + spec + ": write an IPv6 address as [ADDR]:PORT");
    a.host = spec.substr(1, close - 1);
    a.port = parse_port(spec.substr(close + 2), spec);
  } else {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos) {
      a.host = "127.0.0.1";
      a.port = parse_port(spec, spec);
    } else {
      if (spec.find(':') != colon)
        throw OptionError("--listen " + spec + ": write an IPv6 address as [ADDR]:PORT");
      a.host = colon == 0 ? "0.0.0.0" : spec.substr(0, colon);
      a.port = parse_port(spec.substr(colon + 1), spec);
    }
  }
  if (a.host == "localhost") a.host = "127.0.0.1";
  return a;
}

std::optional<std::string> real_directory(const std::string& path) {
  char resolved[PATH_MAX];
  struct stat st {};
  if (path.empty() || !::realpath(path.c_str(), resolved) || ::stat(resolved, &st) != 0 ||
      !S_ISDIR(st.st_mode))
    return std::nullopt;
  return std::string(resolved);
}

std::vector<Cidr> parse_cidrs(const std::vector<std::string>& specs, const std::string& what) {
  std::vector<Cidr> out;
  for (const auto& spec : specs) {
    auto c = parse_cidr(spec);
    if (!c)
      throw OptionError(what + " " + spec + ": not an IP address or CIDR (write e.g. 10.0.0.0/8 or ::1)");
    out.push_back(*c);
  }
  return out;
}

StaticMount parse_static(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || spec[0] != '/')
    throw OptionError("--static " + spec + ": write URL_PREFIX=DIR, e.g. /static=/srv/www/static");
  StaticMount m;
  m.prefix = spec.substr(0, eq);
  while (m.prefix.size() > 1 && m.prefix.back() == '/') m.prefix.pop_back();
  if (m.prefix == "/") m.prefix.clear();
  std::string dir = spec.substr(eq + 1);
  auto resolved = real_directory(dir);
  if (!resolved) throw OptionError("--static " + spec + ": '" + dir + "' is not a readable directory");
  m.dir = *resolved;
  return m;
}

std::uint64_t parse_size(const std::string& spec) {
  if (spec.empty()) throw OptionError("empty size");
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(spec, &pos);
  } catch (const std::exception&) {
    throw OptionError("'" + spec + "' is not a size (write bytes, or a number with k, M or G)");
  }
  std::string unit = spec.substr(pos);
  unsigned long long mult = 1;
  if (unit.empty()) mult = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB") mult = 1ULL << 10;
  else if (unit == "m" || unit == "M" || unit == "MiB") mult = 1ULL << 20;
  else if (unit == "g" || unit == "G" || unit == "GiB") mult = 1ULL << 30;
  else throw OptionError("'" + spec + "' is not a size (write bytes, or a number with k, M or G)");
  if (spec[0] == '-') throw OptionError("'" + spec + "' is not a size (it is negative)");
  // No silent wrap-around: "17179869184G" is not 0.
  if (v > (std::uint64_t{1} << 62) / mult)
    throw OptionError("'" + spec + "' is too large (at most 4611686018427387904 bytes, 4294967296G)");
  return v * mult;
}

ParseOutcome parse_options(int argc, char** argv) {
  ParseOutcome outcome;
  Options o;
  CLI::App cli{
      "w2pserve: one process that serves a WSGI application (web2py or any other) in an "
      "embedded CPython,\nwith static files served natively. With neither --app nor --root it "
      "serves a bundled demo."};
  cli.set_version_flag("--version", std::string("w2pserve ") + W2P_VERSION);
  cli.get_formatter()->column_width(34);

  RawSettings raw;
  std::vector<std::string>& listen = raw.listen;
  std::vector<std::string>& statics = raw.statics;
  std::string& max_body = raw.max_body;
  std::string& max_header = raw.max_header;
  // The file is read first, into the variables the flags write to: a flag given on the
  // command line then replaces the file's value.
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--config" || a == "check-config") && i + 1 < argc) config_path = argv[i + 1];
    else if (a.starts_with("--config=")) config_path = std::string(a.substr(9));
  }
  if (!config_path.empty()) {
    try {
      load_config_file(config_path, o, raw);
    } catch (const std::exception& e) {
      outcome.text = std::string("w2pserve: error: ") + e.what() + "\n";
      outcome.exit_code = 2;
      return outcome;
    }
  }
  cli.add_option("--listen", listen,
                 "Address to listen on, HOST:PORT or [IPv6]:PORT (repeatable; default "
                 "127.0.0.1:8000; port 0 picks a free port and logs it)")
      ->type_name("HOST:PORT");
  cli.add_option("--app", o.app,
                 "The WSGI application to serve, as module:callable (e.g. myapp.wsgi:application)")
      ->type_name("MODULE:CALLABLE");
  cli.add_option("--pythonpath", o.pythonpath,
                 "Folder to put at the front of sys.path before importing --app (repeatable)")
      ->type_name("DIR");
  cli.add_option("--static", statics,
                 "Serve files below DIR natively (without Python) under URL_PREFIX, e.g. "
                 "/static=/srv/site/static (repeatable)")
      ->type_name("URL_PREFIX=DIR");
  cli.add_option("--threads", o.io_threads,
                 "I/O threads (sockets, static files); 1 is enough for most sites")
      ->type_name("N")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cli.add_option("--workers", o.workers,
                 "Python worker threads. Under the GIL each extra thread costs about 2-3 MiB and "
                 "makes CPU-bound pages slower; more workers pay off only when requests wait on "
                 "I/O (databases, remote APIs)")
      ->type_name("N")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cli.add_option("--max-body", max_body,
                 "Largest request body accepted (bytes, or with k/M/G); larger ones get 413")
      ->type_name("SIZE")
      ->capture_default_str();
  cli.add_option("--max-header", max_header, "Largest request head (request line + headers); "
                                             "larger ones get 431")
      ->type_name("SIZE")
      ->capture_default_str();
  cli.add_option("--header-timeout", o.header_timeout,
                 "Seconds a client has to send a complete request head (slow clients are cut)")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cli.add_option("--keepalive-timeout", o.keepalive_timeout,
                 "Seconds an idle keep-alive connection is kept open (0 disables keep-alive)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cli.add_option("--io-timeout", o.io_timeout,
                 "Seconds without progress while reading a body or writing a response")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cli.add_option("--shutdown-timeout", o.shutdown_timeout,
                 "Seconds to let in-flight requests finish on SIGTERM/SIGINT")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cli.add_option("--queue", o.queue_size,
                 "Requests waiting for a Python worker before new ones get 503")
      ->type_name("N")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cli.add_option("--request-timeout", o.request_timeout,
                 "Seconds a request may stay in Python; after that the client gets 504, the "
                 "worker's Python stack goes to the error log and a TimeoutError is raised in it "
                 "(0: no limit)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  cli.add_option("--max-connections", o.max_connections,
                 "Open client connections at most; beyond it new ones wait in the kernel's "
                 "backlog until one ends (bounds memory: an idle connection costs a few KiB)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cli.add_option("--file-cache", o.file_cache,
                 "Static files kept open with their stat result (re-checked every second); "
                 "0 opens every file on every hit")
      ->type_name("N")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cli.add_option("--tmp-dir", o.tmp_dir,
                 "Where request bodies over 64 KiB are spooled (default $TMPDIR or /tmp)")
      ->type_name("DIR");
  cli.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cli.add_option("--root", o.root,
                 "Serve web2py from this folder (the one holding applications/ and gluon/), "
                 "loading gluon.main.wsgibase in-process; its static files are served natively")
      ->type_name("DIR");
  cli.add_option("--default-app", o.default_app,
                 "web2py application whose static folder serves /favicon.ico and /robots.txt "
                 "(default: init if it exists, else welcome)")
      ->type_name("NAME");
  cli.add_option("--web2py-static", o.web2py_static,
                 "Serve /<app>/static/... natively: auto (on unless routes.py rewrites URLs), "
                 "on, or off (web2py serves them)")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cli.add_option("--trusted-proxy", o.trusted_proxy_specs,
                 "Peer address or CIDR allowed to send X-Forwarded-For/-Proto/-Host and "
                 "Forwarded (repeatable); from anyone else those headers are removed")
      ->type_name("CIDR");
  cli.add_option("--public-port", o.public_port,
                 "Port clients connect to, when it differs from the listening one (port "
                 "mapping, a proxy): used as SERVER_PORT (web2py's admin password file is "
                 "parameters_<port>.py)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  std::vector<std::string> x_sendfile, x_accel;
  cli.add_option("--x-sendfile", x_sendfile,
                 "Folder whose files the application may send by answering with an "
                 "X-Sendfile: /abs/path header (served natively, with ranges and 304s; "
                 "repeatable). Paths elsewhere get a 500")
      ->type_name("DIR");
  cli.add_option("--x-accel", x_accel,
                 "Internal URL prefix and its folder for X-Accel-Redirect: /uri answers, e.g. "
                 "/protected=/srv/files (repeatable; clients cannot request it directly)")
      ->type_name("PREFIX=DIR");
  std::string max_rss;
  std::vector<std::string> http_listen, redirect_listen;
  cli.add_option("--tls-cert", o.tls_cert,
                 "PEM certificate chain: the --listen addresses then speak TLS (1.2 and 1.3); "
                 "sites may have their own, chosen by SNI")
      ->type_name("FILE");
  cli.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")->type_name("FILE");
  cli.add_option("--http-listen", http_listen,
                 "With TLS: also serve plain HTTP here (repeatable)")
      ->type_name("HOST:PORT");
  cli.add_option("--redirect-listen", redirect_listen,
                 "With TLS: plain HTTP here that redirects every request to HTTPS (ACME "
                 "/.well-known/acme-challenge/ excepted; repeatable)")
      ->type_name("HOST:PORT");
  cli.add_option("--access-log", o.access_log,
                 "Write an access log line per response (static hits too) to FILE; SIGUSR1 "
                 "reopens it")
      ->type_name("FILE");
  cli.add_option("--access-log-format", o.access_log_format,
                 "combined, extended (combined + microseconds, static/app, site), or fields "
                 "such as '%h %t \"%r\" %>s %b %D %{served}x %v %{Referer}i'")
      ->type_name("FORMAT")
      ->capture_default_str();
  cli.add_option("--error-log", o.error_log,
                 "Send the error log (and Python's standard error) to FILE instead of standard "
                 "error; SIGUSR1 reopens it")
      ->type_name("FILE");
  cli.add_option("--pidfile", o.pidfile, "Write the process id to FILE (removed at exit)")
      ->type_name("FILE");
  cli.add_option("--user", o.user,
                 "Started as root: bind the ports, open the logs, then run as USER (and its "
                 "groups) before Python starts")
      ->type_name("USER");
  cli.add_option("--group", o.group, "With --user: the primary group (default: the user's)")
      ->type_name("GROUP");
  cli.add_flag("--allow-root", o.allow_root,
               "Run Python as root (refused otherwise when started as root without --user)");
  cli.add_option("--idle-exit", o.idle_exit,
                 "Exit after SECONDS without any connection (with socket activation the next "
                 "visitor starts it again)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 86400 * 30));
  cli.add_option("--max-requests", o.max_requests,
                 "Reload (in place, without dropping connections) after this many requests")
      ->type_name("N");
  cli.add_option("--max-rss", max_rss,
                 "Reload (in place, without dropping connections) when resident memory passes "
                 "SIZE")
      ->type_name("SIZE");
  cli.add_option("--watch", o.watch,
                 "Reload when this file changes (e.g. routes.py; checked every 2 seconds; "
                 "repeatable)")
      ->type_name("FILE");
  cli.add_option("--status-path", o.status_path,
                 "URL of the status page (JSON; ?format=prometheus for Prometheus), answered "
                 "only to loopback peers and --status-allow; \"\" turns it off")
      ->type_name("PATH")
      ->capture_default_str();
  cli.add_option("--status-allow", o.status_allow_specs,
                 "Peer address or CIDR, besides loopback, that may see the status page "
                 "(repeatable)")
      ->type_name("CIDR");
  cli.add_flag("--cron", o.cron,
               "Run web2py's cron (applications/*/cron/crontab) inside this process: * and ** "
               "jobs in the interpreter, on one housekeeping thread; runs recorded in a SQLite "
               "ledger");
  cli.add_flag("--cron-allow-exec", o.cron_allow_exec,
               "Also run crontab commands that are not web2py scripts (as a subprocess, no shell)");
  cli.add_option("--cron-timeout", o.cron_timeout,
                 "Seconds a cron job may run before TimeoutError is raised in it")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 86400 * 7))
      ->capture_default_str();
  cli.add_option("--cron-ledger", o.cron_ledger,
                 "SQLite file recording every cron run (default: <root>/w2pserve-cron.sqlite)")
      ->type_name("FILE");
  cli.add_option("--session-max-age", o.session_max_age,
                 "web2py: session files untouched this long are removed (hourly janitor; 0: never)")
      ->type_name("SECONDS")
      ->capture_default_str();
  cli.add_option("--ticket-max-age", o.ticket_max_age,
                 "web2py: error tickets older than this are removed (0: never)")
      ->type_name("SECONDS")
      ->capture_default_str();
  std::string compress_size;
  cli.add_option("--compress-cache", o.compress.dir,
                 "Compress static text files (gzip, brotli) on the fly into this folder, once "
                 "per file version and never while a client waits (the first request is sent "
                 "uncompressed); precompressed .br/.gz files next to a file are used first")
      ->type_name("DIR");
  cli.add_option("--compress-cache-size", compress_size,
                 "Bound on that folder: the oldest entries go beyond it (default 64M)")
      ->type_name("SIZE");
  cli.add_option("--config", config_path,
                 "Read settings and [[site]] tables from this TOML file (see conf/w2pserve.toml); "
                 "flags given on the command line override its values")
      ->type_name("FILE");
  std::string check_path;
  CLI::App* check = cli.add_subcommand(
      "check-config",
      "Read FILE (and any other flags), report the first error with its file, line and key, "
      "or print the effective configuration; then exit (0: valid, 2: not)");
  check->add_option("file", check_path, "The configuration file")->required()->type_name("FILE");
  CLI::App* import = cli.add_subcommand(
      "import-lighttpd",
      "Print a lighttpd.conf (the classic web2py set-up) as w2pserve TOML, with a comment for "
      "each directive it could not carry over; then exit");
  import->add_option("file", o.import_lighttpd, "The lighttpd configuration file")
      ->required()
      ->type_name("FILE");
  CLI::App* cron_cmd = cli.add_subcommand(
      "cron", "web2py cron without a server: `cron list` prints every job with its next and last "
              "run; `cron run APP LINE` runs the job on that crontab line now. Needs --root");
  cron_cmd->require_subcommand(1);
  CLI::App* cron_list = cron_cmd->add_subcommand("list", "Jobs, next run, last run (from the ledger)");
  CLI::App* cron_run = cron_cmd->add_subcommand("run", "Run one job now, in this process; exit 0 when it succeeded");
  cron_run->add_option("app", o.cron_app, "The application")->required();
  cron_run->add_option("line", o.cron_line, "The job's line in applications/APP/cron/crontab")->required();
  CLI::App* admin = cli.add_subcommand(
      "set-admin-password",
      "Write web2py's admin password (read from the terminal, or from stdin when it is not "
      "one) to parameters_<port>.py with gluon.main.save_password, then exit. Needs --root.");
  admin->add_option("--port", o.admin_port,
                    "The port users connect to (default: --public-port, else the first "
                    "--listen port)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));

  try {
    cli.parse(argc, argv);
    // Where a value came from, for messages: the flag, or the file's line.
    auto origin = [&](const std::string& key) {
      if (cli.count("--" + key) == 0)
        for (const auto& [k, line] : o.config_lines)
          if (k == key) return o.config_file + ":" + std::to_string(line) + ": " + key;
      return "--" + key;
    };
    o.check_config = check->parsed();
    if (cron_list->parsed()) o.cron_command = "list";
    if (cron_run->parsed()) o.cron_command = "run";
    if (import->parsed()) {
      outcome.options = std::move(o);
      return outcome;
    }
    for (const auto& l : listen) o.listen.push_back(parse_listen(l));
    if (o.listen.empty()) o.listen.push_back({"127.0.0.1", 8000});
    for (const auto& s : statics) o.statics.push_back(parse_static(s));
    if (!max_rss.empty()) {
      try {
        o.max_rss = parse_size(max_rss);
      } catch (const OptionError& e) {
        throw OptionError(std::string("--max-rss: ") + e.what());
      }
    }
    o.listen_given = !listen.empty();
    try {
      AccessFormat check(o.access_log_format);
    } catch (const AccessLogFormatError& e) {
      throw OptionError(origin("access-log-format") + ": " + e.what());
    }
    o.status_allow = parse_cidrs(o.status_allow_specs, origin("status-allow"));
    if (!o.status_path.empty() && o.status_path[0] != '/')
      throw OptionError(origin("status-path") + " " + o.status_path + ": write a path starting with /");
    if (!http_listen.empty()) o.http_listen.clear();
    for (const auto& l : http_listen) o.http_listen.push_back(parse_listen(l));
    if (!redirect_listen.empty()) o.redirect_listen.clear();
    for (const auto& l : redirect_listen) o.redirect_listen.push_back(parse_listen(l));
    if (o.tls_cert.empty() != o.tls_key.empty())
      throw OptionError(std::string(o.tls_cert.empty() ? origin("tls-key") : origin("tls-cert")) +
                        ": TLS needs both --tls-cert and --tls-key");
    if (o.tls_cert.empty() && (!o.http_listen.empty() || !o.redirect_listen.empty())) {
      bool site_certs = false;
      for (const auto& s : o.sites) site_certs = site_certs || !s.tls_cert.empty();
      if (!site_certs)
        throw OptionError("--http-listen and --redirect-listen go with TLS: give --tls-cert and "
                          "--tls-key (the --listen addresses then speak TLS)");
    }
    for (const auto& s : o.sites)
      if (s.tls_cert.empty() != s.tls_key.empty())
        throw OptionError(s.file + ":" + std::to_string(s.line) + ": site '" + s.name +
                          "': TLS needs both tls-cert and tls-key");
    if (!o.cron_command.empty() && o.root.empty())
      throw OptionError("cron " + o.cron_command + " needs --root (the web2py folder)");
    if (!o.cron_command.empty() && o.cron_ledger.empty()) o.cron_ledger = o.root + "/w2pserve-cron.sqlite";
    if (o.cron && o.root.empty())
      throw OptionError("--cron runs web2py's cron: it needs --root (the web2py folder)");
    if (o.cron && o.cron_ledger.empty()) o.cron_ledger = o.root + "/w2pserve-cron.sqlite";
    if (!o.group.empty() && o.user.empty())
      throw OptionError("--group needs --user (the account to run as)");
    if (!compress_size.empty()) {
      try {
        o.compress.cache_bytes = parse_size(compress_size);
      } catch (const OptionError& e) {
        throw OptionError(std::string("--compress-cache-size: ") + e.what());
      }
    }
    if (!o.compress.dir.empty()) {
      auto resolved = real_directory(o.compress.dir);
      if (!resolved)
        throw OptionError(origin("compress-cache") + " " + o.compress.dir + ": not a directory");
      if (::access(resolved->c_str(), W_OK | X_OK) != 0)
        throw OptionError(origin("compress-cache") + " " + o.compress.dir +
                          ": not writable by this process");
      o.compress.dir = *resolved;
    }
    if (cli.count("--x-sendfile") > 0) o.x_sendfile_dirs.clear();
    for (const auto& d : x_sendfile) {
      auto resolved = real_directory(d);
      if (!resolved) throw OptionError("--x-sendfile " + d + ": not a directory");
      o.x_sendfile_dirs.push_back(*resolved);
    }
    if (cli.count("--x-accel") > 0) o.x_accel.clear();
    for (const auto& spec : x_accel) {
      try {
        o.x_accel.push_back(parse_static(spec));
      } catch (const OptionError& e) {
        std::string msg = e.what();
        throw OptionError("--x-accel" + msg.substr(std::string("--static").size()));
      }
    }
    try {
      o.max_body = parse_size(max_body);
    } catch (const OptionError& e) {
      throw OptionError(std::string("--max-body: ") + e.what());
    }
    try {
      std::uint64_t h = parse_size(max_header);
      if (h < 1024 || h > (16u << 20))
        throw OptionError("must be between 1k and 16M");
      o.max_header = static_cast<std::uint32_t>(h);
    } catch (const OptionError& e) {
      throw OptionError(std::string("--max-header: ") + e.what());
    }
    o.set_admin_password = admin->parsed();
    o.trusted_proxies = parse_cidrs(o.trusted_proxy_specs, "--trusted-proxy");
    if (!o.root.empty()) {
      if (!o.app.empty())
        throw OptionError("--root and --app together: --root serves web2py, --app any other "
                          "WSGI application; choose one");
      auto resolved = real_directory(o.root);
      if (!resolved) throw OptionError(origin("root") + " " + o.root + ": no such directory");
      o.root = *resolved;
      struct stat as {};
      if (::stat((o.root + "/applications").c_str(), &as) != 0 || !S_ISDIR(as.st_mode))
        throw OptionError(origin("root") + " " + o.root +
                          ": not a web2py folder (it has no applications/ directory)");
      if (::stat((o.root + "/gluon/main.py").c_str(), &as) != 0)
        throw OptionError(origin("root") + " " + o.root +
                          ": not a web2py folder (it has no gluon/main.py)");
      if (o.default_app.empty()) {
        o.default_app = ::stat((o.root + "/applications/init").c_str(), &as) == 0 ? "init" : "welcome";
      }
    } else if (o.set_admin_password) {
      throw OptionError("set-admin-password needs --root DIR (the web2py folder)");
    }
    if (!o.app.empty() && o.app.find(':') == std::string::npos)
      throw OptionError(origin("app") + " " + o.app + ": write module:callable, e.g. " + o.app +
                        ":application");
    if (o.tmp_dir.empty()) {
      const char* t = std::getenv("TMPDIR");
      o.tmp_dir = (t && *t) ? t : "/tmp";
    }
    struct stat st {};
    if (::stat(o.tmp_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw OptionError("--tmp-dir " + o.tmp_dir + ": not a directory");
    check_sites(o);
  } catch (const CLI::CallForHelp&) {
    outcome.text = cli.help();
    outcome.exit_code = 0;
    return outcome;
  } catch (const CLI::CallForVersion&) {
    outcome.text = std::string("w2pserve ") + W2P_VERSION + "\n";
    outcome.exit_code = 0;
    return outcome;
  } catch (const CLI::ParseError& e) {
    outcome.text = std::string("w2pserve: error: ") + e.what() + " (see w2pserve --help)\n";
    outcome.exit_code = 2;
    return outcome;
  } catch (const OptionError& e) {
    outcome.text = std::string("w2pserve: error: ") + e.what() + "\n";
    outcome.exit_code = 2;
    return outcome;
  } catch (const std::exception& e) {
    // Whatever else a checker throws (a number out of range, a bad pattern) is a refusal of
    // this configuration, never the end of a running server's reload.
    outcome.text = std::string("w2pserve: error: ") + e.what() + "\n";
    outcome.exit_code = 2;
    return outcome;
  }
  outcome.options = std::move(o);
  return outcome;
}

}  // namespace w2p::server
