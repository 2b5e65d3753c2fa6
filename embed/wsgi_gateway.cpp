#include "embed/wsgi_gateway.hpp"

#include <fcntl.h>
#include <pybind11/embed.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "embed/py_util.hpp"
#include "embed/wsgi_streams.hpp"
#include "server/log.hpp"

namespace w2p::embed {

using server::AppRequest;
using server::Header;
using server::ResponseHead;
using server::ResponseSink;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Blocks of a list or tuple are joined up to this size before going to the connection.
constexpr std::size_t kJoinLimit = 64 * 1024;

// The response state of one request, shared with its start_response object (which an
// application may keep beyond the request).
struct RequestState {
  ResponseSink* sink = nullptr;  // valid while `active`
  bool active = true;
  bool head_set = false;
  bool head_sent = false;
  bool client_gone = false;
  ResponseHead head;
};

// Sends with the GIL released: the connection may make us wait (back-pressure).
bool send_start(RequestState& st, std::string body, bool last) {
  st.head_sent = true;
  ResponseHead head = st.head;
  bool ok;
  {
    py::gil_scoped_release nogil;
    ok = st.sink->start(std::move(head), std::move(body), last);
  }
  if (!ok) st.client_gone = true;
  return ok;
}

bool send_body(RequestState& st, std::string body, bool last) {
  if (!st.head_sent) return send_start(st, std::move(body), last);
  bool ok;
  {
    py::gil_scoped_release nogil;
    ok = st.sink->body(std::move(body), last);
  }
  if (!ok) st.client_gone = true;
  return ok;
}

class StartResponse {
 public:
  explicit StartResponse(std::shared_ptr<RequestState> st) : st_(std::move(st)) {}

  py::object call(py::object self, const py::object& status, const py::object& headers,
                  const py::object& exc_info) {
    RequestState& st = *st_;
    if (!st.active) throw std::runtime_error("start_response() called after the response ended");
    if (!exc_info.is_none()) {
      if (st.head_sent) {
        // PEP 3333: too late to change the response; re-raise the application's exception.
        py::tuple info = exc_info.cast<py::tuple>();
        PyErr_SetObject(info[0].ptr(), info[1].ptr());
        if (!info[2].is_none()) PyException_SetTraceback(info[1].ptr(), info[2].ptr());
        throw py::error_already_set();
      }
    } else if (st.head_set) {
      throw std::runtime_error(
          "start_response() called a second time without exc_info (PEP 3333 forbids this)");
    }
    if (!PyUnicode_CheckExact(status.ptr()) && !PyUnicode_Check(status.ptr()))
      throw py::type_error("start_response(): status must be a str such as '200 OK'");
    std::string s = latin1(status, "status");
    auto head = server::parse_status_line(s);
    if (!head)
      throw py::value_error(
          "start_response(): invalid status '" + s +
          "' (expected a final status from 200 to 599, a space and a reason phrase)");
    if (!PyList_Check(headers.ptr()) && !PyTuple_Check(headers.ptr()))
      throw py::type_error("start_response(): headers must be a list of (name, value) tuples");
    py::sequence seq = py::reinterpret_borrow<py::sequence>(headers);
    head->headers.reserve(seq.size());
    for (auto item : seq) {
      if (!PyTuple_Check(item.ptr()) || PyTuple_GET_SIZE(item.ptr()) != 2)
        throw py::type_error("start_response(): each header must be a (name, value) tuple");
      py::handle name = PyTuple_GET_ITEM(item.ptr(), 0);
      py::handle value = PyTuple_GET_ITEM(item.ptr(), 1);
      if (!PyUnicode_Check(name.ptr()) || !PyUnicode_Check(value.ptr()))
        throw py::type_error("start_response(): header names and values must be str");
      std::string n = latin1(name, "header name");
      std::string v = latin1(value, "header value");
      if (!server::is_token(n))
        throw py::value_error("start_response(): invalid header name '" + n + "'");
      if (!server::is_safe_header_value(v))
        throw py::value_error("start_response(): header " + n +
                              " has a control character (CR, LF or NUL) in its value");
      head->headers.push_back({std::move(n), std::move(v)});
    }
    st.head = std::move(*head);
    st.head_set = true;
    return self.attr("write");
  }

