"""Translations and locale-aware formatting (Babel), shared by the web pages and messages.

Catalogues are the ``.po`` files in ``closedloop/locale/<lang>/LC_MESSAGES/messages.po``; they
are compiled in memory when first used, so no build step is needed. Every formatter takes the
locale explicitly: nothing here reads settings or global state.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: Languages with a complete catalogue, the first one being the source language.
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "fr")
#: Each language named in itself, for the language menu.
LOCALE_NAMES: dict[str, str] = {"en": "English", "fr": "Français"}
LOCALE_DIR = Path(__file__).parent / "locale"

Number = int | float | Decimal

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translated where displayed)."""
    return message


def catalogue_path(locale: str) -> Path:
    """The ``.po`` file of ``locale``."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=16)
def get_translations(locale: str) -> NullTranslations:
    """The gettext translations of ``locale``, compiled from its ``.po`` file once per process."""
    path = catalogue_path(locale)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain="messages")


def normalize_locale(value: object) -> str | None:
    """``fr``, ``fr-FR`` or ``fr_FR`` → ``fr`` when supported; None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    lang = value.replace("_", "-").split("-", 1)[0].strip().lower()
    return lang if lang in SUPPORTED_LOCALES else None


def negotiate(accept_language: str | None, default: str) -> str:
    """The best supported locale for an ``Accept-Language`` header, else ``default``."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    for _q, _pos, tag in sorted(ranked):
        found = normalize_locale(tag)
        if found:
            return found
    return normalize_locale(default) or SUPPORTED_LOCALES[0]


def _aware(value: datetime) -> datetime:
    # The store keeps UTC; SQLite returns naive datetimes.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def format_date(value: date | datetime | None, locale: str, fmt: str = "medium") -> str:
    """A date the way ``locale`` writes it (``5 mars 2024``, ``Mar 5, 2024``); empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).date()
    return str(babel_dates.format_date(value, format=fmt, locale=locale))


def time_zone(name: str) -> tzinfo:
    """The IANA zone ``name`` (``Europe/Paris``); UTC, with a warning, when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r in CLOSEDLOOP_TIMEZONE; showing UTC", name)
        return UTC


def format_datetime(
    value: datetime | None, locale: str, fmt: str = "medium", tz: tzinfo = UTC
) -> str:
    """A date and time in ``tz`` the way ``locale`` writes it; empty for None."""
    if value is None:
        return ""
    return str(babel_dates.format_datetime(_aware(value), format=fmt, tzinfo=tz, locale=locale))


def format_decimal(value: Number | None, locale: str, fmt: str | None = None) -> str:
    """A number with the locale's separators (``1 234,5`` in French); empty for None."""
    if value is None:
        return ""
    return str(babel_numbers.format_decimal(value, format=fmt, locale=locale))


def format_currency(value: Number | None, currency: str, locale: str) -> str:
    """An amount of money (``1 234,50 €`` in French, ``€1,234.50`` in English); empty for None."""
    if value is None:
        return ""
    return str(babel_numbers.format_currency(value, currency, locale=locale))


def format_percent(value: Number | None, locale: str) -> str:
    """A ratio as a percentage (0.42 → ``42 %`` in French); empty for None."""
    if value is None:
        return ""
    return str(babel_numbers.format_percent(value, locale=locale))


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ENGLISH_COUNT = re.compile(r"-?\d{1,3}(,\d{3})*")


class Said:
    """A message that background work stores as text (a job's progress, why it failed) and
    that pages show in the reader's language.

    The store and the API keep the English sentence (``Said("%(done)s of %(total)s
    persons")(done=1200, total=5000)`` stores ``1,200 of 5,000 persons``); a page finds the
    message it came from (:func:`translate_stored`) and writes it again in its language with
    its own number format. Declared once, at module level, with the message marked ``N_``
    for extraction; every message declared is known to :func:`translate_stored`.
    """

    known: ClassVar[list[Said]] = []

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid
        parts = _PLACEHOLDER.split(msgid)
        # Literal text and named groups alternate: "a %(x)s b" → ["a ", "x", " b"].
        self.pattern = re.compile(
            "".join(
                re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                for i, part in enumerate(parts)
            )
        )
        Said.known.append(self)

    def __call__(self, **values: object) -> str:
        """The English text stored (numbers with English separators)."""
        return self.msgid % {k: _english(v) for k, v in values.items()}


def _english(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def translate_stored(text: str | None, locale: str) -> str:
    """A stored message in ``locale``: a known :class:`Said` message or a marked constant
    translated, numbers in the locale's format; any other text (a person's name in a domain
    error, a message from an older version) is returned as it is."""
    if not text:
        return ""
    translations = get_translations(locale)
    translated = translations.gettext(text)
    if translated != text:
        return translated
    for said in Said.known:
        found = said.pattern.fullmatch(text)
        if found is None:
            continue
        values = {
            name: (
                format_decimal(int(value.replace(",", "")), locale)
                if _ENGLISH_COUNT.fullmatch(value)
                else translations.gettext(value)
            )
            for name, value in found.groupdict().items()
        }
        return translations.gettext(said.msgid) % values
    return text
