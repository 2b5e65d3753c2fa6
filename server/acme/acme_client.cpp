#include "server/acme/acme_client.hpp"

#include <boost/json.hpp>
#include <cstdlib>

#include "server/acme/https_client.hpp"
#include "server/log.hpp"

namespace w2p::server::acme {

namespace json = boost::json;

void ChallengeBoard::put(const std::string& token, const std::string& key_authorization) {
  std::lock_guard lock(mutex_);
  tokens_[token] = key_authorization;
}

void ChallengeBoard::remove(const std::string& token) {
  std::lock_guard lock(mutex_);
  tokens_.erase(token);
}

std::optional<std::string> ChallengeBoard::get(std::string_view token) const {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

namespace {

constexpr int kPolls = 60;  // status polls of one object before giving up (about a minute)

json::object parse_object(const std::string& text, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) throw AcmeError("the CA's answer to " + what + " is not a JSON object");
  return v.as_object();
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

unsigned retry_after(const HttpsResponse& r) {
  std::string v = r.header("retry-after");
  if (v.empty()) return 0;
  char* end = nullptr;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  return end && *end == '\0' ? static_cast<unsigned>(std::min(n, 86400ul))
                             : 60;  // a date: a minute
}

// The CA refused: its problem document (type and detail) in the message.
[[noreturn]] void refused(const HttpsResponse& r, const std::string& what) {
  std::string msg = "the CA refused " + what + " (HTTP " + std::to_string(r.status) + ")";
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    std::string type = str(v.as_object(), "type");
    std::string detail = str(v.as_object(), "detail");
    if (!type.empty()) msg += ": " + type;
    if (!detail.empty()) msg += ": " + detail;
  }
  throw AcmeError(msg, retry_after(r));
}

}  // namespace

struct AcmeClient::Answer {
  HttpsResponse http;
  json::object body;  // empty when the answer is not JSON (a certificate)
};

AcmeClient::AcmeClient(AcmeSettings settings, Key account_key, ChallengeBoard& board,
                       std::function<bool(unsigned)> wait)
    : settings_(std::move(settings)),
      key_(std::move(account_key)),
      board_(board),
      wait_(std::move(wait)),
      thumbprint_(jwk_thumbprint(key_)),
      jwk_(jwk(key_)) {}

void AcmeClient::directory() {
  if (!new_order_.empty()) return;
  HttpsResponse r;
  try {
    r = https_request(settings_.directory, "GET", {}, {}, settings_.ca_file);
  } catch (const std::exception& e) {
    throw AcmeError(std::string("the CA's directory ") + settings_.directory + ": " + e.what());
  }
  if (r.status != 200) refused(r, "the directory request");
  json::object d = parse_object(r.body, "the directory request");
  new_nonce_ = str(d, "newNonce");
  new_account_ = str(d, "newAccount");
  new_order_ = str(d, "newOrder");
  renewal_info_ = str(d, "renewalInfo");
  if (new_nonce_.empty() || new_account_.empty() || new_order_.empty())
    throw AcmeError(settings_.directory +
                    " is not an ACME directory (no newNonce/newAccount/newOrder)");
}

std::string AcmeClient::fresh_nonce() {
  HttpsResponse r = https_request(new_nonce_, "HEAD", {}, {}, settings_.ca_file);
  std::string n = r.header("replay-nonce");
  if (n.empty()) refused(r, "a nonce");
  return n;
}

// A JWS-signed POST (RFC 8555 6.2); an empty payload is a POST-as-GET. A badNonce refusal is
// retried with the fresh nonce it carries (RFC 8555 6.5).
AcmeClient::Answer AcmeClient::post(const std::string& url, const std::string& payload,
                                    bool with_jwk) {
  for (int attempt = 0;; ++attempt) {
    if (nonce_.empty()) nonce_ = fresh_nonce();
    std::string header = R"({"alg":"ES256","nonce":)" + json::serialize(json::value(nonce_)) +
                         R"(,"url":)" + json::serialize(json::value(url)) + ",";
    header += with_jwk ? R"("jwk":)" + jwk_ : R"("kid":)" + json::serialize(json::value(kid_));
    header += "}";
    std::string protected64 = base64url(header);
    std::string payload64 = base64url(payload);
    std::string signature = base64url(sign_es256(key_, protected64 + "." + payload64));
    std::string body = R"({"protected":")" + protected64 + R"(","payload":")" + payload64 +
                       R"(","signature":")" + signature + "\"}";
    nonce_.clear();
    Answer a;
    try {
      a.http = https_request(url, "POST", body, "application/jose+json", settings_.ca_file);
    } catch (const std::exception& e) {
      throw AcmeError(std::string("the CA at ") + url + ": " + e.what());
    }
    nonce_ = a.http.header("replay-nonce");
    bool is_json = a.http.header("content-type").find("json") != std::string::npos;
    if (is_json && !a.http.body.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(a.http.body, ec);
      if (!ec && v.is_object()) a.body = v.as_object();
    }
    if (a.http.status == 400 && str(a.body, "type") == "urn:ietf:params:acme:error:badNonce" &&
        attempt < 5)
      continue;
    return a;
  }
}