  void write(const py::object& data) {
    RequestState& st = *st_;
    if (!st.active) throw std::runtime_error("write() called after the response ended");
    if (!st.head_set) throw std::runtime_error("write() called before start_response()");
    if (!PyBytes_Check(data.ptr())) throw py::type_error("write() takes bytes");
    if (st.client_gone) throw std::runtime_error("the client has disconnected");
    std::string chunk(PyBytes_AS_STRING(data.ptr()), PyBytes_GET_SIZE(data.ptr()));
    if (chunk.empty() && st.head_sent) return;
    if (!send_body(st, std::move(chunk), false))
      throw std::runtime_error("the client has disconnected");
  }

 private:
  static std::string latin1(py::handle s, const char* what) {
    PyObject* b = PyUnicode_AsLatin1String(s.ptr());
    if (!b) {
      PyErr_Clear();
      throw py::value_error(std::string("start_response(): ") + what +
                            " must be encodable as latin-1 (PEP 3333)");
    }
    std::string out(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return out;
  }

  std::shared_ptr<RequestState> st_;
};

}  // namespace

PYBIND11_EMBEDDED_MODULE(_w2pserve, m) {
  m.doc() = "Types of the w2pserve WSGI gateway";
  register_stream_types(m);
  py::class_<StartResponse>(m, "StartResponse")
      .def(
          "__call__",
          [](py::object self, const py::object& status, const py::object& headers,
             const py::object& exc_info) {
            return self.cast<StartResponse&>().call(self, status, headers, exc_info);
          },
          py::arg("status"), py::arg("headers"), py::arg("exc_info") = py::none())
      .def("write", &StartResponse::write);
}

namespace {

// Environ keys, created once and shared by every request.
struct Keys {
  py::object request_method, script_name, path_info, query_string, content_type, content_length,
      server_name, server_port, server_protocol, remote_addr, remote_port, request_uri,
      wsgi_version, wsgi_url_scheme, wsgi_input, wsgi_errors, wsgi_multithread, wsgi_multiprocess,
      wsgi_run_once, wsgi_file_wrapper, wsgi_input_terminated, https, server_software;
  py::object empty, http, https_str, on, http10, http11, http2, version_tuple;
};

py::object intern(const char* s) {
  return py::reinterpret_steal<py::object>(PyUnicode_InternFromString(s));
}

py::str latin1_str(std::string_view s) {
  PyObject* o = PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr);
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

void set_item(PyObject* d, const py::object& key, std::string_view value) {
  py::str v = latin1_str(value);
  if (PyDict_SetItem(d, key.ptr(), v.ptr()) != 0) throw py::error_already_set();
}

std::string env_name(std::string_view header) {
  std::string out;
  out.reserve(header.size() + 5);
  out.append("HTTP_");
  for (char c : header) {
    if (c == '-')
      c = '_';
    else if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 32);
    out.push_back(c);
  }
  return out;
}

std::string error_page() {
  return "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>"
         "<h1>500 Internal Server Error</h1><p>The application failed; the details are in the "
         "server's error log.</p></body></html>\n";
}

}  // namespace

struct WsgiGateway::Impl {
  py::object app;
  GatewayOptions options;
  Keys k;
  py::object start_response_type;
  py::object file_wrapper_type;
  py::object input_type;
  py::object errors;  // one wsgi.errors shared by all requests (writes are serialised by the GIL)
  std::vector<std::pair<py::object, py::object>> extra;
  bool warned_str = false;

  void fail(RequestState& st, const std::string& where, const std::string& detail) {
    server::log::block(server::log::Level::error, "application error " + where, detail);
    if (st.client_gone) return;
    if (!st.head_sent) {
      ResponseHead head;
      head.status = 500;
      head.reason = "Internal Server Error";
      head.headers.push_back({"Content-Type", "text/html; charset=utf-8"});
      st.head = std::move(head);
      send_start(st, error_page(), true);
    } else {
      py::gil_scoped_release nogil;
      st.sink->abort();
    }
  }

