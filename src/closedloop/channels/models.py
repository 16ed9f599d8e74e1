"""ORM models of the channels domain."""

from __future__ import annotations

from sqlalchemy import Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, created_at, int_pk


class CaughtEmail(Base):
    """A message received by the demo's mail catcher (:mod:`closedloop.channels.catcher`),
    kept whole (RFC 5322 bytes) for the outbox page to show as the recipient would see it."""

    __tablename__ = "caught_emails"
    __table_args__ = (Index("ix_caught_emails_received_at", "received_at"),)
    id: Mapped[int_pk]
    received_at: Mapped[created_at]
    mail_from: Mapped[str] = mapped_column(String(320))
    #: the envelope's recipients, one per line
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(998))
    message: Mapped[bytes] = mapped_column(LargeBinary)
