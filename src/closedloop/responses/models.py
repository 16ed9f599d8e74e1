"""ORM models of responses (M14) and surveys inside mailings and calls."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from closedloop.db.base import Base, BigId, created_at, int_pk, str_source
from closedloop.db.types import JsonDoc, Money


class Response(Base):
    """A reaction of a person, attributed to a campaign, wave, cell and message where known.

    ``person_id`` is None only while the response waits for its communication (``ref`` names
    it: ``c:<communication id>`` or the channel's reference); ``dedupe_key`` makes a repeated
    open or click one row whose ``hits`` count; ``machine`` says why a reaction is a machine's
    (a mail-privacy proxy, a link scanner, a HEAD request), not the person's.
    """

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_person_at", "person_id", "occurred_at"),
        Index("ix_responses_campaign_kind", "campaign_id", "kind"),
        Index("ix_responses_cell_kind", "cell_id", "kind"),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    communication_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("communications.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    source_system: Mapped[str_source]
    created_at: Mapped[created_at]
    wave_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("waves.id", ondelete="SET NULL"))
    cell_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cells.id", ondelete="SET NULL"))
    hits: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    machine: Mapped[str | None] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    ref: Mapped[str | None] = mapped_column(String(200), index=True)


class Survey(Base):
    """A questionnaire sent with a mailing or asked during a call."""

    __tablename__ = "surveys"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_at]
    intro: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Question(Base):
    """A question of a survey; choice questions list their choices."""

    __tablename__ = "survey_questions"
    id: Mapped[int_pk]
    survey_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str] | None] = mapped_column(JsonDoc)
    code: Mapped[str | None] = mapped_column(String(64))
    #: the bounds of a scale (NPS is 0–10)
    min_value: Mapped[int | None] = mapped_column(Integer)
    max_value: Mapped[int | None] = mapped_column(Integer)
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the catalogue attribute an answer sets on the person's record
    attribute_code: Mapped[str | None] = mapped_column(String(64))


class Answer(Base):
    """A person's answer to one question."""

    __tablename__ = "survey_answers"
    id: Mapped[int_pk]
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("responses.id", ondelete="SET NULL"), index=True
    )
    answer_text: Mapped[str | None] = mapped_column(String(2000))
    answer_number: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    answer_choice: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[created_at]
