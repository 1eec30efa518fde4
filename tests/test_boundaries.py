"""What the import contracts (pyproject.toml, run by lint-imports) cannot see: what a
package loads at run time, through its dependencies, once imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

QT = ("PySide6", "PyQt5", "PyQt6", "qasync", "shiboken6")
DATABASE = ("sqlalchemy", "alembic", "sqlite3", "psycopg")
HTTP = ("httpx", "requests", "fastapi", "starlette", "uvicorn")


@pytest.mark.slow
def test_importing_sla_and_protocol_loads_no_qt_database_or_http_module() -> None:
    forbidden = set(QT + DATABASE + HTTP)
    code = (
        "import sys, sla.calendar, sla.policy, sla.clock, sla.queue, protocol\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