  // Returns true when the file wrapper was sent natively.
  bool send_file_wrapper(RequestState& st, const py::object& result) {
    auto& fw = result.cast<FileWrapper&>();
    const py::object& filelike = fw.filelike();
    if (!py::hasattr(filelike, "fileno")) return false;
    int fd = -1;
    try {
      fd = filelike.attr("fileno")().cast<int>();
    } catch (py::error_already_set& e) {
      e.restore();
      PyErr_Clear();
      return false;
    }
    struct stat sb {};
    if (fd < 0 || ::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
    // Buffered Python files may have read ahead; tell() is the application's position.
    std::int64_t offset = -1;
    if (py::hasattr(filelike, "tell")) {
      try {
        offset = filelike.attr("tell")().cast<std::int64_t>();
      } catch (py::error_already_set& e) {
        e.restore();
        PyErr_Clear();
      }
    }
    if (offset < 0) offset = ::lseek(fd, 0, SEEK_CUR);
    if (offset < 0) return false;
    if (!st.head_set)
      throw std::runtime_error("the application returned without calling start_response()");
    std::uint64_t length =
        sb.st_size > offset ? static_cast<std::uint64_t>(sb.st_size - offset) : 0;
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return false;
    server::BodyFile body{copy, static_cast<std::uint64_t>(offset), length};
    bool ok;
    bool with_head = !st.head_sent;
    st.head_sent = true;
    ResponseHead head = st.head;
    {
      // The server frames it: the file's length is the Content-Length unless the head has one.
      py::gil_scoped_release nogil;
      ok = with_head ? st.sink->start_file(std::move(head), body) : st.sink->file(body);
    }
    if (!ok) st.client_gone = true;
    return true;
  }

  void iterate(RequestState& st, const py::object& result) {
    if (py::isinstance(result, file_wrapper_type) && send_file_wrapper(st, result)) return;
    if (PyUnicode_Check(result.ptr()) || PyBytes_Check(result.ptr()) || result.is_none())
      throw py::type_error(std::string("the application returned ") +
                           Py_TYPE(result.ptr())->tp_name +
                           "; a WSGI application returns an iterable of bytes, e.g. [body]");
    // web2py's lazy translated strings (gluon.languages.lazyT, e.g. admin's "insecure channel"
    // message) iterate one character at a time: send their text in one piece.
    if (std::string_view(Py_TYPE(result.ptr())->tp_name) == "lazyT" && py::hasattr(result, "xml")) {
      py::str text = py::str(result);
      Py_ssize_t n = 0;
      const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &n);
      if (!data) throw py::error_already_set();
      if (!st.head_set)
        throw std::runtime_error("the application returned without calling start_response()");
      send_body(st, std::string(data, static_cast<std::size_t>(n)), true);
      return;
    }
    py::iterator it = py::iter(result);
    // Blocks already in memory (a list, a tuple, a string's characters as web2py's lazy
    // translations give) are joined; blocks from anything else go out as they come.
    std::string_view iter_type = Py_TYPE(it.ptr())->tp_name;
    bool joinable = iter_type == "list_iterator" || iter_type == "tuple_iterator" ||
                    iter_type == "str_iterator" || iter_type == "str_ascii_iterator";
    std::string pending;
    for (auto item : it) {
      const char* data = nullptr;
      Py_ssize_t n = 0;
      if (PyBytes_Check(item.ptr())) {
        data = PyBytes_AS_STRING(item.ptr());
        n = PyBytes_GET_SIZE(item.ptr());
      } else if (PyUnicode_Check(item.ptr())) {
        // PEP 3333 wants bytes; web2py's own server accepts str and web2py's admin yields it.
        data = PyUnicode_AsUTF8AndSize(item.ptr(), &n);
        if (!data) throw py::error_already_set();
        if (!warned_str) {
          warned_str = true;
          server::log::warn(
              "the application yields str, not bytes (PEP 3333); encoding it as "
              "UTF-8 (logged once)");
        }
      } else {
        throw py::type_error(std::string("the application's iterable yielded ") +
                             Py_TYPE(item.ptr())->tp_name + ", not bytes");
      }
      if (!st.head_set)
        throw std::runtime_error("the application yielded a body before calling start_response()");
      if (n == 0) continue;
      pending.append(data, static_cast<std::size_t>(n));
      // PEP 3333: a block from a generator must not wait for the next one.
      if (!joinable || pending.size() >= kJoinLimit) {
        if (!send_body(st, std::move(pending), false)) return;
        pending.clear();
      }
    }
    if (!st.head_set)
      throw std::runtime_error("the application returned without calling start_response()");
    send_body(st, std::move(pending), true);
  }

