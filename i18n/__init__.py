"""The one gettext layer of Offimizer: translations and locale-aware formatting.

Every user-visible string goes through :func:`_` (or :func:`ngettext`); strings
defined at import time are marked with :func:`N_` and translated when shown.
Catalogs live in the ``translations`` package as ``.po`` files; they are compiled
in memory on first use (babel), so no compiled ``.mo`` file is ever committed.

Formatting of dates, times, durations and numbers goes through babel with the
current locale, which follows the system locale until :func:`set_language`.
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
import io
import locale as _locale
import os
import threading
from functools import cache
from importlib import resources
from typing import Final, Literal

from babel import Locale, UnknownLocaleError
from babel import dates as _dates
from babel import numbers as _numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "LANGUAGES",
    "N_",
    "_",
    "current_language",
    "format_clock",
    "format_date",
    "format_datetime",
    "format_day",
    "format_day_time",
    "format_decimal",
    "format_time",
    "format_timedelta",
    "format_weekday_time",
    "gettext",
    "ngettext",
    "set_language",
]

DOMAIN: Final = "messages"
#: Languages that ship complete, with their own names.
LANGUAGES: Final[dict[str, str]] = {"en": "English", "fr": "Français"}
DEFAULT_LANGUAGE: Final = "en"

_lock = threading.Lock()
_state: dict[str, object] = {}


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


@cache
def _catalog(language: str) -> _gettext.NullTranslations:
    try:
        po_file = resources.files("translations") / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=language)
    except (FileNotFoundError, ModuleNotFoundError):
        return _gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def system_language() -> str:
    """The supported language closest to the system locale (English otherwise)."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            code = value.split(":")[0].split(".")[0].split("_")[0].lower()
            if code in LANGUAGES:
                return code
            if code not in ("", "c", "posix"):
                break
    try:
        code = (_locale.getlocale()[0] or "").split("_")[0].lower()
    except ValueError:
        code = ""
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def set_language(language: str | None) -> str:
    """Switch the language (``None``: follow the system); returns the code in force."""
    code = system_language() if language is None else language.split("_")[0].lower()
    if code not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; choose one of {sorted(LANGUAGES)}")
    with _lock:
        _state["language"] = code
        _state["translations"] = _catalog(code)
        try:
            _state["locale"] = Locale.parse(code)
        except UnknownLocaleError:  # pragma: no cover - babel ships fr and en
            _state["locale"] = Locale.parse(DEFAULT_LANGUAGE)
    return code


def _translations() -> _gettext.NullTranslations:
    translations = _state.get("translations")
    if translations is None:
        set_language(None)
        translations = _state["translations"]
    assert isinstance(translations, _gettext.NullTranslations)
    return translations


def current_language() -> str:
    _translations()
    language = _state["language"]
    assert isinstance(language, str)
    return language


def current_locale() -> Locale:
    _translations()
    locale = _state["locale"]
    assert isinstance(locale, Locale)
    return locale


