"""Alembic revisions of the console's local cache, run at every open (:mod:`sync.cache`)."""
