"""``offimizer-console``: the agent console.

``--demo`` starts the reference server in-process with demo data and signs in as
the demo agent; without it, the last account opens, or the sign-in dialog;
``--view workload`` / ``report`` opens the team lead's workload panel or compliance
report (the demo signed in as its lead) once the first sync has brought the user's
role; ``--screenshot FILE.png`` saves that window after load and exits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import i18n
from i18n import _


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="offimizer-console", description=_("Offimizer Console"))
    parser.add_argument("--demo", action="store_true", help=_("run against demo data"))
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        type=Path,
        help=_("save a screenshot of the main window once loaded, and exit"),
    )
    parser.add_argument(
        "--view",
        choices=("queue", "workload", "report"),
        default="queue",
        help=_(
            "what to open: the queue, the team workload or the SLA compliance report, in "
            "the window or in the screenshot (--demo signs in as the team lead for the last two)"
        ),
    )
    parser.add_argument("--language", choices=sorted(i18n.LANGUAGES), help=_("interface language"))
    parser.add_argument(
        "--settings",
        metavar="FILE.ini",
        type=Path,
        help=_("read and write the settings in this file instead of the usual place"),
    )
    args = parser.parse_args(argv)
    i18n.set_language(args.language)
    from desktop.app import run  # Qt loads once the arguments are good (--help is quick)

    return run(
        demo=args.demo,
        screenshot=args.screenshot,
        language=args.language,
        settings_path=None if args.settings is None else str(args.settings),
        view=args.view,
    )


if __name__ == "__main__":
    sys.exit(main())
