"""``offimizer-server backup DEST``: a consistent copy of a live SQLite database.

The copy is made with SQLite's online backup API in a single step: one read
transaction, so it is the database as of one commit, while the server keeps
writing (in WAL mode readers do not block writers).  It is written next to
``DEST`` under a temporary name, checked (``PRAGMA integrity_check``) and only
then renamed over ``DEST``: an interrupted backup never leaves a half file, and
an existing ``DEST`` is replaced only with ``--force``.  The copy is a single
self-contained file (rollback journal, not WAL), ready to be served again, and
like the database readable by its owner only (0600, in folders created 0700).

PostgreSQL databases are backed up with ``pg_dump``; the command says how.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from i18n import _
from server.db import private_folder


class BackupError(Exception):
    """A backup that was not made; the message says why and what to do."""


def _sqlite_path(url: str) -> Path:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BackupError(_("This is not a database URL: {url}").format(url=url)) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        shown = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
        raise BackupError(
            _(
                "The backup command copies SQLite databases only. Back up PostgreSQL with "
                "pg_dump, for example: pg_dump --format=custom --file=offimizer.dump '{url}' "
                "(restore with pg_restore; see the README)."
            ).format(url=shown)
        )
    if backend != "sqlite":
        raise BackupError(
            _("The backup command copies SQLite databases only, not {backend}.").format(
                backend=backend
            )
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError(_("An in-memory database cannot be backed up."))
    return Path(parsed.database)


def backup_sqlite(source: Path, destination: Path, *, force: bool = False) -> int:
    """Copy the SQLite database ``source`` to ``destination``; returns the copy's size."""
    if not source.is_file():
        raise BackupError(_("There is no database at {path}.").format(path=source))
    if destination.exists() and not force:
        raise BackupError(
            _("{path} already exists: choose another name or add --force to replace it.").format(
                path=destination
            )
        )
    if destination.is_dir():
        raise BackupError(_("{path} is a folder, not a file.").format(path=destination))
    if destination.resolve() == source.resolve():
        raise BackupError(_("A database cannot be backed up onto itself."))
    private_folder(destination.parent)
    # mkstemp creates the file readable by its owner only: the copy stays so
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        with contextlib.closing(
            sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
        ) as live:
            live.execute("PRAGMA busy_timeout=30000")
            with contextlib.closing(sqlite3.connect(temporary)) as copy:
                live.backup(copy)  # every page in one step: a single consistent snapshot
                copy.execute("PRAGMA journal_mode=DELETE")
                verdict = copy.execute("PRAGMA integrity_check").fetchone()
                if verdict is None or verdict[0] != "ok":
                    raise BackupError(
                        _("The copy failed its integrity check: {verdict}").format(
                            verdict=verdict[0] if verdict else "?"
                        )
                    )
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.replace(destination)
    except sqlite3.Error as error:
        raise BackupError(
            _("The backup of {path} failed: {error}").format(path=source, error=error)
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
    return destination.stat().st_size


def run(url: str, destination: str, *, force: bool) -> int:
    """The ``backup`` command: 0 when the copy is made, 1 (with a message) otherwise."""
    try:
        source = _sqlite_path(url)
        size = backup_sqlite(source, Path(destination), force=force)
    except BackupError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        _("Backed up {source} to {destination} ({size} bytes).").format(
            source=source, destination=destination, size=size
        )
    )
    return 0
