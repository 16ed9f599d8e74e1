"""Values written to files that people open in spreadsheets: formula injection neutralised.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``).
Such a text gets a leading apostrophe, which spreadsheets show as text and do not display
(OWASP "CSV injection"). Numbers are left alone: a negative amount stays a number.
"""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value
