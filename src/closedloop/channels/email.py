"""The email channel: messages with text and HTML parts sent over SMTP (any provider).

Other domains queue a message as an ``email.send`` job whose payload is
:meth:`OutgoingEmail.to_payload` (``to``, ``subject``, ``text``, optional ``html``,
``list_unsubscribe`` URL and ``list_unsubscribe_post`` flag, ``tags``); the job handler rebuilds
it with :meth:`OutgoingEmail.from_payload` and sends it with :class:`EmailChannel`. A message
that carries a ``list_unsubscribe`` URL gets the ``List-Unsubscribe`` header and, when
``list_unsubscribe_post`` is set, ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058) so mail clients can offer a one-click unsubscribe.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, ClassVar

from closedloop.errors import ValidationFailed
from closedloop.settings import Settings, get_settings

#: The job kind that sends one message.
SEND_KIND = "email.send"


def _one_line(value: str, name: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValidationFailed(
            f"The email {name} must be on one line.",
            errors=[{"field": name, "message": "line breaks are not allowed in a header"}],
        )
    return value


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to one recipient: subject, plain text, optional HTML, unsubscribe link."""

    to: str
    subject: str
    text: str
    html: str | None = None
    list_unsubscribe: str | None = None
    list_unsubscribe_post: bool = False
    tags: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The message as a JSON-able job payload."""
        return {
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "list_unsubscribe": self.list_unsubscribe,
            "list_unsubscribe_post": self.list_unsubscribe_post,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutgoingEmail:
        """Rebuild a message from a job payload; a payload without recipient or text is refused."""
        missing = [k for k in ("to", "subject", "text") if not isinstance(payload.get(k), str)]
        if missing:
            raise ValidationFailed(
                "The email job lacks " + ", ".join(missing) + ".",
                errors=[{"field": k, "message": "required text"} for k in missing],
            )
        html = payload.get("html")
        unsubscribe = payload.get("list_unsubscribe")
        return cls(
            to=payload["to"],
            subject=payload["subject"],
            text=payload["text"],
            html=html if isinstance(html, str) else None,
            list_unsubscribe=unsubscribe if isinstance(unsubscribe, str) else None,
            list_unsubscribe_post=bool(payload.get("list_unsubscribe_post")),
            tags=dict(payload.get("tags") or {}),
        )


def build_mime(message: OutgoingEmail, sender: str, *, domain: str | None = None) -> EmailMessage:
    """The MIME message: text part, HTML alternative, and the list headers."""
    _name, address = parseaddr(message.to)
    if "@" not in address:
        raise ValidationFailed(
            f"Not an email recipient: {message.to!r}.",
            errors=[{"field": "to", "message": "not an email address"}],
        )
    mime = EmailMessage()
    mime["From"] = _one_line(sender, "mail_from")
    mime["To"] = Address(addr_spec=address)
    mime["Subject"] = _one_line(message.subject, "subject")
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    sender_domain = domain or parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mime["Message-ID"] = make_msgid(domain=sender_domain)
    if message.list_unsubscribe:
        mime["List-Unsubscribe"] = f"<{_one_line(message.list_unsubscribe, 'list_unsubscribe')}>"
        if message.list_unsubscribe_post:
            mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime


class EmailChannel:
    """Sends messages through one SMTP server (login and STARTTLS when configured)."""

    name: ClassVar[str] = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> EmailChannel:
        """The channel configured by the ``CLOSEDLOOP_SMTP_*`` and ``MAIL_FROM`` settings."""
        s = settings or get_settings()
        return cls(
            s.smtp_host,
            s.smtp_port,
            sender=s.mail_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )

    def send(self, message: OutgoingEmail) -> str:
        """Send ``message``; return its Message-ID. SMTP errors propagate (the job retries)."""
        mime = build_mime(message, self.sender)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(mime)
        return str(mime["Message-ID"])