  void call_close(const py::object& result) {
    if (!result || !py::hasattr(result, "close")) return;
    try {
      result.attr("close")();
    } catch (py::error_already_set& e) {
      e.restore();
      server::log::block(server::log::Level::error, "exception in the iterable's close()",
                         format_python_error());
    }
  }
};

WsgiGateway::WsgiGateway(py::object app, GatewayOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->app = std::move(app);
  impl_->options = std::move(options);
  Keys& k = impl_->k;
  k.request_method = intern("REQUEST_METHOD");
  k.script_name = intern("SCRIPT_NAME");
  k.path_info = intern("PATH_INFO");
  k.query_string = intern("QUERY_STRING");
  k.content_type = intern("CONTENT_TYPE");
  k.content_length = intern("CONTENT_LENGTH");
  k.server_name = intern("SERVER_NAME");
  k.server_port = intern("SERVER_PORT");
  k.server_protocol = intern("SERVER_PROTOCOL");
  k.remote_addr = intern("REMOTE_ADDR");
  k.remote_port = intern("REMOTE_PORT");
  k.request_uri = intern("REQUEST_URI");
  k.wsgi_version = intern("wsgi.version");
  k.wsgi_url_scheme = intern("wsgi.url_scheme");
  k.wsgi_input = intern("wsgi.input");
  k.wsgi_errors = intern("wsgi.errors");
  k.wsgi_multithread = intern("wsgi.multithread");
  k.wsgi_multiprocess = intern("wsgi.multiprocess");
  k.wsgi_run_once = intern("wsgi.run_once");
  k.wsgi_file_wrapper = intern("wsgi.file_wrapper");
  k.wsgi_input_terminated = intern("wsgi.input_terminated");
  k.https = intern("HTTPS");
  k.server_software = intern("SERVER_SOFTWARE");
  k.empty = intern("");
  k.http = intern("http");
  k.https_str = intern("https");
  k.on = intern("on");
  k.http10 = intern("HTTP/1.0");
  k.http11 = intern("HTTP/1.1");
  k.http2 = intern("HTTP/2");
  k.version_tuple = py::make_tuple(1, 0);
  py::module_ mod = py::module_::import("_w2pserve");
  impl_->start_response_type = mod.attr("StartResponse");
  impl_->file_wrapper_type = mod.attr("FileWrapper");
  impl_->input_type = mod.attr("InputStream");
  impl_->errors = py::cast(ErrorStream());
  for (const auto& [name, value] : impl_->options.extra_flags)
    impl_->extra.emplace_back(intern(name.c_str()), py::bool_(value));
}

WsgiGateway::~WsgiGateway() = default;

