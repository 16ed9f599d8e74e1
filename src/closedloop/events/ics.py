"""An invitation's calendar file (RFC 5545, ``METHOD:REQUEST``): one event, one attendee.

Written by hand (no iCalendar package is installed) with the calendar feed's escaping and
line folding (:mod:`closedloop.campaigns.ical`). The UID is stable per event and person, so
a second invitation to the same person (a reminder) updates the entry in their calendar
instead of adding one; times are UTC (``DTSTART:20270514T163000Z``).
"""

from __future__ import annotations

from datetime import datetime

from closedloop.campaigns.ical import escape_text, fold, stamp
from closedloop.campaigns.tracking import rsvp_url
from closedloop.channels import Attachment
from closedloop.db.base import as_utc, utcnow
from closedloop.events.models import Event

PRODID = "-//closedloop//event invitation//EN"
CONTENT_TYPE = 'text/calendar; charset="utf-8"; method=REQUEST'


def uid(event: Event, person_id: int, host: str) -> str:
    """The calendar entry's id: the same for every invitation of one person to one event."""
    return f"event-{event.id}-person-{person_id}@{host}"


def _param(text: str) -> str:
    """A quoted parameter value (a name): no double quote, no control character."""
    return '"' + "".join(c for c in text if c >= " " and c != '"') + '"'


def location(event: Event) -> str:
    """Where it takes place, in one line: venue and address, or the online address."""
    parts = [p for p in (event.venue, event.address) if p]
    return ", ".join(parts) or (event.online_url or "")


def invitation_ics(
    event: Event,
    *,
    person_id: int,
    communication_id: int,
    recipient: str,
    name: str | None = None,
    host: str = "closedloop",
    now: datetime | None = None,
) -> str:
    """The ``.ics`` text of one person's invitation to ``event`` (CRLF lines, folded)."""
    answer = rsvp_url(communication_id)
    description = "\n\n".join(p for p in (event.description, f"RSVP: {answer}") if p)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid(event, person_id, host)}",
        f"DTSTAMP:{stamp(as_utc(now or utcnow()))}",
        "SEQUENCE:0",
        f"DTSTART:{stamp(as_utc(event.starts_at))}",
        f"DTEND:{stamp(as_utc(event.ends_at))}",
        f"SUMMARY:{escape_text(event.name)}",
        f"DESCRIPTION:{escape_text(description)}",
    ]
    where = location(event)
    if where:
        lines.append(f"LOCATION:{escape_text(where)}")
    if event.online_url:
        lines.append(f"URL:{event.online_url}")
    if event.organiser_email:
        cn = f";CN={_param(event.organiser_name)}" if event.organiser_name else ""
        lines.append(f"ORGANIZER{cn}:mailto:{event.organiser_email}")
    cn = f";CN={_param(name)}" if name else ""
    lines += [
        f"ATTENDEE{cn};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{recipient}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(part + "\r\n" for line in lines for part in fold(line))


def invitation_attachment(event: Event, text: str) -> Attachment:
    """The ``.ics`` as an email attachment."""
    return Attachment("invitation.ics", CONTENT_TYPE, text.encode("utf-8"))
