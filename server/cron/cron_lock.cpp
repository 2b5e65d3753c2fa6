#include "server/cron/cron_lock.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "server/dl_library.hpp"
#include "server/log.hpp"

namespace w2p::server {

namespace {

// libpq's C interface, the few calls used (types opaque here: no libpq headers needed).
struct PGconn;
struct PGresult;
constexpr int kConnectionOk = 0;  // CONNECTION_OK
constexpr int kCommandOk = 1;     // PGRES_COMMAND_OK
constexpr int kTuplesOk = 2;      // PGRES_TUPLES_OK

struct PqApi {
  PGconn* (*PQconnectdb)(const char*);
  int (*PQstatus)(const PGconn*);
  char* (*PQerrorMessage)(const PGconn*);
  void (*PQfinish)(PGconn*);
  PGresult* (*PQexecParams)(PGconn*, const char*, int, const unsigned*, const char* const*,
                            const int*, const int*, int);
  int (*PQresultStatus)(const PGresult*);
  char* (*PQresultErrorMessage)(const PGresult*);
  char* (*PQcmdTuples)(PGresult*);
  char* (*PQgetvalue)(const PGresult*, int, int);
  int (*PQntuples)(const PGresult*);
  void (*PQclear)(PGresult*);
};

PqApi g_pq;

void load(PqApi& api) {
  void* lib = dl::open("libpq.so.5", "--cron-lock", "libpq5");
  PqApi a{};
  auto bind = [lib](auto& slot, const char* name) {
    dl::bind(lib, "--cron-lock: libpq.so.5", slot, name);
  };
  bind(a.PQconnectdb, "PQconnectdb");
  bind(a.PQstatus, "PQstatus");
  bind(a.PQerrorMessage, "PQerrorMessage");
  bind(a.PQfinish, "PQfinish");
  bind(a.PQexecParams, "PQexecParams");
  bind(a.PQresultStatus, "PQresultStatus");
  bind(a.PQresultErrorMessage, "PQresultErrorMessage");
  bind(a.PQcmdTuples, "PQcmdTuples");
  bind(a.PQgetvalue, "PQgetvalue");
  bind(a.PQntuples, "PQntuples");
  bind(a.PQclear, "PQclear");
  api = a;
}

const PqApi& pq() {
  return dl::load_once(g_pq, load);
}

std::string trimmed(const char* s) {
  std::string t = s ? s : "";
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

struct CronLock::Impl {
  std::string url, node;
  PGconn* conn = nullptr;
  bool table_ready = false;

  ~Impl() {
    if (conn) pq().PQfinish(conn);
  }

  // A live connection, made (again) when needed; false (and `why`) when the database cannot
  // be reached.
  bool connected(std::string& why) {
    if (conn && pq().PQstatus(conn) == kConnectionOk) return true;
    if (conn) pq().PQfinish(conn);
    table_ready = false;
    conn = pq().PQconnectdb(url.c_str());
    if (!conn || pq().PQstatus(conn) != kConnectionOk) {
      why = "cannot connect to the --cron-lock database: " +
            trimmed(conn ? pq().PQerrorMessage(conn) : "out of memory");
      if (conn) pq().PQfinish(conn);
      conn = nullptr;
      return false;
    }
    return true;
  }

  // Runs `sql`; the result (to PQclear), or null with `why`.
  PGresult* exec(const char* sql, std::initializer_list<std::string> params, int want,
                 std::string& why) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = pq().PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    if (r && pq().PQresultStatus(r) == want) return r;
    why = "--cron-lock database: " +
          trimmed(r ? pq().PQresultErrorMessage(r) : pq().PQerrorMessage(conn));
    if (r) pq().PQclear(r);
    return nullptr;
  }

  bool ensure_table(std::string& why) {
    if (table_ready) return true;
    PGresult* r = exec(
        "CREATE TABLE IF NOT EXISTS w2pserve_cron_claims ("
        " app text NOT NULL, job text NOT NULL, slot bigint NOT NULL, node text NOT NULL,"
        " claimed_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz, status text,"
        " PRIMARY KEY (app, job, slot))",
        {}, kCommandOk, why);
    if (!r) return false;
    pq().PQclear(r);
    table_ready = true;
    return true;
  }
};

CronLock::CronLock(std::string url, std::string node) : impl_(std::make_unique<Impl>()) {
  pq();  // loaded now: a missing libpq is a start-up error
  impl_->url = std::move(url);
  impl_->node = std::move(node);
}

CronLock::~CronLock() = default;

std::string CronLock::check() {
  std::string why;
  if (impl_->connected(why) && impl_->ensure_table(why)) return "";
  return why;
}

CronLock::Claim CronLock::claim(const std::string& app, const std::string& job, std::time_t slot,
                                std::string& why) {
  Impl& m = *impl_;
  if (!m.connected(why) || !m.ensure_table(why)) return Claim::unavailable;
  std::string key = app + "\n" + job;
  // The lease: held by this session until finish() (or until the session dies with its node).
  PGresult* r =
      m.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {key}, kTuplesOk, why);
  if (!r) return Claim::unavailable;
  bool leased = pq().PQntuples(r) == 1 && std::string(pq().PQgetvalue(r, 0, 0)) == "t";
  pq().PQclear(r);
  if (!leased) {
    why = "the job's lease is held by another run (this slot's or an earlier one's)";
    return Claim::busy;
  }
  r = m.exec(
      "INSERT INTO w2pserve_cron_claims (app, job, slot, node) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT DO NOTHING",
      {app, job, std::to_string(static_cast<long long>(slot)), m.node}, kCommandOk, why);
  if (!r) {
    std::string ignored;
    if (PGresult* u =
            m.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {key}, kTuplesOk, ignored))
      pq().PQclear(u);
    return Claim::unavailable;
  }
  bool ours = std::string(pq().PQcmdTuples(r)) == "1";
  pq().PQclear(r);
  if (ours) return Claim::ours;
  std::string ignored;
  if (PGresult* u =
          m.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {key}, kTuplesOk, ignored))
    pq().PQclear(u);
  why = "another node claimed this slot";
  return Claim::taken;
}

void CronLock::finish(const std::string& app, const std::string& job, std::time_t slot,
                      const std::string& status) {
  Impl& m = *impl_;
  std::string why;
  if (!m.connected(why)) {
    log::warn("cron: the end of " + app + " (" + job + ") not recorded: " + why);
    return;  // a new session: the old one's lease is gone with it
  }
  if (PGresult* r =
          m.exec("UPDATE w2pserve_cron_claims SET finished_at = now(), status = $4"
                 " WHERE app = $1 AND job = $2 AND slot = $3",
                 {app, job, std::to_string(static_cast<long long>(slot)), status}, kCommandOk, why))
    pq().PQclear(r);
  else
    log::warn("cron: the end of " + app + " (" + job + ") not recorded: " + why);
  if (PGresult* r = m.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {app + "\n" + job},
                           kTuplesOk, why))
    pq().PQclear(r);
}

}  // namespace w2p::server
