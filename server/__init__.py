"""The reference OFFIMIZER ticket server (FastAPI + SQLAlchemy; SQLite or PostgreSQL).

``server.app`` wires the HTTP API (its routes and middleware); ``server.routers``
adds the optional routers (live events, announcements, the knowledge base,
presence, reports, accounts).  What the API does, independent of HTTP:

* ``server.permissions``: who may see and change which tickets;
* ``server.directory``: users, teams and organisations;
* ``server.tickets``: reading tickets, and their wire forms;
* ``server.ticket_creation``: opening a ticket;
* ``server.commands``: the commands agents send, and their rules;
* ``server.pushes``: running a push's commands exactly once each;
* ``server.writer``: how each change to a ticket is recorded;
* ``server.signin``: signing in with a password, under failure limits;
* ``server.ticket_sla``: tickets' SLA, derived on every read;
* ``server.changes``: the commit-ordered change feed.

``server.models`` holds the tables (migrated by alembic, ``server.migrate``),
``server.errors`` the error every layer raises, ``server.demo`` the demo data.
"""

from typing import Final

#: The database URL, when ``--database-url`` is not given; how worker processes get it.
DATABASE_URL_VARIABLE: Final = "OFFIMIZER_DATABASE_URL"
