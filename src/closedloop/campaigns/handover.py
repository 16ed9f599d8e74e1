"""Handing one channel's group of rendered messages to its transport, and recording what
became of each: the commit point of :mod:`closedloop.campaigns.sender` lives here.

:class:`Handover` marks the rows ``sending`` (with their reference and the lease renewed) in
the commit point's transaction, together with the outcomes settled since the previous one;
seed copies get their ``seed_sends`` row instead, unique per wave, cell and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import ledger, send_lease
from closedloop.campaigns.compose import Ready
from closedloop.campaigns.models import SeedSend
from closedloop.campaigns.seeds import SeedCopy
from closedloop.channels import Delivery, Outcome
from closedloop.channels.settings import ChannelSettings
from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.vocab import CommunicationStatus as St


@dataclass
class Tally:
    """Outcomes counted over a run."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    unconfirmed: int = 0
    seeds: int = 0


@dataclass
class Handover:
    """Hands groups of one wave's messages over, as the lease ``holder``."""

    factory: sessionmaker[Session]
    wave_id: int
    holder: str
    settings: ChannelSettings
    tally: Tally = field(default_factory=Tally)

    def rows(
        self, impl: Any, transport: Any, group: Sequence[Ready], messages: Sequence[Any]
    ) -> list[Delivery]:
        """Send the ledger rows of ``group``; returns the deliveries (UNSENT ones are still
        ``queued``: nothing was handed over)."""
        recorded: set[int] = set()

        def commit(indexes: Sequence[int], done: Sequence[Delivery]) -> set[int]:
            refs = {group[i].row_id: impl.reference(messages[i]) for i in indexes}
            with unit_of_work(self.factory) as session:
                self._record(session, impl, group, messages, done, recorded)
                marked = ledger.mark_sending(session, self.wave_id, self.holder, refs)
            return {i for i in indexes if group[i].row_id in marked}

        deliveries: list[Delivery] = transport.send(messages, commit)
        with unit_of_work(self.factory) as session:
            self._record(session, impl, group, messages, deliveries, recorded)
            send_lease.heartbeat(session, self.wave_id, self.holder)
        return deliveries

    def _record(
        self,
        session: Session,
        impl: Any,
        group: Sequence[Ready],
        messages: Sequence[Any],
        deliveries: Sequence[Delivery],
        recorded: set[int],
    ) -> None:
        outcomes: list[ledger.Outcome] = []
        for d in deliveries:
            if d.index in recorded or d.outcome is Outcome.UNSENT:
                continue
            recorded.add(d.index)
            ref = d.ref or impl.reference(messages[d.index])
            outcomes.append(self.outcome(group[d.index], d, ref))
        ledger.record(session, outcomes)

    def outcome(self, r: Ready, d: Delivery, ref: str | None) -> ledger.Outcome:
        """The ledger outcome of a delivery (a refusal for now is retried with backoff)."""
        subject, tries = r.rendered.subject, r.attempts + 1
        if d.outcome is Outcome.SENT:
            self.tally.sent += 1
            return ledger.Outcome(r.row_id, St.SENT, None, ref, r.recipient, subject)
        if d.outcome is Outcome.UNKNOWN:
            self.tally.unconfirmed += 1
            return ledger.Outcome(r.row_id, St.UNCONFIRMED, d.detail, ref, r.recipient, subject)
        if d.outcome is Outcome.FAILED or tries >= self.settings.send_max_attempts:
            self.tally.failed += 1
            detail = (
                d.detail
                if d.outcome is Outcome.FAILED
                else (f"gave up after {tries} attempts: {d.detail}")
            )
            return ledger.Outcome(
                r.row_id, St.FAILED, detail, ref, r.recipient, subject, attempts=tries
            )
        self.tally.retrying += 1
        delay = self.settings.send_retry_seconds * 4 ** (tries - 1)
        return ledger.Outcome(
            r.row_id,
            St.QUEUED,
            d.detail,
            attempts=tries,
            retry_at=utcnow() + timedelta(seconds=delay),
        )

    def seeds(
        self, impl: Any, transport: Any, group: Sequence[SeedCopy], messages: Sequence[Any]
    ) -> None:
        """Send seed copies, each at most once (its ``seed_sends`` row is the mark)."""

        def commit(indexes: Sequence[int], _done: Sequence[Delivery]) -> set[int]:
            allowed: set[int] = set()
            for i in indexes:
                try:
                    with unit_of_work(self.factory) as session:
                        session.add(
                            SeedSend(
                                wave_id=self.wave_id,
                                cell_id=group[i].cell_id,
                                seed_id=group[i].seed_id,
                                status="sending",
                                external_ref=impl.reference(messages[i]),
                            )
                        )
                    allowed.add(i)
                except IntegrityError:
                    continue  # an earlier run sent this copy already
            return allowed

        deliveries: list[Delivery] = transport.send(messages, commit)
        names = {Outcome.SENT: "sent", Outcome.UNKNOWN: "unconfirmed"}
        with unit_of_work(self.factory) as session:
            for d in deliveries:
                if d.outcome is Outcome.UNSENT:
                    continue
                status = names.get(d.outcome, "failed")
                self.tally.seeds += status == "sent"
                copy = group[d.index]
                session.execute(
                    update(SeedSend)
                    .where(
                        SeedSend.wave_id == self.wave_id,
                        SeedSend.cell_id == copy.cell_id,
                        SeedSend.seed_id == copy.seed_id,
                    )
                    .values(status=status, detail=d.detail and d.detail[:500], sent_at=utcnow())
                )
