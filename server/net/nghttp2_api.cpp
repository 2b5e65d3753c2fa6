#include "server/net/nghttp2_api.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "server/dl_library.hpp"

namespace w2p::server {
namespace {

Nghttp2Api g_api;

template <class F>
void bind(void* lib, F& slot, const char* name, bool required = true) {
  dl::bind(lib, "HTTP/2: libnghttp2.so.14", slot, name, required);
}

void load(Nghttp2Api& api) {
  void* lib = dl::open("libnghttp2.so.14", "HTTP/2", "libnghttp2-14");
  Nghttp2Api a{};
  bind(lib, a.session_callbacks_new, "nghttp2_session_callbacks_new");
  bind(lib, a.session_callbacks_del, "nghttp2_session_callbacks_del");
  bind(lib, a.session_callbacks_set_on_begin_headers_callback,
       "nghttp2_session_callbacks_set_on_begin_headers_callback");
  bind(lib, a.session_callbacks_set_on_header_callback,
       "nghttp2_session_callbacks_set_on_header_callback");
  bind(lib, a.session_callbacks_set_on_frame_recv_callback,
       "nghttp2_session_callbacks_set_on_frame_recv_callback");
  bind(lib, a.session_callbacks_set_on_data_chunk_recv_callback,
       "nghttp2_session_callbacks_set_on_data_chunk_recv_callback");
  bind(lib, a.session_callbacks_set_on_stream_close_callback,
       "nghttp2_session_callbacks_set_on_stream_close_callback");
  bind(lib, a.session_callbacks_set_send_data_callback,
       "nghttp2_session_callbacks_set_send_data_callback");
  bind(lib, a.option_new, "nghttp2_option_new");
  bind(lib, a.option_del, "nghttp2_option_del");
  bind(lib, a.option_set_no_auto_window_update, "nghttp2_option_set_no_auto_window_update");
  bind(lib, a.option_set_max_settings, "nghttp2_option_set_max_settings");
  bind(lib, a.option_set_max_outbound_ack, "nghttp2_option_set_max_outbound_ack");
  bind(lib, a.option_set_max_deflate_dynamic_table_size,
       "nghttp2_option_set_max_deflate_dynamic_table_size");
  // Since 1.57 upstream (Debian 12 backports it with the rapid-reset fix): optional.
  bind(lib, a.option_set_stream_reset_rate_limit, "nghttp2_option_set_stream_reset_rate_limit",
       false);
  // Since 1.61 upstream (CVE-2024-28182, CONTINUATION floods; backported by Debian): optional.
  bind(lib, a.option_set_max_continuations, "nghttp2_option_set_max_continuations", false);
  bind(lib, a.session_server_new2, "nghttp2_session_server_new2");
  bind(lib, a.session_del, "nghttp2_session_del");
  bind(lib, a.submit_settings, "nghttp2_submit_settings");
  bind(lib, a.session_mem_recv, "nghttp2_session_mem_recv");
  bind(lib, a.session_mem_send, "nghttp2_session_mem_send");
  bind(lib, a.submit_response, "nghttp2_submit_response");
  bind(lib, a.session_resume_data, "nghttp2_session_resume_data");
  bind(lib, a.submit_rst_stream, "nghttp2_submit_rst_stream");
  bind(lib, a.submit_goaway, "nghttp2_submit_goaway");
  bind(lib, a.session_get_last_proc_stream_id, "nghttp2_session_get_last_proc_stream_id");
  bind(lib, a.session_want_read, "nghttp2_session_want_read");
  bind(lib, a.session_want_write, "nghttp2_session_want_write");
  bind(lib, a.session_consume, "nghttp2_session_consume");
  bind(lib, a.session_get_stream_user_data, "nghttp2_session_get_stream_user_data");
  bind(lib, a.session_set_stream_user_data, "nghttp2_session_set_stream_user_data");
  bind(lib, a.strerror, "nghttp2_strerror");
  api = a;
}

}  // namespace

const Nghttp2Api& nghttp2() {
  return dl::load_once(g_api, load);
}

}  // namespace w2p::server
