#pragma once
// The PEP 3333 gateway: builds the environ for a request, calls the application on the current
// worker thread, and streams its response into a ResponseSink. Requires the GIL; releases it
// whenever it waits on the connection.

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::embed {

namespace py = pybind11;

struct GatewayOptions {
  // Extra environ entries set on every request (e.g. web2py.use_wsgi_file_wrapper).
  std::vector<std::pair<std::string, bool>> extra_flags;
};

class WsgiGateway {
 public:
  // Requires the GIL.
  WsgiGateway(py::object app, GatewayOptions options = {});
  ~WsgiGateway();  // requires the GIL

  // Runs one request start to finish. Requires the GIL (the calling worker's thread state).
  void handle(const std::shared_ptr<server::AppRequest>& request, server::ResponseSink& sink);

  // The environ for a request (exposed for tests). Requires the GIL.
  py::dict build_environ(const std::shared_ptr<server::AppRequest>& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace w2p::embed
