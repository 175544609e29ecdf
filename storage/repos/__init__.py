"""Repositories: plain sync functions over a SQLAlchemy `Connection`, one module per concept."""
