"""Nothing on an I/O thread may block: server/ never makes a synchronous socket call through
Asio or Beast (net::write, http::read, read_some, ...). Asynchronous calls, and the raw
non-blocking ::send/::sendfile/::recv the connection makes on its non-blocking sockets, are
what it uses instead. A call that must stay synchronous is marked on its line with
`// blocking-ok: <why>`."""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "server")
# Synchronous forms; their async_ counterparts do not match (\b before the name).
SYNC = re.compile(r"(?<![\w_])(?:net|asio|boost::asio|http|beast::http|websocket)::"
                  r"(?:write|read|read_until|read_at|write_at|connect)\s*\(|"
                  r"\.(?:read_some|write_some|receive|send|connect|accept|handshake|wait)\s*\(")


def main():
    bad = []
    for dirpath, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    code = line.split("//", 1)[0]
                    if SYNC.search(code) and "blocking-ok:" not in line:
                        bad.append("%s:%d: %s" % (os.path.relpath(path, ROOT), n, line.strip()))
    if bad:
        print("synchronous socket calls in server/ (an I/O thread must never block):")
        print("\n".join(bad))
        return 1
    print("no synchronous socket calls in server/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
