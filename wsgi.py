"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

import gc

from feature_gateway import create_app

app = create_app()
# What exists now (the app, ~90,000 objects of Flask, SQLAlchemy, marshmallow, sqlglot,
# numpy) lives as long as the worker. A full garbage collection walks all of it, about
# 60 ms, and lands on a request every few dozen large ones; frozen objects are skipped.
gc.collect()
gc.freeze()
