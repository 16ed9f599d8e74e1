"""The demo's calendar: day numbers, text timestamps, and the seasonal shape of buying.

Days are integers (days since 1970-01-01) so that whole chunks are handled with numpy; they
become text only when rows are written, through lookup tables rather than ``strftime``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

#: A numpy array of any dtype (the generators mix int, float, bool and object arrays).
Arr = npt.NDArray[Any]

_EPOCH = date(1970, 1, 1)
_OLDEST = date(1925, 1, 1)


def nullable(mask: Arr, values: Any) -> Arr:
    """An object array: ``values`` where ``mask`` holds, ``None`` (SQL NULL) elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = values[mask] if isinstance(values, np.ndarray) else values
    return out


def epoch_day(value: date) -> int:
    """Days since 1970-01-01."""
    return (value - _EPOCH).days


class Clock:
    """Three years of history ending the day before ``today`` (nothing is ever in the future).

    ``op`` time is the integral of the seasonal buying intensity: a purchase process that is
    uniform in op time has its bumps in November and December, on Saturdays and in the
    January sales, and grows a little every year.
    """

    def __init__(self, today: date, years: int = 3) -> None:
        self.today = epoch_day(today)
        self.start = self.today - 365 * years
        self.base = epoch_day(_OLDEST)
        days = np.arange(self.base, self.today + 1).astype("datetime64[D]")
        text = np.datetime_as_string(days)
        self._dates = text.astype(object)
        self._prefix = np.char.add(text, " ").astype(object)
        self._times = np.array(
            [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(86400)],
            dtype=object,
        )
        window = np.arange(self.start, self.today)
        as_dates = window.astype("datetime64[D]")
        month = as_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (as_dates - as_dates.astype("datetime64[M]")).astype(np.int64) + 1
        weekday = (window + 3) % 7  # 0 = Monday
        intensity = (
            1.0
            + 0.35 * (month == 11)
            + 1.2 * ((month == 12) & (dom <= 23))
            - 0.3 * ((month == 12) & (dom >= 25))
            + 0.2 * ((month == 1) & (dom <= 15))
            + 0.15 * (weekday == 5)
            - 0.15 * (weekday == 6)
        ) * (1.0 + 0.08 * (window - self.start) / 365.0)
        self._cum = np.concatenate([[0.0], np.cumsum(intensity)])
        self.span = float(self._cum[-1])
        self.per_year = self.span / years

    def op_to_day(self, op: Arr) -> Arr:
        """The calendar day of each op-time instant."""
        idx = np.searchsorted(self._cum, op, side="right") - 1
        return self.start + np.clip(idx, 0, self.today - self.start - 1)

    def day_to_op(self, day: Arr) -> Arr:
        """Op time at the start of each calendar day of the window."""
        out: Arr = self._cum[np.clip(day - self.start, 0, self.today - self.start)]
        return out

    def dates(self, days: Arr) -> Arr:
        """``YYYY-MM-DD`` text of each day (object array)."""
        return self._dates[days - self.base]  # type: ignore[no-any-return]

    def normalise(self, days: Arr, seconds: Arr) -> tuple[Arr, Arr]:
        """Carry seconds past midnight into the day; clamp to the last day before today."""
        days = days + seconds // 86400
        seconds = seconds % 86400
        late = days >= self.today
        return np.where(late, self.today - 1, days), np.where(late, 86399, seconds)

    def stamps(self, days: Arr, seconds: Arr) -> list[str]:
        """``YYYY-MM-DD HH:MM:SS.000000`` text of each (day, second of day)."""
        text = self._prefix[days - self.base] + self._times[seconds]
        return text.tolist()  # type: ignore[no-any-return]
