"""The sender of a wave: reads the send ledger in id order, re-checks, renders, hands each
message to its channel and records what became of it (listmonk's pattern: it sees only the
store and a messenger, so it can stop anywhere and resume).

**Exactly once under SIGKILL.** For each message the sequence is:

1. the row is ``queued``; the message is rendered and handed to the transport, which writes
   everything but the irreversible step (SMTP: MAIL, RCPT, DATA and the content, without the
   final ``.``);
2. the *commit point*: one transaction renews the wave's lease and marks the row ``sending``
   (with its Message-ID) — and records the outcomes of the previous round;
3. the irreversible step (the final dot), then the server's answer;
4. the outcome is recorded (in the next round's transaction, or at the end of the batch).

Killed before 2, the row is still ``queued`` and the server dropped the unfinished message
with the connection: it is sent by the next run. Killed after 2, the row is ``sending``: the
next sender marks it ``unconfirmed`` and never sends it again (it names the Message-ID to
look up in the server's log). The residual window is between the end of 2 and the write of
the dot (microseconds): a message killed there is reported ``unconfirmed`` but was not
delivered. Nothing is ever sent twice for the same row, nor to the same person in a wave.
The batch reading and rendering, the demo guard and the settling of a dead sender's rows are
in :mod:`closedloop.campaigns.send_prepare`.

**One sender per wave.** The lease (``send_runs``) is taken by a compare-and-swap and renewed
inside every commit point: a sender that lost it (taken over because it looked dead) cannot
mark anything, so cannot send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import ledger, send_lease
from closedloop.campaigns.compose import Ready, Settled, WavePlan, load_plan
from closedloop.campaigns.handover import Handover
from closedloop.campaigns.outgoing import outgoing
from closedloop.campaigns.seeds import seed_copies
from closedloop.campaigns.send_prepare import (
    Batch,
    demo_guard,
    prepare_batch,
    settle_unfinished,
)
from closedloop.campaigns.send_report import Progress, SendReport
from closedloop.channels import ChannelUnavailable, Outcome, get_channel
from closedloop.channels.settings import ChannelSettings, get_channel_settings
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict
from closedloop.jobs.service import holder_alive
from closedloop.jobs.worker import default_worker_id
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

log = logging.getLogger(__name__)


class WaveSender:
    """Sends one wave until its ledger has nothing due (or ``stop`` is set)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        wave_id: int,
        *,
        holder: str | None = None,
        settings: ChannelSettings | None = None,
        channels: dict[Channel, Any] | None = None,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.factory, self.wave_id = factory, wave_id
        self.holder = (holder or default_worker_id())[:100]
        self.settings = settings or get_channel_settings()
        self.channels = dict(channels or {})
        self.transports: dict[Channel, Any] = {}
        self.progress, self.stop = progress, stop or threading.Event()
        self.report = SendReport(wave_id)
        self.handover = Handover(factory, wave_id, self.holder, self.settings)
        self.unsent_ids: list[int] = []
        #: person → the row that holds their message in this run
        self.handed: dict[int | None, int] = {}
        self.failed_here = self.unconfirmed_found = 0

    # --- the run --------------------------------------------------------------------------
    def run(self) -> SendReport:
        """Take the lease, settle what a dead sender left, send everything due, give the lease
        back. :class:`Conflict` when another sender holds the wave."""
        self._acquire()
        state, message = "done", None
        try:
            with unit_of_work(self.factory) as session:
                plan = load_plan(session, self.wave_id)
                demo_guard(session, self.wave_id, self.settings)
                self.report.held = ledger.hold_reason(session, self.wave_id)
            if self.report.held:
                self.report.stopped = self.report.held
                return self.report
            self._settle_unfinished()
            self._send_seeds(plan)
            self._send_all(plan)
            if self.report.stopped:
                state, message = "stopped", self.report.stopped
        except BaseException as exc:
            state, message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._sync()
            for transport in self.transports.values():
                transport.close()
            with unit_of_work(self.factory) as session:
                send_lease.release(session, self.wave_id, self.holder, state, message)
                self.report.counts = ledger.counts(session, self.wave_id)
                self.report.next_retry_at = ledger.next_retry_at(session, self.wave_id)
        return self.report

    def _sync(self) -> None:
        t = self.handover.tally
        self.report.sent, self.report.retrying, self.report.seeds = t.sent, t.retrying, t.seeds
        self.report.failed = self.failed_here + t.failed
        self.report.unconfirmed = self.unconfirmed_found + t.unconfirmed

    def _acquire(self) -> None:
        try:
            with unit_of_work(self.factory) as session:
                self.report.taken_over = send_lease.acquire(
                    session,
                    self.wave_id,
                    self.holder,
                    stale_after=self.settings.send_lease_seconds,
                    alive=holder_alive,
                )
        except IntegrityError as exc:
            raise Conflict(f"Wave {self.wave_id} was just taken by another sender.") from exc

    def _channel(self, channel: Channel) -> Any:
        if channel not in self.channels:
            self.channels[channel] = get_channel(channel.value)
        return self.channels[channel]

    def _settle_unfinished(self) -> None:
        with unit_of_work(self.factory) as session:
            self.unconfirmed_found += settle_unfinished(session, self.wave_id, self._channel)

    def _send_seeds(self, plan: WavePlan) -> None:
        """Each active seed's copy of each cell's message, once per wave."""
        with unit_of_work(self.factory) as session:
            copies, problems = seed_copies(session, plan)
        for problem in problems:
            log.warning("Wave %s: %s", self.wave_id, problem)
        for channel in sorted({c.ready.channel for c in copies}):
            group = [c for c in copies if c.ready.channel == channel]
            impl = self._channel(channel)
            messages = [
                outgoing(impl, plan, c.ready, track=False, name=f"s{c.seed_id}c{c.cell_id}")
                for c in group
            ]
            try:
                transport = self._transport(channel)
            except ChannelUnavailable:
                continue  # the recipients' messages will report it
            self.handover.seeds(impl, transport, group, messages)

    def _transport(self, channel: Channel) -> Any:
        if channel not in self.transports:
            self.transports[channel] = self._channel(channel).connect()
        return self.transports[channel]

    def _prepare(self, plan: WavePlan, after_id: int) -> Batch | None:
        """The batch after ``after_id``, read and rendered (in the render-ahead thread)."""
        return prepare_batch(
            self.factory,
            plan,
            self.wave_id,
            after_id=after_id,
            limit=self.settings.send_batch_size,
            channel_of=self._channel,
        )

    def _send_all(self, plan: WavePlan) -> None:
        down_since: float | None = None
        with unit_of_work(self.factory) as session:
            total = sum(ledger.counts(session, self.wave_id).values())
        done = total - self._remaining()
        with ThreadPoolExecutor(1, thread_name_prefix="closedloop-render") as pool:
            after_id = 0
            pending = pool.submit(self._prepare, plan, after_id)
            while not self.stop.is_set():
                batch = pending.result()
                if self._held():
                    return
                if batch is None:
                    if after_id == 0:
                        return
                    after_id = 0  # one more pass for retries that came due meanwhile
                    pending = pool.submit(self._prepare, plan, after_id)
                    continue
                pending = pool.submit(self._prepare, plan, batch.last_id)  # render ahead
                with unit_of_work(self.factory) as session:
                    self._record_settled(session, batch.settled)
                unsent = self._deliver(batch)
                if unsent:
                    pending.result()  # rendered too early: read again after the pause
                    down_since = down_since or time.monotonic()
                    waited = time.monotonic() - down_since
                    if waited >= self.settings.send_unavailable_seconds:
                        self.report.stopped = (
                            f"stopped after {waited:.0f} s without a server: {unsent}"
                        )
                        return
                    self.stop.wait(min(30.0, 1.0 + waited))
                    after_id = min(self.unsent_ids) - 1
                    pending = pool.submit(self._prepare, plan, after_id)
                    continue
                down_since, after_id = None, batch.last_id
                done += batch.size
                if self.progress is not None:
                    self._sync()
                    self.progress(min(done, total), total, self.report)

    def _held(self) -> bool:
        """Whether the wave or its campaign was paused or cancelled meanwhile (checked once
        a batch: the batch being delivered finishes, the next one is not sent)."""
        with self.factory() as session:
            self.report.held = ledger.hold_reason(session, self.wave_id)
        if self.report.held:
            self.report.stopped = self.report.held
        return self.report.held is not None

    def _remaining(self) -> int:
        with unit_of_work(self.factory) as session:
            return ledger.counts(session, self.wave_id).get(St.QUEUED.value, 0)

    def _record_settled(self, session: Session, settled: Sequence[Settled]) -> None:
        for s in settled:
            if s.status is St.SUPPRESSED:
                self.report.suppressed += 1
            elif s.status is St.SKIPPED:
                self.report.skipped += 1
            else:
                self.failed_here += 1
        ledger.record(session, [ledger.Outcome(s.row_id, s.status, s.detail) for s in settled])

    def _deliver(self, batch: Batch) -> str | None:
        """Send a batch per channel; the reason when some could not be handed over (their
        ids in ``self.unsent_ids``: they are still queued)."""
        self.unsent_ids = []
        problem: str | None = None
        for channel, (group, messages) in batch.groups.items():
            # a person rendered ahead in two batches (a merge): the second row is skipped
            twice = [
                i for i, r in enumerate(group) if self.handed.get(r.person_id, r.row_id) != r.row_id
            ]
            if twice:
                self._skip_twice([group[i] for i in twice])
                keep = [i for i in range(len(group)) if i not in set(twice)]
                group, messages = [group[i] for i in keep], [messages[i] for i in keep]
            self.handed.update((r.person_id, r.row_id) for r in group)
            impl = self._channel(channel)
            try:
                transport = self._transport(channel)
            except ChannelUnavailable as exc:
                self.unsent_ids += [r.row_id for r in group]
                for r in group:
                    self.handed.pop(r.person_id, None)
                problem = exc.detail
                continue
            deliveries = self.handover.rows(impl, transport, group, messages)
            unsent = [d for d in deliveries if d.outcome is Outcome.UNSENT]
            if unsent:
                self.unsent_ids += [group[d.index].row_id for d in unsent]
                for d in unsent:
                    self.handed.pop(group[d.index].person_id, None)
                problem = unsent[0].detail or "not handed over"
                self.transports.pop(channel).close()
        return problem

    def _skip_twice(self, rows: Sequence[Ready]) -> None:
        detail = "the person already has this wave's message"
        with unit_of_work(self.factory) as session:
            self._record_settled(session, [Settled(r.row_id, St.SKIPPED, detail) for r in rows])
