#pragma once
// Command-line options (CLI11): what the user asked for, validated, with the defaults in one
// place. Parsing never exits the process itself; main() decides.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/http/trusted_proxy.hpp"
#include "server/log.hpp"
#include "server/routing/site.hpp"
#include "server/static/compress_cache.hpp"
#include "server/static/static_files.hpp"

namespace w2p::server {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 address, no brackets
  std::uint16_t port = 0;
};

struct Options {
  std::vector<ListenAddress> listen;
  unsigned io_threads = 1;
  unsigned workers = 1;
  std::string app;  // "module:callable"; empty means the bundled demo (or --root)
  std::vector<std::string> pythonpath;
  std::vector<StaticMount> statics;
  std::uint64_t max_body = 2ULL << 30;
  std::uint32_t max_header = 64 * 1024;
  std::uint32_t max_uri = 8 * 1024;
  std::uint32_t spool_threshold = 64 * 1024;
  std::string tmp_dir;
  unsigned header_timeout = 20;
  unsigned keepalive_timeout = 15;
  unsigned io_timeout = 60;
  unsigned shutdown_timeout = 30;
  unsigned queue_size = 1024;
  unsigned max_connections = 10000;
  unsigned request_timeout = 0;  // seconds a request may stay in Python; 0 = no limit
  unsigned file_cache = 128;     // open static files kept (0: open every time)
  log::Level log_level = log::Level::info;

  // web2py
  std::string root;                  // the web2py folder (holds applications/ and gluon/); absolute
  std::string default_app;           // for /favicon.ico and /robots.txt
  bool default_app_derived = false;  // not given: init if it exists, else welcome
  // Native web2py static files: on unless routes.py rewrites URLs, always, never.
  enum class Web2pyStatic { automatic, on, off } web2py_static = Web2pyStatic::automatic;
  bool web2py_view_cache = true;  // --web2py-compile cache|off
  bool lean = false;              // --lean
  bool h2c = false;               // --h2c: plain listeners also speak HTTP/2 (prior knowledge)
  bool no_http2 = false;          // --no-http2: TLS listeners offer only http/1.1 by ALPN
  std::vector<Cidr> trusted_proxies;
  std::vector<std::string> trusted_proxy_specs;
  std::uint16_t public_port = 0;  // SERVER_PORT override; 0 = the port the client connected to

  // X-Sendfile: folders whose files an application may hand over by absolute path; and
  // X-Accel-Redirect: internal URL prefixes (not reachable by clients) mapped to folders.
  std::vector<std::string> x_sendfile_dirs;
  std::vector<StaticMount> x_accel;

  // On-the-fly compression of static files into a cache folder (off without a folder).
  CompressSettings compress;
  // Application responses of the compress-types compressed (gzip or brotli) as they are sent.
  bool compress_responses = true;

  // TLS: with a certificate, the --listen addresses speak TLS; --http-listen adds plain HTTP
  // ones and --redirect-listen plain ones that send clients to HTTPS.
  std::string tls_cert, tls_key;
  std::vector<ListenAddress> http_listen, redirect_listen;

  // The --listen addresses expect a PROXY protocol header (v1 or v2) from a trusted proxy.
  bool proxy_protocol = false;
  // For a load balancer: the path answering 200 while this node takes work, 503 while it
  // drains (a stop, a reload) or its request queue is full. Empty: none.
  std::string health_path;
  // On SIGTERM: seconds of serving on with the health path at 503 before the stop begins, so
  // the balancer takes the node out before its connections close.
  unsigned drain_delay = 0;

  // Automatic HTTPS (server/acme/): certificates for these names from an ACME CA.
  std::vector<std::string> domains;
  std::string acme_email;
  bool acme_agree_tos = false;
  std::string acme_directory;  // empty: Let's Encrypt (production, or staging with the flag)
  bool acme_staging = false;
  std::string acme_challenge;  // "http-01" or "tls-alpn-01"; empty: http-01 with a plain listener
  std::string acme_ca_root;    // trust for the CA's HTTPS (a private ACME CA)
  std::string acme_eab_kid, acme_eab_key_file;  // External Account Binding (ZeroSSL, Google...)
  std::string acme_dir = "/var/lib/w2pserve/acme";
  std::uint64_t acme_renew_before = 0;  // seconds; 0: a third of the certificate's lifetime
  // The certificates automatic HTTPS manages: --domain's names, then each acme = true site's
  // hosts (lower-case, in order). Empty: no ACME.
  std::vector<std::vector<std::string>> acme_certificates() const;

  // Logs.
  std::string access_log;  // path; empty: no access log
  std::string access_log_format = "combined";
  std::string error_log;  // path; empty: standard error

  // Operations.
  bool listen_given = false;  // --listen (or listen in the file) was given
  std::string pidfile;
  std::string user, group;  // drop to these after binding, before Python starts
  bool allow_root = false;
  unsigned idle_exit = 0;          // seconds without connections before exiting (0: never)
  std::uint64_t max_requests = 0;  // reload after this many requests (0: never)
  std::uint64_t max_rss = 0;       // reload when resident memory passes this (bytes; 0: never)
  std::vector<std::string> watch;  // reload when one of these files changes

  // Cron and housekeeping (web2py).
  bool cron = false;
  bool cron_allow_exec = false;
  unsigned cron_timeout = 3600;
  std::string cron_ledger;  // default: <root>/w2pserve-cron.sqlite
  std::string cron_lock;    // a PostgreSQL URI: each job once per slot across the nodes
  std::string node_name;    // this node, in the cron claims (default: the host name)
  std::uint64_t session_max_age = 7 * 86400;
  std::uint64_t ticket_max_age = 30 * 86400;

  // /server-status: the path (empty: off) and who may see it besides loopback peers.
  std::string status_path = "/server-status";
  std::vector<Cidr> status_allow;
  std::vector<std::string> status_allow_specs;

  // Sites (--config): [[site]] tables, and the default site made of the top-level settings.
  std::string config_file;
  std::vector<SiteSpec> sites;
  SiteSpec global_site;

  // What to do: serve, or one of the subcommands.
  enum class Command {
    serve,
    check_config,
    import_lighttpd,
    cron_list,
    cron_run,
    set_admin_password,
    memory_report
  };
  Command command = Command::serve;
  std::string command_file;  // check-config FILE, import-lighttpd FILE, memory-report [URL]
  std::string cron_app;      // cron run APP LINE
  int cron_line = 0;
  std::uint16_t admin_port =
      0;  // set-admin-password --port (0: --public-port, else the first --listen port)
};

class OptionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What parse_options decided: run the server, or print text and exit with a code.
struct ParseOutcome {
  std::optional<Options> options;
  std::string text;  // --help / --version output, or the error message
  int exit_code = 0;
};

ParseOutcome parse_options(int argc, char** argv);

// "127.0.0.1:8000", "[::1]:8000", ":8000", "8000"; throws OptionError.
ListenAddress parse_listen(const std::string& spec);
// "/static=/srv/files"; the folder must exist. Throws OptionError.
StaticMount parse_static(const std::string& spec);
// The canonical path of an existing directory, or nullopt.
std::optional<std::string> real_directory(const std::string& path);

// Parses each spec (an address or CIDR); throws OptionError "<what> SPEC: ..." for a bad one.
std::vector<Cidr> parse_cidrs(const std::vector<std::string>& specs, const std::string& what);

// "64k", "10M", "2G" or plain bytes. Throws OptionError.
std::uint64_t parse_size(const std::string& spec);

}  // namespace w2p::server
