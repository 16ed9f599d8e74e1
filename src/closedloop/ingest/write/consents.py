"""Consents: grants and withdrawals appended to the consent ledger, a chunk at a time.

A consent event is known by (person, channel, purpose, state, time): importing the same file
again adds nothing. A grant needs its proof. The rules of
:func:`closedloop.consent.service.record_consent` hold, set-based per chunk: the ledger only
grows; ``consent_current`` of a (person, channel, purpose) follows the latest event (an event
older than the current state stays in the ledger without changing it; at equal times the
later row wins); the ``consent_changed`` hook is called for every event added.

Per chunk: one read of the events and current states of the chunk's persons, one insert of
the new events (ids allocated in one go), one insert of the new current states and one update
of the changed ones — instead of a flush, a lookup and a query per row.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from closedloop.db.base import as_utc
from closedloop.db.bulk import BulkWriter
from closedloop.hookspecs import pm
from closedloop.ingest.read.base import Row as ReadRow
from closedloop.ingest.validate.context import ChunkResult, Context
from closedloop.ingest.write.links import people_of, read_rows, unknown
from closedloop.ingest.write.records import record_changes
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

#: the columns of a ledger row that differ per row (source, recorder and time are the chunk's)
_COLUMNS = (
    "id", "person_id", "channel", "purpose", "state", "occurred_at", "method", "proof_text",
    "proof_version", "ip_address",
)  # fmt: skip

Key = tuple[int, str, str, str, datetime]
Slot = tuple[int, str, str]


def _moment(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives text back)."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _ledger(bulk: BulkWriter, people: list[int]) -> tuple[set[Key], dict[Slot, datetime]]:
    """The events already in the ledger and the current states' times, of ``people``."""
    known = {
        (int(pid), ch, pu, st, _moment(at))
        for pid, ch, pu, st, at in bulk.select_in(
            "SELECT person_id, channel, purpose, state, occurred_at FROM consent_events "
            "WHERE person_id {in}", [], people,
        )
    }  # fmt: skip
    current = {
        (int(pid), ch, pu): _moment(since)
        for pid, ch, pu, since in bulk.select_in(
            "SELECT person_id, channel, purpose, since FROM consent_current WHERE person_id {in}",
            [], people,
        )
    }  # fmt: skip
    return known, current


class Consents:
    """Grants and withdrawals, appended to the consent ledger with their proof."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def process(self, bulk: BulkWriter, rows: list[ReadRow], out: ChunkResult) -> None:
        """Check the chunk's rows, then add its new events and move the current states."""
        ctx = self.ctx
        read = read_rows(ctx, rows, out)
        people = people_of(bulk, ctx, read, ("person_external_id",))
        known, current = _ledger(bulk, sorted(set(people.values())))
        events: list[dict[str, Any]] = []
        for line_no, row in read:
            pid = people.get(row["person_external_id"])
            if pid is None:
                unknown(
                    out, ctx, line_no, "person_external_id", row["person_external_id"], "person"
                )
                continue
            purpose = row.get("purpose") or Purpose.MARKETING.value
            state = row["state"]
            if state == ConsentState.GRANTED.value and not row.get("proof_text"):
                out.reject(
                    line_no, "proof_text", None,
                    "a grant needs its proof: the text the person agreed to",
                )  # fmt: skip
                continue
            occurred = as_utc(row["occurred_at"])
            key = (pid, row["channel"], purpose, state, occurred)
            if key in known:
                out.add("unchanged")
                continue
            known.add(key)
            out.add("new")
            if ctx.dry_run:
                continue
            events.append(
                {
                    "person_id": pid, "channel": Channel(row["channel"]).value,
                    "purpose": Purpose(purpose).value, "state": ConsentState(state).value,
                    "occurred_at": occurred,
                    "method": ConsentMethod(row.get("method") or ConsentMethod.IMPORT.value).value,
                    "proof_text": row.get("proof_text"),
                    "proof_version": row.get("proof_version"), "ip_address": row.get("ip_address"),
                }
            )  # fmt: skip
        if ctx.dry_run or not events:
            return
        self._write(bulk, events, current)

    def _write(
        self, bulk: BulkWriter, events: list[dict[str, Any]], current: dict[Slot, datetime]
    ) -> None:
        """Insert ``events`` (in file order), move the current states, call the hooks."""
        ids = bulk.allocate_ids("consent_events", len(events))
        for event_id, event in zip(ids, events, strict=True):
            event["id"] = event_id
        same = {
            "source_system": self.ctx.source,
            "recorded_by": f"import #{self.ctx.batch_id}",
            "recorded_at": self.ctx.now,
        }
        bulk.insert(
            "consent_events",
            _COLUMNS,
            [tuple(e[c] for c in _COLUMNS) for e in events],
            constants=same,
        )
        latest: dict[Slot, dict[str, Any]] = {}
        existed = set(current)
        for event in events:  # the rule of record_consent, applied in order
            slot = (event["person_id"], event["channel"], event["purpose"])
            since = current.get(slot)
            if since is None or since <= event["occurred_at"]:
                current[slot] = event["occurred_at"]
                latest[slot] = event
        fresh = [s for s in latest if s not in existed]
        moved = [(s, e) for s, e in latest.items() if s in existed]
        bulk.insert(
            "consent_current",
            ("person_id", "channel", "purpose", "state", "event_id", "since"),
            [(*s, latest[s]["state"], latest[s]["id"], latest[s]["occurred_at"]) for s in fresh],
        )
        if moved:
            bulk.executemany(
                "UPDATE consent_current SET state = ?, event_id = ?, since = ? "
                "WHERE person_id = ? AND channel = ? AND purpose = ?",
                [(e["state"], e["id"], e["occurred_at"], *s) for s, e in moved],
            )
        session = Session(bind=bulk.conn)
        for event in events:
            record = SimpleNamespace(**event, **same)
            pm.hook.consent_changed(session=session, person_id=event["person_id"], event=record)
        session.flush()
        record_changes(
            bulk,
            self.ctx,
            [
                {"entity": "consent_event", "entity_id": e["id"], "action": "created", "data": None}
                for e in events
            ],
        )