void AcmeClient::account() {
  if (!kid_.empty()) return;
  json::object p;
  p["termsOfServiceAgreed"] = settings_.agree_tos;
  if (!settings_.email.empty())
    p["contact"] = json::array{json::value("mailto:" + settings_.email)};
  if (!settings_.eab_kid.empty()) {
    // The account key, signed with the CA's HMAC key under its key id (HS256).
    std::string protected64 =
        base64url(R"({"alg":"HS256","kid":)" + json::serialize(json::value(settings_.eab_kid)) +
                  R"(,"url":)" + json::serialize(json::value(new_account_)) + "}");
    std::string payload64 = base64url(jwk_);
    p["externalAccountBinding"] = json::object{
        {"protected", protected64},
        {"payload", payload64},
        {"signature", base64url(hmac_sha256(settings_.eab_key, protected64 + "." + payload64))}};
  }
  Answer a = post(new_account_, json::serialize(p), true);
  if (a.http.status != 200 && a.http.status != 201) refused(a.http, "the account");
  kid_ = a.http.header("location");
  if (kid_.empty()) throw AcmeError("the CA gave the account no URL (Location)");
  if (a.http.status == 201) log::info("ACME: account created at " + kid_);
}

AcmeClient::Answer AcmeClient::poll(const std::string& url, std::string_view pending_state,
                                    const std::string& what) {
  for (int i = 0; i < kPolls; ++i) {
    Answer a = post(url, "");
    if (a.http.status != 200) refused(a.http, what);
    std::string status = str(a.body, "status");
    if (status != pending_state && status != "pending" && status != "processing") return a;
    unsigned wait = retry_after(a.http);
    if (!wait_(wait == 0 ? 1 : std::min(wait, 10u))) throw AcmeError("the server is stopping");
  }
  throw AcmeError(what + " stayed pending for too long");
}

void AcmeClient::authorize(const std::string& authz_url) {
  Answer a = post(authz_url, "");
  if (a.http.status != 200) refused(a.http, "the authorization " + authz_url);
  std::string name;
  if (const auto* id = a.body.if_contains("identifier"); id && id->is_object())
    name = str(id->as_object(), "value");
  if (str(a.body, "status") == "valid") return;  // validated before (authorization reuse)
  const std::string& type = settings_.challenge;
  std::string token, challenge_url;
  if (const auto* cs = a.body.if_contains("challenges"); cs && cs->is_array())
    for (const auto& c : cs->as_array())
      if (c.is_object() && str(c.as_object(), "type") == type) {
        token = str(c.as_object(), "token");
        challenge_url = str(c.as_object(), "url");
      }
  if (token.empty() || challenge_url.empty())
    throw AcmeError("the CA offers no " + type + " challenge for " + name);
  // The token is the CA's: only base64url characters are ever served back.
  if (token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
      std::string::npos)
    throw AcmeError("the CA's " + type + " token for " + name + " is not base64url");
  std::string key_authorization = token + "." + thumbprint_;
  // Published for the CA's check, taken away again whatever happens.
  struct Unpost {
    ChallengeBoard& board;
    std::string token, name;
    bool alpn;
    ~Unpost() {
      if (alpn) {
        if (board.clear_alpn) board.clear_alpn(name);
      } else {
        board.remove(token);
      }
    }
  } unpost{board_, token, name, type == "tls-alpn-01"};
  if (unpost.alpn) {
    if (!board_.set_alpn) throw AcmeError("no TLS listener answers tls-alpn-01");
    ChallengeCertificate c = tls_alpn_certificate(name, key_authorization);
    board_.set_alpn(name, c.cert, c.key);
  } else {
    board_.put(token, key_authorization);
  }
  Answer c = post(challenge_url, "{}");
  if (c.http.status != 200) refused(c.http, "the " + type + " challenge for " + name);
  Answer done = poll(authz_url, "pending", "the authorization of " + name);
  if (str(done.body, "status") != "valid") {
    std::string detail;
    if (const auto* cs = done.body.if_contains("challenges"); cs && cs->is_array())
      for (const auto& ch : cs->as_array())
        if (ch.is_object())
          if (const auto* e = ch.as_object().if_contains("error"); e && e->is_object())
            detail = str(e->as_object(), "type") + ": " + str(e->as_object(), "detail");
    throw AcmeError("the CA could not validate " + name + " by " + type +
                    (detail.empty() ? std::string() : " (" + detail + ")"));
  }
}

