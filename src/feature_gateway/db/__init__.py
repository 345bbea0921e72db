"""Persistence: models, engine, repositories and the unit of work (no Flask here)."""
