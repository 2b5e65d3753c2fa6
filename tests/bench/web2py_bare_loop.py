"""web2py without a server: gluon.main.wsgibase called N times (default 2,000) on the welcome page
in a bare python3.11, run from the web2py folder. Prints VmRSS and Pss (KiB) at the end."""

import io
import os
import sys

sys.path.insert(0, os.getcwd())
from gluon.settings import global_settings  # noqa: E402

global_settings.web2py_runtime_handler = True
import gluon.main  # noqa: E402


def call():
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/welcome/default/index", "QUERY_STRING": "",
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
           "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
           "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0),
           "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}
    out = gluon.main.wsgibase(env, lambda s, h, e=None: None)
    b"".join(out)


for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
    call()
rss = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS")][0]
pss = [line.split()[1] for line in open("/proc/self/smaps_rollup") if line.startswith("Pss:")][0]
print(rss, pss)
