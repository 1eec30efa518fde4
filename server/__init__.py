"""The reference OFFIMIZER ticket server (FastAPI + SQLAlchemy; SQLite or PostgreSQL).

``server.app`` is the HTTP API, ``server.service`` what it does, ``server.models``
the tables (migrated by alembic, ``server.migrate``), ``server.changes`` the
commit-ordered change feed and ``server.slaclock`` the SLA derived on every read.
"""

from typing import Final

#: The database URL, when ``--database-url`` is not given; how worker processes get it.
DATABASE_URL_VARIABLE: Final = "OFFIMIZER_DATABASE_URL"
