"""The rules every entry point of a person applies (pure: no database).

The API (``POST``/``PATCH /api/v1/persons``), the sync API, the import, the sign-up form and
the web form all refuse the same things for the same reasons:

- a text holding a control character (NUL, escape…): :func:`control_problem` names it;
- a person who cannot be identified: :func:`identifies` is the rule and :data:`NOBODY` the
  reason. Someone is identified by a name, an email, a phone, an identifier (a national id,
  a customer number from another system), or a birth date together with an address.
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: Why a person that identifies nobody is refused (import, sync, API, web).
NOBODY = (
    "the row names nobody: no name, email, phone or identifier, nor a birth date with an address"
)
#: White space a text may hold (collapsed or kept as line breaks by the readers).
_SPACES = frozenset("\t\n\r")


def control_problem(text: str) -> str | None:
    """The reason a text is refused for holding a control character, or None.

    Tabs and line breaks are white space and allowed; NUL, escape, the other C0 and C1
    controls and the Unicode separators that readers use internally are not.
    """
    if text.isprintable():  # the fast path: no control, no separator
        return None
    for i, ch in enumerate(text):
        if ch in _SPACES or ch == " ":
            continue
        if unicodedata.category(ch) == "Cc":
            return f"holds a control character (U+{ord(ch):04X}) at position {i + 1}"
    return None


def visible(text: str) -> str:
    """``text`` with its control characters written as ``\\u0000``: how a refused value is
    shown and stored (PostgreSQL refuses NUL in a text column)."""
    if text.isprintable():
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if ch not in _SPACES and unicodedata.category(ch) == "Cc" else ch
        for ch in text
    )


def check_text(value: Any) -> Any:
    """``value`` unchanged when it is not a text or has no control character; ValueError
    naming the character otherwise (a pydantic validator)."""
    if isinstance(value, str):
        problem = control_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def identifies(
    *,
    given_name: Any = None,
    family_name: Any = None,
    emails: Any = None,
    phones: Any = None,
    identifiers: Any = None,
    birth_date: Any = None,
    address: Any = None,
) -> bool:
    """True when these values identify someone: a name, an email, a phone, an identifier,
    or a birth date with an address (the FEBRL shape: no name, but born on a date at a
    place)."""
    if given_name or family_name or emails or phones or identifiers:
        return True
    return bool(birth_date and address)
