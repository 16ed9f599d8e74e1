"""Pure normalisers for names, emails and phones; the same keys serve search and matching."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Letters that NFKD does not decompose but users type without the mark.
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i"})


def is_cjk(text: str) -> bool:
    """True when ``text`` holds Chinese, Japanese or Korean ideographs."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def clean_text(value: str | None) -> str | None:
    """Trim and collapse white space; empty becomes None."""
    if value is None:
        return None
    text = _SPACES.sub(" ", value).strip()
    return text or None


def search_key(value: str | None) -> str | None:
    """Lower case, accents and cedillas removed, white space collapsed.

    Non-Latin scripts (Chinese, Cyrillic…) are kept as they are, so 王伟 is found by 王伟
    and "Ștefănescu" by "stefanescu".
    """
    text = clean_text(value)
    if text is None:
        return None
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text)


def normalize_email(value: str) -> tuple[str, str]:
    """Return (address as it should be stored, lower-case key); raise ValueError if invalid.

    No DNS lookup is made (``check_deliverability=False``): the check must work offline.
    """
    # email-validator and phonenumbers load on first use (the command line starts without them)
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return result.normalized, result.normalized.casefold()


def normalize_phone(value: str, country: str | None) -> str:
    """Return the number in E.164 using ``country`` for national numbers; ValueError if invalid."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def phone_line_type(e164: str) -> str:
    """'mobile', 'landline' or 'other' for a valid E.164 number."""
    import phonenumbers

    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return "mobile"
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        return "landline"
    return "other"


def looks_like_phone(query: str) -> bool:
    """True when a search string is mostly digits (a phone number rather than a postal code)."""
    digits = sum(ch.isdigit() for ch in query)
    return digits >= 7 and all(ch.isdigit() or ch in "+ ()-./" for ch in query)


def looks_like_postal_code(query: str) -> bool:
    """True for short codes with a digit: 75011, 010011, SW1A 1AA, 28-100."""
    compact = query.replace(" ", "").replace("-", "")
    return 3 <= len(compact) <= 8 and any(ch.isdigit() for ch in compact) and compact.isalnum()
