"""Texts the merchant translates in the dashboard (reward names, tier names).

Such a text is stored twice: its default (the field the merchant always
fills, in the shop's own language) and a ``{language code: text}`` JSON of
translations. Pages read it through ``translated``, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.utils.translation import get_language


def translated(translations: Mapping[str, str] | None, default: str) -> str:
    """``default`` in the active language, if the merchant translated it.

    Looks for the exact language (``es-mx``), then its base language (``es``),
    then falls back to ``default``. Empty translations do not count, and
    anything that is not a ``{code: text}`` mapping is ignored.
    """
    if not isinstance(translations, Mapping) or not translations:
        return default
    language = (get_language() or "").lower()
    for code in (language, language.split("-")[0]):
        text = translations.get(code)
        if isinstance(text, str) and text.strip():
            return text
    return default


def other_languages() -> list[tuple[str, str]]:
    """The shop's languages (``LANGUAGES``) other than its own (``LANGUAGE_CODE``):
    those a merchant translates names into."""
    own = settings.LANGUAGE_CODE.lower()
    return [
        (code.lower(), name)
        for code, name in settings.LANGUAGES
        if code.lower() not in (own, own.split("-")[0])
    ]