py::dict WsgiGateway::build_environ(const std::shared_ptr<AppRequest>& request) {
  const AppRequest& r = *request;
  const Keys& k = impl_->k;
  py::dict environ;
  PyObject* d = environ.ptr();
  set_item(d, k.request_method, r.method);
  PyDict_SetItem(d, k.script_name.ptr(), k.empty.ptr());
  set_item(d, k.path_info, r.path);
  set_item(d, k.query_string, r.query);
  set_item(d, k.request_uri, r.target);
  PyDict_SetItem(d, k.server_protocol.ptr(),
                 (r.version == 10   ? k.http10
                  : r.version == 20 ? k.http2
                                    : k.http11)
                     .ptr());
  set_item(d, k.remote_addr, r.remote_addr);
  set_item(d, k.remote_port, std::to_string(r.remote_port));
  set_item(d, k.server_port, std::to_string(r.server_port));
  std::vector<std::pair<std::string, std::string>> http;  // HTTP_* keys, duplicates joined
  http.reserve(r.headers.size());
  std::unordered_map<std::string, std::size_t> index;  // key -> its place in `http`
  index.reserve(r.headers.size());
  for (const auto& h : r.headers) {
    std::string_view name = h.name;
    if (iequals(name, "content-type")) {
      set_item(d, k.content_type, h.value);
      continue;
    }
    // The length the application sees is the body it can read (chunked bodies included).
    if (iequals(name, "content-length")) continue;
    // The server already decoded a chunked body: an application that saw this header would try
    // to decode it again (Bottle does).
    if (iequals(name, "transfer-encoding")) continue;
    // Names are letters, digits and '-' only (the server's header-name policy), so no two
    // spellings share an environ key.
    std::string key = env_name(name);
    // Repeated headers are joined as RFC 9110 allows; cookies with "; " as browsers expect.
    auto [slot, fresh] = index.try_emplace(key, http.size());
    if (fresh) {
      http.emplace_back(std::move(key), h.value);
    } else {
      http[slot->second].second.append(iequals(name, "cookie") ? "; " : ", ").append(h.value);
    }
  }
  for (const auto& [key, value] : http) set_item(d, py::str(key), value);
  set_item(d, k.server_name, r.server_name);  // the server took it from Host
  if (r.has_content_length || r.body.length > 0)
    set_item(d, k.content_length, std::to_string(r.body.length));
  PyDict_SetItem(d, k.wsgi_version.ptr(), k.version_tuple.ptr());
  PyDict_SetItem(d, k.wsgi_url_scheme.ptr(), (r.https ? k.https_str : k.http).ptr());
  if (r.https) PyDict_SetItem(d, k.https.ptr(), k.on.ptr());
  py::object input = py::cast(InputStream(request));
  PyDict_SetItem(d, k.wsgi_input.ptr(), input.ptr());
  PyDict_SetItem(d, k.wsgi_errors.ptr(), impl_->errors.ptr());
  PyDict_SetItem(d, k.wsgi_multithread.ptr(), Py_True);
  PyDict_SetItem(d, k.wsgi_multiprocess.ptr(), Py_False);
  PyDict_SetItem(d, k.wsgi_run_once.ptr(), Py_False);
  PyDict_SetItem(d, k.wsgi_input_terminated.ptr(), Py_True);
  PyDict_SetItem(d, k.wsgi_file_wrapper.ptr(), impl_->file_wrapper_type.ptr());
  set_item(d, k.server_software, "w2pserve/" W2P_VERSION);
  for (const auto& [key, value] : impl_->extra) PyDict_SetItem(d, key.ptr(), value.ptr());
  return environ;
}

void WsgiGateway::handle(const std::shared_ptr<AppRequest>& request, ResponseSink& sink) {
  auto st = std::make_shared<RequestState>();
  st->sink = &sink;
  py::object result;
  const char* where = "while building the environ";
  try {
    py::dict environ = build_environ(request);
    py::object start_response = py::cast(StartResponse(st));
    where = "in the application";
    result = impl_->app(environ, start_response);
    where = "while iterating the response";
    impl_->iterate(*st, result);
  } catch (py::error_already_set& e) {
    e.restore();
    std::string tb = format_python_error();
    impl_->fail(*st, std::string(where) + " (" + request->method + " " + request->target + ")", tb);
  } catch (const std::exception& e) {
    // Errors the gateway raised itself (a wrong type, start_response misuse, a lost client):
    // Python-visible ones arrive above, these come from C++ checks.
    impl_->fail(*st, std::string(where) + " (" + request->method + " " + request->target + ")",
                e.what());
  }
  impl_->call_close(result);
  st->active = false;
  st->sink = nullptr;
}

}  // namespace w2p::embed
