"""Alembic migrations of the app database (applied by :func:`tools.db.upgrade`)."""
