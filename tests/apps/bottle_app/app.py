"""A small Bottle application (Debian's python3-bottle) served by w2pserve.

Served as is, like the Flask one (tests/apps/flask_app), so both frameworks see the server
directly.
"""

import json

import bottle
from bottle import request, response

SECRET = "w2pserve-test-secret"
app = bottle.Bottle()


@app.route("/hello/<name>")
def hello(name):
    return "Hello, %s!" % name


@app.route("/items/<item_id:int>/<rest:path>")
def item(item_id, rest):
    return {"id": item_id, "rest": rest, "q": request.query.get("q")}


@app.post("/form")
def form():
    # Bottle keeps urlencoded values as latin-1 strs until asked to decode them; multipart
    # values come already decoded (cgi.FieldStorage) and must not be decoded twice.
    forms = request.forms
    if not request.content_type.startswith("multipart/"):
        forms = forms.decode()
    return {
        "fields": {k: forms.getall(k) for k in forms.keys()},
        "files": {k: f.file.read().decode("latin-1") for k, f in request.files.items()},
    }


@app.post("/json")
def echo_json():
    data = request.json
    response.status = 201
    return {"received": data, "total": sum(data.get("numbers", []))}


@app.route("/cookie/set")
def set_cookie():
    response.set_cookie("flavour", "oatmeal raisin")
    response.set_cookie("account", "alice", secret=SECRET)
    return "cookies set"


@app.route("/cookie/get")
def get_cookie():
    response.content_type = "application/json"
    return json.dumps({
        "flavour": request.get_cookie("flavour"),
        "user": request.get_cookie("account", secret=SECRET),
    })


@app.route("/stream")
def stream():
    n = int(request.query.get("n", 5))
    response.content_type = "text/plain"

    def generate():
        for i in range(n):
            yield "line %d\n" % i

    return generate()


application = app
