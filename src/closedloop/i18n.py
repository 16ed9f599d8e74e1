"""Translations and locale-aware formatting (Babel), shared by the web pages and messages.

Catalogues are the ``.po`` files in ``closedloop/locale/<lang>/LC_MESSAGES/messages.po``; they
are compiled in memory when first used, so no build step is needed. Every formatter takes the
locale explicitly: nothing here reads settings or global state.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
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
