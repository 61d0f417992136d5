"""Translations of patient-facing text: message catalogues (English, French) and language choice.

Every text a patient or an outside doctor reads (the share portal, patients' own pages, the
e-mails sent to them, the image viewer's labels in the portal) is written in English in the code,
wrapped in ``_()`` (``ngettext`` for counts, ``N_`` to mark a constant translated later), and
looked up in the GNU gettext catalogue of the request's language at the moment it is shown.
The catalogues are ``archive/i18n/locale/<lang>/LC_MESSAGES/limestone.po`` (edited by people)
and their compiled ``.mo`` beside them (read here); ``scripts/i18n`` extracts new strings with
Babel, merges them into the ``.po`` files and compiles them. A test checks that every message has
a French translation and that each ``.mo`` matches its ``.po``.

The language of one request is a context variable (``use``), set by the web layer from the
visitor's choice (``choose``: an explicit switch, then a remembered cookie, then the browser's
``Accept-Language``); code that renders text simply calls ``_()``. English is the fallback.
"""

from __future__ import annotations

import gettext as _gettext
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

DOMAIN = "limestone"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: tuple[str, ...] = ("en", "fr")
DEFAULT = "en"
NAMES = {"en": "English", "fr": "Français"}     # each language named in itself, for the switch
COOKIE = "limestone_lang"

_current: ContextVar[str] = ContextVar("limestone_language", default=DEFAULT)


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalogue of ``lang`` (English, the source language, has none: the text as written)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang])


def supported(value: str | None) -> str | None:
    """``value`` when it names a language we have (``fr``, ``fr-CA``, ``FR`` -> ``fr``), else None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best language we have from an ``Accept-Language`` header (quality values honoured)."""
    ranked: list[tuple[float, int, str]] = []
    for n, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = supported(tag)
        if lang and quality > 0:
            ranked.append((-quality, n, lang))
    return sorted(ranked)[0][2] if ranked else None


def choose(switch: str | None = None, remembered: str | None = None, accept_language: str | None = None) -> str:
    """The language to answer in: the visitor's switch, then their cookie, then their browser's."""
    return supported(switch) or supported(remembered) or from_accept_language(accept_language) or DEFAULT


def current() -> str:
    """The language of the text being rendered now (``en`` unless ``use`` said otherwise)."""
    return _current.get()


def use(lang: str) -> None:
    """Render in ``lang`` from here on in this context (one web request, one e-mail)."""
    _current.set(supported(lang) or DEFAULT)


@contextmanager
def language(lang: str) -> Iterator[str]:
    """Render in ``lang`` inside the block, e.g. an e-mail in the patient's language."""
    token = _current.set(supported(lang) or DEFAULT)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """``message`` in the current language (itself when no translation is known)."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (French counts 0 and 1 as singular)."""
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a constant for extraction; translate it with ``_()`` where it is shown."""
    return message


_ = gettext


def format_date(value: date | datetime | None, form: str = "medium", missing: str = "") -> str:
    """A date as the current language writes it (``7 Dec 2026`` / ``7 déc. 2026``)."""
    if value is None:
        return missing
    return babel_dates.format_date(value, format=form, locale=current())


def format_datetime(value: datetime, form: str = "medium") -> str:
    """A date and time as the current language writes them (the value's own time zone)."""
    return babel_dates.format_datetime(value, format=form, locale=current(), tzinfo=value.tzinfo)


def format_decimal(value: float, pattern: str | None = None) -> str:
    """A number with the current language's separators (``1,234.5`` / ``1 234,5``)."""
    return babel_numbers.format_decimal(value, format=pattern, locale=current())


def language_name(lang: str) -> str:
    """A language's name in that language, for the switch."""
    return NAMES.get(lang) or Locale.parse(lang).get_display_name(lang) or lang