def gettext(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _translations().gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _translations().pgettext(context, message)


# -- locale-aware formatting --------------------------------------------------


def format_datetime(when: dt.datetime, format: str = "medium") -> str:
    return _dates.format_datetime(when, format=format, tzinfo=when.tzinfo, locale=current_locale())


def format_date(when: dt.date, format: str = "medium") -> str:
    return _dates.format_date(when, format=format, locale=current_locale())


def format_time(when: dt.datetime | dt.time, format: str = "short") -> str:
    return _dates.format_time(when, format=format, locale=current_locale())


# One time format a language: the hour cycle of the locale's own short time format
# (12-hour "4:19 PM" in English, 24-hour "16:19" in French), whatever else is shown.


def _twelve_hour(locale: Locale) -> bool:
    pattern = str(locale.time_formats["short"].pattern)
    return "h" in pattern or "K" in pattern


def _skeleton(locale: Locale, skeleton: str) -> str:
    """The locale's pattern for a CLDR skeleton ("MMMd" is "MMM d" in English)."""
    pattern = locale.datetime_skeletons.get(skeleton)
    if pattern is None:
        pattern = locale.datetime_skeletons[
            _dates.match_skeleton(skeleton, locale.datetime_skeletons)
        ]
    return str(pattern.pattern)


def _time_pattern(locale: Locale, *, seconds: bool = False) -> str:
    return str(locale.time_formats["medium" if seconds else "short"].pattern)


def format_clock(when: dt.datetime | dt.time, *, seconds: bool = False) -> str:
    """A time of day in the language's one format: "4:19 PM", "16:19"."""
    locale = current_locale()
    zone = when.tzinfo if isinstance(when, dt.datetime) else None
    pattern = _time_pattern(locale, seconds=seconds)
    return _dates.format_time(when, pattern, tzinfo=zone, locale=locale)


def format_weekday_time(when: dt.datetime) -> str:
    """A weekday and a time within the week: "Thu 4:19 PM", "jeu. 16:19"."""
    locale = current_locale()
    hours = "h" if _twelve_hour(locale) else "H"
    # the time part exactly as format_clock writes it (its spaces included)
    pattern = _skeleton(locale, f"E{hours}m").replace(
        _skeleton(locale, f"{hours}m"), _time_pattern(locale)
    )
    return _dates.format_datetime(when, pattern, tzinfo=when.tzinfo, locale=locale)


def format_day(when: dt.date, *, year: bool = False, weekday: bool = False) -> str:
    """A day without a time: "Mar 5", "5 mars" (and the year, the weekday if asked)."""
    locale = current_locale()
    skeleton = ("y" if year else "") + "MMM" + ("E" if weekday else "") + "d"
    return _dates.format_date(when, _skeleton(locale, skeleton), locale=locale)


def format_day_time(when: dt.datetime, *, year: bool = False, weekday: bool = False) -> str:
    """A day and a time: "Mar 5, 4:19 PM", "5 mars 16:19" (the year, the weekday if asked)."""
    locale = current_locale()
    glue = str(locale.datetime_formats["short"])
    return glue.replace("{1}", format_day(when, year=year, weekday=weekday)).replace(
        "{0}", format_clock(when)
    )


def format_timedelta(
    delta: dt.timedelta,
    *,
    add_direction: bool = False,
    threshold: float = 0.85,
    granularity: Literal["year", "month", "week", "day", "hour", "minute", "second"] = "second",
    format: Literal["narrow", "short", "medium", "long"] = "long",
) -> str:
    """A rounded, human duration ("2 hours", "in 2 hours") in the current locale."""
    return _dates.format_timedelta(
        delta,
        add_direction=add_direction,
        threshold=threshold,
        granularity=granularity,
        format=format,
        locale=current_locale(),
    )


def format_decimal(number: float, format: str | None = None) -> str:
    return _numbers.format_decimal(number, format=format, locale=current_locale())


def format_percent(number: float, format: str | None = None) -> str:
    return _numbers.format_percent(number, format=format, locale=current_locale())


def format_business_duration(delta: dt.timedelta, *, seconds: bool = True) -> str:
    """A business-time countdown, readable at a glance and exact to the second.

    Hours are not folded into days (a business day is not 24 hours):
    "42 s", "42 min 09 s", "1 h 42 min 09 s", and from 10 hours on "27 h 05 min".
    With ``seconds=False`` the seconds are left out ("1 h 42 min").  The sign is
    dropped: callers say "overdue" themselves.
    """
    total = abs(int(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 10 or (hours and not seconds):
        return gettext("{hours} h {minutes:02d} min").format(hours=hours, minutes=minutes)
    if hours:
        return gettext("{hours} h {minutes:02d} min {seconds:02d} s").format(
            hours=hours, minutes=minutes, seconds=secs
        )
    if not seconds:
        return gettext("{minutes} min").format(minutes=minutes)
    if minutes:
        return gettext("{minutes} min {seconds:02d} s").format(minutes=minutes, seconds=secs)
    return gettext("{seconds} s").format(seconds=secs)
