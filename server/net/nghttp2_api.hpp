#pragma once
// libnghttp2 (HTTP/2 framing, HPACK, flow control), loaded only when a listener speaks HTTP/2
// (dlopen of libnghttp2.so.14), as OpenSSL is: a server without HTTP/2 maps none of it. The
// header gives the types and constants; calls go through this table.

#include <nghttp2/nghttp2.h>

namespace w2p::server {

struct Nghttp2Api {
  int (*session_callbacks_new)(nghttp2_session_callbacks**);
  void (*session_callbacks_del)(nghttp2_session_callbacks*);
  void (*session_callbacks_set_on_begin_headers_callback)(nghttp2_session_callbacks*,
                                                          nghttp2_on_begin_headers_callback);
  void (*session_callbacks_set_on_header_callback)(nghttp2_session_callbacks*,
                                                   nghttp2_on_header_callback);
  void (*session_callbacks_set_on_frame_recv_callback)(nghttp2_session_callbacks*,
                                                       nghttp2_on_frame_recv_callback);
  void (*session_callbacks_set_on_data_chunk_recv_callback)(nghttp2_session_callbacks*,
                                                            nghttp2_on_data_chunk_recv_callback);
  void (*session_callbacks_set_on_stream_close_callback)(nghttp2_session_callbacks*,
                                                         nghttp2_on_stream_close_callback);
  void (*session_callbacks_set_send_data_callback)(nghttp2_session_callbacks*,
                                                   nghttp2_send_data_callback);
  int (*option_new)(nghttp2_option**);
  void (*option_del)(nghttp2_option*);
  void (*option_set_no_auto_window_update)(nghttp2_option*, int);
  void (*option_set_max_settings)(nghttp2_option*, size_t);
  void (*option_set_max_outbound_ack)(nghttp2_option*, size_t);
  void (*option_set_max_deflate_dynamic_table_size)(nghttp2_option*, size_t);
  void (*option_set_stream_reset_rate_limit)(nghttp2_option*, uint64_t, uint64_t);  // may be null
  void (*option_set_max_continuations)(nghttp2_option*, size_t);                    // may be null
  int (*session_server_new2)(nghttp2_session**, const nghttp2_session_callbacks*, void*,
                             const nghttp2_option*);
  void (*session_del)(nghttp2_session*);
  int (*submit_settings)(nghttp2_session*, uint8_t, const nghttp2_settings_entry*, size_t);
  ssize_t (*session_mem_recv)(nghttp2_session*, const uint8_t*, size_t);
  ssize_t (*session_mem_send)(nghttp2_session*, const uint8_t**);
  int (*submit_response)(nghttp2_session*, int32_t, const nghttp2_nv*, size_t,
                         const nghttp2_data_provider*);
  int (*session_resume_data)(nghttp2_session*, int32_t);
  int (*submit_rst_stream)(nghttp2_session*, uint8_t, int32_t, uint32_t);
  int (*submit_goaway)(nghttp2_session*, uint8_t, int32_t, uint32_t, const uint8_t*, size_t);
  int32_t (*session_get_last_proc_stream_id)(nghttp2_session*);
  int (*session_want_read)(nghttp2_session*);
  int (*session_want_write)(nghttp2_session*);
  int (*session_consume)(nghttp2_session*, int32_t, size_t);
  void* (*session_get_stream_user_data)(nghttp2_session*, int32_t);
  int (*session_set_stream_user_data)(nghttp2_session*, int32_t, void*);
  const char* (*strerror)(int);
};

// The loaded table; throws std::runtime_error when libnghttp2.so.14 cannot be loaded.
const Nghttp2Api& nghttp2();

}  // namespace w2p::server
