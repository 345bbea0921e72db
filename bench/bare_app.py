"""The ceiling of the stack: a bare Flask endpoint returning a constant JSON body."""

from flask import Flask, jsonify

app = Flask("bare")
BODY = {"status": "healthy", "version": "0.1.0", "database": "ok"}


@app.get("/bare")
def bare():  # type: ignore[no-untyped-def]
    return jsonify(BODY)
