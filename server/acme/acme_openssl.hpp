#pragma once
// The OpenSSL functions the ACME client needs beyond what TLS serving uses (keys, signatures,
// CSRs, certificates, a TLS client), loaded from the same libssl.so.3 only when ACME is on.
// Nothing hand-written: every primitive is OpenSSL's. The helpers below wrap them for the
// protocol (acme_client.cpp).

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server::acme {

struct AcmeOpenSsl {
  EVP_PKEY* (*EVP_PKEY_Q_keygen)(OSSL_LIB_CTX*, const char*, const char*, ...);
  int (*EVP_PKEY_get_octet_string_param)(const EVP_PKEY*, const char*, unsigned char*, size_t,
                                         size_t*);
  void (*EVP_PKEY_free)(EVP_PKEY*);
  EVP_MD_CTX* (*EVP_MD_CTX_new)();
  void (*EVP_MD_CTX_free)(EVP_MD_CTX*);
  int (*EVP_DigestSignInit)(EVP_MD_CTX*, EVP_PKEY_CTX**, const EVP_MD*, ENGINE*, EVP_PKEY*);
  int (*EVP_DigestSign)(EVP_MD_CTX*, unsigned char*, size_t*, const unsigned char*, size_t);
  const EVP_MD* (*EVP_sha256)();
  int (*EVP_Digest)(const void*, size_t, unsigned char*, unsigned int*, const EVP_MD*, ENGINE*);
  ECDSA_SIG* (*d2i_ECDSA_SIG)(ECDSA_SIG**, const unsigned char**, long);
  void (*ECDSA_SIG_get0)(const ECDSA_SIG*, const BIGNUM**, const BIGNUM**);
  void (*ECDSA_SIG_free)(ECDSA_SIG*);
  int (*BN_bn2binpad)(const BIGNUM*, unsigned char*, int);
  BIO* (*BIO_new)(const BIO_METHOD*);
  const BIO_METHOD* (*BIO_s_mem)();
  long (*BIO_ctrl)(BIO*, int, long, void*);
  BIO* (*BIO_new_mem_buf)(const void*, int);
  int (*BIO_free)(BIO*);
  int (*PEM_write_bio_PrivateKey)(BIO*, const EVP_PKEY*, const EVP_CIPHER*, const unsigned char*,
                                  int, pem_password_cb*, void*);
  EVP_PKEY* (*PEM_read_bio_PrivateKey)(BIO*, EVP_PKEY**, pem_password_cb*, void*);
  X509* (*PEM_read_bio_X509)(BIO*, X509**, pem_password_cb*, void*);
  void (*X509_free)(X509*);
  X509_REQ* (*X509_REQ_new)();
  void (*X509_REQ_free)(X509_REQ*);
  int (*X509_REQ_set_version)(X509_REQ*, long);
  int (*X509_REQ_set_pubkey)(X509_REQ*, EVP_PKEY*);
  X509_NAME* (*X509_REQ_get_subject_name)(const X509_REQ*);
  int (*X509_NAME_add_entry_by_txt)(X509_NAME*, const char*, int, const unsigned char*, int, int,
                                    int);
  X509_EXTENSION* (*X509V3_EXT_conf_nid)(LHASH_OF(CONF_VALUE) *, X509V3_CTX*, int, const char*);
  int (*X509_REQ_add_extensions)(X509_REQ*, const STACK_OF(X509_EXTENSION) *);
  OPENSSL_STACK* (*OPENSSL_sk_new_null)();
  int (*OPENSSL_sk_push)(OPENSSL_STACK*, const void*);
  void (*OPENSSL_sk_free)(OPENSSL_STACK*);
  void (*X509_EXTENSION_free)(X509_EXTENSION*);
  int (*X509_REQ_sign)(X509_REQ*, EVP_PKEY*, const EVP_MD*);
  int (*i2d_X509_REQ)(const X509_REQ*, unsigned char**);
  const ASN1_TIME* (*X509_get0_notAfter)(const X509*);
  const ASN1_TIME* (*X509_get0_notBefore)(const X509*);
  int (*ASN1_TIME_to_tm)(const ASN1_TIME*, struct tm*);
  // The TLS-ALPN-01 certificate.
  X509* (*X509_new)();
  int (*X509_set_version)(X509*, long);
  ASN1_INTEGER* (*X509_get_serialNumber)(X509*);
  int (*ASN1_INTEGER_set)(ASN1_INTEGER*, long);
  ASN1_TIME* (*X509_gmtime_adj)(ASN1_TIME*, long);
  ASN1_TIME* (*X509_getm_notBefore)(const X509*);
  ASN1_TIME* (*X509_getm_notAfter)(const X509*);
  X509_NAME* (*X509_get_subject_name)(const X509*);
  int (*X509_set_issuer_name)(X509*, const X509_NAME*);
  int (*X509_set_pubkey)(X509*, EVP_PKEY*);
  int (*X509_add_ext)(X509*, X509_EXTENSION*, int);
  int (*X509_sign)(X509*, EVP_PKEY*, const EVP_MD*);
  ASN1_OBJECT* (*OBJ_txt2obj)(const char*, int);
  void (*ASN1_OBJECT_free)(ASN1_OBJECT*);
  ASN1_OCTET_STRING* (*ASN1_OCTET_STRING_new)();
  int (*ASN1_OCTET_STRING_set)(ASN1_OCTET_STRING*, const unsigned char*, int);
  void (*ASN1_OCTET_STRING_free)(ASN1_OCTET_STRING*);
  X509_EXTENSION* (*X509_EXTENSION_create_by_OBJ)(X509_EXTENSION**, const ASN1_OBJECT*, int,
                                                  ASN1_OCTET_STRING*);
  int (*PEM_write_bio_X509)(BIO*, const X509*);
  unsigned char* (*HMAC)(const EVP_MD*, const void*, int, const unsigned char*, size_t,
                         unsigned char*, unsigned int*);
  // ACME Renewal Information: the certificate's identifier.
  const ASN1_OCTET_STRING* (*X509_get0_authority_key_id)(X509*);
  const ASN1_INTEGER* (*X509_get0_serialNumber)(const X509*);
  int (*i2d_ASN1_INTEGER)(const ASN1_INTEGER*, unsigned char**);
  const unsigned char* (*ASN1_STRING_get0_data)(const ASN1_STRING*);
  int (*ASN1_STRING_length)(const ASN1_STRING*);
  // The TLS client (the CA's API is HTTPS).
  const SSL_METHOD* (*TLS_client_method)();
  SSL_CTX* (*SSL_CTX_new)(const SSL_METHOD*);
  void (*SSL_CTX_free)(SSL_CTX*);
  int (*SSL_CTX_load_verify_locations)(SSL_CTX*, const char*, const char*);
  int (*SSL_CTX_set_default_verify_paths)(SSL_CTX*);
  void (*SSL_CTX_set_verify)(SSL_CTX*, int, SSL_verify_cb);
  SSL* (*SSL_new)(SSL_CTX*);
  void (*SSL_free)(SSL*);
  int (*SSL_set_fd)(SSL*, int);
  int (*SSL_set1_host)(SSL*, const char*);
  long (*SSL_ctrl)(SSL*, int, long, void*);
  int (*SSL_connect)(SSL*);
  int (*SSL_read)(SSL*, void*, int);
  int (*SSL_write)(SSL*, const void*, int);
  long (*SSL_get_verify_result)(const SSL*);
  const char* (*X509_verify_cert_error_string)(long);
  unsigned long (*ERR_get_error)();
  void (*ERR_error_string_n)(unsigned long, char*, size_t);
  void (*ERR_clear_error)();
};

// The loaded table; throws std::runtime_error when libssl.so.3 cannot be loaded.
const AcmeOpenSsl& acme_openssl();

// The oldest queued OpenSSL error as text; clears the queue.
std::string ssl_error();

// --- helpers (each throws std::runtime_error with OpenSSL's reason) ---

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;

std::string base64url(std::string_view bytes);
std::string sha256(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view data);
// The bytes of base64url (or base64) text, padding optional; nullopt when it is not that.
std::optional<std::string> base64url_decode(std::string_view text);

Key generate_p256_key();
std::string key_to_pem(const Key& key);
Key key_from_pem(const std::string& pem);  // null when `pem` holds no private key

// The public key as a JWK (RFC 7517) with its members in lexicographic order, as the thumbprint
// (RFC 7638) needs: {"crv":"P-256","kty":"EC","x":"...","y":"..."}.
std::string jwk(const Key& key);
// base64url(SHA-256(jwk)): the account key's part of every key authorization.
std::string jwk_thumbprint(const Key& key);
// ES256 (RFC 7518 3.4): the signature as the 64 bytes r || s.
std::string sign_es256(const Key& key, std::string_view data);

// A certificate signing request (DER) for `domains` (the first also the subject's CN).
std::string csr_der(const Key& key, const std::vector<std::string>& domains);

// TLS-ALPN-01 (RFC 8737 3): a self-signed certificate for `name` whose critical
// acmeIdentifier extension holds SHA-256(key_authorization); PEM certificate and key.
struct ChallengeCertificate {
  std::string cert, key;
};
ChallengeCertificate tls_alpn_certificate(const std::string& name,
                                          const std::string& key_authorization);

// ACME Renewal Information (RFC 9773 4.1): base64url(the Authority Key Identifier's key id) "."
// base64url(the serial number's DER value, without tag and length); "" when the first
// certificate of `pem` has no key id.
std::string ari_cert_id(const std::string& pem);
// The same from the raw parts (for tests).
std::string ari_cert_id(std::string_view key_id, std::string_view serial_der_value);

// The validity of the first certificate in a PEM chain; false when it does not parse.
bool certificate_validity(const std::string& pem, std::time_t& not_before, std::time_t& not_after);

}  // namespace w2p::server::acme
