"""The campaign calendar as an iCalendar feed (RFC 5545) for the participants' calendar apps:
one all-day event per campaign (its dates) and one event per wave (its send time)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.calendar_entries import WaveEntry, entries
from closedloop.campaigns.models import Campaign
from closedloop.db.base import utcnow

PRODID = "-//closedloop//campaign calendar//EN"


def escape_text(text: str) -> str:
    """``text`` as an iCalendar TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and
    line breaks escaped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> list[str]:
    """Lines of at most 75 octets, continuation lines starting with a space (RFC 5545 3.1)."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0], *(" " + rest for rest in out[1:])]


def stamp(at: datetime) -> str:
    """A UTC date-time value (``20270514T163000Z``)."""
    return at.strftime("%Y%m%dT%H%M%SZ")


def _wave_event(e: WaveEntry, host: str, now: str) -> list[str]:
    volumes = ", ".join(f"{v:,} {ch}" for ch, v in sorted(e.volumes.items())) or "no volume yet"
    kind = "queued" if e.extracted else "planned"
    lines = [
        "BEGIN:VEVENT",
        f"UID:wave-{e.wave_id}@{host}",
        f"DTSTAMP:{now}",
    ]
    if e.at:
        lines += [f"DTSTART:{stamp(e.at)}", f"DTEND:{stamp(e.at + timedelta(hours=1))}"]
    else:
        lines += [f"DTSTART;VALUE=DATE:{e.day:%Y%m%d}"]
    lines += [
        f"SUMMARY:{escape_text(f'{e.code}: {e.wave} ({e.wave_status})')}",
        f"DESCRIPTION:{escape_text(f'{e.campaign}, version {e.version}. {kind}: {volumes}.')}",
        "CATEGORIES:wave",
        "END:VEVENT",
    ]
    return lines


def _campaign_event(c: Campaign, host: str, now: str) -> list[str]:
    assert c.starts_on is not None
    end = (c.ends_on or c.starts_on) + timedelta(days=1)
    return [
        "BEGIN:VEVENT",
        f"UID:campaign-{c.id}@{host}",
        f"DTSTAMP:{now}",
        f"DTSTART;VALUE=DATE:{c.starts_on:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end:%Y%m%d}",
        f"SUMMARY:{escape_text(f'{c.code} v{c.version}: {c.name} ({c.status})')}",
        f"DESCRIPTION:{escape_text(c.objective or '')}",
        "CATEGORIES:campaign",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def feed(session: Session, start: date, end: date, *, host: str = "closedloop") -> str:
    """The iCalendar text of the campaigns and waves between ``start`` and ``end``."""
    now = stamp(utcnow())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             "X-WR-CALNAME:Campaigns"]  # fmt: skip
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.starts_on.is_not(None), Campaign.starts_on < end)
        .where((Campaign.ends_on.is_(None)) | (Campaign.ends_on >= start))
        .order_by(Campaign.starts_on, Campaign.id)
    )
    for c in campaigns:
        lines += _campaign_event(c, host, now)
    for e in entries(session, start, end):
        lines += _wave_event(e, host, now)
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in fold(line))
