"""What every command of the CLI works on: the app's settings and database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from feature_gateway.app import Gateway


def current_gateway() -> Gateway:
    """The settings and database of the app the command runs in (``with_appcontext``)."""
    # Imported when a command runs, as the CLI's other imports of the app are.
    from feature_gateway.api.context import EXTENSION

    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
