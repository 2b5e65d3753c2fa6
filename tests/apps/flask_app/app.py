"""A small Flask application (Debian's python3-flask) served by w2pserve.

Served as is, not behind wsgiref.validate: the server sets wsgi.input_terminated, so Werkzeug
reads wsgi.input with read() and no size, which the validator forbids (it accepts only
read(size)). The scenario applications in tests/apps check the server with the validator.
"""

from flask import Flask, Response, jsonify, make_response, request, session

app = Flask(__name__)
app.secret_key = b"w2pserve-test-secret"


@app.route("/hello/<name>")
def hello(name):
    return "Hello, %s!" % name


@app.route("/items/<int:item_id>/<path:rest>")
def item(item_id, rest):
    return jsonify(id=item_id, rest=rest, q=request.args.get("q"))


@app.route("/form", methods=["POST"])
def form():
    return jsonify(
        fields={k: request.form.getlist(k) for k in request.form},
        files={k: f.read().decode("latin-1") for k, f in request.files.items()},
    )


@app.route("/json", methods=["POST"])
def echo_json():
    data = request.get_json()
    return jsonify(received=data, total=sum(data.get("numbers", []))), 201


@app.route("/cookie/set")
def set_cookie():
    session["user"] = "alice"
    resp = make_response("cookies set")
    resp.set_cookie("flavour", "oatmeal raisin")
    return resp


@app.route("/cookie/get")
def get_cookie():
    return jsonify(flavour=request.cookies.get("flavour"), user=session.get("user"))


@app.route("/stream")
def stream():
    n = request.args.get("n", 5, type=int)

    def generate():
        for i in range(n):
            yield "line %d\n" % i

    return Response(generate(), mimetype="text/plain")


application = app
