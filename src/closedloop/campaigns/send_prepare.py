"""What the sender of a wave does before handing messages over: the demo-base guard, settling
the rows a dead sender left ``sending``, and reading and rendering the next batch of the send
ledger (:mod:`closedloop.campaigns.sender` runs the batch loop around these).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import ledger
from closedloop.campaigns.compose import Ready, Settled, WavePlan, compose
from closedloop.campaigns.models import Communication
from closedloop.campaigns.outgoing import outgoing
from closedloop.channels.settings import ChannelSettings
from closedloop.contacts.models import Person
from closedloop.db.base import utcnow
from closedloop.errors import Refused
from closedloop.ingest.models import ImportBatch
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

#: the channel implementation of a channel (the sender's cache)
ChannelOf = Callable[[Channel], Any]


@dataclass(frozen=True)
class Batch:
    """A batch read and rendered: its last row id, its size, the rows decided without
    sending, and the messages per channel (the rendered rows and the channel's messages)."""

    last_id: int
    size: int
    settled: list[Settled]
    groups: dict[Channel, tuple[list[Ready], list[Any]]]


def demo_guard(session: Session, wave_id: int, settings: ChannelSettings) -> None:
    """Refuse to send a wave that reaches persons of the demo base unless the delivery is a
    test sink (``CLOSEDLOOP_DELIVERY_IS_TEST_SINK``): its addresses look real."""
    if settings.delivery_is_test_sink:
        return
    demo = session.scalar(
        select(
            exists()
            .where(Communication.wave_id == wave_id, Communication.status == St.QUEUED.value)
            .where(Person.id == Communication.person_id)
            .where(ImportBatch.id == Person.import_batch_id, ImportBatch.kind == "demo")
        )
    )
    if demo:
        raise Refused(
            f"Wave {wave_id} would send to persons of the demo base, whose made-up addresses "
            "look real and may belong to someone. Point CLOSEDLOOP_SMTP_HOST (and the SMS "
            "provider) at a test sink and set CLOSEDLOOP_DELIVERY_IS_TEST_SINK=true to send."
        )


def settle_unfinished(session: Session, wave_id: int, channel_of: ChannelOf) -> int:
    """Ask each channel what became of the rows a dead sender left ``sending`` and record
    it (delivered, still queued, or ``unconfirmed``); the number found unconfirmed."""
    rows = ledger.unfinished(session, wave_id)
    if not rows:
        return 0
    channels = dict(
        session.execute(
            select(Communication.id, Communication.channel).where(
                Communication.id.in_([i for i, _ in rows])
            )
        ).all()
    )
    unconfirmed = 0
    outcomes: list[ledger.Outcome] = []
    for name in sorted(set(channels.values())):
        mine = [(i, ref) for i, ref in rows if channels.get(i) == name]
        answers = channel_of(Channel(name)).settle([ref for _i, ref in mine])
        for (row_id, ref), answer in zip(mine, answers, strict=True):
            if answer is True:
                outcomes.append(ledger.Outcome(row_id, St.SENT, "found delivered"))
            elif answer is False:
                outcomes.append(ledger.Outcome(row_id, St.QUEUED, "not delivered"))
            else:
                unconfirmed += 1
                outcomes.append(
                    ledger.Outcome(
                        row_id,
                        St.UNCONFIRMED,
                        "the sender stopped between marking and the server's answer; "
                        f"look for {ref} in the server's log"
                        if ref
                        else "the sender stopped between marking and the server's answer",
                    )
                )
    ledger.record(session, outcomes)
    return unconfirmed


def prepare_batch(
    factory: sessionmaker[Session],
    plan: WavePlan,
    wave_id: int,
    *,
    after_id: int,
    limit: int,
    channel_of: ChannelOf,
) -> Batch | None:
    """Read and render the batch after ``after_id`` (reads only, on its own session: it
    runs in a thread while the previous batch is being sent)."""
    with factory() as session:
        rows = ledger.due_rows(session, wave_id, after_id=after_id, limit=limit, now=utcnow())
        if not rows:
            return None
        ready, settled = compose(session, plan, rows)
    groups: dict[Channel, tuple[list[Ready], list[Any]]] = {}
    for channel in sorted({r.channel for r in ready}):
        group = [r for r in ready if r.channel == channel]
        impl = channel_of(channel)
        groups[channel] = (group, [outgoing(impl, plan, r) for r in group])
    return Batch(rows[-1].id, len(rows), settled, groups)
