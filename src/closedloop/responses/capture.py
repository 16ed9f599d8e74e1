"""Record reactions as responses: the one writer of the ``responses`` table.

A :class:`Reaction` names what happened and the message it answers — by communication id
(tracked links), or by the channel's reference (a Message-ID, an SMS reference) — and
:func:`record` stores it against the person, campaign, wave, cell and communication.

- Idempotent: a reaction with a ``dedupe`` part (an open; a click and its link) is one row per
  message, kind, part and human/machine; repeating it adds to ``hits`` and moves ``last_at``.
  A thousand clicks of one link are one unique click counted 1,000 times.
- Early: a reaction whose message is not recorded yet is kept with ``ref`` and no person, and
  :func:`link_pending` attaches it once the communication exists (every :func:`record` call
  tries the pending ones first; ``closedloop responses link`` does it by hand).
- Each response stored for the first time is announced through the ``response_recorded``
  hook (webhooks), in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Communication
from closedloop.db.base import utcnow
from closedloop.hookspecs import pm
from closedloop.responses import counters as response_counters
from closedloop.responses.models import Response

_CHUNK = 500


@dataclass(frozen=True)
class Reaction:
    """One reaction to record. ``communication_id`` or ``ref`` names the message; ``person_id``
    is used when neither does (a call outcome, an RSVP without a message)."""

    kind: str
    occurred_at: datetime
    communication_id: int | None = None
    ref: str | None = None
    person_id: int | None = None
    campaign_id: int | None = None
    #: what makes two reactions the same one (the link of a click; "" for an open); None
    #: stores every reaction as its own row (a bounce, a reply, a call)
    dedupe: str | None = None
    machine: str | None = None
    hits: int = 1
    detail: dict[str, Any] | None = None
    source_system: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """What a message says about the person, campaign, wave and cell it went to."""

    communication_id: int
    person_id: int
    campaign_id: int | None
    wave_id: int | None
    cell_id: int | None
    sent_at: datetime | None
    recipient: str | None
    channel: str


def _targets(session: Session, ids: Iterable[int], refs: Iterable[str]) -> dict[Any, Target]:
    """Messages by id and by reference (``external_ref``)."""
    c = Communication
    cols = (
        c.id,
        c.person_id,
        c.campaign_id,
        c.wave_id,
        c.cell_id,
        c.sent_at,
        c.recipient,
        c.channel,
        c.external_ref,
    )
    out: dict[Any, Target] = {}
    id_list, ref_list = sorted(set(ids)), sorted(set(refs))
    for start in range(0, max(len(id_list), len(ref_list)), _CHUNK):
        part_ids, part_refs = id_list[start : start + _CHUNK], ref_list[start : start + _CHUNK]
        conds = []
        if part_ids:
            conds.append(c.id.in_(part_ids))
        if part_refs:
            conds.append(c.external_ref.in_(part_refs))
        if not conds:
            continue
        for row in session.execute(select(*cols).where(or_(*conds))):
            t = Target(
                row.id,
                row.person_id,
                row.campaign_id,
                row.wave_id,
                row.cell_id,
                row.sent_at,
                row.recipient,
                row.channel,
            )
            out[row.id] = t
            if row.external_ref:
                out[row.external_ref] = t
    return out


def targets(session: Session, reactions: Sequence[Reaction]) -> dict[Any, Target]:
    """The messages ``reactions`` name, by communication id and by reference."""
    return _targets(
        session,
        (r.communication_id for r in reactions if r.communication_id is not None),
        (r.ref for r in reactions if r.ref),
    )


def _pending_ref(r: Reaction) -> str | None:
    if r.communication_id is not None:
        return f"c:{r.communication_id}"
    return r.ref[:200] if r.ref else None


def _key(r: Reaction, anchor: str) -> str | None:
    if r.dedupe is None:
        return None
    digest = hashlib.sha256(r.dedupe.encode()).hexdigest()[:24]
    return f"{r.kind}:{anchor}:{r.machine or 'h'}:{digest}"[:200]


def _row(r: Reaction, found: dict[Any, Target]) -> dict[str, Any]:
    t = found.get(r.communication_id) if r.communication_id is not None else None
    if t is None and r.ref:
        t = found.get(r.ref)
    detail = dict(r.detail or {})
    if r.machine:
        detail.setdefault("machine", r.machine)
    row: dict[str, Any] = {
        "kind": r.kind,
        "occurred_at": r.occurred_at,
        "last_at": r.occurred_at,
        "hits": r.hits,
        "machine": r.machine,
        "detail": detail or None,
        "source_system": r.source_system,
        "person_id": r.person_id,
        "campaign_id": r.campaign_id,
        "communication_id": None,
        "wave_id": None,
        "cell_id": None,
        "ref": None,
    }
    if t is not None:
        row.update(
            person_id=t.person_id,
            campaign_id=t.campaign_id,
            communication_id=t.communication_id,
            wave_id=t.wave_id,
            cell_id=t.cell_id,
        )
        anchor = f"c{t.communication_id}"
    else:
        row["ref"] = _pending_ref(r)
        anchor = row["ref"] or f"p{r.person_id}"
        if row["ref"] is None and r.person_id is None:
            raise ValueError(f"a {r.kind} names no message and no person")
    row["dedupe_key"] = _key(r, anchor)
    return row


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    table = cast(Table, Response.__table__)
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.on_conflict_do_update(
        index_elements=["dedupe_key"],
        set_={
            "hits": table.c.hits + ins.excluded.hits,
            "last_at": func.coalesce(
                func.greatest(table.c.last_at, ins.excluded.last_at)
                if dialect == "postgresql"
                else func.max(table.c.last_at, ins.excluded.last_at),
                ins.excluded.last_at,
            ),
        },
    )
    session.execute(stmt, rows)


def record(session: Session, reactions: Sequence[Reaction]) -> list[int]:
    """Store ``reactions``; returns the ids of the responses stored for the first time (in
    order). Repeats of a deduplicated reaction only add to its row's hits."""
    if not reactions:
        return []
    found = targets(session, reactions)
    rows = [_row(r, found) for r in reactions]
    merged: dict[str, dict[str, Any]] = {}
    plain: list[dict[str, Any]] = []
    for row in rows:
        key = row["dedupe_key"]
        if key is None:
            plain.append(row)
        elif key in merged:
            first = merged[key]
            first["hits"] += row["hits"]
            first["last_at"] = max(first["last_at"], row["last_at"])
            first["occurred_at"] = min(first["occurred_at"], row["occurred_at"])
        else:
            merged[key] = row
    keys = list(merged)
    known: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        known.update(
            session.scalars(select(Response.dedupe_key).where(Response.dedupe_key.in_(part)))
        )  # type: ignore[arg-type]
    new_ids: list[int] = []
    # a repeat only adds hits: the counters move with responses stored for the first time
    fresh_rows = plain + [merged[k] for k in keys if k not in known]
    with response_counters.tracking(session, fresh_rows):
        for row in plain:
            obj = Response(**row)
            session.add(obj)
            session.flush()
            new_ids.append(obj.id)
        if merged:
            _upsert(session, list(merged.values()))
    fresh = [k for k in keys if k not in known]
    for start in range(0, len(fresh), _CHUNK):
        part = fresh[start : start + _CHUNK]
        new_ids.extend(session.scalars(select(Response.id).where(Response.dedupe_key.in_(part))))
    _announce(session, new_ids)
    return new_ids


