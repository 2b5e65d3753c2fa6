#include "embed/py_util.hpp"

#include <Python.h>

namespace w2p::embed {

std::string format_python_error() {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) return {};
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  std::string out;
  PyObject* mod = PyImport_ImportModule("traceback");
  PyObject* lines = nullptr;
  if (mod) {
    lines = PyObject_CallMethod(mod, "format_exception", "OOO", type, value ? value : Py_None,
                                tb ? tb : Py_None);
    Py_DECREF(mod);
  }
  if (lines) {
    PyObject* sep = PyUnicode_FromString("");
    PyObject* joined = sep ? PyUnicode_Join(sep, lines) : nullptr;
    Py_XDECREF(sep);
    if (joined) {
      const char* s = PyUnicode_AsUTF8(joined);
      if (s) out = s;
      Py_DECREF(joined);
    }
    Py_DECREF(lines);
  }
  PyErr_Clear();
  if (out.empty()) {
    PyObject* s = value ? PyObject_Str(value) : nullptr;
    const char* c = s ? PyUnicode_AsUTF8(s) : nullptr;
    out = c ? c : "unknown Python error";
    Py_XDECREF(s);
    PyErr_Clear();
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace w2p::embed
