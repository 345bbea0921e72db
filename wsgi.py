"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from feature_gateway import create_app

app = create_app()
