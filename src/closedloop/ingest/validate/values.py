"""Validators of single values: each takes the text of a cell and returns the value to store,
or raises ValueError with a reason a person understands.

Dates: ISO (2024-03-05, with a time or not), day first (05/03/2024, 5.3.2024, 05-03-2024,
two-digit years), compact (20240305), and month names in English, French, Spanish, German and
Romanian (5 mars 2024). Month-first US dates (03/05/2024) only with ``date_order="mdy"``.
Impossible dates (31/02/2024) are refused. Amounts accept a decimal comma, spaces, dots or
apostrophes between thousands and a currency sign.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale

from closedloop.contacts.normalize import search_key

LANGS = ("en", "fr", "es", "de", "ro")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_NUMERIC = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})")
_TIME_TAIL = re.compile(r"\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WORDS = re.compile(r"(\d{1,2})\.?\s*(?:de\s+)?([^\W\d_]+)\.?,?\s*(?:de\s+)?(\d{2,4})")
_WORDS_MDY = re.compile(r"([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_MONTH_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _make_date(year: int, month: int, day: int, raw: str) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f"not a date: {raw!r} (there is no month {month})")
    if not 1 <= year <= 9999:
        raise ValueError(f"not a date: {raw!r} (year {year})")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"not a date: {raw!r} ({_MONTH_NAMES[month]} {year} has {last} days)")
    return date(year, month, day)


def _year(text: str, pivot: int) -> int:
    year = int(text)
    if len(text) <= 2:
        year += 2000 if year <= pivot else 1900
    return year


@lru_cache(maxsize=1)
def month_names() -> dict[str, int]:
    """Month names and abbreviations of the five languages (search keys) → month number."""
    out: dict[str, int] = {}
    for lang in LANGS:
        months = Locale(lang).months["format"]
        for width in ("wide", "abbreviated"):
            for number, name in months[width].items():
                key = (search_key(name) or "").rstrip(".")
                if key and not key.isdigit():
                    out.setdefault(key, int(number))
    out.update({"sept": 9, "juil": 7, "fev": 2, "avr": 4, "janv": 1, "mrz": 3, "okt": 10})
    return out


def parse_date(value: str, order: str = "dmy", pivot: int | None = None) -> date:
    """A calendar date; ``order`` ``"dmy"`` (default) or ``"mdy"`` for slashed dates."""
    return _parse_date(value.strip(), order, date.today().year % 100 if pivot is None else pivot)


@lru_cache(maxsize=65536)
def _parse_date(raw: str, order: str, pivot: int) -> date:
    m = _ISO.fullmatch(raw) or _ISO_TIME.fullmatch(raw)
    if m:
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), raw)
    text = _TIME_TAIL.sub("", raw)
    m = _NUMERIC.fullmatch(text)
    if m:
        a, b, c = m.groups()
        if len(a) == 4:  # 2024/03/05
            return _make_date(int(a), int(b), int(c), raw)
        if len(c) == 3:
            raise ValueError(f"not a date: {raw!r}")
        day, month = (int(b), int(a)) if order == "mdy" else (int(a), int(b))
        if order != "mdy" and month > 12 and day <= 12 and "/" in text:
            raise ValueError(
                f"not a date: {raw!r} (month {month}? it looks like a US month-first date; "
                "import with the US date order option)"
            )
        return _make_date(_year(c, pivot), month, day, raw)
    m = _COMPACT.fullmatch(text)
    if m:
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), raw)
    m = _WORDS.fullmatch(text)
    if m:
        named = month_names().get((search_key(m.group(2)) or "").rstrip("."))
        if named:
            return _make_date(_year(m.group(3), pivot), named, int(m.group(1)), raw)
    m = _WORDS_MDY.fullmatch(text)
    if m:
        named = month_names().get((search_key(m.group(1)) or "").rstrip("."))
        if named:
            return _make_date(int(m.group(3)), named, int(m.group(2)), raw)
    raise ValueError(f"not a date: {raw!r} (expected e.g. 2024-03-05 or 05/03/2024)")


def parse_birth_date(value: str, order: str = "dmy") -> date:
    """A date of birth: two-digit years are in the past, and the date is 1900 or later."""
    today = date.today()
    born = _parse_date(value.strip(), order, today.year % 100)
    if born > today:
        raise ValueError(f"birth date {value.strip()!r} is in the future")
    if born.year < 1900:
        raise ValueError(f"birth date {value.strip()!r} is before 1900")
    return born


def parse_datetime(value: str, order: str = "dmy") -> datetime:
    """A moment; a date alone is midnight, times without a zone are UTC."""
    raw = value.strip()
    m = _ISO_TIME.fullmatch(raw)
    if m:
        try:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1).replace("Z", "+00:00"))
        except ValueError:
            day = parse_date(raw[:10])
            hour, minute = int(m.group(4)), int(m.group(5))
            if hour > 23 or minute > 59:
                raise ValueError(f"not a time: {raw!r}") from None
            parsed = datetime.combine(day, time(hour, minute, int(m.group(6) or 0)))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    day = parse_date(raw, order)
    tail = _TIME_TAIL.search(raw)
    moment = time(0, 0)
    if tail:
        hour, minute, second = int(tail.group(1)), int(tail.group(2)), int(tail.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"not a time: {raw!r}")
        moment = time(hour, minute, second)
    return datetime.combine(day, moment, tzinfo=UTC)


_AMOUNT_JUNK = re.compile(r"[\s\u00a0\u202f'’€$£¥]|EUR|USD|GBP|RON|CHF|lei|Lei", re.UNICODE)
_AMOUNT = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_amount(value: str) -> Decimal:
    """``"1 234,56"``, ``"1.234,56 €"``, ``"1,234.56"``, ``"-3,5"`` → Decimal.

    The last of ``,`` and ``.`` is the decimal separator when both appear; a lone comma is a
    decimal comma, unless it groups thousands ("1,234,567").
    """
    raw = value.strip()
    text = _AMOUNT_JUNK.sub("", raw)
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif text.count(",") > 1:
        text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"not an amount: {raw!r}")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {raw!r}") from None
    return -amount if negative else amount


#: NUMERIC (precision, scale) of the store's money columns
MONEY = (14, 2)
#: the largest whole number an INTEGER column holds (PostgreSQL; SQLite would take more)
INT_MAX = 2**31 - 1


def bounded(number: Decimal, precision: int, scale: int) -> Decimal:
    """``number`` if a NUMERIC(``precision``, ``scale``) column holds it once rounded to
    ``scale`` places; otherwise ValueError (SQLite would store it, PostgreSQL would refuse
    the whole statement: the row is refused on both, with the largest value allowed)."""
    whole = precision - scale
    step = Decimal(1).scaleb(-scale)
    fits = number.is_finite() and number.adjusted() < whole  # quantize needs it
    if fits and abs(number.quantize(step)) < Decimal(10) ** whole:
        return number
    largest = Decimal(10) ** whole - step
    raise ValueError(f"too large: at most {largest:,}")


def parse_decimal(value: str) -> Decimal:
    """A number such as a quantity (decimal comma accepted)."""
    try:
        return parse_amount(value)
    except ValueError:
        raise ValueError(f"not a number: {value.strip()!r}") from None


def parse_int(value: str) -> int:
    """A whole number (``"1 200"``, ``"12.0"``)."""
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value.strip()!r}")
    if abs(number) > INT_MAX:
        raise ValueError(f"too large: at most {INT_MAX:,}")
    return int(number)


_TRUE = frozenset(
    {
        "1", "true", "t", "yes", "y", "x", "oui", "o", "vrai", "si", "s", "verdadero", "ja",
        "j", "wahr", "da", "adevarat", "active", "actif", "activo", "aktiv", "activ",
    }
)  # fmt: skip
_FALSE = frozenset(
    {
        "0", "false", "f", "no", "n", "non", "faux", "falso", "nein", "falsch", "nu", "fals",
        "inactive", "inactif", "inactivo", "inaktiv", "inactiv",
    }
)  # fmt: skip


def parse_bool(value: str) -> bool:
    """Yes/no in the five languages, 1/0, true/false, X."""
    key = search_key(value) or ""
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"not yes or no: {value.strip()!r}")


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    out: dict[str, str] = {}
    for lang in (*LANGS, "zh"):
        for code, name in Locale(lang).territories.items():
            if len(code) == 2 and code.isalpha():
                out.setdefault(search_key(name) or "", code)
                out.setdefault(code.lower(), code)
    extra = {
        "uk": "GB", "england": "GB", "great britain": "GB", "usa": "US", "u.s.a.": "US",
        "u.s.": "US", "united states of america": "US", "deutschland": "DE", "allemagne": "DE",
        "holland": "NL", "fra": "FR", "deu": "DE", "ger": "DE", "esp": "ES", "rou": "RO",
        "rom": "RO", "gbr": "GB", "ita": "IT", "bel": "BE", "che": "CH", "aut": "AT",
        "nld": "NL", "prt": "PT", "pol": "PL", "chn": "CN", "prc": "CN", "lux": "LU",
        "romania": "RO", "roumanie": "RO", "rumanien": "RO", "rumania": "RO",
    }  # fmt: skip
    out.update({search_key(k) or k: v for k, v in extra.items()})
    out.pop("", None)
    return out


@lru_cache(maxsize=4096)
def parse_country(value: str) -> str:
    """An ISO 3166 code from a code (FR, FRA) or a name in any of the five languages."""
    key = search_key(value.strip().rstrip(".")) or ""
    code = _countries().get(key)
    if code is None:
        raise ValueError(f"unknown country {value.strip()!r} (use an ISO code such as FR)")
    return code


_GENDERS = {
    "female": "female", "f": "female", "w": "female", "woman": "female", "femme": "female",
    "feminin": "female", "mujer": "female", "femenino": "female", "weiblich": "female",
    "frau": "female", "femeie": "female", "mme": "female", "madame": "female", "mrs": "female",
    "ms": "female", "male": "male", "m": "male", "man": "male", "h": "male",
    "homme": "male", "masculin": "male", "hombre": "male", "masculino": "male", "v": "male",
    "mannlich": "male", "mann": "male", "barbat": "male", "mr": "male", "monsieur": "male",
    "diverse": "diverse", "d": "diverse", "divers": "diverse", "x": "diverse",
    "non-binary": "diverse", "nonbinary": "diverse", "autre": "diverse", "other": "diverse",
    "otro": "diverse", "unknown": "unknown", "u": "unknown", "inconnu": "unknown",
    "?": "unknown", "desconocido": "unknown", "unbekannt": "unknown", "necunoscut": "unknown",
}  # fmt: skip


def parse_gender(value: str) -> str:
    """female, male, diverse or unknown from any common spelling."""
    key = (search_key(value) or "").rstrip(".")
    if key in _GENDERS:
        return _GENDERS[key]
    raise ValueError(f"unknown gender {value.strip()!r} (female, male, diverse, unknown)")


@lru_cache(maxsize=1)
def _languages() -> dict[str, str]:
    out: dict[str, str] = {}
    for lang in LANGS:
        for code, name in Locale(lang).languages.items():
            if len(code) == 2:
                out.setdefault(search_key(name) or "", code)
    return out


_LANG_CODE = re.compile(r"([a-z]{2})(?:[-_]([a-z]{2}))?", re.IGNORECASE)


def parse_language(value: str) -> str:
    """``fr``, ``fr_FR`` → ``fr-FR``; a language name in the five languages → its code."""
    raw = value.strip()
    m = _LANG_CODE.fullmatch(raw)
    if m:
        return m.group(1).lower() + (f"-{m.group(2).upper()}" if m.group(2) else "")
    code = _languages().get(search_key(raw) or "")
    if code is None:
        raise ValueError(f"unknown language {raw!r} (use a code such as fr or en-GB)")
    return code


_CURRENCY = re.compile(r"[A-Za-z]{3}")
_SIGNS = {"€": "EUR", "$": "USD", "£": "GBP", "lei": "RON", "¥": "CNY", "元": "CNY"}


def parse_currency(value: str) -> str:
    """An ISO 4217 code (EUR) or a common sign (€)."""
    raw = value.strip()
    if raw.lower() in _SIGNS or raw in _SIGNS:
        return _SIGNS.get(raw.lower(), _SIGNS.get(raw, ""))
    if not _CURRENCY.fullmatch(raw):
        raise ValueError(f"not a currency code: {raw!r} (use e.g. EUR)")
    return raw.upper()


def choice(value: str, options: dict[str, str], what: str) -> str:
    """Map ``value`` through ``options`` (search keys → code); ValueError lists the codes."""
    key = (search_key(value) or "").replace(" ", "_").replace("-", "_")
    if key in options:
        return options[key]
    allowed = sorted(set(options.values()))
    raise ValueError(f"unknown {what} {value.strip()!r} (allowed: {', '.join(allowed)})")


def options(codes: list[str], **aliases: str) -> dict[str, str]:
    """A choice table from codes and extra spellings (``opt_in="granted"``)."""
    out = {c: c for c in codes}
    out.update(aliases)
    return out
