"""What a rule names, looked up in the store before compiling: the latest scoring run, the
categories under a category code, products, catalogue attributes, campaigns, survey
questions and postal places. The compiler stays pure: it only sees these answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from closedloop.contacts.models import AttributeChoice, AttributeDefinition
from closedloop.db.base import Base
from closedloop.scoring.models import ScoreRun
from closedloop.transactions.models import Product, ProductCategory


@dataclass(frozen=True)
class AttributeInfo:
    """A catalogue attribute: its id, type and choices (code → id)."""

    id: int
    type: str
    choices: dict[str, int] = field(default_factory=dict)


def _table(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


class SessionLookups:
    """Answers the compiler's questions from the session's database (cached per instance)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._run: tuple[int | None] | None = None

    def latest_run_id(self) -> int | None:
        """The id of the latest finished scoring run (by as-of day, then id), or None."""
        if self._run is None:
            stmt = (
                select(ScoreRun.id)
                .where(ScoreRun.status == "done")
                .order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc())
                .limit(1)
            )
            self._run = (self.session.scalar(stmt),)
        return self._run[0]

    def category_ids(self, code: str) -> list[int] | None:
        """The ids of category ``code`` and every category below it; None when unknown."""
        rows = self.session.execute(select(ProductCategory.id, ProductCategory.parent_id)).all()
        root = self.session.scalar(select(ProductCategory.id).where(ProductCategory.code == code))
        if root is None:
            return None
        children: dict[int, list[int]] = {}
        for cid, parent in rows:
            if parent is not None:
                children.setdefault(int(parent), []).append(int(cid))
        found, todo = {int(root)}, [int(root)]
        while todo:  # the tree may not hold a cycle, but a bad import could: visit each once
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return sorted(found)

    def segment(self, segment_id: int) -> tuple[str, str, dict[str, Any] | None] | None:
        """(kind, name, rules) of segment ``segment_id``, or None when there is none."""
        from closedloop.segments.models import Segment

        found = self.session.get(Segment, segment_id)
        if found is None:
            return None
        return found.kind, found.name, found.rules

    def product_id(self, sku: str) -> int | None:
        """The id of the product with this SKU, or None."""
        return self.session.scalar(select(Product.id).where(Product.sku == sku))

    def attribute(self, code: str) -> AttributeInfo | None:
        """The catalogue attribute ``code`` with its choices, or None."""
        definition = self.session.scalar(
            select(AttributeDefinition).where(AttributeDefinition.code == code)
        )
        if definition is None:
            return None
        rows = self.session.execute(
            select(AttributeChoice.code, AttributeChoice.id).where(
                AttributeChoice.definition_id == definition.id
            )
        )
        return AttributeInfo(definition.id, definition.type, {c: int(i) for c, i in rows})

    def _scalar_from(self, table: str, column: str, key: str, value: Any) -> Any:
        t = _table(table)
        if t is None:
            return None
        return self.session.scalar(select(t.c[column]).where(t.c[key] == value))

    def campaign_ids(self, code: str) -> list[int]:
        """The ids of every version of the campaign with this code (none: empty)."""
        t = _table("campaigns")
        if t is None:
            return []
        return sorted(int(i) for i in self.session.scalars(select(t.c.id).where(t.c.code == code)))

    def event(self, code: str) -> tuple[int, int | None, Any] | None:
        """(id, campaign id, end) of the event with this code, or None."""
        t = _table("events")
        if t is None:
            return None
        row = self.session.execute(
            select(t.c.id, t.c.campaign_id, t.c.ends_at).where(t.c.code == code)
        ).first()
        return (int(row[0]), row[1], row[2]) if row else None

    def question_kind(self, question_id: int) -> str | None:
        """The kind of survey question ``question_id`` (choice, number, text…), or None."""
        found = self._scalar_from("survey_questions", "kind", "id", question_id)
        return str(found) if found is not None else None

    def place(
        self, country: str | None, postal_code: str | None, locality: str | None
    ) -> tuple[float, float] | None:
        """Latitude and longitude of a postal code or locality, from the coordinates of the
        stored addresses there (their mean), or None when no address there has any."""
        from sqlalchemy import func

        from closedloop.contacts.models import Address

        stmt = select(func.avg(Address.latitude), func.avg(Address.longitude)).where(
            Address.latitude.is_not(None), Address.longitude.is_not(None)
        )
        if country:
            stmt = stmt.where(Address.country == country.upper())
        if postal_code:
            stmt = stmt.where(Address.postal_code == postal_code)
        if locality:
            stmt = stmt.where(func.lower(Address.locality) == locality.lower())
        lat, lon = self.session.execute(stmt).one()
        if lat is None or lon is None:
            return None
        return float(lat), float(lon)
