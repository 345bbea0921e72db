"""Feature Metadata Gateway: the system of record for ML feature metadata."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI application; the one place that wires things together."""
    from feature_gateway.app import build_app

    return build_app(overrides)
