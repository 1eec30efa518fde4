"""``offimizer-server``: the reference OFFIMIZER ticket server.

``serve`` (the default) migrates the database and runs the API with uvicorn;
``migrate`` only migrates; ``create-user`` adds an account.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from platformdirs import user_data_dir

from i18n import _


def default_database_url() -> str:
    folder = Path(user_data_dir("offimizer-server", appauthor=False))
    return f"sqlite:///{folder / 'offimizer.db'}"


def _prepare_sqlite_folder(url: str) -> None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offimizer-server", description=_("The reference OFFIMIZER ticket server.")
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=_("SQLAlchemy database URL (default: a SQLite file in the user data folder)"),
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help=_("migrate the database, then serve the API"))
    serve.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
    serve.add_argument("--port", type=int, default=8000, help=_("port to listen on"))
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    url = arguments.database_url or default_database_url()
    _prepare_sqlite_folder(url)
    command = arguments.command or "serve"

    from server.db import make_engine
    from server.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    if command == "migrate":
        from server.app import utc_now
        from server.db import make_sessionmaker, transaction
        from server.slaclock import ensure_default_config

        with transaction(make_sessionmaker(engine)) as session:
            ensure_default_config(session, utc_now())  # the contract's policy, preloaded
        print(_("The database is up to date."))
        return 0
    if command == "create-user":
        return _create_user(engine, arguments)

    import uvicorn

    from server.app import create_app

    host = getattr(arguments, "host", "127.0.0.1")
    port = getattr(arguments, "port", 8000)
    uvicorn.run(create_app(engine), host=host, port=port, date_header=False)
    return 0


def _create_user(engine: object, arguments: argparse.Namespace) -> int:
    from sqlalchemy import Engine, select

    from server import changes as feed
    from server.app import utc_now
    from server.db import make_sessionmaker, transaction
    from server.models import Team
    from server.service import ServiceError, create_team, create_user
    from sync.protocol import Role

    assert isinstance(engine, Engine)
    if arguments.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(_("Password: "))
        if password != getpass.getpass(_("Password (again): ")):
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


if __name__ == "__main__":
    sys.exit(main())
