#include "server/acme/acme_openssl.hpp"

#include <dlfcn.h>

#include <stdexcept>

#include "server/dl_library.hpp"
#include "server/net/openssl_api.hpp"

namespace w2p::server::acme {
namespace {

AcmeOpenSsl g_api;

void load(AcmeOpenSsl& api) {
  void* lib = dl::open("libssl.so.3", "ACME", "libssl3");
  AcmeOpenSsl a{};
  auto bind = [lib](auto& slot, const char* name) {
    dl::bind(lib, "ACME: libssl.so.3", slot, name);
  };
  // libssl depends on libcrypto, so its symbols resolve through the same handle.
  bind(a.EVP_PKEY_Q_keygen, "EVP_PKEY_Q_keygen");
  bind(a.EVP_PKEY_get_octet_string_param, "EVP_PKEY_get_octet_string_param");
  bind(a.EVP_PKEY_free, "EVP_PKEY_free");
  bind(a.EVP_MD_CTX_new, "EVP_MD_CTX_new");
  bind(a.EVP_MD_CTX_free, "EVP_MD_CTX_free");
  bind(a.EVP_DigestSignInit, "EVP_DigestSignInit");
  bind(a.EVP_DigestSign, "EVP_DigestSign");
  bind(a.EVP_sha256, "EVP_sha256");
  bind(a.EVP_Digest, "EVP_Digest");
  bind(a.d2i_ECDSA_SIG, "d2i_ECDSA_SIG");
  bind(a.ECDSA_SIG_get0, "ECDSA_SIG_get0");
  bind(a.ECDSA_SIG_free, "ECDSA_SIG_free");
  bind(a.BN_bn2binpad, "BN_bn2binpad");
  bind(a.BIO_new, "BIO_new");
  bind(a.BIO_s_mem, "BIO_s_mem");
  bind(a.BIO_ctrl, "BIO_ctrl");
  bind(a.BIO_new_mem_buf, "BIO_new_mem_buf");
  bind(a.BIO_free, "BIO_free");
  bind(a.PEM_write_bio_PrivateKey, "PEM_write_bio_PrivateKey");
  bind(a.PEM_read_bio_PrivateKey, "PEM_read_bio_PrivateKey");
  bind(a.PEM_read_bio_X509, "PEM_read_bio_X509");
  bind(a.X509_free, "X509_free");
  bind(a.X509_REQ_new, "X509_REQ_new");
  bind(a.X509_REQ_free, "X509_REQ_free");
  bind(a.X509_REQ_set_version, "X509_REQ_set_version");
  bind(a.X509_REQ_set_pubkey, "X509_REQ_set_pubkey");
  bind(a.X509_REQ_get_subject_name, "X509_REQ_get_subject_name");
  bind(a.X509_NAME_add_entry_by_txt, "X509_NAME_add_entry_by_txt");
  bind(a.X509V3_EXT_conf_nid, "X509V3_EXT_conf_nid");
  bind(a.X509_REQ_add_extensions, "X509_REQ_add_extensions");
  bind(a.OPENSSL_sk_new_null, "OPENSSL_sk_new_null");
  bind(a.OPENSSL_sk_push, "OPENSSL_sk_push");
  bind(a.OPENSSL_sk_free, "OPENSSL_sk_free");
  bind(a.X509_EXTENSION_free, "X509_EXTENSION_free");
  bind(a.X509_REQ_sign, "X509_REQ_sign");
  bind(a.i2d_X509_REQ, "i2d_X509_REQ");
  bind(a.X509_get0_notAfter, "X509_get0_notAfter");
  bind(a.X509_get0_notBefore, "X509_get0_notBefore");
  bind(a.ASN1_TIME_to_tm, "ASN1_TIME_to_tm");
  bind(a.X509_new, "X509_new");
  bind(a.X509_set_version, "X509_set_version");
  bind(a.X509_get_serialNumber, "X509_get_serialNumber");
  bind(a.ASN1_INTEGER_set, "ASN1_INTEGER_set");
  bind(a.X509_gmtime_adj, "X509_gmtime_adj");
  bind(a.X509_getm_notBefore, "X509_getm_notBefore");
  bind(a.X509_getm_notAfter, "X509_getm_notAfter");
  bind(a.X509_get_subject_name, "X509_get_subject_name");
  bind(a.X509_set_issuer_name, "X509_set_issuer_name");
  bind(a.X509_set_pubkey, "X509_set_pubkey");
  bind(a.X509_add_ext, "X509_add_ext");
  bind(a.X509_sign, "X509_sign");
  bind(a.OBJ_txt2obj, "OBJ_txt2obj");
  bind(a.ASN1_OBJECT_free, "ASN1_OBJECT_free");
  bind(a.ASN1_OCTET_STRING_new, "ASN1_OCTET_STRING_new");
  bind(a.ASN1_OCTET_STRING_set, "ASN1_OCTET_STRING_set");
  bind(a.ASN1_OCTET_STRING_free, "ASN1_OCTET_STRING_free");
  bind(a.X509_EXTENSION_create_by_OBJ, "X509_EXTENSION_create_by_OBJ");
  bind(a.PEM_write_bio_X509, "PEM_write_bio_X509");
  bind(a.X509_get0_authority_key_id, "X509_get0_authority_key_id");
  bind(a.X509_get0_serialNumber, "X509_get0_serialNumber");
  bind(a.i2d_ASN1_INTEGER, "i2d_ASN1_INTEGER");
  bind(a.ASN1_STRING_get0_data, "ASN1_STRING_get0_data");
  bind(a.ASN1_STRING_length, "ASN1_STRING_length");
  bind(a.HMAC, "HMAC");
  bind(a.TLS_client_method, "TLS_client_method");
  bind(a.SSL_CTX_new, "SSL_CTX_new");
  bind(a.SSL_CTX_free, "SSL_CTX_free");
  bind(a.SSL_CTX_load_verify_locations, "SSL_CTX_load_verify_locations");
  bind(a.SSL_CTX_set_default_verify_paths, "SSL_CTX_set_default_verify_paths");
  bind(a.SSL_CTX_set_verify, "SSL_CTX_set_verify");
  bind(a.SSL_new, "SSL_new");
  bind(a.SSL_free, "SSL_free");
  bind(a.SSL_set_fd, "SSL_set_fd");
  bind(a.SSL_set1_host, "SSL_set1_host");
  bind(a.SSL_ctrl, "SSL_ctrl");
  bind(a.SSL_connect, "SSL_connect");
  bind(a.SSL_read, "SSL_read");
  bind(a.SSL_write, "SSL_write");
  bind(a.SSL_get_verify_result, "SSL_get_verify_result");
  bind(a.X509_verify_cert_error_string, "X509_verify_cert_error_string");
  bind(a.ERR_get_error, "ERR_get_error");
  bind(a.ERR_error_string_n, "ERR_error_string_n");
  bind(a.ERR_clear_error, "ERR_clear_error");
  api = a;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("ACME: " + what + ": " + ssl_error());
}

// A memory BIO's contents.
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = acme_openssl().BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  return n > 0 && data ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

const AcmeOpenSsl& acme_openssl() {
  return dl::load_once(g_api, load);
}

std::string ssl_error() {
  return openssl_error();  // the same library, the same (thread's) error queue
}

void KeyDeleter::operator()(EVP_PKEY* k) const {
  acme_openssl().EVP_PKEY_free(k);
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (bytes.size() - i == 1) {
    unsigned v = at(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (bytes.size() - i == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;  // no padding (RFC 7515 2)
}

std::string sha256(std::string_view bytes) {
  const AcmeOpenSsl& a = acme_openssl();
  unsigned char md[32];
  unsigned int n = 0;
  if (a.EVP_Digest(bytes.data(), bytes.size(), md, &n, a.EVP_sha256(), nullptr) != 1)
    fail("SHA-256");
  return {reinterpret_cast<char*>(md), n};
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  const AcmeOpenSsl& a = acme_openssl();
  unsigned char md[32];
  unsigned int n = 0;
  if (!a.HMAC(a.EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n))
    fail("HMAC-SHA256");
  return {reinterpret_cast<char*>(md), n};
}

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-' || c == '+' ? 62
            : c == '_' || c == '/' ? 63
                                   : -1;
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone sixth of a byte: not base64
  return out;
}

Key generate_p256_key() {
  Key k(acme_openssl().EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) fail("generating a P-256 key");
  return k;
}

std::string key_to_pem(const Key& key) {
  const AcmeOpenSsl& a = acme_openssl();
  BIO* bio = a.BIO_new(a.BIO_s_mem());
  if (!bio ||
      a.PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    if (bio) a.BIO_free(bio);
    fail("writing a key");
  }
  std::string pem = bio_text(bio);
  a.BIO_free(bio);
  return pem;
}

Key key_from_pem(const std::string& pem) {
  const AcmeOpenSsl& a = acme_openssl();
  BIO* bio = a.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Key k(bio ? a.PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr);
  if (bio) a.BIO_free(bio);
  a.ERR_clear_error();
  return k;
}

std::string jwk(const Key& key) {
  unsigned char pub[133];
  std::size_t n = 0;
  if (acme_openssl().EVP_PKEY_get_octet_string_param(key.get(), "pub", pub, sizeof pub, &n) != 1 ||
      n != 65 || pub[0] != 0x04)
    fail("reading the account key's public point");
  std::string_view point(reinterpret_cast<const char*>(pub), n);
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(point.substr(1, 32)) + R"(","y":")" +
         base64url(point.substr(33, 32)) + "\"}";
}

std::string jwk_thumbprint(const Key& key) {
  return base64url(sha256(jwk(key)));
}

std::string sign_es256(const Key& key, std::string_view data) {
  const AcmeOpenSsl& a = acme_openssl();
  EVP_MD_CTX* md = a.EVP_MD_CTX_new();
  unsigned char der[80];
  std::size_t der_len = sizeof der;
  bool ok = md && a.EVP_DigestSignInit(md, nullptr, a.EVP_sha256(), nullptr, key.get()) == 1 &&
            a.EVP_DigestSign(md, der, &der_len, reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  if (md) a.EVP_MD_CTX_free(md);
  if (!ok) fail("signing");
  // OpenSSL signs in DER (SEQUENCE of two INTEGERs); JWS wants r and s, 32 bytes each.
  const unsigned char* p = der;
  ECDSA_SIG* sig = a.d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  if (!sig) fail("decoding a signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  a.ECDSA_SIG_get0(sig, &r, &s);
  unsigned char raw[64];
  bool sized = a.BN_bn2binpad(r, raw, 32) == 32 && a.BN_bn2binpad(s, raw + 32, 32) == 32;
  a.ECDSA_SIG_free(sig);
  if (!sized) fail("encoding a signature");
  return {reinterpret_cast<char*>(raw), sizeof raw};
}

std::string csr_der(const Key& key, const std::vector<std::string>& domains) {
  const AcmeOpenSsl& a = acme_openssl();
  X509_REQ* req = a.X509_REQ_new();
  if (!req) fail("making a CSR");
  std::string san;
  for (const auto& d : domains) san.append(san.empty() ? "DNS:" : ",DNS:").append(d);
  X509_EXTENSION* ext = a.X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  OPENSSL_STACK* exts = a.OPENSSL_sk_new_null();
  bool ok =
      ext && exts && a.X509_REQ_set_version(req, 0) == 1 &&
      a.X509_REQ_set_pubkey(req, key.get()) == 1 &&
      a.X509_NAME_add_entry_by_txt(a.X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(domains.front().c_str()),
                                   -1, -1, 0) == 1 &&
      a.OPENSSL_sk_push(exts, ext) > 0 &&
      a.X509_REQ_add_extensions(req, reinterpret_cast<STACK_OF(X509_EXTENSION)*>(exts)) == 1 &&
      a.X509_REQ_sign(req, key.get(), a.EVP_sha256()) > 0;
  std::string der;
  if (ok) {
    int n = a.i2d_X509_REQ(req, nullptr);
    if (n > 0) {
      der.resize(static_cast<std::size_t>(n));
      auto* p = reinterpret_cast<unsigned char*>(der.data());
      ok = a.i2d_X509_REQ(req, &p) == n;
    } else {
      ok = false;
    }
  }
  if (exts) a.OPENSSL_sk_free(exts);
  if (ext) a.X509_EXTENSION_free(ext);
  a.X509_REQ_free(req);
  if (!ok) fail("making the CSR for " + domains.front());
  return der;
}

ChallengeCertificate tls_alpn_certificate(const std::string& name,
                                          const std::string& key_authorization) {
  const AcmeOpenSsl& a = acme_openssl();
  Key key = generate_p256_key();
  X509* x = a.X509_new();
  if (!x) fail("making the TLS-ALPN-01 certificate");
  // The extension's value is the DER of an OCTET STRING holding the 32-byte digest.
  std::string digest = sha256(key_authorization);
  std::string der = std::string("\x04\x20", 2) + digest;
  ASN1_OBJECT* oid = a.OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);  // id-pe-acmeIdentifier
  ASN1_OCTET_STRING* value = a.ASN1_OCTET_STRING_new();
  X509_EXTENSION* acme_ext = nullptr;
  if (oid && value &&
      a.ASN1_OCTET_STRING_set(value, reinterpret_cast<const unsigned char*>(der.data()),
                              static_cast<int>(der.size())) == 1)
    acme_ext = a.X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value);
  std::string san = "DNS:" + name;
  X509_EXTENSION* san_ext =
      a.X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  X509_NAME* subject = a.X509_get_subject_name(x);
  bool ok = acme_ext && san_ext && a.X509_set_version(x, 2) == 1 &&
            a.ASN1_INTEGER_set(a.X509_get_serialNumber(x), 1) == 1 &&
            a.X509_gmtime_adj(a.X509_getm_notBefore(x), -3600) &&
            a.X509_gmtime_adj(a.X509_getm_notAfter(x), 7 * 86400) &&
            a.X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                                         -1, 0) == 1 &&
            a.X509_set_issuer_name(x, subject) == 1 && a.X509_set_pubkey(x, key.get()) == 1 &&
            a.X509_add_ext(x, san_ext, -1) == 1 && a.X509_add_ext(x, acme_ext, -1) == 1 &&
            a.X509_sign(x, key.get(), a.EVP_sha256()) > 0;
  ChallengeCertificate out;
  if (ok) {
    BIO* bio = a.BIO_new(a.BIO_s_mem());
    ok = bio && a.PEM_write_bio_X509(bio, x) == 1;
    if (ok) out.cert = bio_text(bio);
    if (bio) a.BIO_free(bio);
  }
  if (acme_ext) a.X509_EXTENSION_free(acme_ext);
  if (san_ext) a.X509_EXTENSION_free(san_ext);
  if (value) a.ASN1_OCTET_STRING_free(value);
  if (oid) a.ASN1_OBJECT_free(oid);
  a.X509_free(x);
  if (!ok) fail("making the TLS-ALPN-01 certificate for " + name);
  out.key = key_to_pem(key);
  return out;
}

std::string ari_cert_id(std::string_view key_id, std::string_view serial_der_value) {
  return base64url(key_id) + "." + base64url(serial_der_value);
}

std::string ari_cert_id(const std::string& pem) {
  const AcmeOpenSsl& a = acme_openssl();
  BIO* bio = a.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? a.PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  if (bio) a.BIO_free(bio);
  std::string id;
  if (cert) {
    const ASN1_OCTET_STRING* kid = a.X509_get0_authority_key_id(cert);
    const ASN1_INTEGER* serial = a.X509_get0_serialNumber(cert);
    unsigned char der[64];
    int n = serial ? a.i2d_ASN1_INTEGER(serial, nullptr) : 0;
    if (kid && n > 2 && n <= static_cast<int>(sizeof der)) {
      unsigned char* p = der;
      a.i2d_ASN1_INTEGER(serial, &p);
      // DER: tag 0x02, a length (short form: serials are at most 20 bytes), the value.
      std::string_view value(reinterpret_cast<const char*>(der) + 2,
                             static_cast<std::size_t>(n - 2));
      id = ari_cert_id(std::string_view(reinterpret_cast<const char*>(a.ASN1_STRING_get0_data(kid)),
                                        static_cast<std::size_t>(a.ASN1_STRING_length(kid))),
                       value);
    }
    a.X509_free(cert);
  }
  a.ERR_clear_error();
  return id;
}

bool certificate_validity(const std::string& pem, std::time_t& not_before, std::time_t& not_after) {
  const AcmeOpenSsl& a = acme_openssl();
  BIO* bio = a.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? a.PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  if (bio) a.BIO_free(bio);
  bool ok = false;
  if (cert) {
    struct tm b {
    }, e{};
    ok = a.ASN1_TIME_to_tm(a.X509_get0_notBefore(cert), &b) == 1 &&
         a.ASN1_TIME_to_tm(a.X509_get0_notAfter(cert), &e) == 1;
    if (ok) {
      not_before = ::timegm(&b);
      not_after = ::timegm(&e);
    }
    a.X509_free(cert);
  }
  a.ERR_clear_error();
  return ok;
}

}  // namespace w2p::server::acme
