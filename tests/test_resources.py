"""The files the console ships for desktops: its entry, metainfo and icon, in agreement."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

import resources
from resources import APP_ID, ICON_SIZES, desktop_entry, icon_png, icon_svg, metainfo

ROOT = Path(__file__).resolve().parent.parent
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(desktop_entry().read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_the_desktop_entry_launches_the_console_with_its_icon_in_both_languages() -> None:
    entry = _entry()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert entry["Type"] == "Application"
    assert entry["Exec"] in scripts
    assert scripts[entry["Exec"]] == "desktop.__main__:main"
    assert entry["Icon"] == APP_ID
    assert "x-scheme-handler/offimizer" in entry["MimeType"].split(";")
    for key in ("Name", "GenericName", "Comment"):
        assert entry[key], key
        assert entry[f"{key}[fr]"], key
        assert entry[key] != entry[f"{key}[fr]"], key


def test_the_metainfo_describes_the_console_its_desktop_entry_launches() -> None:
    component = ET.fromstring(metainfo().read_bytes())
    assert component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable[@type='desktop-id']") == f"{APP_ID}.desktop"
    assert component.findtext("provides/binary") == _entry()["Exec"]
    names = {name.get(XML_LANG): name.text for name in component.findall("name")}
    assert names == {None: _entry()["Name"], "fr": _entry()["Name[fr]"]}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    assert component.find(f"releases/release[@version='{version}']") is not None


def test_the_icon_exists_at_every_size_and_scalable() -> None:
    assert icon_svg().read_text(encoding="utf-8").lstrip().startswith("<?xml")
    for size in ICON_SIZES:
        data = icon_png(size).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", size
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert (width, height) == (size, size)


def test_the_resources_are_package_data_a_wheel_carries() -> None:
    """Every file the package reads is matched by pyproject's package-data patterns."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    assert "resources*" in config["packages"]["find"]["include"]
    patterns = config["package-data"]["resources"]
    here = Path(resources.__file__).parent
    read = [icon_svg(), desktop_entry(), metainfo(), *(icon_png(s) for s in ICON_SIZES)]
    for item in read:
        relative = Path(str(item)).relative_to(here)
        assert any(relative.match(pattern) for pattern in patterns), relative


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tool", "arguments", "file"),
    [
        ("desktop-file-validate", [], desktop_entry),
        ("appstreamcli", ["validate", "--no-net", "--explain"], metainfo),
    ],
    ids=["desktop-entry", "metainfo"],
)
def test_the_desktop_files_pass_their_validators(
    tool: str, arguments: list[str], file: Callable[[], Traversable]
) -> None:
    """What distributions and software centres check before they take the files."""
    program = shutil.which(tool)
    if program is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: .ci/run installs it")
        pytest.skip(f"{tool} is not installed (apt-get install desktop-file-utils appstream)")
    result = subprocess.run(
        [program, *arguments, str(file())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
