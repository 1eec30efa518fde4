"""The layout's import boundaries (DEVELOPERS.md), checked on every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

QT = ("PySide6", "PyQt5", "PyQt6", "qasync", "shiboken6")
DATABASE = ("sqlalchemy", "alembic", "sqlite3", "psycopg")
HTTP = ("httpx", "requests", "fastapi", "starlette", "uvicorn")

# package (folder) -> (forbidden top-level imports, why)
RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "sla": (
        QT + DATABASE + HTTP + ("sync", "server", "desktop"),
        "sla is pure Python: no Qt, no database, no HTTP",
    ),
    "i18n": (QT + DATABASE + HTTP + ("sla", "sync", "server", "desktop"), "i18n is a leaf"),
    "protocol": (
        QT + DATABASE + HTTP + ("sync", "server", "desktop"),
        "the wire schemas: pydantic over sla, shared by server and sync",
    ),
    "sync": (QT + ("desktop", "server"), "sync never imports Qt (nor the UI, nor the server)"),
    "server": (QT + ("desktop", "sync"), "the server has no UI, and shares only protocol"),
    "desktop/models": (("desktop.views",), "models never import views"),
}


def imported_names(path: Path, root: Path = ROOT) -> set[str]:
    """Every module name a file imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def violations(folder: str, root: Path = ROOT) -> list[str]:
    forbidden, _why = RULES[folder]
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        for name in imported_names(path, root):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{path.relative_to(root)} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("folder", sorted(RULES))
def test_package_respects_its_import_boundary(folder: str) -> None:
    assert (ROOT / folder).is_dir(), f"{folder}/ is part of the layout"
    assert violations(folder) == [], RULES[folder][1]


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    (tmp_path / "sla").mkdir()
    (tmp_path / "sla" / "probe.py").write_text(
        "from PySide6 import QtCore\nimport sqlalchemy.orm\nfrom . import calendar\n",
        encoding="utf-8",
    )
    (tmp_path / "desktop" / "models").mkdir(parents=True)
    (tmp_path / "desktop" / "models" / "queue.py").write_text(
        "from ..views import main_window\n", encoding="utf-8"
    )
    assert violations("sla", tmp_path) == [
        "sla/probe.py imports PySide6",
        "sla/probe.py imports PySide6.QtCore",
        "sla/probe.py imports sqlalchemy.orm",
    ]
    assert violations("desktop/models", tmp_path) == [
        "desktop/models/queue.py imports desktop.views",
        "desktop/models/queue.py imports desktop.views.main_window",
    ]


def test_importing_sla_loads_no_qt_database_or_http_module() -> None:
    forbidden = set(QT + DATABASE + HTTP)
    code = (
        "import sys, sla.calendar, sla.policy, sla.clock\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
