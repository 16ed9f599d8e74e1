"""Where values came from: the record's own origin and each later change (``value_sources``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.db.base import as_utc
from closedloop.ingest.models import ValueSource


def value_origins(session: Session, entity: str, entity_id: int) -> dict[str, Any]:
    """``{"record": {source, external_id, batch}, "fields": {field: [changes…]}}``.

    A field without changes comes from the record's origin (the batch that created it).
    """
    record: dict[str, Any] = {}
    if entity == "person":
        person = session.get(Person, entity_id)
        if person is not None:
            record = {
                "source_system": person.source_system,
                "external_id": person.external_id,
                "batch_id": person.import_batch_id,
                "created_at": as_utc(person.created_at).isoformat(),
            }
    fields: dict[str, list[dict[str, Any]]] = {}
    rows = session.scalars(
        select(ValueSource)
        .where(ValueSource.entity == entity, ValueSource.entity_id == entity_id)
        .order_by(ValueSource.recorded_at, ValueSource.id)
    )
    for row in rows:
        fields.setdefault(row.field, []).append(
            {
                "source_system": row.source_system,
                "batch_id": row.batch_id,
                "recorded_at": as_utc(row.recorded_at).isoformat(),
            }
        )
    return {"record": record, "fields": fields}
