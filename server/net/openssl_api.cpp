#include "server/net/openssl_api.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

#include "server/dl_library.hpp"

namespace w2p::server {
namespace {

OpenSslApi g_api;

template <class F>
void bind(void* lib, F& slot, const char* name) {
  dl::bind(lib, "TLS: libssl.so.3", slot, name);
}

void load(OpenSslApi& api) {
  void* lib = dl::open("libssl.so.3", "TLS", "libssl3");
  OpenSslApi a{};
  bind(lib, a.TLS_server_method, "TLS_server_method");
  bind(lib, a.SSL_CTX_new, "SSL_CTX_new");
  bind(lib, a.SSL_CTX_free, "SSL_CTX_free");
  bind(lib, a.SSL_CTX_ctrl, "SSL_CTX_ctrl");
  bind(lib, a.SSL_CTX_callback_ctrl, "SSL_CTX_callback_ctrl");
  bind(lib, a.SSL_CTX_set_cipher_list, "SSL_CTX_set_cipher_list");
  bind(lib, a.SSL_CTX_set_options, "SSL_CTX_set_options");
  bind(lib, a.SSL_CTX_check_private_key, "SSL_CTX_check_private_key");
  bind(lib, a.SSL_CTX_use_certificate, "SSL_CTX_use_certificate");
  bind(lib, a.SSL_CTX_use_PrivateKey, "SSL_CTX_use_PrivateKey");
  bind(lib, a.SSL_get_servername, "SSL_get_servername");
  bind(lib, a.SSL_set_SSL_CTX, "SSL_set_SSL_CTX");
  bind(lib, a.SSL_new, "SSL_new");
  bind(lib, a.SSL_free, "SSL_free");
  bind(lib, a.SSL_set_fd, "SSL_set_fd");
  bind(lib, a.SSL_accept, "SSL_accept");
  bind(lib, a.SSL_get_error, "SSL_get_error");
  bind(lib, a.SSL_read, "SSL_read");
  bind(lib, a.SSL_write, "SSL_write");
  bind(lib, a.SSL_shutdown, "SSL_shutdown");
  bind(lib, a.SSL_CTX_set_alpn_select_cb, "SSL_CTX_set_alpn_select_cb");
  bind(lib, a.SSL_get0_alpn_selected, "SSL_get0_alpn_selected");
  bind(lib, a.SSL_select_next_proto, "SSL_select_next_proto");
  bind(lib, a.SSL_CTX_set_client_hello_cb, "SSL_CTX_set_client_hello_cb");
  bind(lib, a.SSL_client_hello_get0_ext, "SSL_client_hello_get0_ext");
  bind(lib, a.SSL_get_SSL_CTX, "SSL_get_SSL_CTX");
  // libssl depends on libcrypto, so its symbols resolve through the same handle.
  bind(lib, a.ERR_get_error, "ERR_get_error");
  bind(lib, a.ERR_error_string_n, "ERR_error_string_n");
  bind(lib, a.ERR_clear_error, "ERR_clear_error");
  bind(lib, a.BIO_new_mem_buf, "BIO_new_mem_buf");
  bind(lib, a.BIO_free, "BIO_free");
  bind(lib, a.PEM_read_bio_X509_AUX, "PEM_read_bio_X509_AUX");
  bind(lib, a.PEM_read_bio_X509, "PEM_read_bio_X509");
  bind(lib, a.PEM_read_bio_PrivateKey, "PEM_read_bio_PrivateKey");
  bind(lib, a.X509_free, "X509_free");
  bind(lib, a.EVP_PKEY_free, "EVP_PKEY_free");
  api = a;
}

}  // namespace

const OpenSslApi& openssl() {
  return dl::load_once(g_api, load);
}

std::string openssl_error() {
  const OpenSslApi& a = openssl();
  unsigned long e = a.ERR_get_error();
  if (!e) return "unknown error";
  char buf[256];
  a.ERR_error_string_n(e, buf, sizeof buf);
  a.ERR_clear_error();
  return buf;
}

}  // namespace w2p::server
