"""Where inbound mail comes from: an SMTP endpoint (aiosmtpd) or a mailbox file.

Point the bounce address (the envelope sender, ``CLOSEDLOOP_MAIL_FROM``'s domain MX or a
forwarding rule) at ``closedloop responses inbound-smtp``; or let the mail server deliver to
an mbox file or Maildir folder and run ``closedloop responses read-mailbox`` now and then.
Each message goes through :func:`closedloop.responses.inbound.receive` in its own
transaction: a message the store cannot take is answered ``451`` (the sending server tries
again later), never accepted and lost.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from closedloop.channels.listener import SmtpListener
from closedloop.db.uow import unit_of_work
from closedloop.responses.inbound import Received, receive

log = logging.getLogger(__name__)
#: the largest message accepted (a DSN carrying the original message with attachments)
MAX_SIZE = 10 * 1024 * 1024


class _Handler:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.seen: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            done = await asyncio.to_thread(self._keep, raw)
        except Exception:
            log.exception("An inbound message could not be stored")
            return "451 Requested action aborted: try again later"
        self.seen[done.kind] += 1
        return "250 Message accepted"

    def _keep(self, raw: bytes) -> Received:
        with unit_of_work(self.factory) as session:
            return receive(session, raw)


class InboundSmtp(SmtpListener):
    """An SMTP server on ``host``:``port`` that reads every message it receives."""

    data_size_limit = MAX_SIZE

    def __init__(self, factory: sessionmaker[Session], host: str = "127.0.0.1", port: int = 2525):
        super().__init__(_Handler(factory), host, port)
        self.factory = factory


def messages(path: Path) -> Iterator[bytes]:
    """The messages of an mbox file or a Maildir folder (``cur``/``new``/``tmp``)."""
    if path.is_dir():
        box: mailbox.Mailbox[Any] = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise FileNotFoundError(f"{path}: no such mbox file or Maildir folder")
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def read_mailbox(factory: sessionmaker[Session], path: Path) -> Counter[str]:
    """Read every message of ``path``; returns how many of each kind (bounce, reply…) and
    ``suppressed`` addresses. Reading the same mailbox again records nothing twice."""
    counts: Counter[str] = Counter()
    for raw in messages(path):
        with unit_of_work(factory) as session:
            done = receive(session, raw)
        counts[done.kind] += 1
        counts["suppressed"] += len(done.suppressed)
    return counts
