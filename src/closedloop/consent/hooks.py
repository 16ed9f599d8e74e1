"""Hook implementations of the consent domain: consents follow a merge, never upgraded.

The rule of a merge (issue 4): per channel and purpose the most restrictive current state of
the two records wins, unless the other record holds a *newer explicit* grant (a grant with its
proof, not an imported one). A state only one record has is kept: it is the person's own.
Ledger rows keep their content; only their owner changes, and the unmerge gives them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from closedloop.consent.models import ConsentCurrent, ConsentEvent, Suppression
from closedloop.db.base import as_utc
from closedloop.hookspecs import hookimpl
from closedloop.vocab import ConsentMethod, ConsentState

#: Grants that are not the person's own explicit act: they never win over a withdrawal.
IMPLICIT_METHODS = frozenset({ConsentMethod.IMPORT.value})


def _doc(row: ConsentCurrent) -> dict[str, Any]:
    return {
        "person_id": row.person_id,
        "channel": row.channel,
        "purpose": row.purpose,
        "state": row.state,
        "event_id": row.event_id,
        "since": as_utc(row.since).isoformat(),
    }


def merged_state(
    golden: dict[str, Any] | None,
    source: dict[str, Any] | None,
    methods: dict[int, str],
) -> dict[str, Any]:
    """The current state the merged record gets for one channel and purpose.

    ``golden`` and ``source`` are current-state documents (or None); ``methods`` maps event
    ids to their method. Withdrawn beats granted unless the grant is newer and explicit.
    """
    if golden is None or source is None:
        chosen = golden or source
        assert chosen is not None
        return chosen
    if golden["state"] == source["state"]:
        return golden if golden["since"] >= source["since"] else source
    granted, withdrawn = (
        (golden, source)
        if golden["state"] == ConsentState.GRANTED
        else (
            source,
            golden,
        )
    )
    newer = datetime.fromisoformat(granted["since"]) > datetime.fromisoformat(withdrawn["since"])
    explicit = methods.get(int(granted["event_id"])) not in IMPLICIT_METHODS
    return granted if newer and explicit else withdrawn


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """Move the source's ledger and suppressions to the golden record; set its current
    consent by the merge rule (never an upgrade)."""
    rows = list(
        session.scalars(
            select(ConsentCurrent).where(ConsentCurrent.person_id.in_((golden_id, source_id)))
        )
    )
    before = [_doc(r) for r in rows]
    event_ids = list(
        session.scalars(select(ConsentEvent.id).where(ConsentEvent.person_id == source_id))
    )
    suppression_ids = list(
        session.scalars(select(Suppression.id).where(Suppression.person_id == source_id))
    )
    if not (before or event_ids or suppression_ids):
        return None
    grant_ids = [int(d["event_id"]) for d in before if d["state"] == ConsentState.GRANTED]
    methods: dict[int, str] = {
        int(event_id): str(method)
        for event_id, method in session.execute(
            select(ConsentEvent.id, ConsentEvent.method).where(ConsentEvent.id.in_(grant_ids))
        ).all()
    }
    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for doc in before:
        side = "golden" if doc["person_id"] == golden_id else "source"
        by_key.setdefault((doc["channel"], doc["purpose"]), {})[side] = doc
    session.execute(
        delete(ConsentCurrent).where(ConsentCurrent.person_id.in_((golden_id, source_id)))
    )
    if event_ids:
        session.execute(
            update(ConsentEvent).where(ConsentEvent.id.in_(event_ids)).values(person_id=golden_id)
        )
    if suppression_ids:
        session.execute(
            update(Suppression)
            .where(Suppression.id.in_(suppression_ids))
            .values(person_id=golden_id)
        )
    for sides in by_key.values():
        doc = merged_state(sides.get("golden"), sides.get("source"), methods)
        session.add(_row({**doc, "person_id": golden_id}))
    session.flush()
    return {"consent": {"current": before, "events": event_ids, "suppressions": suppression_ids}}


def _row(doc: dict[str, Any]) -> ConsentCurrent:
    return ConsentCurrent(
        person_id=doc["person_id"],
        channel=doc["channel"],
        purpose=doc["purpose"],
        state=doc["state"],
        event_id=doc["event_id"],
        since=datetime.fromisoformat(doc["since"]),
    )


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source its ledger rows and suppressions back; restore both current states."""
    moved = (event.moved or {}).get("consent")
    if not moved:
        return
    if moved["events"]:
        session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.id.in_(moved["events"]))
            .values(person_id=source_id)
        )
    if moved["suppressions"]:
        session.execute(
            update(Suppression)
            .where(Suppression.id.in_(moved["suppressions"]))
            .values(person_id=source_id)
        )
    session.execute(
        delete(ConsentCurrent).where(ConsentCurrent.person_id.in_((golden_id, source_id)))
    )
    for doc in moved["current"]:
        session.add(_row(doc))
    session.flush()


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``signup.submit`` and ``signup.fresh_link``: the public sign-up pages' work
    (:mod:`closedloop.consent.signup_jobs`)."""
    from closedloop.consent.signup_jobs import HANDLERS

    return dict(HANDLERS)
