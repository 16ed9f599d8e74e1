"""The email channel: messages with text and HTML parts sent over SMTP (any provider).

- :class:`OutgoingEmail` is one message to one recipient. A message that carries a
  ``list_unsubscribe`` URL gets the ``List-Unsubscribe`` header and, with
  ``list_unsubscribe_post``, ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058)
  so mail clients offer a one-click unsubscribe.
- :class:`EmailChannel` is the configured server. :meth:`EmailChannel.send` sends one message
  (the ``email.send`` job of the sign-up pages); :meth:`EmailChannel.connect` opens an
  :class:`EmailTransport` for a campaign: several connections, each reused for many messages,
  commands pipelined (RFC 2920) when the server offers it, throttled to a rate.

Other domains queue a single message as an ``email.send`` job whose payload is
:meth:`OutgoingEmail.to_payload`; the job handler rebuilds it with
:meth:`OutgoingEmail.from_payload`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from typing import Any, ClassVar

from closedloop.channels.base import (
    ChannelUnavailable,
    CommitPoint,
    Delivery,
    Outcome,
)
from closedloop.channels.mime import (
    Attachment,
    address_header,
    header_value,
    mime_bytes,
    one_line,
)
from closedloop.channels.settings import ChannelSettings, get_channel_settings
from closedloop.channels.smtp import SmtpConnection, SmtpReplyError, dot_stuffed
from closedloop.channels.throttle import Throttle
from closedloop.errors import Refused, ValidationFailed
from closedloop.settings import Settings, get_settings

#: The job kind that sends one message.
SEND_KIND = "email.send"


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
    #: set by a campaign sender so the id is known before sending; generated otherwise
    message_id: str | None = None
    #: the recipient's name, when ``to`` is a bare address (saves parsing ``Name <addr>``)
    to_name: str | None = None
    #: files sent with it (an invitation's ``.ics``); not kept in job payloads
    attachments: tuple[Attachment, ...] = ()

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


def new_message_id(domain: str, local: str = "") -> str:
    """A unique Message-ID ``<local.random@domain>``."""
    return f"<{local + '.' if local else ''}{secrets.token_hex(8)}@{domain}>"


@dataclass(frozen=True)
class Envelope:
    """A message ready for the wire: SMTP envelope addresses and the MIME bytes."""

    sender: str
    recipient: str
    content: bytes
    message_id: str


@lru_cache(maxsize=8)
def sender_domain(sender: str) -> str:
    """The domain of the ``From`` address (for Message-IDs)."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


@lru_cache(maxsize=8)
def _sender_header(sender: str) -> tuple[str, str]:
    return address_header(sender)


def build_envelope(message: OutgoingEmail, sender: str) -> Envelope:
    """The MIME message of ``message`` from ``sender``, with its headers: From, To, Subject,
    Date, Message-ID and the RFC 8058 list headers."""
    from_header, from_address = _sender_header(sender)
    if message.to_name is not None:
        to_address = one_line(message.to, "to")
        if "@" not in to_address or " " in to_address:
            raise ValidationFailed(
                f"Not an email address: {message.to!r}.",
                errors=[{"field": "to", "message": "not an email address"}],
            )
        to_header = formataddr((message.to_name, to_address), charset="utf-8")
    else:
        to_header, to_address = address_header(message.to)
    message_id = message.message_id or new_message_id(sender_domain(sender))
    headers = [
        ("From", from_header),
        ("To", to_header),
        ("Subject", header_value(one_line(message.subject, "subject"))),
        ("Date", formatdate(usegmt=True)),
        ("Message-ID", one_line(message_id, "message_id")),
    ]
    if message.list_unsubscribe:
        headers.append(
            ("List-Unsubscribe", f"<{one_line(message.list_unsubscribe, 'list_unsubscribe')}>")
        )
        if message.list_unsubscribe_post:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    content = mime_bytes(headers, message.text, message.html, message.attachments)
    return Envelope(from_address, to_address, content, message_id)


def _outcome(exc: SmtpReplyError) -> Outcome:
    return Outcome.RETRY if exc.temporary else Outcome.FAILED


