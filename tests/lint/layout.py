"""The folders' rules (README, "Layout"): which folder may include which. embed/ sees only the
one interface (server/app_interface.hpp) and logging (server/log.hpp); server/ never sees
Python or embed/; protocol pieces (server/http) depend on nothing else of the server."""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOP = "server"  # server/app_interface.hpp, server/log.hpp

# folder -> folders it may include (besides itself)
MAY_INCLUDE = {
    "server": {"server/ops"},
    "server/http": {TOP},
    "server/routing": {TOP, "server/http", "server/static"},
    "server/static": {TOP, "server/http", "server/routing"},
    "server/cron": {TOP},
    "server/acme": {TOP, "server/net"},
    "server/config": {TOP, "server/http", "server/routing", "server/static", "server/ops"},
    "server/ops": {TOP, "server/http", "server/routing", "server/net", "server/static"},
    "server/net": {TOP, "server/http", "server/routing", "server/static", "server/config",
                   "server/ops", "server/cron"},
    "embed": {"server/app_interface.hpp", "server/log.hpp"},
    "cmd": {"*"},
}
PYTHON = re.compile(r'#include [<"](Python\.h|pybind11/)')
INCLUDE = re.compile(r'#include "([^"]+)"')


def folder_of(path):
    parts = path.split("/")
    return "/".join(parts[:-1])


def main():
    bad = []
    for top in ("server", "embed", "cmd"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".cpp", ".hpp")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                src = folder_of(rel)
                allowed = MAY_INCLUDE.get(src)
                if allowed is None:
                    bad.append("%s: folder %s is not in the layout table" % (rel, src))
                    continue
                text = open(os.path.join(ROOT, rel), encoding="utf-8").read()
                if src.startswith("server") and PYTHON.search(text):
                    bad.append("%s: server/ must not include Python" % rel)
                for inc in INCLUDE.findall(text):
                    if not inc.startswith(("server/", "embed/", "cmd/")):
                        continue
                    dst = folder_of(inc)
                    if dst == src or "*" in allowed or dst in allowed or inc in allowed:
                        continue
                    bad.append("%s includes %s (%s may include: %s)" %
                               (rel, inc, src, ", ".join(sorted(allowed))))
    if bad:
        print("\n".join(bad))
        return 1
    print("layout rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