std::optional<AcmeClient::RenewalWindow> AcmeClient::renewal_window(const std::string& cert_id) {
  directory();
  if (renewal_info_.empty() || cert_id.empty()) return std::nullopt;
  HttpsResponse r;
  try {
    r = https_request(renewal_info_ + "/" + cert_id, "GET", {}, {}, settings_.ca_file);
  } catch (const std::exception& e) {
    throw AcmeError(std::string("the CA's renewal information: ") + e.what());
  }
  if (r.status != 200) refused(r, "the renewal information");
  json::object o = parse_object(r.body, "the renewal information");
  const auto* w = o.if_contains("suggestedWindow");
  RenewalWindow out;
  auto when = [](const std::string& t) -> std::time_t {
    struct tm tm {};
    const char* end = ::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    return end ? ::timegm(&tm) : 0;
  };
  if (w && w->is_object()) {
    out.start = when(str(w->as_object(), "start"));
    out.end = when(str(w->as_object(), "end"));
  }
  if (out.start == 0 || out.end < out.start)
    throw AcmeError("the CA's renewal information has no valid suggestedWindow");
  out.retry_after = retry_after(r);
  return out;
}

std::string AcmeClient::obtain(const std::vector<std::string>& domains, const Key& cert_key,
                               const std::string& replaces) {
  directory();
  account();
  json::array ids;
  for (const auto& d : domains) ids.push_back(json::object{{"type", "dns"}, {"value", d}});
  json::object order_request{{"identifiers", ids}};
  if (!replaces.empty() && !renewal_info_.empty()) order_request["replaces"] = replaces;
  Answer order = post(new_order_, json::serialize(order_request));
  if (order.http.status != 201) refused(order.http, "the order for " + domains.front());
  std::string order_url = order.http.header("location");
  std::string finalize = str(order.body, "finalize");
  if (order_url.empty() || finalize.empty())
    throw AcmeError("the CA's order has no URL or finalize");
  if (const auto* az = order.body.if_contains("authorizations"); az && az->is_array())
    for (const auto& u : az->as_array())
      if (u.is_string()) authorize(std::string(u.as_string()));
  std::string csr = base64url(csr_der(cert_key, domains));
  Answer fin = post(finalize, json::serialize(json::object{{"csr", csr}}));
  if (fin.http.status != 200) refused(fin.http, "the finalisation for " + domains.front());
  Answer done = str(fin.body, "status") == "valid"
                    ? fin
                    : poll(order_url, "ready", "the order for " + domains.front());
  std::string cert_url = str(done.body, "certificate");
  if (str(done.body, "status") != "valid" || cert_url.empty())
    throw AcmeError("the order for " + domains.front() + " ended " + str(done.body, "status"));
  Answer cert = post(cert_url, "");
  if (cert.http.status != 200 ||
      cert.http.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    refused(cert.http, "the certificate download for " + domains.front());
  return cert.http.body;
}

}  // namespace w2p::server::acme
