"""The reference OFFIMIZER ticket server (FastAPI + SQLAlchemy; SQLite or PostgreSQL).

``server.app`` is the HTTP API, ``server.service`` what it does, ``server.models``
the tables (migrated by alembic, ``server.migrate``), ``server.changes`` the
commit-ordered change feed and ``server.slaclock`` the SLA derived on every read.
"""
