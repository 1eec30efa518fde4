"""Re-extract the message template and merge it into the fr and en catalogs."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGES = ("sla", "protocol", "sync", "server", "desktop", "i18n")
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
LANGUAGES = ("en", "fr")


def extract() -> Catalog:
    """Every translatable message in the sources, as a template."""
    template = Catalog(project="Offimizer Console", copyright_holder="OFFIMIZER")
    for package in PACKAGES:
        for filename, _lineno, message, comments, context in extract_from_dir(
            str(ROOT / package),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
        ):
            template.add(message, None, [], auto_comments=comments, context=context)
            del filename
    return template


def main() -> int:
    template = extract()
    with (HERE / "messages.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, no_location=True)
    for language in LANGUAGES:
        path = HERE / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="Offimizer Console")
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.fuzzy = False
        if language == "en":
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, no_location=True, ignore_obsolete=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{language}: {len(catalog)} messages, {len(missing)} untranslated")
        for message_id in missing:
            print(f"  {message_id!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
