"""A person's full data as one JSON document: the right of access (M20, GDPR art. 15).

Everything the card shows, with the whole history rather than the latest entries (orders,
messages, responses, scores, tasks, consents), the person's identifiers, and where each value
came from (source system, import batch and time of each change).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Identifier
from closedloop.db.base import as_utc, utcnow
from closedloop.ingest import value_origins
from closedloop.reports.card import build_card

#: "Everything": the card lists this many of each kind of history.
ALL = 1_000_000
_INTERNAL = frozenset(
    {"password_hash", "token_hash", "given_key", "family_key", "address_key", "name_key"}
)


def plain(value: Any) -> Any:
    """ORM rows, dataclasses, dates and decimals as JSON-ready values."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    mapper = getattr(inspect(value, raiseerr=False), "mapper", None)
    if mapper is not None:
        out = {
            a.key: plain(getattr(value, a.key))
            for a in mapper.column_attrs
            if a.key not in _INTERNAL
        }
        for rel in ("emails", "phones", "addresses", "lines"):
            if rel in mapper.relationships:
                out[rel] = plain(getattr(value, rel))
        return out
    return value


def person_document(session: Session, person_id: int) -> dict[str, Any]:
    """Everything stored about ``person_id`` (NotFound if there is no such person)."""
    card = build_card(session, person_id, recent=ALL)
    doc: dict[str, Any] = plain(card)
    doc["communications"] = [{**plain(c), "campaign_name": n} for c, n in card.communications]
    doc["responses"] = [{**plain(r), "campaign_name": n} for r, n in card.responses]
    doc["scores"] = [{**plain(s), "as_of": plain(run.as_of)} for s, run in card.scores]
    doc["identifiers"] = plain(
        list(session.scalars(select(Identifier).where(Identifier.person_id == person_id)))
    )
    doc["origins"] = value_origins(session, "person", person_id)
    return {
        "document": "closedloop right of access",
        "generated_at": utcnow().isoformat(),
        "person_id": person_id,
        **doc,
    }
