"""``offimizer-server``: the reference OFFIMIZER ticket server.

``serve`` (the default) migrates the database and runs the API with uvicorn
(``--seed-demo`` first fills an empty database with :mod:`server.demo`'s data);
``migrate`` only migrates; ``create-user`` adds an account, ``disable-user`` and
``enable-user`` change one (:mod:`server.accounts`); ``backup`` copies a live
SQLite database; ``openapi`` writes the API's OpenAPI document.

A SQLite database (password hashes, customers' e-mail) is readable by the
server's account only: the file 0600, in a folder created 0700.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from platformdirs import user_data_dir

from i18n import _
from server import DATABASE_URL_VARIABLE


def default_folder() -> Path:
    return Path(user_data_dir("offimizer-server", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_folder() / 'offimizer.db'}"


def _prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file private to this account (tighten an existing one)."""
    from sqlalchemy.engine import make_url

    from server.db import private_database, private_folder

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if path.parent == default_folder():
        private_folder(path.parent, tighten=True)  # ours: made private even if it exists
    private_database(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offimizer-server", description=_("The reference OFFIMIZER ticket server.")
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=_(
            "SQLAlchemy database URL (default: $OFFIMIZER_DATABASE_URL, else a SQLite file "
            "in the user data folder)"
        ),
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help=_("migrate the database, then serve the API"))
    serve.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
    serve.add_argument("--port", type=int, default=8000, help=_("port to listen on"))
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help=_("server processes (several need PostgreSQL; one per core is a good start)"),
    )
    serve.add_argument(
        "--seed-demo",
        action="store_true",
        help=_("fill an empty database with realistic demo data first"),
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help=_(
            "comma-separated addresses or networks of the reverse proxies whose "
            "X-Forwarded-For header is believed ('*': any); default: none"
        ),
    )
    from server.notifications import add_arguments as add_smtp_arguments

    add_smtp_arguments(serve)
    commands.add_parser("migrate", help=_("bring the database schema up to date"))
    create = commands.add_parser("create-user", help=_("add a user account"))
    create.add_argument("username")
    create.add_argument(
        "--role", choices=["agent", "team_lead", "admin"], default="agent", help=_("role")
    )
    create.add_argument("--display-name", default="", help=_("name shown to colleagues"))
    create.add_argument("--email", default="", help=_("e-mail address"))
    create.add_argument(
        "--team",
        action="append",
        default=[],
        metavar="NAME",
        help=_("team to join, created when missing (repeatable)"),
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("read the password from standard input instead of prompting"),
    )
    disable = commands.add_parser(
        "disable-user",
        help=_("disable an account: it can no longer sign in, and its sessions end at once"),
    )
    disable.add_argument("username", metavar="NAME")
    enable = commands.add_parser("enable-user", help=_("enable a disabled account again"))
    enable.add_argument("username", metavar="NAME")
    backup = commands.add_parser(
        "backup", help=_("copy a live SQLite database (PostgreSQL: use pg_dump)")
    )
    backup.add_argument("destination", metavar="DEST", help=_("file to write the copy to"))
    backup.add_argument("--force", action="store_true", help=_("replace DEST if it exists"))
    document = commands.add_parser("openapi", help=_("write the OpenAPI document of the API"))
    document.add_argument(
        "--output",
        default=None,
        metavar="PATH",
        help=_("where to write it ('-': standard output; default: server/openapi.json)"),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    url = arguments.database_url or os.environ.get(DATABASE_URL_VARIABLE) or default_database_url()
    command = arguments.command or "serve"
    if command == "backup":  # a copy as it is: neither created nor migrated
        from server.backup import run

        return run(url, arguments.destination, force=arguments.force)
    if command == "openapi":
        return _write_openapi(arguments.output)
    workers = getattr(arguments, "workers", 1)
    if workers < 1:
        print(_("--workers: at least one process is needed."), file=sys.stderr)
        return 2
    if workers > 1 and not url.startswith("postgresql"):
        print(
            _(
                "Several worker processes need PostgreSQL: they tell each other of "
                "changes through its notifications. With SQLite, run one process."
            ),
            file=sys.stderr,
        )
        return 2
    _prepare_sqlite_file(url)

    from server.db import make_engine
    from server.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    if command == "migrate":
        from server.dates import utc_now
        from server.db import make_sessionmaker, transaction
        from server.ticket_sla import ensure_default_config

        with transaction(make_sessionmaker(engine)) as session:
            ensure_default_config(session, utc_now())  # the contract's policy, preloaded
        print(_("The database is up to date."))
        return 0
    if command == "create-user":
        return _create_user(engine, arguments)
    if command in ("disable-user", "enable-user"):
        return _change_account(engine, arguments.username, command == "enable-user")

    if getattr(arguments, "seed_demo", False):
        _seed_demo(engine)

    from server import serving
    from server.app import create_app, settle_heap

    host = getattr(arguments, "host", "127.0.0.1")
    port = getattr(arguments, "port", 8000)
    workers = getattr(arguments, "workers", 1)
    forwarded = getattr(arguments, "forwarded_allow_ips", None)
    from server.notifications import mailer_running

    with mailer_running(engine, arguments):  # requester e-mails, outside any request
        if workers == 1:
            app = create_app(engine)
            settle_heap(app)
            if not serving.run(app, host=host, port=port, forwarded_allow_ips=forwarded):
                return 1
        else:  # each process builds its own app (and engine) from the environment
            os.environ[DATABASE_URL_VARIABLE] = url
            engine.dispose()
            serving.run_workers(
                "server.app:app_from_environment",
                host=host,
                port=port,
                workers=workers,
                forwarded_allow_ips=forwarded,
            )
    return 0


def _write_openapi(output: str | None) -> int:
    from server.app import create_app
    from server.openapi import REPOSITORY_COPY, generate

    text = generate(create_app)
    if output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(output) if output else REPOSITORY_COPY
    path.write_text(text, encoding="utf-8")
    print(_("OpenAPI document written to {path}.").format(path=path))
    return 0


def _seed_demo(engine: object) -> None:
    """Load the demo data (:mod:`server.demo`) unless the database already holds data."""
    from sqlalchemy import Engine
    from sqlalchemy.exc import IntegrityError

    from server.dates import utc_now
    from server.db import make_sessionmaker, transaction
    from server.demo.seed import DEMO_PASSWORD, database_is_empty, seed_demo

    assert isinstance(engine, Engine)
    skipped = _("The database already holds data: the demo data was not loaded.")
    try:
        with transaction(make_sessionmaker(engine)) as session:
            if not database_is_empty(session):
                print(skipped, file=sys.stderr)
                return
            summary = seed_demo(session, utc_now())
    except IntegrityError:  # another server seeded it at the same moment
        print(skipped, file=sys.stderr)
        return
    print(
        _(
            "Demo data loaded: {tickets} tickets, {users} users, {organisations} organisations. "
            "Sign in as agent, lead or admin with the password {password}."
        ).format(
            tickets=summary.tickets,
            users=summary.users,
            organisations=summary.organisations,
            password=DEMO_PASSWORD,
        )
    )


def _create_user(engine: object, arguments: argparse.Namespace) -> int:
    from sqlalchemy import Engine, select

    from protocol import Role
    from server import changes as feed
    from server.dates import utc_now
    from server.db import make_sessionmaker, transaction
    from server.directory import create_team, create_user
    from server.errors import ServiceError
    from server.models import Team

    assert isinstance(engine, Engine)
    if arguments.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        print(
            _(
                "There is no terminal to ask for the password: give it on standard "
                "input with --password-stdin."
            ),
            file=sys.stderr,
        )
        return 2
    else:
        try:
            password = getpass.getpass(_("Password: "))
            again = getpass.getpass(_("Password (again): "))
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 1
        if password != again:
            print(_("The passwords differ."), file=sys.stderr)
            return 1
    if len(password) < 8:
        print(_("The password must have at least 8 characters."), file=sys.stderr)
        return 1
    now = utc_now()
    try:
        with transaction(make_sessionmaker(engine)) as session:
            changes = feed.ChangeSet()
            team_ids = []
            for name in arguments.team:
                team = session.scalar(select(Team).where(Team.name == name))
                if team is None:
                    team = create_team(session, changes, name)
                team_ids.append(team.id)
            user = create_user(
                session,
                changes,
                now,
                username=arguments.username,
                role=Role(arguments.role),
                password=password,
                display_name=arguments.display_name,
                email=arguments.email,
                team_ids=team_ids,
            )
            changes.publish(session, now)
            print(_("User {name} created (id {id}).").format(name=user.username, id=user.id))
    except ServiceError as error:
        print(error.message, file=sys.stderr)
        return 1
    return 0


def _change_account(engine: object, username: str, active: bool) -> int:
    from sqlalchemy import Engine

    from server.accounts import change_account_named
    from server.dates import utc_now
    from server.db import make_sessionmaker
    from server.errors import ServiceError

    assert isinstance(engine, Engine)
    try:
        change_account_named(make_sessionmaker(engine), username, active, utc_now())
    except ServiceError as error:
        print(error.message, file=sys.stderr)
        return 1
    if active:
        print(_("User {name} is enabled: they can sign in again.").format(name=username))
    else:
        print(
            _("User {name} is disabled: they cannot sign in, and their sessions ended.").format(
                name=username
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
