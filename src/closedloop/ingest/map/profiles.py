"""Saved mapping profiles: a name, a kind, and which column goes where."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.ingest.map.mapping import Mapping
from closedloop.ingest.models import MappingProfile


def get(conn: Connection, name: str) -> MappingProfile | None:
    """The profile called ``name``, or None."""
    with Session(bind=conn) as session:
        profile = session.scalar(select(MappingProfile).where(MappingProfile.name == name))
        if profile is not None:
            session.expunge(profile)
        return profile


def save(conn: Connection, name: str, kind: str, mapping: Mapping, created_by: str | None) -> None:
    """Create or replace the profile ``name`` with ``mapping``."""
    columns = mapping.as_json()
    if get(conn, name) is None:
        conn.execute(
            insert(MappingProfile),
            {
                "name": name[:64],
                "kind": kind,
                "columns": columns,
                "options": {},
                "created_by": created_by,
                "updated_at": utcnow(),
            },
        )
    else:
        conn.execute(
            update(MappingProfile)
            .where(MappingProfile.name == name)
            .values(kind=kind, columns=columns, updated_at=utcnow())
        )


def list_all(conn: Connection) -> list[MappingProfile]:
    """Every saved profile, by name."""
    with Session(bind=conn) as session:
        found = list(session.scalars(select(MappingProfile).order_by(MappingProfile.name)))
        session.expunge_all()
        return found


def remove(conn: Connection, name: str) -> bool:
    """Delete the profile ``name``; False when there was none."""
    return bool(conn.execute(delete(MappingProfile).where(MappingProfile.name == name)).rowcount)