class EmailTransport:
    """Open connections to one SMTP server, reused for every batch until closed.

    A batch goes out in rounds of one message per connection: the envelopes and contents of
    the round are written on every connection, then the commit point is called, then the
    final dots are written and their answers read, so the connections work side by side.
    """

    def __init__(self, channel: EmailChannel, connections: int, throttle: Throttle) -> None:
        self.channel, self.size, self.throttle = channel, max(1, connections), throttle
        self.conns: list[SmtpConnection] = []
        self.down: str | None = None
        self._told = 0

    def _live(self) -> list[SmtpConnection]:
        self.conns = [c for c in self.conns if c.is_open]
        while len(self.conns) < self.size:
            try:
                self.conns.append(self.channel.open_connection())
            except (OSError, SmtpReplyError) as exc:
                self.down = f"cannot reach the SMTP server {self.channel.address}: {exc}"
                break
        else:
            self.down = None
        return list(self.conns)

    def send(self, batch: Sequence[OutgoingEmail], commit: CommitPoint) -> list[Delivery]:
        """Deliver ``batch`` (see :class:`closedloop.channels.base.Transport`); a message that
        cannot be built (an invalid address) fails on its own."""
        out: list[Delivery] = []
        self._told = 0
        envelopes: dict[int, Envelope] = {}
        for i, message in enumerate(batch):
            try:
                envelopes[i] = self.channel.envelope(message)
            except ValidationFailed as exc:
                out.append(Delivery(i, Outcome.FAILED, exc.detail))
        todo = sorted(envelopes)
        while todo:
            conns = self._live()
            if not conns:
                out += [Delivery(i, Outcome.UNSENT, self.down) for i in todo]
                break
            now, todo = todo[: len(conns)], todo[len(conns) :]
            self.throttle.wait(len(now))
            work = [(c, i, envelopes[i]) for c, i in zip(conns, now, strict=False)]
            self._round(work, commit, out)
        return out

    def _round(
        self,
        work: list[tuple[SmtpConnection, int, Envelope]],
        commit: CommitPoint,
        out: list[Delivery],
    ) -> None:
        ready: list[tuple[SmtpConnection, int]] = []
        piped = [(c, i, e) for c, i, e in work if c.pipelining]
        for conn, i, env in piped:
            try:
                conn.send_envelope(env.sender, env.recipient)
            except OSError as exc:
                conn.drop()
                out.append(Delivery(i, Outcome.UNSENT, f"connection lost: {exc}"))
        for conn, i, env in work:
            if not conn.is_open:
                continue
            try:
                if conn.pipelining:
                    conn.read_envelope()
                else:
                    conn.envelope_step_by_step(env.sender, env.recipient)
                conn.write(dot_stuffed(env.content))
                ready.append((conn, i))
            except SmtpReplyError as exc:
                out.append(Delivery(i, _outcome(exc), str(exc)))
                if exc.code == 421:
                    conn.drop()
            except OSError as exc:
                conn.drop()
                out.append(Delivery(i, Outcome.UNSENT, f"connection lost: {exc}"))
        if not ready:
            return
        try:
            allowed = commit([i for _c, i in ready], out[self._told :])
        except BaseException:
            for conn, _i in ready:
                conn.drop()  # no final dot: the server discards every started message
            raise
        self._told = len(out)
        dotted: list[tuple[SmtpConnection, int]] = []
        for conn, i in ready:
            if i not in allowed:
                conn.drop()
                out.append(Delivery(i, Outcome.UNSENT, "withdrawn before sending"))
                continue
            try:
                conn.write(b".\r\n")
                dotted.append((conn, i))
            except OSError as exc:
                conn.drop()
                out.append(Delivery(i, Outcome.UNKNOWN, f"connection lost at the end: {exc}"))
        for conn, i in dotted:
            try:
                reply = conn.read(conn.data_timeout)
            except OSError as exc:
                conn.drop()
                out.append(Delivery(i, Outcome.UNKNOWN, f"no answer to the end of DATA: {exc}"))
                continue
            if reply.ok:
                out.append(Delivery(i, Outcome.SENT, f"{reply.code} {reply.text}"[:300]))
            else:
                err = SmtpReplyError(reply.code, reply.text, "end of DATA")
                out.append(Delivery(i, _outcome(err), str(err)))
                if reply.code == 421:
                    conn.drop()

    def close(self) -> None:
        """QUIT every connection."""
        for conn in self.conns:
            conn.close()
        self.conns = []


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
        data_timeout: float = 600.0,
        connections: int = 4,
        rate: float = 0.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout, self.data_timeout = starttls, timeout, data_timeout
        self.connections, self.rate = connections, rate

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, channel_settings: ChannelSettings | None = None
    ) -> EmailChannel:
        """The channel configured by the ``CLOSEDLOOP_SMTP_*`` and ``MAIL_FROM`` settings."""
        s = settings or get_settings()
        c = channel_settings or get_channel_settings()
        return cls(
            s.smtp_host,
            s.smtp_port,
            sender=s.mail_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
            data_timeout=c.smtp_data_timeout_seconds,
            connections=c.smtp_connections,
            rate=c.smtp_rate,
        )

    def open_connection(self) -> SmtpConnection:
        """One connection, greeted and logged in."""
        conn = SmtpConnection(
            self.host, self.port, timeout=self.timeout, data_timeout=self.data_timeout
        )
        try:
            return conn.open(starttls=self.starttls, username=self.username, password=self.password)
        except BaseException:
            conn.drop()
            raise

    def envelope(self, message: OutgoingEmail) -> Envelope:
        """``message`` as MIME bytes from the configured sender."""
        return build_envelope(message, self.sender)

    def reference(self, message: OutgoingEmail) -> str | None:
        """The Message-ID, recorded before sending (to look a message up in the server's log)."""
        return message.message_id

    def prepared(self, message: OutgoingEmail, local: str = "") -> OutgoingEmail:
        """``message`` with a Message-ID of its own (``local`` names it, e.g. a ledger id)."""
        if message.message_id:
            return message
        domain = sender_domain(self.sender)
        return replace(message, message_id=new_message_id(domain, local))

    def settle(self, references: Sequence[str | None]) -> list[bool | None]:
        """An SMTP server cannot be asked whether it got a message: always None."""
        return [None] * len(references)

    def connect(self) -> EmailTransport:
        """A transport with the configured number of connections and rate."""
        transport = EmailTransport(self, self.connections, Throttle(self.rate))
        if not transport._live():
            raise ChannelUnavailable(transport.down or f"cannot reach {self.address}")
        return transport

    def send(self, message: OutgoingEmail) -> str:
        """Send one message on a connection of its own; return its Message-ID.

        A refused recipient raises :class:`Refused` (retrying cannot help); a lost connection
        or a temporary refusal raises :class:`ChannelUnavailable` (the job retries).
        """
        message = self.prepared(message)
        transport = EmailTransport(self, 1, Throttle(0))
        try:
            [delivery] = transport.send([message], lambda ids, _done: ids)
        finally:
            transport.close()
        if delivery.outcome is Outcome.SENT:
            return str(message.message_id)
        if delivery.outcome is Outcome.FAILED:
            raise Refused(f"The SMTP server refused the message to {message.to}: {delivery.detail}")
        raise ChannelUnavailable(f"The message to {message.to} was not sent: {delivery.detail}")
