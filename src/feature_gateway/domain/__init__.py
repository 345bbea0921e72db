"""Pure business rules: no Flask, no SQLAlchemy."""
