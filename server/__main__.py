"""``offimizer-server``: the reference OFFIMIZER ticket server (being built)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("offimizer-server: not available yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
