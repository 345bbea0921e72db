"""The ``feature-gateway`` command: Flask's command group over an app built for commands.

The commands are registered on every app by the composition root (``app.build_app``, from
``cli_commands``), so ``flask --app wsgi <command>`` runs the same ones.
"""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command

from feature_gateway.app import build_app
from feature_gateway.cli_context import StartError
from feature_gateway.config import ConfigError


def _create_app() -> Flask:
    try:
        # A command serves nothing: no console key needed, no server's warnings said.
        return build_app(serving=False)
    except ConfigError as exc:  # an operator's typo deserves a sentence, not a traceback
        raise StartError(str(exc)) from exc


def main() -> None:
    # Not Flask's `run`: it would serve with the settings of a command (see _create_app);
    # the service is served by gunicorn (gunicorn.conf.py).
    group = FlaskGroup(create_app=_create_app, add_default_commands=False)
    group.add_command(shell_command)
    group.add_command(routes_command)
    group.main()
