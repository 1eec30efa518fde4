"""Qt's own strings in the console's language.

Our strings go through :mod:`i18n`; Qt's built-in ones (the context menu of a
text field, a dialog's standard buttons, a date editor's month names) come from
Qt's catalogs, which PySide6 ships.  :func:`use_language` switches both, so an
agent working in French never meets "Copy" or "Select All".
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

import i18n

__all__ = ["use_language"]

_installed: list[QTranslator] = []
#: the language Qt's strings are in (a switch to the same one changes nothing)
_qt_language: list[str] = []


def use_language(language: str | None) -> str:
    """Switch the interface language (``None``: follow the system), Qt's included;
    returns the code in force."""
    code = i18n.set_language(language)
    QLocale.setDefault(QLocale(code))
    app = QCoreApplication.instance()
    if app is None or _qt_language == [code]:
        return code
    _qt_language[:] = [code]
    while _installed:
        app.removeTranslator(_installed.pop())
    translator = QTranslator()
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    # English is Qt's source language: nothing to load; a missing catalog leaves
    # Qt's strings in English rather than failing the switch
    if code != "en" and translator.load(f"qtbase_{code}", folder):
        app.installTranslator(translator)
        _installed.append(translator)
    return code
