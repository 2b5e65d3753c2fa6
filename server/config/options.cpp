#include "server/config/options.hpp"

#include "server/config/config_file.hpp"
#include "server/config/man_page.hpp"
#include "server/config/option_table.hpp"
#include "server/ops/access_log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
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
  if (spec.empty())
    throw OptionError("--listen: empty address (write HOST:PORT, e.g. 127.0.0.1:8000)");
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
      throw OptionError(what + " " + spec +
                        ": not an IP address or CIDR (write e.g. 10.0.0.0/8 or ::1)");
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
  if (!resolved)
    throw OptionError("--static " + spec + ": '" + dir + "' is not a readable directory");
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
  if (unit.empty())
    mult = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB")
    mult = 1ULL << 10;
  else if (unit == "m" || unit == "M" || unit == "MiB")
    mult = 1ULL << 20;
  else if (unit == "g" || unit == "G" || unit == "GiB")
    mult = 1ULL << 30;
  else
    throw OptionError("'" + spec + "' is not a size (write bytes, or a number with k, M or G)");
  if (spec[0] == '-') throw OptionError("'" + spec + "' is not a size (it is negative)");
  // No silent wrap-around: "17179869184G" is not 0.
  if (v > (std::uint64_t{1} << 62) / mult)
    throw OptionError("'" + spec +
                      "' is too large (at most 4611686018427387904 bytes, 4294967296G)");
  return v * mult;
}

std::vector<std::vector<std::string>> Options::acme_certificates() const {
  std::vector<std::vector<std::string>> out;
  if (!domains.empty()) out.push_back(domains);
  for (const auto& s : sites) {
    if (!s.acme) continue;
    std::vector<std::string> hosts;
    for (std::string h : s.hosts) {
      std::transform(h.begin(), h.end(), h.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      hosts.push_back(h);
    }
    out.push_back(hosts);
  }
  return out;
}

namespace {

std::string folder_of(const std::string& file) {
  std::size_t slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : file.substr(0, slash);
}

// Where relative paths given on the command line are taken from: the folder the server was
// started in (a reload's image runs from the web2py folder).
std::string current_folder() {
  if (const char* start = std::getenv("W2PSERVE_START_DIR")) return start;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof cwd) ? cwd : ".";
}

// Unknown flags are refused with the closest known one, before CLI11 sees them.
void check_flag_names(int argc, char** argv) {
  std::vector<std::string_view> known{"help", "version", "port", "man"};
  for (const auto& spec : option_table()) known.push_back(spec.name);
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (!a.starts_with("--") || a.size() == 2) continue;
    std::string_view name = a.substr(
        2, a.find('=') == std::string_view::npos ? std::string_view::npos : a.find('=') - 2);
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string msg = "unknown option --" + std::string(name);
    if (auto best = suggest_option(name, known))
      msg += " (did you mean --" + std::string(*best) + "?)";
    throw OptionError(msg + "; see w2pserve --help");
  }
}

