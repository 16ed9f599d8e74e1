"""The demo's mail catcher: an SMTP server inside the process that keeps every message it
receives in the store, where the admins' outbox page (/outbox) shows it.

``closedloop demo`` starts one on 127.0.0.1 and points the SMTP settings at it, so the sign-up
confirmation and every other email of the demo can be read and followed in the browser instead
of failing with "Connection refused". It speaks real SMTP (aiosmtpd): the app sends to it
exactly as it sends to a provider, and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine

from closedloop.channels import outbox
from closedloop.channels.listener import SmtpListener, free_port
from closedloop.db.uow import session_factory, unit_of_work

log = logging.getLogger(__name__)


class _Keeper:
    """aiosmtpd handler: each message accepted is stored first (a store that cannot take it
    answers a temporary error, and the sender tries again later)."""

    def __init__(self, engine: Engine) -> None:
        self.factory = session_factory(engine)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            await asyncio.to_thread(self._keep, str(envelope.mail_from), envelope.rcpt_tos, raw)
        except Exception:
            log.exception("The mail catcher could not store a message")
            return "451 Requested action aborted: the message could not be stored"
        return "250 Message accepted for delivery"

    def _keep(self, mail_from: str, recipients: list[str], raw: bytes) -> None:
        with unit_of_work(self.factory) as session:
            outbox.record(session, mail_from, recipients, raw)


class MailCatcher(SmtpListener):
    """An SMTP server on ``host``:``port`` (a free port when 0) storing what it receives."""

    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Keeper(engine), host, port)
        self.engine = engine


__all__ = ["MailCatcher", "free_port"]
