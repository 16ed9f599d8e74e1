"""events: the events a campaign invites to (time, place, capacity, organiser) and each
invited person's answer and check-in (issue 17 item 7, issue 18)

``events.seats_taken`` counts the guests who answered yes; it is raised by one conditional
UPDATE so that two answers at once never take more seats than ``capacity``.

Revision ID: 0024
Revises: 0001
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0023"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _created(name: str = "created_at") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("campaign_id", ID, nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("online_url", sa.String(length=500), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("seats_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("organiser_name", sa.String(length=200), nullable=True),
        sa.Column("organiser_email", sa.String(length=320), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_events_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("code", name=op.f("uq_events_code")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_events_campaign_id")),
    )
    op.create_table(
        "event_guests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("communication_id", ID, nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.String(length=64), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_guests_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_event_guests_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["communication_id"],
            ["communications.id"],
            name=op.f("fk_event_guests_communication_id_communications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_guests")),
        sa.UniqueConstraint(
            "event_id", "person_id", name=op.f("uq_event_guests_event_id_person_id")
        ),
    )
    op.create_index(op.f("ix_event_guests_person_id"), "event_guests", ["person_id"])
    op.create_index("ix_event_guests_event_answer", "event_guests", ["event_id", "answer"])


def downgrade() -> None:
    op.drop_index("ix_event_guests_event_answer", table_name="event_guests")
    op.drop_index(op.f("ix_event_guests_person_id"), table_name="event_guests")
    op.drop_table("event_guests")
    op.drop_table("events")