def _announce(session: Session, ids: list[int]) -> None:
    """``response_recorded`` for each response of a person (not a machine's) among ``ids``.
    The hook gets the stored row (the model's column names as attributes), read with Core:
    building ORM objects for them took 40 % of the tracking write-behind's time."""
    if not ids:
        return
    table = Response.__table__
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        rows = session.execute(
            select(*table.columns).where(
                table.c.id.in_(part), table.c.person_id.is_not(None), table.c.machine.is_(None)
            )
        )
        for response in rows:
            pm.hook.response_recorded(
                session=session, person_id=response.person_id, response=response
            )


def link_pending(session: Session, limit: int = 10000) -> int:
    """Attach responses that arrived before their message was recorded; returns how many."""
    pending: list[tuple[int, str]] = [
        (rid, ref or "")
        for rid, ref in session.execute(
            select(Response.id, Response.ref)
            .where(Response.person_id.is_(None), Response.ref.is_not(None))
            .order_by(Response.id)
            .limit(limit)
        )
    ]
    if not pending:
        return 0
    ids = {int(ref[2:]) for _, ref in pending if ref.startswith("c:") and ref[2:].isdigit()}
    refs = {ref for _, ref in pending if not ref.startswith("c:")}
    found = _targets(session, ids, refs)
    done: list[int] = []
    linked: list[tuple[int, Target]] = []
    for rid, ref in pending:
        t = found.get(int(ref[2:])) if ref.startswith("c:") and ref[2:].isdigit() else None
        t = t or found.get(ref)
        if t is not None:
            linked.append((rid, t))
    kinds = dict(
        session.execute(
            select(Response.id, Response.kind).where(Response.id.in_([r for r, _ in linked]))
        ).all()
    )
    rows = [
        {"campaign_id": t.campaign_id, "person_id": t.person_id, "kind": kinds.get(rid)}
        for rid, t in linked
    ]
    with response_counters.tracking(session, rows):
        _link(session, linked, done)
    _announce(session, done)
    return len(done)


def _link(session: Session, linked: list[tuple[int, Target]], done: list[int]) -> None:
    for rid, t in linked:
        session.execute(
            update(Response)
            .where(Response.id == rid)
            .values(
                person_id=t.person_id,
                campaign_id=t.campaign_id,
                communication_id=t.communication_id,
                wave_id=t.wave_id,
                cell_id=t.cell_id,
                ref=None,
            )
        )
        done.append(rid)


def now() -> datetime:
    """The capture clock (UTC)."""
    return utcnow()
