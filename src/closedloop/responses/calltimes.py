"""A person's preferred contact time, read from the free text of ``persons.preferred_time``.

Understood: the words the demo and imports carry (``morning``, ``afternoon``, ``evening``,
``weekend``, ``weekdays`` and their French and German equivalents) and hour ranges such as
``9-12``, ``18:00-20:30`` or ``after 17``. Hours are local to the desk's time zone
(``CLOSEDLOOP_TIMEZONE``). Text that names no time is shown to the agent but restricts nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

WINDOWS: dict[str, tuple[time, time]] = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(18)),
    "evening": (time(18), time(21)),
    "lunch": (time(12), time(14)),
}
SYNONYMS = {
    "matin": "morning",
    "vormittag": "morning",
    "morgens": "morning",
    "après-midi": "afternoon",
    "apres-midi": "afternoon",
    "nachmittag": "afternoon",
    "soir": "evening",
    "soirée": "evening",
    "abend": "evening",
    "abends": "evening",
    "midi": "lunch",
    "mittag": "lunch",
    "week-end": "weekend",
    "wochenende": "weekend",
    "semaine": "weekdays",
    "weekday": "weekdays",
}
_T = r"(\d{1,2})(?:[:h](\d{2})?)?"
_RANGE = re.compile(_T + r"\s*(?:-|–|to|à|a|bis)\s*" + _T)
_AFTER = re.compile(r"(?:after|from|après|apres|ab)\s*" + _T)
_BEFORE = re.compile(r"(?:before|until|avant|vor)\s*" + _T)


@dataclass(frozen=True)
class CallTime:
    """When a person likes to be called: hour windows and days (None: any)."""

    text: str
    windows: tuple[tuple[time, time], ...] = ()
    #: ISO weekdays allowed (1 Monday … 7 Sunday); empty: any day
    days: frozenset[int] = frozenset()

    @property
    def restricts(self) -> bool:
        """Whether the text names a time at all."""
        return bool(self.windows or self.days)

    def allows(self, local: datetime) -> bool:
        """Whether a call at ``local`` (the desk's local time) suits the person."""
        if self.days and local.isoweekday() not in self.days:
            return False
        if not self.windows:
            return True
        now = local.time()
        return any(start <= now < end for start, end in self.windows)


def _hour(h: str, m: str | None) -> time | None:
    hour, minute = int(h), int(m or 0)
    if hour == 24 and minute == 0:
        return time(23, 59, 59)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse(text: str | None) -> CallTime:
    """The windows ``text`` names (see the module doc); nothing restricts for empty text."""
    raw = (text or "").strip()
    low = raw.lower()
    windows: list[tuple[time, time]] = []
    days: set[int] = set()
    for word in re.findall(r"[\w\-éè]+", low):
        word = SYNONYMS.get(word, word)
        if word in WINDOWS:
            windows.append(WINDOWS[word])
        elif word == "weekend":
            days |= {6, 7}
        elif word == "weekdays":
            days |= {1, 2, 3, 4, 5}
    ranges = list(_RANGE.finditer(low))
    for match in ranges:
        start, end = _hour(match[1], match[2]), _hour(match[3], match[4])
        if start and end and start < end:
            windows.append((start, end))
    # "from 9 to 12" is a range, not "after 9"
    for match in [] if ranges else _AFTER.finditer(low):
        start = _hour(match[1], match[2])
        if start:
            windows.append((start, time(21)))
    for match in [] if ranges else _BEFORE.finditer(low):
        end = _hour(match[1], match[2])
        if end and end > time(8):
            windows.append((time(8), end))
    return CallTime(raw, tuple(windows), frozenset(days))
