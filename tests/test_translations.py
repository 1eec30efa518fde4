"""French and English ship complete, and the template matches the sources."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

import i18n
from translations.__main__ import LANGUAGES, extract

HERE = Path(__file__).resolve().parent.parent / "translations"


def load(language: str) -> Catalog:
    with (HERE / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def ids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


def fields(text: str) -> list[tuple[str, str]]:
    """The str.format fields of a message, with their format specs."""
    return sorted(
        (name, spec or "")
        for _literal, name, spec, _conversion in string.Formatter().parse(text)
        if name is not None
    )


def entries(language: str) -> list[Message]:
    return [message for message in load(language) if message.id]


def test_template_lists_exactly_the_messages_of_the_sources() -> None:
    with (HERE / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    assert ids(template) == ids(extract()), "run: python -m translations"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_has_every_message_of_the_sources(language: str) -> None:
    assert ids(extract()) - ids(load(language)) == set(), "run: python -m translations"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_entry_is_untranslated_or_fuzzy(language: str) -> None:
    untranslated = [m.id for m in entries(language) if not m.string]
    fuzzy = [m.id for m in entries(language) if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_the_same_in_msgid_and_msgstr(language: str) -> None:
    differing = [
        (m.id, m.string)
        for m in entries(language)
        if isinstance(m.id, str) and isinstance(m.string, str) and fields(m.id) != fields(m.string)
    ]
    assert differing == []


def test_the_checker_sees_a_placeholder_mismatch() -> None:
    assert fields("{state}: {duration} left") != fields("{état} : reste {duration}")
    assert fields("{minutes:02d} min") != fields("{minutes} min")


def test_switching_language_changes_what_people_read() -> None:
    from sla.policy import Priority, Severity

    assert (Priority.P1.display, Severity.BLOCKING.label) == ("P1 Critical", "Blocking")
    i18n.set_language("fr")
    assert (Priority.P1.display, Severity.BLOCKING.label) == ("P1 Critique", "Bloquant")
    assert i18n.current_language() == "fr"


def test_unsupported_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        i18n.set_language("de")


def test_system_locale_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert i18n.set_language(None) == "fr"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert i18n.set_language(None) == "en"


@pytest.mark.parametrize(
    ("seconds", "with_seconds", "expected"),
    [
        (9, True, "9 s"),
        (42 * 60 + 9, True, "42 min 09 s"),
        (42 * 60 + 9, False, "42 min"),
        (3600 + 42 * 60 + 9, True, "1 h 42 min 09 s"),
        (3600 + 42 * 60 + 9, False, "1 h 42 min"),
        (27 * 3600 + 5 * 60 + 59, True, "27 h 05 min"),
        (-(3600 + 5 * 60), False, "1 h 05 min"),
    ],
)
def test_business_durations_read_at_a_glance(
    seconds: int, with_seconds: bool, expected: str
) -> None:
    import datetime as dt

    got = i18n.format_business_duration(dt.timedelta(seconds=seconds), seconds=with_seconds)
    assert got == expected


def test_dates_follow_the_locale() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    when = dt.datetime(2026, 3, 14, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert i18n.format_datetime(when, "d MMMM y HH:mm") == "14 March 2026 09:00"
    i18n.set_language("fr")
    assert i18n.format_datetime(when, "d MMMM y HH:mm") == "14 mars 2026 09:00"
    assert i18n.format_timedelta(dt.timedelta(hours=2), add_direction=True) == "dans 2 heures"
