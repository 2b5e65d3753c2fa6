"""Runs one web2py cron job inside the server's interpreter, as `web2py.py -J -S app -R script
[-M]` would in a new process: through gluon.shell.run, with the job's output captured."""

import contextlib
import io
import traceback

TAIL = 8000


def make_missing_folders(app):
    import os

    folder = os.path.join("applications", app)
    try:
        from gluon.fileutils import missing_app_folders

        names = [os.path.basename(p) for p in missing_app_folders(folder)]
    except ImportError:  # an older gluon
        names = ["databases", "errors", "sessions", "cache", "private", "uploads"]
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isdir(path):
            try:
                os.mkdir(path)
            except OSError:
                pass


def run_job(app, kind, target, models):
    """kind: "script" (target is a .py path relative to the web2py folder) or "action"
    (target is controller/function). Returns (status, output tail)."""
    from gluon import shell

    # As a request would (gluon.main): an application copied from git has no databases/,
    # sessions/ or errors/ yet, and its models need them.
    make_missing_folders(app)
    out = io.StringIO()
    status = "ok"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            if kind == "script":
                shell.run(app, plain=True, import_models=models, startfile=target, cron_job=True)
            else:
                shell.run(app + "/" + target, plain=True, import_models=True, cron_job=True)
        except SystemExit as e:
            if e.code not in (None, 0):
                status = "error"
                print("SystemExit(%r)" % (e.code,))
        except TimeoutError:
            status = "timeout"
            traceback.print_exc()
        except BaseException:
            status = "error"
            traceback.print_exc()
    text = out.getvalue()
    # gluon.shell.run prints a job's traceback itself and carries on.
    if status == "ok" and "Traceback (most recent call last)" in text:
        status = "timeout" if "TimeoutError" in text else "error"
    return status, text[-TAIL:]
