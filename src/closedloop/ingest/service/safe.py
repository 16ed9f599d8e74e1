"""Values written to files that people open in spreadsheets: formula injection neutralised.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``).
Such a text gets a leading apostrophe, which spreadsheets show as text and do not display
(OWASP "CSV injection"). Numbers are left alone: a negative amount stays a number. So is a
phone number in international form (``+33557159639``: a ``+`` then digits only), which
computes nothing; ``+1+2`` or ``-2+3`` still get the apostrophe.
"""

from __future__ import annotations

import re
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: A phone number as stored (E.164): not a formula, whatever its first character.
INTERNATIONAL_PHONE = re.compile(r"\+[0-9]+")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if (
        isinstance(value, str)
        and value.startswith(TRIGGERS)
        and not INTERNATIONAL_PHONE.fullmatch(value)
    ):
        return "'" + value
    return value
