"""The outbox: messages caught by the demo's mail catcher, read as their recipient would read
them, and the email jobs that could not send (with the reason), for the admins' outbox page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from closedloop.channels.email import SEND_KIND
from closedloop.channels.models import CaughtEmail
from closedloop.errors import NotFound
from closedloop.jobs.models import Job
from closedloop.vocab import JobStatus

#: A web address in plain text (it ends before a space, a quote or an angle bracket).
LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Part:
    """A piece of a plain-text body: text, or a link (``href``) shown as its address."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Message:
    """A caught message as its recipient would read it."""

    id: int
    received_at: datetime
    mail_from: str
    recipients: list[str]
    subject: str
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    links: list[str]

    def text_parts(self) -> list[Part]:
        """The plain-text body cut into text and links (links become clickable on the page)."""
        return text_parts(self.text or "")


def text_parts(text: str) -> list[Part]:
    """``text`` cut into plain pieces and links; a trailing full stop is not part of a link."""
    parts: list[Part] = []
    last = 0
    for found in LINK.finditer(text):
        href = found.group(0).rstrip(".,;:!?)")
        if found.start() > last:
            parts.append(Part(text[last : found.start()]))
        parts.append(Part(href, href))
        last = found.start() + len(href)
    if last < len(text):
        parts.append(Part(text[last:]))
    return parts


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href and LINK.fullmatch(href):
            self.hrefs.append(href)


def _links(text: str | None, html: str | None) -> list[str]:
    """Every web address of the message, once, in order (text part first)."""
    found = [p.href for p in text_parts(text or "") if p.href]
    if html:
        parser = _Hrefs()
        parser.feed(html)
        found += parser.hrefs
    return list(dict.fromkeys(found))


def _body(mime: EmailMessage, subtype: str) -> str | None:
    part = mime.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return str(part.get_content())


def record(session: Session, mail_from: str, recipients: Sequence[str], raw: bytes) -> CaughtEmail:
    """Keep a message received by the catcher; returns the flushed row."""
    mime = message_from_bytes(raw, policy=policy.default)
    subject = str(mime.get("Subject", "") or "")[:998] or None
    row = CaughtEmail(
        mail_from=mail_from[:320],
        recipients="\n".join(recipients),
        subject=subject,
        message=raw,
    )
    session.add(row)
    session.flush()
    return row


def list_caught(session: Session, *, limit: int = 200) -> list[CaughtEmail]:
    """The latest caught messages, newest first."""
    stmt = select(CaughtEmail).order_by(CaughtEmail.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def count_caught(session: Session) -> int:
    """How many messages the outbox holds."""
    return int(session.scalar(select(func.count()).select_from(CaughtEmail)) or 0)


def read(session: Session, email_id: int) -> Message:
    """Caught message ``email_id`` parsed for reading; NotFound when there is none."""
    row = session.get(CaughtEmail, email_id)
    if row is None:
        raise NotFound(f"No caught message {email_id}.")
    mime = message_from_bytes(row.message, policy=policy.default)
    assert isinstance(mime, EmailMessage)
    text, html = _body(mime, "plain"), _body(mime, "html")
    return Message(
        id=row.id,
        received_at=row.received_at,
        mail_from=row.mail_from,
        recipients=row.recipients.splitlines(),
        subject=row.subject or "",
        headers=[(name, str(value)) for name, value in mime.items()],
        text=text,
        html=html,
        links=_links(text, html),
    )


def clear(session: Session) -> int:
    """Delete every caught message; returns how many."""
    return int(session.execute(delete(CaughtEmail)).rowcount)  # type: ignore[attr-defined]


def failed_sends(session: Session, *, limit: int = 50) -> list[Job]:
    """Email jobs that failed, or wait to try again after an error, newest first: each has
    the reason in ``error`` and, until it is sent or purged, the recipient in its payload."""
    stmt = (
        select(Job)
        .where(Job.kind == SEND_KIND, Job.error.is_not(None))
        .where(
            or_(
                Job.status == JobStatus.FAILED.value,
                Job.status == JobStatus.QUEUED.value,
            )
        )
        .order_by(Job.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


__all__ = [
    "Message",
    "Part",
    "clear",
    "count_caught",
    "failed_sends",
    "list_caught",
    "read",
    "record",
    "text_parts",
]
