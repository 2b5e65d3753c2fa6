#pragma once
// OpenSSL, loaded only when TLS is configured (dlopen of libssl.so.3). Linked in, it costs every
// process memory whether or not it serves TLS: ~1.8 MiB of relocated pages as shared
// libraries, ~700 KiB of a larger binary linked statically. The headers give the types and
// constants; calls go through this table.

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <string>

namespace w2p::server {

struct OpenSslApi {
  const SSL_METHOD* (*TLS_server_method)();
  SSL_CTX* (*SSL_CTX_new)(const SSL_METHOD*);
  void (*SSL_CTX_free)(SSL_CTX*);
  long (*SSL_CTX_ctrl)(SSL_CTX*, int, long, void*);
  long (*SSL_CTX_callback_ctrl)(SSL_CTX*, int, void (*)(void));
  int (*SSL_CTX_set_cipher_list)(SSL_CTX*, const char*);
  uint64_t (*SSL_CTX_set_options)(SSL_CTX*, uint64_t);
  int (*SSL_CTX_check_private_key)(const SSL_CTX*);
  int (*SSL_CTX_use_certificate)(SSL_CTX*, X509*);
  int (*SSL_CTX_use_PrivateKey)(SSL_CTX*, EVP_PKEY*);
  BIO* (*BIO_new_mem_buf)(const void*, int);
  int (*BIO_free)(BIO*);
  X509* (*PEM_read_bio_X509_AUX)(BIO*, X509**, pem_password_cb*, void*);
  X509* (*PEM_read_bio_X509)(BIO*, X509**, pem_password_cb*, void*);
  EVP_PKEY* (*PEM_read_bio_PrivateKey)(BIO*, EVP_PKEY**, pem_password_cb*, void*);
  void (*X509_free)(X509*);
  void (*EVP_PKEY_free)(EVP_PKEY*);
  const char* (*SSL_get_servername)(const SSL*, const int);
  SSL_CTX* (*SSL_set_SSL_CTX)(SSL*, SSL_CTX*);
  SSL* (*SSL_new)(SSL_CTX*);
  void (*SSL_free)(SSL*);
  int (*SSL_set_fd)(SSL*, int);
  int (*SSL_accept)(SSL*);
  int (*SSL_get_error)(const SSL*, int);
  int (*SSL_read)(SSL*, void*, int);
  int (*SSL_write)(SSL*, const void*, int);
  int (*SSL_shutdown)(SSL*);
  void (*SSL_CTX_set_alpn_select_cb)(SSL_CTX*, SSL_CTX_alpn_select_cb_func, void*);
  void (*SSL_get0_alpn_selected)(const SSL*, const unsigned char**, unsigned int*);
  int (*SSL_select_next_proto)(unsigned char**, unsigned char*, const unsigned char*, unsigned int,
                               const unsigned char*, unsigned int);
  void (*SSL_CTX_set_client_hello_cb)(SSL_CTX*, SSL_client_hello_cb_fn, void*);
  int (*SSL_client_hello_get0_ext)(SSL*, unsigned int, const unsigned char**, size_t*);
  SSL_CTX* (*SSL_get_SSL_CTX)(const SSL*);
  unsigned long (*ERR_get_error)();
  void (*ERR_error_string_n)(unsigned long, char*, size_t);
  void (*ERR_clear_error)();
};

// The loaded table; throws std::runtime_error when libssl.so.3 cannot be loaded.
const OpenSslApi& openssl();

// The oldest queued OpenSSL error as text ("unknown error" when there is none); clears the queue.
std::string openssl_error();

}  // namespace w2p::server
