"""The importer of each kind of record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from closedloop.db.bulk import BulkWriter
from closedloop.ingest.read.base import Row
from closedloop.ingest.validate.context import ChunkResult, Context


class Importer(Protocol):
    """Imports one chunk of rows of one kind."""

    def process(self, bulk: BulkWriter, rows: list[Row], out: ChunkResult) -> None: ...


def importer_for(ctx: Context) -> Importer:
    """The importer of ``ctx.kind``."""
    from closedloop.ingest.write.persons.importer import PartyImporter

    if ctx.kind.name in ("persons", "organisations"):
        return PartyImporter(ctx)
    from closedloop.ingest.write import attribute_values, commerce, consents, lines, links

    makers: dict[str, Callable[[Context], Importer]] = {
        "products": commerce.Products,
        "orders": commerce.Orders,
        "order_lines": lines.OrderLines,
        "relationships": links.Relationships,
        "consents": consents.Consents,
        "attributes": attribute_values.AttributeValues,
    }
    return makers[ctx.kind.name](ctx)