// --domain and the rest of automatic HTTPS: names a CA can validate by HTTP-01, the terms
// agreed, a plain listener for the challenge, an https:// directory.
void check_acme(Options& o) {
  auto certificates = o.acme_certificates();
  if (certificates.empty()) return;
  std::vector<std::string> names;
  for (std::string d : o.domains) {
    std::transform(d.begin(), d.end(), d.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (d.find('*') != std::string::npos)
      throw OptionError("--domain " + d +
                        ": wildcard certificates need the DNS-01 challenge, which w2pserve does "
                        "not do; name each host");
    bool ok = !d.empty() && d.size() <= 253 && d.find('.') != std::string::npos;
    std::size_t label = 0;
    for (char c : d) {
      if (c == '.') {
        ok = ok && label > 0;
        label = 0;
      } else {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-') && ++label <= 63;
      }
    }
    if (!ok || label == 0)
      throw OptionError("--domain '" + d +
                        "': not a DNS name a CA can issue for (e.g. example.com)");
    if (std::find(names.begin(), names.end(), d) == names.end()) names.push_back(d);
  }
  o.domains = names;
  if (o.acme_directory.empty())
    o.acme_directory = o.acme_staging ? "https://acme-staging-v02.api.letsencrypt.org/directory"
                                      : "https://acme-v02.api.letsencrypt.org/directory";
  if (!o.acme_directory.starts_with("https://"))
    throw OptionError("--acme-directory " + o.acme_directory +
                      ": an ACME directory is an https:// URL");
  if (!o.acme_agree_tos)
    throw OptionError("--domain orders certificates from " + o.acme_directory +
                      ": read the CA's terms of service, then give --acme-agree-tos");
  if (o.acme_eab_kid.empty() != o.acme_eab_key_file.empty())
    throw OptionError("External Account Binding needs both --acme-eab-kid and --acme-eab-key-file");
  bool plain = !o.redirect_listen.empty() || !o.http_listen.empty();
  if (o.acme_challenge.empty()) o.acme_challenge = plain ? "http-01" : "tls-alpn-01";
  if (o.acme_challenge == "http-01" && !plain)
    throw OptionError(
        "--acme-challenge http-01: the CA checks each name over plain HTTP on port 80: give "
        "--redirect-listen 0.0.0.0:80 (or --http-listen), or use --acme-challenge tls-alpn-01");
}

// The checks that involve several options, after all of them are set.
void check_together(Options& o, const RawOptions& given) {
  auto origin = [&](std::string_view name) {
    for (const auto& [spec, raw] : given)
      if (spec->name == name) return raw.origin.text(name);
    return "--" + std::string(name);
  };
  if (o.listen.empty()) o.listen.push_back({"127.0.0.1", 8000});
  // Watched files named relative to the web2py folder (routes.py), else to the start folder.
  for (auto& w : o.watch)
    if (!w.empty() && w[0] != '/') w = (o.root.empty() ? current_folder() : o.root) + "/" + w;
  if (!o.health_path.empty() && o.health_path[0] != '/')
    throw OptionError(origin("health-path") + ": '" + o.health_path +
                      "': write a path starting with /, or \"\" to turn it off");
  if (!o.status_path.empty() && o.status_path[0] != '/')
    throw OptionError(origin("status-path") + ": '" + o.status_path +
                      "': write a path starting with /, or \"\" to turn it off");
  if (o.tls_cert.empty() != o.tls_key.empty())
    throw OptionError(origin(o.tls_cert.empty() ? "tls-key" : "tls-cert") +
                      ": TLS needs both --tls-cert and --tls-key");
  check_acme(o);
  if (o.proxy_protocol && o.trusted_proxies.empty())
    throw OptionError(origin("proxy-protocol") +
                      ": the PROXY protocol is accepted from --trusted-proxy addresses only: "
                      "name the proxy (e.g. --trusted-proxy 10.0.0.5)");
  if (o.tls_cert.empty() && o.acme_certificates().empty() &&
      (!o.http_listen.empty() || !o.redirect_listen.empty())) {
    bool site_certs = false;
    for (const auto& s : o.sites) site_certs = site_certs || !s.tls_cert.empty();
    if (!site_certs)
      throw OptionError(
          "--http-listen and --redirect-listen go with TLS: give --tls-cert and "
          "--tls-key (the --listen addresses then speak TLS)");
  }
  for (const auto& s : o.sites)
    if (s.tls_cert.empty() != s.tls_key.empty())
      throw OptionError(s.file + ":" + std::to_string(s.line) + ": site '" + s.name +
                        "': TLS needs both tls-cert and tls-key");
  bool cron_command =
      o.command == Options::Command::cron_list || o.command == Options::Command::cron_run;
  if (cron_command && o.root.empty()) throw OptionError("cron needs --root (the web2py folder)");
  if (o.cron && o.root.empty())
    throw OptionError(origin("cron") +
                      ": --cron runs web2py's cron: it needs --root (the web2py folder)");
  if (!o.cron_lock.empty() && !o.cron_lock.starts_with("postgresql://") &&
      !o.cron_lock.starts_with("postgres://"))
    throw OptionError(origin("cron-lock") + ": '" + o.cron_lock +
                      "': a PostgreSQL URI (postgresql://user@host:5432/database)");
  if (!o.cron_lock.empty() && !o.cron)
    throw OptionError(origin("cron-lock") + ": it is for --cron (the jobs it runs once per slot)");
  if (o.node_name.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.node_name = host;
  }
  if ((cron_command || o.cron) && o.cron_ledger.empty())
    o.cron_ledger = o.root + "/w2pserve-cron.sqlite";
  if (!o.group.empty() && o.user.empty())
    throw OptionError(origin("group") + ": --group needs --user (the account to run as)");
  if (!o.compress.dir.empty() && ::access(o.compress.dir.c_str(), W_OK | X_OK) != 0)
    throw OptionError(origin("compress-cache") + ": " + o.compress.dir +
                      " is not writable by this process");
  if (!o.root.empty()) {
    if (!o.app.empty())
      throw OptionError(
          "--root and --app together: --root serves web2py, --app any other WSGI "
          "application; choose one");
    struct stat as {};
    if (::stat((o.root + "/applications").c_str(), &as) != 0 || !S_ISDIR(as.st_mode))
      throw OptionError(origin("root") + ": " + o.root +
                        " is not a web2py folder (it has no applications/ directory)");
    if (::stat((o.root + "/gluon/main.py").c_str(), &as) != 0)
      throw OptionError(origin("root") + ": " + o.root +
                        " is not a web2py folder (it has no gluon/main.py)");
    if (o.default_app.empty()) {
      o.default_app =
          ::stat((o.root + "/applications/init").c_str(), &as) == 0 ? "init" : "welcome";
      o.default_app_derived = true;
    } else if (::stat((o.root + "/applications/" + o.default_app).c_str(), &as) != 0) {
      throw OptionError(origin("default-app") + ": there is no application '" + o.default_app +
                        "' in " + o.root + "/applications");
    }
  } else if (o.command == Options::Command::set_admin_password) {
    throw OptionError("set-admin-password needs --root DIR (the web2py folder)");
  }
  if (!o.app.empty() && o.app.find(':') == std::string::npos)
    throw OptionError(origin("app") + ": " + o.app + ": write module:callable, e.g. " + o.app +
                      ":application");
  if (o.tmp_dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    o.tmp_dir = (t && *t) ? t : "/tmp";
    struct stat st {};
    if (::stat(o.tmp_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw OptionError("$TMPDIR " + o.tmp_dir + ": not a directory (give --tmp-dir)");
  }
  check_sites(o);
}

// 67108864 → "64M", for --help.
std::string size_text(std::uint64_t n) {
  static constexpr std::pair<char, int> kUnits[] = {{'G', 30}, {'M', 20}, {'k', 10}};
  for (auto [unit, shift] : kUnits)
    if (n >= (std::uint64_t{1} << shift) && n % (std::uint64_t{1} << shift) == 0)
      return std::to_string(n >> shift) + unit;
  return std::to_string(n);
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : " ") + x;
  return out;
}

// Every option of the table as a flag; values land in `values`, one list per option.
void add_table_options(CLI::App& cli, std::vector<std::vector<std::string>>& values) {
  const Options defaults;
  for (std::size_t i = 0; i < option_table().size(); ++i) {
    const OptionSpec& spec = option_table()[i];
    std::string flag = "--" + std::string(spec.name);
    std::string help(spec.help);
    if (!spec.reload) help += " (a reload cannot change it: restart)";
    if (spec.kind == ValueKind::flag) {
      cli.add_flag_callback(
          flag, [&values, i] { values[i] = {"true"}; }, help);
      continue;
    }
    CLI::Option* opt =
        cli.add_option(flag, values[i], help)->type_name(std::string(spec.placeholder));
    if (!spec.list) opt->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    auto def = spec.get(defaults);
    if (spec.kind == ValueKind::size)
      for (auto& d : def) d = size_text(std::stoull(d));
    if (!def.empty() && !(def.size() == 1 && (def[0].empty() || def[0] == "0")))
      opt->default_str(joined(def));
  }
}

struct Subcommands {
  CLI::App *check, *import, *cron_list, *cron_run, *admin, *memory;
};

Subcommands add_subcommands(CLI::App& cli, Options& o, std::string& check_path) {
  Subcommands sub{};
  // Options of the server may follow a subcommand too (`set-admin-password --root DIR`):
  // subcommands inherit this and hand what they do not know to the main command line.
  cli.fallthrough();
  sub.check = cli.add_subcommand(
      "check-config",
      "Read FILE (and any other flags), report the first error with its file, line and key, "
      "or print the effective configuration; then exit (0: valid, 2: not)");
  sub.check->add_option("file", check_path, "The configuration file")
      ->required()
      ->type_name("FILE");
  sub.import = cli.add_subcommand(
      "import-lighttpd",
      "Print a lighttpd.conf (the classic web2py set-up) as w2pserve TOML, with a comment for "
      "each directive it could not carry over; then exit");
  sub.import->add_option("file", o.command_file, "The lighttpd configuration file")
      ->required()
      ->type_name("FILE");
  CLI::App* cron_cmd = cli.add_subcommand(
      "cron",
      "web2py cron without a server: `cron list` prints every job with its next and "
      "last run; `cron run APP LINE` runs the job on that crontab line now, as --user. "
      "Needs --root");
  cron_cmd->require_subcommand(1);
  sub.cron_list = cron_cmd->add_subcommand("list", "Jobs, next run, last run (from the ledger)");
  sub.cron_run =
      cron_cmd->add_subcommand("run", "Run one job now, in this process; exit 0 when it succeeded");
  sub.cron_run->add_option("app", o.cron_app, "The application")->required()->type_name("APP");
  sub.cron_run->add_option("line", o.cron_line, "The job's line in applications/APP/cron/crontab")
      ->required()
      ->type_name("LINE");
  sub.admin = cli.add_subcommand(
      "set-admin-password",
      "Write web2py's admin password (read from the terminal, or from stdin when it is not "
      "one) to parameters_<port>.py with gluon.main.save_password, as --user; then exit. "
      "Needs --root.");
  sub.admin
      ->add_option("--port", o.admin_port,
                   "The port users connect to (default: --public-port, else the first "
                   "--listen port)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  sub.memory = cli.add_subcommand(
      "memory-report",
      "Print where a running server's resident memory goes (the binary, Python's extension "
      "modules, OpenSSL, other libraries, Python's object arenas, the C heap, thread stacks; "
      "RSS and PSS, the sum checked against VmRSS), read from its status page; then exit "
      "(0: printed, 1: no answer)");
  sub.memory
      ->add_option(
          "url", o.command_file,
          "The status page (default: http://127.0.0.1:<first --listen port><--status-path>)")
      ->type_name("URL");
  return sub;
}

}  // namespace

ParseOutcome parse_options(int argc, char** argv) {
  ParseOutcome outcome;
  Options o;
  CLI::App cli{
      "w2pserve: one process that serves a WSGI application (web2py or any other) in an "
      "embedded CPython,\nwith static files served natively. With neither --app nor --root it "
      "serves a bundled demo. Every option\nbut --config can also be written in the "
      "configuration file, under its name without the dashes."};
  cli.set_version_flag("--version", std::string("w2pserve ") + W2P_VERSION);
  cli.get_formatter()->column_width(34);
  try {
    check_flag_names(argc, argv);
    // The file first: a flag given on the command line then replaces the file's value.
    std::string config_path;
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if ((a == "--config" || a == "check-config") && i + 1 < argc)
        config_path = argv[i + 1];
      else if (a.starts_with("--config="))
        config_path = std::string(a.substr(9));
    }
    RawOptions given;
    if (!config_path.empty()) {
      if (config_path[0] != '/') config_path = current_folder() + "/" + config_path;
      load_config_file(config_path, o, given);
    }
    std::vector<std::vector<std::string>> cli_values(option_table().size());
    add_table_options(cli, cli_values);
    std::string check_path;
    Subcommands sub = add_subcommands(cli, o, check_path);
    bool man = false;
    cli.add_flag("--man", man, "Print the manual page (roff)")->group("");

    cli.parse(argc, argv);
    if (man) {
      outcome.text = man_page(cli);
      return outcome;
    }
    if (sub.check->parsed()) {
      o.command = Options::Command::check_config;
      o.command_file = check_path;
    }
    if (sub.import->parsed()) {
      o.command = Options::Command::import_lighttpd;
      outcome.options = std::move(o);
      return outcome;
    }
    if (sub.cron_list->parsed()) o.command = Options::Command::cron_list;
    if (sub.cron_run->parsed()) o.command = Options::Command::cron_run;
    if (sub.admin->parsed()) o.command = Options::Command::set_admin_password;
    if (sub.memory->parsed()) o.command = Options::Command::memory_report;
    // The command line's values replace the file's, option by option; a value it replaces is
    // still checked for its form (a mistake in the file is reported), not for the existence of
    // what it names (the file may be another machine's).
    for (std::size_t i = 0; i < option_table().size(); ++i) {
      if (cli_values[i].empty()) continue;
      const OptionSpec* spec = &option_table()[i];
      for (const auto& [s, raw] : given)
        if (s == spec) check_option_form(*s, raw);
      std::erase_if(given, [&](const auto& g) { return g.first == spec; });
      given.push_back({spec, RawOption{cli_values[i], Origin{}}});
    }
    // In the table's order; paths in the file are taken from its folder.
    std::stable_sort(given.begin(), given.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string cwd = current_folder();
    for (auto& [spec, raw] : given)
      apply_option(o, *spec, raw, raw.origin.file.empty() ? cwd : folder_of(raw.origin.file));
    o.config_file = config_path;
    check_together(o, given);
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
  } catch (const std::exception& e) {
    // An OptionError, or whatever else a checker throws (a number out of range, a bad pattern):
    // a refusal of this configuration, never the end of a running server's reload.
    outcome.text = std::string("w2pserve: error: ") + e.what() + "\n";
    outcome.exit_code = 2;
    return outcome;
  }
  outcome.options = std::move(o);
  return outcome;
}

}  // namespace w2p::server
