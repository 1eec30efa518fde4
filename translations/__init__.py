"""Message catalogs (``<lang>/LC_MESSAGES/messages.po``) for the i18n layer.

``python -m translations`` re-extracts ``messages.pot`` from the sources and
merges it into every catalog (English entries are filled with their msgid).
"""
